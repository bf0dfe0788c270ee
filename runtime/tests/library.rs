//! The library an application calls: async inside any tokio runtime, through the
//! application's own pool, quiet, returning what happened as data.

use std::path::Path;
use std::process::Command;

use dbgen_core::{Database, load_project};
use dbgen_runtime::{Environment, Migrator, Outcome, Pool, RunError, State};
use dbgen_testkit::{Engine, TestDb};

/// A project with one database `shop` on `engine`: two migrations, the second reversible.
fn project(dir: &Path, engine: Engine) -> Database {
    let db = dir.join("database/shop");
    std::fs::create_dir_all(db.join("migrations")).unwrap();
    std::fs::write(
        dir.join("dbgen.toml"),
        format!("driver = \"{}\"\n", engine.driver()),
    )
    .unwrap();
    std::fs::write(db.join("database.toml"), "").unwrap();
    let m = db.join("migrations");
    std::fs::write(
        m.join("1_customers.up.sql"),
        "CREATE TABLE customers (id INT PRIMARY KEY);",
    )
    .unwrap();
    std::fs::write(
        m.join("2_orders.up.sql"),
        "CREATE TABLE orders (id INT PRIMARY KEY);",
    )
    .unwrap();
    std::fs::write(m.join("2_orders.down.sql"), "DROP TABLE orders;").unwrap();
    let mut project = load_project(dir).unwrap();
    project.databases.remove(0)
}

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().unwrap()
}

async fn pool_of(test_db: &TestDb) -> Pool {
    match test_db.engine {
        Engine::Postgres => sqlx::PgPool::connect(&test_db.url).await.unwrap().into(),
        Engine::Mysql => sqlx::MySqlPool::connect(&test_db.url).await.unwrap().into(),
        Engine::Sqlite => {
            let options = test_db
                .url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .create_if_missing(true);
            sqlx::SqlitePool::connect_with(options)
                .await
                .unwrap()
                .into()
        }
    }
}

/// Migrates, reports, rolls back and migrates again through a pool the test made.
fn through_the_applications_pool(engine: Engine, multi_thread: bool) {
    let Some(test_db) = TestDb::create(engine) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), engine);
    let rt = runtime(multi_thread);
    let (applied, status, rolled_back, after) = rt.block_on(async {
        let pool = pool_of(&test_db).await;
        let migrator = Migrator::new(&db).on(pool.clone());
        let applied = migrator.latest().await.unwrap();
        let status = migrator.status().await.unwrap();
        let rolled_back = migrator.rollback_to(1).await.unwrap();
        let after = migrator.status().await.unwrap();
        // The pool still works after the run borrowed one of its connections.
        let again = migrator.latest().await.unwrap();
        assert_eq!(again.steps().len(), 1, "{again:?}");
        pool.close().await;
        (applied, status, rolled_back, after)
    });
    let Outcome::Applied { batch, steps, .. } = &applied else {
        panic!("{applied:?}");
    };
    assert_eq!(*batch, 1);
    let versions: Vec<Option<i64>> = steps.iter().map(|s| s.version).collect();
    assert_eq!(versions, [Some(1), Some(2)]);
    assert_eq!(steps[0].id, "1_customers");
    assert!(status.up_to_date && status.applied == 2, "{status:?}");
    assert_eq!(status.connection, "the application's pool");
    assert_eq!(rolled_back.steps().len(), 1);
    assert_eq!(rolled_back.steps()[0].version, Some(2));
    assert_eq!(after.migrations[1].state, State::Pending);
    // The same tracking table the dbgen command keeps: 1 from batch 1, 2 from batch 2.
    assert_eq!(test_db.tracking_rows("dbgen_migrations"), [(1, 1), (2, 2)]);
    let tables = test_db.tables();
    assert!(
        tables.contains(&"customers".to_string()) && tables.contains(&"orders".to_string()),
        "{tables:?}"
    );
}

#[test]
fn postgres_pool_current_thread() {
    through_the_applications_pool(Engine::Postgres, false);
}

#[test]
fn mysql_pool_multi_thread() {
    through_the_applications_pool(Engine::Mysql, true);
}

#[test]
fn sqlite_pool_current_thread() {
    through_the_applications_pool(Engine::Sqlite, false);
}

#[test]
fn sqlite_pool_multi_thread() {
    through_the_applications_pool(Engine::Sqlite, true);
}

#[test]
fn a_pool_of_another_engine_is_refused_and_nothing_runs() {
    let Some(sqlite) = TestDb::create(Engine::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), Engine::Postgres);
    let err = runtime(false).block_on(async {
        let pool = pool_of(&sqlite).await;
        Migrator::new(&db).on(pool).latest().await.unwrap_err()
    });
    let RunError::WrongEngine(wrong) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(wrong.expected, dbgen_core::Driver::Postgres);
    assert_eq!(wrong.actual, dbgen_core::Driver::Sqlite);
    let text = err.to_string();
    assert!(text.contains("shop") && text.contains("sqlite"), "{text}");
    assert!(sqlite.tables().is_empty(), "{:?}", sqlite.tables());
}

#[test]
fn settings_from_an_explicit_environment() {
    let Some(test_db) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), Engine::Postgres);
    // Only the map counts: the process's SHOP_DB_URL (if any) is not read.
    let environment = Environment::from_vars([("SHOP_DB_URL", test_db.url.as_str())]);
    let outcome = runtime(false)
        .block_on(Migrator::new(&db).environment(environment).latest())
        .unwrap();
    assert_eq!(outcome.steps().len(), 2);
    assert_eq!(test_db.tracking_rows("dbgen_migrations").len(), 2);

    // Only the port set, to one where nothing listens: the defaults are tried and named.
    let elsewhere = Environment::from_vars([("SHOP_DB_PORT", "1")]).with_root(dir.path());
    let err = runtime(false)
        .block_on(Migrator::new(&db).environment(elsewhere).status())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SHOP_DB_HOST unset: localhost"), "{text}");
    assert!(text.contains("SHOP_DB_NAME unset: shop"), "{text}");
}

#[test]
fn block_on_inside_a_runtime_does_not_panic() {
    for multi_thread in [false, true] {
        let value = runtime(multi_thread)
            .block_on(async { dbgen_runtime::cli::block_on(async { 7 }).unwrap() });
        assert_eq!(value, 7);
    }
}

/// The child's part of `the_library_prints_nothing`: migrate, then exit before the test
/// harness prints anything more.
const CHILD: &str = "DBGEN_LIBRARY_QUIET_CHILD";

#[test]
fn the_library_prints_nothing() {
    if let Some(url) = std::env::var_os(CHILD) {
        let url = url.into_string().unwrap();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("mysql:") {
            Engine::Mysql
        } else {
            Engine::Postgres
        };
        let dir = tempfile::tempdir().unwrap();
        let db = project(dir.path(), engine);
        let environment = Environment::from_vars([("SHOP_DB_URL", url)]);
        let result = runtime(true).block_on(async {
            let migrator = Migrator::new(&db).environment(environment);
            let applied = migrator.latest().await?;
            migrator.seed().await?;
            migrator.status().await?;
            migrator.rollback_to(1).await?;
            Ok::<_, RunError>(applied)
        });
        // stderr only: the parent checks stdout, and the exit code says how it went.
        eprintln!("child: {result:?}");
        std::process::exit(if result.is_ok_and(|o| o.steps().len() == 2) {
            0
        } else {
            1
        });
    }
    let engines = [Engine::Sqlite, Engine::Postgres, Engine::Mysql].map(TestDb::create);
    for test_db in engines.into_iter().flatten() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "the_library_prints_nothing",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &test_db.url)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        // The harness's own lines are all there is.
        let harness = ["running 1 test", "test the_library_prints_nothing ..."];
        let printed: Vec<&str> = stdout
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !harness.contains(line))
            .collect();
        assert!(printed.is_empty(), "{printed:?}\n{stderr}");
        assert_eq!(test_db.tracking_rows("dbgen_migrations").len(), 1);
    }
}
