//! dbgen-core: the model of a dbgen project and every rule about its files.
//!
//! The derive (`dbgen-macros`) and the `dbgen` binary both read a project through
//! [`load_project`], so what compiles into an application and what the CLI runs can
//! never disagree. Every naming rule lives here too: a database's folder
//! ([`database_dir`]), its environment variables ([`DatabaseName::env_prefix`]), its enum
//! variant ([`DatabaseName::variant_name`]) and the file names of its migrations and seeds.
//! This crate has no database driver, no async and no proc-macro code.
#![warn(missing_docs)]

mod checksum;
mod config;
mod connection;
mod derive;
mod env;
mod error;
mod files;
mod loader;
mod migration;
mod name;
mod placeholder;
mod redact;
mod seed;
mod tenants;
mod time;

pub use checksum::Checksum;
pub use config::{
    DEFAULT_ACQUIRE_TIMEOUT_SECS, DEFAULT_LOCK_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MIGRATIONS_TABLE, DEFAULT_MIN_CONNECTIONS, DEFAULT_REGISTRY_MODULE, DatabaseConfig,
    Driver, Placeholder, PoolConfig, ProjectSettings, validate_sql_identifier,
};
pub use connection::{ConnectionSettings, ConnectionTarget, Secret, resolve_connection};
pub use derive::{DeriveError, DerivedProject, EnumVariant, derive_project};
pub use env::{Env, env_var_names, env_var_names_for, load_env};
pub use error::Error;
pub use files::normalize_path;
pub use loader::{
    CONFIG_FILE, DATABASE_CONFIG_FILE, DATABASES_DIR, Database, MIGRATIONS_DIR, Project, SEEDS_DIR,
    database_dir, find_project_root, load_project, load_project_with,
};
pub use migration::{
    EmbeddedScripts, Layout, MIGRATION_FORMS, Migration, MigrationFileName, MigrationsFolder,
    NO_TRANSACTION_MARKER, SQLX_NO_TRANSACTION_MARKER, ScriptFile, ScriptSource, is_blank_script,
    is_no_transaction, migration_file_name, parse_migration_file_name, parse_migration_folder_name,
    validate_migration_slug,
};
pub use name::{DatabaseName, RESERVED_NAMES, check_name_collisions, known_databases_message};
pub use placeholder::{original_offset, resolve_placeholders, substitute_placeholders};
pub use redact::{MASK, Redactor, redact_url};
pub use seed::{Seed, seed_file_name, validate_seed_name};
pub use tenants::{
    Tenant, TenantPlace, TenantSource, in_partition, parse_tenants_file, validate_tenant_name,
};
pub use time::{format_utc_millis, utc_version};
