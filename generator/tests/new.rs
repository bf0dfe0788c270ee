//! `dbgen new`: what it writes, in plain folders and in Cargo projects.

mod common;

use common::*;

#[test]
fn new_in_an_empty_folder_writes_the_database_and_dbgen_toml() {
    let dir = empty();
    let root = dir.path();
    let stdout = succeeds(root, &["new", "permiso"]);
    assert_eq!(
        new_files(&Tree::new(), &tree(root)),
        [
            "database/permiso/database.toml",
            "database/permiso/migrations/.gitkeep",
            "database/permiso/seeds/.gitkeep",
            "dbgen.toml",
        ]
    );
    assert!(read(root, "database/permiso/database.toml").contains("\ndriver = \"postgres\"\n"));
    assert_eq!(read(root, "database/permiso/migrations/.gitkeep"), "");
    let dbgen_toml = read(root, "dbgen.toml");
    for key in [
        "# driver = ",
        "# migrations_table = \"dbgen_migrations\"",
        "# lock_timeout = 60",
        "[pool]",
        "# max_connections = 10",
        "# min_connections = 0",
        "# acquire_timeout = 30",
        "# registry_module = \"src/databases.rs\"",
        "# templates = ",
    ] {
        assert!(
            dbgen_toml.contains(key),
            "dbgen.toml lacks {key:?}:\n{dbgen_toml}"
        );
    }
    for line in [
        "created database/permiso/database.toml\n",
        "created database/permiso/migrations/.gitkeep\n",
        "created database/permiso/seeds/.gitkeep\n",
        "created dbgen.toml\n",
        "PERMISO_DB_URL, or PERMISO_DB_HOST, PERMISO_DB_PORT, PERMISO_DB_NAME, PERMISO_DB_USER, PERMISO_DB_PASSWORD\n",
    ] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}");
    }
    // Not a Cargo project: no registry module, no build.rs.
    assert!(!root.join("src").exists() && !root.join("build.rs").exists());
    // What it wrote is a valid project.
    assert!(succeeds(root, &["list"]).contains("permiso (postgres)"));
}

#[test]
fn sqlite_databases_read_only_the_url_and_the_file_name() {
    let dir = empty();
    let stdout = succeeds(dir.path(), &["new", "cache-db", "--driver", "sqlite"]);
    assert!(read(dir.path(), "database/cache-db/database.toml").contains("driver = \"sqlite\""));
    assert!(
        stdout.contains("CACHE_DB_DB_URL, or CACHE_DB_DB_NAME\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("_HOST"), "{stdout}");
}

#[test]
fn driver_aliases_are_accepted() {
    let dir = empty();
    succeeds(dir.path(), &["new", "a", "--driver", "mariadb"]);
    assert!(read(dir.path(), "database/a/database.toml").contains("driver = \"mysql\""));
}

#[test]
fn an_existing_dbgen_toml_is_kept() {
    let dir = permiso_project();
    let before = tree(dir.path());
    let stdout = succeeds(dir.path(), &["new", "audit", "--driver", "mysql"]);
    assert_eq!(read(dir.path(), "dbgen.toml"), "# mine\n");
    assert!(!stdout.contains("dbgen.toml"), "{stdout}");
    assert_eq!(
        new_files(&before, &tree(dir.path())),
        [
            "database/audit/database.toml",
            "database/audit/migrations/.gitkeep",
            "database/audit/seeds/.gitkeep",
        ]
    );
    // The reuse example names a real database of the project.
    assert!(
        read(dir.path(), "database/audit/database.toml").contains("# migrations = \"permiso\"")
    );
}

#[test]
fn a_cargo_project_gets_a_registry_module_and_build_rs() {
    let dir = cargo_project();
    let root = dir.path();
    let stdout = succeeds(root, &["new", "permiso"]);
    assert!(stdout.contains("created src/databases.rs\n"), "{stdout}");
    assert!(stdout.contains("created build.rs\n"), "{stdout}");
    // main.rs declares the module and Cargo.toml has the dependency: no notes needed.
    assert!(!stdout.contains("note:"), "{stdout}");
    let registry = read(root, "src/databases.rs");
    assert!(
        registry.contains("Copy, PartialEq, Eq, Hash, dbgen_runtime::Databases)]"),
        "{registry}"
    );
    assert!(
        registry.contains("#[databases(root = \"database\")]"),
        "{registry}"
    );
    assert!(registry.contains("pub enum Database {\n"), "{registry}");
    assert!(registry.contains("\n    Permiso,\n}"), "{registry}");
    let build_rs = read(root, "build.rs");
    assert!(build_rs.contains("println!(\"cargo:rerun-if-changed=database\");"));
    assert!(stdout.contains("created .gitignore\n"), "{stdout}");
    assert_eq!(read(root, ".gitignore"), ".env\n*.sqlite3\n*.sqlite3-*\n");
    let first_doc = "    /// `database/permiso/` (postgres), connection from the PERMISO_DB_* variables.\n    Permiso,\n";
    assert!(registry.contains(first_doc), "{registry}");

    // The second database is added to the existing enum, with the doc comment the first
    // got, leaving the rest as it was.
    let stdout = succeeds(root, &["new", "permiso-test"]);
    assert!(stdout.contains("updated src/databases.rs\n"), "{stdout}");
    assert!(!stdout.contains("build.rs"), "{stdout}");
    assert!(!stdout.contains(".gitignore"), "{stdout}");
    assert_eq!(
        read(root, "src/databases.rs"),
        registry.replace(
            "    Permiso,\n}",
            "    Permiso,\n    /// `database/permiso-test/` (postgres), connection from the PERMISO_TEST_DB_* variables.\n    PermisoTest,\n}"
        )
    );
    assert_eq!(read(root, "build.rs"), build_rs);
    assert_eq!(read(root, ".gitignore"), ".env\n*.sqlite3\n*.sqlite3-*\n");
}

#[test]
fn a_new_registry_module_lists_every_existing_database() {
    let dir = permiso_project();
    write(dir.path(), "Cargo.toml", "[package]\nname = \"app\"\n");
    let stdout = succeeds(dir.path(), &["new", "audit"]);
    let registry = read(dir.path(), "src/databases.rs");
    assert!(
        registry.contains("    Audit,\n")
            && registry.find("Permiso,") < registry.find("PermisoTest,")
            && registry.find("Audit,") < registry.find("Permiso,"),
        "{registry}"
    );
    // Without `mod databases;` and the dependency, the user is told what to add.
    assert!(
        stdout.contains("note: declare the registry module: add `mod databases;`"),
        "{stdout}"
    );
    // dbgen-runtime is not on crates.io yet: the advice points at this checkout's runtime.
    let runtime = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("runtime");
    assert!(
        stdout.contains(&format!(
            "run `cargo add dbgen-runtime --path {}`",
            runtime.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("once dbgen-runtime is published on crates.io, `cargo add dbgen-runtime`"),
        "{stdout}"
    );
}

#[test]
fn an_existing_gitignore_gets_only_the_lines_it_lacks() {
    let dir = cargo_project();
    write(dir.path(), ".gitignore", "/target\n/.env");
    let stdout = succeeds(dir.path(), &["new", "cache", "--driver", "sqlite"]);
    assert!(stdout.contains("updated .gitignore\n"), "{stdout}");
    assert_eq!(
        read(dir.path(), ".gitignore"),
        "/target\n/.env\n*.sqlite3\n*.sqlite3-*\n"
    );
    // Complete already: left as it is, CRLF and all.
    let dir = cargo_project();
    let complete = "*.sqlite3-*\r\n.env\r\n*.sqlite3\r\n";
    write(dir.path(), ".gitignore", complete);
    let stdout = succeeds(dir.path(), &["new", "cache"]);
    assert!(!stdout.contains(".gitignore"), "{stdout}");
    assert_eq!(read(dir.path(), ".gitignore"), complete);
    // CRLF lines get CRLF additions.
    let dir = cargo_project();
    write(dir.path(), ".gitignore", "target\r\n");
    succeeds(dir.path(), &["new", "cache"]);
    assert_eq!(
        read(dir.path(), ".gitignore"),
        "target\r\n.env\r\n*.sqlite3\r\n*.sqlite3-*\r\n"
    );
}

#[test]
fn a_name_that_maps_to_an_existing_variant_is_refused_and_nothing_is_written() {
    let dir = cargo_project();
    succeeds(dir.path(), &["new", "db-2", "--driver", "sqlite"]);
    succeeds(dir.path(), &["new", "a-b", "--driver", "sqlite"]);
    let stderr = fails_unchanged(
        dir.path(),
        &["new", "db2", "--driver", "sqlite"],
        2,
        "cannot create database `db2`",
    );
    assert!(
        stderr.contains("enum variant `Db2`")
            && stderr.contains("database `db-2`")
            && stderr.contains("choose another name"),
        "{stderr}"
    );
    let stderr = fails_unchanged(
        dir.path(),
        &["new", "a_b", "--driver", "sqlite"],
        2,
        "cannot create database `a_b`",
    );
    assert!(stderr.contains("A_B_DB_*"), "{stderr}");
    // The same outside a Cargo project: the rule is core's, not the registry module's.
    let dir = empty();
    succeeds(dir.path(), &["new", "permiso-test"]);
    fails_unchanged(
        dir.path(),
        &["new", "permiso_test"],
        2,
        "cannot create database `permiso_test`",
    );
}

#[test]
fn an_edited_registry_keeps_every_other_byte() {
    let dir = cargo_project();
    let src = "// My registry.\r\nuse dbgen_runtime::Databases;\r\n\r\n#[derive(Debug, Databases)]\r\n#[databases(root = \"database\")]\r\npub enum Db {\r\n\t/// Main.\r\n\tPermiso // no comma\r\n}\r\n";
    write(dir.path(), "src/databases.rs", src);
    write(
        dir.path(),
        "build.rs",
        "fn main() { println!(\"cargo:rerun-if-changed=database\"); }\n",
    );
    let out = dbgen(dir.path())
        .args(["new", "audit"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read(dir.path(), "src/databases.rs"),
        src.replace(
            "\tPermiso // no comma\r\n}",
            "\tPermiso, // no comma\r\n\t/// `database/audit/` (postgres), connection from the AUDIT_DB_* variables.\r\n\tAudit,\r\n}"
        )
    );
}

#[test]
fn a_variant_already_present_is_reported() {
    let dir = cargo_project();
    let src = "#[derive(dbgen_runtime::Databases)]\npub enum Database {\n    Audit,\n}\n";
    write(dir.path(), "src/databases.rs", src);
    let stdout = succeeds(dir.path(), &["new", "audit"]);
    assert!(
        stdout.contains("note: src/databases.rs already has the variant Audit"),
        "{stdout}"
    );
    assert_eq!(read(dir.path(), "src/databases.rs"), src);
}

#[test]
fn a_registry_module_dbgen_cannot_edit_gets_the_line_to_add() {
    for (src, why) in [
        ("pub enum Database {\n    Audit,\n", "does not parse"),
        (
            "#[derive(Debug)]\npub enum Database {}\n",
            "no enum with #[derive(Databases)]",
        ),
    ] {
        let dir = cargo_project();
        write(dir.path(), "src/databases.rs", src);
        let out = dbgen(dir.path())
            .args(["new", "permiso"])
            .assert()
            .success()
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("warning: src/databases.rs was not changed"),
            "{stderr}"
        );
        assert!(stderr.contains(why), "{stderr}");
        assert!(
            stderr.contains("\n    Permiso,\n"),
            "the exact line to add: {stderr}"
        );
        assert_eq!(read(dir.path(), "src/databases.rs"), src);
        // The database itself was still made.
        assert!(dir.path().join("database/permiso/database.toml").is_file());
    }
}

#[test]
fn a_users_build_rs_is_never_changed() {
    let dir = cargo_project();
    let mine = "fn main() {\n    println!(\"cargo:rustc-env=X=1\");\n}\n";
    write(dir.path(), "build.rs", mine);
    let out = dbgen(dir.path())
        .args(["new", "permiso"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(read(dir.path(), "build.rs"), mine);
    assert!(!stdout.contains("build.rs"), "{stdout}");
    assert!(
        stderr.contains("warning: build.rs is yours")
            && stderr.contains("    println!(\"cargo:rerun-if-changed=database\");\n"),
        "{stderr}"
    );
    // A build.rs that already watches database/ needs no hint.
    let dir = cargo_project();
    write(
        dir.path(),
        "build.rs",
        "fn main() { println!(\"cargo::rerun-if-changed=database\"); }\n",
    );
    let out = dbgen(dir.path())
        .args(["new", "permiso"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn registry_module_setting_moves_the_module() {
    let dir = cargo_project();
    write(
        dir.path(),
        "dbgen.toml",
        "registry_module = \"src/db/registry.rs\"\n",
    );
    let stdout = succeeds(dir.path(), &["new", "permiso"]);
    assert!(stdout.contains("created src/db/registry.rs\n"), "{stdout}");
    assert!(read(dir.path(), "src/db/registry.rs").contains("Permiso,"));
    assert!(!dir.path().join("src/databases.rs").exists());
}

#[test]
fn a_templates_folder_overrides_file_by_file() {
    let dir = empty();
    write(dir.path(), "dbgen.toml", "templates = \"tpl\"\n");
    write(
        dir.path(),
        "tpl/database.toml.tera",
        "# ours for {{ database.name }}\ndriver = \"{{ database.driver }}\"\n",
    );
    succeeds(dir.path(), &["new", "permiso"]);
    assert_eq!(
        read(dir.path(), "database/permiso/database.toml"),
        "# ours for permiso\ndriver = \"postgres\"\n"
    );
    succeeds(dir.path(), &["seed", "make", "permiso", "01_roles"]);
    assert!(
        read(dir.path(), "database/permiso/seeds/01_roles.sql").starts_with("-- Seed 01_roles")
    );
}

#[test]
fn a_failure_half_way_leaves_the_tree_as_it_was() {
    let dir = cargo_project();
    // `src` is a file, so src/databases.rs cannot be written after the database folder was.
    std::fs::remove_dir_all(dir.path().join("src")).unwrap();
    write(dir.path(), "src", "not a folder");
    let stderr = fails_unchanged(dir.path(), &["new", "permiso"], 1, "src");
    assert!(stderr.contains("cannot"), "{stderr}");
}

#[test]
fn a_workspace_root_gets_no_registry_module() {
    let dir = empty();
    write(
        dir.path(),
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\"]\n",
    );
    let stdout = succeeds(dir.path(), &["new", "permiso"]);
    assert!(
        stdout.contains("note: Cargo.toml at the project root has no [package]"),
        "{stdout}"
    );
    assert!(!dir.path().join("src").exists() && !dir.path().join("build.rs").exists());
}
