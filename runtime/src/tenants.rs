//! Tenant sources -> tenants: reads the list `[tenants]` names (a file, a query on a
//! control database, or this database's PostgreSQL schemas).

use std::collections::HashSet;

use dbgen_core::{Database, Tenant, TenantSource, parse_tenants_file};

use crate::engine::TextRows;
use crate::environment::Environment;
use crate::error::RunError;
use crate::execute::query_text;

/// The tenants of `db`, in the order its list gives them; `registry` holds the database a
/// `query` list runs on. An error when `db` has no `[tenants]`.
pub async fn list_tenants(
    db: &Database,
    registry: &[Database],
    environment: &Environment,
) -> Result<Vec<Tenant>, RunError> {
    let problem = |message: String| RunError::Tenants {
        database: db.name.to_string(),
        message,
        source: None,
    };
    let Some(source) = &db.config.tenants else {
        return Err(problem(format!(
            "{} has no tenants: add a [tenants] table to database/{}/database.toml to list them",
            db.name, db.name
        )));
    };
    let tenants = match source {
        TenantSource::File { path } => {
            let file = environment.root().join(path.as_ref());
            let text = read_list_file(&file).map_err(|reason| {
                problem(format!(
                    "cannot read the tenants file {}: {reason}; it lists one tenant per line: its name, then optionally a URL or database name",
                    file.display()
                ))
            })?;
            parse_tenants_file(&text).map_err(|problems| {
                problem(format!(
                    "the tenants file {} has bad lines (each line is `name` or `name connection`):\n  {}",
                    file.display(),
                    problems.join("\n  ")
                ))
            })?
        }
        TenantSource::Schemas { sql } => {
            let rows = query_rows(db, db, sql, environment).await?;
            let mut tenants = Vec::with_capacity(rows.len());
            for row in rows {
                match row.into_iter().next().flatten() {
                    Some(schema) => tenants.push(Tenant::schema(schema)),
                    None => {
                        return Err(problem(
                            "the [tenants] schemas query returned a row without a schema name (NULL): filter NULLs out".to_string(),
                        ));
                    }
                }
            }
            tenants
        }
        TenantSource::Query { database, sql } => {
            let control = registry
                .iter()
                .find(|d| d.name == *database)
                .ok_or_else(|| {
                    problem(format!(
                        "the [tenants] query runs on database `{database}`, which this build does not have"
                    ))
                })?;
            let rows = query_rows(db, control, sql, environment).await?;
            let mut tenants = Vec::with_capacity(rows.len());
            for (i, row) in rows.into_iter().enumerate() {
                let mut columns = row.into_iter();
                let (Some(Some(name)), connection) = (columns.next(), columns.next().flatten())
                else {
                    return Err(problem(format!(
                        "row {} of the [tenants] query has no tenant name (NULL)",
                        i + 1
                    )));
                };
                let tenant = Tenant::from_row(&name, connection.as_deref()).map_err(|reason| {
                    problem(format!("row {} of the [tenants] query: {reason}", i + 1))
                })?;
                tenants.push(tenant);
            }
            tenants
        }
    };
    let mut seen = HashSet::new();
    if let Some(twice) = tenants.iter().find(|t| !seen.insert(t.name.as_str())) {
        return Err(problem(format!(
            "tenant `{}` is listed twice by {}: each tenant needs a name of its own",
            twice.name,
            source.describe()
        )));
    }
    Ok(tenants)
}

/// A list file, read only when it is a regular file.
fn read_list_file(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".to_string());
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// The rows of the list's query, run on `on` (`db` itself, or its control database).
async fn query_rows(
    db: &Database,
    on: &Database,
    sql: &str,
    environment: &Environment,
) -> Result<TextRows, RunError> {
    let rows = query_text(on, environment, sql)
        .await
        .map_err(|e| match e {
            RunError::Tenants { message, source, .. } => RunError::Tenants {
                database: db.name.to_string(),
                message: format!(
                    "listing the tenants of {} on `{}` failed: {message}; the query must return text columns (CAST others): the tenant's name, then optionally a URL or database name",
                    db.name, on.name
                ),
                source,
            },
            other => other,
        })?;
    rows.ok_or_else(|| RunError::Tenants {
        database: db.name.to_string(),
        message: format!(
            "the table the [tenants] query of {} reads does not exist in `{}` yet: migrate it first (`migrate latest {}`)",
            db.name, on.name, on.name
        ),
        source: None,
    })
}
