//! dbgen-example: an application whose binary carries every migration and seed of this
//! repository's databases and runs them on a server that has no source tree.
//!
//! It shows the second way to serve dbgen's command set: nested in the application's own
//! clap CLI. The first way, a binary that is nothing but the command set, is one line:
//! see `examples/minimal.rs`.
//!
//! ```text
//! dbgen-example migrate latest --all        the command set, at the top level
//! dbgen-example migrate:permiso:status      knex's npm script names work too
//! dbgen-example db seed run permiso-sqlite  the same commands under `db`
//! dbgen-example serve                       the service; PERMISO_AUTO_MIGRATE=true migrates first
//! ```

mod databases;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dbgen_runtime::Databases;
use dbgen_runtime::app::DbCommand;

use crate::databases::Database;

#[derive(Debug, Parser)]
#[command(
    name = "dbgen-example",
    version,
    about = "A service with its databases built in"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the service (connects to permiso; PERMISO_AUTO_MIGRATE=true migrates it first)
    Serve {
        /// Exit once started instead of serving (a start-up check)
        #[arg(long)]
        once: bool,
    },
    /// Migrate and seed this service's databases: `db migrate latest --all`
    #[command(subcommand)]
    Db(DbCommand),
    /// The same commands at the top level: `migrate latest --all`, `seed run permiso`
    #[command(flatten)]
    Direct(DbCommand),
}

fn main() -> ExitCode {
    dbgen_runtime::app::exit_quietly_on_closed_pipe();
    let args = dbgen_runtime::expand_script_names(std::env::args_os());
    match Cli::parse_from(args).command {
        Command::Db(command) | Command::Direct(command) => command.run::<Database>().into(),
        Command::Serve { once } => serve(once),
    }
}

/// What a real service does at start-up: migrate when asked to (Permiso's
/// `PERMISO_AUTO_MIGRATE`), then open its pool.
fn serve(once: bool) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let db = Database::Permiso;
        if auto_migrate() {
            match db.migrate_latest().await {
                Ok(outcome) => println!("{}: {}", db.name(), outcome.summary()),
                Err(e) => {
                    eprintln!("error: {}: {e}", db.name());
                    return ExitCode::FAILURE;
                }
            }
        }
        let _pool = match db.connect().await {
            Ok(pool) => pool,
            Err(e) => {
                eprintln!("error: {}: {e}", db.name());
                return ExitCode::FAILURE;
            }
        };
        println!(
            "serving with {} ({} migrations built in)",
            db.name(),
            db.migrations().len()
        );
        if !once {
            // A real service would serve requests with the pool here.
            std::future::pending::<()>().await;
        }
        ExitCode::SUCCESS
    })
}

fn auto_migrate() -> bool {
    std::env::var("PERMISO_AUTO_MIGRATE")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}
