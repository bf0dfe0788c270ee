//! `load_project` against real project trees on disk.
//!
//! Every error case asserts on the message text: it must name the file at fault and the
//! rule it breaks, because that text is what a user sees (as a CLI error or as the
//! derive's `compile_error!`).

use std::fs;
use std::path::{Path, PathBuf};

use dbgen_core::{
    Checksum, DEFAULT_MIGRATIONS_TABLE, DEFAULT_REGISTRY_MODULE, Driver, Migration, Project,
    find_project_root, is_no_transaction, load_project,
};
use tempfile::TempDir;

/// Writes `contents` to `root/rel`, creating the folders on the way.
fn write(root: &Path, rel: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn mkdir(root: &Path, rel: &str) {
    fs::create_dir_all(root.join(rel)).unwrap();
}

fn project() -> TempDir {
    tempfile::tempdir().unwrap()
}

fn load(root: &Path) -> Project {
    load_project(root).unwrap_or_else(|e| panic!("load_project failed: {e}"))
}

/// The message of the error `load_project` gives; panics if it succeeds.
fn load_err(root: &Path) -> String {
    match load_project(root) {
        Ok(project) => panic!("expected an error, got {:?}", project.names()),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `message` contains every one of `parts`.
#[track_caller]
fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "expected {part:?} in the message:\n{message}"
        );
    }
}

/// A database folder holding only a valid database.toml.
fn sqlite_db(root: &Path, name: &str) {
    write(
        root,
        &format!("database/{name}/database.toml"),
        "driver = \"sqlite\"\n",
    );
}

// ---------------------------------------------------------------------------------------
// A good project
// ---------------------------------------------------------------------------------------

/// Two databases, written in reverse name order, with everything the loader reads.
fn good_project() -> TempDir {
    let dir = project();
    let root = dir.path();
    write(
        root,
        "dbgen.toml",
        r#"
driver = "postgres"
migrations_table = "knex_migrations"
lock_timeout = 30
registry_module = "src/db.rs"
templates = "my-templates"

[pool]
max_connections = 5
min_connections = 1
acquire_timeout = 7
"#,
    );
    write(root, "database/.DS_Store", "junk");

    // `permiso`: overrides one top-level key and one pool key.
    write(
        root,
        "database/permiso/database.toml",
        "lock_timeout = 5\n[pool]\nmax_connections = 20\n",
    );
    write(root, "database/permiso/.DS_Store", "junk");
    write(root, "database/permiso/migrations/.gitkeep", "");
    write(root, "database/permiso/migrations/.DS_Store", "junk");
    // Written out of order: the loader sorts by version, not by file name.
    write(
        root,
        "database/permiso/migrations/20250901000000_add_roles.up.sql",
        "-- dbgen:no-transaction\nCREATE INDEX CONCURRENTLY i ON roles (name);\n",
    );
    write(
        root,
        "database/permiso/migrations/20250823075842_initial_schema.up.sql",
        "CREATE TABLE users (id int);\r\nCREATE TABLE roles (id int);\r\n",
    );
    write(
        root,
        "database/permiso/migrations/20250823075842_initial_schema.down.sql",
        "-- dbgen:no-transaction\nDROP TABLE roles;\nDROP TABLE users;\n",
    );
    // Version 3 sorts after 20250901000000 as a string but before it as a number.
    write(
        root,
        "database/permiso/migrations/3_early.up.sql",
        "SELECT 3;\n",
    );
    write(
        root,
        "database/permiso/migrations/3_early.down.sql",
        "SELECT -3;\n",
    );
    write(root, "database/permiso/seeds/.gitkeep", "");
    write(root, "database/permiso/seeds/10_x.sql", "-- 10_x\n");
    write(root, "database/permiso/seeds/02_y.sql", "-- 02_y\n");
    write(root, "database/permiso/seeds/02_a.sql", "-- 02_a\n");
    write(root, "database/permiso/seeds/01_b.sql", "-- 01_b\n");

    // `audit`: a different driver, nothing else; no migrations/ or seeds/ folder at all.
    write(
        root,
        "database/audit/database.toml",
        "driver = \"sqlite\"\nmigrations_table = \"audit_migrations\"\n",
    );
    dir
}

#[test]
fn databases_are_sorted_by_name() {
    let dir = good_project();
    let project = load(dir.path());
    assert_eq!(project.names(), ["audit", "permiso"]);
    assert_eq!(project.root, dir.path());
}

#[test]
fn project_settings_come_from_dbgen_toml() {
    let dir = good_project();
    let project = load(dir.path());
    assert_eq!(project.settings.registry_module, "src/db.rs");
    assert_eq!(project.settings.templates.as_deref(), Some("my-templates"));
}

#[test]
fn database_toml_overrides_only_its_own_keys() {
    let dir = good_project();
    let project = load(dir.path());

    let permiso = &project.database("permiso").unwrap().config;
    assert_eq!(
        permiso.driver,
        Driver::Postgres,
        "inherited from dbgen.toml"
    );
    assert_eq!(permiso.migrations_table, "knex_migrations", "inherited");
    assert_eq!(permiso.lock_timeout_secs, 5, "overridden");
    assert_eq!(permiso.pool.max_connections, 20, "overridden pool key");
    assert_eq!(permiso.pool.min_connections, 1, "other pool keys survive");
    assert_eq!(
        permiso.pool.acquire_timeout_secs, 7,
        "other pool keys survive"
    );
    assert_eq!(permiso.migrations_from, None);

    let audit = &project.database("audit").unwrap().config;
    assert_eq!(audit.driver, Driver::Sqlite, "overridden");
    assert_eq!(audit.migrations_table, "audit_migrations", "overridden");
    assert_eq!(audit.lock_timeout_secs, 30, "inherited");
    assert_eq!(audit.pool.max_connections, 5, "whole pool inherited");
    assert_eq!(audit.pool.min_connections, 1);
    assert_eq!(audit.pool.acquire_timeout_secs, 7);
}

#[test]
fn migrations_are_sorted_by_version_with_their_flags() {
    let dir = good_project();
    let project = load(dir.path());
    let migrations = &project.database("permiso").unwrap().migrations;

    let ids: Vec<String> = migrations.iter().map(|m| m.id()).collect();
    assert_eq!(
        ids,
        [
            "3_early",
            "20250823075842_initial_schema",
            "20250901000000_add_roles"
        ]
    );

    let early = &migrations[0];
    assert_eq!(early.version, 3);
    assert_eq!(early.name, "early");
    assert_eq!(up(early), "SELECT 3;\n");
    assert_eq!(down(early).as_deref(), Some("SELECT -3;\n"));
    assert!(!is_no_transaction(&up(early)));
    assert!(!is_no_transaction(&down(early).unwrap()));

    let initial = &migrations[1];
    assert_eq!(initial.version, 20250823075842);
    assert_eq!(initial.name, "initial_schema");
    assert_eq!(
        up(initial),
        "CREATE TABLE users (id int);\r\nCREATE TABLE roles (id int);\r\n",
        "the script is kept as written; only the checksum normalises line endings"
    );
    assert!(down(initial).unwrap().starts_with("-- dbgen:"));
    assert!(!is_no_transaction(&up(initial)));
    assert!(
        is_no_transaction(&down(initial).unwrap()),
        "the down file's marker is its own"
    );

    let roles = &migrations[2];
    assert!(is_no_transaction(&up(roles)));
    assert_eq!(down(roles), None, "no down file = irreversible");
    assert!(!roles.is_reversible());
    assert_eq!(roles.down_path(), None);

    assert!(
        project.database("audit").unwrap().migrations.is_empty(),
        "no migrations/ folder = no migrations"
    );
}

#[test]
fn checksum_ignores_crlf() {
    let dir = good_project();
    let project = load(dir.path());
    let migrations = &project.database("permiso").unwrap().migrations;
    let initial = &migrations[1];
    let lf = Checksum::of_script("CREATE TABLE users (id int);\nCREATE TABLE roles (id int);\n");
    assert_eq!(
        initial.checksum, lf,
        "the CRLF file has the LF file's checksum"
    );
    assert_eq!(migrations[0].checksum, Checksum::of_script("SELECT 3;\n"));
    assert_ne!(migrations[0].checksum, migrations[2].checksum);
}

#[test]
fn crlf_and_lf_copies_of_a_project_have_equal_checksums() {
    let lf = project();
    let crlf = project();
    for (dir, eol) in [(&lf, "\n"), (&crlf, "\r\n")] {
        sqlite_db(dir.path(), "a");
        write(
            dir.path(),
            "database/a/migrations/1_init.up.sql",
            format!("CREATE TABLE t (id int);{eol}INSERT INTO t VALUES (1);{eol}"),
        );
    }
    let lf = load(lf.path());
    let crlf = load(crlf.path());
    let (lf, crlf) = (
        &lf.databases[0].migrations[0],
        &crlf.databases[0].migrations[0],
    );
    assert_ne!(up(lf), up(crlf));
    assert_eq!(lf.checksum, crlf.checksum);
}

#[test]
fn paths_are_relative_to_the_root_with_slashes() {
    let dir = good_project();
    let project = load(dir.path());
    let permiso = project.database("permiso").unwrap();
    let initial = &permiso.migrations[1];
    assert_eq!(
        initial.up_path(),
        "database/permiso/migrations/20250823075842_initial_schema.up.sql"
    );
    assert_eq!(
        initial.down_path().as_deref(),
        Some("database/permiso/migrations/20250823075842_initial_schema.down.sql")
    );
    assert_eq!(permiso.seeds[0].path, "database/permiso/seeds/01_b.sql");
}

#[test]
fn seeds_run_in_lexical_order_of_their_file_names() {
    let dir = good_project();
    let project = load(dir.path());
    let permiso = project.database("permiso").unwrap();
    let names: Vec<&str> = permiso.seeds.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["01_b", "02_a", "02_y", "10_x"]);
    for seed in permiso.seeds.iter() {
        assert_eq!(seed.sql, format!("-- {}\n", seed.name));
    }
    assert!(
        project.database("audit").unwrap().seeds.is_empty(),
        "no seeds/ folder = no seeds"
    );
}

#[test]
fn dotfiles_are_ignored_everywhere() {
    let dir = project();
    let root = dir.path();
    write(root, ".DS_Store", "junk");
    write(root, "database/.gitkeep", "");
    write(root, "database/.DS_Store", "junk");
    write(
        root,
        "database/.hidden/notes.txt",
        "a dot-folder is not a database",
    );
    sqlite_db(root, "a");
    write(root, "database/a/.DS_Store", "junk");
    write(root, "database/a/migrations/.gitkeep", "");
    write(root, "database/a/migrations/.DS_Store", "junk");
    write(root, "database/a/migrations/.old/README.md", "ignored");
    write(root, "database/a/seeds/.gitkeep", "");
    write(root, "database/a/seeds/.DS_Store", "junk");
    write(
        root,
        "database/a/seeds/.sql",
        "a dotfile, not a seed with an empty name",
    );
    let project = load(root);
    assert_eq!(project.names(), ["a"]);
    assert!(project.databases[0].migrations.is_empty());
    assert!(project.databases[0].seeds.is_empty());
}

// ---------------------------------------------------------------------------------------
// Missing pieces that are fine
// ---------------------------------------------------------------------------------------

#[test]
fn no_database_folder_means_no_databases() {
    let dir = project();
    write(dir.path(), "dbgen.toml", "driver = \"postgres\"\n");
    let project = load(dir.path());
    assert!(project.databases.is_empty());
    assert!(project.names().is_empty());
}

#[test]
fn an_empty_folder_is_a_project_with_defaults() {
    let dir = project();
    let project = load(dir.path());
    assert!(project.databases.is_empty());
    assert_eq!(project.settings.registry_module, DEFAULT_REGISTRY_MODULE);
    assert_eq!(project.settings.templates, None);
}

#[test]
fn dbgen_toml_is_optional() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    let project = load(dir.path());
    let config = &project.database("a").unwrap().config;
    assert_eq!(config.driver, Driver::Sqlite);
    assert_eq!(config.migrations_table, DEFAULT_MIGRATIONS_TABLE);
    assert_eq!(project.settings.registry_module, DEFAULT_REGISTRY_MODULE);
}

#[test]
fn empty_migrations_and_seeds_folders_are_empty() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    mkdir(dir.path(), "database/a/migrations");
    mkdir(dir.path(), "database/a/seeds");
    let project = load(dir.path());
    assert!(project.databases[0].migrations.is_empty());
    assert!(project.databases[0].seeds.is_empty());
}

// ---------------------------------------------------------------------------------------
// migrations/ errors
// ---------------------------------------------------------------------------------------

/// A project with one database `a` and one extra file in its migrations/.
fn with_migration_file(file: &str, contents: &[u8]) -> TempDir {
    let dir = project();
    sqlite_db(dir.path(), "a");
    write(dir.path(), "database/a/migrations/1_ok.up.sql", "SELECT 1;");
    write(
        dir.path(),
        &format!("database/a/migrations/{file}"),
        contents,
    );
    dir
}

#[test]
fn a_non_migration_file_in_migrations_is_an_error() {
    for (file, rule) in [
        ("README.md", "not a migration file"),
        ("x.sql", "rename it to <version>_x.sql"),
        ("abc_x.up.sql", "it has no version"),
        ("2025a_x.up.sql", "not all digits"),
        ("2.up.sql", "rename it to 2_<name>.up.sql"),
        ("1_initial.js", "port this migration to 1_initial.up.sql"),
    ] {
        let dir = with_migration_file(file, b"SELECT 1;");
        let err = load_err(dir.path());
        assert_mentions(&err, &[&format!("database/a/migrations/{file}"), rule]);
    }
}

#[test]
fn sqlx_and_diesel_names_load_as_they_are() {
    for (file, version, name) in [
        ("20250823075842_initial.sql", 20250823075842, "initial"),
        ("2_A.up.sql", 2, "A"),
        ("3_add-users.up.sql", 3, "add-users"),
        ("0_zero.up.sql", 0, "zero"),
    ] {
        let dir = with_migration_file(file, b"SELECT 1;");
        let project = load_project(dir.path()).unwrap();
        let m = project.databases[0]
            .migrations
            .iter()
            .find(|m| m.name != "ok")
            .unwrap();
        assert_eq!((m.version, m.name.as_ref()), (version, name), "{file}");
        assert_eq!(m.up_path(), format!("database/a/migrations/{file}"));
        assert_eq!(m.up_script().unwrap(), "SELECT 1;");
    }
}

#[test]
fn every_bad_file_of_a_folder_is_listed_at_once() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    for file in ["notes.txt", "create_users.sql", "3_c.down.sql", "7_.sql"] {
        write(
            dir.path(),
            &format!("database/a/migrations/{file}"),
            "SELECT 1;",
        );
    }
    write(dir.path(), "database/a/migrations/1_ok.up.sql", "SELECT 1;");
    write(
        dir.path(),
        "database/a/migrations/01_again.sql",
        "SELECT 1;",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "5 migration files in database/a/migrations break a rule",
            "database/a/migrations/notes.txt: not a migration file",
            "database/a/migrations/create_users.sql: it has no version: rename it to <version>_create_users.sql",
            "database/a/migrations/3_c.down.sql: this down file has no up file (3_c.up.sql)",
            "database/a/migrations/7_.sql: its name is empty: rename it to 7_<name>.sql",
            "database/a/migrations/1_ok.up.sql: its version 1 is also that of 01_again.sql",
        ],
    );
}

#[test]
fn one_migration_in_two_forms_is_named_as_such() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    for file in ["1_a.sql", "1_a.up.sql", "1_a.down.sql"] {
        write(
            dir.path(),
            &format!("database/a/migrations/{file}"),
            "SELECT 1;",
        );
    }
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "1_a.up.sql",
            "it and 1_a.sql are one migration in two forms: keep one of them",
        ],
    );
    assert!(!err.contains("rename that one"), "{err}");
}

#[test]
fn a_folder_in_migrations_is_a_diesel_migration_or_an_error() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    write(
        dir.path(),
        "database/a/migrations/old/1_x.up.sql",
        "SELECT 1;",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &["database/a/migrations/old: ", "rename it to <version>_old/"],
    );
    std::fs::rename(
        dir.path().join("database/a/migrations/old"),
        dir.path()
            .join("database/a/migrations/2018-01-14-171611_old"),
    )
    .unwrap();
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/migrations/2018-01-14-171611_old/1_x.up.sql",
            "only up.sql, down.sql and metadata.toml",
        ],
    );
}

#[test]
fn diesel_folders_load_with_their_metadata() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    let m = "database/a/migrations";
    write(
        dir.path(),
        &format!("{m}/00000000000000_diesel_initial_setup/up.sql"),
        "SELECT 0;",
    );
    write(
        dir.path(),
        &format!("{m}/00000000000000_diesel_initial_setup/down.sql"),
        "SELECT 0;",
    );
    write(
        dir.path(),
        &format!("{m}/2018-01-14-171611_create_tables/up.sql"),
        "SELECT 1;",
    );
    write(
        dir.path(),
        &format!("{m}/2018-01-14-171611_create_tables/metadata.toml"),
        "run_in_transaction = false\n",
    );
    let project = load_project(dir.path()).unwrap();
    let migrations = &project.databases[0].migrations;
    let summary: Vec<_> = migrations
        .iter()
        .map(|m| {
            (
                m.version,
                m.name.to_string(),
                m.is_reversible(),
                m.no_transaction,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, "diesel_initial_setup".to_string(), true, false),
            (20180114171611, "create_tables".to_string(), false, true),
        ]
    );
    assert_eq!(
        migrations[1].up_path(),
        format!("{m}/2018-01-14-171611_create_tables/up.sql")
    );
    assert_eq!(migrations[0].down_script().unwrap().unwrap(), "SELECT 0;");
    assert_eq!(
        migrations[1].metadata_path().unwrap(),
        format!("{m}/2018-01-14-171611_create_tables/metadata.toml")
    );
    write(
        dir.path(),
        &format!("{m}/2018-01-14-171611_create_tables/metadata.toml"),
        "run_in_transaction = \"no\"\n",
    );
    assert_mentions(
        &load_err(dir.path()),
        &["metadata.toml", "run_in_transaction = false"],
    );
}

#[test]
fn a_down_file_without_its_up_file_is_an_error() {
    let dir = with_migration_file("2_gone.down.sql", b"SELECT 2;");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/migrations/2_gone.down.sql",
            "has no up file",
            "2_gone.up.sql",
        ],
    );

    // Same version, different name: still not its up file.
    let dir = with_migration_file("1_other.down.sql", b"SELECT 1;");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/migrations/1_other.down.sql",
            "has no up file",
            "1_other.up.sql",
        ],
    );
}

#[test]
fn a_duplicate_version_names_both_files() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    write(dir.path(), "database/a/migrations/1_a.up.sql", "SELECT 1;");
    write(dir.path(), "database/a/migrations/1_b.up.sql", "SELECT 2;");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "duplicate migration version 1",
            "database `a`",
            "database/a/migrations/1_a.up.sql",
            "database/a/migrations/1_b.up.sql",
        ],
    );
}

#[test]
fn versions_that_differ_only_in_leading_zeros_are_duplicates() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    write(dir.path(), "database/a/migrations/1_a.up.sql", "SELECT 1;");
    write(dir.path(), "database/a/migrations/01_a.up.sql", "SELECT 1;");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "duplicate migration version 1",
            "database/a/migrations/01_a.up.sql",
            "database/a/migrations/1_a.up.sql",
        ],
    );
    let (first, second) = (err.find("/01_a.up"), err.find("/1_a.up"));
    assert!(first < second, "named in name order: {err}");
    // Down files too.
    std::fs::remove_file(dir.path().join("database/a/migrations/01_a.up.sql")).unwrap();
    write(
        dir.path(),
        "database/a/migrations/1_a.down.sql",
        "SELECT 1;",
    );
    write(
        dir.path(),
        "database/a/migrations/001_a.down.sql",
        "SELECT 1;",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/migrations/001_a.down.sql",
            "has no up file (001_a.up.sql)",
        ],
    );
}

#[test]
fn a_version_that_overflows_i64_is_an_error() {
    // i64::MAX is 9223372036854775807.
    let dir = with_migration_file("9223372036854775807_max.up.sql", b"SELECT 1;");
    assert_eq!(
        load(dir.path()).databases[0].migrations[1].version,
        i64::MAX
    );

    let dir = with_migration_file("9223372036854775808_big.up.sql", b"SELECT 1;");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/migrations/9223372036854775808_big.up.sql",
            "does not fit a 64-bit integer",
        ],
    );
}

#[test]
fn a_script_that_is_not_utf8_is_an_error() {
    let dir = with_migration_file("2_latin1.up.sql", b"SELECT 'caf\xe9';");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &["database/a/migrations/2_latin1.up.sql", "not valid UTF-8"],
    );

    let dir = project();
    sqlite_db(dir.path(), "a");
    write(dir.path(), "database/a/seeds/01_x.sql", b"\xff\xfe");
    let err = load_err(dir.path());
    assert_mentions(&err, &["database/a/seeds/01_x.sql", "not valid UTF-8"]);
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_an_error() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let dir = project();
    sqlite_db(dir.path(), "a");
    let migrations = dir.path().join("database/a/migrations");
    fs::create_dir_all(&migrations).unwrap();
    fs::write(migrations.join(OsStr::from_bytes(b"1_caf\xe9.up.sql")), "").unwrap();
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/migrations/1_caf\u{FFFD}.up.sql",
            "file name is not valid UTF-8",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// seeds/ errors
// ---------------------------------------------------------------------------------------

#[test]
fn a_non_sql_file_in_seeds_is_an_error() {
    for file in ["README.md", "01_roles.sql.bak", "01_roles"] {
        let dir = project();
        sqlite_db(dir.path(), "a");
        write(dir.path(), &format!("database/a/seeds/{file}"), "x");
        let err = load_err(dir.path());
        assert_mentions(
            &err,
            &[
                &format!("database/a/seeds/{file}"),
                "only <name>.sql seed files",
            ],
        );
    }
}

#[test]
fn a_folder_in_seeds_is_an_error() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    write(dir.path(), "database/a/seeds/more.sql/01_x.sql", "x");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &["database/a/seeds/more.sql", "only <name>.sql seed files"],
    );
}

#[test]
fn a_bad_seed_name_is_an_error() {
    for (file, rule) in [
        ("01-roles.sql", "contains '-'"),
        ("Roles.sql", "contains 'R'"),
        ("a.b.sql", "contains '.'"),
    ] {
        let dir = project();
        sqlite_db(dir.path(), "a");
        write(dir.path(), &format!("database/a/seeds/{file}"), "x");
        let err = load_err(dir.path());
        assert_mentions(
            &err,
            &[
                &format!("database/a/seeds/{file}"),
                rule,
                "a seed name holds only a-z, 0-9 and _",
            ],
        );
    }
}

// ---------------------------------------------------------------------------------------
// database/ errors
// ---------------------------------------------------------------------------------------

#[test]
fn a_file_directly_in_database_is_an_error() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    write(dir.path(), "database/notes.txt", "x");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/notes.txt",
            "only database folders belong in database/",
        ],
    );
}

#[test]
fn a_file_named_database_is_an_error() {
    let dir = project();
    write(dir.path(), "database", "not a folder");
    let err = load_err(dir.path());
    assert_mentions(&err, &["cannot read", "database"]);
}

#[test]
fn a_folder_with_an_invalid_database_name_is_an_error() {
    let dir = project();
    write(
        dir.path(),
        "database/My DB/database.toml",
        "driver = \"sqlite\"",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &["database/My DB", "not a database name", "starts with 'M'"],
    );

    let dir = project();
    sqlite_db(dir.path(), "all");
    let err = load_err(dir.path());
    assert_mentions(&err, &["database/all", "reserved"]);
}

#[test]
fn a_database_folder_without_database_toml_is_an_error() {
    let dir = project();
    sqlite_db(dir.path(), "a");
    write(dir.path(), "database/b/migrations/1_x.up.sql", "SELECT 1;");
    let err = load_err(dir.path());
    assert_mentions(&err, &["database/b", "has no database.toml"]);
}

// ---------------------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_toml_in_dbgen_toml_names_the_file_and_line() {
    let dir = project();
    write(
        dir.path(),
        "dbgen.toml",
        "driver = \"postgres\"\nthis is not toml\n",
    );
    let err = load_err(dir.path());
    assert_mentions(&err, &["dbgen.toml", "line 2"]);
}

#[test]
fn invalid_toml_in_database_toml_names_the_file_and_line() {
    let dir = project();
    write(dir.path(), "database/a/database.toml", "driver = sqlite\n");
    let err = load_err(dir.path());
    assert_mentions(&err, &["database/a/database.toml", "line 1"]);
}

#[test]
fn an_unknown_key_is_an_error() {
    let dir = project();
    write(dir.path(), "dbgen.toml", "drvier = \"postgres\"\n");
    let err = load_err(dir.path());
    assert_mentions(&err, &["dbgen.toml", "unknown field `drvier`"]);

    let dir = project();
    write(
        dir.path(),
        "database/a/database.toml",
        "driver = \"sqlite\"\n[pool]\nmax_conections = 3\n",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &["database/a/database.toml", "unknown field `max_conections`"],
    );
}

#[test]
fn an_unknown_driver_is_an_error() {
    let dir = project();
    write(
        dir.path(),
        "database/a/database.toml",
        "driver = \"oracle\"\n",
    );
    let err = load_err(dir.path());
    assert_mentions(&err, &["database/a/database.toml", "oracle"]);
}

#[test]
fn a_missing_driver_is_an_error() {
    let dir = project();
    write(dir.path(), "dbgen.toml", "lock_timeout = 5\n");
    write(dir.path(), "database/a/database.toml", "");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database `a` has no driver",
            "database/a/database.toml",
            "driver = \"postgres\"",
        ],
    );
}

#[test]
fn a_driver_in_dbgen_toml_is_enough() {
    let dir = project();
    write(dir.path(), "dbgen.toml", "driver = \"mariadb\"\n");
    write(dir.path(), "database/a/database.toml", "");
    let project = load(dir.path());
    assert_eq!(project.databases[0].config.driver, Driver::Mysql);
}

#[test]
fn keys_in_the_wrong_file_are_errors() {
    let dir = project();
    write(dir.path(), "dbgen.toml", "migrations = \"a\"\n");
    let err = load_err(dir.path());
    assert_mentions(&err, &["dbgen.toml", "`migrations`", "database.toml"]);

    let dir = project();
    write(
        dir.path(),
        "database/a/database.toml",
        "driver = \"sqlite\"\nregistry_module = \"src/x.rs\"\n",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/database.toml",
            "`registry_module`",
            "dbgen.toml",
        ],
    );
}

#[test]
fn env_prefixes_that_collide_are_an_error() {
    let dir = project();
    sqlite_db(dir.path(), "a-b");
    sqlite_db(dir.path(), "a_b");
    let err = load_err(dir.path());
    assert_mentions(&err, &["`a-b`", "`a_b`", "A_B_DB_*", "rename one"]);
}

#[test]
fn folders_that_map_to_one_variant_are_an_error() {
    let dir = project();
    sqlite_db(dir.path(), "db-2");
    sqlite_db(dir.path(), "db2");
    sqlite_db(dir.path(), "shop");
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "`db-2`",
            "`db2`",
            "enum variant `Db2`",
            "rename one of the two folders",
        ],
    );
}

#[test]
fn a_new_name_that_clashes_with_a_database_is_refused() {
    let dir = project();
    sqlite_db(dir.path(), "db-2");
    sqlite_db(dir.path(), "a-b");
    let project = load(dir.path());
    let name = |n: &str| dbgen_core::DatabaseName::new(n).unwrap();
    let err = project
        .check_new_name(&name("db2"))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &err,
        &[
            "cannot create database `db2`",
            "`Db2`",
            "database `db-2`",
            "choose another name",
        ],
    );
    let err = project
        .check_new_name(&name("a_b"))
        .unwrap_err()
        .to_string();
    assert_mentions(&err, &["`a_b`", "A_B_DB_*", "database `a-b`"]);
    project.check_new_name(&name("db3")).unwrap();
}

#[test]
fn migrations_table_must_be_an_sql_identifier() {
    for bad in ["my table", "x;drop", "1abc", "a.b", ""] {
        let dir = project();
        write(
            dir.path(),
            "database/a/database.toml",
            format!("driver = \"sqlite\"\nmigrations_table = {bad:?}\n"),
        );
        let err = load_err(dir.path());
        assert_mentions(
            &err,
            &[
                "database/a/database.toml",
                &format!("migrations_table = {bad:?}"),
                "SQL identifier",
            ],
        );
    }

    let dir = project();
    write(dir.path(), "dbgen.toml", "migrations_table = \"a-b\"\n");
    let err = load_err(dir.path());
    assert_mentions(&err, &["dbgen.toml", "SQL identifier"]);
}

#[test]
fn pool_min_above_merged_max_is_an_error() {
    let dir = project();
    write(dir.path(), "dbgen.toml", "[pool]\nmax_connections = 2\n");
    write(
        dir.path(),
        "database/a/database.toml",
        "driver = \"sqlite\"\n[pool]\nmin_connections = 3\n",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/database.toml",
            "min_connections (3)",
            "max_connections (2)",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Reusing another database's migrations
// ---------------------------------------------------------------------------------------

fn permiso_with_test_db() -> TempDir {
    let dir = project();
    let root = dir.path();
    write(root, "dbgen.toml", "driver = \"postgres\"\n");
    write(root, "database/permiso/database.toml", "");
    write(
        root,
        "database/permiso/migrations/1_init.up.sql",
        "CREATE TABLE t (id int);\r\n",
    );
    write(
        root,
        "database/permiso/migrations/1_init.down.sql",
        "DROP TABLE t;\n",
    );
    write(
        root,
        "database/permiso/migrations/2_more.up.sql",
        "-- dbgen:no-transaction\nSELECT 2;\n",
    );
    write(root, "database/permiso/seeds/01_roles.sql", "-- roles\n");
    write(
        root,
        "database/permiso-test/database.toml",
        "migrations = \"permiso\"\nmigrations_table = \"test_migrations\"\n",
    );
    write(root, "database/permiso-test/migrations/.gitkeep", "");
    write(
        root,
        "database/permiso-test/seeds/01_fixtures.sql",
        "-- fixtures\n",
    );
    dir
}

#[test]
fn a_database_can_reuse_another_databases_migrations() {
    let dir = permiso_with_test_db();
    let project = load(dir.path());
    assert_eq!(project.names(), ["permiso", "permiso-test"]);
    let permiso = project.database("permiso").unwrap();
    let test = project.database("permiso-test").unwrap();

    assert_eq!(test.config.migrations_from.as_deref(), Some("permiso"));
    assert_eq!(test.config.migrations_table, "test_migrations");
    assert_eq!(test.config.driver, Driver::Postgres);
    assert_eq!(permiso.config.migrations_from, None);

    assert_eq!(
        test.migrations, permiso.migrations,
        "the very same migrations"
    );
    let checksums = |db: &dbgen_core::Database| -> Vec<Checksum> {
        db.migrations.iter().map(|m| m.checksum).collect()
    };
    assert_eq!(checksums(test), checksums(permiso));
    assert_eq!(test.migrations.len(), 2);
    assert!(is_no_transaction(&up(&test.migrations[1])));
    assert_eq!(
        test.migrations[0].up_path(),
        "database/permiso/migrations/1_init.up.sql",
        "paths point at the files that are actually run"
    );

    let seeds = |db: &dbgen_core::Database| -> Vec<String> {
        db.seeds.iter().map(|s| s.name.to_string()).collect()
    };
    assert_eq!(seeds(permiso), ["01_roles"]);
    assert_eq!(seeds(test), ["01_fixtures"], "its own seeds, not permiso's");
    assert_eq!(
        test.seeds[0].path,
        "database/permiso-test/seeds/01_fixtures.sql"
    );
}

#[test]
fn reusing_an_unknown_database_lists_the_known_ones() {
    let dir = permiso_with_test_db();
    write(
        dir.path(),
        "database/permiso-test/database.toml",
        "migrations = \"permisso\"\n",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "`permiso-test` takes its migrations from `permisso`",
            "not a database of this project",
            "known databases: permiso, permiso-test",
            "database/permiso-test/database.toml",
        ],
    );
}

#[test]
fn reusing_itself_is_an_error() {
    let dir = permiso_with_test_db();
    write(
        dir.path(),
        "database/permiso-test/database.toml",
        "migrations = \"permiso-test\"\n",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "`permiso-test` takes its migrations from `permiso-test`",
            "is itself",
            "database/permiso-test/database.toml",
        ],
    );
}

#[test]
fn reusing_a_database_that_reuses_another_is_an_error() {
    let dir = permiso_with_test_db();
    write(
        dir.path(),
        "database/permiso-e2e/database.toml",
        "migrations = \"permiso-test\"\n",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "`permiso-e2e` takes its migrations from `permiso-test`",
            "yet another database",
            "database/permiso-e2e/database.toml",
        ],
    );
}

#[test]
fn reusing_while_having_own_migration_files_is_an_error() {
    let dir = permiso_with_test_db();
    write(
        dir.path(),
        "database/permiso-test/migrations/5_extra.up.sql",
        "SELECT 5;",
    );
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "`permiso-test` takes its migrations from `permiso`",
            "migration files of its own",
            "database/permiso-test/migrations",
            "database/permiso-test/database.toml",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// find_project_root and Project::database
// ---------------------------------------------------------------------------------------

#[test]
fn find_project_root_finds_the_nearest_ancestor_with_dbgen_toml() {
    let dir = project();
    let root = dir.path();
    write(root, "dbgen.toml", "");
    write(root, "nested/dbgen.toml", "");
    mkdir(root, "nested/src/deep");
    mkdir(root, "other/src");

    assert_eq!(find_project_root(root), root);
    assert_eq!(
        find_project_root(&root.join("nested/src/deep")),
        root.join("nested")
    );
    assert_eq!(find_project_root(&root.join("nested")), root.join("nested"));
    assert_eq!(find_project_root(&root.join("other/src")), root);
    assert_eq!(
        find_project_root(&root.join("nested/src/deep/..")),
        root.join("nested"),
        "`..` goes up before the search starts"
    );
}

#[test]
fn find_project_root_ignores_a_folder_named_dbgen_toml() {
    let dir = project();
    let root = dir.path();
    write(root, "dbgen.toml", "");
    mkdir(root, "sub/dbgen.toml");
    assert_eq!(find_project_root(&root.join("sub")), root);
}

#[test]
fn find_project_root_falls_back_to_the_start_folder() {
    let dir = project();
    let start: PathBuf = dir.path().join("a/b");
    mkdir(dir.path(), "a/b");
    // Unless some folder above the temp dir holds a dbgen.toml, nothing is found.
    let above = dir
        .path()
        .ancestors()
        .any(|d| d.join("dbgen.toml").is_file());
    if !above {
        assert_eq!(find_project_root(&start), start);
    }
}

#[test]
fn unknown_database_lists_the_known_ones() {
    let dir = good_project();
    let project = load(dir.path());
    let err = project.database("nope").unwrap_err().to_string();
    assert_mentions(
        &err,
        &["unknown database `nope`", "known databases: audit, permiso"],
    );

    let empty = load(project_dir_without_databases().path());
    let err = empty.database("nope").unwrap_err().to_string();
    assert_mentions(&err, &["unknown database `nope`", "dbgen new"]);
}

fn project_dir_without_databases() -> TempDir {
    let dir = project();
    write(dir.path(), "dbgen.toml", "driver = \"sqlite\"\n");
    dir
}

#[test]
fn many_migrations_load_in_order_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "database/big/database.toml", "driver = \"sqlite\"");
    for v in 1..=400 {
        write(
            root,
            &format!("database/big/migrations/{v}_m{v}.up.sql"),
            format!("CREATE TABLE t{v} (id INTEGER);"),
        );
        write(
            root,
            &format!("database/big/migrations/{v}_m{v}.down.sql"),
            format!("DROP TABLE t{v};"),
        );
    }
    let project = load_project(root).unwrap();
    let migrations = &project.databases[0].migrations;
    assert_eq!(migrations.len(), 400);
    for (i, m) in migrations.iter().enumerate() {
        let v = i as i64 + 1;
        assert_eq!(m.version, v);
        assert_eq!(up(m), format!("CREATE TABLE t{v} (id INTEGER);"));
        assert_eq!(
            down(m).as_deref(),
            Some(format!("DROP TABLE t{v};").as_str())
        );
    }

    std::fs::write(
        root.join("database/big/migrations/333_m333.up.sql"),
        b"\xff\xfe",
    )
    .unwrap();
    let err = load_project(root).unwrap_err().to_string();
    assert!(
        err.contains("333_m333.up.sql") && err.contains("UTF-8"),
        "{err}"
    );
}

#[test]
fn scripts_are_read_when_they_run_and_must_not_change_in_between() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "database/a/database.toml", "driver = \"sqlite\"");
    write(
        root,
        "database/a/migrations/0001_x.up.sql",
        "CREATE TABLE x (id INTEGER);",
    );
    write(
        root,
        "database/a/migrations/0001_x.down.sql",
        "DROP TABLE x;",
    );
    write(
        root,
        "database/a/migrations/2_y.up.sql",
        "CREATE TABLE y (id INTEGER);",
    );
    write(
        root,
        "database/a/migrations/3_z.up.sql",
        "CREATE TABLE z (id INTEGER);",
    );
    write(root, "database/a/migrations/3_z.down.sql", "DROP TABLE z;");
    let project = load_project(root).unwrap();
    let ms = &project.databases[0].migrations;
    assert_eq!(
        ms[0].up_path(),
        "database/a/migrations/0001_x.up.sql",
        "a version's leading zeros are kept"
    );
    assert_eq!(up(&ms[0]), "CREATE TABLE x (id INTEGER);");
    assert_eq!(down(&ms[0]).as_deref(), Some("DROP TABLE x;"));
    assert!(!ms[1].is_reversible());

    // An up script edited after loading is refused, not run under its old checksum.
    write(
        root,
        "database/a/migrations/2_y.up.sql",
        "DROP TABLE users;",
    );
    let err = ms[1].up_script().unwrap_err().to_string();
    assert!(
        err.contains("database/a/migrations/2_y.up.sql")
            && err.contains("changed while dbgen was running"),
        "{err}"
    );
    // A down script is read when it runs, and a bad one is named then.
    std::fs::write(root.join("database/a/migrations/3_z.down.sql"), b"\xff").unwrap();
    let err = ms[2].down_script().unwrap_err().to_string();
    assert!(
        err.contains("database/a/migrations/3_z.down.sql") && err.contains("UTF-8"),
        "{err}"
    );
    std::fs::remove_file(root.join("database/a/migrations/3_z.down.sql")).unwrap();
    let err = ms[2].down_script().unwrap_err().to_string();
    assert!(
        err.contains("cannot read database/a/migrations/3_z.down.sql"),
        "{err}"
    );

    // A down file must be written with its up file's version, leading zeros and all.
    write(root, "database/a/migrations/1_x.down.sql", "DROP TABLE x;");
    std::fs::remove_file(root.join("database/a/migrations/0001_x.down.sql")).unwrap();
    let err = load_project(root).unwrap_err().to_string();
    assert!(
        err.contains("1_x.down.sql") && err.contains("no up file (1_x.up.sql)"),
        "{err}"
    );
}

fn up(m: &Migration) -> String {
    m.up_script().unwrap().into_owned()
}

fn down(m: &Migration) -> Option<String> {
    m.down_script().unwrap().map(|s| s.into_owned())
}
