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
    // Waits for another process building it, saying so after a while (a process stopped
    // in a debugger holds the lock as long as its session lives).
    let waiting = std::time::Instant::now();
    let mut told = false;
    loop {
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key.lock)
            .fetch_one(&mut *conn)
            .await
            .map_err(server_error(
                format!("locking template {}", key.name),
                admin_url,
            ))?;
        if locked {
            break;
        }
        if !told && waiting.elapsed() > std::time::Duration::from_secs(10) {
            told = true;
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "dbgen: waiting for another process building template {} (its session holds advisory lock {})",
                key.name,
                key.lock
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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
        drop_database(pool, &aside)
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
        // Not `..._new`: another checkout may be building it right now.
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2 AND datname NOT LIKE '%\\_new' AND datname ~ '^[a-z0-9_]+$'",
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

/// Drops `name`, ending any session still on it (a test's pool may not be closed yet):
/// `WITH (FORCE)` from PostgreSQL 13, sessions ended by hand before.
pub(super) async fn drop_database(pool: &PgPool, name: &str) -> Result<(), sqlx::Error> {
    let forced = sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(pool)
    .await;
    match forced {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42601") => {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .execute(pool)
            .await?;
            sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\"")))
                .execute(pool)
                .await
                .map(|_| ())
        }
        other => other.map(|_| ()),
    }
}
