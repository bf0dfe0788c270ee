//! The command set inside an application's own binary, over its embedded registry: as the
//! whole binary ([`main`], [`run`]) or nested in the application's clap CLI ([`DbCommand`]).

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use super::{Exit, MigrateCommand, SeedCommand, expand_script_names, run_migrate, run_seed};
use crate::environment::Environment;
use crate::registry::Databases;

/// `migrate ...` and `seed ...`, to nest under a subcommand of an application's own clap
/// CLI (`myapp db migrate latest --all`, `myapp db migrate:shop:status`). Nest it with
/// `#[command(subcommand)]`, not `#[command(flatten)]`: it takes every name it does not know
/// as a knex script name, so flattened it would swallow the application's own commands.
/// For the command set at the top level of a binary, use [`main`].
///
/// ```no_run
/// # #[derive(Clone, Copy, dbgen_runtime::Databases)]
/// # #[databases(root = "../database")]
/// # enum Database { Permiso, PermisoTest, PermisoSqlite }
/// use clap::Parser;
/// use dbgen_runtime::cli::{DbCommand, Exit};
///
/// #[derive(Parser)]
/// enum Cli {
///     /// Migrate and seed the databases
///     #[command(subcommand)]
///     Db(DbCommand),
///     Serve,
/// }
///
/// #[tokio::main]
/// async fn main() -> Exit {
///     match Cli::parse() {
///         Cli::Db(command) => command.run::<Database>().await,
///         Cli::Serve => Exit::Success,
///     }
/// }
/// ```
#[derive(Debug, Clone, Subcommand)]
#[non_exhaustive]
pub enum DbCommand {
    /// Run migrations: latest, rollback, reset, status, up, down
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Run seeds
    #[command(subcommand)]
    Seed(SeedCommand),
    /// knex's script names (`migrate:<db>:latest`, `migrate:all:status`, `seed:<db>:run`),
    /// rewritten to the commands above when run.
    #[command(external_subcommand)]
    Script(Vec<OsString>),
}

/// Parses a knex script name and what follows it (`migrate:shop:status --json`).
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct ScriptName {
    #[command(subcommand)]
    command: DbCommand,
}

impl DbCommand {
    /// Runs the command over `D`'s databases with the process environment (and `.env` in the
    /// project root: `$DBGEN_ROOT`, else the current folder). Prints as the `dbgen` command
    /// does; inside any tokio runtime.
    pub async fn run<D: Databases>(&self) -> Exit {
        match Environment::from_process() {
            Ok(environment) => self.run_in::<D>(&environment).await,
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Failure
            }
        }
    }

    /// Runs the command with `environment`'s variables and project root.
    pub async fn run_in<D: Databases>(&self, environment: &Environment) -> Exit {
        let parsed;
        let command = match self {
            DbCommand::Script(args) => match parse_script_name(args) {
                Ok(command) => {
                    parsed = command;
                    &parsed
                }
                Err(exit) => return exit,
            },
            command => command,
        };
        match command {
            DbCommand::Migrate(command) => run_migrate(command, D::registry(), environment).await,
            DbCommand::Seed(command) => run_seed(command, D::registry(), environment).await,
            DbCommand::Script(args) => unknown_command(args),
        }
    }

    /// [`run`](Self::run) from synchronous code (a plain `fn main`). Inside a tokio runtime
    /// it runs on a thread of its own rather than panic.
    pub fn run_blocking<D: Databases>(&self) -> Exit {
        match block_on(self.run::<D>()) {
            Ok(exit) => exit,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                Exit::Failure
            }
        }
    }
}

fn parse_script_name(args: &[OsString]) -> Result<DbCommand, Exit> {
    let expanded = expand_script_names(args.iter().cloned());
    if expanded.as_slice() == args {
        return Err(unknown_command(args));
    }
    match ScriptName::try_parse_from(expanded) {
        Ok(parsed) => Ok(parsed.command),
        Err(e) => {
            let _ = e.print();
            Err(if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            })
        }
    }
}

fn unknown_command(args: &[OsString]) -> Exit {
    let name = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    eprintln!(
        "error: unknown command `{name}`: use `migrate`, `seed`, or a knex script name (migrate:<db>:latest, migrate:all, seed:<db>:run); --help lists them"
    );
    Exit::Usage
}

/// A whole binary that is nothing but the command set.
#[derive(Debug, Parser)]
#[command(about = "Migrate and seed this application's databases")]
struct AppCli {
    /// The project root: where .env is read and relative SQLite paths start
    #[arg(long, value_name = "DIR", env = Environment::ROOT_VARIABLE, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: DbCommand,
}

/// Lets a closed pipe (`myapp migrate status --all | head -1`) end the process quietly, as
/// it does for other command-line tools, instead of `println!` panicking. Call it first in
/// `main`. Database connections are unaffected: sqlx writes to sockets with `MSG_NOSIGNAL`.
pub fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before other threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Parses the process's arguments (knex script names included) and runs them over `D`:
/// the whole `main` of a binary that is nothing but the command set.
///
/// ```no_run
/// # #[derive(Clone, Copy, dbgen_runtime::Databases)]
/// # #[databases(root = "../database")]
/// # enum Database { Permiso, PermisoTest, PermisoSqlite }
/// fn main() -> std::process::ExitCode {
///     dbgen_runtime::cli::main::<Database>()
/// }
/// ```
pub fn main<D: Databases>() -> ExitCode {
    exit_quietly_on_closed_pipe();
    match block_on(run::<D>()) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            Exit::Failure.into()
        }
    }
}

/// [`main`] for an async `main`: parses the process's arguments and runs them over `D`.
pub async fn run<D: Databases>() -> Exit {
    let args: Vec<OsString> = std::env::args_os().collect();
    let bin = args
        .first()
        .and_then(|arg| std::path::Path::new(arg).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".to_string());
    let names: Vec<&str> = D::ALL.iter().map(|db| db.name()).collect();
    let help = format!(
        "Databases (in the order --all runs them): {}\n\nknex's script names work too: migrate:<db>:latest, migrate:<db>:status, migrate:all, migrate:all:rollback, seed:<db>:run.\nThe project root (where .env is read and relative SQLite paths start) is --root, else ${}, else the current folder.",
        names.join(", "),
        Environment::ROOT_VARIABLE
    );
    let command = AppCli::command()
        .name(bin.clone())
        .bin_name(bin)
        .after_help(help);
    let matches = command.get_matches_from(expand_script_names(args));
    let cli = match AppCli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let environment = match cli.root {
        Some(root) if !root.is_dir() => {
            eprintln!(
                "error: --root {}: no such folder; give the folder holding .env (and the SQLite files)",
                root.display()
            );
            return Exit::Usage;
        }
        Some(root) => Environment::from_process_at(root),
        None => Environment::from_process(),
    };
    match environment {
        Ok(environment) => cli.command.run_in::<D>(&environment).await,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}

/// Runs `future` to completion from synchronous code: on this thread when no tokio runtime
/// runs on it, else on a thread of its own, since a runtime cannot block inside another.
pub fn block_on<F>(future: F) -> std::io::Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let run = move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(future))
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| match scope.spawn(run).join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    } else {
        run()
    }
}
