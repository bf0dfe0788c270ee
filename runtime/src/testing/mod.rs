//! A fresh, fully migrated database per test, in milliseconds (feature `testing`).
//!
//! The first test that needs a database builds a *template* for the current migrations:
//! a database migrated once, named after the database and the checksum of everything
//! that makes its content (migrations, seeds, placeholder values, the target version).
//! Every test then gets a copy of it: `CREATE DATABASE ... TEMPLATE` on PostgreSQL, a copy
//! of the file on SQLite, a replay into a new database on MySQL and MariaDB (where no
//! faster copy is sound). Parallel test processes build a template once, under a lock of
//! the server's (or of the file system's, for SQLite). A changed migration gives a new
//! template and removes the old one.
//!
//! A test's database is dropped when the test passes and kept when it fails, with a line
//! saying how to reach it.
//!
//! ```no_run
//! # #[derive(Clone, Copy, dbgen_runtime::Databases)]
//! # #[databases(root = "../database")]
//! # enum Database { Permiso, PermisoTest, PermisoSqlite }
//! #[dbgen_runtime::test(Database::PermisoSqlite)]
//! async fn lists_roles(pool: sqlx::SqlitePool) {
//!     let roles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roles")
//!         .fetch_one(&pool)
//!         .await
//!         .unwrap();
//!     assert_eq!(roles, 0);
//! }
//!
//! #[tokio::test]
//! async fn by_hand() -> Result<(), Box<dyn std::error::Error>> {
//!     let db = dbgen_runtime::testing::fresh(Database::PermisoSqlite).await?;
//!     let pool = db.pool().as_sqlite()?;
//!     # let _ = pool;
//!     Ok(())
//! }
//! ```
//!
//! The server comes from `DBGEN_TEST_POSTGRES_URL` / `DBGEN_TEST_MYSQL_URL`, or from
//! `DBGEN_TEST_DATABASE_URL` when its scheme is the database's engine: a URL of the
//! server's maintenance database (`postgres://postgres@localhost/postgres`), as a user that
//! may create databases. SQLite needs none: its files are in the system's temporary folder.

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod keeper;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod template;

use std::future::Future;
use std::path::PathBuf;

use dbgen_core::{Database, Driver, redact_url};

use crate::environment::Environment;
use crate::error::RunError;
use crate::migrator::{Action, Migrator};
use crate::pool::Pool;
use crate::registry::Databases;

pub use template::TemplateKey;

/// The variable naming a server for tests of any engine its scheme names.
pub const SERVER_VARIABLE: &str = "DBGEN_TEST_DATABASE_URL";

/// Why a test database could not be made. `Debug` prints the message (passwords hidden),
/// so that `.unwrap()` in a test says what to do.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// No server to make it on.
    #[error(
        "no {driver} server for test databases: set {variable} (or {SERVER_VARIABLE}{}) to a URL of the server's maintenance database, e.g. {example}, as a user that may create databases (in the environment or in .env)",
        shared_scheme.as_ref().map(|s| format!(", which names a {s} server now")).unwrap_or_default()
    )]
    NoServer {
        /// The engine.
        driver: Driver,
        /// The engine's own variable.
        variable: &'static str,
        /// A URL of the right form.
        example: &'static str,
        /// The scheme of `DBGEN_TEST_DATABASE_URL` when it names another engine.
        shared_scheme: Option<String>,
    },
    /// The server refused or failed a statement.
    #[error("{action} on the test server ({server}) failed: {message}")]
    Server {
        /// What was being done: "creating database dbgen_test_...".
        action: String,
        /// The server, password hidden.
        server: String,
        /// What went wrong.
        message: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The server could not be reached by an earlier test of this process.
    #[error("the test server ({server}) could not be reached: {message}")]
    Unreachable {
        /// The server, password hidden.
        server: String,
        /// Why, as the first attempt found.
        message: String,
    },
    /// Migrating the template (or the database) failed.
    #[error("migrating the test database of `{database}` failed: {source}")]
    Migrate {
        /// The dbgen database.
        database: String,
        /// What went wrong.
        #[source]
        source: Box<RunError>,
    },
    /// A file of a SQLite template could not be written or copied.
    #[error("{action} {}: {source}", path.display())]
    File {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The database's engine is not built into this dbgen-runtime.
    #[error(
        "database `{database}` uses {driver}, but dbgen-runtime is built without its `{driver}` feature"
    )]
    EngineDisabled {
        /// The dbgen database.
        database: String,
        /// Its engine.
        driver: Driver,
    },
}

/// A new database for one test holding every migration of `db` (no seeds), cloned from its
/// template: `Fresh::of(db).create()`. See [`Fresh`] for seeds and versions.
pub async fn fresh<D: Databases>(db: D) -> Result<TestDatabase, TestError> {
    Fresh::of(db).create().await
}

// Debug by hand: URLs and variable values may hold passwords.
impl std::fmt::Debug for Fresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let vars: Vec<&str> = self.vars.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Fresh")
            .field("database", &self.db.name)
            .field("seeds", &self.seeds)
            .field("to", &self.to)
            .field("vars", &vars)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("database", &self.db.name)
            .field("name", &self.made.name)
            .field("url", &redact_url(&self.made.url))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Made {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Made")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Which seeds a test database gets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seeds {
    None,
    All,
    Named(Vec<String>),
}

/// What a test database holds: a database's migrations (all, or up to a version) and
/// maybe its seeds. `Fresh::of(Database::Shop).to(V).create().await`.
#[derive(Clone)]
pub struct Fresh {
    db: &'static Database,
    seeds: Seeds,
    to: Option<i64>,
    vars: Vec<(String, String)>,
    expects_panic: bool,
}

impl Fresh {
    /// Every migration of `db`, no seeds.
    pub fn of<D: Databases>(db: D) -> Self {
        Self {
            db: db.definition(),
            seeds: Seeds::None,
            to: None,
            vars: Vec::new(),
            expects_panic: false,
        }
    }

    /// For a `#[should_panic]` test: its panic is its success, so its database is dropped.
    #[doc(hidden)]
    pub fn expecting_panic(mut self) -> Self {
        self.expects_panic = true;
        self
    }

    /// Sets a variable for building it, over the process environment and `.env`: a
    /// placeholder's value (`RLS_DB_USER_PASSWORD`), say. Values are part of the template's
    /// key, never printed.
    pub fn var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    /// Runs every seed after the migrations.
    pub fn all_seeds(mut self) -> Self {
        self.seeds = Seeds::All;
        self
    }

    /// Runs this seed (its name, with or without `.sql`) after the migrations; may be
    /// repeated, and the seeds run in the order given.
    pub fn seed(mut self, name: &str) -> Self {
        let name = name.strip_suffix(".sql").unwrap_or(name).to_string();
        match &mut self.seeds {
            Seeds::Named(names) => names.push(name),
            _ => self.seeds = Seeds::Named(vec![name]),
        }
        self
    }

    /// Stops after this version, to test a migration itself: migrate to the version before
    /// it, insert data, then run it with [`TestDatabase::migrator`].
    pub fn to(mut self, version: i64) -> Self {
        self.to = Some(version);
        self
    }

    /// A new database with this content, cloned from its template (built first if needed).
    pub async fn create(&self) -> Result<TestDatabase, TestError> {
        let mut environment = Environment::from_process().map_err(|e| self.migrate_error(e))?;
        for (key, value) in &self.vars {
            environment = environment.with_var(key.clone(), value.clone());
        }
        let key = TemplateKey::new(self, &environment);
        let made = match self.db.config.driver {
            #[cfg(feature = "sqlite")]
            Driver::Sqlite => sqlite::create(self, &key, &environment).await?,
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            driver @ (Driver::Postgres | Driver::Mysql) => {
                keeper::create(self.clone(), key, environment.clone(), driver).await?
            }
            #[allow(unreachable_patterns)]
            driver => {
                return Err(TestError::EngineDisabled {
                    database: self.db.name.to_string(),
                    driver,
                });
            }
        };
        let environment = environment.with_var(url_variable(self.db), made.url.clone());
        let pool = match self.connect(&environment).await {
            Ok(pool) => pool,
            Err(e) => {
                remove(&made.removal);
                return Err(e);
            }
        };
        Ok(TestDatabase {
            db: self.db,
            pool,
            environment,
            made,
            kept: false,
            expects_panic: self.expects_panic,
        })
    }

    /// Runs the migrations (and seeds) this content asks for, on the database `url`.
    pub(crate) async fn fill(&self, environment: &Environment, url: &str) -> Result<(), TestError> {
        let environment = environment
            .clone()
            .with_var(url_variable(self.db), url.to_string());
        let migrator = Migrator::new(self.db).environment(environment);
        migrator
            .run(Action::Latest { to: self.to })
            .await
            .map_err(|e| self.migrate_error(e))?;
        let seeds: Vec<String> = match &self.seeds {
            Seeds::None => Vec::new(),
            Seeds::All => self.db.seeds.iter().map(|s| s.name.to_string()).collect(),
            Seeds::Named(names) => names.clone(),
        };
        for seed in seeds {
            migrator
                .seed_one(&seed)
                .await
                .map_err(|e| self.migrate_error(e))?;
        }
        Ok(())
    }

    async fn connect(&self, environment: &Environment) -> Result<Pool, TestError> {
        let connected = async {
            let settings =
                dbgen_core::resolve_connection(self.db, environment.vars(), environment.root())?;
            Pool::connect(self.db, &settings).await
        };
        connected.await.map_err(|e| self.migrate_error(e))
    }

    fn migrate_error(&self, source: RunError) -> TestError {
        TestError::Migrate {
            database: self.db.name.to_string(),
            source: Box::new(source),
        }
    }
}

/// Says that a template was built: once per content, so a line per run at most, and the
/// way to see that parallel test processes built it once.
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
fn built(template: &str, took: std::time::Duration) {
    tracing::info!(
        template,
        took_ms = took.as_millis() as u64,
        "built a test template"
    );
    // Straight to the process's stderr: a test's captured output would hide it.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "dbgen: built template {template} in {} ms",
        took.as_millis()
    );
}

/// `{P}_DB_URL`: the variable a test database's URL is handed over in.
fn url_variable(db: &Database) -> String {
    format!("{}_DB_URL", db.env_prefix())
}

/// A database made for one test. Dropped when the value is dropped, unless the test is
/// failing (panicking): then it is kept, and a line on stderr says how to reach it.
#[must_use = "the database is dropped with this value: keep it while the test uses the pool"]
pub struct TestDatabase {
    db: &'static Database,
    pool: Pool,
    environment: Environment,
    made: Made,
    kept: bool,
    expects_panic: bool,
}

/// A database a test got, and how to remove it.
#[derive(Clone)]
pub(crate) struct Made {
    /// Its URL (it may hold the server's password).
    pub url: String,
    /// Its name on the server, or its file.
    pub name: String,
    /// How it goes away.
    pub removal: Removal,
}

/// How a test database goes away.
#[derive(Debug, Clone)]
pub(crate) enum Removal {
    /// Dropped on its server by the keeper thread.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    Server(keeper::ServerDatabase),
    /// A file removed.
    #[cfg(feature = "sqlite")]
    File(PathBuf),
}

impl TestDatabase {
    /// A pool on it (`.as_postgres()`, `.into_sqlite()`, ... give sqlx's).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Its URL, with the server's password.
    pub fn url(&self) -> &str {
        &self.made.url
    }

    /// Its name on the server (SQLite: its file).
    pub fn name(&self) -> &str {
        &self.made.name
    }

    /// A migrator on it, through its pool: to run the migrations after the version
    /// [`Fresh::to`] stopped at, or the seeds.
    pub fn migrator(&self) -> Migrator<'static> {
        Migrator::new(self.db)
            .on(self.pool.clone())
            .environment(self.environment.clone())
    }

    /// Keeps it after the test, whatever the outcome; the line saying how to reach it is
    /// printed when it is dropped.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.kept || (std::thread::panicking() && !self.expects_panic) {
            let test = std::thread::current()
                .name()
                .map(|name| format!(" of test `{name}`"))
                .unwrap_or_default();
            eprintln!(
                "dbgen: kept the database{test} for you to look at: {} ({})",
                redact_url(&self.made.url),
                connect_hint(self.db.config.driver, &self.made)
            );
            return;
        }
        remove(&self.made.removal);
    }
}

fn remove(removal: &Removal) {
    match removal {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        Removal::Server(database) => keeper::remove(database.clone()),
        #[cfg(feature = "sqlite")]
        Removal::File(path) => sqlite::remove(path),
    }
}

/// The command that opens a kept database (without the password: the client asks).
fn connect_hint(driver: Driver, made: &Made) -> String {
    let (user, host, port) = url_parts(&made.url);
    match driver {
        Driver::Postgres => {
            let (scheme, rest) = made.url.split_once("://").unwrap_or(("postgres", ""));
            let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let user = user.map(|u| format!("{u}@")).unwrap_or_default();
            format!("psql '{scheme}://{user}{host_and_db}'")
        }
        Driver::Mysql => format!(
            "mariadb -h {} -P {} -u {} {} (or mysql)",
            host.unwrap_or("localhost"),
            port.unwrap_or("3306"),
            user.unwrap_or("root"),
            made.name
        ),
        Driver::Sqlite => format!("sqlite3 {}", made.name),
    }
}

/// The user, host and port of a server URL.
fn url_parts(url: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (userinfo, host) = match rest.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, rest),
    };
    let user = userinfo.map(|u| u.split_once(':').map_or(u, |(user, _)| user));
    let authority = host.split(['/', '?']).next().unwrap_or(host);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    (user, Some(host), port)
}

/// What a `#[dbgen_runtime::test]` function takes: a sqlx pool of the database's engine, or
/// a [`Pool`]. (For the [`TestDatabase`] itself, use [`fresh`] in a `#[tokio::test]`.)
#[diagnostic::on_unimplemented(
    message = "a #[dbgen_runtime::test] function cannot take `{Self}`",
    label = "declare the database's pool here",
    note = "it takes sqlx::PgPool, sqlx::MySqlPool or sqlx::SqlitePool (the database's engine) or dbgen_runtime::Pool; for the TestDatabase itself, call dbgen_runtime::testing::fresh in a #[tokio::test]"
)]
pub trait FromTestDatabase: Sized {
    /// Takes it from the test's database; an error saying what to declare instead.
    fn from_test_database(db: &TestDatabase) -> Result<Self, String>;
}

impl FromTestDatabase for Pool {
    fn from_test_database(db: &TestDatabase) -> Result<Self, String> {
        Ok(db.pool.clone())
    }
}

macro_rules! pool_argument {
    ($feature:literal, $pool:ty, $as:ident) => {
        #[cfg(feature = $feature)]
        impl FromTestDatabase for $pool {
            fn from_test_database(db: &TestDatabase) -> Result<Self, String> {
                db.pool.$as().cloned().map_err(|_| {
                    let wanted = match db.db.config.driver {
                        Driver::Postgres => "sqlx::PgPool",
                        Driver::Mysql => "sqlx::MySqlPool",
                        Driver::Sqlite => "sqlx::SqlitePool",
                    };
                    format!(
                        "database `{}` is {}: declare the test's argument as `{wanted}` (or dbgen_runtime::Pool), not `{}`",
                        db.db.name,
                        db.db.config.driver,
                        stringify!($pool)
                    )
                })
            }
        }
    };
}

pool_argument!("postgres", sqlx::PgPool, as_postgres);
pool_argument!("mysql", sqlx::MySqlPool, as_mysql);
pool_argument!("sqlite", sqlx::SqlitePool, as_sqlite);

/// Whether a test's return value says it failed.
pub trait TestOutcome {
    /// `true` for an `Err`.
    fn failed(&self) -> bool;
}

impl TestOutcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> TestOutcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

/// What `#[dbgen_runtime::test]` expands to: a runtime of its own, a fresh database, the
/// test, and the database dropped when the test passed (kept when it failed).
#[doc(hidden)]
pub fn run_test<A, F, R>(fresh: Fresh, test: impl FnOnce(A) -> F) -> R
where
    A: FromTestDatabase,
    F: Future<Output = R>,
    R: TestOutcome,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("#[dbgen_runtime::test]: cannot start a tokio runtime: {e}"));
    runtime.block_on(async {
        let mut db = match fresh.create().await {
            Ok(db) => db,
            Err(e) => panic!("#[dbgen_runtime::test]: {e}"),
        };
        let argument = match A::from_test_database(&db) {
            Ok(argument) => argument,
            // A mistake in the test's signature, not a failure to look into: no database kept.
            Err(message) => {
                drop(db);
                panic!("#[dbgen_runtime::test]: {message}");
            }
        };
        let outcome = test(argument).await;
        if outcome.failed() {
            db.keep();
        }
        drop(db);
        outcome
    })
}
