//! Where a database lives, resolved from `{P}_DB_*` variables. Nothing here ever prints
//! a password: [`Secret`] and [`ConnectionSettings`] redact it in `Display` and `Debug`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::redact::redact_url;
use crate::{Database, Driver, Env, Error, env_var_names, env_var_names_for};

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value so that it prints as `***`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for handing to the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What a database's connection points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionTarget {
    /// `{P}_DB_URL`, verbatim (it may hold a password).
    Url(Secret),
    /// A PostgreSQL or MySQL server, from `{P}_DB_HOST`, `_PORT`, `_NAME`, `_USER` and
    /// `_PASSWORD` (each with its default).
    Server {
        /// `{P}_DB_HOST`, default `localhost`.
        host: String,
        /// `{P}_DB_PORT`, default the driver's.
        port: u16,
        /// `{P}_DB_NAME`, default the dbgen database's name.
        database: String,
        /// `{P}_DB_USER`, default the driver's.
        user: String,
        /// `{P}_DB_PASSWORD`, if set.
        password: Option<Secret>,
    },
    /// A SQLite file, from `{P}_DB_NAME` (default `<name>.sqlite3`), resolved against the
    /// project root.
    SqliteFile(PathBuf),
}

/// How to reach one database, and which variables said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// The dbgen database's name (not the server's database name).
    pub database: String,
    /// Its engine.
    pub driver: Driver,
    /// Where it is.
    pub target: ConnectionTarget,
    /// Every variable consulted, in order.
    pub variables: Vec<String>,
    /// Where each part came from, for messages: `APP_DB_HOST`, or `APP_DB_PORT unset:
    /// 5432` for a default. Never a password.
    pub sources: Vec<String>,
}

impl ConnectionSettings {
    /// "APP_DB_HOST, APP_DB_PORT unset: 5432, ..." for messages: the variables that were
    /// read, and the defaults used where one was unset.
    pub fn variables_list(&self) -> String {
        self.sources.join(", ")
    }
}

impl fmt::Display for ConnectionSettings {
    /// A URL with any password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            ConnectionTarget::Url(url) => f.write_str(&redact_url(url.expose())),
            ConnectionTarget::Server {
                host,
                port,
                database,
                user,
                password,
            } => {
                let password = if password.is_some() { ":***" } else { "" };
                write!(
                    f,
                    "{}://{user}{password}@{host}:{port}/{database}",
                    self.driver
                )
            }
            ConnectionTarget::SqliteFile(path) => write!(f, "sqlite://{}", path.display()),
        }
    }
}

/// Resolves `db`'s connection from `env`: `{P}_DB_URL` wins; otherwise HOST (localhost),
/// PORT (the driver's), NAME (the database's name; for SQLite a file path, relative to
/// `base_dir`), USER (postgres / root) and PASSWORD (none).
pub fn resolve_connection(
    db: &Database,
    env: &Env,
    base_dir: &Path,
) -> Result<ConnectionSettings, Error> {
    let driver = db.config.driver;
    let [
        url_var,
        host_var,
        port_var,
        name_var,
        user_var,
        password_var,
    ] = env_var_names(&db.env_prefix());
    let get = |var: &str| env.get(var).filter(|v| !v.is_empty()).cloned();
    let variables = env_var_names_for(driver, &db.env_prefix());
    let mut sources: Vec<String> = Vec::new();
    // The part's value from `var`, or `default` (noted as such).
    let mut part = |var: &str, default: Option<&str>| match get(var) {
        Some(value) => {
            sources.push(var.to_string());
            Some(value)
        }
        None => {
            sources.push(match default {
                Some(default) => format!("{var} unset: {default}"),
                None => format!("{var} unset"),
            });
            default.map(str::to_string)
        }
    };
    let settings = |target, sources: Vec<String>| ConnectionSettings {
        database: db.name.to_string(),
        driver,
        target,
        variables: variables.clone(),
        sources,
    };

    if let Some(url) = get(&url_var) {
        check_url_scheme(&url, driver).map_err(|reason| Error::BadEnv {
            var: url_var.clone(),
            value: String::new(),
            reason,
        })?;
        return Ok(settings(
            ConnectionTarget::Url(Secret::new(url)),
            vec![url_var.clone()],
        ));
    }
    if driver == Driver::Sqlite {
        let default = format!("{}.sqlite3", db.name);
        let file = part(&name_var, Some(&default)).unwrap_or(default);
        return Ok(settings(
            ConnectionTarget::SqliteFile(base_dir.join(file)),
            sources,
        ));
    }
    let host = part(&host_var, Some("localhost")).unwrap_or_default();
    let default_port = driver.default_port().unwrap_or_default().to_string();
    let port_text = part(&port_var, Some(&default_port)).unwrap_or_default();
    let database = part(&name_var, Some(&db.name)).unwrap_or_default();
    let user = part(&user_var, driver.default_user()).unwrap_or_default();
    let password = get(&password_var).map(Secret::new);
    sources.push(match password {
        Some(_) => password_var.clone(),
        None => format!("{password_var} unset: no password"),
    });
    let port = match Some(port_text).filter(|t| *t != default_port) {
        None => driver.default_port().unwrap_or_default(),
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| Error::BadEnv {
                var: port_var.clone(),
                value: text.clone(),
                reason: "a port is a number from 1 to 65535".to_string(),
            })?,
    };
    Ok(settings(
        ConnectionTarget::Server {
            host,
            port,
            database,
            user,
            password,
        },
        sources,
    ))
}

pub(crate) fn check_url_scheme(url: &str, driver: Driver) -> Result<(), String> {
    let schemes: &[&str] = match driver {
        Driver::Postgres => &["postgres://", "postgresql://"],
        Driver::Mysql => &["mysql://", "mariadb://"],
        Driver::Sqlite => &["sqlite:"],
    };
    if schemes.iter().any(|s| url.starts_with(s)) {
        Ok(())
    } else {
        Err(format!(
            "this database's driver is {driver}, so its URL must start with {}",
            schemes.join(" or ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::{DatabaseConfig, PoolConfig};

    fn db(name: &str, driver: Driver) -> Database {
        Database {
            name: Cow::Owned(name.to_string()),
            config: DatabaseConfig {
                driver,
                migrations_table: Cow::Borrowed("dbgen_migrations"),
                lock_timeout_secs: 60,
                pool: PoolConfig {
                    max_connections: 10,
                    min_connections: 0,
                    acquire_timeout_secs: 30,
                },
                migrations_from: None,
                placeholders: Cow::Borrowed(&[]),
                tenants: None,
            },
            migrations: Cow::Borrowed(&[]),
            seeds: Cow::Borrowed(&[]),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_per_driver() {
        let pg = resolve_connection(
            &db("permiso-test", Driver::Postgres),
            &Env::new(),
            Path::new("/p"),
        )
        .unwrap();
        assert_eq!(
            pg.to_string(),
            "postgres://postgres@localhost:5432/permiso-test"
        );
        assert_eq!(pg.variables[1], "PERMISO_TEST_DB_HOST");
        let my =
            resolve_connection(&db("audit", Driver::Mysql), &Env::new(), Path::new("/p")).unwrap();
        assert_eq!(my.to_string(), "mysql://root@localhost:3306/audit");
        let lite =
            resolve_connection(&db("cache", Driver::Sqlite), &Env::new(), Path::new("/p")).unwrap();
        assert_eq!(
            lite.target,
            ConnectionTarget::SqliteFile("/p/cache.sqlite3".into())
        );
        assert_eq!(lite.variables, ["CACHE_DB_URL", "CACHE_DB_NAME"]);
    }

    #[test]
    fn parts_from_env_and_password_hidden() {
        let e = env(&[
            ("PERMISO_DB_HOST", "db.internal"),
            ("PERMISO_DB_PORT", "6543"),
            ("PERMISO_DB_NAME", "perm"),
            ("PERMISO_DB_USER", "app"),
            ("PERMISO_DB_PASSWORD", "hunter2"),
        ]);
        let s = resolve_connection(&db("permiso", Driver::Postgres), &e, Path::new("/")).unwrap();
        assert_eq!(s.to_string(), "postgres://app:***@db.internal:6543/perm");
        assert!(!format!("{s:?}").contains("hunter2"));
        match &s.target {
            ConnectionTarget::Server { password, .. } => {
                assert_eq!(password.as_ref().unwrap().expose(), "hunter2")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn url_wins_and_is_redacted() {
        let e = env(&[
            (
                "PERMISO_DB_URL",
                "postgres://app:hunter2@h:1/p?sslmode=require&password=hunter2",
            ),
            ("PERMISO_DB_HOST", "ignored"),
        ]);
        let s = resolve_connection(&db("permiso", Driver::Postgres), &e, Path::new("/")).unwrap();
        let shown = format!("{s} {s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            s.to_string(),
            "postgres://app:***@h:1/p?sslmode=require&password=***"
        );
    }

    #[test]
    fn bad_values_name_the_variable_but_not_secrets() {
        let e = env(&[("PERMISO_DB_PORT", "54x")]);
        let err = resolve_connection(&db("permiso", Driver::Postgres), &e, Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("PERMISO_DB_PORT=\"54x\""), "{err}");
        let e = env(&[("PERMISO_DB_URL", "mysql://u:hunter2@h/p")]);
        let err = resolve_connection(&db("permiso", Driver::Postgres), &e, Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("PERMISO_DB_URL") && err.contains("postgres://"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn sqlite_name_is_a_path() {
        let e = env(&[("CACHE_DB_NAME", "data/c.db")]);
        let s = resolve_connection(&db("cache", Driver::Sqlite), &e, Path::new("/p")).unwrap();
        assert_eq!(s.to_string(), "sqlite:///p/data/c.db");
    }
}
