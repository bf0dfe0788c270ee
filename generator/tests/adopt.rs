//! `dbgen migrate adopt` (taking over a database whose history another tool wrote) and
//! `dbgen migrate baseline`, end to end on real servers.
//!
//! The other tool's history is written by the tool itself (knex 3, sqlx-cli 0.9, diesel_cli:
//! see `common/peers.rs`), never imitated, except diesel's when diesel_cli is missing outside
//! CI. Assertions read the catalog and the tracking tables.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::peers;
use dbgen_testkit::{Engine, TestDb, write};
use tempfile::TempDir;

const TABLE: &str = "dbgen_migrations";
/// The refusal of a second adoption.
const ALREADY_TRACKED: &str = "dbgen already tracks this database";
const MIGRATIONS: &str = "database/shop/migrations";

// knex's versions (the digits before the first `_` of its file names).
const K1: i64 = 20250823075842;
const K2: i64 = 20250901000000;
const K3: i64 = 20250902000000;
const K4: i64 = 20251001000000;

// sqlx's versions.
const S1: i64 = 20250101000000;
const S2: i64 = 20250201000000;
const S3: i64 = 20250301000000;

// diesel's versions: its folder names' stamps without the `-`.
const D1: i64 = 20180114171611;
const D2: i64 = 20180201000000;
const D3: i64 = 20180301000000;

struct Project {
    dir: TempDir,
    db: TestDb,
}

impl Project {
    /// A project with one database `shop` on `engine`, or `None` when the server is skipped.
    fn new(engine: Engine) -> Option<Self> {
        let db = TestDb::create(engine)?;
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "dbgen.toml", "");
        write(
            dir.path(),
            "database/shop/database.toml",
            &format!("driver = \"{}\"\n", engine.driver()),
        );
        std::fs::create_dir_all(dir.path().join(MIGRATIONS)).expect("migrations folder");
        Some(Self { dir, db })
    }

    fn engine(&self) -> Engine {
        self.db.engine
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// dbgen's migrations folder, also the sqlx and diesel folder of the tests.
    fn migrations(&self) -> PathBuf {
        self.root().join(MIGRATIONS)
    }

    /// A file under the migrations folder.
    fn file(&self, relative: &str, content: &str) {
        write(&self.migrations(), relative, content);
    }

    /// A dbgen migration `<version>_<name>.up.sql`/`.down.sql` creating and dropping `table`.
    fn table_migration(&self, version: i64, name: &str, table: &str) {
        self.file(&format!("{version}_{name}.up.sql"), &create_table(table));
        self.file(&format!("{version}_{name}.down.sql"), &drop_table(table));
    }

    /// The folder of knex's JavaScript migrations (outside `database/`).
    fn knex_dir(&self) -> PathBuf {
        self.root().join("knex-migrations")
    }

    /// A knex migration `<version>_<name>.js` creating and dropping `table` with `knex.raw`.
    fn knex_migration(&self, version: i64, name: &str, table: &str) {
        let js = |sql: String| serde_json::to_string(&sql).expect("a JSON string");
        write(
            &self.knex_dir(),
            &format!("{version}_{name}.js"),
            &format!(
                "exports.up = (knex) => knex.raw({});\nexports.down = (knex) => knex.raw({});\n",
                js(create_table(table)),
                js(drop_table(table)),
            ),
        );
    }

    /// A knex migration and its port to dbgen, with the same version and the same SQL.
    fn knex_and_port(&self, version: i64, name: &str, table: &str) {
        self.knex_migration(version, name, table);
        self.table_migration(version, name, table);
    }

    /// `knex <command>` on this database, or `None` when knex is skipped.
    fn knex(&self, command: &str) -> Option<peers::PeerRun> {
        peers::knex_migrate(self.engine(), &self.db.url, &self.knex_dir(), command)
    }

    /// `sqlx migrate run` with the migrations folder as its source, or `None` when skipped.
    fn sqlx_run(&self) -> Option<peers::PeerRun> {
        peers::sqlx_migrate(&self.db.url, &self.migrations(), "run")
    }

    fn run(&self, args: &[&str]) -> Run {
        let output = common::dbgen(self.root())
            .args(args)
            .env("SHOP_DB_URL", &self.db.url)
            .env("NO_COLOR", "1")
            .output()
            .expect("run dbgen");
        Run {
            args: args.join(" "),
            output,
        }
    }

    fn adopt(&self, from: &str, options: &[&str]) -> Run {
        let mut args = vec!["migrate", "adopt", "shop", "--from", from];
        args.extend_from_slice(options);
        self.run(&args)
    }

    /// (version, batch) of dbgen's tracking rows.
    fn tracked(&self) -> Vec<(i64, i64)> {
        self.db.tracking_rows(TABLE)
    }

    fn has_table(&self, table: &str) -> bool {
        self.db.tables().iter().any(|t| t == table)
    }

    /// The tables the migrations made: no tool's bookkeeping.
    fn app_tables(&self) -> Vec<String> {
        self.db
            .tables()
            .into_iter()
            .filter(|t| {
                !(t.starts_with("knex_")
                    || t.starts_with("schema_history")
                    || t.starts_with("_sqlx_")
                    || t.starts_with("__diesel_")
                    || t.starts_with("dbgen_"))
            })
            .collect()
    }

    /// Every table with its row count: what a refused or dry run must leave as it was.
    fn snapshot(&self) -> Vec<(String, i64)> {
        self.db
            .tables()
            .into_iter()
            .map(|t| {
                let n = self.db.count(&format!("SELECT COUNT(*) FROM {t}"));
                (t, n)
            })
            .collect()
    }

    /// `adopt` with `options` is refused: exit 1, every one of `fragments` on stderr, and the
    /// database as it was (no `dbgen_migrations`). Returns stderr.
    #[track_caller]
    fn refused(&self, from: &str, options: &[&str], fragments: &[&str]) -> String {
        let before = self.snapshot();
        let tracked_before = self.has_table(TABLE);
        let run = self.adopt(from, options).fails(1);
        let stderr = run.stderr();
        for fragment in fragments {
            assert!(
                stderr.contains(fragment),
                "dbgen {}: expected {fragment:?} on stderr:\n{stderr}",
                run.args
            );
        }
        if !tracked_before {
            assert!(!self.has_table(TABLE), "a refused adoption created {TABLE}");
        }
        assert_eq!(
            before,
            self.snapshot(),
            "a refused adoption changed the database"
        );
        stderr
    }

    /// knex's rows: (name, batch), in the order knex wrote them.
    fn knex_rows(&self, table: &str) -> Vec<(String, i64)> {
        self.db
            .query_strings(&format!(
                "SELECT name, CAST(batch AS CHAR(20)) FROM {table} ORDER BY id"
            ))
            .into_iter()
            .map(|row| {
                (
                    row[0].clone().expect("a name"),
                    row[1]
                        .as_deref()
                        .unwrap_or("")
                        .trim()
                        .parse()
                        .expect("a batch"),
                )
            })
            .collect()
    }

    /// sqlx's rows: (version, success).
    fn sqlx_rows(&self) -> Vec<(i64, bool)> {
        self.db
            .query_strings(
                "SELECT CAST(version AS CHAR(20)), CASE WHEN success THEN 'true' ELSE 'false' END FROM _sqlx_migrations ORDER BY version",
            )
            .into_iter()
            .map(|row| {
                (
                    row[0].as_deref().unwrap_or("").trim().parse().expect("a version"),
                    row[1].as_deref() == Some("true"),
                )
            })
            .collect()
    }

    /// diesel's versions, as the strings diesel stores.
    fn diesel_versions(&self) -> Vec<String> {
        self.db
            .query_strings("SELECT version FROM __diesel_schema_migrations ORDER BY version")
            .into_iter()
            .map(|mut row| row.remove(0).expect("a version"))
            .collect()
    }

    /// A diesel migration folder `<stamp>_<name>/` with `up.sql` and `down.sql`.
    fn diesel_migration(&self, stamp: &str, name: &str, up: &str, down: &str) {
        self.file(&format!("{stamp}_{name}/up.sql"), up);
        self.file(&format!("{stamp}_{name}/down.sql"), down);
    }

    /// `diesel migration run` on the migrations folder. Without diesel_cli (outside CI) the
    /// history is written as diesel writes it: its table, each folder's `up.sql` in order
    /// and the version (the stamp without `-`) with `run_on` by default.
    fn diesel_run(&self) {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        if (ci || peers::have_diesel(self.engine()))
            && let Some(run) = peers::diesel_migrate(&self.db.url, &self.migrations(), "run")
        {
            run.ok();
            return;
        }
        eprintln!("diesel_cli not installed: writing __diesel_schema_migrations by hand");
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\
             version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        );
        let applied = self.diesel_versions();
        let mut folders: Vec<String> = std::fs::read_dir(self.migrations())
            .expect("the migrations folder")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| self.migrations().join(name).join("up.sql").is_file())
            .collect();
        folders.sort();
        for folder in folders {
            let version = folder.split('_').next().unwrap_or("").replace('-', "");
            if applied.contains(&version) {
                continue;
            }
            let up = std::fs::read_to_string(self.migrations().join(&folder).join("up.sql"))
                .expect("up.sql");
            self.db.execute(&up);
            self.db.execute(&format!(
                "INSERT INTO __diesel_schema_migrations (version) VALUES ('{version}')"
            ));
        }
    }
}

fn create_table(table: &str) -> String {
    format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY);\n")
}

fn drop_table(table: &str) -> String {
    format!("DROP TABLE {table};\n")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

struct Run {
    args: String,
    output: Output,
}

impl Run {
    fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code(),
            0,
            "dbgen {}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    fn fails(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "dbgen {}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout(),
            self.stderr()
        );
        self
    }
}

// ---------------------------------------------------------------------------------------
// knex

/// knex history in two batches, ported to SQL files of the same versions: adopted with
/// knex's batches, so a rollback reverts knex's last batch, and dbgen carries on from there.
fn knex_history_is_adopted_with_its_batches(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.knex_and_port(K1, "initial_schema", "users");
    let Some(run) = p.knex("migrate:latest") else {
        return;
    };
    run.ok();
    p.knex_and_port(K2, "roles", "roles");
    p.knex_and_port(K3, "grants", "grants");
    p.knex("migrate:latest").expect("knex").ok();
    assert_eq!(
        p.knex_rows("knex_migrations"),
        [
            (format!("{K1}_initial_schema.js"), 1),
            (format!("{K2}_roles.js"), 2),
            (format!("{K3}_grants.js"), 2),
        ],
        "knex's own record"
    );
    assert_eq!(p.app_tables(), strings(&["grants", "roles", "users"]));

    p.adopt("knex", &[]).ok();
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
    assert_eq!(p.tracked(), [(K1, 1), (K2, 2), (K3, 2)], "knex's batches");

    // Adopting is recording: nothing ran (every up script would fail on its existing table).
    p.run(&["migrate", "rollback", "shop"]).ok();
    assert_eq!(
        p.app_tables(),
        strings(&["users"]),
        "knex's batch 2 reverted"
    );
    assert_eq!(p.tracked(), [(K1, 1)]);

    p.table_migration(K4, "orders", "orders");
    p.run(&["migrate", "latest", "shop"]).ok();
    assert_eq!(
        p.app_tables(),
        strings(&["grants", "orders", "roles", "users"])
    );
    assert_eq!(p.tracked(), [(K1, 1), (K2, 2), (K3, 2), (K4, 2)]);
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();

    assert!(
        p.has_table("knex_migrations_lock"),
        "knex's tables are left alone"
    );
    assert_eq!(
        p.knex_rows("knex_migrations").len(),
        3,
        "knex's rows are left alone"
    );

    // A database dbgen already tracks is not adopted again.
    p.refused("knex", &[], &[ALREADY_TRACKED]);
}

/// A knex row whose migration dbgen does not have is refused, naming it; `--skip-unknown`
/// leaves it out.
fn knex_unknown_rows_are_refused_or_skipped(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.knex_and_port(K1, "initial_schema", "users");
    p.knex_migration(K2, "roles", "roles"); // never ported
    let Some(run) = p.knex("migrate:latest") else {
        return;
    };
    run.ok();
    assert_eq!(p.knex_rows("knex_migrations").len(), 2);

    p.refused("knex", &[], &[&K2.to_string()]);

    p.adopt("knex", &["--skip-unknown"]).ok();
    assert_eq!(p.tracked(), [(K1, 1)]);
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
    assert_eq!(
        p.knex_rows("knex_migrations").len(),
        2,
        "knex's rows are left alone"
    );
}

/// A dbgen migration older than knex's newest row that knex never ran is refused, naming it;
/// `--unapplied pending` leaves it to `latest`, `--unapplied applied` records it unrun. A
/// migration newer than every row is pending either way.
fn knex_unapplied_migrations(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.knex_and_port(K1, "initial_schema", "users");
    p.knex_and_port(K3, "grants", "grants");
    let Some(run) = p.knex("migrate:latest") else {
        return;
    };
    run.ok();
    p.table_migration(K2, "roles", "roles"); // dbgen's alone, older than knex's newest
    p.table_migration(K4, "orders", "orders"); // newer than every knex row

    p.refused("knex", &[], &[&K2.to_string()]);

    p.adopt("knex", &["--unapplied", "pending"]).ok();
    assert_eq!(p.tracked(), [(K1, 1), (K3, 1)]);
    p.run(&["migrate", "status", "shop", "--exit-code"])
        .fails(3);
    p.run(&["migrate", "latest", "shop"]).ok();
    assert_eq!(p.tracked(), [(K1, 1), (K2, 2), (K3, 1), (K4, 2)]);
    assert_eq!(
        p.app_tables(),
        strings(&["grants", "orders", "roles", "users"])
    );

    // The same history adopted with `--unapplied applied`: K2 recorded, not run.
    let Some(q) = Project::new(engine) else {
        return;
    };
    q.knex_and_port(K1, "initial_schema", "users");
    q.knex_and_port(K3, "grants", "grants");
    q.knex("migrate:latest").expect("knex").ok();
    q.table_migration(K2, "roles", "roles");
    q.table_migration(K4, "orders", "orders");
    q.adopt("knex", &["--unapplied", "applied"]).ok();
    let versions: Vec<i64> = q.tracked().iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, [K1, K2, K3]);
    assert!(q.tracked().contains(&(K3, 1)), "{:?}", q.tracked());
    assert_eq!(
        q.app_tables(),
        strings(&["grants", "users"]),
        "K2 did not run"
    );
    q.run(&["migrate", "status", "shop", "--exit-code"])
        .fails(3);
    q.run(&["migrate", "latest", "shop"]).ok();
    assert_eq!(q.app_tables(), strings(&["grants", "orders", "users"]));
    assert!(q.tracked().iter().any(|(v, _)| *v == K4));
}

/// `--drop-old-table` removes knex's tables (its lock table too) once dbgen has the history.
fn knex_drop_old_table(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.knex_and_port(K1, "initial_schema", "users");
    let Some(run) = p.knex("migrate:latest") else {
        return;
    };
    run.ok();
    assert!(p.has_table("knex_migrations") && p.has_table("knex_migrations_lock"));
    p.adopt("knex", &["--drop-old-table"]).ok();
    assert_eq!(p.tracked(), [(K1, 1)]);
    assert!(!p.has_table("knex_migrations"), "{:?}", p.db.tables());
    assert!(!p.has_table("knex_migrations_lock"), "{:?}", p.db.tables());
    assert_eq!(p.app_tables(), strings(&["users"]));
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
}

/// knex's table under another name (`migrations.tableName`): found with `--table` only; a
/// database without the tool's table is refused.
fn knex_other_table_name(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.knex_and_port(K1, "initial_schema", "users");
    let Some(run) = peers::knex_migrate_with_table(
        engine,
        &p.db.url,
        &p.knex_dir(),
        Some("schema_history"),
        "migrate:latest",
    ) else {
        return;
    };
    run.ok();
    assert!(p.has_table("schema_history") && !p.has_table("knex_migrations"));

    p.refused("knex", &[], &["knex_migrations"]);
    p.adopt("knex", &["--table", "schema_history"]).ok();
    assert_eq!(p.tracked(), [(K1, 1)]);
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
}

// ---------------------------------------------------------------------------------------
// sqlx

/// A sqlx folder: a simple (irreversible) migration and a reversible one.
fn sqlx_folder(p: &Project) {
    p.file(&format!("{S1}_create_users.sql"), &create_table("users"));
    p.file(&format!("{S2}_create_roles.up.sql"), &create_table("roles"));
    p.file(&format!("{S2}_create_roles.down.sql"), &drop_table("roles"));
}

/// sqlx's folder is dbgen's folder as it is: adopted one batch per row, so a rollback
/// reverts the newest migration, and dbgen carries on.
fn sqlx_history_is_adopted(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    sqlx_folder(&p);
    let Some(run) = p.sqlx_run() else {
        return;
    };
    run.ok();
    assert_eq!(p.sqlx_rows(), [(S1, true), (S2, true)], "sqlx's own record");

    p.adopt("sqlx", &[]).ok();
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
    assert_eq!(p.tracked(), [(S1, 1), (S2, 2)], "one batch per sqlx row");

    p.run(&["migrate", "rollback", "shop"]).ok();
    assert_eq!(p.app_tables(), strings(&["users"]), "the newest reverted");
    assert_eq!(p.tracked(), [(S1, 1)]);

    p.file(
        &format!("{S3}_create_orders.up.sql"),
        &create_table("orders"),
    );
    p.file(
        &format!("{S3}_create_orders.down.sql"),
        &drop_table("orders"),
    );
    p.run(&["migrate", "latest", "shop"]).ok();
    assert_eq!(p.app_tables(), strings(&["orders", "roles", "users"]));
    assert_eq!(p.tracked(), [(S1, 1), (S2, 2), (S3, 2)]);
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
    assert_eq!(p.sqlx_rows().len(), 2, "sqlx's rows are left alone");

    p.refused("sqlx", &[], &[ALREADY_TRACKED]);
}

/// A file edited after sqlx applied it (sqlx's SHA-384 no longer matches) is refused,
/// naming the file, before anything is written; `--accept-edited` records it.
fn sqlx_edited_file(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    sqlx_folder(&p);
    let Some(run) = p.sqlx_run() else {
        return;
    };
    run.ok();
    let edited = format!("{S1}_create_users.sql");
    p.file(
        &edited,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100));\n",
    );
    // sqlx itself sees the edit.
    let run = p.sqlx_run().expect("sqlx").fails();
    assert!(
        run.text()
            .contains("was previously applied but has been modified"),
        "{}",
        run.text()
    );

    p.refused("sqlx", &[], &[&edited]);

    p.adopt("sqlx", &["--accept-edited"]).ok();
    assert_eq!(p.tracked(), [(S1, 1), (S2, 2)]);
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
}

/// A row sqlx left with `success = false` is refused, naming it; `--failed` decides.
/// On MariaDB sqlx writes that row itself (its DDL is not transactional); on PostgreSQL a
/// failed migration leaves no row, so the row is made by hand as sqlx makes it on MySQL
/// (`success` false, `execution_time` -1, the file's checksum).
fn sqlx_failed_row(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    sqlx_folder(&p);
    let failed = format!("{S3}_create_orders.sql");
    if engine == Engine::Mysql {
        // orders is created, then the second statement fails.
        p.file(
            &failed,
            &format!("{}{}", create_table("orders"), create_table("users")),
        );
        let Some(run) = p.sqlx_run() else {
            return;
        };
        let run = run.fails();
        assert!(
            run.text()
                .contains(&format!("while executing migration {S3}")),
            "{}",
            run.text()
        );
    } else {
        p.file(&failed, &create_table("orders"));
        let Some(run) = p.sqlx_run() else {
            return;
        };
        run.ok();
        p.db.execute(&format!(
            "UPDATE _sqlx_migrations SET success = FALSE, execution_time = -1 WHERE version = {S3}; DROP TABLE orders;"
        ));
    }
    assert_eq!(p.sqlx_rows(), [(S1, true), (S2, true), (S3, false)]);

    p.refused("sqlx", &[], &[&S3.to_string()]);

    if engine == Engine::Mysql {
        // Finished by hand (orders exists): recorded as applied, unrun.
        p.adopt("sqlx", &["--failed", "applied"]).ok();
        assert_eq!(p.tracked(), [(S1, 1), (S2, 2), (S3, 3)]);
        p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
    } else {
        p.adopt("sqlx", &["--failed", "pending"]).ok();
        assert_eq!(p.tracked(), [(S1, 1), (S2, 2)]);
        p.run(&["migrate", "status", "shop", "--exit-code"])
            .fails(3);
        p.run(&["migrate", "latest", "shop"]).ok();
        assert_eq!(p.tracked(), [(S1, 1), (S2, 2), (S3, 3)]);
        assert_eq!(p.app_tables(), strings(&["orders", "roles", "users"]));
    }
}

/// `--dry-run` prints the plan and writes nothing.
fn sqlx_dry_run(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    sqlx_folder(&p);
    let Some(run) = p.sqlx_run() else {
        return;
    };
    run.ok();
    let before = p.snapshot();
    let run = p.adopt("sqlx", &["--dry-run"]).ok();
    for version in [S1, S2] {
        assert!(
            run.stdout().contains(&version.to_string()),
            "the plan names {version}:\n{}",
            run.stdout()
        );
    }
    assert!(!p.has_table(TABLE));
    assert_eq!(before, p.snapshot());
    // And then for real.
    p.adopt("sqlx", &[]).ok();
    assert_eq!(p.tracked(), [(S1, 1), (S2, 2)]);
}

// ---------------------------------------------------------------------------------------
// diesel

/// diesel's `00000000000000_diesel_initial_setup`, as `diesel setup` writes it (PostgreSQL).
const DIESEL_SETUP_UP: &str =
    "-- This file was automatically created by Diesel to setup helper functions
-- and other internal bookkeeping. This file is safe to edit, any future
-- changes will be added to existing projects as new migrations.

CREATE OR REPLACE FUNCTION diesel_manage_updated_at(_tbl regclass) RETURNS VOID AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER set_updated_at BEFORE UPDATE ON %s
                    FOR EACH ROW EXECUTE PROCEDURE diesel_set_updated_at()', _tbl);
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$
BEGIN
    IF (
        NEW IS DISTINCT FROM OLD AND
        NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at
    ) THEN
        NEW.updated_at := current_timestamp;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
";

const DIESEL_SETUP_DOWN: &str =
    "-- This file was automatically created by Diesel to setup helper functions
-- and other internal bookkeeping. This file is safe to edit, any future
-- changes will be added to existing projects as new migrations.

DROP FUNCTION IF EXISTS diesel_manage_updated_at(_tbl regclass);
DROP FUNCTION IF EXISTS diesel_set_updated_at();
";

/// diesel's folders (and on PostgreSQL its initial setup, version 0), run by diesel.
fn diesel_folder(p: &Project) {
    if p.engine() == Engine::Postgres {
        p.diesel_migration(
            "00000000000000",
            "diesel_initial_setup",
            DIESEL_SETUP_UP,
            DIESEL_SETUP_DOWN,
        );
    }
    p.diesel_migration(
        "2018-01-14-171611",
        "create_tables",
        &create_table("users"),
        &drop_table("users"),
    );
    p.diesel_migration(
        "2018-02-01-000000",
        "create_roles",
        &create_table("roles"),
        &drop_table("roles"),
    );
}

/// diesel's folder is dbgen's folder as it is: adopted one batch per row (diesel's version
/// strings read as numbers), a rollback reverts the newest, dbgen carries on.
fn diesel_history_is_adopted(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    diesel_folder(&p);
    p.diesel_run();
    let setup = engine == Engine::Postgres;
    let mut expected = vec![D1.to_string(), D2.to_string()];
    if setup {
        expected.insert(0, "00000000000000".to_string());
    }
    assert_eq!(p.diesel_versions(), expected, "diesel's own record");

    p.adopt("diesel", &[]).ok();
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
    let adopted = if setup {
        vec![(0, 1), (D1, 2), (D2, 3)]
    } else {
        vec![(D1, 1), (D2, 2)]
    };
    assert_eq!(p.tracked(), adopted, "one batch per diesel row");

    p.run(&["migrate", "rollback", "shop"]).ok();
    assert_eq!(p.app_tables(), strings(&["users"]), "the newest reverted");
    assert_eq!(p.tracked(), adopted[..adopted.len() - 1]);

    p.diesel_migration(
        "2018-03-01-000000",
        "create_orders",
        &create_table("orders"),
        &drop_table("orders"),
    );
    p.run(&["migrate", "latest", "shop"]).ok();
    assert_eq!(p.app_tables(), strings(&["orders", "roles", "users"]));
    let batch = adopted.len() as i64;
    let versions: Vec<(i64, i64)> = p.tracked();
    assert_eq!(versions[versions.len() - 2..], [(D2, batch), (D3, batch)]);
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
    assert_eq!(
        p.diesel_versions(),
        expected,
        "diesel's rows are left alone"
    );
}

/// `--drop-old-table` removes `__diesel_schema_migrations`.
fn diesel_drop_old_table(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    diesel_folder(&p);
    p.diesel_run();
    p.adopt("diesel", &["--drop-old-table"]).ok();
    assert!(
        !p.has_table("__diesel_schema_migrations"),
        "{:?}",
        p.db.tables()
    );
    assert!(p.tracked().iter().any(|(v, _)| *v == D2));
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
}

/// A diesel row without its folder is refused, naming it; `--skip-unknown` leaves it out.
fn diesel_unknown_rows(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    diesel_folder(&p);
    p.diesel_run();
    std::fs::remove_dir_all(p.migrations().join("2018-02-01-000000_create_roles"))
        .expect("remove a folder");
    p.refused("diesel", &[], &[&D2.to_string()]);
    p.adopt("diesel", &["--skip-unknown"]).ok();
    assert!(p.tracked().iter().any(|(v, _)| *v == D1));
    assert!(!p.tracked().iter().any(|(v, _)| *v == D2));
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
}

// ---------------------------------------------------------------------------------------
// baseline

/// `baseline --to V` records every migration up to V unrun, one batch each; `latest` runs
/// the rest; a second baseline is refused.
fn baseline_records_without_running(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    // The schema is there already (made by hand): running 1 or 2 would fail.
    p.db.execute(&format!(
        "{}{}",
        create_table("users"),
        create_table("roles")
    ));
    p.table_migration(1, "create_users", "users");
    p.table_migration(2, "create_roles", "roles");
    p.table_migration(3, "create_orders", "orders");

    p.run(&["migrate", "baseline", "shop", "--to", "2"]).ok();
    assert_eq!(p.tracked(), [(1, 1), (2, 2)]);
    assert_eq!(p.app_tables(), strings(&["roles", "users"]));
    p.run(&["migrate", "status", "shop", "--exit-code"])
        .fails(3);

    let run = p
        .run(&["migrate", "baseline", "shop", "--to", "3"])
        .fails(1);
    assert!(!run.stderr().is_empty());
    assert_eq!(
        p.tracked(),
        [(1, 1), (2, 2)],
        "a second baseline changes nothing"
    );
    assert!(!p.has_table("orders"));

    p.run(&["migrate", "latest", "shop"]).ok();
    assert_eq!(p.tracked(), [(1, 1), (2, 2), (3, 3)]);
    assert_eq!(p.app_tables(), strings(&["orders", "roles", "users"]));
    p.run(&["migrate", "status", "shop", "--exit-code"]).ok();
}

// ---------------------------------------------------------------------------------------
// What a user moving over gets wrong

/// `latest` (and `baseline`) before `adopt` would run again what sqlx applied: refused,
/// naming the adopt command, with nothing run. A wrong `--from` names the table that is
/// there; a `--table` that is not the tool's says so; a reset database is not adopted.
fn mistakes_before_and_after_adopting(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    sqlx_folder(&p);
    let Some(run) = p.sqlx_run() else {
        return;
    };
    run.ok();
    let before = p.snapshot();
    for args in [
        vec!["migrate", "latest", "shop"],
        vec!["migrate", "latest", "shop", "--dry-run"],
        vec!["migrate", "baseline", "shop", "--to", &*S2.to_string()],
    ] {
        let run = p.run(&args).fails(1);
        assert!(
            run.stderr()
                .contains("take it over with `dbgen migrate adopt shop --from sqlx`"),
            "{}",
            run.stderr()
        );
    }
    assert_eq!(p.snapshot(), before, "nothing ran");
    let status = p.run(&["migrate", "status", "shop"]).ok();
    assert!(
        status
            .stdout()
            .contains("note: sqlx's history is here (2 rows in `_sqlx_migrations`): `dbgen migrate adopt shop --from sqlx` takes it over"),
        "{}",
        status.stdout()
    );

    p.refused("knex", &[], &["_sqlx_migrations (2 rows): use --from sqlx"]);
    p.refused(
        "sqlx",
        &["--table", "users"],
        &["`users` is not sqlx's history table", "--table"],
    );
    let run = p.adopt("knex", &["--accept-edited"]).fails(2);
    assert!(
        run.stderr().contains("sqlx's history only"),
        "{}",
        run.stderr()
    );

    p.adopt("sqlx", &[]).ok();
    // What `reset` leaves: dbgen's table, empty.
    p.db.execute(&format!("DELETE FROM {TABLE}"));
    p.refused("sqlx", &[], &["dbgen has run on this database before"]);
}

/// Two knex rows that one ported version would match (a port that renumbered one file) are
/// refused, naming both, rather than merged.
fn knex_rows_sharing_a_version_are_refused(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.knex_migration(K1, "a", "a");
    p.knex_migration(K1, "b", "b");
    let Some(run) = p.knex("migrate:latest") else {
        return;
    };
    run.ok();
    p.table_migration(K1, "a", "a");
    p.table_migration(K2, "b", "b");
    p.refused(
        "knex",
        &[],
        &[&format!("{K1}_a.js and {K1}_b.js (both version {K1})")],
    );
}

/// Recording a history runs no script, so it needs no placeholder values; a table that
/// cannot be dropped adopts nothing where DDL is transactional.
fn adopt_needs_no_placeholders_and_a_failed_drop_adopts_nothing(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    write(
        p.root(),
        "database/shop/database.toml",
        &format!(
            "driver = \"{}\"\n\n[placeholders]\nsecret = {{ env = \"SHOP_UNSET_SECRET\" }}\n",
            engine.driver()
        ),
    );
    p.file(
        &format!("{S1}_create_users.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, note VARCHAR(20) DEFAULT '${secret}');\n",
    );
    let Some(run) = p.sqlx_run() else {
        return;
    };
    run.ok();
    // A view on sqlx's table: dropping it fails.
    p.db.execute("CREATE VIEW sqlx_view AS SELECT version FROM _sqlx_migrations");
    let run = p.adopt("sqlx", &["--drop-old-table"]).fails(1);
    assert!(
        run.stderr().contains("_sqlx_migrations"),
        "{}",
        run.stderr()
    );
    assert!(p.tracked().is_empty(), "the failed drop adopted nothing");
    p.adopt("sqlx", &[]).ok();
    assert_eq!(p.tracked(), [(S1, 1)]);
}

/// knex's lock row set (a knex run in progress, or one that died) stops adoption.
fn knex_lock_held_is_refused(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.knex_and_port(K1, "initial_schema", "users");
    let Some(run) = p.knex("migrate:latest") else {
        return;
    };
    run.ok();
    p.db.execute("UPDATE knex_migrations_lock SET is_locked = 1");
    p.refused("knex", &[], &["knex holds its lock", "migrate:unlock"]);
    p.db.execute("UPDATE knex_migrations_lock SET is_locked = 0");
    p.adopt("knex", &[]).ok();
}

macro_rules! tests_on {
    ($engine:ident: $($test:ident),* $(,)?) => {
        $( #[test] fn $test() { super::$test(super::Engine::$engine) } )*
    };
}

mod postgres {
    tests_on!(Postgres:
        knex_history_is_adopted_with_its_batches,
        knex_unknown_rows_are_refused_or_skipped,
        knex_unapplied_migrations,
        knex_drop_old_table,
        knex_other_table_name,
        sqlx_history_is_adopted,
        sqlx_edited_file,
        sqlx_failed_row,
        sqlx_dry_run,
        diesel_history_is_adopted,
        diesel_drop_old_table,
        diesel_unknown_rows,
        baseline_records_without_running,
        mistakes_before_and_after_adopting,
        knex_lock_held_is_refused,
        knex_rows_sharing_a_version_are_refused,
        adopt_needs_no_placeholders_and_a_failed_drop_adopts_nothing,
    );
}

mod mysql {
    tests_on!(Mysql:
        knex_history_is_adopted_with_its_batches,
        knex_unknown_rows_are_refused_or_skipped,
        sqlx_failed_row,
        baseline_records_without_running,
        knex_lock_held_is_refused,
    );
}

mod sqlite {
    tests_on!(Sqlite:
        knex_history_is_adopted_with_its_batches,
        knex_unapplied_migrations,
        knex_drop_old_table,
        sqlx_history_is_adopted,
        sqlx_edited_file,
        sqlx_dry_run,
        diesel_history_is_adopted,
        diesel_drop_old_table,
        diesel_unknown_rows,
        baseline_records_without_running,
        mistakes_before_and_after_adopting,
    );
}
