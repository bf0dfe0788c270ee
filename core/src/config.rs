//! `dbgen.toml` (defaults for every database) and `database/<name>/database.toml`
//! (that database's overrides), merged key by key.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::tenants::{TenantSource, TenantsLayer};

use crate::Error;
use crate::files::{Seen, Tree, read_text};

/// The tracking table when `migrations_table` is not set.
pub const DEFAULT_MIGRATIONS_TABLE: &str = "dbgen_migrations";
/// Where `dbgen new` keeps the `#[derive(Databases)]` enum when `registry_module` is not set.
pub const DEFAULT_REGISTRY_MODULE: &str = "src/databases.rs";
/// Seconds a runner waits for another runner's lock when `lock_timeout` is not set.
pub const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 60;
/// The pool's `max_connections` when not set.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// The pool's `min_connections` when not set.
pub const DEFAULT_MIN_CONNECTIONS: u32 = 0;
/// Seconds the pool waits for a free connection when `acquire_timeout` is not set.
pub const DEFAULT_ACQUIRE_TIMEOUT_SECS: u64 = 30;

/// The database engine a database runs on (`driver = "..."` in its config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// PostgreSQL (`postgres`, also `postgresql`).
    #[serde(alias = "postgresql")]
    Postgres,
    /// MySQL or MariaDB (`mysql`, also `mariadb`).
    #[serde(alias = "mariadb")]
    Mysql,
    /// SQLite (`sqlite`): a file, no server.
    Sqlite,
}

impl Driver {
    /// Every driver, in the order help texts list them.
    pub const ALL: [Driver; 3] = [Driver::Postgres, Driver::Mysql, Driver::Sqlite];

    /// The name written in config files: `postgres`, `mysql`, `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Postgres => "postgres",
            Driver::Mysql => "mysql",
            Driver::Sqlite => "sqlite",
        }
    }

    /// A driver from its config name or an alias (`postgresql`, `mariadb`); `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "postgres" | "postgresql" => Some(Driver::Postgres),
            "mysql" | "mariadb" => Some(Driver::Mysql),
            "sqlite" => Some(Driver::Sqlite),
            _ => None,
        }
    }

    /// The port used when `<P>_DB_PORT` is unset; `None` for SQLite.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Driver::Postgres => Some(5432),
            Driver::Mysql => Some(3306),
            Driver::Sqlite => None,
        }
    }

    /// The user used when `<P>_DB_USER` is unset; `None` for SQLite.
    pub fn default_user(self) -> Option<&'static str> {
        match self {
            Driver::Postgres => Some("postgres"),
            Driver::Mysql => Some("root"),
            Driver::Sqlite => None,
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Connection pool settings for the application's own pool (`Database::connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The most connections the pool opens (`max_connections`).
    pub max_connections: u32,
    /// The connections the pool keeps open when idle (`min_connections`).
    pub min_connections: u32,
    /// Seconds to wait for a free connection (`acquire_timeout`).
    pub acquire_timeout_secs: u64,
}

/// One database's config after merging its `database.toml` over `dbgen.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// The engine (`driver`).
    pub driver: Driver,
    /// The tracking table; an SQL identifier, so two databases can share one server database.
    pub migrations_table: Cow<'static, str>,
    /// How long a runner waits for another runner's lock on this database.
    pub lock_timeout_secs: u64,
    /// The application's pool (`[pool]`).
    pub pool: PoolConfig,
    /// The database whose migrations this one runs (`migrations = "permiso"`).
    pub migrations_from: Option<Cow<'static, str>>,
    /// `${name}` in scripts, filled from the environment at run time; by name.
    pub placeholders: Cow<'static, [Placeholder]>,
    /// Where its tenants are listed (`[tenants]`); `None`: it is one database.
    pub tenants: Option<TenantSource>,
}

/// A `${name}` a script may hold, and the environment variable that fills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The name between `${` and `}`.
    pub name: Cow<'static, str>,
    /// The environment variable holding its value.
    pub env: Cow<'static, str>,
    /// The value when that variable is unset; `None`: the variable is required.
    pub default: Option<Cow<'static, str>>,
}

/// Settings that belong to the project rather than to a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSettings {
    /// Where `dbgen new` keeps the `#[derive(Databases)]` enum, relative to the project root.
    pub registry_module: String,
    /// A folder whose `*.tera` files override the built-in templates, relative to the root.
    pub templates: Option<String>,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            registry_module: DEFAULT_REGISTRY_MODULE.to_string(),
            templates: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceholderLayer {
    env: String,
    default: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolLayer {
    max_connections: Option<u32>,
    min_connections: Option<u32>,
    acquire_timeout: Option<u64>,
}

/// One config file as written: every key optional, so layers can be merged.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigLayer {
    driver: Option<Driver>,
    migrations_table: Option<String>,
    lock_timeout: Option<u64>,
    pool: Option<PoolLayer>,
    // database.toml only:
    migrations: Option<String>,
    placeholders: Option<BTreeMap<String, PlaceholderLayer>>,
    tenants: Option<TenantsLayer>,
    // dbgen.toml only:
    registry_module: Option<String>,
    templates: Option<String>,
}

/// Which file a layer came from decides which keys it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerKind {
    Project,
    Database,
}

impl ConfigLayer {
    /// Reads a config file of `tree`, under the rule of every file dbgen reads (a regular
    /// file inside the project); a missing `dbgen.toml` is an empty layer.
    pub(crate) fn read(tree: &Tree, path: &Path, kind: LayerKind) -> Result<Self, Error> {
        let shown = path.to_string_lossy();
        let text = match read_text(&tree.real, &shown, path, Seen::Unseen) {
            Ok(text) => text,
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && kind == LayerKind::Project =>
            {
                return Ok(Self::default());
            }
            Err(e) => return Err(e),
        };
        Self::parse(&text, path, kind)
    }

    pub(crate) fn parse(text: &str, path: &Path, kind: LayerKind) -> Result<Self, Error> {
        let layer: Self = toml::from_str(text).map_err(|e| Error::ConfigSyntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let value_error = |message: String| Error::ConfigValue {
            path: path.to_path_buf(),
            message,
        };
        match kind {
            LayerKind::Project if layer.migrations.is_some() => {
                return Err(value_error(
                    "`migrations` names another database's migrations and belongs in a database's database.toml".into(),
                ));
            }
            LayerKind::Project if layer.tenants.is_some() => {
                return Err(value_error(
                    "[tenants] lists one database's tenants and belongs in that database's database.toml".into(),
                ));
            }
            LayerKind::Database => {
                for (key, set) in [
                    ("registry_module", layer.registry_module.is_some()),
                    ("templates", layer.templates.is_some()),
                ] {
                    if set {
                        return Err(value_error(format!(
                            "`{key}` is a project setting: move it to dbgen.toml at the project root"
                        )));
                    }
                }
            }
            LayerKind::Project => {}
        }
        for (name, placeholder) in layer.placeholders.iter().flatten() {
            validate_identifier_shape(name).map_err(|reason| {
                value_error(format!(
                    "placeholder name {name:?}: {reason} (it is written ${{{name}}} in scripts)"
                ))
            })?;
            if placeholder.env.is_empty() {
                return Err(value_error(format!(
                    "placeholder `{name}`: `env` names no variable"
                )));
            }
        }
        if let Some(tenants) = &layer.tenants {
            tenants.source().map_err(value_error)?;
        }
        if let Some(table) = &layer.migrations_table {
            validate_sql_identifier(table)
                .map_err(|reason| value_error(format!("migrations_table = {table:?}: {reason}")))?;
        }
        if let Some(pool) = &layer.pool
            && pool.max_connections == Some(0)
        {
            return Err(value_error(
                "pool.max_connections must be at least 1".into(),
            ));
        }
        Ok(layer)
    }

    /// `over`'s keys win; tables merge key by key rather than replacing each other.
    pub(crate) fn merged_with(&self, over: &Self) -> Self {
        let pool = match (&self.pool, &over.pool) {
            (Some(base), Some(top)) => Some(PoolLayer {
                max_connections: top.max_connections.or(base.max_connections),
                min_connections: top.min_connections.or(base.min_connections),
                acquire_timeout: top.acquire_timeout.or(base.acquire_timeout),
            }),
            (base, top) => top.clone().or_else(|| base.clone()),
        };
        Self {
            driver: over.driver.or(self.driver),
            migrations_table: over
                .migrations_table
                .clone()
                .or_else(|| self.migrations_table.clone()),
            lock_timeout: over.lock_timeout.or(self.lock_timeout),
            pool,
            migrations: over.migrations.clone().or_else(|| self.migrations.clone()),
            tenants: over.tenants.clone().or_else(|| self.tenants.clone()),
            placeholders: match (&self.placeholders, &over.placeholders) {
                (Some(base), Some(top)) => {
                    let mut merged = base.clone();
                    merged.extend(top.clone());
                    Some(merged)
                }
                (base, top) => top.clone().or_else(|| base.clone()),
            },
            registry_module: over
                .registry_module
                .clone()
                .or_else(|| self.registry_module.clone()),
            templates: over.templates.clone().or_else(|| self.templates.clone()),
        }
    }

    pub(crate) fn project_settings(&self) -> ProjectSettings {
        ProjectSettings {
            registry_module: self
                .registry_module
                .clone()
                .unwrap_or_else(|| DEFAULT_REGISTRY_MODULE.to_string()),
            templates: self.templates.clone(),
        }
    }

    /// The final config of `database`, whose own file is `path`.
    pub(crate) fn resolve(&self, database: &str, path: &Path) -> Result<DatabaseConfig, Error> {
        let driver = self.driver.ok_or_else(|| Error::MissingDriver {
            database: database.to_string(),
            path: path.to_path_buf(),
        })?;
        let pool = self.pool.clone().unwrap_or_default();
        let pool = PoolConfig {
            max_connections: pool.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            min_connections: pool.min_connections.unwrap_or(DEFAULT_MIN_CONNECTIONS),
            acquire_timeout_secs: pool.acquire_timeout.unwrap_or(DEFAULT_ACQUIRE_TIMEOUT_SECS),
        };
        if pool.min_connections > pool.max_connections {
            return Err(Error::ConfigValue {
                path: path.to_path_buf(),
                message: format!(
                    "pool.min_connections ({}) is larger than pool.max_connections ({})",
                    pool.min_connections, pool.max_connections
                ),
            });
        }
        let tenants = match &self.tenants {
            Some(layer) => Some(layer.source().map_err(|message| Error::ConfigValue {
                path: path.to_path_buf(),
                message,
            })?),
            None => None,
        };
        if matches!(tenants, Some(TenantSource::Schemas { .. })) && driver != Driver::Postgres {
            return Err(Error::ConfigValue {
                path: path.to_path_buf(),
                message: format!(
                    "[tenants] `schemas` needs PostgreSQL, and `{database}` uses {driver}: list database tenants with `query` or `file` instead"
                ),
            });
        }
        Ok(DatabaseConfig {
            tenants,
            driver,
            migrations_table: Cow::Owned(
                self.migrations_table
                    .clone()
                    .unwrap_or_else(|| DEFAULT_MIGRATIONS_TABLE.to_string()),
            ),
            lock_timeout_secs: self.lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT_SECS),
            pool,
            migrations_from: self.migrations.clone().map(Cow::Owned),
            placeholders: Cow::Owned(
                self.placeholders
                    .iter()
                    .flatten()
                    .map(|(name, p)| Placeholder {
                        name: Cow::Owned(name.clone()),
                        env: Cow::Owned(p.env.clone()),
                        default: p.default.clone().map(Cow::Owned),
                    })
                    .collect(),
            ),
        })
    }
}

/// An unquoted SQL identifier that every engine accepts: `[A-Za-z_][A-Za-z0-9_]*`, at most
/// 63 bytes, and not a word that PostgreSQL, MySQL, MariaDB or SQLite reserves (`user`,
/// `order`, `table`, ...; in any case), which would pass here and fail as a syntax error.
pub fn validate_sql_identifier(name: &str) -> Result<(), String> {
    validate_identifier_shape(name)?;
    let lower = name.to_ascii_lowercase();
    if RESERVED_WORDS.binary_search(&lower.as_str()).is_ok() {
        return Err(format!(
            "`{name}` is a reserved word of SQL (in PostgreSQL, MySQL/MariaDB or SQLite), so statements naming it unquoted fail: choose another name, such as `{lower}_migrations`"
        ));
    }
    Ok(())
}

/// Words that PostgreSQL, MySQL, MariaDB or SQLite reserve: a table named so, unquoted,
/// makes `CREATE TABLE`, `INSERT INTO` or `SELECT ... FROM` a syntax error on at least one
/// of them. Found by trying each keyword of the three (PostgreSQL 15, MariaDB 10.11,
/// SQLite 3.40) as a table name, plus MySQL 8's reserved words and a few that work
/// unquoted but read as keywords (`role`, `view`). Lower case, sorted.
const RESERVED_WORDS: [&str; 317] = [
    "accessible",
    "add",
    "all",
    "alter",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asensitive",
    "asymmetric",
    "authorization",
    "autoincrement",
    "before",
    "between",
    "bigint",
    "binary",
    "blob",
    "both",
    "by",
    "call",
    "cascade",
    "case",
    "cast",
    "change",
    "char",
    "character",
    "check",
    "collate",
    "collation",
    "column",
    "commit",
    "concurrently",
    "condition",
    "constraint",
    "continue",
    "convert",
    "create",
    "cross",
    "cube",
    "cume_dist",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "cursor",
    "database",
    "databases",
    "day_hour",
    "day_microsecond",
    "day_minute",
    "day_second",
    "dec",
    "decimal",
    "declare",
    "default",
    "deferrable",
    "delayed",
    "delete",
    "delete_domain_id",
    "dense_rank",
    "desc",
    "describe",
    "deterministic",
    "distinct",
    "distinctrow",
    "div",
    "do",
    "do_domain_ids",
    "double",
    "drop",
    "dual",
    "each",
    "else",
    "elseif",
    "empty",
    "enclosed",
    "end",
    "escape",
    "escaped",
    "except",
    "exists",
    "exit",
    "explain",
    "false",
    "fetch",
    "first_value",
    "float",
    "float4",
    "float8",
    "for",
    "force",
    "foreign",
    "freeze",
    "from",
    "full",
    "fulltext",
    "function",
    "generated",
    "get",
    "grant",
    "group",
    "grouping",
    "groups",
    "having",
    "high_priority",
    "hour_microsecond",
    "hour_minute",
    "hour_second",
    "if",
    "ignore",
    "ignore_domain_ids",
    "ilike",
    "in",
    "index",
    "infile",
    "initially",
    "inner",
    "inout",
    "insensitive",
    "insert",
    "int",
    "int1",
    "int2",
    "int3",
    "int4",
    "int8",
    "integer",
    "intersect",
    "interval",
    "into",
    "io_after_gtids",
    "io_before_gtids",
    "is",
    "isnull",
    "iterate",
    "join",
    "json_table",
    "key",
    "keys",
    "kill",
    "lag",
    "last_value",
    "lateral",
    "lead",
    "leading",
    "leave",
    "left",
    "like",
    "limit",
    "linear",
    "lines",
    "load",
    "localtime",
    "localtimestamp",
    "lock",
    "long",
    "longblob",
    "longtext",
    "loop",
    "low_priority",
    "manual",
    "master_bind",
    "master_demote_to_replica",
    "master_demote_to_slave",
    "master_ssl_verify_server_cert",
    "match",
    "maxvalue",
    "mediumblob",
    "mediumint",
    "mediumtext",
    "middleint",
    "minute_microsecond",
    "minute_second",
    "mod",
    "modifies",
    "natural",
    "no_write_to_binlog",
    "not",
    "nothing",
    "notnull",
    "nth_value",
    "ntile",
    "null",
    "numeric",
    "of",
    "offset",
    "on",
    "only",
    "optimize",
    "optimizer_costs",
    "optionally",
    "or",
    "order",
    "out",
    "outer",
    "outfile",
    "over",
    "overlaps",
    "page_checksum",
    "parallel",
    "parse_vcol_expr",
    "partition",
    "percent_rank",
    "placing",
    "portion",
    "precision",
    "primary",
    "procedure",
    "purge",
    "qualify",
    "range",
    "rank",
    "read",
    "read_write",
    "reads",
    "real",
    "recursive",
    "ref_system_id",
    "references",
    "regexp",
    "release",
    "rename",
    "repeat",
    "replace",
    "require",
    "resignal",
    "restrict",
    "return",
    "returning",
    "revoke",
    "right",
    "rlike",
    "role",
    "row",
    "row_number",
    "rows",
    "schema",
    "schemas",
    "second_microsecond",
    "select",
    "sensitive",
    "separator",
    "session_user",
    "set",
    "show",
    "signal",
    "similar",
    "smallint",
    "some",
    "spatial",
    "specific",
    "sql",
    "sql_big_result",
    "sql_calc_found_rows",
    "sql_small_result",
    "sqlexception",
    "sqlstate",
    "sqlwarning",
    "ssl",
    "starting",
    "stats_auto_recalc",
    "stats_persistent",
    "stats_sample_pages",
    "stored",
    "straight_join",
    "symmetric",
    "system",
    "table",
    "tablesample",
    "terminated",
    "then",
    "tinyblob",
    "tinyint",
    "tinytext",
    "to",
    "trailing",
    "transaction",
    "trigger",
    "true",
    "undo",
    "union",
    "unique",
    "unlock",
    "unsigned",
    "update",
    "usage",
    "use",
    "user",
    "using",
    "utc_date",
    "utc_time",
    "utc_timestamp",
    "value",
    "values",
    "varbinary",
    "varchar",
    "varcharacter",
    "variadic",
    "varying",
    "verbose",
    "view",
    "virtual",
    "when",
    "where",
    "while",
    "window",
    "with",
    "write",
    "xor",
    "year_month",
    "zerofill",
];

/// The shape of an SQL identifier: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes. Enough for a
/// placeholder's name, which is replaced before any engine sees it.
fn validate_identifier_shape(name: &str) -> Result<(), String> {
    let rule = "an SQL identifier starts with a letter or `_` and holds only letters, digits and `_` (at most 63 bytes)";
    let mut chars = name.chars();
    match chars.next() {
        None => Err(format!("it is empty; {rule}")),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Err(format!("it starts with {c:?}; {rule}"))
        }
        _ if name.len() > 63 => Err(format!("it is {} bytes long; {rule}", name.len())),
        _ => match chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
            Some(c) => Err(format!("it contains {c:?}; {rule}")),
            None => Ok(()),
        },
    }
}

/// `PathBuf` helper so error paths read relative to the project root.
pub(crate) fn display_path(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(text: &str, kind: LayerKind) -> Result<ConfigLayer, Error> {
        ConfigLayer::parse(text, Path::new("x.toml"), kind)
    }

    #[test]
    fn database_keys_override_only_themselves() {
        let base = layer(
            "driver = \"postgres\"\nmigrations_table = \"knex_like\"\n[pool]\nmax_connections = 5\nmin_connections = 1\n",
            LayerKind::Project,
        )
        .unwrap();
        let db = layer("[pool]\nmax_connections = 20\n", LayerKind::Database).unwrap();
        let cfg = base
            .merged_with(&db)
            .resolve("permiso", Path::new("x"))
            .unwrap();
        assert_eq!(cfg.driver, Driver::Postgres);
        assert_eq!(cfg.migrations_table, "knex_like");
        assert_eq!(cfg.pool.max_connections, 20);
        assert_eq!(
            cfg.pool.min_connections, 1,
            "the base's other pool keys survive"
        );
        assert_eq!(cfg.lock_timeout_secs, DEFAULT_LOCK_TIMEOUT_SECS);
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let cfg = ConfigLayer::default()
            .merged_with(&layer("driver = \"sqlite\"", LayerKind::Database).unwrap())
            .resolve("a", Path::new("x"))
            .unwrap();
        assert_eq!(cfg.migrations_table, DEFAULT_MIGRATIONS_TABLE);
        assert_eq!(cfg.pool.max_connections, 10);
        assert_eq!(cfg.migrations_from, None);
    }

    #[test]
    fn missing_driver_is_an_error() {
        let err = ConfigLayer::default()
            .resolve("permiso", Path::new("database/permiso/database.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`permiso` has no driver"), "{err}");
        assert!(err.contains("database/permiso/database.toml"), "{err}");
    }

    #[test]
    fn syntax_errors_show_the_line() {
        let err = layer(
            "driver = \"postgres\"\nnot valid toml\n",
            LayerKind::Project,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_keys_and_drivers_are_errors() {
        let err = layer("drvier = \"postgres\"", LayerKind::Project)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `drvier`"), "{err}");
        let err = layer("driver = \"oracle\"", LayerKind::Project)
            .unwrap_err()
            .to_string();
        assert!(err.contains("oracle"), "{err}");
        let err = layer("pool = { max_connections = 0 }", LayerKind::Project)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
    }

    #[test]
    fn keys_in_the_wrong_file() {
        let err = layer("migrations = \"permiso\"", LayerKind::Project)
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.toml"), "{err}");
        let err = layer("templates = \"t\"", LayerKind::Database)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dbgen.toml"), "{err}");
    }

    #[test]
    fn migrations_table_must_be_an_identifier() {
        for bad in ["", "1abc", "my table", "x;drop", "a.b"] {
            let text = format!("migrations_table = {bad:?}");
            let err = layer(&text, LayerKind::Project).unwrap_err().to_string();
            assert!(err.contains("SQL identifier"), "{bad:?}: {err}");
        }
        assert!(layer("migrations_table = \"_Knex_2\"", LayerKind::Project).is_ok());
    }

    #[test]
    fn migrations_table_must_not_be_a_reserved_word() {
        for word in [
            "user",
            "USER",
            "Order",
            "group",
            "table",
            "current_user",
            "window",
        ] {
            let text = format!("migrations_table = {word:?}");
            let err = layer(&text, LayerKind::Database).unwrap_err().to_string();
            let lower = word.to_ascii_lowercase();
            for part in [
                format!("migrations_table = {word:?}"),
                "reserved word".to_string(),
                format!("`{lower}_migrations`"),
            ] {
                assert!(err.contains(&part), "{word}: {part:?} in {err}");
            }
        }
        for fine in [
            "dbgen_migrations",
            "knex_migrations",
            "migrations",
            "users",
            "_user",
        ] {
            let text = format!("migrations_table = {fine:?}");
            assert!(layer(&text, LayerKind::Project).is_ok(), "{fine}");
        }
        // A placeholder is replaced before SQL is parsed: `${user}` is a fine name.
        assert!(
            layer(
                "[placeholders]\nuser = { env = \"U\" }",
                LayerKind::Database
            )
            .is_ok()
        );
    }

    #[test]
    fn reserved_words_are_sorted_lower_case_for_binary_search() {
        assert!(RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(RESERVED_WORDS.iter().all(|w| *w == w.to_ascii_lowercase()));
    }

    #[test]
    fn placeholders_merge_by_name() {
        let base = layer(
            "driver = \"postgres\"\n[placeholders]\nuser = { env = \"APP_USER\", default = \"app\" }\npw = { env = \"BASE_PW\" }\n",
            LayerKind::Project,
        )
        .unwrap();
        let db = layer(
            "[placeholders]\npw = { env = \"DB_PW\" }\n",
            LayerKind::Database,
        )
        .unwrap();
        let cfg = base.merged_with(&db).resolve("a", Path::new("x")).unwrap();
        let seen: Vec<(&str, &str, Option<&str>)> = cfg
            .placeholders
            .iter()
            .map(|p| (p.name.as_ref(), p.env.as_ref(), p.default.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [("pw", "DB_PW", None), ("user", "APP_USER", Some("app"))]
        );
    }

    #[test]
    fn bad_placeholders_are_errors() {
        let err = layer(
            "[placeholders]\n\"my-pw\" = { env = \"X\" }",
            LayerKind::Database,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("placeholder name \"my-pw\""), "{err}");
        let err = layer("[placeholders]\npw = { env = \"\" }", LayerKind::Database)
            .unwrap_err()
            .to_string();
        assert!(err.contains("names no variable"), "{err}");
        let err = layer(
            "[placeholders]\npw = { variable = \"X\" }",
            LayerKind::Database,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `variable`"), "{err}");
    }

    #[test]
    fn min_above_max_is_an_error() {
        let l = layer(
            "driver = \"mysql\"\n[pool]\nmin_connections = 5\nmax_connections = 2",
            LayerKind::Database,
        )
        .unwrap();
        let err = l.resolve("a", Path::new("x")).unwrap_err().to_string();
        assert!(err.contains("min_connections (5)"), "{err}");
    }
}
