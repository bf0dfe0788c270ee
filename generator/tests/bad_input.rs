//! Every bad input: the right exit code (2 usage, 1 failure), a message naming the problem,
//! and a tree left byte-for-byte as it was.

mod common;

use common::*;

#[test]
fn invalid_database_names_are_usage_errors() {
    let long = "a".repeat(64);
    let cases: [(&str, &str); 7] = [
        ("../x", "starts with '.'"),
        ("My DB", "starts with 'M'"),
        ("1abc", "starts with '1'"),
        ("", "it is empty"),
        (&long, "64 bytes"),
        ("a/b", "contains '/'"),
        ("all", "reserved"),
    ];
    for project in [empty(), permiso_project(), cargo_project()] {
        for (name, reason) in cases {
            let stderr = fails_unchanged(project.path(), &["new", name], 2, reason);
            assert!(
                stderr.contains(&format!("invalid database name {name:?}")),
                "{stderr}"
            );
        }
    }
}

#[test]
fn an_existing_database_is_refused() {
    let dir = permiso_project();
    fails_unchanged(
        dir.path(),
        &["new", "permiso"],
        2,
        "database `permiso` already exists",
    );
    // Even a half-made folder without database.toml counts.
    write(dir.path(), "database/audit/notes.txt", "x");
    fails_unchanged(
        dir.path(),
        &["new", "audit"],
        2,
        "database `audit` already exists",
    );
    // And a Cargo project's registry stays untouched.
    let dir = cargo_project();
    succeeds(dir.path(), &["new", "permiso"]);
    fails_unchanged(
        dir.path(),
        &["new", "permiso", "--driver", "sqlite"],
        2,
        "already exists",
    );
}

#[test]
fn a_name_whose_variables_collide_is_refused() {
    let dir = permiso_project();
    // The name typed is at fault: a usage error, exit 2.
    let stderr = fails_unchanged(dir.path(), &["new", "permiso_test"], 2, "PERMISO_TEST_DB_*");
    assert!(
        stderr.contains("`permiso-test`") && stderr.contains("`permiso_test`"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_database_lists_the_known_ones() {
    let dir = permiso_project();
    for args in [
        ["migrate", "make", "permisso", "x"],
        ["seed", "make", "permisso", "x"],
    ] {
        fails_unchanged(
            dir.path(),
            &args,
            2,
            "unknown database `permisso`; known databases: permiso, permiso-test",
        );
    }
    let dir = empty();
    fails_unchanged(
        dir.path(),
        &["migrate", "make", "permiso", "x"],
        2,
        "dbgen new <name>",
    );
}

#[test]
fn bad_migration_and_seed_names_are_usage_errors() {
    let dir = permiso_project();
    for (name, reason) in [
        ("Create-Users", "contains 'C'"),
        ("create users", "contains ' '"),
        ("", "empty"),
        ("../x", "contains '.'"),
    ] {
        fails_unchanged(dir.path(), &["migrate", "make", "permiso", name], 2, reason);
        fails_unchanged(dir.path(), &["seed", "make", "permiso", name], 2, reason);
    }
}

#[test]
fn a_database_reusing_migrations_points_at_their_owner() {
    let dir = permiso_project();
    fails_unchanged(
        dir.path(),
        &["migrate", "make", "permiso-test", "add_x"],
        2,
        "database `permiso-test` takes its migrations from `permiso` (`migrations = \"permiso\"` in database/permiso-test/database.toml): run `dbgen migrate make permiso add_x`",
    );
}

#[test]
fn an_existing_seed_is_not_overwritten() {
    let dir = permiso_project();
    fails_unchanged(
        dir.path(),
        &["seed", "make", "permiso", "01_roles"],
        1,
        "database/permiso/seeds/01_roles.sql already exists",
    );
}

#[test]
fn an_invalid_dbgen_toml_shows_the_file_and_line() {
    let dir = permiso_project();
    write(
        dir.path(),
        "dbgen.toml",
        "driver = \"postgres\"\nnot valid toml\n",
    );
    for args in [
        &["new", "audit"][..],
        &["migrate", "make", "permiso", "x"],
        &["seed", "make", "permiso", "x"],
        &["list"],
    ] {
        let stderr = fails_unchanged(dir.path(), args, 1, "dbgen.toml");
        assert!(stderr.contains("line 2"), "{stderr}");
    }
    write(dir.path(), "dbgen.toml", "drvier = \"postgres\"\n");
    fails_unchanged(dir.path(), &["new", "audit"], 1, "unknown field `drvier`");
    // A database's own config is checked the same way.
    write(dir.path(), "dbgen.toml", "");
    write(
        dir.path(),
        "database/permiso/database.toml",
        "driver = \"oracle\"\n",
    );
    fails_unchanged(
        dir.path(),
        &["new", "audit"],
        1,
        "database/permiso/database.toml",
    );
}

#[test]
fn an_unreadable_dbgen_toml_is_a_failure() {
    let dir = permiso_project();
    write(dir.path(), "dbgen.toml", b"driver = \"\xff\"\n");
    fails_unchanged(dir.path(), &["new", "audit"], 1, "dbgen.toml");

    // A folder named dbgen.toml (found only with --root: discovery looks for a file).
    let dir = empty();
    std::fs::create_dir(dir.path().join("dbgen.toml")).unwrap();
    let root = dir.path().to_str().unwrap();
    fails_unchanged(
        dir.path(),
        &["--root", root, "new", "audit"],
        1,
        "cannot read",
    );

    // Permissions mean nothing to root, so only check them where they apply.
    let dir = permiso_project();
    let path = dir.path().join("dbgen.toml");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_err() {
        fails_unchanged(dir.path(), &["new", "audit"], 1, "cannot read");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_broken_template_override_names_the_template() {
    let dir = permiso_project();
    write(dir.path(), "dbgen.toml", "templates = \"tpl\"\n");
    fails_unchanged(dir.path(), &["new", "audit"], 1, "templates folder tpl");
    write(
        dir.path(),
        "tpl/database.toml.tera",
        "{{ database.nope }}\n",
    );
    let stderr = fails_unchanged(
        dir.path(),
        &["new", "audit"],
        1,
        "template tpl/database.toml.tera",
    );
    assert!(stderr.contains("nope"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = permiso_project();
    for args in [
        &["new"][..],
        &["new", "x", "--driver", "oracle"],
        &["migrate", "make", "permiso"],
        &["seed"],
        &["frobnicate"],
        &["completions", "tcsh"],
    ] {
        let before = tree(dir.path());
        dbgen(dir.path()).args(args).assert().code(2);
        assert_eq!(before, tree(dir.path()));
    }
    fails_unchanged(
        dir.path(),
        &["--root", "/nonexistent/x", "list"],
        2,
        "no such folder",
    );
}

/// A database named outside any project: the message says it is the wrong folder, not to
/// create a project there.
#[test]
fn a_database_named_outside_a_project_points_at_the_folder() {
    let dir = empty();
    let stderr = fails_unchanged(
        dir.path(),
        &["migrate", "status", "shop"],
        2,
        "no databases found in",
    );
    assert!(stderr.contains("pass --root DIR"), "{stderr}");
}
