//! dbgen-example: an async service whose binary carries every migration and seed of this
//! repository's databases and runs them on a server that has no source tree.
//!
//! It shows the two things a real service does with dbgen:
//! - `serve` migrates on start (when `PERMISO_AUTO_MIGRATE=true`) through the service's own
//!   sqlx pool, quietly, and logs what happened itself;
//! - dbgen's command set, nested under `db` in the service's own clap CLI. The binary that
//!   is nothing but the command set is one line: see `examples/minimal.rs`.
//!
//! ```text
//! dbgen-example serve                       the service; PERMISO_AUTO_MIGRATE=true migrates first
//! dbgen-example db migrate latest --all     the command set under `db`
//! dbgen-example db migrate:permiso:status   knex's npm script names work too
//! ```

mod databases;
#[cfg(test)]
mod db_tests;

use std::error::Error;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dbgen_runtime::Databases;
use dbgen_runtime::cli::DbCommand;

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
}

#[tokio::main]
async fn main() -> ExitCode {
    dbgen_runtime::cli::exit_quietly_on_closed_pipe();
    match Cli::parse().command {
        Command::Db(command) => command.run::<Database>().await.into(),
        Command::Serve { once } => match serve(once).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// What a real service does at start-up: open its pool, migrate through it when asked to
/// (Permiso's `PERMISO_AUTO_MIGRATE`), then serve.
async fn serve(once: bool) -> Result<(), Box<dyn Error>> {
    let db = Database::Permiso;
    let pool = db.connect().await?.into_postgres()?;
    if auto_migrate() {
        // Quiet: the outcome comes back as data, and the service logs it its own way.
        let outcome = db.migrator().on(&pool).latest().await?;
        for step in outcome.steps() {
            println!("{}: applied {} in {:?}", db.name(), step.id, step.took);
        }
        println!("{}: {}", db.name(), outcome.summary());
    }
    let status = db.migrator().on(&pool).status().await?;
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "serving with {} ({} migrations built in, {}; {tables} tables)",
        db.name(),
        db.migrations().len(),
        status.summary()
    );
    if !once {
        // A real service would serve requests with the pool here.
        tokio::signal::ctrl_c().await?;
    }
    pool.close().await;
    Ok(())
}

fn auto_migrate() -> bool {
    std::env::var("PERMISO_AUTO_MIGRATE")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}
