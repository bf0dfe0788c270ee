use std::str::FromStr;

use dbgen_core::{ConnectionSettings, ConnectionTarget};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgErrorPosition, PgSslMode};
use sqlx::{AssertSqlSafe, Connection};

use crate::pool::Pool;

use super::{
    AppliedRow, Conn, Engine, OpenMode, Record, Source, TextRows, decode_applied, decode_text,
    none_if_missing, quote_identifier, run_then_record, script_then, select_applied_sql,
    wrong_target,
};

/// PostgreSQL: transactional DDL, session advisory locks (released when the session ends,
/// so a killed runner leaves none behind).
pub(crate) struct Postgres {
    conn: Conn<sqlx::Postgres>,
    mode: OpenMode,
    /// The session's `search_path` before a schema tenant's run changed it.
    own_search_path: Option<String>,
}

/// How to reach `settings` on PostgreSQL, for the runner and for an application's pool.
pub(crate) fn connect_options(
    settings: &ConnectionSettings,
) -> Result<PgConnectOptions, sqlx::Error> {
    let options = match &settings.target {
        ConnectionTarget::Url(url) => PgConnectOptions::from_str(url.expose())?,
        ConnectionTarget::Server {
            host,
            port,
            database,
            user,
            password,
        } => {
            let options = PgConnectOptions::new()
                .host(host)
                .port(*port)
                .database(database)
                .username(user);
            match password {
                Some(p) => options.password(p.expose()),
                None => options,
            }
        }
        ConnectionTarget::SqliteFile(_) => return Err(wrong_target(settings, "PostgreSQL")),
    };
    Ok(without_loopback_tls(options, settings).application_name("dbgen"))
}

/// TLS to a server on this machine protects nothing, and sqlx's handshake stalls on Nagle's
/// algorithm (about 100 ms per connection), so loopback connections skip it unless
/// `sslmode` is asked for, in the URL or in `PGSSLMODE`.
fn without_loopback_tls(
    options: PgConnectOptions,
    settings: &ConnectionSettings,
) -> PgConnectOptions {
    let asked = match &settings.target {
        ConnectionTarget::Url(url) => url.expose().contains("sslmode="),
        _ => false,
    } || std::env::var_os("PGSSLMODE").is_some();
    let host = options.get_host().trim_matches(['[', ']']);
    let loopback = host == "localhost"
        || host.starts_with('/')
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback && !asked {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    }
}

/// Session settings that make the server end a runner's session soon after its client
/// dies, even in the middle of a statement, so that a killed runner's advisory lock goes
/// with it instead of lasting until the statement ends: PostgreSQL 14's
/// `client_connection_check_interval` polls the socket while a statement runs, and TCP
/// keepalives find a peer that vanished without a word. Sent with the lock request, only by
/// a runner that takes the lock on a connection of its own (`status` takes none, and an
/// application's pooled connection keeps its own settings).
const DIE_WITH_THE_CLIENT: &str =
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3";
const CHECK_THE_CLIENT: &str = "SET client_connection_check_interval = 1000";

/// Advisory locks are scoped to the current database, so the table name is the key;
/// lower-cased as PostgreSQL folds it, so `MyMigs` and `mymigs` (one table) share one lock.
fn lock_key(table: &str) -> i64 {
    let digest = Sha256::digest(format!("dbgen:{}", table.to_ascii_lowercase()).as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

impl Postgres {
    /// A schema tenant's run: its schema first on `search_path` (ahead of the session's
    /// own, so shared objects in `public` stay visible), created first when missing by a
    /// run that creates. Remembers the session's own `search_path`, to give a pooled
    /// connection back as it came.
    async fn enter_schema(&mut self, schema: &str) -> Result<(), sqlx::Error> {
        if self.mode.create {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(schema)
                    .fetch_one(&mut *self.conn)
                    .await?;
            if !exists {
                let create = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(schema));
                sqlx::raw_sql(AssertSqlSafe(create))
                    .execute(&mut *self.conn)
                    .await?;
            }
        }
        let (own, _entered): (String, String) = sqlx::query_as(
            "SELECT own, set_config('search_path', \
             CASE WHEN own = '' THEN $1 ELSE $1 || ', ' || own END, false) \
             FROM (SELECT current_setting('search_path') AS own) AS session",
        )
        .bind(quote_identifier(schema))
        .fetch_one(&mut *self.conn)
        .await?;
        self.own_search_path = Some(own);
        Ok(())
    }
}

impl Engine for Postgres {
    const TRANSACTIONAL_DDL: bool = true;
    const TEXT_TYPE: &'static str = "TEXT";
    const TEXT_CAST: &'static str = "TEXT";

    fn hex_sql(expr: &str) -> String {
        format!("encode({expr}, 'hex')")
    }

    fn epoch_ms_sql(expr: &str) -> String {
        format!("CAST(EXTRACT(EPOCH FROM {expr}) * 1000 AS BIGINT)")
    }

    async fn text_rows(&mut self, sql: &str) -> Result<Option<TextRows>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.code().as_deref() == Some("42P01"))?
            .map(decode_text)
            .transpose()
    }
    const LOCK_IS_TRANSACTION: bool = false;

    async fn open(source: Source<'_>, mode: OpenMode) -> Result<Option<Self>, sqlx::Error> {
        let conn = match source {
            Source::Settings(settings) => {
                Conn::Own(PgConnection::connect_with(&connect_options(settings)?).await?)
            }
            Source::Pool(Pool::Postgres(pool)) => Conn::pooled(pool.acquire().await?),
            #[allow(unreachable_patterns)]
            Source::Pool(_) => return Err(wrong_target(&"the pool", "PostgreSQL")),
        };
        let mut engine = Self {
            conn,
            mode,
            own_search_path: None,
        };
        if let Some(schema) = engine.mode.schema.clone() {
            engine.enter_schema(&schema).await?;
        }
        Ok(Some(engine))
    }

    async fn lock(&mut self, table: &str) -> Result<bool, sqlx::Error> {
        // lock_timeout bounds the wait and wakes us the moment the holder lets go.
        // lock_timeout is an int of milliseconds; 0 waits forever (beyond ~24.8 days anyway).
        let ms = match self.mode.lock_timeout.as_millis().max(1) {
            ms if ms > i32::MAX as u128 => 0,
            ms => ms,
        };
        let set_timeout = format!("SET lock_timeout = {ms}");
        if matches!(self.conn, Conn::Own(_)) {
            // One round trip on PostgreSQL 14 and later. An older server refuses the whole
            // query (one implicit transaction, rolled back): it keeps the keepalives only.
            let all = format!("{set_timeout}; {DIE_WITH_THE_CLIENT}; {CHECK_THE_CLIENT}");
            if sqlx::raw_sql(AssertSqlSafe(all))
                .execute(&mut *self.conn)
                .await
                .is_err()
            {
                let older = format!("{set_timeout}; {DIE_WITH_THE_CLIENT}");
                sqlx::raw_sql(AssertSqlSafe(older))
                    .execute(&mut *self.conn)
                    .await?;
            }
        } else {
            sqlx::raw_sql(AssertSqlSafe(set_timeout))
                .execute(&mut *self.conn)
                .await?;
        }
        let locked = sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(lock_key(table))
            .execute(&mut *self.conn)
            .await;
        sqlx::raw_sql("RESET lock_timeout")
            .execute(&mut *self.conn)
            .await?;
        match locked {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether another session holds the lock: taken and given back at once when free.
    async fn held_by_another(&mut self, table: &str) -> Result<bool, sqlx::Error> {
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(table))
            .fetch_one(&mut *self.conn)
            .await?;
        if free {
            self.unlock(table).await?;
        }
        Ok(!free)
    }

    async fn unlock(&mut self, table: &str) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(lock_key(table))
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn applied(&mut self, table: &str) -> Result<Option<Vec<AppliedRow>>, sqlx::Error> {
        // A simple query: one round trip, no prepare.
        let rows = sqlx::raw_sql(AssertSqlSafe(select_applied_sql(table)))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.code().as_deref() == Some("42P01"))?
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

    /// One round trip: the server measures the script's time (`statement_timestamp()` is
    /// when the whole query arrived).
    async fn run_step(
        &mut self,
        table: &str,
        sql: &str,
        record: &Record<'_>,
        alone: bool,
    ) -> Result<(), sqlx::Error> {
        if alone {
            // A multi-statement query is an implicit transaction block: run it by itself.
            return run_then_record(self, table, sql, record).await;
        }
        let elapsed =
            "CAST(EXTRACT(EPOCH FROM clock_timestamp() - statement_timestamp()) * 1000 AS BIGINT)";
        self.execute(&script_then(sql, &record.statement(table, elapsed)))
            .await
    }

    async fn close(mut self) {
        // A pooled connection goes back as it came: its own search_path.
        if let Some(own) = self.own_search_path.take()
            && matches!(self.conn, Conn::Pooled(_))
        {
            let restored = sqlx::query("SELECT set_config('search_path', $1, false)")
                .bind(own)
                .execute(&mut *self.conn)
                .await;
            if restored.is_err() {
                return self.conn.discard().await;
            }
        }
        self.conn.close().await;
    }

    async fn close_failed(self) {
        self.conn.discard().await;
    }

    fn error_position(err: &sqlx::Error) -> Option<usize> {
        let db = err
            .as_database_error()?
            .try_downcast_ref::<PgDatabaseError>()?;
        match db.position()? {
            PgErrorPosition::Original(offset) => Some(offset),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn one_table_one_lock_whatever_its_case() {
        assert_eq!(lock_key("MyMigs"), lock_key("mymigs"));
        assert_ne!(lock_key("mymigs"), lock_key("dbgen_migrations"));
    }
}
