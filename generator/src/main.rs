//! `dbgen`: scaffolds databases, migrations and seeds from templates.

mod cli;
mod commands;
mod error;
mod registry_module;
mod templates;
mod write_plan;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, MigrateCommand, SeedCommand};
use crate::error::CliError;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2 (0 for --help and --version).
    dbgen_runtime::cli::exit_quietly_on_closed_pipe();
    let cli = Cli::parse_from(dbgen_runtime::cli::expand_script_names(std::env::args_os()));
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // Flush what the command printed first, so the error is the last line.
            let _ = std::io::stdout().flush();
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    // Resolved on use: `completions` needs no project.
    let root = || project_root(cli.root.clone());
    match cli.command {
        Command::New(args) => commands::new::run(&root()?, &args)?,
        Command::Migrate(MigrateCommand::Make { database, name }) => {
            commands::make::migration(&root()?, &database, &name)?
        }
        Command::Seed(SeedCommand::Make { database, name }) => {
            commands::make::seed(&root()?, &database, &name)?
        }
        Command::Migrate(MigrateCommand::Run(command)) => {
            let (project, environment) = runtime_context(&root()?)?;
            let run = dbgen_runtime::cli::run_migrate(&command, &project.databases, &environment);
            return block_on(run);
        }
        Command::Seed(SeedCommand::Run(command)) => {
            let (project, environment) = runtime_context(&root()?)?;
            let run = dbgen_runtime::cli::run_seed(&command, &project.databases, &environment);
            return block_on(run);
        }
        Command::List => commands::list::run(&root()?)?,
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "dbgen", &mut script);
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(CliError::io("write", "standard output", e));
                }
                _ => {}
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The project as the runtime sees it: its databases, and the environment of its root
/// (`.env` there, the process environment winning), where relative SQLite paths start.
fn runtime_context(
    root: &std::path::Path,
) -> Result<(dbgen_core::Project, dbgen_runtime::Environment), CliError> {
    let project = dbgen_core::load_project(root)?;
    let environment = dbgen_runtime::Environment::from_process_at(root)?;
    Ok((project, environment))
}

/// Runs a command of the runtime's set to its exit code.
fn block_on(
    run: impl std::future::Future<Output = dbgen_runtime::cli::Exit> + Send,
) -> Result<ExitCode, CliError> {
    dbgen_runtime::cli::block_on(run)
        .map(ExitCode::from)
        .map_err(|source| CliError::AsyncRuntime { source })
}

/// `--root` as given, else the nearest folder upward holding dbgen.toml, else the current one.
fn project_root(root: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match root {
        Some(path) if path.is_dir() => Ok(path),
        Some(path) => Err(CliError::BadRoot {
            reason: if path.exists() {
                "not a folder".to_string()
            } else {
                "no such folder".to_string()
            },
            path,
        }),
        None => {
            let cwd = std::env::current_dir().map_err(|source| CliError::CurrentDir { source })?;
            Ok(dbgen_core::find_project_root(&cwd))
        }
    }
}
