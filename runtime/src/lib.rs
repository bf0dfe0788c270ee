//! dbgen-runtime: runs a registry of databases (read from disk by `dbgen`, or embedded in an
//! application by `#[derive(Databases)]`) with knex's commands, made safe: checksums, locks
//! that die with their runner, one batch per transaction where the engine allows it.
//!
//! On MySQL and MariaDB every DDL statement commits implicitly, so a batch cannot be one
//! transaction there: each migration commits with its tracking row, and a migration that
//! fails halfway may leave its earlier statements applied (its row is not written).

mod aliases;
pub mod app;
mod commands;
mod engine;
mod error;
mod migrator;
mod output;
mod plan;
mod registry;
mod report;
mod run;
mod seeder;

pub use aliases::expand_script_names;
pub use commands::{Exit, MigrateCommand, SeedCommand, Targets, run_migrate, run_seed, select};
pub use dbgen_core as core;
pub use dbgen_macros::Databases;
pub use engine::AppliedRow;
pub use error::{Refusal, RunError};
pub use migrator::{Action, MigrateOptions, Outcome};
pub use output::OutputMode;
pub use plan::State;
pub use registry::{Databases, Pool};
pub use report::{MigrationReport, StatusReport};
pub use run::{Context, Job, RunSettings, run_many, run_one};
