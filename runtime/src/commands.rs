//! The command set every binary serves: `dbgen` over the registry it reads from disk, an
//! application over the registry its derive embedded.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use dbgen_core::Database;

use crate::migrator::{Action, MigrateOptions, Outcome};
use crate::output::OutputMode;
use crate::run::{Context, Job, RunSettings, run_many};

/// Which databases a command runs on. There is no default database.
#[derive(Debug, Clone, Args)]
pub struct Targets {
    /// The databases to run on, in the order given
    #[arg(value_name = "DB")]
    pub databases: Vec<String>,
    /// Run on every database, in name order
    #[arg(long, conflicts_with = "databases")]
    pub all: bool,
    /// How many databases to run at once
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Seconds to wait for another runner's lock [default: the database's lock_timeout, 60]
    #[arg(long, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
}

/// Running migrations. Every command takes database names or --all.
#[derive(Debug, Clone, Subcommand)]
pub enum MigrateCommand {
    /// Apply every pending migration, recorded as one new batch
    ///
    /// Example: dbgen migrate latest permiso audit
    Latest {
        #[command(flatten)]
        targets: Targets,
        /// Stop after this version (apply only migrations up to and including it)
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Refuse pending migrations older than the newest applied one instead of warning
        #[arg(long)]
        strict: bool,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Revert the last batch, newest migration first
    ///
    /// Example: dbgen migrate rollback permiso --to 20250823075842
    Rollback {
        #[command(flatten)]
        targets: Targets,
        /// Instead of the last batch, revert every migration newer than this version (0: all)
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Revert every applied migration, newest first
    ///
    /// Example: dbgen migrate reset permiso-test
    Reset {
        #[command(flatten)]
        targets: Targets,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Show applied, pending, modified, missing and ahead migrations
    ///
    /// Exits 0 whenever it could report. With --exit-code it exits 3 when any database has a
    /// pending, modified or missing migration, for deploy gates and readiness checks.
    ///
    /// Example: dbgen migrate status --all --exit-code
    #[command(visible_alias = "list")]
    Status {
        #[command(flatten)]
        targets: Targets,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Exit 3 unless every database is up to date
        #[arg(long)]
        exit_code: bool,
    },
    /// Apply one migration: the oldest pending one, or --migration VERSION
    ///
    /// Example: dbgen migrate up permiso
    Up {
        #[command(flatten)]
        targets: Targets,
        /// The version to apply
        #[arg(long, value_name = "VERSION")]
        migration: Option<i64>,
        /// Refuse a migration older than the newest applied one instead of warning
        #[arg(long)]
        strict: bool,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Revert one migration: the newest of the last batch, or --migration VERSION
    ///
    /// Example: dbgen migrate down permiso
    Down {
        #[command(flatten)]
        targets: Targets,
        /// The version to revert
        #[arg(long, value_name = "VERSION")]
        migration: Option<i64>,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// Running seeds.
#[derive(Debug, Clone, Subcommand)]
pub enum SeedCommand {
    /// Run every seed in name order, each in its own transaction (seeds are not tracked)
    ///
    /// Example: dbgen seed run permiso --specific 01_roles
    Run {
        #[command(flatten)]
        targets: Targets,
        /// Run only this seed (its name, with or without .sql)
        #[arg(long, value_name = "NAME")]
        specific: Option<String>,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// How a command ended, as the process's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Usage = 2,
    /// `status --exit-code`: something is pending, modified or missing.
    NotUpToDate = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

impl MigrateCommand {
    fn parts(&self) -> (&Targets, Job) {
        let options = |dry_run: bool, strict: bool| MigrateOptions { dry_run, strict };
        match self {
            MigrateCommand::Latest {
                targets,
                to,
                strict,
                dry_run,
            } => (
                targets,
                Job::Migrate(Action::Latest { to: *to }, options(*dry_run, *strict)),
            ),
            MigrateCommand::Rollback {
                targets,
                to,
                dry_run,
            } => (
                targets,
                Job::Migrate(Action::Rollback { to: *to }, options(*dry_run, false)),
            ),
            MigrateCommand::Reset { targets, dry_run } => (
                targets,
                Job::Migrate(Action::Reset, options(*dry_run, false)),
            ),
            MigrateCommand::Status { targets, .. } => (targets, Job::Status),
            MigrateCommand::Up {
                targets,
                migration,
                strict,
                dry_run,
            } => (
                targets,
                Job::Migrate(
                    Action::Up {
                        version: *migration,
                    },
                    options(*dry_run, *strict),
                ),
            ),
            MigrateCommand::Down {
                targets,
                migration,
                dry_run,
            } => (
                targets,
                Job::Migrate(
                    Action::Down {
                        version: *migration,
                    },
                    options(*dry_run, false),
                ),
            ),
        }
    }
}

/// Runs a `migrate` command over `databases` and reports on stdout/stderr.
pub fn run_migrate(command: &MigrateCommand, databases: &[Database], ctx: &Context) -> Exit {
    let (targets, job) = command.parts();
    let (json, exit_code) = match command {
        MigrateCommand::Status {
            json, exit_code, ..
        } => (*json, *exit_code),
        _ => (false, false),
    };
    execute(targets, &job, databases, ctx, json, exit_code)
}

/// Runs a `seed` command over `databases`.
pub fn run_seed(command: &SeedCommand, databases: &[Database], ctx: &Context) -> Exit {
    let SeedCommand::Run {
        targets,
        specific,
        dry_run,
    } = command;
    let job = Job::Seed {
        specific: specific.clone(),
        dry_run: *dry_run,
    };
    execute(targets, &job, databases, ctx, false, false)
}

/// The databases `targets` names, in the order named, or all of them with --all.
pub fn select<'a>(
    databases: &'a [Database],
    targets: &Targets,
) -> Result<Vec<&'a Database>, String> {
    let known = || {
        if databases.is_empty() {
            "this project has no databases yet (create one with `dbgen new <name>`)".to_string()
        } else {
            format!(
                "known databases: {}",
                databases
                    .iter()
                    .map(|d| d.name.as_ref())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    if targets.all {
        return Ok(databases.iter().collect());
    }
    if targets.databases.is_empty() {
        return Err(format!(
            "name the databases to run on, or pass --all; {}",
            known()
        ));
    }
    let mut selected: Vec<&Database> = Vec::new();
    for name in &targets.databases {
        let db = databases
            .iter()
            .find(|d| d.name == name.as_str())
            .ok_or_else(|| format!("unknown database `{name}`; {}", known()))?;
        if !selected.iter().any(|s| s.name == db.name) {
            selected.push(db);
        }
    }
    Ok(selected)
}

fn execute(
    targets: &Targets,
    job: &Job,
    databases: &[Database],
    ctx: &Context,
    json: bool,
    exit_code: bool,
) -> Exit {
    let selected = match select(databases, targets) {
        Ok(selected) => selected,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Usage;
        }
    };
    let jobs = usize::from(targets.jobs);
    let mut output = OutputMode::detect(jobs);
    output.quiet = json;
    let settings = RunSettings {
        jobs,
        lock_timeout: targets.lock_timeout.map(Duration::from_secs),
        output,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure;
        }
    };
    let results = runtime.block_on(run_many(&selected, job, ctx, settings, |db, result| {
        if json {
            return;
        }
        match result {
            Ok(Outcome::Status(report)) => println!("{}", report.to_table()),
            Ok(outcome) => println!("{}: {}", db.name, outcome.summary()),
            Err(e) => eprintln!("{}: error: {e}", db.name),
        }
    }));

    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(db, _)| db.name.as_ref())
        .collect();
    let behind = results
        .iter()
        .any(|(_, r)| matches!(r, Ok(Outcome::Status(report)) if !report.up_to_date));
    if json {
        let items: Vec<serde_json::Value> = results
            .iter()
            .map(|(db, r)| match r {
                Ok(Outcome::Status(report)) => serde_json::to_value(report).unwrap_or_default(),
                Ok(other) => serde_json::json!({ "database": db.name, "result": other.summary() }),
                Err(e) => serde_json::json!({ "database": db.name, "error": e.to_string() }),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        );
    } else if results.len() > 1 {
        let ok = results.len() - failed.len();
        if failed.is_empty() {
            println!("{} databases: {ok} ok", results.len());
        } else {
            println!(
                "{} databases: {ok} ok, {} failed ({})",
                results.len(),
                failed.len(),
                failed.join(", ")
            );
        }
    }
    if !failed.is_empty() {
        Exit::Failure
    } else if exit_code && behind {
        Exit::NotUpToDate
    } else {
        Exit::Success
    }
}
