//! MySQL and MariaDB: no copy of a database is both fast and sound (`CREATE TABLE ... LIKE`
//! loses foreign keys; a dump is slower than the replay), so each test's database is
//! created and migrated, while other tests run, by the keeper's spares.

use dbgen_core::redact_url;
use sqlx::{AssertSqlSafe, MySqlPool};

use super::template::with_database;
use super::{Fresh, TestError};
use crate::environment::Environment;

/// `name`, created and migrated.
pub(super) async fn create(
    pool: &MySqlPool,
    fresh: &Fresh,
    environment: &Environment,
    admin_url: &str,
    name: &str,
) -> Result<(), TestError> {
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
        .execute(pool)
        .await
        .map_err(|source| TestError::Server {
            action: format!("creating {name}"),
            server: redact_url(admin_url),
            message: crate::error::describe(&source),
            source,
        })?;
    if let Err(e) = fresh
        .fill(environment, &with_database(admin_url, name))
        .await
    {
        let _ = drop_database(pool, name).await;
        return Err(e);
    }
    Ok(())
}

pub(super) async fn drop_database(pool: &MySqlPool, name: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
        .execute(pool)
        .await
        .map(|_| ())
}
