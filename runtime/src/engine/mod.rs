//! One small file per database engine behind [`Engine`]; everything above it is engine-free.

mod conn;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_position;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_split;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbgen_core::ConnectionSettings;

pub(crate) use conn::Conn;
#[cfg(feature = "mysql")]
pub(crate) use mysql::{MySql, connect_options as mysql_options};
#[cfg(feature = "postgres")]
pub(crate) use postgres::{Postgres, connect_options as postgres_options};
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::{Sqlite, connect_options as sqlite_options};

use crate::pool::Pool;

/// Where an engine gets its connection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// Its own, opened from these settings.
    Settings(&'a ConnectionSettings),
    /// One borrowed from the application's pool (already checked to be of the engine).
    Pool(&'a Pool),
}

impl Source<'_> {
    /// The connection as messages show it, password hidden.
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::Settings(settings) => settings.to_string(),
            Source::Pool(_) => "the application's pool".to_string(),
        }
    }
}

/// `execution_ms` of a row whose script started and has not finished: a migration that
/// cannot be rolled back (any script on MySQL, a no-transaction script anywhere) is recorded
/// before it runs, so that a runner that dies halfway leaves a state `status` explains.
pub(crate) const APPLYING_MS: i64 = -1;
/// `execution_ms` of a row whose down script started and has not finished.
pub(crate) const REVERTING_MS: i64 = -2;

/// A row of the tracking table: one applied migration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedRow {
    /// The migration's version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// The batch (one `latest` run) that applied it.
    pub batch: i64,
    /// Hex SHA-256 of the up script as it was applied.
    pub checksum: String,
    /// When it was applied, in milliseconds since the Unix epoch.
    pub applied_at: i64,
    /// How long its script ran, in milliseconds; negative while its script (or its down
    /// script) runs outside a transaction, and after such a run was interrupted.
    pub execution_ms: i64,
}

impl AppliedRow {
    /// Whether its script was interrupted, and in which direction.
    pub fn interruption(&self) -> Option<Interruption> {
        match self.execution_ms {
            APPLYING_MS => Some(Interruption::Applying),
            REVERTING_MS => Some(Interruption::Reverting),
            _ => None,
        }
    }
}

/// What a migration was doing when its runner died or its script failed outside a
/// transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interruption {
    /// Its up script was running.
    Applying,
    /// Its down script was running.
    Reverting,
}

/// How the runner opens a database.
#[derive(Debug, Clone)]
pub(crate) struct OpenMode {
    /// Read-only commands (status, dry runs) must not create a SQLite file.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub create: bool,
    /// How long to wait for another runner's lock.
    pub lock_timeout: Duration,
    /// A schema tenant's schema (PostgreSQL): first on `search_path` while the run lasts,
    /// holding the tracking table; created by a run that creates.
    pub schema: Option<Arc<str>>,
    /// Take the lock only when the unlocked read finds something to do (a fleet).
    pub read_first: bool,
}

impl OpenMode {
    /// The tracking table as statements name it: in the tenant's schema, if any.
    /// A name that already says its schema (`public.knex_migrations`) stays as it is.
    pub(crate) fn table<'a>(&self, table: &'a str) -> Cow<'a, str> {
        match &self.schema {
            Some(schema) if !table.contains('.') => {
                Cow::Owned(format!("{}.{table}", quote_identifier(schema)))
            }
            _ => Cow::Borrowed(table),
        }
    }
}

/// `name` as a quoted SQL identifier (`"tenant_1"`), for names that come from data.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What differs between engines: connecting, the lock, transactions and the tracking table.
///
/// SQL given to `execute` runs as one multi-statement script. Errors are sqlx's, turned
/// into messages by the migrator.
pub(crate) trait Engine: Sized {
    /// Whether DDL is transactional, so that a whole batch can be one transaction.
    const TRANSACTIONAL_DDL: bool;
    /// The tracking table's text columns.
    const TEXT_TYPE: &'static str;
    /// Whether the lock is the write transaction itself (SQLite): committing releases it.
    const LOCK_IS_TRANSACTION: bool;
    /// The type `CAST(x AS ...)` turns any value into text with.
    const TEXT_CAST: &'static str;

    /// SQL giving the bytes of `expr` as lower- or upper-case hex.
    fn hex_sql(expr: &str) -> String;
    /// SQL giving the timestamp `expr` in milliseconds since the Unix epoch.
    fn epoch_ms_sql(expr: &str) -> String;

    /// `Ok(None)`: opened read-only and the database does not exist yet (it is empty).
    async fn open(source: Source<'_>, mode: OpenMode) -> Result<Option<Self>, sqlx::Error>;
    /// Waits up to the open mode's timeout; `Ok(false)` when it ran out.
    async fn lock(&mut self, table: &str) -> Result<bool, sqlx::Error>;
    async fn unlock(&mut self, table: &str) -> Result<(), sqlx::Error>;
    /// Whether another runner holds the lock now, without waiting for it; `false` where
    /// the engine cannot tell (SQLite).
    async fn held_by_another(&mut self, _table: &str) -> Result<bool, sqlx::Error> {
        Ok(false)
    }
    /// The tracking table's rows in one round trip; `None` when the table does not exist.
    async fn applied(&mut self, table: &str) -> Result<Option<Vec<AppliedRow>>, sqlx::Error>;
    /// The rows of a query whose every column is text (see [`Engine::TEXT_CAST`]); `None`
    /// when its table does not exist. Reads other tools' tracking tables.
    async fn text_rows(&mut self, sql: &str) -> Result<Option<TextRows>, sqlx::Error>;
    /// Runs `sql`, one statement or many, as one script.
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error>;
    /// Runs one statement; how many rows it changed.
    async fn execute_affected(&mut self, sql: &str) -> Result<u64, sqlx::Error>;

    async fn create_tracking_table(&mut self, table: &str) -> Result<(), sqlx::Error> {
        self.execute(&tracking_table_ddl(table, Self::TEXT_TYPE))
            .await
    }

    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        self.execute("BEGIN").await
    }

    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        self.execute("COMMIT").await
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.execute("ROLLBACK").await
    }

    /// Runs one migration's script and writes its tracking row. Engines that can send both
    /// in one round trip override this; `alone` (a no-transaction script) must run by itself.
    async fn run_step(
        &mut self,
        table: &str,
        sql: &str,
        record: &Record<'_>,
        alone: bool,
    ) -> Result<(), sqlx::Error> {
        let _ = alone;
        run_then_record(self, table, sql, record).await
    }

    async fn close(self);

    /// Closes after a failed run: a connection borrowed from a pool is closed rather than
    /// returned (a transaction or lock may be left on it), and SQLite removes a database
    /// file this run created and left without a schema.
    async fn close_failed(self);

    /// Runs `sql` as [`execute`](Self::execute) does; on failure also says how many of its
    /// statements took effect before the failing one, where the engine can tell.
    async fn execute_counted(&mut self, sql: &str) -> Result<(), (sqlx::Error, Option<usize>)> {
        self.execute(sql).await.map_err(|e| (e, None))
    }

    /// Why this engine cannot take `sql` as one script, checked before it is sent (MySQL's
    /// packet limit; on SQLite, a statement it ignores or refuses inside a transaction when
    /// `in_transaction`, the script running in one); `None` when it can.
    async fn refusal(
        &mut self,
        _sql: &str,
        _in_transaction: bool,
    ) -> Result<Option<String>, sqlx::Error> {
        Ok(None)
    }

    /// [`refusal`](Self::refusal) for a seed, which always runs in a transaction, with
    /// references enforced as the connection has them (no `relax_references` around it).
    async fn seed_refusal(&mut self, sql: &str) -> Result<Option<String>, sqlx::Error> {
        self.refusal(sql, true).await
    }

    /// Lets a migration batch break references while it runs (SQLite: turns
    /// `PRAGMA foreign_keys` off, as its documentation prescribes for schema changes, the
    /// first call remembering the connection's setting). Called outside any transaction:
    /// before the lock is taken, and again after a no-transaction step.
    async fn relax_references(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Puts back the setting [`relax_references`](Self::relax_references) first found,
    /// outside any transaction: before a no-transaction step, and after the run however it
    /// ended. A connection on which this fails is not returned to a pool.
    async fn restore_references(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// In the transaction, before its first migration runs: remembers the references that
    /// are broken already, so that [`broken_references`](Self::broken_references) fails the
    /// transaction only on those its migrations break. Does nothing (and costs nothing)
    /// where references were not relaxed from an enforcing setting.
    async fn note_broken_references(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Checked before a transaction that ran migrations commits: the references its
    /// migrations broke (they ran relaxed), which must roll it back, and those that were
    /// broken before it, to warn about. Nothing where references were never relaxed, or
    /// the connection did not enforce them, so that the engine itself kept them.
    async fn broken_references(&mut self) -> Result<ReferenceCheck, sqlx::Error> {
        Ok(ReferenceCheck::default())
    }

    /// The 1-based character offset of an error in the script, where the driver gives one.
    fn error_position(_err: &sqlx::Error) -> Option<usize> {
        None
    }

    /// The (line, column) in `script` of an error in the statement after the first `ran`,
    /// where the driver numbers lines within the statement (MySQL, MariaDB).
    fn statement_error_position(
        _err: &sqlx::Error,
        _script: &str,
        _ran: usize,
    ) -> Option<(usize, usize)> {
        None
    }
}

/// What [`Engine::broken_references`] found, worded by the engine.
#[derive(Debug, Default)]
pub(crate) struct ReferenceCheck {
    /// What the transaction's migrations broke: it must not commit.
    pub broken: Option<BrokenReferences>,
    /// What was broken before the transaction's first migration: told, not refused.
    pub warnings: Vec<String>,
}

/// Why a transaction's migrations must be rolled back, and what to do about it.
#[derive(Debug)]
pub(crate) struct BrokenReferences {
    /// What the check found, to follow "after this migration ran, ".
    pub message: String,
    /// What to change in the migrations.
    pub advice: String,
}

/// A script, then its tracking row in a second round trip, timed by the client.
pub(crate) async fn run_then_record<E: Engine>(
    engine: &mut E,
    table: &str,
    sql: &str,
    record: &Record<'_>,
) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    engine.execute(sql).await?;
    let took = started.elapsed().as_millis().to_string();
    engine.execute(&record.statement(table, &took)).await
}

/// What a step writes to the tracking table after its script.
#[derive(Debug, Clone)]
pub(crate) enum Record<'a> {
    Applied {
        version: i64,
        name: &'a str,
        batch: i64,
        checksum: String,
        /// When the step started, in milliseconds since the Unix epoch.
        applied_at: i64,
    },
    Reverted {
        version: i64,
    },
    /// The down script of an applied migration starts.
    Reverting {
        version: i64,
    },
    /// A started script finished (`elapsed_ms`), or a row goes back to what it was.
    Finished {
        version: i64,
    },
}

impl Record<'_> {
    /// The statement that writes this record, with its values inline, so that it can follow
    /// a script in the same round trip. `elapsed_ms` is an SQL expression of the script's
    /// running time.
    pub(crate) fn statement(&self, table: &str, elapsed_ms: &str) -> String {
        match self {
            Record::Applied { .. } => format!(
                "INSERT INTO {table} (version, name, batch, checksum, applied_at, execution_ms) VALUES {}",
                self.values(elapsed_ms)
            ),
            Record::Reverted { version } => {
                format!("DELETE FROM {table} WHERE version = {version}")
            }
            Record::Reverting { version } => {
                format!(
                    "UPDATE {table} SET execution_ms = {REVERTING_MS} WHERE version = {version}"
                )
            }
            Record::Finished { version } => {
                format!("UPDATE {table} SET execution_ms = {elapsed_ms} WHERE version = {version}")
            }
        }
    }
}

impl Record<'_> {
    /// An applied record's row, `(version, 'name', ...)`, for one `INSERT` of many rows.
    pub(crate) fn values(&self, elapsed_ms: &str) -> String {
        match self {
            Record::Applied {
                version,
                name,
                batch,
                checksum,
                applied_at,
            } => format!(
                "({version}, '{}', {batch}, '{}', {applied_at}, {elapsed_ms})",
                name.replace('\'', "''"),
                checksum.replace('\'', "''"),
            ),
            _ => unreachable!("only an applied record is a row"),
        }
    }
}

/// A script followed by the statement recording it. The `;` on a line of its own ends the
/// script's last statement even when it lacks one or ends in a `--` comment.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
pub(crate) fn script_then(sql: &str, statement: &str) -> String {
    format!("{sql}\n;\n{statement}")
}

/// The tracking table's columns, shared by every engine's `CREATE TABLE`.
pub(crate) fn tracking_table_ddl(table: &str, text_type: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         version BIGINT NOT NULL PRIMARY KEY, \
         name {text_type} NOT NULL, \
         batch BIGINT NOT NULL, \
         checksum {text_type} NOT NULL, \
         applied_at BIGINT NOT NULL, \
         execution_ms BIGINT NOT NULL)"
    )
}

pub(crate) fn select_applied_sql(table: &str) -> String {
    format!(
        "SELECT version, name, batch, checksum, applied_at, execution_ms FROM {table} ORDER BY version"
    )
}

/// Rows of [`select_applied_sql`], whichever engine (and text or binary format) sent them.
pub(crate) fn decode_applied<R: sqlx::Row>(rows: Vec<R>) -> Result<Vec<AppliedRow>, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    rows.iter()
        .map(|row| {
            Ok(AppliedRow {
                version: row.try_get(0)?,
                name: row.try_get(1)?,
                batch: row.try_get(2)?,
                checksum: row.try_get(3)?,
                applied_at: row.try_get(4)?,
                execution_ms: row.try_get(5)?,
            })
        })
        .collect()
}

/// Rows of text columns, `None` for NULL.
pub(crate) type TextRows = Vec<Vec<Option<String>>>;

/// Rows of a query whose columns are all text, whichever engine sent them.
pub(crate) fn decode_text<R: sqlx::Row>(rows: Vec<R>) -> Result<TextRows, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    rows.iter()
        .map(|row| (0..row.len()).map(|i| row.try_get(i)).collect())
        .collect()
}

/// `Ok(None)` for the error an engine gives when the tracking table does not exist.
pub(crate) fn none_if_missing<T>(
    result: Result<T, sqlx::Error>,
    is_missing: impl Fn(&dyn sqlx::error::DatabaseError) -> bool,
) -> Result<Option<T>, sqlx::Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(sqlx::Error::Database(e)) if is_missing(e.as_ref()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An error sqlx cannot raise itself: the target does not fit this engine.
pub(crate) fn wrong_target(what: &dyn std::fmt::Display, engine: &str) -> sqlx::Error {
    sqlx::Error::Configuration(format!("{what} is not a {engine} connection").into())
}
