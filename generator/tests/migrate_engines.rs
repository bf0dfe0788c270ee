//! `dbgen migrate` / `seed run` end to end, through the real binary, on a fresh database per
//! test on PostgreSQL, MariaDB/MySQL and SQLite. Assertions read the database's catalog and
//! the tracking table, not dbgen's own output alone.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use dbgen_testkit::{Engine, TestDb, write};
use tempfile::TempDir;

const TABLE: &str = "dbgen_migrations";

struct Project {
    dir: TempDir,
    db: TestDb,
}

impl Project {
    /// A project with one database `app` on `engine`, or `None` when the server is skipped.
    fn new(engine: Engine) -> Option<Self> {
        let db = TestDb::create(engine)?;
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "dbgen.toml", "");
        write(
            dir.path(),
            "database/app/database.toml",
            &format!("driver = \"{}\"\n", engine.driver()),
        );
        Some(Self { dir, db })
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Adds `<version>_<name>.up.sql` (and `.down.sql` when given).
    fn migration(&self, version: i64, name: &str, up: &str, down: Option<&str>) {
        let base = format!("database/app/migrations/{version}_{name}");
        write(self.root(), &format!("{base}.up.sql"), up);
        if let Some(down) = down {
            write(self.root(), &format!("{base}.down.sql"), down);
        }
    }

    /// A migration creating table `t<version>`, reversible.
    fn table_migration(&self, version: i64) {
        self.migration(
            version,
            &format!("create_t{version}"),
            &format!("CREATE TABLE t{version} (id INTEGER PRIMARY KEY, label VARCHAR(50));\n"),
            Some(&format!("DROP TABLE t{version};\n")),
        );
    }

    fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("dbgen").expect("the dbgen binary");
        cmd.current_dir(self.root())
            .env("APP_DB_URL", &self.db.url)
            .env("NO_COLOR", "1")
            .env_remove("APP_DB_HOST")
            .env_remove("APP_DB_NAME");
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run(self.command().args(args).output().expect("run dbgen"))
    }

    fn versions(&self) -> Vec<(i64, i64)> {
        self.db.tracking_rows(TABLE)
    }

    fn user_tables(&self) -> Vec<String> {
        self.db
            .tables()
            .into_iter()
            .filter(|t| t != TABLE)
            .collect()
    }
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
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
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn latest_rollback_reset(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    for v in 1..=3 {
        p.table_migration(v);
    }
    let run = p.run(&["migrate", "latest", "app"]).ok();
    assert!(
        run.stdout().contains("app: batch 1 applied: 3 migrations"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("applied 1_create_t1"),
        "{}",
        run.stdout()
    );
    assert_eq!(p.user_tables(), strings(&["t1", "t2", "t3"]));
    assert_eq!(p.versions(), [(1, 1), (2, 1), (3, 1)]);

    let run = p.run(&["migrate", "latest", "app"]).ok();
    assert!(
        run.stdout().contains("app: already up to date"),
        "{}",
        run.stdout()
    );

    p.table_migration(4);
    p.table_migration(5);
    p.run(&["migrate", "latest", "app"]).ok();
    assert_eq!(p.versions(), [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)]);

    let run = p.run(&["migrate", "rollback", "app"]).ok();
    assert!(
        run.stdout().contains("reverted 5_create_t5"),
        "{}",
        run.stdout()
    );
    let (five, four) = (
        run.stdout().find("5_create_t5"),
        run.stdout().find("4_create_t4"),
    );
    assert!(five < four, "newest first: {}", run.stdout());
    assert_eq!(p.user_tables(), strings(&["t1", "t2", "t3"]));
    assert_eq!(p.versions(), [(1, 1), (2, 1), (3, 1)]);

    p.run(&["migrate", "latest", "app", "--to", "4"]).ok();
    assert_eq!(p.versions(), [(1, 1), (2, 1), (3, 1), (4, 2)]);
    p.run(&["migrate", "rollback", "app", "--to", "1"]).ok();
    assert_eq!(p.versions(), [(1, 1)]);

    let run = p.run(&["migrate", "reset", "app"]).ok();
    assert!(
        run.stdout().contains("rolled back 1 migration"),
        "{}",
        run.stdout()
    );
    assert!(p.user_tables().is_empty());
    assert!(p.versions().is_empty());
    let run = p.run(&["migrate", "rollback", "app"]).ok();
    assert!(
        run.stdout().contains("nothing to roll back"),
        "{}",
        run.stdout()
    );

    p.run(&["migrate", "latest", "app"]).ok();
    assert_eq!(p.user_tables(), strings(&["t1", "t2", "t3", "t4", "t5"]));
}

fn up_and_down(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    for v in 1..=3 {
        p.table_migration(v);
    }
    p.run(&["migrate", "up", "app"]).ok();
    assert_eq!(p.versions(), [(1, 1)]);
    p.run(&["migrate", "up", "app", "--migration", "3"]).ok();
    assert_eq!(p.versions(), [(1, 1), (3, 2)]);
    p.run(&["migrate", "down", "app"]).ok();
    assert_eq!(p.versions(), [(1, 1)]);
    assert_eq!(p.user_tables(), strings(&["t1"]));
    let run = p
        .run(&["migrate", "down", "app", "--migration", "2"])
        .fails(1);
    assert!(
        run.stderr().contains("migration 2 is not applied"),
        "{}",
        run.stderr()
    );
}

fn status_reports_and_gates(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.table_migration(2);
    let run = p.run(&["migrate", "status", "app"]).ok();
    assert!(run.stdout().contains("pending"), "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("NOT up to date (0 applied, 2 pending)"),
        "{}",
        run.stdout()
    );
    p.run(&["migrate", "status", "app", "--exit-code"]).fails(3);
    assert!(p.db.tables().is_empty(), "status creates nothing");

    p.run(&["migrate", "up", "app"]).ok();
    let run = p.run(&["migrate", "list", "app", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).expect("JSON status");
    let migrations = &json[0]["migrations"];
    assert_eq!(json[0]["database"], "app");
    assert_eq!(migrations[0]["state"], "applied");
    assert_eq!(migrations[0]["batch"], 1);
    assert_eq!(migrations[1]["state"], "pending");
    assert_eq!(json[0]["up_to_date"], false);

    p.run(&["migrate", "latest", "app"]).ok();
    p.run(&["migrate", "status", "app", "--exit-code"]).ok();
}

fn failing_migration_names_file_and_leaves_nothing(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.migration(
        2,
        "broken",
        "CREATE TABLE t2 (id INTEGER PRIMARY KEY);\nCREATE TABLEX oops (id INTEGER);\n",
        Some("DROP TABLE t2;"),
    );
    let run = p.run(&["migrate", "latest", "app"]).fails(1);
    let err = run.stderr();
    assert!(
        err.contains("app: error: database/app/migrations/2_broken.up.sql"),
        "{err}"
    );
    assert!(
        err.to_lowercase().contains("syntax"),
        "the driver's message: {err}"
    );
    match engine {
        Engine::Postgres | Engine::Sqlite => {
            if engine == Engine::Postgres {
                assert!(
                    err.contains("2_broken.up.sql:2:8"),
                    "line and column: {err}"
                );
            }
            assert!(err.contains("nothing of this run remains"), "{err}");
            assert!(
                p.user_tables().is_empty(),
                "the batch rolled back: {:?}",
                p.db.tables()
            );
            assert!(p.versions().is_empty());
        }
        Engine::Mysql => {
            // DDL commits implicitly: t2 stands, so 2 is recorded as interrupted, and the
            // error says what took effect and how to resolve it.
            assert!(err.contains("1 statement of it took effect"), "{err}");
            // The server numbers lines within the failing statement; the file's line is given.
            assert!(
                err.contains("2_broken.up.sql:2:1"),
                "line in the file: {err}"
            );
            assert!(err.contains("migrate resolve app 2 --reverted"), "{err}");
            assert!(!err.contains("nothing of this run remains"), "{err}");
            assert_eq!(p.versions(), [(1, 1), (2, 1)]);
            assert!(p.user_tables().contains(&"t2".to_string()));
            let status = p.run(&["migrate", "status", "app"]).ok();
            assert!(
                status.stdout().contains("interrupted"),
                "{}",
                status.stdout()
            );
        }
    }
}

fn modified_and_missing_are_refused(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.table_migration(2);
    p.run(&["migrate", "latest", "app"]).ok();
    let up = p.root().join("database/app/migrations/1_create_t1.up.sql");
    let original = std::fs::read_to_string(&up).unwrap();

    // Line endings alone are not an edit.
    std::fs::write(&up, original.replace('\n', "\r\n")).unwrap();
    p.run(&["migrate", "latest", "app"]).ok();
    p.run(&["migrate", "status", "app", "--exit-code"]).ok();

    std::fs::write(
        &up,
        original.replace("label VARCHAR(50)", "label VARCHAR(99)"),
    )
    .unwrap();
    p.table_migration(3);
    let run = p.run(&["migrate", "latest", "app"]).fails(1);
    assert!(
        run.stderr()
            .contains("1_create_t1 was changed after it was applied"),
        "{}",
        run.stderr()
    );
    assert_eq!(p.versions().len(), 2, "nothing ran");
    let run = p.run(&["migrate", "status", "app", "--exit-code"]).fails(3);
    assert!(run.stdout().contains("modified"), "{}", run.stdout());
    p.run(&["migrate", "rollback", "app"]).fails(1);

    std::fs::write(&up, &original).unwrap();
    std::fs::remove_file(&up).unwrap();
    std::fs::remove_file(
        p.root()
            .join("database/app/migrations/1_create_t1.down.sql"),
    )
    .unwrap();
    let run = p.run(&["migrate", "latest", "app"]).fails(1);
    assert!(
        run.stderr()
            .contains("1_create_t1 is applied but its file is gone"),
        "{}",
        run.stderr()
    );
    let run = p.run(&["migrate", "status", "app", "--exit-code"]).fails(3);
    assert!(run.stdout().contains("missing"), "{}", run.stdout());
}

fn ahead_is_not_missing(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    for v in 1..=3 {
        p.table_migration(v);
    }
    p.run(&["migrate", "latest", "app"]).ok();
    // An older release: it does not know migration 3.
    for side in ["up", "down"] {
        std::fs::remove_file(
            p.root()
                .join(format!("database/app/migrations/3_create_t3.{side}.sql")),
        )
        .unwrap();
    }
    let run = p.run(&["migrate", "latest", "app"]).ok();
    assert!(
        run.stdout().contains("already up to date"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("1 newer migration"),
        "{}",
        run.stdout()
    );
    let run = p.run(&["migrate", "status", "app", "--exit-code"]).ok();
    assert!(run.stdout().contains("ahead"), "{}", run.stdout());
    let run = p.run(&["migrate", "rollback", "app"]).fails(1);
    assert!(run.stderr().contains("newer release"), "{}", run.stderr());
    assert_eq!(p.versions().len(), 3, "nothing was reverted");
}

fn out_of_order_warns_and_strict_refuses(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.table_migration(3);
    p.run(&["migrate", "latest", "app"]).ok();
    p.table_migration(2);
    let run = p.run(&["migrate", "latest", "app", "--strict"]).fails(1);
    assert!(run.stderr().contains("2_create_t2"), "{}", run.stderr());
    assert_eq!(p.versions().len(), 2);
    let run = p.run(&["migrate", "latest", "app"]).ok();
    assert!(
        run.stderr()
            .contains("warning: applying 2_create_t2 out of order"),
        "{}",
        run.stderr()
    );
    assert_eq!(p.versions(), [(1, 1), (2, 2), (3, 1)]);
}

fn irreversible_stops_rollback(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.migration(
        2,
        "one_way",
        "CREATE TABLE t2 (id INTEGER PRIMARY KEY);",
        None,
    );
    p.table_migration(3);
    p.run(&["migrate", "latest", "app"]).ok();
    let run = p.run(&["migrate", "rollback", "app"]).fails(1);
    assert!(
        run.stderr().contains("2_one_way: irreversible"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        p.user_tables(),
        strings(&["t1", "t2", "t3"]),
        "nothing was reverted"
    );
    assert_eq!(p.versions().len(), 3);
}

/// Down scripts are read when a rollback needs them, all of them before the first runs.
fn unreadable_down_script_stops_rollback_before_anything(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    for version in 1..=3 {
        p.table_migration(version);
    }
    p.run(&["migrate", "latest", "app"]).ok();
    let down = p
        .root()
        .join("database/app/migrations/2_create_t2.down.sql");
    std::fs::write(&down, b"DROP TABLE t2; -- \xff\n").unwrap();
    let run = p.run(&["migrate", "reset", "app"]).fails(1);
    assert!(
        run.stderr()
            .contains("database/app/migrations/2_create_t2.down.sql: the file is not valid UTF-8"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        p.user_tables(),
        strings(&["t1", "t2", "t3"]),
        "t3, reverted first, is still there"
    );
    assert_eq!(p.versions().len(), 3);

    std::fs::write(&down, "DROP TABLE t2;\n").unwrap();
    p.run(&["migrate", "reset", "app"]).ok();
    assert!(p.user_tables().is_empty());
}

fn seeds_run_in_order(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.migration(
        1,
        "people",
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(50));",
        Some("DROP TABLE people;"),
    );
    write(
        p.root(),
        "database/app/seeds/02_bob.sql",
        "INSERT INTO people (id, name) VALUES (2, 'bob');",
    );
    write(
        p.root(),
        "database/app/seeds/01_alice.sql",
        "INSERT INTO people (id, name) VALUES (1, 'alice');",
    );
    p.run(&["migrate", "latest", "app"]).ok();
    let run = p.run(&["seed", "run", "app"]).ok();
    let out = run.stdout();
    assert!(out.find("01_alice.sql") < out.find("02_bob.sql"), "{out}");
    assert!(out.contains("app: ran 2 seeds"), "{out}");
    assert_eq!(p.db.count("SELECT COUNT(*) FROM people"), 2);

    p.db.execute("DELETE FROM people");
    p.run(&["seed", "run", "app", "--specific", "02_bob"]).ok();
    assert_eq!(p.db.count("SELECT COUNT(*) FROM people"), 1);
    let run = p
        .run(&["seed", "run", "app", "--specific", "nope"])
        .fails(2);
    assert!(
        run.stderr()
            .contains("no seed named `nope`; seeds: 01_alice, 02_bob"),
        "{}",
        run.stderr()
    );

    write(
        p.root(),
        "database/app/seeds/03_bad.sql",
        "INSERT INTO nowhere VALUES (1);",
    );
    p.db.execute("DELETE FROM people");
    let run = p.run(&["seed", "run", "app"]).fails(1);
    assert!(
        run.stderr().contains("database/app/seeds/03_bad.sql"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        p.db.count("SELECT COUNT(*) FROM people"),
        2,
        "earlier seeds remain"
    );
}

fn dry_run_changes_nothing(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    let run = p.run(&["migrate", "latest", "app", "--dry-run"]).ok();
    assert!(
        run.stdout().contains("-- 1_create_t1 (up)"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("CREATE TABLE t1"), "{}", run.stdout());
    assert!(p.db.tables().is_empty());
    if let Some(path) = p.db.sqlite_path() {
        assert!(!path.exists(), "a dry run creates no SQLite file");
    }
    for args in [["migrate", "rollback", "app"], ["migrate", "reset", "app"]] {
        let run = p.run(&args).ok();
        assert!(
            run.stdout().contains("nothing to roll back"),
            "{}",
            run.stdout()
        );
    }
    if let Some(path) = p.db.sqlite_path() {
        assert!(
            !path.exists(),
            "rolling back an absent SQLite database creates no file"
        );
    }
    p.run(&["migrate", "latest", "app"]).ok();
    let run = p.run(&["migrate", "rollback", "app", "--dry-run"]).ok();
    assert!(run.stdout().contains("DROP TABLE t1"), "{}", run.stdout());
    assert_eq!(p.user_tables(), strings(&["t1"]));
}

fn concurrent_runners_apply_each_migration_once(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    for v in 1..=30 {
        p.table_migration(v);
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("dbgen"))
                .args(["migrate", "latest", "app"])
                .current_dir(p.root())
                .env("APP_DB_URL", &p.db.url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn dbgen")
        })
        .collect();
    let mut applied_batches = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
        if stdout.contains("batch 1 applied: 30 migrations") {
            applied_batches += 1;
        } else {
            assert!(stdout.contains("already up to date"), "{stdout}");
        }
    }
    assert_eq!(applied_batches, 1, "exactly one runner applied the batch");
    let rows = p.versions();
    assert_eq!(rows.len(), 30);
    assert!(rows.iter().all(|(_, batch)| *batch == 1));
    assert_eq!(p.user_tables().len(), 30);
}

/// A migration that keeps the runner busy past the moment the test kills it. On a server
/// the session lives on (and keeps its lock) until the sleep ends, so it stays short there.
fn slow_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "SELECT pg_sleep(4);",
        Engine::Mysql => "SELECT SLEEP(4);",
        // SQLite has no sleep and dies with the process: count far enough to take many
        // seconds on a fast machine (6 million took only 1.3 s in a debug build).
        Engine::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500000000) SELECT COUNT(*) FROM c;"
        }
    }
}

/// Starts `migrate latest app`, and kills it with SIGKILL 1.5 s later, while it runs.
fn kill_latest_while_it_runs(p: &Project, still_running: &str) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dbgen"))
        .args(["migrate", "latest", "app"])
        .current_dir(p.root())
        .env("APP_DB_URL", &p.db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn dbgen");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(child.try_wait().expect("poll").is_none(), "{still_running}");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

fn killed_runner_leaves_no_lock_and_nothing_half_applied(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.migration(2, "slow", slow_sql(engine), Some("SELECT 1;"));
    p.table_migration(3);
    kill_latest_while_it_runs(&p, "the runner should still be in the slow migration");

    match engine {
        Engine::Postgres | Engine::Sqlite => {
            assert!(
                p.user_tables().is_empty(),
                "the batch's transaction died with the runner"
            );
            assert!(p.versions().is_empty());
        }
        // Each migration commits alone: the first one stands, recorded; the slow one was
        // recorded as started, so it shows as interrupted until resolved (it changed nothing).
        Engine::Mysql => {
            assert_eq!(p.versions(), [(1, 1), (2, 1)]);
            // The server runs the dead runner's SLEEP to its end, holding its lock: the
            // migration shows as running until then, and as interrupted after.
            let mut status = p.run(&["migrate", "status", "app"]).ok();
            for _ in 0..100 {
                if !status.stdout().contains("running") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
                status = p.run(&["migrate", "status", "app"]).ok();
            }
            assert!(
                status.stdout().contains("interrupted"),
                "{}",
                status.stdout()
            );
            p.run(&["migrate", "resolve", "app", "2", "--reverted"])
                .ok();
        }
    }
    // Never applied, so it may change: the rerun need not wait for the slow script.
    p.migration(2, "slow", "SELECT 1;", Some("SELECT 1;"));
    let run = p
        .command()
        .args(["migrate", "latest", "app", "--lock-timeout", "20"])
        .output()
        .expect("run");
    let run = Run(run).ok();
    assert!(
        run.stdout().contains("applied 3_create_t3"),
        "{}",
        run.stdout()
    );
    assert_eq!(p.versions().len(), 3);
}

fn two_databases_share_one_server_database(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    write(
        p.root(),
        "database/app/database.toml",
        &format!(
            "driver = \"{}\"\nmigrations_table = \"app_migrations\"\n",
            engine.driver()
        ),
    );
    write(
        p.root(),
        "database/other/database.toml",
        &format!(
            "driver = \"{}\"\nmigrations_table = \"other_migrations\"\n",
            engine.driver()
        ),
    );
    p.table_migration(1);
    write(
        p.root(),
        "database/other/migrations/1_other.up.sql",
        "CREATE TABLE other_t (id INTEGER PRIMARY KEY);",
    );
    let run = p
        .command()
        .env("OTHER_DB_URL", &p.db.url)
        .args(["migrate", "latest", "--all"])
        .output()
        .expect("run");
    let run = Run(run).ok();
    assert!(
        run.stdout().contains("2 databases: 2 ok"),
        "{}",
        run.stdout()
    );
    assert_eq!(p.db.tracking_rows("app_migrations"), [(1, 1)]);
    assert_eq!(p.db.tracking_rows("other_migrations"), [(1, 1)]);
    let mut tables = p.db.tables();
    tables.sort();
    assert_eq!(
        tables,
        strings(&["app_migrations", "other_migrations", "other_t", "t1"])
    );
}

/// A statement that cannot run inside a transaction on this engine (or, on MySQL, any DDL).
fn outside_transaction_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "-- dbgen:no-transaction\nCREATE INDEX CONCURRENTLY t1_label ON t1 (label);\n"
        }
        Engine::Mysql => "-- dbgen:no-transaction\nCREATE INDEX t1_label ON t1 (label);\n",
        Engine::Sqlite => "-- dbgen:no-transaction\nVACUUM;\n",
    }
}

fn no_transaction_migration_splits_the_batch(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.migration(
        2,
        "outside",
        outside_transaction_sql(engine),
        Some("SELECT 1;"),
    );
    p.table_migration(3);
    p.migration(4, "broken", "CREATE TABLEX oops (id INTEGER);", None);
    let run = p.run(&["migrate", "latest", "app"]).fails(1);
    assert!(run.stderr().contains("4_broken.up.sql"), "{}", run.stderr());
    if engine != Engine::Mysql {
        // 1 and 2 committed before 3 and 4 began their own transaction, which rolled back.
        assert!(
            run.stderr().contains("2 migrations committed before it"),
            "{}",
            run.stderr()
        );
    }
    let committed: &[(i64, i64)] = match engine {
        Engine::Mysql => &[(1, 1), (2, 1), (3, 1)],
        _ => &[(1, 1), (2, 1)],
    };
    assert_eq!(p.versions(), committed);

    std::fs::remove_file(p.root().join("database/app/migrations/4_broken.up.sql")).unwrap();
    p.run(&["migrate", "latest", "app"]).ok();
    let after_retry = match engine {
        Engine::Mysql => [(1, 1), (2, 1), (3, 1)],
        _ => [(1, 1), (2, 1), (3, 2)],
    };
    assert_eq!(p.versions(), after_retry);
    let times = p.db.query_strings(&format!(
        "SELECT CAST(execution_ms AS CHAR(20)) FROM {TABLE}"
    ));
    for t in times {
        let ms: i64 = t[0]
            .as_deref()
            .unwrap_or("x")
            .trim()
            .parse()
            .expect("execution_ms");
        assert!((0..60_000).contains(&ms), "execution time {ms} ms");
    }
}

fn empty_scripts_are_recorded_no_ops(engine: Engine) {
    let Some(p) = Project::new(engine) else {
        return;
    };
    p.table_migration(1);
    p.migration(2, "nothing", "", Some("  \n\t\n"));
    p.migration(3, "comments", "-- only a comment\n\n", Some(""));
    write(p.root(), "database/app/seeds/01_empty.sql", "\n");
    let run = p.run(&["migrate", "latest", "app"]).ok();
    assert!(run.stdout().contains("3 migrations"), "{}", run.stdout());
    assert_eq!(p.versions(), [(1, 1), (2, 1), (3, 1)]);
    p.run(&["seed", "run", "app"]).ok();
    p.run(&["migrate", "rollback", "app"]).ok();
    assert!(p.versions().is_empty());
    assert!(p.user_tables().is_empty(), "{:?}", p.user_tables());
}

/// `INSERT` statements adding up to `bytes`, for a table `big`.
fn large_script(bytes: usize) -> String {
    let row = "INSERT INTO big (id, label) VALUES (1, 'a row of a large seed script, long enough to count');\n";
    let mut sql = String::from("CREATE TABLE big (id INTEGER, label VARCHAR(100));\n");
    sql.push_str(&row.repeat(bytes / row.len() + 1));
    sql
}

#[test]
fn sqlite_runs_a_16_mib_script() {
    let Some(p) = Project::new(Engine::Sqlite) else {
        return;
    };
    let sql = large_script(16 << 20);
    let rows = sql.matches("INSERT").count() as i64;
    p.migration(1, "big", &sql, Some("DROP TABLE big;"));
    // Time is measured by the benchmark; here it must finish (quadratic time took 31 s).
    p.run(&["migrate", "latest", "app"]).ok();
    assert_eq!(p.db.count("SELECT COUNT(*) FROM big"), rows);
}

#[test]
fn mariadb_refuses_a_script_over_max_allowed_packet() {
    let Some(p) = Project::new(Engine::Mysql) else {
        return;
    };
    let limit = p.db.count("SELECT CAST(@@max_allowed_packet AS SIGNED)") as usize;
    p.table_migration(1);
    p.migration(2, "big", &large_script(limit + 1024), None);
    let run = p.run(&["migrate", "latest", "app"]).fails(1);
    let err = run.stderr();
    assert!(
        err.contains("2_big.up.sql")
            && err.contains("max_allowed_packet")
            && err.contains(&limit.to_string()),
        "{err}"
    );
    // Refused before it was sent: migration 1 stands, 2 is not applied, no table `big`.
    assert_eq!(p.versions(), [(1, 1)]);
    assert!(!p.user_tables().contains(&"big".to_string()));
}

#[test]
fn postgres_a_killed_runner_releases_its_lock_mid_statement() {
    let Some(p) = Project::new(Engine::Postgres) else {
        return;
    };
    p.migration(1, "slow", "SELECT pg_sleep(15);", Some("SELECT 1;"));
    kill_latest_while_it_runs(&p, "still in pg_sleep");
    // The server notices the dead client within a second or two and ends the session.
    p.migration(1, "slow", "SELECT 1;", Some("SELECT 1;"));
    let started = std::time::Instant::now();
    p.run(&["migrate", "latest", "app", "--lock-timeout", "30"])
        .ok();
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(5),
        "waited {waited:?} for the lock"
    );
    assert_eq!(p.versions(), [(1, 1)]);
}

macro_rules! on_every_engine {
    ($($test:ident),* $(,)?) => {
        mod postgres { $( #[test] fn $test() { super::$test(super::Engine::Postgres) } )* }
        mod mysql { $( #[test] fn $test() { super::$test(super::Engine::Mysql) } )* }
        mod sqlite { $( #[test] fn $test() { super::$test(super::Engine::Sqlite) } )* }
    };
}

on_every_engine!(
    latest_rollback_reset,
    up_and_down,
    status_reports_and_gates,
    failing_migration_names_file_and_leaves_nothing,
    modified_and_missing_are_refused,
    ahead_is_not_missing,
    out_of_order_warns_and_strict_refuses,
    irreversible_stops_rollback,
    unreadable_down_script_stops_rollback_before_anything,
    seeds_run_in_order,
    dry_run_changes_nothing,
    concurrent_runners_apply_each_migration_once,
    killed_runner_leaves_no_lock_and_nothing_half_applied,
    two_databases_share_one_server_database,
    no_transaction_migration_splits_the_batch,
    empty_scripts_are_recorded_no_ops,
);
