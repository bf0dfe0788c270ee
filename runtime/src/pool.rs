//! A pool on whichever engine a database's driver names.

use std::time::Duration;

use dbgen_core::{ConnectionSettings, Database, Driver};
use sqlx::pool::PoolOptions;

#[cfg(feature = "mysql")]
use crate::engine::mysql_options;
#[cfg(feature = "postgres")]
use crate::engine::postgres_options;
#[cfg(feature = "sqlite")]
use crate::engine::sqlite_options;
use crate::error::{RunError, WrongEngine};

#[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
compile_error!(
    "dbgen-runtime needs at least one engine: enable its `postgres`, `mysql` or `sqlite` feature"
);

/// A sqlx pool of one of the engines. Made by [`Databases::connect`](crate::Databases::connect),
/// or from an application's own pool: `Pool::from(pg_pool)`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pool {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

macro_rules! engine_access {
    ($feature:literal, $variant:ident, $pool:ty, $driver:ident, $into:ident, $as:ident) => {
        #[cfg(feature = $feature)]
        impl From<$pool> for Pool {
            fn from(pool: $pool) -> Self {
                Pool::$variant(pool)
            }
        }

        #[cfg(feature = $feature)]
        impl From<&$pool> for Pool {
            fn from(pool: &$pool) -> Self {
                Pool::$variant(pool.clone())
            }
        }

        #[cfg(feature = $feature)]
        impl Pool {
            #[doc = concat!("The ", stringify!($pool), ", or an error naming the engine it is.")]
            pub fn $into(self) -> Result<$pool, WrongEngine> {
                match self {
                    Pool::$variant(pool) => Ok(pool),
                    #[allow(unreachable_patterns)]
                    other => Err(other.wrong(Driver::$driver)),
                }
            }

            #[doc = concat!("A borrowed ", stringify!($pool), ", or an error naming the engine it is.")]
            pub fn $as(&self) -> Result<&$pool, WrongEngine> {
                match self {
                    Pool::$variant(pool) => Ok(pool),
                    #[allow(unreachable_patterns)]
                    other => Err(other.wrong(Driver::$driver)),
                }
            }
        }
    };
}

engine_access!(
    "postgres",
    Postgres,
    sqlx::PgPool,
    Postgres,
    into_postgres,
    as_postgres
);
engine_access!("mysql", MySql, sqlx::MySqlPool, Mysql, into_mysql, as_mysql);
engine_access!(
    "sqlite",
    Sqlite,
    sqlx::SqlitePool,
    Sqlite,
    into_sqlite,
    as_sqlite
);

impl Pool {
    /// A fleet's pool for its schema tenants: one connection per job. Each session dies
    /// with the runner (TCP keepalives from the start), and starts clean for every tenant
    /// (`DISCARD ALL`, prepared statements kept, when it comes back: one tenant's `SET`s
    /// never reach the next).
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub(crate) async fn connect_for_fleet(
        db: &Database,
        settings: &ConnectionSettings,
        jobs: u32,
    ) -> Result<Self, RunError> {
        #[cfg(feature = "postgres")]
        if db.config.driver == Driver::Postgres {
            let options = postgres_options(settings).map(|o| {
                o.options([
                    ("tcp_keepalives_idle", "10"),
                    ("tcp_keepalives_interval", "5"),
                    ("tcp_keepalives_count", "3"),
                ])
            });
            let pool = match options {
                Ok(options) => {
                    PoolOptions::<sqlx::Postgres>::new()
                        .max_connections(jobs.max(1))
                        .acquire_timeout(Duration::from_secs(db.config.pool.acquire_timeout_secs))
                        .after_release(|conn, _| {
                            Box::pin(async move {
                                // DISCARD ALL but DEALLOCATE ALL: the statements sqlx
                                // has prepared on the connection stay valid.
                                sqlx::raw_sql(SESSION_RESET).execute(conn).await?;
                                Ok(true)
                            })
                        })
                        .connect_with(options)
                        .await
                }
                Err(e) => Err(e),
            };
            return pool
                .map(Pool::Postgres)
                .map_err(|source| connect_error(settings, source));
        }
        // Schema tenants are PostgreSQL's alone: no other engine gets here.
        Self::connect(db, settings).await
    }

    /// A pool for `db`, reaching it as `settings` say, sized by its `[pool]` config.
    pub async fn connect(db: &Database, settings: &ConnectionSettings) -> Result<Self, RunError> {
        fn options<DB: sqlx::Database>(db: &Database) -> PoolOptions<DB> {
            let pool = &db.config.pool;
            PoolOptions::new()
                .max_connections(pool.max_connections)
                .min_connections(pool.min_connections)
                .acquire_timeout(Duration::from_secs(pool.acquire_timeout_secs))
        }
        let result = match db.config.driver {
            #[cfg(feature = "postgres")]
            Driver::Postgres => match postgres_options(settings) {
                Ok(o) => options(db).connect_with(o).await.map(Pool::Postgres),
                Err(e) => Err(e),
            },
            #[cfg(feature = "mysql")]
            Driver::Mysql => match mysql_options(settings) {
                Ok(o) => options(db).connect_with(o).await.map(Pool::MySql),
                Err(e) => Err(e),
            },
            #[cfg(feature = "sqlite")]
            Driver::Sqlite => match sqlite_options(settings) {
                Ok(o) => options(db)
                    .connect_with(o.create_if_missing(true))
                    .await
                    .map(Pool::Sqlite),
                Err(e) => Err(e),
            },
            #[allow(unreachable_patterns)]
            driver => return Err(engine_disabled(db, driver)),
        };
        result.map_err(|source| connect_error(settings, source))
    }

    /// The engine of this pool.
    pub fn driver(&self) -> Driver {
        match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Driver::Postgres,
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => Driver::Mysql,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Driver::Sqlite,
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => pool.close().await,
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => pool.close().await,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.close().await,
        }
    }

    fn wrong(&self, expected: Driver) -> WrongEngine {
        WrongEngine {
            what: "the pool".to_string(),
            expected,
            actual: self.driver(),
        }
    }

    /// This pool, checked to be of `db`'s engine.
    pub(crate) fn check_for(&self, db: &Database) -> Result<&Self, WrongEngine> {
        if self.driver() == db.config.driver {
            Ok(self)
        } else {
            Err(WrongEngine {
                what: format!("the pool given for {}", db.name),
                expected: db.config.driver,
                actual: self.driver(),
            })
        }
    }
}

/// The error for a database whose engine's feature is off.
pub(crate) fn engine_disabled(db: &Database, driver: Driver) -> RunError {
    RunError::EngineDisabled {
        database: db.name.to_string(),
        driver,
        feature: match driver {
            Driver::Postgres => "postgres",
            Driver::Mysql => "mysql",
            Driver::Sqlite => "sqlite",
        },
    }
}

/// What `DISCARD ALL` does, but for deallocating the prepared statements that sqlx caches.
#[cfg(feature = "postgres")]
const SESSION_RESET: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; \
     SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES";

/// A connection failure, naming what was tried with every secret hidden.
fn connect_error(settings: &ConnectionSettings, source: sqlx::Error) -> RunError {
    let mut redactor = dbgen_core::Redactor::new();
    match &settings.target {
        dbgen_core::ConnectionTarget::Url(url) => redactor.add_url(url.expose()),
        dbgen_core::ConnectionTarget::Server {
            password: Some(password),
            ..
        } => redactor.add(password.expose()),
        _ => {}
    }
    RunError::Connect {
        target: settings.to_string(),
        variables: settings.variables_list(),
        message: crate::error::connect_message(&source),
        source,
    }
    .redacted(&redactor)
}
