//! dbgen-runtime: runs the databases that `#[derive(Databases)]` embeds in an application
//! (or that the `dbgen` binary reads from disk) with knex's commands, made safe: checksums,
//! locks that die with their runner, one batch per transaction where the engine allows it.
//!
//! The library is async and quiet: every call returns what happened as data
//! ([`Outcome`], [`StatusReport`]) and emits [`tracing`] events, and prints nothing. It
//! runs inside any tokio runtime, on its own connection or through a pool the
//! application already holds:
//!
//! ```no_run
//! # #[cfg(all(feature = "postgres", feature = "sqlite"))]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use dbgen_runtime::Databases;
//!
//! #[derive(Debug, Clone, Copy, Databases)]
//! #[databases(root = "../database")]
//! enum Database {
//!     Permiso,
//!     PermisoTest,
//!     PermisoSqlite,
//! }
//!
//! let pool = Database::Permiso.connect().await?.into_postgres()?; // a sqlx::PgPool
//! let outcome = Database::Permiso.migrator().on(&pool).latest().await?;
//! for step in outcome.steps() {
//!     println!("applied {} in {:?}", step.id, step.took);
//! }
//! # Ok(()) }
//! ```
//!
//! A database whose `database.toml` lists tenants (`[tenants]`: PostgreSQL schemas, a query on
//! a control database, or a file) runs on each of them: [`Migrator::tenant`] migrates one (a
//! sign-up, through the application's pool), [`list_tenants`] reads the list, and [`Fleet`]
//! runs a command on many, each under its own lock, so that several processes can share a
//! fleet without a coordinator.
//!
//! Printing, progress bars, JSON and exit codes live in the command set, [`cli`] (feature
//! `cli`), which an application serves as its whole binary or nested in its own clap CLI.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `postgres` | yes | PostgreSQL |
//! | `mysql` | yes | MySQL and MariaDB |
//! | `sqlite` | yes | SQLite, its C library compiled in |
//! | `cli` | yes | the command set: clap, progress bars, JSON output |
//!
//! A database whose engine's feature is off is a compile error naming the feature.
//!
//! On MySQL and MariaDB every DDL statement commits implicitly, so a batch cannot be one
//! transaction there: each migration is recorded as started before it runs and completed
//! after. One that fails or whose runner dies halfway stays recorded as interrupted, and
//! `latest` refuses to run past it until [`Migrator::resolve`] (or `migrate resolve`) says
//! what really happened.

#![warn(missing_docs)]

mod adopt;
#[cfg(feature = "cli")]
pub mod cli;
mod engine;
mod environment;
mod error;
mod execute;
mod fleet;
mod migrator;
mod observer;
mod plan;
mod pool;
mod registry;
mod report;
mod seeder;
mod tenants;
#[cfg(feature = "testing")]
pub mod testing;

pub use adopt::{Adoption, Recorded, RecordedMigration, Tool, Treatment};
pub use dbgen_core as core;
pub use dbgen_core::{Tenant, TenantPlace};
pub use dbgen_macros::Databases;
/// `#[dbgen_runtime::test(Database::Shop)]`: a test on a fresh, fully migrated database
/// (feature `testing`; see [`testing`]).
#[cfg(feature = "testing")]
pub use dbgen_macros::test;
pub use engine::{AppliedRow, Interruption};
pub use environment::Environment;
pub use error::{
    AdoptionConflicts, InterruptedMigration, MigrationId, Refusal, RunError, WrongEngine,
};
pub use fleet::{Fleet, FleetEnd, FleetReport, TenantOutcome};
pub use migrator::{Action, Migrator, Outcome, PlannedScript, StepReport};
pub use plan::State;
pub use pool::Pool;
pub use registry::Databases;
pub use report::{MigrationReport, StatusReport};
/// The sqlx this crate is built with: name its types through it (`dbgen_runtime::sqlx::PgPool`)
/// and they always match the pools dbgen hands out.
pub use sqlx;
pub use tenants::list_tenants;

/// Which engines this build of dbgen-runtime has, for the derive's compile-time check.
#[doc(hidden)]
pub mod __features {
    /// The `postgres` feature is on.
    pub const POSTGRES: bool = cfg!(feature = "postgres");
    /// The `mysql` feature is on.
    pub const MYSQL: bool = cfg!(feature = "mysql");
    /// The `sqlite` feature is on.
    pub const SQLITE: bool = cfg!(feature = "sqlite");
}
