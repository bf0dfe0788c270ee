//! Runs one job over many databases: each gets its own result, one failure does not stop
//! the others, and `--jobs N` runs N at a time.

use std::path::PathBuf;
use std::time::Duration;

use dbgen_core::{Database, Driver, Env, load_env, resolve_connection, resolve_placeholders};
use futures_util::StreamExt;
use futures_util::stream;

use crate::engine::{Engine, MySql, OpenMode, Postgres, Sqlite};
use crate::error::RunError;
use crate::migrator::{self, Action, MigrateOptions, Outcome};
use crate::output::{OutputMode, Reporter};
use crate::seeder;

/// Where a registry runs: its environment and the folder relative SQLite paths start from.
#[derive(Debug, Clone)]
pub struct Context {
    pub env: Env,
    pub base_dir: PathBuf,
}

impl Context {
    /// The process environment over `./.env`, with SQLite paths relative to the current folder.
    pub fn from_current_dir() -> Result<Self, RunError> {
        let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Ok(Self {
            env: load_env(&base_dir)?,
            base_dir,
        })
    }
}

/// One unit of work for each selected database.
#[derive(Debug, Clone)]
pub enum Job {
    Migrate(Action, MigrateOptions),
    Status,
    Seed {
        specific: Option<String>,
        dry_run: bool,
    },
}

impl Job {
    fn writes(&self) -> bool {
        match self {
            Job::Migrate(_, options) => !options.dry_run,
            Job::Status => false,
            Job::Seed { dry_run, .. } => !dry_run,
        }
    }

    /// Whether a missing SQLite file should be created: rolling back an absent database
    /// has nothing to do and must not leave an empty file behind.
    fn creates(&self) -> bool {
        match self {
            Job::Migrate(Action::Latest { .. } | Action::Up { .. }, _) => self.writes(),
            Job::Migrate(..) | Job::Status => false,
            Job::Seed { .. } => self.writes(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    pub jobs: usize,
    /// Overrides each database's `lock_timeout`.
    pub lock_timeout: Option<Duration>,
    pub output: OutputMode,
}

/// Runs `job` on every database in `databases`, `settings.jobs` at a time; the results come
/// back in the databases' order. `on_done` sees each result as it completes.
pub async fn run_many<'a>(
    databases: &[&'a Database],
    job: &Job,
    ctx: &Context,
    settings: RunSettings,
    mut on_done: impl FnMut(&Database, &Result<Outcome, RunError>),
) -> Vec<(&'a Database, Result<Outcome, RunError>)> {
    let mut results: Vec<(usize, &'a Database, Result<Outcome, RunError>)> =
        stream::iter(databases.iter().copied().enumerate())
            .map(|(i, db)| async move { (i, db, run_one(db, job, ctx, settings).await) })
            .buffer_unordered(settings.jobs.max(1))
            .inspect(|(_, db, result)| on_done(db, result))
            .collect()
            .await;
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, db, r)| (db, r)).collect()
}

/// Runs `job` on one database, on the engine its driver names.
pub async fn run_one(
    db: &Database,
    job: &Job,
    ctx: &Context,
    settings: RunSettings,
) -> Result<Outcome, RunError> {
    match db.config.driver {
        Driver::Postgres => run_on::<Postgres>(db, job, ctx, settings).await,
        Driver::Mysql => run_on::<MySql>(db, job, ctx, settings).await,
        Driver::Sqlite => run_on::<Sqlite>(db, job, ctx, settings).await,
    }
}

async fn run_on<E: Engine>(
    db: &Database,
    job: &Job,
    ctx: &Context,
    settings: RunSettings,
) -> Result<Outcome, RunError> {
    let connection = resolve_connection(db, &ctx.env, &ctx.base_dir)?;
    let mode = OpenMode {
        create: job.creates(),
        lock_timeout: settings
            .lock_timeout
            .unwrap_or(Duration::from_secs(db.config.lock_timeout_secs)),
    };
    // Dry runs show `${name}`, never the value, so they need none.
    let placeholders = if job.writes() {
        resolve_placeholders(db, &ctx.env)?
    } else {
        Vec::new()
    };
    let mut out = Reporter::new(&db.name, settings.output);
    match job {
        Job::Migrate(action, options) => {
            let run = (*action, *options, mode);
            migrator::migrate::<E>(db, &connection, run, &placeholders, &mut out).await
        }
        Job::Status => Ok(Outcome::Status(Box::new(
            migrator::status::<E>(db, &connection, mode).await?,
        ))),
        Job::Seed { specific, dry_run } => {
            let seeds = seeder::select(db, specific.as_deref())?;
            let run = (*dry_run, mode);
            seeder::run::<E>(db, &connection, &seeds, run, &placeholders, &mut out).await
        }
    }
}
