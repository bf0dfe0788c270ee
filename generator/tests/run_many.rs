//! Commands over several databases, knex's script names, usage errors, and secrets.

use std::path::Path;

use assert_cmd::Command;
use dbgen_testkit::{Engine, TestDb, write};

fn dbgen(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("dbgen").expect("the dbgen binary");
    cmd.current_dir(root).env("NO_COLOR", "1");
    for var in [
        "GOOD_DB_URL",
        "BROKEN_DB_URL",
        "GOOD_DB_NAME",
        "BROKEN_DB_PASSWORD",
        "BROKEN_DB_HOST",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Two SQLite databases, `good` and `broken`, each with one migration.
fn two_databases() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["good", "broken"] {
        write(
            dir.path(),
            &format!("database/{name}/database.toml"),
            "driver = \"sqlite\"\n",
        );
        write(
            dir.path(),
            &format!("database/{name}/migrations/1_init.up.sql"),
            "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        );
        write(
            dir.path(),
            &format!("database/{name}/migrations/1_init.down.sql"),
            "DROP TABLE t;",
        );
    }
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn one_broken_database_does_not_stop_the_others() {
    let dir = two_databases();
    let out = dbgen(dir.path())
        .args(["migrate", "latest", "--all"])
        .env("BROKEN_DB_URL", "postgres://nobody@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("good: batch 1 applied: 1 migration"),
        "{stdout}"
    );
    assert!(
        stderr.contains("broken: error: environment variable BROKEN_DB_URL is invalid"),
        "{stderr}"
    );
    assert!(
        stdout.contains("2 databases: 1 ok, 1 failed (broken)"),
        "{stdout}"
    );
    assert!(dir.path().join("good.sqlite3").exists());

    // The same with --jobs: both still get a result line.
    let out = dbgen(dir.path())
        .args(["migrate", "status", "--all", "--jobs", "2"])
        .env("BROKEN_DB_URL", "postgres://nobody@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("good (sqlite://"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn no_database_named_is_a_usage_error_listing_them() {
    let dir = two_databases();
    let out = dbgen(dir.path())
        .args(["migrate", "latest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--all"), "{}", text(&out.stderr));
    let out = dbgen(dir.path())
        .args(["migrate", "latest", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown database `nope`; known databases: broken, good"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("good.sqlite3").exists(), "nothing ran");
}

#[test]
fn knex_script_names_work() {
    let dir = two_databases();
    let out = dbgen(dir.path())
        .args(["migrate:good:latest"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("good: batch 1 applied"));
    let out = dbgen(dir.path()).args(["migrate:all"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("broken: batch 1 applied"));
    let out = dbgen(dir.path())
        .args(["migrate:all:status"])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("2 databases: 2 ok"),
        "{}",
        text(&out.stdout)
    );
    let out = dbgen(dir.path())
        .args(["migrate:all:rollback"])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("good: rolled back 1 migration"),
        "{}",
        text(&out.stdout)
    );
    let out = dbgen(dir.path())
        .args(["migrate:good:status"])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("pending"),
        "{}",
        text(&out.stdout)
    );
    write(dir.path(), "database/good/seeds/01_a.sql", "SELECT 1;");
    let out = dbgen(dir.path()).args(["seed:good:run"]).output().unwrap();
    assert!(
        text(&out.stdout).contains("good: ran 1 seed"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_password_never_appears_in_any_output() {
    const SECRET: &str = "s3cr3t-Hunter2";
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/broken/database.toml",
        "driver = \"postgres\"\n",
    );
    write(
        dir.path(),
        "database/broken/migrations/1_a.up.sql",
        "SELECT 1;",
    );
    write(dir.path(), "database/broken/seeds/01_a.sql", "SELECT 1;");
    let url = format!("postgres://app:{SECRET}@127.0.0.1:1/app?password={SECRET}");
    let commands: &[&[&str]] = &[
        &["migrate", "latest", "broken"],
        &["migrate", "status", "broken"],
        &["migrate", "status", "broken", "--json"],
        &["migrate", "rollback", "broken"],
        &["migrate", "latest", "broken", "--dry-run"],
        &["seed", "run", "broken"],
    ];
    for args in commands {
        for by_url in [true, false] {
            let mut cmd = dbgen(dir.path());
            if by_url {
                cmd.env("BROKEN_DB_URL", &url);
            } else {
                cmd.env("BROKEN_DB_HOST", "127.0.0.1")
                    .env("BROKEN_DB_PORT", "1")
                    .env("BROKEN_DB_PASSWORD", SECRET);
            }
            let out = cmd.args(*args).output().unwrap();
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert_eq!(out.status.code(), Some(1), "{args:?}: {all}");
            assert!(
                !all.contains(SECRET),
                "{args:?} printed the password: {all}"
            );
            assert!(all.contains("broken"), "{args:?} names the database: {all}");
            if !args.contains(&"--dry-run") {
                // The variables it read, and the defaults it used where one was unset.
                let read = if by_url {
                    "connection from BROKEN_DB_URL;"
                } else {
                    "connection from BROKEN_DB_HOST, BROKEN_DB_PORT, BROKEN_DB_NAME unset: broken, BROKEN_DB_USER unset: postgres, BROKEN_DB_PASSWORD;"
                };
                assert!(all.contains(read), "{args:?} names the variables: {all}");
            }
        }
    }
}

#[test]
fn postgres_connection_errors_name_the_database_and_variables() {
    let Some(db) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/good/database.toml",
        "driver = \"postgres\"\n",
    );
    let missing = format!("{}_does_not_exist", db.url);
    let out = dbgen(dir.path())
        .args(["migrate", "latest", "good"])
        .env("GOOD_DB_URL", &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("good: error: cannot connect to postgres://"),
        "{stderr}"
    );
    assert!(stderr.contains("does not exist"), "{stderr}");
    // What to do about it: the statement that creates it.
    assert!(
        stderr.contains("create it with `CREATE DATABASE \""),
        "{stderr}"
    );
    assert!(stderr.contains("GOOD_DB_URL"), "{stderr}");

    // A PostgreSQL URL aimed at MariaDB's port: no driver internals, a hint instead.
    let out = dbgen(dir.path())
        .args(["migrate", "status", "good"])
        .env("GOOD_DB_URL", "postgres://postgres@127.0.0.1:3306/x")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    if !stderr.contains("connection refused") {
        assert!(!stderr.contains("sqlx_postgres"), "{stderr}");
        assert!(stderr.contains("right kind of server"), "{stderr}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = two_databases();
    // More output than a pipe holds (64 KiB), so that writing it meets the closed pipe.
    for v in 2..3000 {
        write(
            dir.path(),
            &format!("database/broken/migrations/{v}_migration_with_a_long_name_{v}.up.sql"),
            "SELECT 1;",
        );
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dbgen"))
        .args(["migrate", "status", "--all"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the rest of the output meets a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("broken ("), "{first}");
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}
