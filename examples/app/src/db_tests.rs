//! The service's own tests, each on a fresh, fully migrated database of its own
//! (`#[dbgen_runtime::test]`, `testing::Fresh`): no test sees another's rows, and a test
//! waits milliseconds for its database, not a replay of every migration.

use dbgen_runtime::testing::Fresh;

use crate::databases::Database;

async fn count(pool: &sqlx::SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .expect("a count")
}

#[dbgen_runtime::test(Database::PermisoSqlite)]
async fn a_fresh_database_is_migrated_and_empty(pool: sqlx::SqlitePool) {
    assert_eq!(count(&pool, "organization").await, 0);
    sqlx::query(
        "INSERT INTO organization (id, name, created_at, updated_at) VALUES ('mine', 'Mine', 0, 0)",
    )
    .execute(&pool)
    .await
    .expect("an insert");
}

#[dbgen_runtime::test(Database::PermisoSqlite)]
async fn another_test_does_not_see_those_rows(pool: sqlx::SqlitePool) {
    assert_eq!(count(&pool, "organization").await, 0);
    sqlx::query(
        "INSERT INTO organization (id, name, created_at, updated_at) VALUES ('mine', 'Mine', 0, 0)",
    )
    .execute(&pool)
    .await
    .expect("the same insert, no conflict");
}

#[dbgen_runtime::test(Database::PermisoSqlite, seeds)]
async fn the_seeds_give_two_organizations(pool: sqlx::SqlitePool) {
    assert_eq!(count(&pool, "organization").await, 2);
}

/// `user:password@` put into a URL in place of its own.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

/// Permiso's row-level security, on a fresh seeded PostgreSQL database: the restricted
/// role sees one organization's rows, and none without one. Its roles are the server's,
/// shared by every test database (the migration uses an existing role).
#[tokio::test]
async fn row_level_security_isolates_organizations() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("DBGEN_TEST_POSTGRES_URL").is_none()
        && std::env::var_os("DBGEN_TEST_DATABASE_URL").is_none()
    {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("set DBGEN_TEST_POSTGRES_URL: this test needs a PostgreSQL server");
        }
        eprintln!("SKIPPED: no PostgreSQL server (set DBGEN_TEST_POSTGRES_URL)");
        return Ok(());
    }
    let (rls, password) = ("dbgen_example_rls", "example-rls-pw");
    let db = Fresh::of(Database::Permiso)
        .all_seeds()
        .var("RLS_DB_USER", rls)
        .var("RLS_DB_USER_PASSWORD", password)
        .var("UNRESTRICTED_DB_USER", "dbgen_example_unrestricted")
        .var("UNRESTRICTED_DB_USER_PASSWORD", "example-unrestricted-pw")
        .create()
        .await?;
    let restricted = sqlx::PgPool::connect(&as_user(db.url(), rls, password)).await?;
    let mut conn = restricted.acquire().await?;
    let roles = |org: Option<&'static str>| {
        let setup = org.map(|org| format!("SET app.current_org_id = '{org}'"));
        (setup, "SELECT COUNT(*) FROM role")
    };
    for (org, expected) in [(None, 0i64), (Some("acme"), 3), (Some("globex"), 1)] {
        let (setup, query) = roles(org);
        sqlx::raw_sql("RESET app.current_org_id")
            .execute(&mut *conn)
            .await?;
        if let Some(setup) = setup {
            sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
                .execute(&mut *conn)
                .await?;
        }
        let n: i64 = sqlx::query_scalar(query).fetch_one(&mut *conn).await?;
        assert_eq!(n, expected, "roles seen with organization {org:?}");
    }
    drop(conn);
    restricted.close().await;
    Ok(())
}
