//! Secrets never printed: every output of a run (human, JSON, dry run, errors) is searched
//! for planted secrets, on the real servers: placeholder values echoed by a failing
//! statement, URL and `_DB_PASSWORD` passwords holding `/ ? @ : % # '`, a malformed `.env`.

mod common;

use std::process::Output;

use common::dbgen;
use dbgen_testkit::{Engine, TestDb, write};

const SECRET: &str = "Zq7Secret";

/// Both streams, asserting neither holds `secret` in any ASCII case.
fn assert_hidden(out: &Output, secret: &str) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text
            .to_ascii_lowercase()
            .contains(&secret.to_ascii_lowercase()),
        "{secret} printed:\n{text}"
    );
    text
}

/// A statement that fails with the placeholder's value in the driver's message.
fn echoing_script(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "CREATE TABLE ok_before (id INT);\nSELECT ${pw};\n",
        Engine::Mysql => "CREATE USR IF NOT EXISTS u IDENTIFIED BY '${pw}';\n",
        Engine::Sqlite => "CREATE TABLE ok_before (id INT);\nSELECT ${pw};\n",
    }
}

fn placeholder_values_echoed_by_the_driver(engine: Engine) {
    let Some(db) = TestDb::create(engine) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "database/app/database.toml",
        &format!(
            "driver = \"{}\"\n[placeholders]\npw = {{ env = \"MY_SECRET\" }}\n",
            engine.driver()
        ),
    );
    write(
        root,
        "database/app/migrations/1_echo.up.sql",
        echoing_script(engine),
    );
    write(root, "database/app/seeds/01_echo.sql", "SELECT ${pw};\n");
    let run = |args: &[&str]| {
        dbgen(root)
            .args(args)
            .env("APP_DB_URL", &db.url)
            .env("MY_SECRET", SECRET)
            .output()
            .unwrap()
    };

    let out = run(&["migrate", "latest", "app"]);
    assert_eq!(out.status.code(), Some(1));
    let text = assert_hidden(&out, SECRET);
    assert!(text.contains("1_echo.up.sql"), "{text}");
    assert!(
        text.contains("***"),
        "the value is hidden, not dropped: {text}"
    );

    let out = run(&["migrate", "latest", "app", "--dry-run"]);
    assert!(out.status.success());
    assert!(assert_hidden(&out, SECRET).contains("${pw}"));

    let out = run(&["migrate", "status", "app", "--json"]);
    assert_hidden(&out, SECRET);

    // Seeds echo too (the migration is skipped by applying nothing: the seed runs alone).
    let out = run(&["seed", "run", "app"]);
    assert_eq!(out.status.code(), Some(1));
    assert_hidden(&out, SECRET);
}

#[test]
fn postgres_placeholder_values() {
    placeholder_values_echoed_by_the_driver(Engine::Postgres);
}

#[test]
fn mariadb_placeholder_values() {
    placeholder_values_echoed_by_the_driver(Engine::Mysql);
}

#[test]
fn sqlite_placeholder_values() {
    placeholder_values_echoed_by_the_driver(Engine::Sqlite);
}

const HARD_PASSWORD: &str = "Zq7/Se?c@r:e%t#x'y";

#[test]
fn passwords_with_any_character() {
    let Some(db) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "database/app/database.toml",
        "driver = \"postgres\"\n",
    );
    write(
        root,
        "database/app/migrations/1_t.up.sql",
        "CREATE TABLE t (id INT);\n",
    );
    // A URL whose password is written raw, and one percent-encoded.
    let host = db
        .url
        .split_once('@')
        .map(|(_, h)| h)
        .unwrap_or("127.0.0.1:5432/x");
    let encoded: String = HARD_PASSWORD
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    for url in [
        format!("postgres://postgres:{HARD_PASSWORD}@{host}"),
        format!("postgres://postgres:{encoded}@{host}"),
        format!("postgres://postgres:{encoded}@127.0.0.1:1/nowhere"),
    ] {
        for args in [
            &["migrate", "status", "app", "--json"][..],
            &["migrate", "status", "app"][..],
            &["migrate", "latest", "app"][..],
        ] {
            let out = dbgen(root)
                .args(args)
                .env("APP_DB_URL", &url)
                .output()
                .unwrap();
            assert_hidden(&out, HARD_PASSWORD);
            assert_hidden(&out, "Zq7");
        }
    }
    // The parts, with the password in APP_DB_PASSWORD.
    for args in [
        &["migrate", "status", "app", "--json"][..],
        &["migrate", "latest", "app"][..],
    ] {
        let out = dbgen(root)
            .args(args)
            .env("APP_DB_HOST", "127.0.0.1")
            .env("APP_DB_NAME", "dbgen_no_such_database")
            .env("APP_DB_PASSWORD", HARD_PASSWORD)
            .output()
            .unwrap();
        assert_hidden(&out, "Zq7");
    }
}

#[test]
fn a_malformed_dotenv_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "database/app/database.toml", "driver = \"sqlite\"\n");
    write(
        root,
        ".env",
        &format!("APP_DB_PASSWORD=\"{SECRET}\nOTHER=1\n"),
    );
    for args in [
        &["migrate", "status", "app"][..],
        &["migrate", "status", "app", "--json"][..],
        &["migrate", "latest", "--all"][..],
    ] {
        let out = dbgen(root).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let text = assert_hidden(&out, SECRET);
        assert!(
            text.contains("APP_DB_PASSWORD") && text.contains(".env"),
            "{text}"
        );
    }
}
