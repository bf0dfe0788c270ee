//! The engine-free loop: lock, read the tracking table, plan, run, record, unlock. Every
//! entry point of the library and of the command set ends here.

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dbgen_core::{
    ConnectionSettings, Database, Driver, Migration, Redactor, is_blank_script, is_no_transaction,
    resolve_connection, resolve_placeholders, substitute_placeholders,
};

#[cfg(feature = "mysql")]
use crate::engine::MySql;
#[cfg(feature = "postgres")]
use crate::engine::Postgres;
#[cfg(feature = "sqlite")]
use crate::engine::Sqlite;
use crate::engine::{AppliedRow, Engine, OpenMode, Record, Source};
use crate::environment::Environment;
use crate::error::{RunError, describe, line_column};
use crate::migrator::{Action, Outcome, PlannedScript, StepReport, plural};
use crate::observer::Observer;
use crate::plan::{Direction, Plan, Status};
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

/// Where a job runs: an application's pool, or a connection of its own from `environment`.
pub(crate) struct Target<'a> {
    pub pool: Option<&'a Pool>,
    /// `None`: the process environment, read only when needed.
    pub environment: Option<&'a Environment>,
    /// Overrides the database's `lock_timeout`.
    pub lock_timeout: Option<Duration>,
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
    let placeholders_needed = job.writes() && !db.config.placeholders.is_empty();
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
        (None, Some(env)) => Some(resolve_connection(db, env.vars(), env.root())?),
        (None, None) => unreachable!("an environment is loaded whenever there is no pool"),
    };
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
                (*action, *options, mode),
                placeholders,
                observer,
            )
            .await
        }
        Job::Status => Ok(Outcome::Status(Box::new(
            status::<E>(db, source, mode).await?,
        ))),
        Job::Seed { specific, dry_run } => {
            let seeds = seeder::select(db, specific.as_deref())?;
            let run = (*dry_run, mode);
            seeder::run::<E>(db, source, &seeds, run, placeholders, observer).await
        }
    }
}

/// Opens `source` on engine `E`, mapping a failure to a message that names the variables.
pub(crate) async fn open<E: Engine>(
    source: Source<'_>,
    mode: OpenMode,
) -> Result<Option<E>, RunError> {
    E::open(source, mode).await.map_err(|e| RunError::Connect {
        target: source.describe(),
        variables: match source {
            Source::Settings(settings) => settings.variables_list(),
            Source::Pool(_) => "the application's own pool".to_string(),
        },
        message: describe(&e),
        source: e,
    })
}

fn tracking<'a>(action: &'static str, table: &'a str) -> impl FnOnce(sqlx::Error) -> RunError + 'a {
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
    let table = &db.config.migrations_table;
    let applied = match open::<E>(source, mode).await? {
        Some(mut engine) => {
            let applied = read_applied(&mut engine, table).await;
            engine.close().await;
            applied?
        }
        None => Vec::new(),
    };
    Ok(StatusReport::new(
        db,
        source.describe(),
        &Status::new(&db.migrations, &applied),
    ))
}

/// latest / up / rollback / reset / down on one database.
async fn migrate<E: Engine>(
    db: &Database,
    source: Source<'_>,
    (action, options, mode): (Action, MigrateOptions, OpenMode),
    placeholders: &[(String, String)],
    out: &mut dyn Observer,
) -> Result<Outcome, RunError> {
    let table: &str = &db.config.migrations_table;
    let Some(mut engine) = open::<E>(source, mode).await? else {
        // A SQLite file that does not exist (and was not to be created): nothing is applied.
        let status = Status::new(&db.migrations, &[]);
        let plan = plan(&status, action, options)?;
        return match plan.direction {
            _ if options.dry_run => dry_run(&plan),
            Direction::Down => Ok(Outcome::NothingToRollBack),
            Direction::Up => Ok(Outcome::UpToDate { ahead: 0 }),
        };
    };
    let result = if options.dry_run {
        match read_applied(&mut engine, table).await {
            Ok(applied) => {
                let status = Status::new(&db.migrations, &applied);
                plan(&status, action, options)
                    .map_err(RunError::from)
                    .and_then(|p| dry_run(&p))
            }
            Err(e) => Err(e),
        }
    } else {
        with_lock(&mut engine, table, mode.lock_timeout, async |engine: &mut E| {
            engine
                .create_tracking_table(table)
                .await
                .map_err(tracking("creating", table))?;
            let applied = read_applied(engine, table).await?;
            let status = Status::new(&db.migrations, &applied);
            let plan = plan(&status, action, options)?;
            if !plan.out_of_order.is_empty() {
                let names: Vec<String> = plan.out_of_order.iter().map(ToString::to_string).collect();
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
            let started = Instant::now();
            let steps = run_plan(engine, (&db.name, table), &plan, placeholders, out).await?;
            let (batch, took) = (plan.batch, started.elapsed());
            Ok(match plan.direction {
                Direction::Up => Outcome::Applied { batch, steps, took },
                Direction::Down => Outcome::RolledBack { batch, steps, took },
            })
        })
        .await
    };
    engine.close().await;
    result
}

fn plan<'a>(
    status: &Status<'a>,
    action: Action,
    options: MigrateOptions,
) -> Result<Plan<'a>, crate::error::Refusal> {
    match action {
        Action::Latest { to } => status.plan_latest(to, options.strict),
        Action::Up { version } => status.plan_up(version, options.strict),
        Action::Rollback { to } => status.plan_rollback(to),
        Action::Reset => status.plan_reset(),
        Action::Down { version } => status.plan_down(version),
    }
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
                no_transaction: is_no_transaction(&sql),
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

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs a plan's steps. On engines with transactional DDL consecutive steps share one
/// transaction; a no-transaction step runs alone between them. Every step commits together
/// with its tracking row.
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
    // SQLite's lock is its write transaction, already open.
    let mut open = E::LOCK_IS_TRANSACTION;
    let mut committed = 0usize;
    let mut done_in_transaction = 0usize;
    let mut reports = Vec::with_capacity(plan.steps.len());
    out.started(plan.steps.len());
    for m in &plan.steps {
        let failed = |error: StepError<'_>, committed| failure::<E>(plan, m, error, committed);
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
        let alone = is_no_transaction(&script);
        if alone && open {
            engine
                .commit()
                .await
                .map_err(|e| failed(StepError::Transaction(e), committed))?;
            open = false;
            committed += done_in_transaction;
            done_in_transaction = 0;
        }
        if !alone && !open {
            engine
                .begin()
                .await
                .map_err(|e| failed(StepError::Transaction(e), committed))?;
            open = true;
        }
        let started = Instant::now();
        let result = step::<E>(engine, table, plan, m, (&script, alone), placeholders).await;
        if let Err(e) = result {
            if open {
                let _ = engine.rollback().await;
            }
            out.finished();
            let error = match e {
                StepFailure::Driver(e) => StepError::Script(e, &script),
                StepFailure::Refused(reason) => StepError::Refused(reason),
            };
            return Err(failed(error, committed));
        }
        if open && !E::TRANSACTIONAL_DDL {
            engine
                .commit()
                .await
                .map_err(|e| failed(StepError::Transaction(e), committed))?;
            open = false;
            committed += 1;
        } else if open {
            done_in_transaction += 1;
        } else {
            committed += 1;
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
        let commit = engine.commit().await;
        if let Some(m) = plan.steps.last() {
            commit.map_err(|e| failure::<E>(plan, m, StepError::Transaction(e), committed))?;
        }
    }
    out.finished();
    Ok(reports)
}

async fn step<E: Engine>(
    engine: &mut E,
    table: &str,
    plan: &Plan<'_>,
    m: &Migration,
    (script, alone): (&str, bool),
    placeholders: &[(String, String)],
) -> Result<(), StepFailure> {
    let record = match plan.direction {
        Direction::Up => Record::Applied {
            version: m.version,
            name: &m.name,
            batch: plan.batch,
            checksum: m.checksum.to_hex(),
            applied_at: now_millis(),
        },
        Direction::Down => Record::Reverted { version: m.version },
    };
    let sql = substitute_placeholders(script, placeholders);
    if is_blank_script(&sql) {
        // Nothing to run (MySQL would refuse an empty query): only the record.
        return Ok(engine.execute(&record.statement(table, "0")).await?);
    }
    if let Some(reason) = engine.refusal(&sql).await? {
        return Err(StepFailure::Refused(reason));
    }
    Ok(engine.run_step(table, &sql, &record, alone).await?)
}

/// Why a step's script did not run to the end.
enum StepFailure {
    /// The driver's error.
    Driver(sqlx::Error),
    /// The engine cannot take the script (and it was not sent).
    Refused(String),
}

impl From<sqlx::Error> for StepFailure {
    fn from(e: sqlx::Error) -> Self {
        StepFailure::Driver(e)
    }
}

/// How a step failed.
enum StepError<'s> {
    /// The engine refused the script before sending it.
    Refused(String),
    /// Its script could not be read.
    Read(dbgen_core::Error),
    /// The script failed; positions in the error are within it.
    Script(sqlx::Error, &'s str),
    /// Beginning or committing its transaction failed.
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

/// A failed step: the file, the position, the driver's message, and what remains applied.
fn failure<E: Engine>(
    plan: &Plan<'_>,
    m: &Migration,
    error: StepError<'_>,
    committed: usize,
) -> RunError {
    let file = script_path(m, plan.direction).into_owned();
    let read_failed = matches!(error, StepError::Read(_));
    let note = if !E::TRANSACTIONAL_DDL && read_failed {
        match committed {
            0 => "nothing of this run was applied".to_string(),
            n => format!(
                "{n} migration{} applied before it remain{}",
                plural(n),
                if n == 1 { "s" } else { "" }
            ),
        }
    } else if !E::TRANSACTIONAL_DDL {
        "this engine commits DDL statements as they run: statements of this script before the failing one may have taken effect (its tracking row was not written); check the schema, fix the script and run again".to_string()
    } else if committed == 0 {
        "the transaction was rolled back: nothing of this run remains".to_string()
    } else {
        format!(
            "the failing transaction was rolled back; {committed} migration{} committed before it (split around a no-transaction migration) remain{}",
            plural(committed),
            if committed == 1 { "s" } else { "" }
        )
    };
    let (message, position, driver_error) = match error {
        StepError::Read(e) => (read_failure(&e), None, None),
        StepError::Refused(reason) => (reason, None, None),
        StepError::Script(e, script) => (
            describe(&e),
            E::error_position(&e).map(|offset| line_column(script, offset)),
            Some(e),
        ),
        StepError::Transaction(e) => (describe(&e), None, Some(e)),
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
