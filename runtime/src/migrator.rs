//! The library's entry point for one database: run its migrations and seeds on a
//! connection of its own or through an application's pool, and get back what happened.

use std::time::Duration;

use dbgen_core::{Database, Tenant};

use crate::engine::Interruption;
use crate::environment::Environment;
use crate::error::{MigrationId, RunError};
use crate::execute::{Job, MigrateOptions, Target, run_job};
use crate::observer::Silent;
use crate::pool::Pool;
use crate::report::StatusReport;

/// A migration command, for [`Migrator::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Every pending migration (up to and including `to`), as one new batch.
    Latest {
        /// Stop after this version.
        to: Option<i64>,
    },
    /// One migration: the oldest pending one, or `version`.
    Up {
        /// The version to apply.
        version: Option<i64>,
    },
    /// The last batch, or every migration newer than `to` (0 keeps only a version-0
    /// migration; [`Action::Reset`] reverts every one).
    Rollback {
        /// Revert everything newer than this version instead of the last batch.
        to: Option<i64>,
    },
    /// Every applied migration, newest first.
    Reset,
    /// One migration: the newest of the last batch, or `version`.
    Down {
        /// The version to revert.
        version: Option<i64>,
    },
}

/// One migration applied or reverted, or one seed run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepReport {
    /// `20250823075842_initial_schema`, or a seed's file name `01_roles.sql`.
    pub id: String,
    /// The migration's version; `None` for a seed.
    pub version: Option<i64>,
    /// How long its script took.
    pub took: Duration,
}

/// A script a dry run would run, as written (placeholders not filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedScript {
    /// `20250823075842_initial_schema`, or a seed's name.
    pub id: String,
    /// The script's path, relative to the project root.
    pub file: String,
    /// `up`, `down` or `seed`.
    pub direction: &'static str,
    /// Whether it runs outside any transaction (`-- dbgen:no-transaction`).
    pub no_transaction: bool,
    /// The script.
    pub sql: String,
}

/// What one database's run did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Migrations applied, as batch `batch`.
    Applied {
        /// The batch recorded.
        batch: i64,
        /// Each migration, in the order applied.
        steps: Vec<StepReport>,
        /// The whole run.
        took: Duration,
    },
    /// Migrations reverted, newest first.
    RolledBack {
        /// The newest batch reverted.
        batch: i64,
        /// Each migration, in the order reverted.
        steps: Vec<StepReport>,
        /// The whole run.
        took: Duration,
    },
    /// Nothing was pending.
    UpToDate {
        /// Applied migrations newer than every one this build knows (a newer release ran them).
        ahead: usize,
    },
    /// No migration was applied.
    NothingToRollBack,
    /// Nothing ran; these scripts would have.
    DryRun {
        /// The scripts, in order.
        scripts: Vec<PlannedScript>,
    },
    /// Seeds ran.
    Seeded {
        /// Each seed, in order.
        steps: Vec<StepReport>,
        /// The whole run.
        took: Duration,
    },
    /// `status`.
    Status(Box<StatusReport>),
    /// A history was recorded without running any script (`adopt`, `baseline`).
    Recorded(crate::adopt::Recorded),
    /// An interrupted migration was resolved.
    Resolved {
        /// Which one.
        id: MigrationId,
        /// What it was doing when it was interrupted.
        interruption: Interruption,
        /// Recorded as applied (`true`) or as reverted, so pending again (`false`).
        applied: bool,
    },
}

impl Outcome {
    /// The migrations applied or reverted, or the seeds run; empty for the other outcomes.
    pub fn steps(&self) -> &[StepReport] {
        match self {
            Outcome::Applied { steps, .. }
            | Outcome::RolledBack { steps, .. }
            | Outcome::Seeded { steps, .. } => steps,
            _ => &[],
        }
    }

    /// One line saying what happened: `batch 3 applied: 2 migrations in 41 ms`.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Applied { batch, steps, took } => format!(
                "batch {batch} applied: {} migration{} in {}",
                steps.len(),
                plural(steps.len()),
                millis(*took)
            ),
            Outcome::RolledBack { batch, steps, took } => format!(
                "rolled back {} migration{} (newest batch {batch}) in {}",
                steps.len(),
                plural(steps.len()),
                millis(*took)
            ),
            Outcome::UpToDate { ahead: 0 } => "already up to date".to_string(),
            Outcome::UpToDate { ahead } => format!(
                "already up to date; the database also holds {ahead} newer migration{} from a newer release",
                plural(*ahead)
            ),
            Outcome::NothingToRollBack => {
                "nothing to roll back: no applied migration is in the range asked for".to_string()
            }
            Outcome::DryRun { scripts } => format!(
                "dry run: {} script{} shown, nothing changed",
                scripts.len(),
                plural(scripts.len())
            ),
            Outcome::Seeded { steps, took } => format!(
                "ran {} seed{} in {}",
                steps.len(),
                plural(steps.len()),
                millis(*took)
            ),
            Outcome::Status(report) => report.summary(),
            Outcome::Recorded(recorded) => recorded.summary(),
            Outcome::Resolved {
                id, applied: true, ..
            } => {
                format!("{id} is recorded as applied")
            }
            Outcome::Resolved {
                id, applied: false, ..
            } => format!("{id} is recorded as not applied: the next `migrate latest` runs it"),
        }
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// Runs one database's migrations and seeds, quietly: results come back as data, and each
/// step is a `tracing` event (target `dbgen_runtime`).
///
/// By default it opens a connection of its own from the process environment (the
/// database's `{P}_DB_*` variables, over `.env` in the project root); [`on`](Self::on) runs
/// it through a pool the application holds instead, with the same lock, checksums and
/// tracking table as the `dbgen` command.
///
/// ```no_run
/// # #[cfg(feature = "postgres")]
/// # async fn example(db: &dbgen_runtime::core::Database, pool: sqlx::PgPool) -> Result<(), dbgen_runtime::RunError> {
/// use dbgen_runtime::Migrator;
///
/// let outcome = Migrator::new(db).on(&pool).latest().await?;
/// let report = Migrator::new(db).on(&pool).status().await?;
/// assert!(report.up_to_date, "{}", outcome.summary());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Migrator<'d> {
    db: &'d Database,
    pool: Option<Pool>,
    environment: Option<Environment>,
    lock_timeout: Option<Duration>,
    strict: bool,
    tenant: Option<Tenant>,
}

impl<'d> Migrator<'d> {
    /// A migrator for `db` (usually `Database::X.migrator()`).
    pub fn new(db: &'d Database) -> Self {
        Self {
            db,
            pool: None,
            environment: None,
            lock_timeout: None,
            strict: false,
            tenant: None,
        }
    }

    /// Runs on one tenant of the database (see [`Tenant`]) instead of the database itself:
    /// a schema tenant on the database's connection or pool, with its schema first on
    /// `search_path` (and created by `latest` when missing); a database tenant on its own
    /// database. With [`on`](Self::on), the pool must reach the tenant.
    ///
    /// ```no_run
    /// # #[cfg(feature = "postgres")]
    /// # async fn example(db: &dbgen_runtime::core::Database, pool: sqlx::PgPool) -> Result<(), dbgen_runtime::RunError> {
    /// use dbgen_runtime::{Migrator, Tenant};
    ///
    /// // A sign-up: the new customer's schema, created and migrated at once.
    /// Migrator::new(db).tenant(Tenant::schema("tenant_acme")).on(&pool).latest().await?;
    /// # Ok(()) }
    /// ```
    pub fn tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Runs through this pool (`&PgPool`, `&MySqlPool`, `&SqlitePool` or a [`Pool`]) instead
    /// of a connection of its own. A pool of another engine than the database's is an error.
    pub fn on(mut self, pool: impl Into<Pool>) -> Self {
        self.pool = Some(pool.into());
        self
    }

    /// Reads the connection and placeholders from `environment` instead of the process.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// How long to wait for another runner's lock (default: the database's `lock_timeout`).
    /// Through a SQLite pool the pool's own `busy_timeout` bounds the wait instead.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Refuse pending migrations older than the newest applied one instead of applying them
    /// with a warning.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Applies every pending migration, recorded as one new batch.
    pub async fn latest(&self) -> Result<Outcome, RunError> {
        self.run(Action::Latest { to: None }).await
    }

    /// Reverts the last batch, newest migration first.
    pub async fn rollback(&self) -> Result<Outcome, RunError> {
        self.run(Action::Rollback { to: None }).await
    }

    /// Reverts every migration newer than `version` (0 keeps only a version-0 migration;
    /// `run(Action::Reset)` reverts every one).
    pub async fn rollback_to(&self, version: i64) -> Result<Outcome, RunError> {
        self.run(Action::Rollback { to: Some(version) }).await
    }

    /// Runs a migration command.
    pub async fn run(&self, action: Action) -> Result<Outcome, RunError> {
        let options = MigrateOptions {
            dry_run: false,
            strict: self.strict,
        };
        self.job(&Job::Migrate(action, options)).await
    }

    /// The scripts `action` would run, changing nothing.
    pub async fn dry_run(&self, action: Action) -> Result<Outcome, RunError> {
        let options = MigrateOptions {
            dry_run: true,
            strict: self.strict,
        };
        self.job(&Job::Migrate(action, options)).await
    }

    /// Where every migration stands; reads without locking or creating anything.
    pub async fn status(&self) -> Result<StatusReport, RunError> {
        match self.job(&Job::Status).await? {
            Outcome::Status(report) => Ok(*report),
            other => unreachable!("a status job returns a status, not {other:?}"),
        }
    }

    /// Records what really happened to an interrupted migration (`migrate status` shows
    /// them): `applied` when it is complete (finished by hand, or its revert undone),
    /// otherwise not applied (undone by hand), so that the next `latest` runs it again.
    /// Takes the lock; refuses a migration that is not interrupted.
    pub async fn resolve(&self, version: i64, applied: bool) -> Result<Outcome, RunError> {
        self.job(&Job::Resolve { version, applied }).await
    }

    /// Takes over a history another tool wrote in this database (see [`Adoption`]): its
    /// rows are matched with the migrations by version and recorded in dbgen's table, under
    /// the lock, without running any script. Refused, with every reason, when a row or a
    /// file does not match and `adoption` does not say how to treat it, and on a database
    /// dbgen already tracks.
    ///
    /// [`Adoption`]: crate::Adoption
    pub async fn adopt(&self, adoption: &crate::Adoption) -> Result<Outcome, RunError> {
        self.job(&Job::Adopt(adoption.clone())).await
    }

    /// Records every migration up to and including `to` as applied without running it,
    /// one batch each: for a database that has the schema but no history. Refused on a
    /// database dbgen already tracks.
    pub async fn baseline(&self, to: i64) -> Result<Outcome, RunError> {
        self.job(&Job::Baseline { to, dry_run: false }).await
    }

    /// Runs every seed in name order, each in its own transaction.
    pub async fn seed(&self) -> Result<Outcome, RunError> {
        self.job(&Job::Seed {
            specific: None,
            dry_run: false,
        })
        .await
    }

    /// Runs one seed, by its name (`01_roles`, with or without `.sql`).
    pub async fn seed_one(&self, name: &str) -> Result<Outcome, RunError> {
        self.job(&Job::Seed {
            specific: Some(name.to_string()),
            dry_run: false,
        })
        .await
    }

    async fn job(&self, job: &Job) -> Result<Outcome, RunError> {
        run_job(self.db, job, self.target(), &mut Silent).await
    }

    /// For the command set, which prints as the run goes.
    #[cfg(feature = "cli")]
    pub(crate) async fn job_observed(
        &self,
        job: &Job,
        observer: &mut dyn crate::observer::Observer,
    ) -> Result<Outcome, RunError> {
        run_job(self.db, job, self.target(), observer).await
    }

    fn target(&self) -> Target<'_> {
        Target {
            pool: self.pool.as_ref(),
            environment: self.environment.as_ref(),
            lock_timeout: self.lock_timeout,
            tenant: self.tenant.as_ref(),
            read_first: false,
        }
    }
}
