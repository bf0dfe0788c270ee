//! The keeper: one thread per test process, with a runtime of its own, that talks to the
//! test servers. Tests run on runtimes of their own (one per `#[tokio::test]`), which a
//! connection cannot outlive; the keeper's connections live as long as the process, so
//! each test pays for one `CREATE DATABASE`, not for a connection to the server as well.
//!
//! It also keeps a few clones of each template ready (made while other tests run), and
//! drops finished tests' databases in the background. When the process exits it removes
//! the clones left over and waits for the drops still running, so that a test run leaves
//! only its templates behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dbgen_core::{Driver, redact_url};
use tokio::sync::{OnceCell, mpsc, oneshot};

use super::template::{TemplateKey, plain_on_loopback, test_database_name, with_database};
use super::{Fresh, Made, Removal, SERVER_VARIABLE, TestError};
use crate::environment::Environment;

/// Clones of a template kept ready, per template.
const SPARES: usize = 2;
/// How long the process's exit waits for the keeper to clean up.
const EXIT_WAIT: Duration = Duration::from_secs(20);

/// A test database on a server, to be dropped.
#[derive(Debug, Clone)]
pub(crate) struct ServerDatabase {
    admin_url: String,
    name: String,
}

enum Request {
    Create {
        fresh: Box<Fresh>,
        key: TemplateKey,
        environment: Box<Environment>,
        admin_url: String,
        driver: Driver,
        reply: oneshot::Sender<Result<Made, TestError>>,
    },
    Remove(ServerDatabase),
    /// The process is exiting: drop the spares, finish the drops, then answer.
    Finish(std::sync::mpsc::Sender<()>),
}

/// A connection pool on a server's maintenance database.
#[derive(Clone)]
pub(super) enum Admin {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

#[derive(Default)]
struct State {
    admins: HashMap<String, Admin>,
    /// Servers that could not be reached, and why: every later test fails at once.
    unreachable: HashMap<String, String>,
    /// Per template: built (once per process; across processes the server's lock decides).
    templates: HashMap<String, Arc<OnceCell<()>>>,
    /// Per server and template (`<admin url> <template>`): clones ready to hand out.
    spares: HashMap<String, Vec<ServerDatabase>>,
    /// Per server and template: how many databases were asked for, and spares being made.
    asked: HashMap<String, usize>,
    making: HashMap<String, usize>,
    /// Drops and spare clones still running.
    running: Vec<tokio::task::JoinHandle<()>>,
}

type Shared = Arc<Mutex<State>>;

static KEEPER: OnceLock<mpsc::UnboundedSender<Request>> = OnceLock::new();

fn sender() -> &'static mpsc::UnboundedSender<Request> {
    KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("dbgen-test-keeper".into())
            .spawn(move || keep(rx))
            .unwrap_or_else(|e| panic!("dbgen testing: cannot start its keeper thread: {e}"));
        register_exit_cleanup();
        tx
    })
}

/// The server URL for `driver`: its own variable, else `DBGEN_TEST_DATABASE_URL` when its
/// scheme is the engine's.
fn admin_url(driver: Driver, environment: &Environment) -> Result<String, TestError> {
    let (variable, schemes, example): (&'static str, &[&str], &'static str) = match driver {
        Driver::Postgres => (
            "DBGEN_TEST_POSTGRES_URL",
            &["postgres://", "postgresql://"],
            "postgres://postgres@localhost:5432/postgres",
        ),
        _ => (
            "DBGEN_TEST_MYSQL_URL",
            &["mysql://", "mariadb://"],
            "mysql://root@localhost:3306/mysql",
        ),
    };
    let vars = environment.vars();
    let own = vars.get(variable).filter(|url| !url.is_empty());
    let shared = vars
        .get(SERVER_VARIABLE)
        .filter(|url| schemes.iter().any(|s| url.starts_with(s)));
    let other = vars
        .get(SERVER_VARIABLE)
        .filter(|url| !url.is_empty() && shared.is_none())
        .map(|url| url.split("://").next().unwrap_or_default().to_string());
    own.or(shared).cloned().ok_or(TestError::NoServer {
        driver,
        variable,
        example,
        shared_scheme: other,
    })
}

/// A database for `fresh` on its server, through the keeper.
pub(super) async fn create(
    fresh: Fresh,
    key: TemplateKey,
    environment: Environment,
    driver: Driver,
) -> Result<Made, TestError> {
    let admin_url = admin_url(driver, &environment)?;
    let (reply, answer) = oneshot::channel();
    let request = Request::Create {
        fresh: Box::new(fresh),
        key,
        environment: Box::new(environment),
        admin_url,
        driver,
        reply,
    };
    if sender().send(request).is_err() {
        panic!("dbgen testing: its keeper thread has stopped");
    }
    answer.await.unwrap_or_else(|_| {
        panic!("dbgen testing: its keeper thread stopped while making a database")
    })
}

/// Drops a test's database in the background.
pub(super) fn remove(database: ServerDatabase) {
    let _ = sender().send(Request::Remove(database));
}

fn keep(mut requests: mpsc::UnboundedReceiver<Request>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("dbgen testing: cannot start the keeper's runtime: {e}"),
    };
    let state: Shared = Arc::default();
    runtime.block_on(async move {
        while let Some(request) = requests.recv().await {
            match request {
                Request::Create {
                    fresh,
                    key,
                    environment,
                    admin_url,
                    driver,
                    reply,
                } => {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let made = create_on_server(
                            &state,
                            &fresh,
                            &key,
                            &environment,
                            &admin_url,
                            driver,
                        )
                        .await;
                        let _ = reply.send(made);
                    });
                }
                Request::Remove(database) => {
                    let admin = state
                        .lock()
                        .ok()
                        .and_then(|s| s.admins.get(&database.admin_url).cloned());
                    if let Some(admin) = admin {
                        let task = tokio::spawn(async move {
                            let _ = drop_database(&admin, &database.name).await;
                        });
                        if let Ok(mut state) = state.lock() {
                            state.running.push(task);
                        }
                    }
                }
                Request::Finish(done) => {
                    finish(&state).await;
                    let _ = done.send(());
                    return;
                }
            }
        }
    });
}

async fn create_on_server(
    state: &Shared,
    fresh: &Fresh,
    key: &TemplateKey,
    environment: &Environment,
    admin_url: &str,
    driver: Driver,
) -> Result<Made, TestError> {
    let admin = admin(state, admin_url, driver).await?;
    let spare = lock(state)
        .spares
        .get_mut(&spares_key(admin_url, key))
        .and_then(Vec::pop);
    let name = match spare {
        Some(spare) => spare.name,
        None => {
            let name = test_database_name(&fresh.db.name);
            // Another checkout with other migrations for a database of this name drops
            // this template as stale when it builds its own: build it again, and retry.
            let mut attempt = 0;
            loop {
                let built = {
                    let mut state = lock(state);
                    Arc::clone(state.templates.entry(key.name.clone()).or_default())
                };
                built
                    .get_or_try_init(|| ensure_template(&admin, fresh, key, environment, admin_url))
                    .await?;
                match make_clone(&admin, fresh, key, environment, admin_url, &name).await {
                    Err(e) if attempt < 3 && template_vanished(&e) => {
                        attempt += 1;
                        lock(state).templates.remove(&key.name);
                    }
                    result => break result?,
                }
            }
            name
        }
    };
    if exit_cleanup_registered() {
        refill_spares(state, &admin, fresh, key, environment, admin_url);
    }
    Ok(Made {
        url: with_database(admin_url, &name),
        name: name.clone(),
        removal: Removal::Server(ServerDatabase {
            admin_url: admin_url.to_string(),
            name,
        }),
    })
}

fn spares_key(admin_url: &str, key: &TemplateKey) -> String {
    format!("{admin_url} {}", key.name)
}

/// Starts making clones until `SPARES` are ready or being made.
fn refill_spares(
    state: &Shared,
    admin: &Admin,
    fresh: &Fresh,
    key: &TemplateKey,
    environment: &Environment,
    admin_url: &str,
) {
    let mut guard = lock(state);
    let spares = spares_key(admin_url, key);
    // A process that asks once (nextest runs a test per process) gets no spares to waste.
    let asked = {
        let asked = guard.asked.entry(spares.clone()).or_default();
        *asked += 1;
        *asked
    };
    let ready = guard.spares.get(&spares).map_or(0, Vec::len);
    let making = guard.making.get(&spares).copied().unwrap_or(0);
    if asked < 2 || ready + making >= SPARES {
        return;
    }
    *guard.making.entry(spares.clone()).or_default() += 1;
    guard.running.retain(|task| !task.is_finished());
    let (state2, admin, fresh, key, environment, admin_url) = (
        Arc::clone(state),
        admin.clone(),
        fresh.clone(),
        key.clone(),
        environment.clone(),
        admin_url.to_string(),
    );
    let task = tokio::spawn(async move {
        let name = test_database_name(&fresh.db.name);
        let made = make_clone(&admin, &fresh, &key, &environment, &admin_url, &name).await;
        let mut state = lock(&state2);
        if let Some(making) = state.making.get_mut(&spares) {
            *making = making.saturating_sub(1);
        }
        if made.is_ok() {
            let spare = ServerDatabase { admin_url, name };
            state.spares.entry(spares).or_default().push(spare);
        }
    });
    guard.running.push(task);
}

/// At exit: every spare dropped, every drop and clone finished.
async fn finish(state: &Shared) {
    loop {
        let running = std::mem::take(&mut lock(state).running);
        if running.is_empty() {
            break;
        }
        for task in running {
            let _ = task.await;
        }
    }
    let (spares, admins) = {
        let mut state = lock(state);
        (std::mem::take(&mut state.spares), state.admins.clone())
    };
    // All at once: the process's exit waits for them.
    let drops = spares.into_values().flatten().filter_map(|spare| {
        let admin = admins.get(&spare.admin_url)?.clone();
        Some(tokio::spawn(async move {
            let _ = drop_database(&admin, &spare.name).await;
        }))
    });
    for drop in drops.collect::<Vec<_>>() {
        let _ = drop.await;
    }
    for admin in admins.values() {
        match admin {
            #[cfg(feature = "postgres")]
            Admin::Postgres(pool) => pool.close().await,
            #[cfg(feature = "mysql")]
            Admin::MySql(pool) => pool.close().await,
        }
    }
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn admin(state: &Shared, url: &str, driver: Driver) -> Result<Admin, TestError> {
    {
        let state = lock(state);
        if let Some(admin) = state.admins.get(url) {
            return Ok(admin.clone());
        }
        if let Some(message) = state.unreachable.get(url) {
            return Err(TestError::Unreachable {
                server: redact_url(url),
                message: message.clone(),
            });
        }
    }
    let failed = |source: sqlx::Error| {
        let message = crate::error::connect_message(&source);
        lock(state)
            .unreachable
            .insert(url.to_string(), message.clone());
        TestError::Server {
            action: "connecting".to_string(),
            server: redact_url(url),
            message,
            source,
        }
    };
    // One connection first, so that a refused or unknown server is told as such at once
    // (a pool would wait out its timeout and report only that).
    probe(url, driver).await.map_err(failed)?;
    let admin = match driver {
        #[cfg(feature = "postgres")]
        Driver::Postgres => Admin::Postgres(
            sqlx::pool::PoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect(&plain_on_loopback(url))
                .await
                .map_err(failed)?,
        ),
        #[cfg(feature = "mysql")]
        Driver::Mysql => Admin::MySql(
            sqlx::pool::PoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect(&plain_on_loopback(url))
                .await
                .map_err(failed)?,
        ),
        #[allow(unreachable_patterns)]
        driver => unreachable!("the keeper serves server engines, not {driver}"),
    };
    Ok(lock(state)
        .admins
        .entry(url.to_string())
        .or_insert(admin)
        .clone())
}

async fn probe(url: &str, driver: Driver) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let connect = async {
        match driver {
            #[cfg(feature = "postgres")]
            Driver::Postgres => {
                sqlx::PgConnection::connect(&plain_on_loopback(url))
                    .await?
                    .close()
                    .await
            }
            #[cfg(feature = "mysql")]
            Driver::Mysql => {
                sqlx::MySqlConnection::connect(&plain_on_loopback(url))
                    .await?
                    .close()
                    .await
            }
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer within 10 s: is the host right, and the server up?",
            )))
        })
}

async fn ensure_template(
    admin: &Admin,
    fresh: &Fresh,
    key: &TemplateKey,
    environment: &Environment,
    admin_url: &str,
) -> Result<(), TestError> {
    let _ = (fresh, key, environment, admin_url);
    match admin {
        #[cfg(feature = "postgres")]
        Admin::Postgres(pool) => {
            super::postgres::ensure_template(pool, fresh, key, environment, admin_url).await
        }
        // MySQL has no template: each database is migrated by replay.
        #[cfg(feature = "mysql")]
        Admin::MySql(_) => Ok(()),
    }
}

async fn make_clone(
    admin: &Admin,
    fresh: &Fresh,
    key: &TemplateKey,
    environment: &Environment,
    admin_url: &str,
    name: &str,
) -> Result<(), TestError> {
    // PostgreSQL copies the template; only MySQL migrates each database.
    let _ = (fresh, key, environment);
    match admin {
        #[cfg(feature = "postgres")]
        Admin::Postgres(pool) => super::postgres::clone(pool, key, admin_url, name).await,
        #[cfg(feature = "mysql")]
        Admin::MySql(pool) => super::mysql::create(pool, fresh, environment, admin_url, name).await,
    }
}

/// PostgreSQL's "template database does not exist" (3D000 on CREATE DATABASE).
fn template_vanished(error: &TestError) -> bool {
    matches!(error, TestError::Server { source: sqlx::Error::Database(e), .. } if e.code().as_deref() == Some("3D000"))
}

async fn drop_database(admin: &Admin, name: &str) -> Result<(), sqlx::Error> {
    match admin {
        #[cfg(feature = "postgres")]
        Admin::Postgres(pool) => super::postgres::drop_database(pool, name).await,
        #[cfg(feature = "mysql")]
        Admin::MySql(pool) => super::mysql::drop_database(pool, name).await,
    }
}

static EXIT_CLEANUP: OnceLock<bool> = OnceLock::new();

fn exit_cleanup_registered() -> bool {
    EXIT_CLEANUP.get().copied().unwrap_or(false)
}

/// At the process's exit the keeper drops its spares and finishes its drops. Without an
/// exit hook (outside Unix) no spares are made.
fn register_exit_cleanup() {
    #[cfg(unix)]
    {
        extern "C" fn at_exit() {
            if let Some(keeper) = KEEPER.get() {
                let (done, finished) = std::sync::mpsc::channel();
                if keeper.send(Request::Finish(done)).is_ok() {
                    let _ = finished.recv_timeout(EXIT_WAIT);
                }
            }
        }
        // SAFETY: `at_exit` is a plain function that does not unwind.
        let registered = unsafe { libc::atexit(at_exit) } == 0;
        let _ = EXIT_CLEANUP.set(registered);
    }
    #[cfg(not(unix))]
    {
        let _ = EXIT_CLEANUP.set(false);
    }
}
