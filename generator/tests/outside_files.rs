//! A script linked to a file outside the project is refused by name, and its text is never
//! printed, not even by a dry run.
#![cfg(unix)]

mod common;

use common::*;

#[test]
fn a_migration_linked_outside_the_project_is_refused_and_never_printed() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.sql");
    std::fs::write(&secret, "SELECT 'SECRET-OUTSIDE';\n").unwrap();
    let dir = empty();
    write(
        dir.path(),
        "database/app/database.toml",
        "driver = \"sqlite\"\n",
    );
    write(
        dir.path(),
        "database/app/migrations/1_ok.up.sql",
        "CREATE TABLE t (id int);\n",
    );
    std::os::unix::fs::symlink(
        &secret,
        dir.path().join("database/app/migrations/2_leak.up.sql"),
    )
    .unwrap();
    let db_file = dir.path().join("app.sqlite3");

    let out = dbgen(dir.path())
        .env("APP_DB_URL", format!("sqlite://{}", db_file.display()))
        .args(["migrate", "latest", "app", "--dry-run"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("database/app/migrations/2_leak.up.sql")
            && stderr.contains("points outside the project")
            && stderr.contains("copy the file into the project"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("SECRET-OUTSIDE") && !stderr.contains("SECRET-OUTSIDE"),
        "the outside file was printed:\n{stdout}\n{stderr}"
    );
    assert!(!db_file.exists(), "nothing was run");
}
