//! A fresh Cargo project scaffolded by `dbgen new` embeds its database with the derive and
//! serves the command set; a migration added after the first build is in the next build.
//! Every kind of name `dbgen new` accepts gives an application that compiles.
//!
//! Heavy: each test builds a real project (path dependency on this workspace's runtime). Its target
//! folder is `target/derive-project` of this workspace, so sqlx is compiled once (about a
//! minute and a half the first time on two cores) and reused by every later run. The project
//! gets this workspace's Cargo.lock, so the build needs no network (`--offline`).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::app::{app_target, cargo, clean, new_app, run, write};

fn cargo_build(project: &Path) {
    let started = Instant::now();
    run("cargo build", &mut cargo(project, "build"), 0);
    eprintln!("cargo build took {:.1?}", started.elapsed());
}

#[test]
fn a_new_migration_rebuilds_a_derived_project() {
    let target = app_target();
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("myapp");
    new_app(&project, "myapp", "");

    let dbgen = env!("CARGO_BIN_EXE_dbgen");
    let out = run(
        "dbgen new",
        clean(dbgen, &project).args(["new", "mydb", "--driver", "sqlite"]),
        0,
    );
    assert!(out.contains("src/databases.rs"), "{out}");
    assert!(out.contains("build.rs"), "{out}");
    write(
        &project.join("src/main.rs"),
        "mod databases;\n\nfn main() -> std::process::ExitCode {\n    dbgen_runtime::cli::main::<databases::Database>()\n}\n",
    );
    let migrations = project.join("database/mydb/migrations");
    write(
        &migrations.join("20250101000000_create_users.up.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    );
    write(
        &migrations.join("20250101000000_create_users.down.sql"),
        "DROP TABLE users;\n",
    );
    write(
        &migrations.join("20250102000000_create_groups.up.sql"),
        "CREATE TABLE groups (id INTEGER PRIMARY KEY);\n",
    );

    cargo_build(&project);
    let app = target.join("debug").join("myapp");
    // Run from an empty folder: the binary needs nothing of the project at run time.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let latest = run(
        "migrate latest",
        clean(&app, &elsewhere).args(["migrate", "latest", "mydb"]),
        0,
    );
    assert!(latest.contains("2 migrations"), "{latest}");
    assert!(elsewhere.join("mydb.sqlite3").is_file());
    let status = run(
        "migrate status",
        clean(&app, &elsewhere).args(["migrate", "status", "mydb"]),
        0,
    );
    assert!(status.contains("create_groups"), "{status}");
    assert!(status.contains("up to date"), "{status}");

    // A file that did not exist at the last build: only build.rs's rerun-if-changed on the
    // database folder makes cargo rebuild for it.
    let made = run(
        "dbgen migrate make",
        clean(dbgen, &project).args(["migrate", "make", "mydb", "add_email"]),
        0,
    );
    let up = std::fs::read_dir(&migrations)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_add_email.up.sql"))
        .unwrap_or_else(|| panic!("no add_email migration: {made}"));
    let mut sql = std::fs::read_to_string(&up).unwrap();
    sql.push_str("ALTER TABLE users ADD COLUMN email TEXT;\n");
    write(&up, &sql);

    cargo_build(&project);
    let status = run(
        "migrate status after the rebuild",
        clean(&app, &elsewhere).args(["migrate", "status", "mydb"]),
        0,
    );
    let line = status
        .lines()
        .find(|l| l.contains("add_email"))
        .unwrap_or_else(|| panic!("the new migration is not listed:\n{status}"));
    assert!(line.contains("pending"), "{status}");
    run(
        "migrate status --exit-code",
        clean(&app, &elsewhere).args(["migrate", "status", "mydb", "--exit-code"]),
        3,
    );
    let latest = run(
        "migrate latest after the rebuild",
        clean(&app, &elsewhere).args(["migrate", "latest", "mydb"]),
        0,
    );
    assert!(latest.contains("1 migration"), "{latest}");
}

/// Issue 14: sqlx's and diesel's folders embed as they are, and diesel's metadata.toml is
/// part of the build (editing it rebuilds the application).
#[test]
fn sqlx_and_diesel_folders_embed_as_they_are() {
    let target = app_target();
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("formsapp");
    new_app(&project, "formsapp", "");
    let dbgen = env!("CARGO_BIN_EXE_dbgen");
    run(
        "dbgen new",
        clean(dbgen, &project).args(["new", "mydb", "--driver", "sqlite"]),
        0,
    );
    write(
        &project.join("src/main.rs"),
        "mod databases;\n\nfn main() -> std::process::ExitCode {\n    dbgen_runtime::cli::main::<databases::Database>()\n}\n",
    );
    let migrations = project.join("database/mydb/migrations");
    let files = [
        (
            "0_setup.sql",
            "CREATE TABLE zero (id INTEGER PRIMARY KEY);\n",
        ),
        (
            "20200101000000_Create-Store.up.sql",
            "CREATE TABLE store (id INTEGER PRIMARY KEY);\n",
        ),
        (
            "20200101000000_Create-Store.down.sql",
            "DROP TABLE store;\n",
        ),
        (
            "20200102000000_wal.sql",
            "-- no-transaction\nPRAGMA journal_mode = WAL;\n",
        ),
        ("2020-01-03-000000_vacuum/up.sql", "VACUUM;\n"),
        ("2020-01-03-000000_vacuum/down.sql", "VACUUM;\n"),
        (
            "2020-01-03-000000_vacuum/metadata.toml",
            "run_in_transaction = false\n",
        ),
    ];
    for (file, sql) in files {
        let path = migrations.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write(&path, sql);
    }
    cargo_build(&project);
    let app = target.join("debug").join("formsapp");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let latest = run(
        "migrate latest",
        clean(&app, &elsewhere).args(["migrate", "latest", "mydb"]),
        0,
    );
    assert!(latest.contains("4 migrations"), "{latest}");
    let status = run(
        "migrate status",
        clean(&app, &elsewhere).args(["migrate", "status", "mydb"]),
        0,
    );
    for name in ["setup", "Create-Store", "wal", "vacuum", "up to date"] {
        assert!(status.contains(name), "{name}:\n{status}");
    }
    // Bytes 18 and 19 of a SQLite file are 2 in WAL mode: the no-transaction PRAGMA took.
    let header = std::fs::read(elsewhere.join("mydb.sqlite3")).unwrap();
    assert_eq!(header[18..20], [2, 2], "not in WAL mode");

    let dry_run = |what: &str| {
        run(
            what,
            clean(&app, &elsewhere).args(["migrate", "down", "mydb", "--dry-run"]),
            0,
        )
    };
    let before = dry_run("down --dry-run");
    assert!(
        before.contains("20200103000000_vacuum (down, outside any transaction)"),
        "{before}"
    );
    write(
        &migrations.join("2020-01-03-000000_vacuum/metadata.toml"),
        "run_in_transaction = true\n",
    );
    cargo_build(&project);
    let after = dry_run("down --dry-run after editing metadata.toml");
    assert!(after.contains("20200103000000_vacuum (down)"), "{after}");
}

/// Issue 12: `dbgen new db-2` wrote the variant `Db2`, but the derive looked for a folder
/// `db2`, and the application did not compile. Every rule is core's now.
#[test]
fn every_name_dbgen_new_accepts_gives_an_app_that_compiles() {
    let target = app_target();
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("names");
    new_app(&project, "names", "");
    write(
        &project.join("src/main.rs"),
        "mod databases;\n\nuse dbgen_runtime::Databases;\n\nfn main() {\n    for db in databases::Database::ALL {\n        println!(\"{db:?} {}\", db.name());\n    }\n}\n",
    );

    let dbgen = env!("CARGO_BIN_EXE_dbgen");
    let names = ["shop", "db-2", "a_b", "permiso-test_v2", "x1-y2"];
    let variants = ["Shop", "Db2", "AB", "PermisoTestV2", "X1Y2"];
    for name in names {
        run(
            &format!("dbgen new {name}"),
            clean(dbgen, &project).args(["new", name, "--driver", "sqlite"]),
            0,
        );
    }
    let registry = std::fs::read_to_string(project.join("src/databases.rs")).unwrap();
    for variant in variants {
        assert!(
            registry.contains(&format!("    {variant},\n")),
            "no variant {variant}:\n{registry}"
        );
    }

    cargo_build(&project);
    let out = run(
        "the app",
        &mut Command::new(target.join("debug").join("names")),
        0,
    );
    // In the enum's order, each variant with the folder it was matched to.
    let expected: Vec<String> = variants
        .iter()
        .zip(names)
        .map(|(variant, name)| format!("{variant} {name}"))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{registry}");
}

/// Issue 16: a derived application's binary runs a fleet (SQLite file tenants listed in a
/// file it reads at run time), and its code lists the tenants through the derive.
#[test]
fn a_derived_app_migrates_its_tenants() {
    let target = app_target();
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("fleetapp");
    new_app(&project, "fleetapp", "");
    let dbgen = env!("CARGO_BIN_EXE_dbgen");
    run(
        "dbgen new",
        clean(dbgen, &project).args(["new", "shard", "--driver", "sqlite"]),
        0,
    );
    let config = project.join("database/shard/database.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str("\n[tenants]\nfile = \"tenants.txt\"\n");
    write(&config, &toml);
    write(
        &project.join("database/shard/migrations/20250101000000_create_users.up.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    );
    write(
        &project.join("src/main.rs"),
        r#"mod databases;

use dbgen_runtime::Databases;

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some("tenants") {
        let tenants = dbgen_runtime::cli::block_on(databases::Database::Shard.tenants())
            .unwrap()
            .unwrap();
        for tenant in tenants {
            println!("tenant {} in {:?}", tenant.name, tenant.place);
        }
        return std::process::ExitCode::SUCCESS;
    }
    dbgen_runtime::cli::main::<databases::Database>()
}
"#,
    );
    cargo_build(&project);
    let app = target.join("debug").join("fleetapp");
    // On a server: no source tree, the list in the folder it runs in.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    write(
        &elsewhere.join("tenants.txt"),
        "acme data/acme.sqlite3\nglobex data/globex.sqlite3\n",
    );
    std::fs::create_dir(elsewhere.join("data")).unwrap();
    let listed = run("tenants", clean(&app, &elsewhere).arg("tenants"), 0);
    assert!(
        listed.contains("tenant acme in database data/acme.sqlite3"),
        "{listed}"
    );
    assert!(listed.contains("tenant globex"), "{listed}");
    let latest = run(
        "migrate latest --tenants",
        clean(&app, &elsewhere).args(["migrate", "latest", "shard", "--tenants", "--jobs", "2"]),
        0,
    );
    assert!(latest.contains("shard: 2 tenants: 2 migrated"), "{latest}");
    assert!(elsewhere.join("data/acme.sqlite3").is_file());
    assert!(elsewhere.join("data/globex.sqlite3").is_file());
    let status = run(
        "migrate status --tenants --exit-code",
        clean(&app, &elsewhere).args(["migrate", "status", "shard", "--tenants", "--exit-code"]),
        0,
    );
    assert!(status.contains("2 up to date"), "{status}");
}
