//! SQLite migrations through an application's pool: foreign keys off for the batch and
//! back as the connection had them afterwards, however the run ends; `PRAGMA
//! foreign_key_check` only where the connection enforces foreign keys.
#![cfg(feature = "sqlite")]

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Executor};

use dbgen_runtime::{Migrator, RunError};

/// A project with one SQLite database `shop` whose migrations are `scripts`.
fn project(dir: &Path, scripts: &[(&str, &str)]) -> dbgen_core::Database {
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("dbgen.toml", "driver = \"sqlite\"\n");
    write("database/shop/database.toml", "");
    for (file, sql) in scripts {
        write(&format!("database/shop/migrations/{file}"), sql);
    }
    dbgen_core::load_project(dir).unwrap().databases.remove(0)
}

const PARENT_CHILD: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY);
    CREATE TABLE child (id INTEGER PRIMARY KEY,
        parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE);
    INSERT INTO parent VALUES (1);
    INSERT INTO child VALUES (1, 1), (2, 1);";

/// SQLite's documented table rebuild.
const REBUILD: &str = "CREATE TABLE new_parent (id INTEGER PRIMARY KEY, label TEXT);
    INSERT INTO new_parent (id) SELECT id FROM parent;
    DROP TABLE parent;
    ALTER TABLE new_parent RENAME TO parent;";

async fn one_connection_pool(file: &Path, foreign_keys: bool) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .foreign_keys(foreign_keys)
        .busy_timeout(Duration::from_millis(200));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

async fn scalar(pool: &SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_pooled_connection_gets_its_foreign_keys_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(
        dir.path(),
        &[
            ("1_parent.up.sql", PARENT_CHILD),
            ("2_rebuild.up.sql", REBUILD),
            // Outside a transaction a script is in charge, for itself only.
            (
                "3_outside.up.sql",
                "-- dbgen:no-transaction\nPRAGMA foreign_keys = OFF;",
            ),
            ("4_rebuild_again.up.sql", REBUILD),
        ],
    );
    let file = dir.path().join("shop.db");
    // One connection: the migrator borrows the very one the queries below use, as a
    // temporary table (which only its connection sees) shows.
    let pool = one_connection_pool(&file, true).await;
    pool.execute("CREATE TEMP TABLE same_connection (x)")
        .await
        .unwrap();
    Migrator::new(&db).on(&pool).latest().await.unwrap();
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM child").await, 2);
    assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 1);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM temp.same_connection").await,
        0
    );
    let orphan = pool.execute("INSERT INTO child VALUES (3, 99)").await;
    assert!(orphan.is_err(), "foreign keys are not enforced again");

    // A run that timed out waiting for the lock gives it back too.
    let mut holder = SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();
    let waited = Migrator::new(&db).on(&pool).latest().await;
    assert!(
        matches!(waited, Err(RunError::LockTimeout { .. })),
        "{waited:?}"
    );
    holder.execute("ROLLBACK").await.unwrap();
    assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 1);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM temp.same_connection").await,
        0
    );

    // A failed run closes its connection; the pool opens a new one as configured.
    let db = project(
        dir.path(),
        &[("5_orphan.up.sql", "DELETE FROM parent WHERE id = 1;")],
    );
    let failed = Migrator::new(&db).on(&pool).latest().await;
    let message = failed.unwrap_err().to_string();
    assert!(message.contains("`child` rowid 1"), "{message}");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM parent").await, 1);
    assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 1);
    pool.close().await;
}

#[tokio::test]
async fn a_connection_without_foreign_keys_keeps_them_off_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(
        dir.path(),
        &[
            ("1_parent.up.sql", PARENT_CHILD),
            ("2_orphan.up.sql", "DELETE FROM parent WHERE id = 1;"),
        ],
    );
    let pool = one_connection_pool(&dir.path().join("shop.db"), false).await;
    pool.execute("CREATE TEMP TABLE same_connection (x)")
        .await
        .unwrap();
    // The application does not enforce references, so the batch is not checked either.
    Migrator::new(&db).on(&pool).latest().await.unwrap();
    assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 0);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM temp.same_connection").await,
        0
    );
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM child").await, 2);
    pool.close().await;
}

#[tokio::test]
async fn foreign_keys_that_cannot_be_turned_off_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path(), &[("1_parent.up.sql", PARENT_CHILD)]);
    let pool = one_connection_pool(&dir.path().join("shop.db"), true).await;
    // The application left a transaction open on the connection it lends: inside one,
    // SQLite ignores PRAGMA foreign_keys.
    let mut conn = pool.acquire().await.unwrap();
    conn.execute("BEGIN").await.unwrap();
    drop(conn);
    let failed = Migrator::new(&db).on(&pool).latest().await;
    let message = failed.unwrap_err().to_string();
    assert!(
        message.starts_with("turning off foreign keys before locking tracking table"),
        "{message}"
    );
    assert!(
        message.contains("foreign keys could not be turned off"),
        "{message}"
    );
    pool.close().await;
}
