//! Issue 14: sqlx's and diesel's migration folders load and run as they are, on every
//! engine: sqlx's simple `<v>_<d>.sql` and reversible `.up.sql`/`.down.sql` forms, version 0,
//! descriptions with hyphens and capitals, sqlx's `-- no-transaction`, and diesel's folders
//! with `metadata.toml`.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use dbgen_testkit::{Engine, TestDb, write};

const TABLE: &str = "dbgen_migrations";

fn dbgen(root: &Path, db: &TestDb, args: &[&str]) -> Output {
    Command::cargo_bin("dbgen")
        .expect("the dbgen binary")
        .current_dir(root)
        .env("SHOP_DB_URL", &db.url)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("run dbgen")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Where the migrations of database `shop` go.
const M: &str = "database/shop/migrations";

/// A project with one database `shop` on `engine`, and its database; `None` when the
/// server is skipped.
fn shop(engine: Engine) -> Option<(TestDb, tempfile::TempDir)> {
    let db = TestDb::create(engine)?;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "dbgen.toml", "");
    write(
        dir.path(),
        "database/shop/database.toml",
        &format!("driver = \"{}\"\n", engine.driver()),
    );
    Some((db, dir))
}

/// A statement that fails inside a transaction, so that it proves a script ran outside one.
fn outside_only(engine: Engine, table: &str) -> String {
    match engine {
        Engine::Postgres => format!("CREATE INDEX CONCURRENTLY {table}_id ON {table} (id);\n"),
        // MySQL commits DDL as it runs: every script there runs outside a transaction.
        Engine::Mysql => format!("CREATE INDEX {table}_id ON {table} (id);\n"),
        Engine::Sqlite => "VACUUM;\n".to_string(),
    }
}

/// Every form in one migrations folder, applied, listed and partly reverted.
fn every_form_runs(engine: Engine) {
    let Some((db, dir)) = shop(engine) else {
        return;
    };
    let root = dir.path();
    // Version 0 and sqlx's simple, irreversible form (diesel's initial setup is version 0 too).
    write(
        root,
        &format!("{M}/0_setup.sql"),
        "CREATE TABLE zero (id INTEGER PRIMARY KEY);\n",
    );
    // sqlx's reversible form with the description sqlx allows.
    write(
        root,
        &format!("{M}/20200101000000_Create-Store.up.sql"),
        "CREATE TABLE store (id INTEGER PRIMARY KEY);\n",
    );
    write(
        root,
        &format!("{M}/20200101000000_Create-Store.down.sql"),
        "DROP TABLE store;\n",
    );
    // sqlx's own no-transaction marker.
    write(
        root,
        &format!("{M}/20200102000000_index-store.sql"),
        &format!("-- no-transaction\n{}", outside_only(engine, "store")),
    );
    // diesel's folders, their versions with dashes; metadata.toml runs the second outside a
    // transaction (PostgreSQL runs a multi-statement script as one implicit transaction, so a
    // CONCURRENTLY statement goes alone).
    let items = format!("{M}/2020-01-03-000000_create_items");
    write(
        root,
        &format!("{items}/up.sql"),
        "CREATE TABLE items (id INTEGER PRIMARY KEY);\n",
    );
    write(root, &format!("{items}/down.sql"), "DROP TABLE items;\n");
    let index = format!("{M}/2020-01-04-000000_index_items");
    write(
        root,
        &format!("{index}/up.sql"),
        &outside_only(engine, "items"),
    );
    write(root, &format!("{index}/down.sql"), "-- nothing to undo\n");
    write(
        root,
        &format!("{index}/metadata.toml"),
        "run_in_transaction = false\n",
    );

    let latest = dbgen(root, &db, &["migrate", "latest", "shop"]);
    assert_eq!(latest.status.code(), Some(0), "{}", show(&latest));
    let mut tables = db.tables();
    tables.retain(|t| t != TABLE);
    tables.sort();
    assert_eq!(tables, ["items", "store", "zero"], "{}", show(&latest));
    let versions: Vec<i64> = db.tracking_rows(TABLE).iter().map(|(v, _)| *v).collect();
    assert_eq!(
        versions,
        [
            0,
            20200101000000,
            20200102000000,
            20200103000000,
            20200104000000
        ]
    );
    // (PostgreSQL's CREATE INDEX CONCURRENTLY and SQLite's VACUUM fail in a transaction.)

    let status = dbgen(root, &db, &["migrate", "status", "shop", "--exit-code"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{}", show(&status));
    for name in [
        "setup",
        "Create-Store",
        "index-store",
        "create_items",
        "index_items",
    ] {
        assert!(text.contains(name), "{name} not listed:\n{text}");
    }

    // The diesel migrations revert through their down.sql.
    let down = dbgen(
        root,
        &db,
        &["migrate", "rollback", "shop", "--to", "20200102000000"],
    );
    assert_eq!(down.status.code(), Some(0), "{}", show(&down));
    assert!(!db.tables().contains(&"items".to_string()));
    // Reverting past the simple form is refused: it has no down script.
    let reset = dbgen(root, &db, &["migrate", "reset", "shop"]);
    assert_eq!(reset.status.code(), Some(1), "{}", show(&reset));
    let stderr = String::from_utf8_lossy(&reset.stderr);
    assert!(stderr.contains("irreversible"), "{stderr}");
    assert_eq!(db.tracking_rows(TABLE).len(), 3, "reset reverted nothing");
}

#[test]
fn every_form_runs_on_postgres() {
    every_form_runs(Engine::Postgres);
}

#[test]
fn every_form_runs_on_mysql() {
    every_form_runs(Engine::Mysql);
}

#[test]
fn every_form_runs_on_sqlite() {
    every_form_runs(Engine::Sqlite);
}

/// `rollback --to 0` reverts everything after version 0 and keeps it; `reset` reverts it too.
#[test]
fn version_zero_is_a_migration_and_reset_goes_before_it() {
    let Some((db, dir)) = shop(Engine::Sqlite) else {
        return;
    };
    let root = dir.path();
    write(
        root,
        &format!("{M}/00000000000000_diesel_initial_setup/up.sql"),
        "CREATE TABLE setup (id INTEGER);\n",
    );
    write(
        root,
        &format!("{M}/00000000000000_diesel_initial_setup/down.sql"),
        "DROP TABLE setup;\n",
    );
    write(
        root,
        &format!("{M}/1_a.up.sql"),
        "CREATE TABLE a (id INTEGER);\n",
    );
    write(root, &format!("{M}/1_a.down.sql"), "DROP TABLE a;\n");
    let run = |args: &[&str]| {
        let out = dbgen(root, &db, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
    };
    run(&["migrate", "latest", "shop"]);
    run(&["migrate", "rollback", "shop", "--to", "0"]);
    assert_eq!(db.tracking_rows(TABLE), [(0, 1)]);
    run(&["migrate", "reset", "shop"]);
    assert!(db.tracking_rows(TABLE).is_empty());
    assert!(!db.tables().contains(&"setup".to_string()));
}

/// A folder of another tool's with several problems is reported in one run, each file with
/// its fix, and nothing runs.
#[test]
fn every_bad_file_is_named_in_one_run() {
    let Some((db, dir)) = shop(Engine::Sqlite) else {
        return;
    };
    let root = dir.path();
    write(
        root,
        &format!("{M}/1_ok.sql"),
        "CREATE TABLE ok (id INTEGER);\n",
    );
    write(
        root,
        &format!("{M}/20250823075842_initial_schema.js"),
        "exports.up = () => {};\n",
    );
    write(root, &format!("{M}/create_users.sql"), "SELECT 1;\n");
    write(root, &format!("{M}/2018-01-14-171611_x/notes.md"), "hi\n");
    let out = dbgen(root, &db, &["migrate", "latest", "shop"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "3 migration files in database/shop/migrations break a rule",
        "20250823075842_initial_schema.js: dbgen runs SQL, not JavaScript: port this migration to 20250823075842_initial_schema.up.sql",
        "create_users.sql: it has no version: rename it to <version>_create_users.sql",
        "2018-01-14-171611_x/notes.md: a migration folder holds only up.sql, down.sql and metadata.toml",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(db.sqlite_path().is_some_and(|p| !p.exists()), "nothing ran");
}
