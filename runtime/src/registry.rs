//! What `#[derive(Databases)]` gives an application: its databases as `'static` data, and
//! for each one its connection, a pool, and `migrate_latest` for migrate-on-start.

use std::future::Future;
use std::time::Duration;

use dbgen_core::{
    ConnectionSettings, Database, DatabaseConfig, Driver, Migration, Seed, resolve_connection,
};
use sqlx::pool::PoolOptions;

use crate::engine::{mysql_options, postgres_options, sqlite_options};
use crate::error::{RunError, describe};
use crate::migrator::{Action, MigrateOptions, Outcome};
use crate::output::OutputMode;
use crate::run::{Context, Job, RunSettings, run_one};

/// An application's databases, one enum variant each. Implemented by `#[derive(Databases)]`.
pub trait Databases: Copy + Sized + Send + Sync + 'static {
    /// Every database, in the enum's order.
    const ALL: &'static [Self];

    /// Every database's definition, in the enum's order.
    fn registry() -> &'static [Database];

    /// This database's name, config, migrations and seeds, as embedded at compile time.
    fn definition(self) -> &'static Database;

    /// The database's name: its folder under `database/`.
    fn name(self) -> &'static str {
        &self.definition().name
    }

    fn config(self) -> &'static DatabaseConfig {
        &self.definition().config
    }

    fn migrations(self) -> &'static [Migration] {
        &self.definition().migrations
    }

    fn seeds(self) -> &'static [Seed] {
        &self.definition().seeds
    }

    /// Where this database lives, from `{P}_DB_*` in the environment (and `./.env`).
    fn connection(self) -> Result<ConnectionSettings, RunError> {
        let ctx = Context::from_current_dir()?;
        Ok(resolve_connection(
            self.definition(),
            &ctx.env,
            &ctx.base_dir,
        )?)
    }

    /// A connection pool sized by the database's `[pool]` config.
    fn connect(self) -> impl Future<Output = Result<Pool, RunError>> + Send {
        async move { Pool::connect(self.definition(), &self.connection()?).await }
    }

    /// Applies every pending migration (for apps that migrate on start); waits for another
    /// runner's lock as `lock_timeout` says.
    fn migrate_latest(self) -> impl Future<Output = Result<Outcome, RunError>> + Send {
        async move {
            let ctx = Context::from_current_dir()?;
            let job = Job::Migrate(Action::Latest { to: None }, MigrateOptions::default());
            let settings = RunSettings {
                jobs: 1,
                lock_timeout: None,
                output: OutputMode::default(),
            };
            run_one(self.definition(), &job, &ctx, settings).await
        }
    }
}

/// A pool on whichever engine the database's driver names.
#[derive(Debug, Clone)]
pub enum Pool {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

impl Pool {
    pub async fn connect(db: &Database, settings: &ConnectionSettings) -> Result<Self, RunError> {
        fn options<DB: sqlx::Database>(db: &Database) -> PoolOptions<DB> {
            let pool = &db.config.pool;
            PoolOptions::new()
                .max_connections(pool.max_connections)
                .min_connections(pool.min_connections)
                .acquire_timeout(Duration::from_secs(pool.acquire_timeout_secs))
        }
        let result = match db.config.driver {
            Driver::Postgres => match postgres_options(settings) {
                Ok(o) => options(db).connect_with(o).await.map(Pool::Postgres),
                Err(e) => Err(e),
            },
            Driver::Mysql => match mysql_options(settings) {
                Ok(o) => options(db).connect_with(o).await.map(Pool::MySql),
                Err(e) => Err(e),
            },
            Driver::Sqlite => match sqlite_options(settings) {
                Ok(o) => options(db)
                    .connect_with(o.create_if_missing(true))
                    .await
                    .map(Pool::Sqlite),
                Err(e) => Err(e),
            },
        };
        result.map_err(|e| RunError::Connect {
            target: settings.to_string(),
            variables: settings.variables_list(),
            message: describe(&e),
        })
    }

    pub fn as_postgres(&self) -> Option<&sqlx::PgPool> {
        match self {
            Pool::Postgres(pool) => Some(pool),
            _ => None,
        }
    }

    pub fn as_mysql(&self) -> Option<&sqlx::MySqlPool> {
        match self {
            Pool::MySql(pool) => Some(pool),
            _ => None,
        }
    }

    pub fn as_sqlite(&self) -> Option<&sqlx::SqlitePool> {
        match self {
            Pool::Sqlite(pool) => Some(pool),
            _ => None,
        }
    }
}
