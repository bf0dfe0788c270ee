//! `${name}` placeholders filled from the environment (role passwords stay out of the repo).

use assert_cmd::Command;
use dbgen_testkit::{Engine, TestDb, write};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn placeholders_are_filled_checked_and_never_shown() {
    let db = TestDb::create(Engine::Sqlite).expect("SQLite needs no server");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/app/database.toml",
        "driver = \"sqlite\"\n[placeholders]\ngreeting = { env = \"APP_GREETING\" }\nwho = { env = \"APP_WHO\", default = \"world\" }\n",
    );
    write(
        dir.path(),
        "database/app/migrations/1_greet.up.sql",
        "-- ${undeclared} stays as written\nCREATE TABLE greetings (text VARCHAR(80));\nINSERT INTO greetings VALUES ('${greeting}, ${who}');\n",
    );
    write(
        dir.path(),
        "database/app/seeds/01_more.sql",
        "INSERT INTO greetings VALUES ('${greeting} again');",
    );
    let dbgen = || {
        let mut cmd = Command::cargo_bin("dbgen").unwrap();
        cmd.current_dir(dir.path())
            .env("APP_DB_URL", &db.url)
            .env_remove("APP_GREETING")
            .env_remove("APP_WHO");
        cmd
    };

    // Unset and no default: an error before anything runs.
    let out = dbgen().args(["migrate", "latest", "app"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("placeholder `${greeting}` reads environment variable APP_GREETING"),
        "{err}"
    );
    assert!(db.tables().is_empty(), "nothing ran");

    // A dry run shows the placeholder, not the value, and needs none.
    let out = dbgen()
        .args(["migrate", "latest", "app", "--dry-run"])
        .env("APP_GREETING", "top-secret-hi")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("'${greeting}, ${who}'"),
        "{}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains("top-secret-hi"));

    let out = dbgen()
        .args(["migrate", "latest", "app"])
        .env("APP_GREETING", "top-secret-hi")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("top-secret-hi"));
    let out = dbgen()
        .args(["seed", "run", "app"])
        .env("APP_GREETING", "top-secret-hi")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = db.query_strings("SELECT text FROM greetings ORDER BY text");
    assert_eq!(
        rows,
        [
            [Some("top-secret-hi again".to_string())],
            [Some("top-secret-hi, world".to_string())]
        ]
    );

    // The checksum covers the file as written: another value is not an edit.
    let out = dbgen()
        .args(["migrate", "status", "app", "--exit-code"])
        .env("APP_GREETING", "another value")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
}

/// PostgreSQL counts an error's position in the script as sent, placeholders filled in; the
/// position shown is in the file as written.
#[test]
fn an_error_after_a_placeholder_is_placed_in_the_file_as_written() {
    let Some(db) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/app/database.toml",
        "driver = \"postgres\"\n[placeholders]\nv = { env = \"APP_V\" }\n",
    );
    let bad = "SELECT '${v}';\nSELEC 1;\n";
    write(dir.path(), "database/app/migrations/1_bad.up.sql", bad);
    write(dir.path(), "database/app/seeds/01_bad.sql", bad);
    let dbgen = |args: &[&str]| {
        Command::cargo_bin("dbgen")
            .unwrap()
            .current_dir(dir.path())
            .env("APP_DB_URL", &db.url)
            .env("APP_V", "v".repeat(40))
            .args(args)
            .output()
            .unwrap()
    };

    let out = dbgen(&["migrate", "latest", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("database/app/migrations/1_bad.up.sql:2:1:"),
        "{err}"
    );

    write(
        dir.path(),
        "database/app/migrations/1_bad.up.sql",
        "SELECT 1;\n",
    );
    let out = dbgen(&["migrate", "latest", "app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = dbgen(&["seed", "run", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("database/app/seeds/01_bad.sql:2:1:"), "{err}");
}
