//! The engine-free loop: lock, read the tracking table, plan, run, record, unlock. Every
//! entry point of the library and of the command set ends here.

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dbgen_core::{
    ConnectionSettings, Database, Driver, Migration, Redactor, Tenant, TenantPlace,
    is_blank_script, original_offset, resolve_connection, resolve_placeholders,
    substitute_placeholders,
};

use crate::adopt::{self, Adoption};
#[cfg(feature = "mysql")]
use crate::engine::MySql;
#[cfg(feature = "postgres")]
use crate::engine::Postgres;
#[cfg(feature = "sqlite")]
use crate::engine::Sqlite;
use crate::engine::{
    APPLYING_MS, AppliedRow, Engine, Interruption, OpenMode, Record, Source, TextRows,
};
use crate::environment::Environment;
use crate::error::{
    InterruptedMigration, MigrationId, Refusal, RunError, describe, line_column, resolve_advice,
};
use crate::migrator::{Action, Outcome, PlannedScript, StepReport, plural};
use crate::observer::Observer;
use crate::plan::{Direction, Plan, State, Status};
use crate::pool::{Pool, engine_disabled};
use crate::report::StatusReport;
use crate::seeder;

/// Options of a migration command.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MigrateOptions {
    pub dry_run: bool,
    /// Refuse pending migrations older than the newest applied one.
    pub strict: bool,
}

/// One unit of work on one database.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    Migrate(Action, MigrateOptions),
    Status,
    Seed {
        specific: Option<String>,
        dry_run: bool,
    },
    /// Marks an interrupted migration applied or reverted.
    Resolve {
        version: i64,
        applied: bool,
    },
    /// Records another tool's history.
    Adopt(Adoption),
    /// Records every migration up to `to` as applied, without running it.
    Baseline {
        to: i64,
        dry_run: bool,
    },
}

impl Job {
    /// Whether it runs scripts, and so needs the placeholders' values. Recording a history
    /// (resolve, adopt, baseline) runs none.
    fn runs_scripts(&self) -> bool {
        match self {
            Job::Migrate(_, options) => !options.dry_run,
            Job::Seed { dry_run, .. } => !dry_run,
            Job::Status | Job::Resolve { .. } | Job::Adopt(_) | Job::Baseline { .. } => false,
        }
    }

    /// Whether running it again right after it ran changes nothing more (`latest`, `reset`,
    /// `rollback --to`, reads). A fleet leaves a tenant another runner holds for later only
    /// for these; for the others (`rollback`, `up`, `down`, seeds) it waits for the lock, and
    /// two runners would each do their own run.
    pub(crate) fn repeatable(&self) -> bool {
        match self {
            Job::Status => true,
            Job::Migrate(_, options) if options.dry_run => true,
            Job::Migrate(action, _) => matches!(
                action,
                Action::Latest { .. } | Action::Reset | Action::Rollback { to: Some(_) }
            ),
            Job::Seed { dry_run, .. } => *dry_run,
            Job::Resolve { .. } | Job::Adopt(_) | Job::Baseline { .. } => false,
        }
    }

    pub(crate) fn writes(&self) -> bool {
        match self {
            Job::Migrate(_, options) => !options.dry_run,
            Job::Status => false,
            Job::Seed { dry_run, .. } => !dry_run,
            Job::Resolve { .. } => true,
            Job::Adopt(adoption) => !adoption.dry_run,
            Job::Baseline { dry_run, .. } => !dry_run,
        }
    }

    /// Whether a missing SQLite file should be created: rolling back an absent database
    /// has nothing to do and must not leave an empty file behind.
    fn creates(&self) -> bool {
        match self {
            Job::Migrate(Action::Latest { .. } | Action::Up { .. }, _) => self.writes(),
            Job::Migrate(..)
            | Job::Status
            | Job::Resolve { .. }
            | Job::Adopt(_)
            | Job::Baseline { .. } => false,
            Job::Seed { .. } => self.writes(),
        }
    }
}

/// Where a job runs: an application's pool, or a connection of its own from `environment`.
pub(crate) struct Target<'a> {
    pub pool: Option<&'a Pool>,
    /// `None`: the process environment, read only when needed.
    pub environment: Option<&'a Environment>,
    /// Overrides the database's `lock_timeout`.
    pub lock_timeout: Option<Duration>,
    /// One tenant of the database, instead of the database itself.
    pub tenant: Option<&'a Tenant>,
    /// Read before locking, and take no lock when nothing is pending (a fleet: a tenant
    /// already up to date costs one read, and a tenant another runner holds is not waited for).
    pub read_first: bool,
}

/// Runs `job` on `db`, on the engine its driver names.
pub(crate) async fn run_job(
    db: &Database,
    job: &Job,
    target: Target<'_>,
    observer: &mut dyn Observer,
) -> Result<Outcome, RunError> {
    match db.config.driver {
        #[cfg(feature = "postgres")]
        Driver::Postgres => run_on::<Postgres>(db, job, target, observer).await,
        #[cfg(feature = "mysql")]
        Driver::Mysql => run_on::<MySql>(db, job, target, observer).await,
        #[cfg(feature = "sqlite")]
        Driver::Sqlite => run_on::<Sqlite>(db, job, target, observer).await,
        #[allow(unreachable_patterns)]
        driver => Err(engine_disabled(db, driver)),
    }
}

async fn run_on<E: Engine>(
    db: &Database,
    job: &Job,
    target: Target<'_>,
    observer: &mut dyn Observer,
) -> Result<Outcome, RunError> {
    // Dry runs show `${name}`, never the value, so they need none.
    let placeholders_needed = job.runs_scripts() && !db.config.placeholders.is_empty();
    let loaded;
    let environment = match target.environment {
        Some(environment) => Some(environment),
        None if target.pool.is_none() || placeholders_needed => {
            loaded = Environment::from_process()?;
            Some(&loaded)
        }
        None => None,
    };
    let settings: Option<ConnectionSettings> = match (target.pool, environment) {
        (Some(_), _) => None,
        (None, Some(env)) => {
            let own = resolve_connection(db, env.vars(), env.root())?;
            Some(match target.tenant {
                Some(tenant) => tenant.connection(&own, env.root())?,
                None => own,
            })
        }
        (None, None) => unreachable!("an environment is loaded whenever there is no pool"),
    };
    let schema = target.tenant.and_then(Tenant::schema_name);
    if schema.is_some() && db.config.driver != Driver::Postgres {
        return Err(RunError::Tenants {
            database: db.name.to_string(),
            message: format!(
                "schema tenants need PostgreSQL, and {} uses {}",
                db.name, db.config.driver
            ),
            source: None,
        });
    }
    let source = match (target.pool, &settings) {
        (Some(pool), _) => Source::Pool(pool.check_for(db)?),
        (None, Some(settings)) => Source::Settings(settings),
        (None, None) => unreachable!("settings are resolved whenever there is no pool"),
    };
    let mode = OpenMode {
        create: job.creates(),
        lock_timeout: target
            .lock_timeout
            .unwrap_or(Duration::from_secs(db.config.lock_timeout_secs)),
        schema: schema.map(Into::into),
        read_first: target.read_first,
    };
    let placeholders = match environment {
        Some(env) if placeholders_needed => resolve_placeholders(db, env.vars())?,
        _ => Vec::new(),
    };
    // Drivers echo failed statements, placeholder values filled in: hide every secret.
    let mut redactor = match environment {
        Some(env) => Redactor::for_run([db], env.vars()),
        None => Redactor::new(),
    };
    for (_, value) in &placeholders {
        redactor.add(value);
    }
    if let Some(TenantPlace::Url(url)) = target.tenant.map(|t| &t.place) {
        redactor.add_url(url.expose());
    }
    run_job_on::<E>(db, job, source, mode, &placeholders, observer)
        .await
        .map_err(|e| e.redacted(&redactor))
}

async fn run_job_on<E: Engine>(
    db: &Database,
    job: &Job,
    source: Source<'_>,
    mode: OpenMode,
    placeholders: &[(String, String)],
    observer: &mut dyn Observer,
) -> Result<Outcome, RunError> {
    match job {
        Job::Migrate(action, options) => {
            migrate::<E>(
                db,
                source,
                (*action, *options, mode.clone()),
                placeholders,
                observer,
            )
            .await
        }
        Job::Status => Ok(Outcome::Status(Box::new(
            status::<E>(db, source, mode.clone()).await?,
        ))),
        Job::Seed { specific, dry_run } => {
            let seeds = seeder::select(db, specific.as_deref())?;
            let run = (*dry_run, mode.clone());
            seeder::run::<E>(db, source, &seeds, run, placeholders, observer).await
        }
        Job::Resolve { version, applied } => {
            resolve::<E>(db, source, mode, *version, *applied).await
        }
        Job::Adopt(adoption) => adopt::adopt::<E>(db, source, mode, adoption).await,
        Job::Baseline { to, dry_run } => {
            adopt::baseline::<E>(db, source, mode, *to, *dry_run).await
        }
    }
}

/// The rows of `sql` on `db`'s own connection, every column as text (a tenant list's
/// query); `None` when the table it reads does not exist.
pub(crate) async fn query_text(
    db: &Database,
    environment: &Environment,
    sql: &str,
) -> Result<Option<TextRows>, RunError> {
    match db.config.driver {
        #[cfg(feature = "postgres")]
        Driver::Postgres => query_text_on::<Postgres>(db, environment, sql).await,
        #[cfg(feature = "mysql")]
        Driver::Mysql => query_text_on::<MySql>(db, environment, sql).await,
        #[cfg(feature = "sqlite")]
        Driver::Sqlite => query_text_on::<Sqlite>(db, environment, sql).await,
        #[allow(unreachable_patterns)]
        driver => Err(engine_disabled(db, driver)),
    }
}

async fn query_text_on<E: Engine>(
    db: &Database,
    environment: &Environment,
    sql: &str,
) -> Result<Option<TextRows>, RunError> {
    let settings = resolve_connection(db, environment.vars(), environment.root())?;
    let mode = OpenMode {
        create: false,
        lock_timeout: Duration::from_secs(db.config.lock_timeout_secs),
        schema: None,
        read_first: false,
    };
    let redactor = Redactor::for_run([db], environment.vars());
    let Some(mut engine) = open::<E>(Source::Settings(&settings), &mode)
        .await
        .map_err(|e| e.redacted(&redactor))?
    else {
        return Ok(None);
    };
    let rows = engine.text_rows(sql).await.map_err(|e| RunError::Tenants {
        database: db.name.to_string(),
        message: describe(&e),
        source: Some(Box::new(e)),
    });
    close_after(engine, &rows).await;
    rows.map_err(|e| e.redacted(&redactor))
}

/// `migrate resolve`: records what really happened to an interrupted migration, under the
/// lock: `applied` keeps its row as applied, otherwise the row goes (pending again).
async fn resolve<E: Engine>(
    db: &Database,
    source: Source<'_>,
    mode: OpenMode,
    version: i64,
    applied: bool,
) -> Result<Outcome, RunError> {
    let table = &*mode.table(&db.config.migrations_table);
    let Some(mut engine) = open::<E>(source, &mode).await? else {
        return Err(Refusal::NotInterrupted(version).into());
    };
    let result = with_lock(&mut engine, table, mode.lock_timeout, async |engine: &mut E| {
        let rows = read_applied(engine, table).await?;
        let Some(row) = rows.iter().find(|r| r.version == version) else {
            return Err(Refusal::NotInterrupted(version).into());
        };
        let Some(interruption) = row.interruption() else {
            return Err(Refusal::NotInterrupted(version).into());
        };
        let statement = if applied {
            // 0 ms: completed by hand, not timed.
            Record::Finished { version }.statement(table, "0")
        } else {
            Record::Reverted { version }.statement(table, "")
        };
        engine
            .execute(&statement)
            .await
            .map_err(tracking("updating", table))?;
        tracing::info!(database = %db.name, version, applied, "resolved an interrupted migration");
        Ok(Outcome::Resolved {
            id: MigrationId {
                version,
                name: row.name.clone(),
            },
            interruption,
            applied,
        })
    })
    .await;
    close_after(engine, &result).await;
    result
}

/// Closes `engine` after a run that ended with `result`. A failure may have left a
/// transaction or lock on the connection, so it is not returned to a pool; a runner that
/// only waited for the lock in vain changed nothing (and must not remove a SQLite file that
/// the runner holding the lock is still filling).
pub(crate) async fn close_after<E: Engine, T>(engine: E, result: &Result<T, RunError>) {
    match result {
        Ok(_) | Err(RunError::LockTimeout { .. }) => engine.close().await,
        Err(_) => engine.close_failed().await,
    }
}

/// Opens `source` on engine `E`, mapping a failure to a message that names the variables.
pub(crate) async fn open<E: Engine>(
    source: Source<'_>,
    mode: &OpenMode,
) -> Result<Option<E>, RunError> {
    E::open(source, mode.clone())
        .await
        .map_err(|e| RunError::Connect {
            target: source.describe(),
            variables: match source {
                Source::Settings(settings) => settings.variables_list(),
                Source::Pool(_) => "the application's own pool".to_string(),
            },
            message: crate::error::connect_message(&e),
            source: e,
        })
}

pub(crate) fn tracking<'a>(
    action: &'static str,
    table: &'a str,
) -> impl FnOnce(sqlx::Error) -> RunError + 'a {
    move |source| RunError::Tracking {
        action,
        table: table.to_string(),
        message: describe(&source),
        source,
    }
}

/// The applied rows, or none when the tracking table does not exist yet.
pub(crate) async fn read_applied<E: Engine>(
    engine: &mut E,
    table: &str,
) -> Result<Vec<AppliedRow>, RunError> {
    let rows = engine
        .applied(table)
        .await
        .map_err(tracking("reading", table))?;
    Ok(rows.unwrap_or_default())
}

/// Takes the lock and runs `work`, releasing the lock however `work` ends.
pub(crate) async fn with_lock<E: Engine, T>(
    engine: &mut E,
    table: &str,
    lock_timeout: Duration,
    work: impl AsyncFnOnce(&mut E) -> Result<T, RunError>,
) -> Result<T, RunError> {
    if !engine
        .lock(table)
        .await
        .map_err(tracking("locking", table))?
    {
        return Err(RunError::LockTimeout {
            secs: lock_timeout.as_secs(),
        });
    }
    let result = work(engine).await;
    if result.is_err() && E::LOCK_IS_TRANSACTION {
        // The lock is a transaction: whatever a failed run left open is undone, never
        // committed by the release. Should the rollback fail too, the connection is
        // discarded, which ends the transaction without committing it.
        let _ = engine.rollback().await;
        return result;
    }
    let released = engine
        .unlock(table)
        .await
        .map_err(tracking("unlocking", table));
    let value = result?;
    released?;
    Ok(value)
}

/// `status`: reads without locking or creating anything.
async fn status<E: Engine>(
    db: &Database,
    source: Source<'_>,
    mode: OpenMode,
) -> Result<StatusReport, RunError> {
    let table = &*mode.table(&db.config.migrations_table);
    let mut other_history = None;
    let (applied, running) = match open::<E>(source, &mode).await? {
        Some(mut engine) => {
            let mut applied = read_applied(&mut engine, table).await;
            // A database another tool migrated looks all pending: say whose it is.
            if applied.as_ref().is_ok_and(Vec::is_empty) {
                let found = adopt::foreign_histories(&mut engine, &mode).await;
                if let Some((tool, other, rows)) = found.into_iter().find(|f| f.2 > 0) {
                    other_history = Some(format!(
                        "{tool}'s history is here ({rows} rows in `{other}`): `dbgen migrate adopt {} --from {tool}` takes it over; `latest` refuses until then",
                        db.name
                    ));
                }
            }
            // A started row is a running migration while another runner holds the lock.
            let mut running = false;
            if let Ok(rows) = &applied
                && rows.iter().any(|r| r.interruption().is_some())
            {
                match engine.held_by_another(table).await {
                    Ok(held) => running = held,
                    Err(e) => applied = Err(tracking("locking", table)(e)),
                }
            }
            close_after(engine, &applied).await;
            (applied?, running)
        }
        None => (Vec::new(), false),
    };
    let mut status = Status::new(&db.migrations, &applied);
    if running {
        for entry in &mut status.entries {
            if entry.state == State::Interrupted {
                entry.state = State::Running;
            }
        }
    }
    let mut report = StatusReport::new(db, source.describe(), &status);
    report.table = table.to_string();
    report.other_history = other_history;
    Ok(report)
}

/// latest / up / rollback / reset / down on one database.
async fn migrate<E: Engine>(
    db: &Database,
    source: Source<'_>,
    (action, options, mode): (Action, MigrateOptions, OpenMode),
    placeholders: &[(String, String)],
    out: &mut dyn Observer,
) -> Result<Outcome, RunError> {
    let table = &*mode.table(&db.config.migrations_table);
    let Some(mut engine) = open::<E>(source, &mode).await? else {
        // A SQLite file that does not exist (and was not to be created): nothing is applied.
        let status = Status::new(&db.migrations, &[]);
        let plan = plan(db, &status, action, options)?;
        return match plan.direction {
            _ if options.dry_run => dry_run(&plan),
            Direction::Down => Ok(Outcome::NothingToRollBack),
            Direction::Up => Ok(Outcome::UpToDate { ahead: 0 }),
        };
    };
    let result = if options.dry_run {
        match read_applied(&mut engine, table).await {
            Ok(applied) if applies(action) && applied.is_empty() => {
                match adopt::refuse_foreign_history(&mut engine, &mode, &db.name).await {
                    Ok(()) => {
                        let status = Status::new(&db.migrations, &applied);
                        plan(db, &status, action, options)
                            .map_err(RunError::from)
                            .and_then(|p| dry_run(&p))
                    }
                    Err(e) => Err(e),
                }
            }
            Ok(applied) => {
                let status = Status::new(&db.migrations, &applied);
                plan(db, &status, action, options)
                    .map_err(RunError::from)
                    .and_then(|p| dry_run(&p))
            }
            Err(e) => Err(e),
        }
    } else if let Some(outcome) =
        current_without_lock(&mut engine, db, table, (action, options, &mode)).await
    {
        outcome
    } else {
        // SQLite's documented way to change a schema: foreign keys off outside the
        // transaction (a script cannot turn them off inside it), checked before each commit
        // (run_plan), and back as the connection had them however the run ends.
        let work = async |engine: &mut E| {
            let applied = read_applied(engine, table).await?;
            if applies(action) && applied.is_empty() {
                adopt::refuse_foreign_history(engine, &mode, &db.name).await?;
            }
            let status = Status::new(&db.migrations, &applied);
            let plan = plan(db, &status, action, options)?;
            if !plan.out_of_order.is_empty() {
                let names: Vec<String> =
                    plan.out_of_order.iter().map(ToString::to_string).collect();
                let message = format!(
                    "applying {} out of order: older than the newest applied migration (use --strict to refuse)",
                    names.join(", ")
                );
                tracing::warn!(database = %db.name, "{message}");
                out.warning(&message);
            }
            if plan.steps.is_empty() {
                return Ok(match plan.direction {
                    Direction::Up => Outcome::UpToDate { ahead: plan.ahead },
                    Direction::Down => Outcome::NothingToRollBack,
                });
            }
            // Only now: a refused command leaves no tracking table behind.
            engine
                .create_tracking_table(table)
                .await
                .map_err(tracking("creating", table))?;
            let started = Instant::now();
            let steps = run_plan(engine, (&db.name, table), &plan, placeholders, out).await;
            // However the steps ended (a progress bar must not stay on screen).
            out.finished();
            let steps = steps?;
            let (batch, took) = (plan.batch, started.elapsed());
            Ok(match plan.direction {
                Direction::Up => Outcome::Applied { batch, steps, took },
                Direction::Down => Outcome::RolledBack { batch, steps, took },
            })
        };
        let result = match engine.relax_references().await {
            Ok(()) => with_lock(&mut engine, table, mode.lock_timeout, work).await,
            Err(e) => {
                let action = "turning off foreign keys before locking";
                Err(tracking(action, table)(e))
            }
        };
        // A failed run's connection is closed anyway; one that goes back to a pool is closed
        // too when this fails, so the warning matters only for a run that did not fail.
        if let Err(e) = engine.restore_references().await
            && matches!(result, Ok(_) | Err(RunError::LockTimeout { .. }))
        {
            let message = format!(
                "could not turn foreign keys back on for the connection after the run ({}); it was closed rather than reused",
                describe(&e)
            );
            tracing::warn!(database = %db.name, "{message}");
            out.warning(&message);
        }
        result
    };
    close_after(engine, &result).await;
    result
}

/// A fleet's first look at a tenant, before any lock: `Some` when it is up to date (or the
/// read failed), so that a rerun costs one read per tenant and a tenant another runner is
/// migrating is found pending and waited for only then. `None`: take the lock and plan again.
async fn current_without_lock<E: Engine>(
    engine: &mut E,
    db: &Database,
    table: &str,
    (action, options, mode): (Action, MigrateOptions, &OpenMode),
) -> Option<Result<Outcome, RunError>> {
    if !mode.read_first || !applies(action) {
        return None;
    }
    // A read that fails (SQLite busy with another runner's commit) is tried again under
    // the lock.
    let applied = read_applied(engine, table).await.ok()?;
    let status = Status::new(&db.migrations, &applied);
    match plan(db, &status, action, options) {
        Ok(plan) if plan.steps.is_empty() && plan.direction == Direction::Up => {
            Some(Ok(Outcome::UpToDate { ahead: plan.ahead }))
        }
        _ => None,
    }
}

/// Whether `action` applies migrations (and so would run again another tool's history).
fn applies(action: Action) -> bool {
    matches!(action, Action::Latest { .. } | Action::Up { .. })
}

fn plan<'a>(
    db: &Database,
    status: &Status<'a>,
    action: Action,
    options: MigrateOptions,
) -> Result<Plan<'a>, crate::error::Refusal> {
    let plan = match action {
        Action::Latest { to } => status.plan_latest(to, options.strict),
        Action::Up { version } => status.plan_up(version, options.strict),
        Action::Rollback { to } => status.plan_rollback(to),
        Action::Reset => status.plan_reset(),
        Action::Down { version } => status.plan_down(version),
    };
    plan.map_err(|refusal| refusal.for_database(&db.name))
}

/// The scripts a plan would run, as they are written (placeholders not filled in).
fn dry_run(plan: &Plan<'_>) -> Result<Outcome, RunError> {
    let direction = match plan.direction {
        Direction::Up => "up",
        Direction::Down => "down",
    };
    let scripts = plan
        .steps
        .iter()
        .map(|m| {
            let sql = read_script(m, plan.direction)?;
            Ok(PlannedScript {
                id: m.id(),
                file: script_path(m, plan.direction).into_owned(),
                direction,
                no_transaction: m.runs_outside_transaction(&sql),
                sql: sql.into_owned(),
            })
        })
        .collect::<Result<Vec<_>, dbgen_core::Error>>()?;
    Ok(Outcome::DryRun { scripts })
}

/// A step's script, read now: scripts are not held in memory between loading and running.
fn read_script(
    m: &Migration,
    direction: Direction,
) -> Result<Cow<'static, str>, dbgen_core::Error> {
    match direction {
        Direction::Up => m.up_script(),
        // The planner only rolls back reversible migrations.
        Direction::Down => m.down_script().map(Option::unwrap_or_default),
    }
}

fn script_path(m: &Migration, direction: Direction) -> Cow<'static, str> {
    match direction {
        Direction::Up => m.up_path(),
        Direction::Down => m.down_path().unwrap_or_default(),
    }
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs a plan's steps. On engines with transactional DDL consecutive steps share one
/// transaction, each committing with its tracking row. A step that cannot be rolled back
/// (any step on MySQL, a no-transaction step anywhere) is recorded before it runs and
/// completed after, so that a runner that dies halfway leaves a state `status` explains.
async fn run_plan<E: Engine>(
    engine: &mut E,
    (database, table): (&str, &str),
    plan: &Plan<'_>,
    placeholders: &[(String, String)],
    out: &mut dyn Observer,
) -> Result<Vec<StepReport>, RunError> {
    if plan.direction == Direction::Down {
        // Down scripts were not read when the project was loaded: a missing or unreadable
        // one stops the rollback before it starts rather than halfway.
        for m in &plan.steps {
            read_script(m, Direction::Down)?;
        }
    }
    /// Before a transaction that ran migrations commits: references they broke (they run
    /// relaxed, see `migrate`) roll it back; those broken before it are warned about.
    async fn check_references<E: Engine>(
        engine: &mut E,
        (database, plan): (&str, &Plan<'_>),
        ran: &[&Migration],
        committed: usize,
        out: &mut dyn Observer,
    ) -> Result<(), RunError> {
        let found = engine.broken_references().await;
        let broken = match found {
            Ok(check) => {
                for warning in &check.warnings {
                    tracing::warn!(database, "{warning}");
                    out.warning(warning);
                }
                match check.broken {
                    None => return Ok(()),
                    Some(broken) => Ok(broken),
                }
            }
            Err(e) => Err(e),
        };
        let _ = engine.rollback().await;
        let names: Vec<String> = ran.iter().map(|m| m.id()).collect();
        let rolled_back = match committed {
            0 => format!(
                "the batch's transaction was rolled back: none of its migrations remain applied ({} ran in it)",
                names.join(", ")
            ),
            n => format!(
                "this transaction was rolled back: none of its migrations ({}) remain applied; {n} migration{} committed before it (split around a no-transaction migration) remain{}",
                names.join(", "),
                plural(n),
                if n == 1 { "s" } else { "" }
            ),
        };
        let file = script_path(ran.last().expect("migrations ran"), plan.direction).into_owned();
        match broken {
            Ok(broken) => Err(RunError::Script {
                file,
                position: None,
                message: format!(
                    "after {} ran, {}",
                    match ran.len() {
                        1 => "this migration".to_string(),
                        n => format!("the {n} migrations of this transaction"),
                    },
                    broken.message
                ),
                note: Some(format!("{rolled_back}; {}", broken.advice)),
                source: None,
            }),
            Err(e) => Err(RunError::Script {
                file,
                position: None,
                message: format!(
                    "checking foreign keys before the commit failed: {}",
                    describe(&e)
                ),
                note: Some(rolled_back),
                source: Some(Box::new(e)),
            }),
        }
    }

    // SQLite's lock is its write transaction, already open.
    let mut open = E::LOCK_IS_TRANSACTION;
    let mut committed = 0usize;
    let mut done_in_transaction = 0usize;
    // The first step of the open transaction, when steps ran in it.
    let mut first_in_transaction = 0usize;
    // migrate relaxed references before taking the lock; a no-transaction step runs with
    // the connection's own setting, a script outside a transaction being in charge of it.
    let mut relaxed = true;
    let mut reports = Vec::with_capacity(plan.steps.len());
    out.started(plan.steps.len());
    for (index, m) in plan.steps.iter().enumerate() {
        let failed = |error: StepError<'_>, committed| {
            failure::<E>(database, plan, m, placeholders, error, committed)
        };
        let script = match read_script(m, plan.direction) {
            Ok(script) => script,
            Err(e) => {
                if open {
                    let _ = engine.rollback().await;
                }
                out.finished();
                return Err(failed(StepError::Read(e), committed));
            }
        };
        let alone = m.runs_outside_transaction(&script);
        let guarded = alone || !E::TRANSACTIONAL_DDL;
        if guarded && open {
            if done_in_transaction > 0 {
                let ran = &plan.steps[first_in_transaction..index];
                let checked = check_references(engine, (database, plan), ran, committed, out);
                if let Err(e) = checked.await {
                    out.finished();
                    return Err(e);
                }
            }
            engine
                .commit()
                .await
                .map_err(|e| failed(StepError::Transaction(e), committed))?;
            open = false;
            committed += done_in_transaction;
            done_in_transaction = 0;
        }
        let started = Instant::now();
        let sql = match prepare(engine, &script, placeholders, !alone).await {
            Ok(sql) => sql,
            Err(error) => {
                if open {
                    let _ = engine.rollback().await;
                }
                out.finished();
                let mut error = failed(error, committed);
                // The steps before it in the transaction were reported as they ran.
                if open
                    && done_in_transaction > 0
                    && let RunError::Script {
                        note: Some(note), ..
                    } = &mut error
                {
                    let names: Vec<String> = plan.steps[first_in_transaction..index]
                        .iter()
                        .map(|m| m.id())
                        .collect();
                    note.push_str(&format!(
                        "; the transaction was rolled back, so what ran before it in that transaction ({}) is not applied either",
                        names.join(", ")
                    ));
                }
                return Err(error);
            }
        };
        if guarded {
            if alone && relaxed {
                engine
                    .restore_references()
                    .await
                    .map_err(|e| failed(StepError::Transaction(e), committed))?;
                relaxed = false;
            }
            let run = Guarded {
                table,
                plan,
                index,
                alone,
            };
            if let Err(error) = run.step(engine, sql.as_deref(), &script).await {
                out.finished();
                return Err(failed(error, committed));
            }
            committed += 1;
        } else {
            if !open {
                if !relaxed {
                    engine
                        .relax_references()
                        .await
                        .map_err(|e| failed(StepError::Transaction(e), committed))?;
                    relaxed = true;
                }
                engine
                    .begin()
                    .await
                    .map_err(|e| failed(StepError::Transaction(e), committed))?;
                open = true;
            }
            // What is broken already does not fail the transaction's check before commit.
            if done_in_transaction == 0
                && let Err(e) = engine.note_broken_references().await
            {
                let _ = engine.rollback().await;
                out.finished();
                let reason = format!(
                    "checking foreign keys before the transaction's first migration failed: {}",
                    describe(&e)
                );
                return Err(failed(StepError::Refused(reason), committed));
            }
            let record = record_for(plan, m, RecordKind::Done);
            let result = match &sql {
                // Nothing to run (MySQL would refuse an empty query): only the record.
                None => engine.execute(&record.statement(table, "0")).await,
                Some(sql) => engine.run_step(table, sql, &record, false).await,
            };
            if let Err(e) = result {
                let _ = engine.rollback().await;
                out.finished();
                return Err(failed(StepError::Script(e, &script), committed));
            }
            if done_in_transaction == 0 {
                first_in_transaction = index;
            }
            done_in_transaction += 1;
        }
        let verb = match plan.direction {
            Direction::Up => "applied",
            Direction::Down => "reverted",
        };
        let report = StepReport {
            id: m.id(),
            version: Some(m.version),
            took: started.elapsed(),
        };
        tracing::info!(database, version = m.version, name = %m.name, took_ms = report.took.as_millis() as u64, "{verb}");
        out.step(verb, &report);
        reports.push(report);
    }
    if open {
        if done_in_transaction > 0 {
            let ran = &plan.steps[first_in_transaction..];
            let checked = check_references(engine, (database, plan), ran, committed, out);
            if let Err(e) = checked.await {
                out.finished();
                return Err(e);
            }
        }
        let commit = engine.commit().await;
        if let Some(m) = plan.steps.last() {
            commit.map_err(|e| {
                failure::<E>(
                    database,
                    plan,
                    m,
                    placeholders,
                    StepError::Transaction(e),
                    committed,
                )
            })?;
        }
    }
    out.finished();
    Ok(reports)
}

/// The script with its placeholders filled in, `None` when it holds no statement; refused
/// here when the engine cannot take it.
async fn prepare<E: Engine>(
    engine: &mut E,
    script: &str,
    placeholders: &[(String, String)],
    in_transaction: bool,
) -> Result<Option<String>, StepError<'static>> {
    let sql = substitute_placeholders(script, placeholders);
    if is_blank_script(&sql) {
        return Ok(None);
    }
    match engine.refusal(&sql, in_transaction).await {
        Ok(None) => Ok(Some(sql.into_owned())),
        Ok(Some(reason)) => Err(StepError::Refused(reason)),
        Err(e) => Err(StepError::Transaction(e)),
    }
}

#[derive(Clone, Copy)]
enum RecordKind {
    /// The row a finished step leaves (inserted up, deleted down).
    Done,
    /// The row that says a step started.
    Started,
}

fn record_for<'m>(plan: &Plan<'_>, m: &'m Migration, kind: RecordKind) -> Record<'m> {
    match (plan.direction, kind) {
        (Direction::Up, _) => Record::Applied {
            version: m.version,
            name: &m.name,
            batch: plan.batch,
            checksum: m.checksum.to_hex(),
            applied_at: now_millis(),
        },
        (Direction::Down, RecordKind::Done) => Record::Reverted { version: m.version },
        (Direction::Down, RecordKind::Started) => Record::Reverting { version: m.version },
    }
}

/// A step that cannot be rolled back: recorded as started, run, recorded as done.
struct Guarded<'p, 'a> {
    table: &'p str,
    plan: &'p Plan<'a>,
    index: usize,
    /// A no-transaction script: no transaction around it at all.
    alone: bool,
}

impl Guarded<'_, '_> {
    async fn step<'s, E: Engine>(
        &self,
        engine: &mut E,
        sql: Option<&str>,
        script: &'s str,
    ) -> Result<(), StepError<'s>> {
        let (table, m) = (self.table, self.plan.steps[self.index]);
        let started_row = record_for(self.plan, m, RecordKind::Started);
        let mark = match self.plan.direction {
            Direction::Up => started_row.statement(table, &APPLYING_MS.to_string()),
            Direction::Down => started_row.statement(table, ""),
        };
        // Taken back when nothing of the script took effect.
        let unmark = match self.plan.direction {
            Direction::Up => Record::Reverted { version: m.version }.statement(table, ""),
            Direction::Down => Record::Finished { version: m.version }
                .statement(table, &self.plan.recorded_ms[self.index].to_string()),
        };
        let marked = engine
            .execute_affected(&mark)
            .await
            .map_err(StepError::Transaction)?;
        if marked == 0 {
            // Rows are marked only when applied: another runner got to this one first.
            return Err(StepError::Refused(
                "another runner started rolling it back meanwhile, so this one did not: run `migrate status` to see where it stands".to_string(),
            ));
        }
        let started = Instant::now();
        let mut result = match self.alone {
            true => Ok(()),
            false => engine.begin().await.map_err(|e| (e, Some(0))),
        };
        if result.is_ok()
            && let Some(sql) = sql
        {
            result = engine.execute_counted(sql).await;
        }
        if let Err((error, took_effect)) = result {
            if !self.alone {
                let _ = engine.rollback().await;
            }
            if took_effect == Some(0) && engine.execute(&unmark).await.is_ok() {
                return Err(StepError::FirstStatement(error, script));
            }
            return Err(StepError::Interrupted {
                error,
                took_effect,
                script,
                finished: false,
            });
        }
        let done = match self.plan.direction {
            Direction::Up => Record::Finished { version: m.version }
                .statement(table, &started.elapsed().as_millis().to_string()),
            Direction::Down => Record::Reverted { version: m.version }.statement(table, ""),
        };
        let mut recorded = engine.execute(&done).await;
        if recorded.is_ok() && !self.alone {
            recorded = engine.commit().await;
        }
        if recorded.is_err() && !self.alone {
            // Data changes go; DDL, committed as it ran, stays.
            let _ = engine.rollback().await;
        }
        recorded.map_err(|error| StepError::Interrupted {
            error,
            took_effect: None,
            script,
            finished: true,
        })
    }
}

/// How a step failed.
enum StepError<'s> {
    /// The engine refused the script before sending it.
    Refused(String),
    /// Its script could not be read.
    Read(dbgen_core::Error),
    /// The script failed in a transaction; positions in the error are within it.
    Script(sqlx::Error, &'s str),
    /// A step that cannot be rolled back failed at its first statement: nothing took effect.
    FirstStatement(sqlx::Error, &'s str),
    /// A step that cannot be rolled back failed after it started: recorded as interrupted.
    Interrupted {
        error: sqlx::Error,
        /// Statements that took effect before the failing one, where the engine tells.
        took_effect: Option<usize>,
        script: &'s str,
        /// The script ran to its end; recording that failed.
        finished: bool,
    },
    /// Beginning or committing its transaction, or recording it, failed.
    Transaction(sqlx::Error),
}

/// Why a script could not be read, without its path (the message starts with it).
fn read_failure(error: &dbgen_core::Error) -> String {
    match error {
        dbgen_core::Error::Io { source, .. } => format!("cannot read it: {source}"),
        dbgen_core::Error::BadFile { reason, .. } => reason.clone(),
        dbgen_core::Error::ChangedWhileRunning { .. } => "it changed while dbgen was running (its checksum is no longer the one it had when the project was loaded), so it was not run: run the command again".to_string(),
        other => other.to_string(),
    }
}

/// "; 2 migrations applied before it remain", or nothing.
fn remaining(committed: usize) -> String {
    match committed {
        0 => String::new(),
        n => format!(
            "; {n} migration{} committed before it remain{}",
            plural(n),
            if n == 1 { "s" } else { "" }
        ),
    }
}

/// A failed step: the file, the position, the driver's message, and what remains applied.
fn failure<E: Engine>(
    database: &str,
    plan: &Plan<'_>,
    m: &Migration,
    placeholders: &[(String, String)],
    error: StepError<'_>,
    committed: usize,
) -> RunError {
    let file = script_path(m, plan.direction).into_owned();
    // The engine counts in the script as sent, placeholders filled in.
    let position = |e: &sqlx::Error, script: &str| {
        E::error_position(e)
            .map(|offset| line_column(script, original_offset(script, placeholders, offset)))
    };
    let (message, position, driver_error, note) = match error {
        StepError::Read(e) => (
            read_failure(&e),
            None,
            None,
            format!("it did not run{}", remaining(committed)),
        ),
        StepError::Refused(reason) => (
            reason,
            None,
            None,
            format!("it was not sent{}", remaining(committed)),
        ),
        StepError::Transaction(e) => (
            describe(&e),
            None,
            Some(e),
            format!("the step did not run{}", remaining(committed)),
        ),
        StepError::Script(e, script) => {
            let note = if committed == 0 {
                "the transaction was rolled back: nothing of this run remains".to_string()
            } else {
                format!(
                    "the failing transaction was rolled back; {committed} migration{} committed before it (split around a no-transaction migration) remain{}",
                    plural(committed),
                    if committed == 1 { "s" } else { "" }
                )
            };
            (describe(&e), position(&e, script), Some(e), note)
        }
        StepError::FirstStatement(e, script) => (
            describe(&e),
            position(&e, script).or_else(|| E::statement_error_position(&e, script, 0)),
            Some(e),
            format!(
                "its first statement failed, so nothing of it took effect{}: fix the script and run again",
                remaining(committed)
            ),
        ),
        StepError::Interrupted {
            error,
            took_effect,
            script,
            finished,
        } => {
            let what = match (finished, took_effect) {
                (true, _) => "the script ran to its end, but recording that failed (where it ran in a transaction, that was rolled back: its data changes are undone, DDL committed as it ran stays)".to_string(),
                (false, Some(n)) => format!(
                    "{n} statement{} of it took effect before the failing one (this engine commits DDL as it runs)",
                    plural(n)
                ),
                (false, None) => "it ran outside any transaction, so what it did before failing remains (a failed CREATE INDEX CONCURRENTLY leaves an invalid index)".to_string(),
            };
            let interrupted = InterruptedMigration {
                id: crate::plan::migration_id(m),
                interruption: match plan.direction {
                    Direction::Up => Interruption::Applying,
                    Direction::Down => Interruption::Reverting,
                },
                started_at: now_millis(),
            };
            let note = format!(
                "{what}; it is recorded as interrupted{}. {}",
                remaining(committed),
                resolve_advice(database, &interrupted)
            );
            (
                describe(&error),
                position(&error, script).or_else(|| {
                    took_effect.and_then(|ran| E::statement_error_position(&error, script, ran))
                }),
                Some(error),
                note,
            )
        }
    };
    // PostgreSQL keeps a lock per table a transaction touches, in a table of fixed size.
    let out_of_locks = driver_error
        .as_ref()
        .and_then(|e| e.as_database_error())
        .is_some_and(|e| e.code().as_deref() == Some("53200"));
    let note = if out_of_locks {
        format!(
            "{note}\n  one batch is one transaction, and this one touches more tables than the server's lock table holds: apply it in steps with `--to VERSION`, or raise max_locks_per_transaction"
        )
    } else {
        note
    };
    RunError::Script {
        file,
        position,
        message,
        note: Some(note),
        source: driver_error.map(Box::new),
    }
}
