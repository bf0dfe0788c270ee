//! Tenants: one database definition run on many databases or schemas. `[tenants]` in a
//! database's `database.toml` says where the list comes from; each tenant says where it
//! lives. Listing them needs a database, so the runtime does that; the rules are here.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::connection::{ConnectionSettings, ConnectionTarget, Secret, check_url_scheme};
use crate::redact::redact_url;

/// Where a database's tenants are listed: `[tenants]` in its `database.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantSource {
    /// PostgreSQL schemas of this database, one per tenant: a query giving their names
    /// (`schemas = { like = "tenant_%" }` is turned into one).
    Schemas {
        /// Returns one row per tenant; its first column is the schema's name.
        sql: Cow<'static, str>,
    },
    /// A query on another database of the project (a control database).
    Query {
        /// The project database it runs on.
        database: Cow<'static, str>,
        /// Returns one row per tenant: its name, then (optional) its connection: a URL, or
        /// a database name on this database's server (SQLite: a file path).
        sql: Cow<'static, str>,
    },
    /// A file, relative to the project root: one tenant per line, as the query's rows.
    File {
        /// The file's path.
        path: Cow<'static, str>,
    },
}

impl TenantSource {
    /// Where the list comes from, for messages: `the file tenants.txt`.
    pub fn describe(&self) -> String {
        match self {
            TenantSource::Schemas { .. } => "the schemas query of [tenants]".to_string(),
            TenantSource::Query { database, .. } => {
                format!("the [tenants] query on database `{database}`")
            }
            TenantSource::File { path } => format!("the tenants file {path}"),
        }
    }
}

/// One tenant of a database definition: its name and where it lives.
#[derive(Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its name, unique in its list: what `--tenant NAME` selects and results show.
    pub name: String,
    /// Where it lives.
    pub place: TenantPlace,
}

/// Where a tenant lives.
#[derive(Clone, PartialEq, Eq)]
pub enum TenantPlace {
    /// A PostgreSQL schema of the definition's database: its scripts run with the schema
    /// first on `search_path`, and its tracking table lives in it.
    Schema(String),
    /// A database on the definition's server (for SQLite, a file path relative to the
    /// project root).
    Database(String),
    /// A connection URL of its own (it may hold a password).
    Url(Secret),
}

impl Tenant {
    /// A tenant living in the PostgreSQL schema `schema`, named after it.
    pub fn schema(schema: impl Into<String>) -> Self {
        let schema = schema.into();
        Self {
            name: schema.clone(),
            place: TenantPlace::Schema(schema),
        }
    }

    /// A tenant living in the database `database` on the definition's server, named after
    /// it (SQLite: the file `database`, relative to the project root).
    pub fn database(database: impl Into<String>) -> Self {
        let database = database.into();
        Self {
            name: database.clone(),
            place: TenantPlace::Database(database),
        }
    }

    /// A tenant named `name`, reached through `url`.
    pub fn url(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            place: TenantPlace::Url(Secret::new(url)),
        }
    }

    /// A tenant from a row of a list: its name, and its connection when given: a URL
    /// (`scheme://...`, or `sqlite:...`), otherwise a database name. Without one, the
    /// database is named after the tenant.
    pub fn from_row(name: &str, connection: Option<&str>) -> Result<Self, String> {
        validate_tenant_name(name)?;
        let connection = connection.map(str::trim).filter(|c| !c.is_empty());
        Ok(match connection {
            None => Tenant::database(name),
            Some(url) if url.contains("://") || url.starts_with("sqlite:") => {
                Tenant::url(name, url)
            }
            Some(database) => Tenant {
                name: name.to_string(),
                place: TenantPlace::Database(database.to_string()),
            },
        })
    }

    /// The PostgreSQL schema it lives in, if it is a schema tenant.
    pub fn schema_name(&self) -> Option<&str> {
        match &self.place {
            TenantPlace::Schema(schema) => Some(schema),
            _ => None,
        }
    }

    /// How to reach it, given how the definition's own database is reached (`base`).
    /// A schema tenant is in the definition's database; a database name replaces the
    /// definition's (SQLite: a file path relative to `root`).
    /// A URL of another engine than the definition's is an error.
    pub fn connection(
        &self,
        base: &ConnectionSettings,
        root: &Path,
    ) -> Result<ConnectionSettings, crate::Error> {
        let mut settings = base.clone();
        match &self.place {
            TenantPlace::Schema(_) => {}
            TenantPlace::Url(url) => {
                check_url_scheme(url.expose(), base.driver).map_err(|reason| {
                    crate::Error::BadTenant {
                        tenant: self.name.clone(),
                        reason: format!(
                            "its URL {} does not fit: {reason}",
                            redact_url(url.expose())
                        ),
                    }
                })?;
                settings.target = ConnectionTarget::Url(url.clone());
                settings.sources = vec![format!("tenant `{}`'s URL in the list", self.name)];
            }
            TenantPlace::Database(name) => {
                settings.target = match &base.target {
                    ConnectionTarget::Server {
                        host,
                        port,
                        user,
                        password,
                        ..
                    } => ConnectionTarget::Server {
                        host: host.clone(),
                        port: *port,
                        database: name.clone(),
                        user: user.clone(),
                        password: password.clone(),
                    },
                    // SQLite: a file relative to the project root, whatever the base's form;
                    // a tenant listed by name alone gets `<name>.sqlite3`, as a database does.
                    _ if base.driver == crate::Driver::Sqlite => {
                        if *name == self.name && Path::new(name).extension().is_none() {
                            ConnectionTarget::SqliteFile(root.join(format!("{name}.sqlite3")))
                        } else {
                            ConnectionTarget::SqliteFile(root.join(name))
                        }
                    }
                    ConnectionTarget::Url(url) => {
                        ConnectionTarget::Url(Secret::new(url_with_database(url.expose(), name)))
                    }
                    ConnectionTarget::SqliteFile(_) => {
                        ConnectionTarget::SqliteFile(root.join(name))
                    }
                };
                settings
                    .sources
                    .push(format!("database `{name}` of tenant `{}`", self.name));
            }
        }
        Ok(settings)
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tenant({} in {})", self.name, self.place)
    }
}

impl fmt::Display for TenantPlace {
    /// `schema tenant_1`, `database acme`, or the URL with its password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantPlace::Schema(schema) => write!(f, "schema {schema}"),
            TenantPlace::Database(database) => write!(f, "database {database}"),
            TenantPlace::Url(url) => f.write_str(&redact_url(url.expose())),
        }
    }
}

impl fmt::Debug for TenantPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `url` with its path (the database) replaced by `database`, query kept.
fn url_with_database(url: &str, database: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let authority_end = rest
        .find(['/', '?'])
        .map_or(url.len(), |i| after_scheme + i);
    let query = url[authority_end..]
        .find('?')
        .map_or("", |i| &url[authority_end + i..]);
    // Percent-encoded: a name from data must not add a host, a parameter or a path.
    let encoded: String = database
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'$' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{}/{encoded}{query}", &url[..authority_end])
}

/// Whether tenant `name` falls in share `index` (1-based) of `count` (`--partition
/// index/count`): split by a hash of the name, so that a tenant keeps its share however the
/// list grows or is ordered, and every runner computes the same split.
pub fn in_partition(name: &str, index: u32, count: u32) -> bool {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    count > 0 && u64::from_be_bytes(first) % u64::from(count) == u64::from(index.saturating_sub(1))
}

/// A tenant's name: printable, no whitespace (a list file separates fields by it), at
/// most 255 bytes.
pub fn validate_tenant_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a tenant's name is empty".to_string());
    }
    if name.len() > 255 {
        return Err(format!(
            "tenant name {:?}... is longer than 255 bytes",
            &name[..name.floor_char_boundary(40)]
        ));
    }
    if name.contains("://") {
        return Err(format!(
            "tenant name {:?} is a URL: a row gives the name first, then the connection",
            crate::redact::redact_url(name)
        ));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "tenant name {name:?} holds whitespace or a control character"
        ));
    }
    Ok(())
}

/// The tenants of a list file: `name [connection]` per line; blank lines and lines
/// starting with `#` are skipped. Every bad line is reported, by number.
pub fn parse_tenants_file(text: &str) -> Result<Vec<Tenant>, Vec<String>> {
    let mut tenants: Vec<Tenant> = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let name = fields.next().unwrap_or_default();
        let connection = fields.next();
        if fields.next().is_some() {
            problems.push(format!(
                "line {}: more than two fields (write `name` or `name connection`)",
                i + 1
            ));
            continue;
        }
        match Tenant::from_row(name, connection) {
            Ok(tenant) if !seen.insert(tenant.name.clone()) => {
                problems.push(format!("line {}: tenant `{name}` is listed twice", i + 1))
            }
            Ok(tenant) => tenants.push(tenant),
            Err(reason) => problems.push(format!("line {}: {reason}", i + 1)),
        }
    }
    if problems.is_empty() {
        Ok(tenants)
    } else {
        Err(problems)
    }
}

/// `[tenants]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantsLayer {
    schemas: Option<SchemasLayer>,
    query: Option<QueryLayer>,
    file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum SchemasLayer {
    Sql(String),
    Like { like: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryLayer {
    database: String,
    sql: String,
}

impl TenantsLayer {
    /// The source it names: exactly one of `schemas`, `query` and `file`.
    pub(crate) fn source(&self) -> Result<TenantSource, String> {
        let set = [
            self.schemas.is_some(),
            self.query.is_some(),
            self.file.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err("[tenants] takes exactly one of `schemas` (PostgreSQL schemas of this database), `query` (a query on a control database) and `file` (a list file)".to_string());
        }
        let nonempty = |key: &str, value: &str| {
            if value.trim().is_empty() {
                Err(format!("[tenants] `{key}` is empty"))
            } else {
                Ok(())
            }
        };
        if let Some(schemas) = &self.schemas {
            return Ok(TenantSource::Schemas {
                sql: Cow::Owned(match schemas {
                    SchemasLayer::Sql(sql) => {
                        nonempty("schemas", sql)?;
                        sql.clone()
                    }
                    SchemasLayer::Like { like } => {
                        nonempty("schemas.like", like)?;
                        format!(
                            "SELECT nspname FROM pg_namespace WHERE nspname LIKE '{}' ORDER BY nspname",
                            like.replace('\'', "''")
                        )
                    }
                }),
            });
        }
        if let Some(query) = &self.query {
            nonempty("query.database", &query.database)?;
            nonempty("query.sql", &query.sql)?;
            return Ok(TenantSource::Query {
                database: Cow::Owned(query.database.clone()),
                sql: Cow::Owned(query.sql.clone()),
            });
        }
        let file = self.file.clone().unwrap_or_default();
        nonempty("file", &file)?;
        Ok(TenantSource::File {
            path: Cow::Owned(file),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Driver;

    fn server() -> ConnectionSettings {
        ConnectionSettings {
            database: "shard".into(),
            driver: Driver::Postgres,
            target: ConnectionTarget::Url(Secret::new(
                "postgres://u:pw@h:5432/shard?sslmode=disable",
            )),
            variables: vec![],
            sources: vec!["SHARD_DB_URL".into()],
        }
    }

    #[test]
    fn a_row_is_a_url_or_a_database_name() {
        let t = Tenant::from_row("acme", Some("postgres://u:pw@h/acme")).unwrap();
        assert!(matches!(t.place, TenantPlace::Url(_)));
        assert_eq!(format!("{t:?}"), "Tenant(acme in postgres://u:***@h/acme)");
        let t = Tenant::from_row("acme", Some("acme_db")).unwrap();
        assert_eq!(t.place, TenantPlace::Database("acme_db".into()));
        let t = Tenant::from_row("acme", None).unwrap();
        assert_eq!(t.place, TenantPlace::Database("acme".into()));
        assert!(Tenant::from_row("a b", None).is_err());
        assert!(Tenant::from_row("", None).is_err());
    }

    #[test]
    fn a_database_name_replaces_the_urls_path() {
        let t = Tenant::database("acme");
        let s = t.connection(&server(), Path::new("/p")).unwrap();
        match s.target {
            ConnectionTarget::Url(url) => {
                assert_eq!(url.expose(), "postgres://u:pw@h:5432/acme?sslmode=disable")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(url_with_database("mysql://root@h", "x"), "mysql://root@h/x");
        assert_eq!(
            url_with_database("postgres://u:p@h/db?sslmode=disable", "a?host=evil&x=/"),
            "postgres://u:p@h/a%3Fhost%3Devil%26x%3D%2F?sslmode=disable"
        );
        assert!(Tenant::from_row("postgres://u:pw@h/x", None).is_err());
        let wrong = Tenant::url("acme", "mysql://u:secret@h/acme");
        let message = wrong
            .connection(&server(), Path::new("/p"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("postgres://") && !message.contains("secret"),
            "{message}"
        );
    }

    #[test]
    fn a_sqlite_tenant_by_name_alone_is_a_sqlite3_file() {
        let mut base = server();
        base.driver = crate::Driver::Sqlite;
        base.target = ConnectionTarget::Url(Secret::new("sqlite:shard.db"));
        let target = |t: Tenant| t.connection(&base, Path::new("/p")).unwrap().target;
        assert_eq!(
            target(Tenant::from_row("acme", None).unwrap()),
            ConnectionTarget::SqliteFile("/p/acme.sqlite3".into())
        );
        assert_eq!(
            target(Tenant::from_row("acme", Some("data/acme.db")).unwrap()),
            ConnectionTarget::SqliteFile("/p/data/acme.db".into())
        );
    }

    #[test]
    fn a_file_lists_every_bad_line() {
        let tenants = parse_tenants_file("# tenants\n\nacme\nbeta sqlite://b.db\n").unwrap();
        assert_eq!(tenants.len(), 2);
        let problems = parse_tenants_file("acme\nacme\nx y z\n").unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("line 2"), "{problems:?}");
    }

    #[test]
    fn partitions_split_every_tenant_once() {
        let names: Vec<String> = (0..300).map(|i| format!("tenant_{i}")).collect();
        let shares: Vec<usize> = (1..=3)
            .map(|i| names.iter().filter(|n| in_partition(n, i, 3)).count())
            .collect();
        assert_eq!(shares.iter().sum::<usize>(), 300);
        assert!(shares.iter().all(|s| *s > 60), "{shares:?}");
        assert!(names.iter().all(|n| in_partition(n, 1, 1)));
    }

    #[test]
    fn exactly_one_source() {
        let layer: TenantsLayer = toml::from_str("file = 'a'\nschemas = 'SELECT 1'").unwrap();
        assert!(layer.source().is_err());
        let layer: TenantsLayer = toml::from_str("schemas = { like = \"t_%\" }").unwrap();
        match layer.source().unwrap() {
            TenantSource::Schemas { sql } => assert!(sql.contains("LIKE 't_%'")),
            other => panic!("{other:?}"),
        }
    }
}
