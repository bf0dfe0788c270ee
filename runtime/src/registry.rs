//! What `#[derive(Databases)]` gives an application: its databases as `'static` data, and
//! for each one its connection, a pool, and a [`Migrator`].

use std::future::Future;

use dbgen_core::{
    ConnectionSettings, Database, DatabaseConfig, Migration, Seed, Tenant, resolve_connection,
};

use crate::environment::Environment;
use crate::error::RunError;
use crate::fleet::Fleet;
use crate::migrator::{Migrator, Outcome};
use crate::pool::Pool;
use crate::tenants::list_tenants;

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

    /// Its config: `dbgen.toml` merged with its `database.toml`.
    fn config(self) -> &'static DatabaseConfig {
        &self.definition().config
    }

    /// Its migrations, in version order.
    fn migrations(self) -> &'static [Migration] {
        &self.definition().migrations
    }

    /// Its seeds, in name order.
    fn seeds(self) -> &'static [Seed] {
        &self.definition().seeds
    }

    /// Where this database lives, from its `{P}_DB_*` variables in the process environment
    /// (over `.env` in the project root: `$DBGEN_ROOT`, else the current folder).
    fn connection(self) -> Result<ConnectionSettings, RunError> {
        self.connection_in(&Environment::from_process()?)
    }

    /// Where this database lives, from `environment`'s variables.
    fn connection_in(self, environment: &Environment) -> Result<ConnectionSettings, RunError> {
        Ok(resolve_connection(
            self.definition(),
            environment.vars(),
            environment.root(),
        )?)
    }

    /// A connection pool sized by the database's `[pool]` config; `.into_postgres()` (and
    /// friends) give the sqlx pool.
    fn connect(self) -> impl Future<Output = Result<Pool, RunError>> + Send {
        async move { Pool::connect(self.definition(), &self.connection()?).await }
    }

    /// Runs this database's migrations and seeds: `Database::Shop.migrator().on(&pool).latest()`.
    fn migrator(self) -> Migrator<'static> {
        Migrator::new(self.definition())
    }

    /// Its tenants, from its `[tenants]` list (the connections from the process
    /// environment); an error when it has none.
    fn tenants(self) -> impl Future<Output = Result<Vec<Tenant>, RunError>> + Send {
        async move {
            let environment = Environment::from_process()?;
            list_tenants(self.definition(), Self::registry(), &environment).await
        }
    }

    /// A fleet of `tenants` of this database: `Database::Shard.fleet(tenants).jobs(8).latest()`.
    fn fleet(self, tenants: Vec<Tenant>) -> Fleet<'static> {
        Fleet::new(self.definition(), tenants)
    }

    /// Applies every pending migration on a connection of its own (for apps that migrate on
    /// start); waits for another runner's lock as `lock_timeout` says. Prints nothing.
    fn migrate_latest(self) -> impl Future<Output = Result<Outcome, RunError>> + Send {
        async move { self.migrator().latest().await }
    }
}
