//! A migration that cannot be rolled back (any migration on MariaDB, a no-transaction one on
//! PostgreSQL) is recorded before it runs: a failure halfway or a runner killed with SIGKILL
//! leaves a state `status` explains (`interrupted`), `latest` refuses with the commands that
//! resolve it, and after `migrate resolve` the next `latest` completes.

use std::path::Path;
use std::process::{Command as Process, Output, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use dbgen_testkit::{Engine, TestDb, write};
use tempfile::TempDir;

struct Project {
    dir: TempDir,
    db: TestDb,
}

impl Project {
    fn new(engine: Engine) -> Option<Self> {
        let db = TestDb::create(engine)?;
        let dir = tempfile::tempdir().unwrap();
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

    fn migration(&self, version: i64, up: &str, down: Option<&str>) {
        let base = format!("database/app/migrations/{version}_m{version}");
        write(self.root(), &format!("{base}.up.sql"), up);
        if let Some(down) = down {
            write(self.root(), &format!("{base}.down.sql"), down);
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::cargo_bin("dbgen")
            .unwrap()
            .current_dir(self.root())
            .env("APP_DB_URL", &self.db.url)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs; asserts the exit code; returns stdout and stderr together.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "{args:?}:\n{text}");
        text
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Process::new(assert_cmd::cargo::cargo_bin("dbgen"))
            .current_dir(self.root())
            .env("APP_DB_URL", &self.db.url)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// (version, execution_ms) of every tracking row.
    fn rows(&self) -> Vec<(i64, i64)> {
        if !self.db.tables().iter().any(|t| t == "dbgen_migrations") {
            return Vec::new();
        }
        self.db
            .query_strings(
                "SELECT CAST(version AS CHAR(20)), CAST(execution_ms AS CHAR(20)) FROM dbgen_migrations ORDER BY version",
            )
            .into_iter()
            .map(|r| {
                let n = |i: usize| r[i].as_deref().unwrap().trim().parse::<i64>().unwrap();
                (n(0), n(1))
            })
            .collect()
    }

    fn has_table(&self, name: &str) -> bool {
        self.db.tables().iter().any(|t| t == name)
    }
}

#[test]
fn mariadb_a_failure_halfway_is_interrupted_until_resolved() {
    let Some(p) = Project::new(Engine::Mysql) else {
        return;
    };
    p.migration(1, "CREATE TABLE t1 (id INT);", Some("DROP TABLE t1;"));
    p.migration(
        2,
        "CREATE TABLE t2 (id INT);\nCREATE TABLE t2 (id INT);\n",
        Some("DROP TABLE t2;"),
    );
    let err = p.expect(&["migrate", "latest", "app"], 1);
    assert!(err.contains("2_m2.up.sql"), "{err}");
    assert!(err.contains("1 statement of it took effect"), "{err}");
    assert!(err.contains("migrate resolve app 2 --reverted"), "{err}");
    assert!(!err.contains("nothing of this run remains"), "{err}");
    assert_eq!(p.rows(), [(1, p.rows()[0].1), (2, -1)]);

    let status = p.expect(&["migrate", "status", "app"], 0);
    assert!(status.contains("interrupted"), "{status}");
    let json = p.expect(&["migrate", "status", "app", "--json"], 0);
    assert!(json.contains("\"state\": \"interrupted\""), "{json}");
    assert!(json.contains("\"interrupted\": 1"), "{json}");
    p.expect(&["migrate", "status", "app", "--exit-code"], 3);

    // Every command that would run past it refuses, saying how to resolve it.
    for args in [
        &["migrate", "latest", "app"][..],
        &["migrate", "rollback", "app"][..],
    ] {
        let err = p.expect(args, 1);
        assert!(err.contains("refusing to run: interrupted"), "{err}");
        assert!(err.contains("migrate resolve app 2 --applied"), "{err}");
    }
    // Only an interrupted migration can be resolved.
    p.expect(&["migrate", "resolve", "app", "1", "--applied"], 1);

    // The operator undoes what took effect and fixes the script.
    p.db.execute("DROP TABLE t2");
    p.migration(2, "CREATE TABLE t2 (id INT);\n", Some("DROP TABLE t2;"));
    let out = p.expect(&["migrate", "resolve", "app", "2", "--reverted"], 0);
    assert!(out.contains("recorded as not applied"), "{out}");
    p.expect(&["migrate", "latest", "app"], 0);
    assert!(p.rows().iter().all(|(_, ms)| *ms >= 0), "{:?}", p.rows());
    assert!(p.has_table("t2"));
    p.expect(&["migrate", "status", "app", "--exit-code"], 0);
}

#[test]
fn mariadb_a_failing_first_statement_leaves_nothing_to_resolve() {
    let Some(p) = Project::new(Engine::Mysql) else {
        return;
    };
    p.migration(
        1,
        "CREATE TABL t1 (id INT);\nCREATE TABLE t1b (id INT);",
        None,
    );
    let err = p.expect(&["migrate", "latest", "app"], 1);
    assert!(
        err.contains("first statement failed, so nothing of it took effect"),
        "{err}"
    );
    assert!(p.rows().is_empty(), "{:?}", p.rows());
    p.migration(1, "CREATE TABLE t1 (id INT);", None);
    p.expect(&["migrate", "latest", "app"], 0);
}

/// Each migration creates one table, then sleeps: a kill lands before, inside or after it.
fn kill_trial_project() -> Option<Project> {
    let p = Project::new(Engine::Mysql)?;
    for v in 1..=8 {
        p.migration(
            v,
            &format!("CREATE TABLE t{v} (id INT);\nSELECT SLEEP(0.08);\n"),
            Some(&format!("DROP TABLE t{v};\nSELECT SLEEP(0.08);\n")),
        );
    }
    Some(p)
}

/// The state a killed runner left: every table has a row, every finished row has its table,
/// and at most one row is interrupted, which `status` shows. Resolves it by what the schema
/// says (each migration has one statement with an effect, so it is all or nothing).
fn explain_and_resolve(p: &Project) -> bool {
    let rows = p.rows();
    let interrupted: Vec<i64> = rows
        .iter()
        .filter(|(_, ms)| *ms < 0)
        .map(|(v, _)| *v)
        .collect();
    assert!(interrupted.len() <= 1, "{rows:?}");
    for v in 1..=8 {
        let row = rows.iter().find(|(r, _)| *r == v);
        let table = p.has_table(&format!("t{v}"));
        match row {
            None => assert!(!table, "t{v} exists without a tracking row: {rows:?}"),
            Some((_, ms)) if *ms >= 0 => assert!(table, "{v} is recorded but t{v} is gone"),
            Some(_) => {}
        }
    }
    // The killed runner's session lives on until the server notices (its statement ends):
    // meanwhile its migration shows as running, which is true.
    let mut status = p.expect(&["migrate", "status", "app"], 0);
    for _ in 0..50 {
        if !status.contains("running") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        status = p.expect(&["migrate", "status", "app"], 0);
    }
    if let Some(v) = interrupted.first() {
        assert!(status.contains("interrupted"), "{status}");
        let done = if p.has_table(&format!("t{v}")) {
            "--applied"
        } else {
            "--reverted"
        };
        p.expect(&["migrate", "resolve", "app", &v.to_string(), done], 0);
        true
    } else {
        assert!(!status.contains("interrupted"), "{status}");
        false
    }
}

#[test]
fn mariadb_twenty_kill_trials_each_end_in_a_state_status_explains() {
    let Some(p) = kill_trial_project() else {
        return;
    };
    let mut interrupted = 0;
    for trial in 0..20u64 {
        // Spread the kills over the whole run: 8 migrations of about 100 ms each.
        let delay = 20 + (trial * 173) % 800;
        let command = if trial % 2 == 0 { "latest" } else { "reset" };
        let mut child = p.spawn(&["migrate", command, "app"]);
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();
        interrupted += usize::from(explain_and_resolve(&p));
        if trial % 2 == 1 {
            // Give the next `latest` trial something to do.
            p.expect(&["migrate", "reset", "app"], 0);
        } else {
            p.expect(&["migrate", "latest", "app"], 0);
        }
    }
    // Most kills land inside a migration (each is mostly its sleep).
    assert!(
        interrupted >= 5,
        "only {interrupted} of 20 trials were interrupted"
    );
    // A clean state at the end: everything applied, as a clean run leaves it.
    p.expect(&["migrate", "latest", "app"], 0);
    let rows = p.rows();
    assert_eq!(rows.len(), 8, "{rows:?}");
    assert!(rows.iter().all(|(_, ms)| *ms >= 0));
    let mut tables = p.db.tables();
    tables.retain(|t| t != "dbgen_migrations");
    assert_eq!(tables, (1..=8).map(|v| format!("t{v}")).collect::<Vec<_>>());
}

/// Whether index `name` exists, and whether it is valid.
fn index_state(db: &TestDb, name: &str) -> Option<bool> {
    db.query_strings(&format!(
        "SELECT CASE WHEN i.indisvalid THEN 'valid' ELSE 'invalid' END FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = '{name}'"
    ))
    .first()
    .map(|row| row[0].as_deref() == Some("valid"))
}

#[test]
fn postgres_a_failed_concurrent_index_build_is_interrupted_until_resolved() {
    let Some(p) = Project::new(Engine::Postgres) else {
        return;
    };
    p.migration(
        1,
        "CREATE TABLE t (v INT);\nINSERT INTO t VALUES (1), (1), (2);",
        None,
    );
    p.migration(
        2,
        "-- dbgen:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY t_v ON t (v);\n",
        None,
    );
    let err = p.expect(&["migrate", "latest", "app"], 1);
    assert!(!err.contains("nothing of this run remains"), "{err}");
    assert!(err.contains("outside any transaction"), "{err}");
    assert!(err.contains("migrate resolve app 2"), "{err}");
    assert_eq!(
        index_state(&p.db, "t_v"),
        Some(false),
        "an invalid index stays"
    );
    let status = p.expect(&["migrate", "status", "app"], 0);
    assert!(status.contains("interrupted"), "{status}");
    let err = p.expect(&["migrate", "latest", "app"], 1);
    assert!(err.contains("refusing to run: interrupted"), "{err}");

    p.db.execute("DROP INDEX t_v");
    p.db.execute("DELETE FROM t WHERE v = 1");
    p.expect(&["migrate", "resolve", "app", "2", "--reverted"], 0);
    p.expect(&["migrate", "latest", "app"], 0);
    assert_eq!(index_state(&p.db, "t_v"), Some(true));
    p.expect(&["migrate", "status", "app", "--exit-code"], 0);
}

#[test]
fn postgres_a_killed_concurrent_index_build_is_interrupted_until_resolved() {
    let Some(p) = Project::new(Engine::Postgres) else {
        return;
    };
    p.migration(
        1,
        "CREATE TABLE t (id INT);\nINSERT INTO t SELECT generate_series(1, 40);\nCREATE FUNCTION slow(x INT) RETURNS INT IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN x; END $$;",
        None,
    );
    p.migration(
        2,
        "-- dbgen:no-transaction\nCREATE INDEX CONCURRENTLY t_slow ON t ((slow(id)));\n",
        None,
    );
    let mut child = p.spawn(&["migrate", "latest", "app"]);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still building the index"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The server ends the dead runner's session (and its build) within a second or two.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        p.rows().iter().map(|r| r.1).collect::<Vec<_>>()[1],
        -1,
        "{:?}",
        p.rows()
    );
    let status = p.expect(&["migrate", "status", "app"], 0);
    assert!(status.contains("interrupted"), "{status}");
    let err = p.expect(&["migrate", "latest", "app"], 1);
    assert!(err.contains("migrate resolve app 2 --reverted"), "{err}");

    // Undo what the build left, make the function fast, and resolve.
    p.db.execute("DROP INDEX IF EXISTS t_slow");
    p.db.execute("CREATE OR REPLACE FUNCTION slow(x INT) RETURNS INT IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN RETURN x; END $$");
    p.expect(&["migrate", "resolve", "app", "2", "--reverted"], 0);
    p.expect(&["migrate", "latest", "app"], 0);
    assert_eq!(index_state(&p.db, "t_slow"), Some(true));
    assert!(p.rows().iter().all(|(_, ms)| *ms >= 0));
}

#[test]
fn mariadb_a_migration_still_running_shows_as_running_not_interrupted() {
    let Some(p) = Project::new(Engine::Mysql) else {
        return;
    };
    p.migration(1, "SELECT SLEEP(3);", None);
    let mut child = p.spawn(&["migrate", "latest", "app"]);
    std::thread::sleep(Duration::from_millis(1200));
    let status = p.expect(&["migrate", "status", "app"], 0);
    assert!(status.contains("running"), "{status}");
    assert!(!status.contains("interrupted"), "{status}");
    // Not up to date while it runs.
    p.expect(&["migrate", "status", "app", "--exit-code"], 3);
    assert!(child.wait().unwrap().success());
    p.expect(&["migrate", "status", "app", "--exit-code"], 0);
}
