//! One small file per database engine behind [`Engine`]; everything above it is engine-free.

mod mysql;
mod postgres;
mod sqlite;

use std::time::Duration;

use dbgen_core::ConnectionSettings;

pub(crate) use mysql::{MySql, connect_options as mysql_options};
pub(crate) use postgres::{Postgres, connect_options as postgres_options};
pub(crate) use sqlite::{Sqlite, connect_options as sqlite_options};

/// A row of the tracking table: one applied migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    pub version: i64,
    pub name: String,
    pub batch: i64,
    /// Hex SHA-256 of the up script as it was applied.
    pub checksum: String,
    /// Milliseconds since the Unix epoch.
    pub applied_at: i64,
    pub execution_ms: i64,
}

/// How the runner opens a database.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenMode {
    /// Read-only commands (status, dry runs) must not create a SQLite file.
    pub create: bool,
    /// How long to wait for another runner's lock.
    pub lock_timeout: Duration,
}

/// What differs between engines: connecting, the lock, transactions and the tracking table.
///
/// SQL given to `execute` runs as one multi-statement script. Errors are sqlx's, turned
/// into messages by the migrator.
pub(crate) trait Engine: Sized {
    /// Whether DDL is transactional, so that a whole batch can be one transaction.
    const TRANSACTIONAL_DDL: bool;
    /// Whether the lock is the write transaction itself (SQLite): committing releases it.
    const LOCK_IS_TRANSACTION: bool;

    /// `Ok(None)`: opened read-only and the database does not exist yet (it is empty).
    async fn open(
        settings: &ConnectionSettings,
        mode: OpenMode,
    ) -> Result<Option<Self>, sqlx::Error>;
    /// Waits up to the open mode's timeout; `Ok(false)` when it ran out.
    async fn lock(&mut self, table: &str) -> Result<bool, sqlx::Error>;
    async fn unlock(&mut self, table: &str) -> Result<(), sqlx::Error>;
    async fn tracking_table_exists(&mut self, table: &str) -> Result<bool, sqlx::Error>;
    async fn create_tracking_table(&mut self, table: &str) -> Result<(), sqlx::Error>;
    async fn applied(&mut self, table: &str) -> Result<Vec<AppliedRow>, sqlx::Error>;
    async fn begin(&mut self) -> Result<(), sqlx::Error>;
    async fn commit(&mut self) -> Result<(), sqlx::Error>;
    async fn rollback(&mut self) -> Result<(), sqlx::Error>;
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error>;
    async fn insert_applied(&mut self, table: &str, row: &AppliedRow) -> Result<(), sqlx::Error>;
    async fn delete_applied(&mut self, table: &str, version: i64) -> Result<(), sqlx::Error>;
    async fn close(self);

    /// The 1-based character offset of an error in the script, where the driver gives one.
    fn error_position(_err: &sqlx::Error) -> Option<usize> {
        None
    }
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

pub(crate) type AppliedTuple = (i64, String, i64, String, i64, i64);

pub(crate) fn applied_row(t: AppliedTuple) -> AppliedRow {
    AppliedRow {
        version: t.0,
        name: t.1,
        batch: t.2,
        checksum: t.3,
        applied_at: t.4,
        execution_ms: t.5,
    }
}

/// An error sqlx cannot raise itself: the target does not fit this engine.
pub(crate) fn wrong_target(settings: &ConnectionSettings) -> sqlx::Error {
    sqlx::Error::Configuration(format!("{settings} is not a {} connection", settings.driver).into())
}
