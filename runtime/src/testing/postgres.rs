//! PostgreSQL: the template is a database migrated once, built under an advisory lock and
//! renamed into place when whole; a test's database is `CREATE DATABASE ... TEMPLATE` of it.

use dbgen_core::redact_url;
use sqlx::{AssertSqlSafe, PgPool};

use super::template::with_database;
use super::{Fresh, TemplateKey, TestError};
use crate::environment::Environment;

fn server_error(action: String, url: &str) -> impl FnOnce(sqlx::Error) -> TestError + '_ {
    move |source| TestError::Server {
        action,
        server: redact_url(url),
        message: crate::error::describe(&source),
        source,
    }
}

/// Builds `key`'s template unless the server has it, and then drops this database's other
/// templates. The advisory lock makes parallel test processes build it once.
pub(super) async fn ensure_template(
    pool: &PgPool,
    fresh: &Fresh,
    key: &TemplateKey,
    environment: &Environment,
    admin_url: &str,
) -> Result<(), TestError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(server_error("connecting".into(), admin_url))?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key.lock)
        .execute(&mut *conn)
        .await
        .map_err(server_error(
            format!("locking template {}", key.name),
            admin_url,
        ))?;
    let built = async {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&key.name)
                .fetch_one(&mut *conn)
                .await
                .map_err(server_error("listing databases".into(), admin_url))?;
        if exists {
            return Ok(());
        }
        // Built aside and renamed when whole: a crashed build leaves no half template.
        let started = std::time::Instant::now();
        let aside = format!("{}_new", key.name);
        let statement = |sql: String| sqlx::raw_sql(AssertSqlSafe(sql));
        statement(format!("DROP DATABASE IF EXISTS \"{aside}\" WITH (FORCE)"))
            .execute(&mut *conn)
            .await
            .map_err(server_error(format!("dropping {aside}"), admin_url))?;
        statement(format!("CREATE DATABASE \"{aside}\""))
            .execute(&mut *conn)
            .await
            .map_err(server_error(format!("creating {aside}"), admin_url))?;
        if let Err(e) = fresh
            .fill(environment, &with_database(admin_url, &aside))
            .await
        {
            let _ = drop_database(pool, &aside).await;
            return Err(e);
        }
        statement(format!(
            "ALTER DATABASE \"{aside}\" RENAME TO \"{}\"",
            key.name
        ))
        .execute(&mut *conn)
        .await
        .map_err(server_error(format!("renaming {aside}"), admin_url))?;
        super::built(&key.name, started.elapsed());
        // This database's templates for other content are stale now.
        let pattern = format!("{}%", key.prefix.replace('_', "\\_"));
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2",
        )
        .bind(pattern)
        .bind(&key.name)
        .fetch_all(&mut *conn)
        .await
        .map_err(server_error("listing databases".into(), admin_url))?;
        for old in stale {
            // In use by another run's clone: it goes the next time.
            let _ = statement(format!("DROP DATABASE IF EXISTS \"{old}\""))
                .execute(&mut *conn)
                .await;
        }
        Ok(())
    }
    .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key.lock)
        .execute(&mut *conn)
        .await;
    built
}

/// `name`, a copy of `key`'s template.
pub(super) async fn clone(
    pool: &PgPool,
    key: &TemplateKey,
    admin_url: &str,
    name: &str,
) -> Result<(), TestError> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
        key.name
    )))
    .execute(pool)
    .await
    .map_err(server_error(
        format!("creating {name} from template {}", key.name),
        admin_url,
    ))?;
    Ok(())
}

/// Drops `name`, ending any session still on it (a test's pool may not be closed yet).
pub(super) async fn drop_database(pool: &PgPool, name: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(pool)
    .await
    .map(|_| ())
}
