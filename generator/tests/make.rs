//! `dbgen migrate make` and `dbgen seed make`.

mod common;

use common::*;
use dbgen_core::{parse_migration_file_name, utc_version};

fn versions(stdout: &str) -> Vec<i64> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("created "))
        .map(|path| {
            parse_migration_file_name(path.rsplit('/').next().unwrap())
                .unwrap()
                .version
        })
        .collect()
}

#[test]
fn migrate_make_writes_an_up_and_a_down_file() {
    let dir = empty();
    let root = dir.path();
    succeeds(root, &["new", "permiso"]);
    let before = tree(root);
    let start = utc_version(std::time::SystemTime::now());
    let stdout = succeeds(root, &["migrate", "make", "permiso", "create_users"]);
    let end = utc_version(std::time::SystemTime::now());
    let files = new_files(&before, &tree(root));
    assert_eq!(files.len(), 2, "{files:?}");
    let version = versions(&stdout)[0];
    assert!(
        (start..=end).contains(&version),
        "{version} is the UTC time"
    );
    let up = format!("database/permiso/migrations/{version}_create_users.up.sql");
    let down = format!("database/permiso/migrations/{version}_create_users.down.sql");
    assert_eq!(files, [down.clone(), up.clone()]);
    assert_eq!(stdout, format!("created {up}\ncreated {down}\n"));
    let up_sql = read(root, &up);
    assert!(
        up_sql.starts_with(&format!(
            "-- Migration {version}_create_users of database `permiso` (postgres): up.\n"
        )),
        "{up_sql}"
    );
    assert!(up_sql.contains("`-- dbgen:no-transaction`"), "{up_sql}");
    assert!(!dbgen_core::is_no_transaction(&up_sql));
    assert!(read(root, &down).contains("down."));
    // The files load: list counts them.
    assert!(succeeds(root, &["list"]).contains("migrations: 1\n"));
}

#[test]
fn two_makes_in_a_row_get_distinct_increasing_versions() {
    let dir = empty();
    succeeds(dir.path(), &["new", "permiso"]);
    let first = versions(&succeeds(dir.path(), &["migrate", "make", "permiso", "a"]))[0];
    let second = versions(&succeeds(dir.path(), &["migrate", "make", "permiso", "b"]))[0];
    let third = versions(&succeeds(dir.path(), &["migrate", "make", "permiso", "c"]))[0];
    assert!(first < second && second < third, "{first} {second} {third}");
}

#[test]
fn a_version_from_the_future_is_followed_not_undercut() {
    let dir = permiso_project();
    write(
        dir.path(),
        "database/permiso/migrations/29991231235959_later.up.sql",
        "SELECT 1;\n",
    );
    let stdout = succeeds(dir.path(), &["migrate", "make", "permiso", "next"]);
    assert_eq!(versions(&stdout), [29991231235960, 29991231235960]);
}

#[test]
fn seed_make_writes_a_seed() {
    let dir = empty();
    succeeds(dir.path(), &["new", "permiso", "--driver", "sqlite"]);
    let stdout = succeeds(dir.path(), &["seed", "make", "permiso", "01_roles"]);
    assert_eq!(stdout, "created database/permiso/seeds/01_roles.sql\n");
    let sql = read(dir.path(), "database/permiso/seeds/01_roles.sql");
    assert!(
        sql.starts_with("-- Seed 01_roles of database `permiso` (sqlite).\n"),
        "{sql}"
    );
    assert!(sql.contains("INSERT OR IGNORE"), "{sql}");
    assert!(succeeds(dir.path(), &["list"]).contains("seeds:      1\n"));
}

#[test]
fn a_database_reusing_migrations_can_still_have_its_own_seeds() {
    let dir = permiso_project();
    succeeds(dir.path(), &["seed", "make", "permiso-test", "01_fixtures"]);
    assert!(
        dir.path()
            .join("database/permiso-test/seeds/01_fixtures.sql")
            .is_file()
    );
}

#[test]
fn makes_recreate_a_missing_migrations_folder() {
    let dir = empty();
    write(dir.path(), "dbgen.toml", "");
    write(
        dir.path(),
        "database/permiso/database.toml",
        "driver = \"mysql\"\n",
    );
    let stdout = succeeds(dir.path(), &["migrate", "make", "permiso", "init"]);
    assert!(stdout.contains("database/permiso/migrations/"), "{stdout}");
    let up = read(
        dir.path(),
        stdout
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("created "),
    );
    assert!(up.contains("MySQL commits each DDL statement"), "{up}");
}
