//! SQLite migrations run as SQLite's documentation prescribes for schema changes: foreign
//! keys off outside the batch's transaction, `PRAGMA foreign_key_check` before it commits
//! (what was broken before the batch warned about, not refused), and statements SQLite
//! ignores or refuses inside a transaction refused rather than "applied" (a migration's own
//! `PRAGMA foreign_keys` excepted: migrations run with foreign keys off already).
//! Through the real `dbgen` binary, on a fresh SQLite file per test; assertions read the
//! database itself.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use dbgen_testkit::{Engine, TestDb, write};
use tempfile::TempDir;

struct Project {
    dir: TempDir,
    db: TestDb,
}

impl Project {
    fn new() -> Self {
        let db = TestDb::create(Engine::Sqlite).expect("a SQLite file");
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "dbgen.toml", "");
        write(
            dir.path(),
            "database/app/database.toml",
            "driver = \"sqlite\"\n",
        );
        Self { dir, db }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn migration(&self, version: i64, name: &str, up: &str) {
        write(
            self.root(),
            &format!("database/app/migrations/{version}_{name}.up.sql"),
            up,
        );
    }

    fn run(&self, args: &[&str]) -> Run {
        let output = Command::cargo_bin("dbgen")
            .expect("the dbgen binary")
            .current_dir(self.root())
            .env("APP_DB_URL", &self.db.url)
            .env("NO_COLOR", "1")
            .env_remove("APP_DB_HOST")
            .env_remove("APP_DB_NAME")
            .args(args)
            .output()
            .expect("run dbgen");
        Run(output)
    }

    fn latest(&self) -> Run {
        self.run(&["migrate", "latest", "app"])
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.count(sql)
    }

    /// Every object of the schema, every row of every table (the tracking table's
    /// included), as text: equal before and after means the database is as it was.
    fn snapshot(&self) -> Vec<Vec<Option<String>>> {
        if !self.db.sqlite_path().unwrap().exists() {
            return vec![vec![Some("no database file".into())]];
        }
        let mut rows = self.db.query_strings(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
        );
        for table in self.db.tables() {
            // Every value quoted as SQL text, so that any column reads as text.
            let columns: Vec<String> = self
                .db
                .query_strings(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .into_iter()
                .map(|row| format!("quote(\"{}\")", row[0].as_deref().unwrap()))
                .collect();
            rows.push(vec![Some(format!("rows of {table}"))]);
            rows.extend(self.db.query_strings(&format!(
                "SELECT quote(rowid), {} FROM \"{table}\" ORDER BY rowid",
                columns.join(", ")
            )));
        }
        rows
    }

    fn journal_mode(&self) -> String {
        self.db.query_strings("PRAGMA journal_mode")[0][0]
            .clone()
            .unwrap()
    }

    /// The rows `PRAGMA foreign_key_check` reports.
    fn broken(&self) -> Vec<Vec<Option<String>>> {
        self.db.query_strings(
            "SELECT \"table\", CAST(rowid AS TEXT), parent FROM pragma_foreign_key_check",
        )
    }
}

struct Run(Output);

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[track_caller]
    fn code(self, code: i32) -> Self {
        assert_eq!(
            self.0.status.code(),
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    fn ok(self) -> Self {
        self.code(0)
    }
    #[track_caller]
    fn says(self, text: &str) -> Self {
        let all = format!("{}{}", self.stdout(), self.stderr());
        assert!(all.contains(text), "expected {text:?} in:\n{all}");
        self
    }
}

const PARENT_CHILD: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE child (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE
);
INSERT INTO parent VALUES (1, 'one'), (2, 'two');
INSERT INTO child VALUES (1, 1), (2, 1);
";

/// "Making Other Kinds Of Table Schema Changes", as the sqlite3 shell runs it.
const REBUILD_PARENT: &str = "PRAGMA foreign_key_check;
CREATE TABLE new_parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, label TEXT);
INSERT INTO new_parent (id, name) SELECT id, name FROM parent;
DROP TABLE parent;
ALTER TABLE new_parent RENAME TO parent;
";

fn rebuild_keeps_child_rows(one_batch: bool) {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    if !one_batch {
        p.latest().ok();
        assert_eq!(p.count("SELECT COUNT(*) FROM child"), 2);
    }
    p.migration(2, "rebuild_parent", REBUILD_PARENT);
    p.latest().ok();
    assert_eq!(p.count("SELECT COUNT(*) FROM child"), 2);
    assert_eq!(p.count("SELECT COUNT(*) FROM parent"), 2);
    assert!(p.broken().is_empty(), "{:?}", p.broken());
    // The rebuilt table is the parent now, and its reference is enforced again.
    assert_eq!(
        p.count("SELECT COUNT(*) FROM pragma_table_info('parent') WHERE name = 'label'"),
        1
    );
    let batches = if one_batch {
        vec![(1, 1), (2, 1)]
    } else {
        vec![(1, 1), (2, 2)]
    };
    assert_eq!(p.db.tracking_rows("dbgen_migrations"), batches);
}

#[test]
fn the_documented_table_rebuild_keeps_child_rows_in_one_batch() {
    rebuild_keeps_child_rows(true);
}

#[test]
fn the_documented_table_rebuild_keeps_child_rows_in_two_batches() {
    rebuild_keeps_child_rows(false);
}

#[test]
fn a_batch_that_breaks_a_foreign_key_is_rolled_back_whole() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    p.latest().ok();
    p.migration(
        2,
        "labels",
        "CREATE TABLE label (id INTEGER PRIMARY KEY);\nINSERT INTO label VALUES (7);\n",
    );
    // With foreign keys off this neither cascades nor is refused: the check catches it.
    p.migration(3, "drop_parent", "DELETE FROM parent WHERE id = 1;\n");
    let before = p.snapshot();
    p.latest()
        .code(1)
        .says("3_drop_parent.up.sql")
        .says("`child` rowid 1: parent_id refers to no row of `parent`")
        .says("`child` rowid 2")
        .says("rolled back: none of its migrations remain applied")
        .says("2_labels, 3_drop_parent");
    assert_eq!(
        p.snapshot(),
        before,
        "the failed batch changed the database"
    );
    assert!(p.broken().is_empty());

    // Fixed the way the message says, the batch goes through.
    p.migration(
        3,
        "drop_parent",
        "DELETE FROM child WHERE parent_id = 1;\nDELETE FROM parent WHERE id = 1;\n",
    );
    p.latest().ok();
    assert_eq!(p.count("SELECT COUNT(*) FROM child"), 0);
    assert_eq!(
        p.db.tracking_rows("dbgen_migrations"),
        [(1, 1), (2, 2), (3, 2)]
    );
}

#[test]
fn rows_broken_before_the_batch_are_told_apart() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    p.latest().ok();
    // Written by a connection that keeps foreign keys off (SQLite's default).
    p.db.execute("PRAGMA foreign_keys = OFF; INSERT INTO child VALUES (3, 99);");
    // An unrelated migration goes through, with a warning that names the row.
    p.migration(
        2,
        "labels",
        "CREATE TABLE label (id INTEGER PRIMARY KEY);\n",
    );
    let run = p.latest().ok();
    let warning = run.stderr();
    assert!(
        warning.contains("app: warning: 1 row already broke its foreign key before this batch ran"),
        "{warning}"
    );
    assert!(
        warning.contains("`child` rowid 3: parent_id refers to no row of `parent`"),
        "{warning}"
    );
    assert!(
        warning.contains("`PRAGMA foreign_key_check` lists them all"),
        "{warning}"
    );
    assert_eq!(p.db.tracking_rows("dbgen_migrations"), [(1, 1), (2, 2)]);

    // A batch that breaks another row still fails, naming that row only.
    p.migration(
        3,
        "drop_parent",
        "DELETE FROM parent WHERE id = 2;\nINSERT INTO child VALUES (4, 2);\n",
    );
    let before = p.snapshot();
    let run = p
        .latest()
        .code(1)
        .says("3_drop_parent.up.sql")
        .says("found 1 row whose foreign key refers to no row: `child` rowid 4: parent_id refers to no row of `parent`")
        .says("make the migration delete or update the rows that refer to it");
    let all = run.stderr();
    let error = all
        .lines()
        .filter(|l| !l.contains("warning:"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!error.contains("rowid 3"), "{all}");
    assert!(all.contains("warning: 1 row already broke"), "{all}");
    assert_eq!(p.snapshot(), before);
}

/// A foreign key to a column that is not a key: SQLite accepts it, but cannot check it.
const NOT_A_KEY: &str = "CREATE TABLE team (id INTEGER PRIMARY KEY, code TEXT NOT NULL);
CREATE TABLE player (id INTEGER PRIMARY KEY, team_code TEXT REFERENCES team (code));
INSERT INTO team VALUES (1, 'a');
INSERT INTO player VALUES (1, 'a');
";

#[test]
fn a_foreign_key_sqlite_cannot_check_is_explained() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    p.latest().ok();
    p.migration(2, "teams", NOT_A_KEY);
    let before = p.snapshot();
    p.latest()
        .code(1)
        .says("2_teams.up.sql")
        .says("`player` has a foreign key SQLite cannot check (foreign key mismatch - \"player\" referencing \"team\")")
        .says("`team` (code), are neither `team`'s PRIMARY KEY nor covered by a UNIQUE index")
        .says("add a UNIQUE index on those columns (`CREATE UNIQUE INDEX ... ON \"team\" (code)`)")
        .says("the batch's transaction was rolled back");
    assert_eq!(p.snapshot(), before);

    // Fixed the way the message says, the batch goes through.
    p.migration(
        2,
        "teams",
        &format!("{NOT_A_KEY}CREATE UNIQUE INDEX team_code ON team (code);\n"),
    );
    let run = p.latest().ok();
    assert!(!run.stderr().contains("warning"), "{}", run.stderr());
    assert_eq!(p.db.tracking_rows("dbgen_migrations"), [(1, 1), (2, 2)]);
}

#[test]
fn a_foreign_key_sqlite_could_not_check_before_the_batch_is_a_warning() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    p.latest().ok();
    // Made outside dbgen (before it checked foreign keys, such a migration went through),
    // by a connection with foreign keys off: with them on, SQLite refuses to write `player`.
    p.db.execute(&format!("PRAGMA foreign_keys = OFF;\n{NOT_A_KEY}"));
    p.migration(
        2,
        "labels",
        "CREATE TABLE label (id INTEGER PRIMARY KEY);\n",
    );
    p.latest()
        .ok()
        .says("app: warning: `player` has a foreign key SQLite cannot check")
        .says("It was so before this batch ran, so it does not stop it")
        .says("add a UNIQUE index on those columns");
    assert_eq!(p.db.tracking_rows("dbgen_migrations"), [(1, 1), (2, 2)]);

    // The other tables are still checked.
    p.migration(3, "drop_parent", "DELETE FROM parent WHERE id = 1;\n");
    p.latest()
        .code(1)
        .says("`child` rowid 1: parent_id refers to no row of `parent`");
    assert_eq!(p.count("SELECT COUNT(*) FROM parent"), 2);
}

#[test]
fn a_no_transaction_migration_runs_with_the_connections_own_setting() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    // Outside a transaction foreign keys are the connection's (on): the delete cascades.
    p.migration(
        2,
        "drop_parent",
        "-- dbgen:no-transaction\nINSERT INTO child VALUES (3, 2);\nDELETE FROM parent WHERE id = 2;\n",
    );
    // After it, the next transaction has them off again: the rebuild keeps the children.
    p.migration(3, "rebuild_parent", REBUILD_PARENT);
    p.latest().ok();
    assert_eq!(p.count("SELECT COUNT(*) FROM child WHERE parent_id = 2"), 0);
    assert_eq!(p.count("SELECT COUNT(*) FROM child"), 2);
    assert!(p.broken().is_empty());
    assert_eq!(
        p.db.tracking_rows("dbgen_migrations"),
        [(1, 1), (2, 1), (3, 1)]
    );
}

#[test]
fn a_broken_transaction_after_a_no_transaction_migration_keeps_what_committed() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    p.migration(
        2,
        "index",
        "-- dbgen:no-transaction\nCREATE INDEX child_parent ON child (parent_id);\n",
    );
    p.migration(3, "drop_parent", "DELETE FROM parent WHERE id = 1;\n");
    p.latest()
        .code(1)
        .says("3_drop_parent.up.sql")
        .says("none of its migrations (3_drop_parent) remain applied")
        .says("2 migrations committed before it");
    assert_eq!(p.db.tracking_rows("dbgen_migrations"), [(1, 1), (2, 1)]);
    assert_eq!(p.count("SELECT COUNT(*) FROM parent"), 2);
    assert_eq!(p.count("SELECT COUNT(*) FROM child"), 2);
}

#[test]
fn journal_mode_in_a_transaction_is_refused_and_runs_outside_one() {
    let p = Project::new();
    p.migration(1, "t1", "CREATE TABLE t1 (id INTEGER PRIMARY KEY);\n");
    p.latest().ok();
    p.migration(2, "t2", "CREATE TABLE t2 (id INTEGER PRIMARY KEY);\n");
    p.migration(3, "wal", "-- switch\nPRAGMA journal_mode = WAL;\n");
    // A dry run sends nothing, so it refuses nothing.
    p.run(&["migrate", "latest", "app", "--dry-run"]).ok();
    let before = p.snapshot();
    p.latest()
        .code(1)
        .says("3_wal.up.sql")
        .says("`PRAGMA journal_mode = WAL` (line 2)")
        .says("put `-- dbgen:no-transaction` on the script's first line")
        .says("what ran before it in that transaction (2_t2) is not applied either");
    // Refused before it ran, and the batch's transaction with it.
    assert_eq!(p.snapshot(), before);
    assert_eq!(p.journal_mode(), "delete");

    p.migration(
        3,
        "wal",
        "-- dbgen:no-transaction\nPRAGMA journal_mode = WAL;\n",
    );
    p.latest().ok();
    assert_eq!(p.journal_mode(), "wal");
    assert_eq!(
        p.db.tracking_rows("dbgen_migrations"),
        [(1, 1), (2, 2), (3, 2)]
    );
}

#[test]
fn a_first_run_refused_leaves_no_database_file() {
    let p = Project::new();
    p.migration(1, "t1", "CREATE TABLE t1 (id INTEGER PRIMARY KEY);\n");
    p.migration(2, "wal", "PRAGMA journal_mode=WAL;\n");
    p.latest().code(1).says("-- dbgen:no-transaction");
    assert_eq!(p.snapshot(), vec![vec![Some("no database file".into())]]);
}

#[test]
fn vacuum_in_a_transaction_is_refused() {
    let p = Project::new();
    p.migration(1, "t1", "CREATE TABLE t1 (id INTEGER PRIMARY KEY);\n");
    p.migration(2, "script", "CREATE TABLE t (id INTEGER);\n\nVACUUM;\n");
    let before = p.snapshot();
    p.latest()
        .code(1)
        .says("`VACUUM` (line 3)")
        .says("put `-- dbgen:no-transaction` on the script's first line")
        .says("it was not sent")
        .says("what ran before it in that transaction (1_t1) is not applied either");
    assert_eq!(p.snapshot(), before);
    // The reading forms and the check are fine.
    let p = Project::new();
    p.migration(
        1,
        "reads",
        "PRAGMA journal_mode;\nPRAGMA foreign_keys;\nPRAGMA foreign_key_check;\nCREATE TABLE t (id INTEGER);\n",
    );
    p.latest().ok();
    assert_eq!(p.db.tracking_rows("dbgen_migrations"), [(1, 1)]);
}

/// The table rebuild as sqlx and diesel migrations write it: their own PRAGMAs around it.
const REBUILD_WITH_PRAGMAS: &str = "PRAGMA foreign_keys = OFF;
CREATE TABLE new_parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, label TEXT);
INSERT INTO new_parent (id, name) SELECT id, name FROM parent;
DROP TABLE parent;
ALTER TABLE new_parent RENAME TO parent;
pragma main.Foreign_Keys = 1;
";

#[test]
fn a_migration_may_set_foreign_keys_itself_in_its_transaction() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    p.latest().ok();
    p.migration(2, "rebuild_parent", REBUILD_WITH_PRAGMAS);
    // Migrations run with foreign keys off anyway: the rebuild keeps the child rows.
    p.latest().ok();
    assert_eq!(p.count("SELECT COUNT(*) FROM child"), 2);
    assert_eq!(
        p.count("SELECT COUNT(*) FROM pragma_table_info('parent') WHERE name = 'label'"),
        1
    );
    assert!(p.broken().is_empty());
    assert_eq!(p.db.tracking_rows("dbgen_migrations"), [(1, 1), (2, 2)]);
    // Its PRAGMAs do not hide a later statement that cannot run in a transaction.
    p.migration(3, "vacuum", "PRAGMA foreign_keys = OFF;\nVACUUM;\n");
    p.latest().code(1).says("`VACUUM` (line 2)");
}

#[test]
fn a_seed_that_sets_foreign_keys_is_refused_with_advice_for_seeds() {
    let p = Project::new();
    p.migration(1, "parent_child", PARENT_CHILD);
    p.latest().ok();
    write(
        p.root(),
        "database/app/seeds/01_orphans.sql",
        "PRAGMA foreign_keys = OFF;\nINSERT INTO child VALUES (9, 99);\n",
    );
    let run = p
        .run(&["seed", "run", "app"])
        .code(1)
        .says("01_orphans.sql")
        .says("`PRAGMA foreign_keys = OFF` (line 1)")
        .says("a seed always runs in one, with foreign keys as the connection has them")
        .says("`PRAGMA defer_foreign_keys = ON;`");
    // Migrations' advice does not apply to a seed.
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(!all.contains("Migrations already run"), "{all}");
    assert!(!all.contains("on the script's first line"), "{all}");
    assert_eq!(p.count("SELECT COUNT(*) FROM child"), 2);

    // VACUUM and the journal mode: where a seed's can go instead.
    write(p.root(), "database/app/seeds/01_orphans.sql", "VACUUM;\n");
    p.run(&["seed", "run", "app"])
        .code(1)
        .says("`VACUUM` (line 1) cannot run: SQLite refuses VACUUM inside a transaction, and a seed always runs in one: run it in a migration whose first line is `-- dbgen:no-transaction`");

    // The advice works: references checked when the seed commits.
    write(
        p.root(),
        "database/app/seeds/01_orphans.sql",
        "PRAGMA defer_foreign_keys = ON;\nINSERT INTO child VALUES (9, 3);\nINSERT INTO parent VALUES (3, 'three');\n",
    );
    p.run(&["seed", "run", "app"]).ok();
    assert_eq!(p.count("SELECT COUNT(*) FROM child"), 3);
}
