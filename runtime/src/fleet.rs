//! One command over many tenants of a database, with no coordinator: each tenant's own
//! lock keeps two runners from migrating it at once. A runner tries every tenant's lock
//! without waiting, leaves those another runner holds for the end, and then waits for
//! them (finding them, most often, already done). Canaries run first, one at a time.

use std::time::Duration;

use dbgen_core::{Database, Tenant, resolve_connection};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::environment::Environment;
use crate::error::RunError;
use crate::execute::{Job, MigrateOptions, Target, run_job};
use crate::migrator::{Action, Outcome};
use crate::observer::{Observer, Silent};
use crate::pool::Pool;

/// Runs one command on many tenants of one database: [`jobs`](Self::jobs) at a time,
/// [`canary`](Self::canary) tenants first, and a tenant another runner holds left for
/// later. Several processes may run the same fleet at once: each tenant is migrated by
/// exactly one of them. Quiet: every tenant's result comes back as data.
///
/// ```no_run
/// # #[cfg(feature = "postgres")]
/// # async fn example(db: &dbgen_runtime::core::Database, registry: &[dbgen_runtime::core::Database]) -> Result<(), dbgen_runtime::RunError> {
/// use dbgen_runtime::{Environment, Fleet, list_tenants};
///
/// let environment = Environment::from_process()?;
/// let tenants = list_tenants(db, registry, &environment).await?;
/// let report = Fleet::new(db, tenants).jobs(8).canary(1).latest().await?;
/// for failed in report.failed() {
///     eprintln!("{}: {}", failed.tenant.name, failed.result.as_ref().unwrap_err());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Fleet<'d> {
    db: &'d Database,
    tenants: Vec<Tenant>,
    jobs: usize,
    canary: usize,
    environment: Option<Environment>,
    lock_timeout: Option<Duration>,
    pool: Option<Pool>,
}

/// One tenant's result.
#[derive(Debug)]
#[non_exhaustive]
pub struct TenantOutcome {
    /// The tenant.
    pub tenant: Tenant,
    /// What its run did.
    pub result: Result<Outcome, RunError>,
}

/// How a fleet run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetEnd {
    /// Every tenant ran (some may have failed).
    Done,
    /// A canary failed, so the tenants after it were not touched.
    CanaryFailed {
        /// The canary that failed.
        tenant: String,
        /// How many tenants were not started.
        not_started: usize,
    },
}

/// Every tenant's result, in the list's order, and how the run ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct FleetReport {
    /// The tenants that ran.
    pub outcomes: Vec<TenantOutcome>,
    /// Whether every tenant ran.
    pub end: FleetEnd,
}

impl FleetReport {
    /// The tenants whose run failed.
    pub fn failed(&self) -> impl Iterator<Item = &TenantOutcome> {
        self.outcomes.iter().filter(|o| o.result.is_err())
    }

    /// Whether every tenant ran and none failed.
    pub fn succeeded(&self) -> bool {
        self.end == FleetEnd::Done && self.failed().next().is_none()
    }
}

/// Makes the observer of one tenant's run (the command set prints through it).
pub(crate) type ObserverFor<'o> = dyn Fn(&Tenant) -> Box<dyn Observer + 'o> + Send + Sync + 'o;

impl<'d> Fleet<'d> {
    /// A fleet of `tenants` of `db` (usually from [`list_tenants`](crate::list_tenants)); a
    /// name given twice runs once.
    pub fn new(db: &'d Database, mut tenants: Vec<Tenant>) -> Self {
        let mut seen = std::collections::HashSet::new();
        tenants.retain(|t| seen.insert(t.name.clone()));
        Self {
            db,
            tenants,
            jobs: 1,
            canary: 0,
            environment: None,
            lock_timeout: None,
            pool: None,
        }
    }

    /// How many tenants run at once (default 1).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Runs the first `k` tenants first, one at a time, and stops before the others if one
    /// of them fails.
    pub fn canary(mut self, k: usize) -> Self {
        self.canary = k;
        self
    }

    /// Reads connections and placeholders from `environment` instead of the process.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// How long to wait, at the end, for a tenant another runner holds (default: the
    /// database's `lock_timeout`).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Schema tenants run through this pool of the database (by default the fleet opens
    /// one of [`jobs`](Self::jobs) connections); database tenants open their own.
    pub fn on(mut self, pool: impl Into<Pool>) -> Self {
        self.pool = Some(pool.into());
        self
    }

    /// Applies every pending migration on every tenant.
    pub async fn latest(&self) -> Result<FleetReport, RunError> {
        self.run(Action::Latest { to: None }).await
    }

    /// Runs a migration command on every tenant.
    pub async fn run(&self, action: Action) -> Result<FleetReport, RunError> {
        self.collect(&Job::Migrate(action, MigrateOptions::default()))
            .await
    }

    /// Every tenant's status (each result is an [`Outcome::Status`]).
    pub async fn status(&self) -> Result<FleetReport, RunError> {
        self.collect(&Job::Status).await
    }

    async fn collect(&self, job: &Job) -> Result<FleetReport, RunError> {
        let mut outcomes = Vec::with_capacity(self.tenants.len());
        let silent = |_: &Tenant| Box::new(Silent) as Box<dyn Observer>;
        let end = self
            .drive(job, &silent, &mut |tenant, result| {
                outcomes.push((tenant.clone(), result));
            })
            .await?;
        // Back in the list's order.
        let order: std::collections::HashMap<&str, usize> = self
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        outcomes.sort_by_key(|(t, _)| order.get(t.name.as_str()).copied());
        Ok(FleetReport {
            outcomes: outcomes
                .into_iter()
                .map(|(tenant, result)| TenantOutcome { tenant, result })
                .collect(),
            end,
        })
    }

    /// Runs `job` on every tenant; `on_done` sees each result as it comes. An error only
    /// when the run cannot start (the environment, the schema tenants' pool).
    pub(crate) async fn drive(
        &self,
        job: &Job,
        observer_for: &ObserverFor<'_>,
        on_done: &mut (dyn FnMut(&Tenant, Result<Outcome, RunError>) + Send),
    ) -> Result<FleetEnd, RunError> {
        let loaded;
        let environment = match &self.environment {
            Some(environment) => environment,
            None => {
                loaded = Environment::from_process()?;
                &loaded
            }
        };
        // Schema tenants share one pool: the one given, or one of the fleet's own.
        let own_pool = match &self.pool {
            None if self.tenants.iter().any(|t| t.schema_name().is_some()) => {
                let settings = resolve_connection(self.db, environment.vars(), environment.root())?;
                Some(Pool::connect_for_fleet(self.db, &settings, self.jobs as u32).await?)
            }
            _ => None,
        };
        let pool = self.pool.as_ref().or(own_pool.as_ref());
        let run = Run {
            db: self.db,
            job,
            environment,
            pool,
            observer_for,
        };
        // Canaries guard changes; a read has nothing to guard.
        let canaries = if job.writes() {
            self.canary.min(self.tenants.len())
        } else {
            0
        };
        for (i, tenant) in self.tenants[..canaries].iter().enumerate() {
            let result = run.one(tenant, self.lock_timeout).await;
            let failed = result.is_err();
            on_done(tenant, result);
            if failed {
                if let Some(pool) = &own_pool {
                    pool.close().await;
                }
                return Ok(FleetEnd::CanaryFailed {
                    tenant: tenant.name.clone(),
                    not_started: self.tenants.len() - i - 1,
                });
            }
        }
        let rest = &self.tenants[canaries..];
        // Writes that are safe to repeat first try each lock without waiting; reads take none.
        let first_try = if job.writes() && job.repeatable() {
            Some(Duration::ZERO)
        } else {
            self.lock_timeout
        };
        let mut held_elsewhere = Vec::new();
        run.many(rest.iter(), self.jobs, first_try, &mut |tenant, result| {
            if first_try == Some(Duration::ZERO)
                && matches!(result, Err(RunError::LockTimeout { .. }))
            {
                held_elsewhere.push(tenant);
            } else {
                on_done(tenant, result);
            }
        })
        .await;
        // Another runner had these: wait for each, which usually finds it done.
        run.many(
            held_elsewhere.into_iter(),
            self.jobs,
            self.lock_timeout,
            &mut |tenant, result| on_done(tenant, result),
        )
        .await;
        if let Some(pool) = &own_pool {
            pool.close().await;
        }
        Ok(FleetEnd::Done)
    }
}

/// What every tenant's run shares.
struct Run<'r, 'o> {
    db: &'r Database,
    job: &'r Job,
    environment: &'r Environment,
    pool: Option<&'r Pool>,
    observer_for: &'r ObserverFor<'o>,
}

impl Run<'_, '_> {
    async fn one(
        &self,
        tenant: &Tenant,
        lock_timeout: Option<Duration>,
    ) -> Result<Outcome, RunError> {
        let mut observer = (self.observer_for)(tenant);
        let target = Target {
            pool: self.pool.filter(|_| tenant.schema_name().is_some()),
            environment: Some(self.environment),
            lock_timeout,
            tenant: Some(tenant),
            read_first: true,
        };
        run_job(self.db, self.job, target, observer.as_mut()).await
    }

    /// Runs `tenants`, `jobs` at a time; `done` sees each result as it completes.
    async fn many<'t>(
        &self,
        mut tenants: impl Iterator<Item = &'t Tenant>,
        jobs: usize,
        lock_timeout: Option<Duration>,
        done: &mut (dyn FnMut(&'t Tenant, Result<Outcome, RunError>) + Send),
    ) {
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < jobs.max(1) {
                let Some(tenant) = tenants.next() else { break };
                running.push(async move { (tenant, self.one(tenant, lock_timeout).await) });
            }
            match running.next().await {
                Some((tenant, result)) => done(tenant, result),
                None => break,
            }
        }
    }
}
