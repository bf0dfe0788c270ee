//! The command set inside an application's own binary, over its embedded registry.
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     dbgen_runtime::app::main::<Database>()
//! }
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::aliases::expand_script_names;
use crate::commands::{Exit, MigrateCommand, SeedCommand, run_migrate, run_seed};
use crate::registry::Databases;
use crate::run::Context;

/// `migrate ...` and `seed ...`, to nest in an application's own clap CLI
/// (`myapp db migrate latest --all`).
#[derive(Debug, Clone, Subcommand)]
pub enum DbCommand {
    /// Run migrations: latest, rollback, reset, status, up, down
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Run seeds
    #[command(subcommand)]
    Seed(SeedCommand),
}

impl DbCommand {
    /// Runs the command over `D`'s databases, with the environment of the current folder.
    pub fn run<D: Databases>(&self) -> Exit {
        let ctx = match Context::from_current_dir() {
            Ok(ctx) => ctx,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        };
        match self {
            DbCommand::Migrate(command) => run_migrate(command, D::registry(), &ctx),
            DbCommand::Seed(command) => run_seed(command, D::registry(), &ctx),
        }
    }
}

/// A whole binary that is nothing but the command set.
#[derive(Debug, Parser)]
#[command(version, about = "Migrate and seed this application's databases")]
struct AppCli {
    #[command(subcommand)]
    command: DbCommand,
}

/// Lets a closed pipe (`dbgen migrate status --all | head -1`) end the process quietly, as
/// it does for other command-line tools, instead of `println!` panicking. Call it first in
/// `main`. Database connections are unaffected: sqlx writes to sockets with `MSG_NOSIGNAL`.
pub fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before other threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Parses the process's arguments (knex script names included) and runs them over `D`.
pub fn main<D: Databases>() -> ExitCode {
    exit_quietly_on_closed_pipe();
    let cli = AppCli::parse_from(expand_script_names(std::env::args_os()));
    cli.command.run::<D>().into()
}
