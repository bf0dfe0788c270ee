use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use dbgen_core::{ConnectionSettings, ConnectionTarget};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::sqlite_split::{Found, OutsideOnly, SPLIT_FROM, outside_only, pieces};
use crate::pool::Pool;

use super::{
    AppliedRow, BrokenReferences, Conn, Engine, OpenMode, Record, ReferenceCheck, Source, TextRows,
    decode_applied, decode_text, none_if_missing, run_then_record, script_then, select_applied_sql,
};
use crate::migrator::plural;

/// SQLite: transactional DDL; the lock is the write transaction (`BEGIN IMMEDIATE`), which
/// the file system releases when a runner dies.
pub(crate) struct Sqlite {
    conn: Conn<sqlx::Sqlite>,
    in_transaction: bool,
    /// The database file, when opening it created it.
    created: Option<std::path::PathBuf>,
    /// `PRAGMA foreign_keys` as the connection had it when `relax_references` first turned
    /// it off; `None` when it never did.
    references: Option<bool>,
    /// Foreign keys could not be set back: the connection is closed, never pooled.
    unrestored: bool,
    /// What `PRAGMA foreign_key_check` found before the open transaction's first migration.
    broken_before: Option<KeyCheck>,
}

/// A row `PRAGMA foreign_key_check` reports: its table, its rowid (none in a WITHOUT ROWID
/// table), the parent table, and the foreign key's id in `PRAGMA foreign_key_list`.
type Violation = (String, Option<i64>, String, i64);

/// What `PRAGMA foreign_key_check` says of the main database.
#[derive(Debug, Default)]
struct KeyCheck {
    rows: Vec<Violation>,
    /// Tables with a foreign key SQLite cannot check, and its "foreign key mismatch" error.
    mismatches: Vec<(String, String)>,
}

/// How many broken rows a message names.
const SHOWN: usize = 5;

/// How to reach `settings` on SQLite, for the runner and for an application's pool.
pub(crate) fn connect_options(
    settings: &ConnectionSettings,
) -> Result<SqliteConnectOptions, sqlx::Error> {
    match &settings.target {
        ConnectionTarget::Url(url) => SqliteConnectOptions::from_str(url.expose()),
        ConnectionTarget::SqliteFile(path) => Ok(SqliteConnectOptions::new().filename(path)),
        ConnectionTarget::Server { .. } => Err(super::wrong_target(settings, "SQLite")),
    }
}

impl Sqlite {
    /// The values the `PRAGMA foreign_keys` queries of `sql` answer, in order.
    async fn foreign_keys(&mut self, sql: &'static str) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::raw_sql(sql)
            .fetch_all(&mut *self.conn)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect()
    }

    /// `PRAGMA foreign_key_check` on the main database. A foreign key SQLite cannot check
    /// (its parent columns have no UNIQUE index) fails the whole check: then each table is
    /// checked alone, and those that fail are set aside with their error.
    async fn check_keys(&mut self) -> Result<KeyCheck, sqlx::Error> {
        const ROWS: &str = "SELECT \"table\", rowid, parent, fkid FROM pragma_foreign_key_check";
        match sqlx::query_as(ROWS).fetch_all(&mut *self.conn).await {
            Ok(rows) => {
                return Ok(KeyCheck {
                    rows,
                    mismatches: Vec::new(),
                });
            }
            Err(e) if mismatch(&e).is_none() => return Err(e),
            Err(_) => {}
        }
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master AS m WHERE type = 'table' \
             AND EXISTS (SELECT 1 FROM pragma_foreign_key_list(m.name))",
        )
        .fetch_all(&mut *self.conn)
        .await?;
        let mut check = KeyCheck::default();
        for table in tables {
            let rows = sqlx::query_as(
                "SELECT \"table\", rowid, parent, fkid FROM pragma_foreign_key_check(?1, 'main')",
            )
            .bind(&table)
            .fetch_all(&mut *self.conn)
            .await;
            match rows {
                Ok(rows) => check.rows.extend(rows),
                Err(e) => match mismatch(&e) {
                    Some(message) => check.mismatches.push((table, message)),
                    None => return Err(e),
                },
            }
        }
        Ok(check)
    }

    /// The first [`SHOWN`] of `rows`, each with the columns of its foreign key, and how
    /// many more there are.
    async fn describe_rows(&mut self, rows: &[&Violation]) -> Result<String, sqlx::Error> {
        let mut found = Vec::with_capacity(SHOWN + 1);
        for (table, rowid, parent, fkid) in rows.iter().take(SHOWN) {
            let columns: Option<String> = sqlx::query_scalar(
                "SELECT group_concat(\"from\", ', ') FROM pragma_foreign_key_list(?1) WHERE id = ?2",
            )
            .bind(table)
            .bind(fkid)
            .fetch_one(&mut *self.conn)
            .await?;
            let row = match rowid {
                Some(rowid) => format!("`{table}` rowid {rowid}"),
                None => format!("a row of `{table}` (WITHOUT ROWID)"),
            };
            let columns = columns.as_deref().unwrap_or("its foreign key");
            found.push(format!("{row}: {columns} refers to no row of `{parent}`"));
        }
        if rows.len() > SHOWN {
            found.push(format!("and {} more", rows.len() - SHOWN));
        }
        Ok(found.join("; "))
    }

    /// What a "foreign key mismatch" of `table` means, and what to do about it.
    async fn describe_mismatch(
        &mut self,
        table: &str,
        error: &str,
    ) -> Result<(String, String), sqlx::Error> {
        // SQLite words it `foreign key mismatch - "child" referencing "parent"`.
        let parent = error
            .rsplit_once(" referencing \"")
            .and_then(|(_, parent)| parent.strip_suffix('"'))
            .unwrap_or("its parent table")
            .to_string();
        let columns: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(\"to\", ', ') FROM pragma_foreign_key_list(?1) \
             WHERE \"table\" = ?2 COLLATE NOCASE AND \"to\" IS NOT NULL",
        )
        .bind(table)
        .bind(&parent)
        .fetch_one(&mut *self.conn)
        .await?;
        let (refers_to, index) = match &columns {
            Some(columns) => (
                format!("`{parent}` ({columns})"),
                format!("`CREATE UNIQUE INDEX ... ON \"{parent}\" ({columns})`"),
            ),
            None => (
                format!("`{parent}`'s primary key"),
                format!("`CREATE UNIQUE INDEX ... ON \"{parent}\" (...)`"),
            ),
        };
        let meaning = format!(
            "`{table}` has a foreign key SQLite cannot check ({error}): the columns it refers to, {refers_to}, are neither `{parent}`'s PRIMARY KEY nor covered by a UNIQUE index (or do not exist), so SQLite cannot tell which row a value refers to"
        );
        let advice = format!(
            "add a UNIQUE index on those columns ({index}), make them `{parent}`'s PRIMARY KEY, or point the foreign key at columns that are one; until then PRAGMA foreign_key_check fails, and with foreign keys on SQLite refuses the writes this foreign key governs with the same error"
        );
        Ok((meaning, advice))
    }
}

/// SQLite's error for a foreign key whose parent columns are not a key, when `error` is one.
fn mismatch(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(e) if e.message().starts_with("foreign key mismatch") => {
            Some(e.message().to_string())
        }
        _ => None,
    }
}

impl Engine for Sqlite {
    const TRANSACTIONAL_DDL: bool = true;
    const TEXT_TYPE: &'static str = "TEXT";
    const TEXT_CAST: &'static str = "TEXT";

    fn hex_sql(expr: &str) -> String {
        format!("hex({expr})")
    }

    /// knex stores JavaScript's milliseconds; sqlx and diesel store text timestamps.
    fn epoch_ms_sql(expr: &str) -> String {
        format!(
            "CASE WHEN typeof({expr}) IN ('integer', 'real') THEN CAST({expr} AS INTEGER) ELSE CAST((julianday({expr}) - 2440587.5) * 86400000 AS INTEGER) END"
        )
    }

    async fn text_rows(&mut self, sql: &str) -> Result<Option<TextRows>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.message().starts_with("no such table"))?
            .map(decode_text)
            .transpose()
    }
    const LOCK_IS_TRANSACTION: bool = true;

    async fn open(source: Source<'_>, mode: OpenMode) -> Result<Option<Self>, sqlx::Error> {
        let settings = match source {
            Source::Settings(settings) => settings,
            // The pool's own busy_timeout bounds the wait for the write lock.
            Source::Pool(Pool::Sqlite(pool)) => {
                return Ok(Some(Self {
                    conn: Conn::pooled(pool.acquire().await?),
                    in_transaction: false,
                    created: None,
                    references: None,
                    unrestored: false,
                    broken_before: None,
                }));
            }
            #[allow(unreachable_patterns)]
            Source::Pool(_) => return Err(super::wrong_target(&"the pool", "SQLite")),
        };
        let options = connect_options(settings)?;
        // A read-only command must not create the file: a missing database is an empty one.
        let file = options.get_filename().to_path_buf();
        let file = file.as_path();
        if !mode.create && file != std::path::Path::new(":memory:") && !file.exists() {
            return Ok(None);
        }
        let options = options
            .create_if_missing(mode.create)
            // sqlx takes milliseconds as an i32: longer waits are capped (24.8 days).
            // A fleet's try without waiting still lets its reads pass another runner's commit.
            .busy_timeout(mode.lock_timeout.clamp(
                Duration::from_millis(200),
                Duration::from_millis(i32::MAX as u64),
            ));
        let created = (mode.create && file != std::path::Path::new(":memory:") && !file.exists())
            .then(|| file.to_path_buf());
        let conn = Conn::Own(SqliteConnection::connect_with(&options).await?);
        Ok(Some(Self {
            created,
            conn,
            in_transaction: false,
            references: None,
            unrestored: false,
            broken_before: None,
        }))
    }

    async fn lock(&mut self, _table: &str) -> Result<bool, sqlx::Error> {
        match self.begin().await {
            Ok(()) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.message().contains("database is locked") => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn unlock(&mut self, _table: &str) -> Result<(), sqlx::Error> {
        if self.in_transaction {
            self.commit().await?;
        }
        Ok(())
    }

    async fn applied(&mut self, table: &str) -> Result<Option<Vec<AppliedRow>>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(select_applied_sql(table)))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.message().starts_with("no such table"))?
            .map(decode_applied)
            .transpose()
    }

    /// Joins the lock's transaction when one is open; otherwise takes the write lock.
    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        if !self.in_transaction {
            self.execute("BEGIN IMMEDIATE").await?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// A COMMIT refused as busy leaves the transaction (and the write lock) open: it stays
    /// marked open, so that the run fails and its connection is discarded, not pooled.
    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        self.execute("COMMIT").await?;
        self.in_transaction = false;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.execute("ROLLBACK").await?;
        self.in_transaction = false;
        Ok(())
    }

    async fn execute_affected(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// A large script runs in pieces of whole statements: in one piece SQLite would take
    /// time that grows with the square of its size.
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        if sql.len() < SPLIT_FROM {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *self.conn)
                .await?;
            return Ok(());
        }
        for piece in pieces(sql) {
            sqlx::raw_sql(AssertSqlSafe(piece))
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    /// One call into SQLite's worker thread instead of two; SQLite shares our clock.
    async fn run_step(
        &mut self,
        table: &str,
        sql: &str,
        record: &Record<'_>,
        alone: bool,
    ) -> Result<(), sqlx::Error> {
        let started = match record {
            Record::Applied { applied_at, .. } if !alone && sql.len() < SPLIT_FROM => *applied_at,
            _ => {
                return run_then_record(self, table, sql, record).await;
            }
        };
        // SQLite's clock has millisecond resolution: never below zero.
        let elapsed = format!(
            "MAX(0, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) - {started})"
        );
        self.execute(&script_then(sql, &record.statement(table, &elapsed)))
            .await
    }

    /// SQLite's documented way to change a schema ("Making Other Kinds Of Table Schema
    /// Changes"): foreign keys off before the transaction begins, since inside one
    /// `PRAGMA foreign_keys` does nothing. Otherwise rebuilding a parent table (create,
    /// copy, drop, rename) would cascade its `DROP` into the child tables' rows. The first
    /// call remembers the connection's own setting.
    async fn relax_references(&mut self) -> Result<(), sqlx::Error> {
        let values = match self.references {
            None => {
                let values = self
                    .foreign_keys(
                        "PRAGMA foreign_keys; PRAGMA foreign_keys = OFF; PRAGMA foreign_keys",
                    )
                    .await?;
                if let [was, _] = values[..] {
                    self.references = Some(was != 0);
                }
                values
            }
            Some(_) => {
                self.foreign_keys("PRAGMA foreign_keys = OFF; PRAGMA foreign_keys")
                    .await?
            }
        };
        match (self.references, values.last()) {
            (Some(_), Some(0)) => Ok(()),
            _ => Err(sqlx::Error::InvalidArgument(format!(
                "foreign keys could not be turned off for the migrations (PRAGMA foreign_keys answered {values:?}; is a transaction open on the connection?)"
            ))),
        }
    }

    /// Foreign keys back as the connection had them before the run, whatever a script run
    /// outside a transaction set meanwhile; a connection on which that fails is closed
    /// rather than returned to the application's pool.
    async fn restore_references(&mut self) -> Result<(), sqlx::Error> {
        let Some(was) = self.references else {
            return Ok(());
        };
        let sql = match was {
            true => "PRAGMA foreign_keys = ON; PRAGMA foreign_keys",
            false => "PRAGMA foreign_keys = OFF; PRAGMA foreign_keys",
        };
        let restored = match self.foreign_keys(sql).await {
            Ok(values) if values[..] == [i64::from(was)] => Ok(()),
            Ok(values) => Err(sqlx::Error::InvalidArgument(format!(
                "foreign keys could not be set back (PRAGMA foreign_keys answered {values:?}; is a transaction still open on the connection?)"
            ))),
            Err(e) => Err(e),
        };
        self.unrestored |= restored.is_err();
        restored
    }

    /// `PRAGMA foreign_key_check` before the transaction's first migration, when foreign
    /// keys were on before `relax_references`: a connection that keeps them off has none to
    /// keep, and pays for no check.
    async fn note_broken_references(&mut self) -> Result<(), sqlx::Error> {
        self.broken_before = None;
        if self.references == Some(true) {
            self.broken_before = Some(self.check_keys().await?);
        }
        Ok(())
    }

    /// `PRAGMA foreign_key_check` before the commit (the documentation's step 10), when
    /// foreign keys were on before `relax_references`. Only what the transaction's
    /// migrations broke refuses it: rows broken before it (written while foreign keys were
    /// off) and foreign keys SQLite could not check before it are warned about.
    async fn broken_references(&mut self) -> Result<ReferenceCheck, sqlx::Error> {
        let before = self.broken_before.take().unwrap_or_default();
        if self.references != Some(true) {
            return Ok(ReferenceCheck::default());
        }
        let after = self.check_keys().await?;
        // Counted, not only looked up: WITHOUT ROWID rows have no rowid to tell them apart.
        let mut earlier: HashMap<&Violation, usize> = HashMap::new();
        for row in &before.rows {
            *earlier.entry(row).or_default() += 1;
        }
        let (mut new, mut old) = (Vec::new(), Vec::new());
        for row in &after.rows {
            match earlier.get_mut(row) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    old.push(row);
                }
                _ => new.push(row),
            }
        }
        let mut check = ReferenceCheck::default();
        if !old.is_empty() {
            let n = old.len();
            check.warnings.push(format!(
                "{n} row{} already broke {} foreign key before this batch ran (written while foreign keys were off), so {} not stop it: {}. `PRAGMA foreign_key_check` lists them all: repair or delete them",
                plural(n),
                if n == 1 { "its" } else { "their" },
                if n == 1 { "it does" } else { "they do" },
                self.describe_rows(&old).await?
            ));
        }
        let (mut messages, mut advice) = (Vec::new(), Vec::new());
        if !new.is_empty() {
            let n = new.len();
            messages.push(format!(
                "PRAGMA foreign_key_check found {n} row{} whose foreign key refers to no row: {}",
                plural(n),
                self.describe_rows(&new).await?
            ));
            advice.push("migrations run with foreign keys off, as SQLite's documentation prescribes for schema changes, so deleting or changing a parent row neither cascades nor is refused: make the migration delete or update the rows that refer to it as well, then run again".to_string());
        }
        for (table, error) in &after.mismatches {
            let (meaning, what_to_do) = self.describe_mismatch(table, error).await?;
            if before
                .mismatches
                .iter()
                .any(|m| (&m.0, &m.1) == (table, error))
            {
                check.warnings.push(format!(
                    "{meaning}. It was so before this batch ran, so it does not stop it, but `{table}`'s references go unchecked: {what_to_do}"
                ));
            } else {
                messages.push(meaning);
                advice.push(what_to_do);
            }
        }
        if !messages.is_empty() {
            check.broken = Some(BrokenReferences {
                message: messages.join("; and "),
                advice: advice.join("; "),
            });
        }
        Ok(check)
    }

    /// A statement that SQLite ignores (or refuses) inside a transaction, in a script that
    /// will run in one: refused before it runs rather than reported as applied. A
    /// migration's `PRAGMA foreign_keys = ...` (the table-rebuild recipe of sqlx and diesel
    /// migrations) is let through: migrations already run with foreign keys off.
    async fn refusal(
        &mut self,
        sql: &str,
        in_transaction: bool,
    ) -> Result<Option<String>, sqlx::Error> {
        if !in_transaction {
            return Ok(None);
        }
        for found in outside_only(sql) {
            if found.kind == OutsideOnly::ForeignKeys {
                tracing::debug!(
                    statement = found.text,
                    line = line_of(sql, &found),
                    "PRAGMA foreign_keys in a migration's transaction does nothing: migrations run with foreign keys off and are checked before they commit"
                );
                continue;
            }
            return Ok(Some(refuse_in_transaction(sql, &found, Script::Migration)));
        }
        Ok(None)
    }

    /// A seed runs in a transaction with foreign keys as the connection has them: every
    /// statement SQLite ignores or refuses there is refused.
    async fn seed_refusal(&mut self, sql: &str) -> Result<Option<String>, sqlx::Error> {
        Ok(outside_only(sql)
            .first()
            .map(|found| refuse_in_transaction(sql, found, Script::Seed)))
    }

    async fn close(self) {
        if self.unrestored {
            self.conn.discard().await;
        } else {
            self.conn.close().await;
        }
    }

    /// A failed (or refused) first `latest` must not leave an empty database file behind:
    /// one this run created and that holds no schema at all.
    async fn close_failed(mut self) {
        let created = self.created.take();
        let empty = match &created {
            Some(_) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sqlite_master")
                .fetch_one(&mut *self.conn)
                .await
                .is_ok_and(|objects| objects == 0),
            None => false,
        };
        self.conn.discard().await;
        if let Some(file) = created.filter(|_| empty) {
            let _ = std::fs::remove_file(&file);
        }
    }
}

/// Which kind of script a refused statement is in.
#[derive(Clone, Copy)]
enum Script {
    /// A migration, which `-- dbgen:no-transaction` can take out of its transaction.
    Migration,
    /// A seed, which always runs in a transaction.
    Seed,
}

/// The line of `sql` that `found` starts on.
fn line_of(sql: &str, found: &Found<'_>) -> usize {
    sql[..found.offset].matches('\n').count() + 1
}

/// Why `found` cannot be in a script that runs in a transaction, and what to do.
fn refuse_in_transaction(sql: &str, found: &Found<'_>, script: Script) -> String {
    let line = line_of(sql, found);
    let mut shown = found.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if shown.chars().count() > 60 {
        shown = shown.chars().take(57).collect::<String>() + "...";
    }
    let statement = format!("`{shown}` (line {line})");
    let elsewhere = "in a migration whose first line is `-- dbgen:no-transaction` (it runs outside a transaction)";
    match (script, found.kind) {
        // `refusal` lets it through; worded should that ever change.
        (Script::Migration, OutsideOnly::ForeignKeys) => format!(
            "{statement} would do nothing: SQLite ignores PRAGMA foreign_keys inside a transaction, and this script runs in one. Migrations already run with foreign keys off, so a migration can leave it out"
        ),
        (Script::Migration, OutsideOnly::JournalMode) => format!(
            "{statement} cannot take effect: SQLite does not change the journal mode inside a transaction (into or out of WAL it fails, another mode it may ignore), and this script runs in one: put `-- dbgen:no-transaction` on the script's first line to run it outside a transaction"
        ),
        (Script::Migration, OutsideOnly::Vacuum) => format!(
            "{statement} cannot run: SQLite refuses VACUUM inside a transaction, and this script runs in one: put `-- dbgen:no-transaction` on the script's first line to run it outside a transaction"
        ),
        (Script::Seed, OutsideOnly::ForeignKeys) => format!(
            "{statement} would do nothing: SQLite ignores PRAGMA foreign_keys inside a transaction, and a seed always runs in one, with foreign keys as the connection has them. To insert rows before the rows they refer to, put `PRAGMA defer_foreign_keys = ON;` first in the seed instead (it works inside a transaction: references are checked when the seed commits), or insert the referenced rows first"
        ),
        (Script::Seed, OutsideOnly::JournalMode) => format!(
            "{statement} cannot take effect: SQLite does not change the journal mode inside a transaction, and a seed always runs in one: set it {elsewhere}, or in the connection's options"
        ),
        (Script::Seed, OutsideOnly::Vacuum) => format!(
            "{statement} cannot run: SQLite refuses VACUUM inside a transaction, and a seed always runs in one: run it {elsewhere}, or outside dbgen"
        ),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, sqlite::SqliteConnection};

    use super::{Conn, Engine, Sqlite};

    /// Foreign keys on, as sqlx opens a connection.
    async fn engine() -> Sqlite {
        let conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        Sqlite {
            conn: Conn::Own(conn),
            in_transaction: false,
            created: None,
            references: None,
            unrestored: false,
            broken_before: None,
        }
    }

    /// The engine words what it found and what to do; only what the transaction broke
    /// refuses it, WITHOUT ROWID rows (which have no rowid to tell them apart) counted.
    #[tokio::test]
    async fn the_check_tells_new_breaks_from_old_ones_in_its_own_words() {
        let mut e = engine().await;
        e.execute(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id REFERENCES parent (id));
             CREATE TABLE tag (name TEXT PRIMARY KEY, parent_id REFERENCES parent (id)) WITHOUT ROWID;
             INSERT INTO parent VALUES (1), (2);
             INSERT INTO child VALUES (1, 1);
             PRAGMA foreign_keys = OFF;
             INSERT INTO tag VALUES ('old', 9);
             PRAGMA foreign_keys = ON;",
        )
        .await
        .unwrap();
        e.relax_references().await.unwrap();
        e.begin().await.unwrap();
        e.note_broken_references().await.unwrap();
        e.execute("DELETE FROM parent WHERE id = 1; INSERT INTO tag VALUES ('new', 8);")
            .await
            .unwrap();
        let check = e.broken_references().await.unwrap();
        let broken = check.broken.unwrap();
        let (found, rows) = broken.message.split_once(": ").unwrap();
        assert_eq!(
            found,
            "PRAGMA foreign_key_check found 2 rows whose foreign key refers to no row"
        );
        let mut rows: Vec<&str> = rows.split("; ").collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                "`child` rowid 1: parent_id refers to no row of `parent`",
                "a row of `tag` (WITHOUT ROWID): parent_id refers to no row of `parent`"
            ]
        );
        assert!(
            broken
                .advice
                .contains("as SQLite's documentation prescribes"),
            "{}",
            broken.advice
        );
        assert_eq!(check.warnings.len(), 1, "{:?}", check.warnings);
        assert!(
            check.warnings[0]
                .starts_with("1 row already broke its foreign key before this batch ran"),
            "{:?}",
            check.warnings
        );
        e.rollback().await.unwrap();
        e.restore_references().await.unwrap();
    }
}
