//! `--root`, upward discovery, `list`, `completions` and help.

mod common;

use common::*;

#[test]
fn list_shows_each_database() {
    let dir = permiso_project();
    succeeds(dir.path(), &["new", "cache", "--driver", "sqlite"]);
    let stdout = succeeds(dir.path(), &["list"]);
    assert_eq!(
        stdout,
        "\
cache (sqlite)
  migrations: 0
  seeds:      0
  env:        CACHE_DB_URL, or CACHE_DB_NAME

permiso (postgres)
  migrations: 2
  seeds:      1
  env:        PERMISO_DB_URL, or PERMISO_DB_HOST, PERMISO_DB_PORT, PERMISO_DB_NAME, PERMISO_DB_USER, PERMISO_DB_PASSWORD

permiso-test (postgres)
  migrations: 2, from permiso
  seeds:      0
  env:        PERMISO_TEST_DB_URL, or PERMISO_TEST_DB_HOST, PERMISO_TEST_DB_PORT, PERMISO_TEST_DB_NAME, PERMISO_TEST_DB_USER, PERMISO_TEST_DB_PASSWORD
"
    );
}

#[test]
fn list_of_an_empty_project_says_what_to_do() {
    let dir = empty();
    let stdout = succeeds(dir.path(), &["list"]);
    assert!(stdout.contains("dbgen new <name>"), "{stdout}");
}

#[test]
fn commands_find_the_project_from_a_subfolder() {
    let dir = empty();
    succeeds(dir.path(), &["new", "permiso"]);
    let sub = dir.path().join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let stdout = succeeds(&sub, &["migrate", "make", "permiso", "from_below"]);
    assert!(
        stdout.starts_with("created database/permiso/migrations/"),
        "{stdout}"
    );
    assert!(!sub.join("database").exists());
    assert!(succeeds(&sub, &["list"]).contains("migrations: 1\n"));
    // `new` from the subfolder also lands at the root.
    succeeds(&sub, &["new", "audit"]);
    assert!(dir.path().join("database/audit/database.toml").is_file());
    assert!(!sub.join("dbgen.toml").exists());
}

#[test]
fn root_points_elsewhere() {
    let project = empty();
    let elsewhere = empty();
    let root = project.path().to_str().unwrap();
    succeeds(elsewhere.path(), &["--root", root, "new", "permiso"]);
    succeeds(
        elsewhere.path(),
        &["migrate", "make", "permiso", "x", "--root", root],
    );
    assert!(
        project
            .path()
            .join("database/permiso/database.toml")
            .is_file()
    );
    assert!(tree(elsewhere.path()).is_empty());
    assert!(succeeds(elsewhere.path(), &["list", "--root", root]).contains("permiso (postgres)"));
}

#[test]
fn completions_are_printed() {
    let dir = empty();
    let stdout = succeeds(dir.path(), &["completions", "bash"]);
    assert!(stdout.contains("dbgen"), "{stdout}");
    assert!(stdout.contains("migrate"), "{stdout}");
    assert!(tree(dir.path()).is_empty());
    // No project is needed, not even a valid one.
    write(dir.path(), "dbgen.toml", "not toml");
    succeeds(dir.path(), &["completions", "zsh"]);
}

#[test]
fn help_has_examples() {
    let dir = empty();
    let stdout = succeeds(dir.path(), &["--help"]);
    assert!(stdout.contains("dbgen new permiso"), "{stdout}");
    let stdout = succeeds(dir.path(), &["new", "--help"]);
    assert!(
        stdout.contains("--driver") && stdout.contains("Examples:"),
        "{stdout}"
    );
    let stdout = succeeds(dir.path(), &["migrate", "make", "--help"]);
    assert!(
        stdout.contains("dbgen migrate make permiso create_users"),
        "{stdout}"
    );
    let stdout = succeeds(dir.path(), &["seed", "make", "--help"]);
    assert!(stdout.contains("01_roles"), "{stdout}");
}
