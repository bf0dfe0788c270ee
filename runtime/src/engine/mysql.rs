use std::str::FromStr;

use dbgen_core::{ConnectionSettings, ConnectionTarget};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection};

use crate::pool::Pool;

use super::{
    AppliedRow, Conn, Engine, OpenMode, Source, TextRows, decode_applied, decode_text,
    none_if_missing, select_applied_sql, wrong_target,
};

/// MySQL and MariaDB: DDL commits implicitly, so each migration is its own transaction
/// with its tracking row; `GET_LOCK` is released when the session ends.
pub(crate) struct MySql {
    conn: Conn<sqlx::MySql>,
    mode: OpenMode,
    lock_name: Option<String>,
    /// The server's `max_allowed_packet`, read the first time a large script comes.
    max_packet: Option<u64>,
}

/// Scripts smaller than this fit every server's packet (MySQL's smallest default is 4 MiB).
const SURELY_FITS: usize = 1024 * 1024;

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// How to reach `settings` on MySQL or MariaDB, for the runner and for an application's pool.
pub(crate) fn connect_options(
    settings: &ConnectionSettings,
) -> Result<MySqlConnectOptions, sqlx::Error> {
    Ok(match &settings.target {
        ConnectionTarget::Url(url) => {
            MySqlConnectOptions::from_str(&url.expose().replacen("mariadb://", "mysql://", 1))?
        }
        ConnectionTarget::Server {
            host,
            port,
            database,
            user,
            password,
        } => {
            let options = MySqlConnectOptions::new()
                .host(host)
                .port(*port)
                .database(database)
                .username(user);
            match password {
                Some(p) => options.password(p.expose()),
                None => options,
            }
        }
        ConnectionTarget::SqliteFile(_) => return Err(wrong_target(settings, "MySQL")),
    })
}

/// The lock's name: lock names are server-wide (and at most 64 characters), so it is keyed
/// by schema and table, lower-cased so that one table takes one lock whatever its case.
async fn lock_name(engine: &mut MySql, table: &str) -> Result<String, sqlx::Error> {
    let schema: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&mut *engine.conn)
        .await?;
    let key = format!("{}.{table}", schema.unwrap_or_default()).to_ascii_lowercase();
    let digest = Sha256::digest(key.as_bytes());
    Ok(format!(
        "dbgen_{}",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

impl Engine for MySql {
    const TRANSACTIONAL_DDL: bool = false;
    const TEXT_TYPE: &'static str = "VARCHAR(255)";
    const TEXT_CAST: &'static str = "CHAR";

    fn hex_sql(expr: &str) -> String {
        format!("HEX({expr})")
    }

    fn epoch_ms_sql(expr: &str) -> String {
        format!("CAST(UNIX_TIMESTAMP({expr}) * 1000 AS SIGNED)")
    }

    async fn text_rows(&mut self, sql: &str) -> Result<Option<TextRows>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.code().as_deref() == Some("42S02"))?
            .map(decode_text)
            .transpose()
    }
    const LOCK_IS_TRANSACTION: bool = false;

    async fn open(source: Source<'_>, mode: OpenMode) -> Result<Option<Self>, sqlx::Error> {
        let conn = match source {
            Source::Settings(settings) => {
                Conn::Own(MySqlConnection::connect_with(&connect_options(settings)?).await?)
            }
            Source::Pool(Pool::MySql(pool)) => Conn::pooled(pool.acquire().await?),
            #[allow(unreachable_patterns)]
            Source::Pool(_) => return Err(wrong_target(&"the pool", "MySQL")),
        };
        Ok(Some(Self {
            conn,
            mode,
            lock_name: None,
            max_packet: None,
        }))
    }

    async fn lock(&mut self, table: &str) -> Result<bool, sqlx::Error> {
        let name = lock_name(self, table).await?;
        // 0 only when asked (a fleet's first pass tries each tenant's lock without waiting).
        let secs = match self.mode.lock_timeout {
            timeout if timeout.is_zero() => 0,
            timeout => timeout.as_secs().max(1) as i64,
        };
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(&name)
            .bind(secs)
            .fetch_one(&mut *self.conn)
            .await?;
        let locked = got == Some(1);
        if locked {
            self.lock_name = Some(name);
        }
        Ok(locked)
    }

    /// `IS_USED_LOCK` names the session holding the lock, if any.
    async fn held_by_another(&mut self, table: &str) -> Result<bool, sqlx::Error> {
        let name = lock_name(self, table).await?;
        let holder: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
            .bind(name)
            .fetch_one(&mut *self.conn)
            .await?;
        Ok(holder.is_some())
    }

    async fn unlock(&mut self, _table: &str) -> Result<(), sqlx::Error> {
        if let Some(name) = self.lock_name.take() {
            sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(name)
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    async fn applied(&mut self, table: &str) -> Result<Option<Vec<AppliedRow>>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(select_applied_sql(table)))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.code().as_deref() == Some("42S02"))?
            .map(decode_applied)
            .transpose()
    }

    async fn execute_affected(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await?;
        Ok(done.rows_affected())
    }

    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    /// A script larger than `max_allowed_packet` would be cut off by the server as
    /// "Connection reset by peer"; say so before sending it.
    async fn refusal(
        &mut self,
        sql: &str,
        _in_transaction: bool,
    ) -> Result<Option<String>, sqlx::Error> {
        if sql.len() < SURELY_FITS {
            return Ok(None);
        }
        let limit = match self.max_packet {
            Some(limit) => limit,
            None => {
                let limit: u64 =
                    sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS UNSIGNED)")
                        .fetch_one(&mut *self.conn)
                        .await?;
                *self.max_packet.insert(limit)
            }
        };
        // The packet holds the query and a command byte.
        let size = sql.len() as u64 + 1;
        Ok((size > limit).then(|| {
            format!(
                "this script is {} ({size} bytes), over the server's max_allowed_packet of {} ({limit} bytes), so the server would drop the connection: raise max_allowed_packet on the server (SET GLOBAL max_allowed_packet = {}; and in its config file), or split the script into smaller migrations",
                mebibytes(size),
                mebibytes(limit),
                size.next_power_of_two().max(limit),
            )
        }))
    }

    /// Statement by statement as the server answers them: each commits (DDL) or is
    /// rolled back with the step's transaction, and the count tells whether any took effect.
    async fn execute_counted(&mut self, sql: &str) -> Result<(), (sqlx::Error, Option<usize>)> {
        let mut results = sqlx::raw_sql(AssertSqlSafe(sql)).execute_many(&mut *self.conn);
        let mut done = 0;
        while let Some(result) = results.next().await {
            match result {
                Ok(_) => done += 1,
                Err(e) => return Err((e, Some(done))),
            }
        }
        Ok(())
    }

    fn statement_error_position(
        err: &sqlx::Error,
        script: &str,
        ran: usize,
    ) -> Option<(usize, usize)> {
        super::mysql_position::file_position(script, ran, err.as_database_error()?.message())
    }

    async fn close(self) {
        self.conn.close().await;
    }

    async fn close_failed(self) {
        self.conn.discard().await;
    }
}
