//! Commands that must not pass on nothing or leave traces of a refusal: `--all` with no
//! databases, an unknown `--to` version, a failed first SQLite migration.

mod common;

use common::dbgen;
use dbgen_testkit::write;

#[test]
fn all_over_no_databases_is_an_error_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["migrate", "latest", "--all"][..],
        &["migrate", "status", "--all", "--exit-code"][..],
        &["migrate", "status", "--all", "--json"][..],
        &["seed", "run", "--all"][..],
    ] {
        let out = dbgen(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("no databases found in"), "{stderr}");
        assert!(
            stderr.contains(&dir.path().display().to_string()),
            "names the folder it looked in: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn a_refused_to_version_exits_2_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/app/database.toml",
        "driver = \"sqlite\"\n",
    );
    write(
        dir.path(),
        "database/app/migrations/1_t.up.sql",
        "CREATE TABLE t (id INT);",
    );
    // An existing (empty) database file: the refusal must not add a tracking table to it.
    let file = dir.path().join("app.sqlite3");
    let out = dbgen(dir.path())
        .args(["migrate", "latest", "app", "--to", "7"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no migration has version 7"), "{stderr}");
    assert!(
        !file.exists(),
        "a refused --to leaves no database file behind"
    );

    dbgen(dir.path())
        .args(["migrate", "latest", "app"])
        .assert()
        .success();
    let out = dbgen(dir.path())
        .args(["migrate", "rollback", "app", "--to", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_failed_first_sqlite_latest_leaves_no_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/app/database.toml",
        "driver = \"sqlite\"\n",
    );
    write(
        dir.path(),
        "database/app/migrations/1_t.up.sql",
        "CREATE TABLEX t (id INT);",
    );
    let out = dbgen(dir.path())
        .args(["migrate", "latest", "app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !dir.path().join("app.sqlite3").exists(),
        "the failed run created the file and must remove it"
    );
}
