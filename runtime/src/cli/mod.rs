//! The command set every binary serves: `dbgen` over the registry it reads from disk, an
//! application over the registry its derive embedded (feature `cli`).
//!
//! This is the only part of the crate that prints: result lines, progress bars, JSON, and
//! the process's exit code.
//!
//! ```no_run
//! # #[derive(Clone, Copy, dbgen_runtime::Databases)]
//! # #[databases(root = "../database")]
//! # enum Database { Permiso, PermisoTest, PermisoSqlite }
//! fn main() -> std::process::ExitCode {
//!     dbgen_runtime::cli::main::<Database>() // myapp migrate latest --all
//! }
//! ```

mod aliases;
mod app;
mod fleet;
mod fleet_status;
mod jobs;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use dbgen_core::{Database, Redactor, known_databases_message};

pub use aliases::expand_script_names;
pub use app::{DbCommand, block_on, exit_quietly_on_closed_pipe, main};
pub use fleet::{Partition, TenantChoice};

use crate::environment::Environment;
use crate::error::{Refusal, RunError};
use crate::execute::{Job, MigrateOptions};
use crate::migrator::{Action, Outcome};
use jobs::{RunSettings, run_many};
use output::OutputMode;

/// Which databases a command runs on. There is no default database.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct Targets {
    /// The databases to run on, in the order given
    #[arg(value_name = "DB")]
    pub databases: Vec<String>,
    /// Run on every database, in the project's order (an application's enum order; `dbgen`: name order)
    #[arg(long, conflicts_with = "databases")]
    pub all: bool,
    /// How many databases (or tenants) to run at once
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Seconds to wait for another runner's lock [default: the database's lock_timeout, 60]
    #[arg(long, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
    /// The tenants to run on, for a database that lists them.
    #[command(flatten)]
    pub tenants: TenantChoice,
}

impl Targets {
    /// One database, for the commands that name exactly one (`resolve`, `baseline`).
    fn one(database: &str, lock_timeout: Option<u64>, tenants: &TenantChoice) -> Self {
        Self {
            databases: vec![database.to_string()],
            all: false,
            jobs: 1,
            lock_timeout,
            tenants: tenants.clone(),
        }
    }
}

/// Running migrations. Every command takes database names or --all.
#[derive(Debug, Clone, Subcommand)]
#[non_exhaustive]
pub enum MigrateCommand {
    /// Apply every pending migration, recorded as one new batch
    ///
    /// Example: `migrate latest <DB> <DB>`
    Latest {
        /// The databases to run on.
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
    /// Example: `migrate rollback <DB> --to <VERSION>`
    Rollback {
        /// The databases to run on.
        #[command(flatten)]
        targets: Targets,
        /// Instead of the last batch, revert every migration newer than this version (`reset` reverts every one, version 0 too)
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Revert every applied migration, newest first
    ///
    /// Example: `migrate reset <DB>`
    Reset {
        /// The databases to run on.
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
    /// Example: `migrate status --all --exit-code`
    #[command(visible_alias = "list")]
    Status {
        /// The databases to run on.
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
    /// Example: `migrate up <DB>`
    Up {
        /// The databases to run on.
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
    /// Example: `migrate down <DB>`
    Down {
        /// The databases to run on.
        #[command(flatten)]
        targets: Targets,
        /// The version to revert
        #[arg(long, value_name = "VERSION")]
        migration: Option<i64>,
        /// Print the SQL that would run; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Record what really happened to an interrupted migration
    ///
    /// A migration that cannot be rolled back (any migration on MySQL and MariaDB, a
    /// no-transaction one anywhere) is recorded before it runs. If its runner dies or it
    /// fails halfway, `status` shows it as interrupted and `latest` and `rollback` refuse to
    /// run past it. Check the schema, then record what you find: --applied when it is
    /// complete (finished by hand), --reverted when none of it remains (undone by hand; the
    /// next `latest` runs it again).
    ///
    /// Example: `migrate resolve <DB> <VERSION> --reverted`
    Resolve {
        /// The database
        #[arg(value_name = "DB")]
        database: String,
        /// The interrupted migration's version
        #[arg(value_name = "VERSION")]
        migration: i64,
        /// It is complete: record it as applied
        #[arg(
            long,
            conflicts_with = "reverted",
            required_unless_present = "reverted"
        )]
        applied: bool,
        /// None of it remains: record it as not applied, to run again
        #[arg(long)]
        reverted: bool,
        /// Seconds to wait for another runner's lock [default: the database's lock_timeout, 60]
        #[arg(long, value_name = "SECS")]
        lock_timeout: Option<u64>,
        /// The tenants to run on, for a database that lists them.
        #[command(flatten)]
        tenants: TenantChoice,
    },
    /// Take over a database migrated by knex, sqlx or diesel: record its history, run nothing
    ///
    /// Reads the tool's table in the same database, matches each row to a migration by
    /// version and records it in dbgen's table, under the lock, in one transaction where the
    /// engine allows. knex's batches are kept, so `rollback` reverts knex's last batch
    /// through the .down.sql files; sqlx's and diesel's rows get a batch each. sqlx's
    /// checksums are compared with the files first. A row with no migration, a failed sqlx
    /// row, a migration the tool skipped or an edited file is refused with the flag that
    /// says how to treat it. The tool's table stays unless --drop-old-table.
    ///
    /// Example: `migrate adopt <DB> --from knex --dry-run`
    Adopt {
        /// The databases to run on.
        #[command(flatten)]
        targets: Targets,
        /// The tool that migrated the database
        #[arg(long, value_name = "TOOL")]
        from: crate::Tool,
        /// The tool's table, when not its default (knex_migrations, _sqlx_migrations, __diesel_schema_migrations)
        #[arg(long, value_name = "NAME")]
        table: Option<String>,
        /// Leave out rows whose version no migration has
        #[arg(long)]
        skip_unknown: bool,
        /// Record sqlx's failed rows (success = false) this way
        #[arg(long, value_name = "AS")]
        failed: Option<crate::Treatment>,
        /// Record migrations the tool skipped (older than its newest) this way
        #[arg(long, value_name = "AS", value_parser = clap::builder::TypedValueParser::map(clap::builder::PossibleValuesParser::new(["applied", "pending"]), |v| if v == "applied" { crate::Treatment::Applied } else { crate::Treatment::Pending }))]
        unapplied: Option<crate::Treatment>,
        /// Record migrations whose file changed since sqlx applied it
        #[arg(long)]
        accept_edited: bool,
        /// Drop the tool's table (and knex's lock table) once adopted
        #[arg(long)]
        drop_old_table: bool,
        /// Show what would be recorded; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Record every migration up to VERSION as applied without running it
    ///
    /// For a database that has the schema but no history (made by hand, restored from a
    /// dump). Each migration gets a batch of its own; the next `latest` applies the rest.
    ///
    /// Example: `migrate baseline <DB> --to <VERSION>`
    Baseline {
        /// The database
        #[arg(value_name = "DB")]
        database: String,
        /// The newest migration the schema already has
        #[arg(long, value_name = "VERSION")]
        to: i64,
        /// Show what would be recorded; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for another runner's lock [default: the database's lock_timeout, 60]
        #[arg(long, value_name = "SECS")]
        lock_timeout: Option<u64>,
        /// The tenants to run on, for a database that lists them.
        #[command(flatten)]
        tenants: TenantChoice,
    },
}

/// Running seeds.
#[derive(Debug, Clone, Subcommand)]
#[non_exhaustive]
pub enum SeedCommand {
    /// Run every seed in name order, each in its own transaction (seeds are not tracked)
    ///
    /// Example: `seed run <DB> --specific 01_roles`
    Run {
        /// The databases to run on.
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
    /// 0: done.
    Success = 0,
    /// 1: a database failed (with several: any of them).
    Failure = 1,
    /// 2: bad arguments, an unknown database, no database named.
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
    fn parts(&self) -> (std::borrow::Cow<'_, Targets>, Job) {
        use std::borrow::Cow;
        let options = |dry_run: bool, strict: bool| MigrateOptions { dry_run, strict };
        if let MigrateCommand::Resolve {
            database,
            migration,
            applied,
            reverted: _,
            lock_timeout,
            tenants,
        } = self
        {
            let targets = Targets::one(database, *lock_timeout, tenants);
            let job = Job::Resolve {
                version: *migration,
                applied: *applied,
            };
            return (Cow::Owned(targets), job);
        }
        if let MigrateCommand::Baseline {
            database,
            to,
            dry_run,
            lock_timeout,
            tenants,
        } = self
        {
            let targets = Targets::one(database, *lock_timeout, tenants);
            let job = Job::Baseline {
                to: *to,
                dry_run: *dry_run,
            };
            return (Cow::Owned(targets), job);
        }
        let (targets, job) = match self {
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
            MigrateCommand::Adopt {
                targets,
                from,
                table,
                skip_unknown,
                failed,
                unapplied,
                accept_edited,
                drop_old_table,
                dry_run,
            } => {
                let mut adoption = crate::Adoption::from(*from)
                    .skip_unknown(*skip_unknown)
                    .accept_edited(*accept_edited)
                    .drop_old_table(*drop_old_table)
                    .dry_run(*dry_run);
                adoption.table = table.clone();
                adoption.failed = *failed;
                adoption.unapplied = *unapplied;
                (targets, Job::Adopt(adoption))
            }
            MigrateCommand::Resolve { .. } | MigrateCommand::Baseline { .. } => {
                unreachable!("handled above")
            }
        };
        (Cow::Borrowed(targets), job)
    }
}

impl std::process::Termination for Exit {
    fn report(self) -> ExitCode {
        self.into()
    }
}

/// Runs a `migrate` command over `databases` and reports on stdout/stderr.
pub async fn run_migrate(
    command: &MigrateCommand,
    databases: &[Database],
    environment: &Environment,
) -> Exit {
    let (targets, job) = command.parts();
    let (json, exit_code) = match command {
        MigrateCommand::Status {
            json, exit_code, ..
        } => (*json, *exit_code),
        _ => (false, false),
    };
    execute(&targets, &job, databases, environment, json, exit_code).await
}

/// Runs a `seed` command over `databases`.
pub async fn run_seed(
    command: &SeedCommand,
    databases: &[Database],
    environment: &Environment,
) -> Exit {
    let SeedCommand::Run {
        targets,
        specific,
        dry_run,
    } = command;
    let job = Job::Seed {
        specific: specific.clone(),
        dry_run: *dry_run,
    };
    execute(targets, &job, databases, environment, false, false).await
}

fn result_summary(result: &Result<Outcome, RunError>) -> String {
    match result {
        Ok(outcome) => outcome.summary(),
        Err(e) => e.to_string(),
    }
}

/// A dry run's script, as `--dry-run` prints it.
fn planned(script: &crate::PlannedScript) -> String {
    let heading = match script.direction {
        "seed" => format!("-- seed {}", script.file),
        direction => {
            let transaction = if script.no_transaction {
                ", outside any transaction"
            } else {
                ""
            };
            format!("-- {} ({direction}{transaction})", script.id)
        }
    };
    format!("{heading}\n{}\n", script.sql.trim_end())
}

/// The databases `targets` names, in the order named, or all of them with --all.
pub(crate) fn select<'a>(
    databases: &'a [Database],
    targets: &Targets,
) -> Result<Vec<&'a Database>, String> {
    let known = || known_databases_message(databases.iter().map(|d| &d.name));
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

async fn execute(
    targets: &Targets,
    job: &Job,
    databases: &[Database],
    environment: &Environment,
    json: bool,
    exit_code: bool,
) -> Exit {
    let selected = match select(databases, targets) {
        // Named or not: with no databases at all, this is most likely the wrong folder.
        _ if databases.is_empty() => {
            // A deploy gate must not pass on nothing.
            eprintln!(
                "error: no databases found in {}: run this in your project (the folder holding dbgen.toml and database/), pass --root DIR, or create one with `dbgen new <name>`",
                environment.root().display()
            );
            return Exit::Usage;
        }
        Ok(selected) => selected,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Usage;
        }
    };
    let (fleets, plain) = match split_fleets(&selected, targets) {
        Ok(split) => split,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Usage;
        }
    };
    // Every string printed below passes it: drivers echo failed statements.
    let mut redactor = Redactor::for_run(selected.iter().copied(), environment.vars());
    let jobs = usize::from(targets.jobs);
    let mut tally = Tally::default();
    let mut items: Vec<serde_json::Value> = Vec::new();
    if !plain.is_empty() {
        run_plain(
            &plain,
            (job, environment, &redactor),
            (targets, json),
            (&mut tally, &mut items),
        )
        .await;
    }
    for db in fleets {
        let settings = fleet::FleetSettings {
            choice: &targets.tenants,
            jobs,
            lock_timeout: targets.lock_timeout.map(Duration::from_secs),
            json,
        };
        let fleet =
            fleet::run_fleet(db, databases, job, environment, &settings, &mut redactor).await;
        tally.failed += fleet.failed;
        tally.usage_only &= fleet.failed == 0 || fleet.usage_only;
        tally.stopped |= fleet.stopped;
        tally.behind |= fleet.behind > 0;
        items.extend(fleet.json);
    }
    if json {
        let text = serde_json::to_string_pretty(&items).unwrap_or_default();
        println!("{}", redactor.redact(&text));
    }
    if tally.failed > 0 && tally.usage_only && !tally.stopped {
        // Only what was typed was wrong (an unknown version or seed): the usage code.
        Exit::Usage
    } else if tally.failed > 0 || tally.stopped {
        Exit::Failure
    } else if exit_code && tally.behind {
        Exit::NotUpToDate
    } else {
        Exit::Success
    }
}

/// What a command's runs came to, for the exit code.
#[derive(Debug)]
struct Tally {
    failed: usize,
    /// Every failure was a usage mistake.
    usage_only: bool,
    /// A fleet could not start or a canary stopped it.
    stopped: bool,
    behind: bool,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            failed: 0,
            usage_only: true,
            stopped: false,
            behind: false,
        }
    }
}

/// The selected databases run over their tenants, and those run as one database each. A
/// database with tenants runs on them only when asked (--tenants, --tenant), and one named
/// without it is a mistake; --all leaves it out, saying so.
fn split_fleets<'a>(
    selected: &[&'a Database],
    targets: &Targets,
) -> Result<(Vec<&'a Database>, Vec<&'a Database>), String> {
    let (fleets, plain): (Vec<&Database>, Vec<&Database>) =
        selected.iter().partition(|db| db.config.tenants.is_some());
    if targets.tenants.any() {
        if !targets.all
            && let Some(db) = plain.first()
        {
            return Err(format!(
                "`{}` has no tenants, so --tenants/--tenant cannot run on it: list them in a [tenants] table of database/{}/database.toml, or leave the flag out",
                db.name, db.name
            ));
        }
        if fleets.is_empty() {
            return Err(
                "no database here lists tenants ([tenants] in its database.toml)".to_string(),
            );
        }
        if !targets.tenants.tenant.is_empty() && fleets.len() > 1 {
            return Err(
                "--tenant NAME picks tenants of one database: name that database alone".to_string(),
            );
        }
        for db in plain {
            eprintln!("{}: left out: it has no tenants", db.name);
        }
        return Ok((fleets, Vec::new()));
    }
    if targets.tenants.canary.is_some() || targets.tenants.partition.is_some() {
        return Err("--canary and --partition choose among tenants: add --tenants".to_string());
    }
    if !targets.all
        && let Some(db) = fleets.first()
    {
        return Err(format!(
            "`{}` has tenants: pass --tenants to run on all of them, or --tenant NAME for some",
            db.name
        ));
    }
    for db in &fleets {
        eprintln!(
            "{}: left out: it has tenants; add --tenants to run on them",
            db.name
        );
    }
    if plain.is_empty() {
        return Err("every database here has tenants: add --tenants".to_string());
    }
    Ok((Vec::new(), plain))
}

/// Whether a failure is only a mistake in what was typed (an unknown version or seed).
pub(crate) fn is_usage_error(error: &RunError) -> bool {
    matches!(
        error,
        RunError::UnknownSeed { .. }
            | RunError::Refused(
                Refusal::UnknownVersion(_) | Refusal::BadTableName(_) | Refusal::OnlyForSqlx { .. }
            )
    )
}

/// Runs `job` on databases that have no tenants, a result line each.
async fn run_plain(
    selected: &[&Database],
    (job, environment, redactor): (&Job, &Environment, &Redactor),
    (targets, json): (&Targets, bool),
    (tally, items): (&mut Tally, &mut Vec<serde_json::Value>),
) {
    let hide = |text: &str| redactor.redact(text).into_owned();
    let jobs = usize::from(targets.jobs);
    let mut output = OutputMode::detect(jobs);
    output.quiet = json;
    let settings = RunSettings {
        jobs,
        lock_timeout: targets.lock_timeout.map(Duration::from_secs),
        output,
    };
    let results = run_many(
        selected,
        job,
        environment,
        (settings, redactor),
        |db, result| {
            if json {
                return;
            }
            match result {
                Ok(Outcome::Status(report)) => println!("{}", hide(&report.to_table())),
                Ok(Outcome::DryRun { scripts }) => {
                    for script in scripts {
                        println!("{}", hide(&planned(script)));
                    }
                    if scripts.is_empty() {
                        println!("{}: dry run: nothing would run", db.name);
                    }
                    println!("{}: {}", db.name, hide(&result_summary(result)));
                }
                Ok(Outcome::Recorded(recorded)) => {
                    for line in recorded.lines() {
                        println!("{}: {}", db.name, hide(&line));
                    }
                    println!("{}: {}", db.name, hide(&result_summary(result)));
                }
                Ok(_) => println!("{}: {}", db.name, hide(&result_summary(result))),
                Err(e) => eprintln!("{}: error: {}", db.name, hide(&e.to_string())),
            }
        },
    )
    .await;

    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(db, _)| db.name.as_ref())
        .collect();
    tally.failed += failed.len();
    tally.usage_only &= results
        .iter()
        .all(|(_, r)| r.as_ref().err().is_none_or(is_usage_error));
    tally.behind |= results
        .iter()
        .any(|(_, r)| matches!(r, Ok(Outcome::Status(report)) if !report.up_to_date));
    if json {
        items.extend(results.iter().map(|(db, r)| match r {
            Ok(Outcome::Status(report)) => serde_json::to_value(report).unwrap_or_default(),
            Ok(other) => {
                serde_json::json!({ "database": db.name, "result": hide(&other.summary()) })
            }
            Err(e) => serde_json::json!({ "database": db.name, "error": hide(&e.to_string()) }),
        }));
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
}
