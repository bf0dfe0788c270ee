use std::str::FromStr;
use std::time::Duration;

use dbgen_core::{ConnectionSettings, ConnectionTarget};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::sqlite_split::{SPLIT_FROM, pieces};
use crate::pool::Pool;

use super::{
    AppliedRow, Conn, Engine, OpenMode, Record, Source, decode_applied, none_if_missing,
    run_then_record, script_then, select_applied_sql,
};

/// SQLite: transactional DDL; the lock is the write transaction (`BEGIN IMMEDIATE`), which
/// the file system releases when a runner dies.
pub(crate) struct Sqlite {
    conn: Conn<sqlx::Sqlite>,
    in_transaction: bool,
    /// The database file, when opening it created it.
    created: Option<std::path::PathBuf>,
}

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

impl Engine for Sqlite {
    const TRANSACTIONAL_DDL: bool = true;
    const TEXT_TYPE: &'static str = "TEXT";
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
            .busy_timeout(
                mode.lock_timeout
                    .min(Duration::from_millis(i32::MAX as u64)),
            );
        let created = (mode.create && file != std::path::Path::new(":memory:") && !file.exists())
            .then(|| file.to_path_buf());
        let conn = Conn::Own(SqliteConnection::connect_with(&options).await?);
        Ok(Some(Self {
            created,
            conn,
            in_transaction: false,
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

    async fn close(self) {
        self.conn.close().await;
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
