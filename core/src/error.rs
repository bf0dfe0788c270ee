use std::path::PathBuf;

use crate::name::known_databases_message;

/// Everything that can be wrong with a project's tree, config or environment.
///
/// Each message names the thing at fault and says what to do next. New kinds of problem
/// may be added in any release, so a `match` needs a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A database name breaks the naming rule (`[a-z][a-z0-9_-]*`, at most 63 bytes, not
    /// reserved).
    #[error("invalid database name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it breaks, and the rule.
        reason: String,
    },

    /// Two databases of one project would read the same environment variables.
    #[error(
        "databases `{first}` and `{second}` both read environment variables {prefix}_DB_*: rename one of them"
    )]
    PrefixCollision {
        /// The first database, in name order.
        first: String,
        /// The second database.
        second: String,
        /// The prefix they share: `A_B` for `a-b` and `a_b`.
        prefix: String,
    },

    /// Two databases of one project would map to the same `#[derive(Databases)]` variant.
    #[error(
        "database folders `{first}` and `{second}` both map to the enum variant `{variant}`, and #[derive(Databases)] needs one variant per database: rename one of the two folders (and its variant)"
    )]
    VariantCollision {
        /// The first database, in name order.
        first: String,
        /// The second database.
        second: String,
        /// The variant they share: `Db2` for `db-2` and `db2`.
        variant: String,
    },

    /// A new database's name cannot live next to an existing database (`dbgen new`).
    #[error(
        "cannot create database `{name}`: it would {reason}, as database `{existing}` does; choose another name"
    )]
    NameTaken {
        /// The name asked for.
        name: String,
        /// The existing database it clashes with.
        existing: String,
        /// What the two would share: `read environment variables A_B_DB_*`.
        reason: String,
    },

    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder, relative to the project root where possible.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A config file is not valid TOML.
    #[error("invalid config {}: {message}", path.display())]
    ConfigSyntax {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with the position.
        message: String,
    },

    /// A config file is valid TOML but a key or value is wrong.
    #[error("invalid config {}: {message}", path.display())]
    ConfigValue {
        /// The config file.
        path: PathBuf,
        /// Which key is wrong, and what it accepts.
        message: String,
    },

    /// Neither the database's config nor dbgen.toml sets a driver.
    #[error(
        "database `{database}` has no driver: set `driver = \"postgres\"` (or \"mysql\", \"sqlite\") in {} or in dbgen.toml",
        path.display()
    )]
    MissingDriver {
        /// The database.
        database: String,
        /// Its database.toml.
        path: PathBuf,
    },

    /// `migrations = "..."` names a database whose migrations cannot be used.
    #[error(
        "database `{database}` takes its migrations from `{source_db}`, which {problem} (set `migrations` in {})",
        path.display()
    )]
    BadMigrationsSource {
        /// The database whose config has the setting.
        database: String,
        /// The database it names.
        source_db: String,
        /// Why that one cannot be used.
        problem: String,
        /// The database.toml holding the setting.
        path: PathBuf,
    },

    /// A file or folder breaks a layout rule (its name, its place, its encoding).
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file, relative to the project root.
        path: PathBuf,
        /// The rule it breaks and what to do.
        reason: String,
    },

    /// An up script was edited between loading the project and running the script.
    #[error(
        "{} changed while dbgen was running (its checksum is no longer the one it had when the project was loaded), so it was not run: run the command again",
        path.display()
    )]
    ChangedWhileRunning {
        /// The script, relative to the project root.
        path: PathBuf,
    },

    /// Several files of a migrations folder break its rules: every one is listed, so that a
    /// folder is fixed in one pass.
    #[error(
        "{} migration files in {} break a rule (nothing was run); fix each:{}",
        problems.len(),
        folder.display(),
        problems.iter().map(|(path, reason)| format!("\n  {}: {reason}", path.display())).collect::<String>()
    )]
    BadMigrationFiles {
        /// The migrations folder, relative to the project root.
        folder: PathBuf,
        /// Each file (relative to the project root) and the rule it breaks, in name order.
        problems: Vec<(PathBuf, String)>,
    },

    /// Two migrations of one database have the same version.
    #[error(
        "duplicate migration version {version} in database `{database}`: {} and {} (give one of them a new version)",
        first.display(), second.display()
    )]
    DuplicateVersion {
        /// The database.
        database: String,
        /// The version they share.
        version: i64,
        /// The first file, in name order.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },

    /// A command named a database the project does not have.
    #[error("unknown database `{name}`; {}", known_databases_message(known))]
    UnknownDatabase {
        /// The name as given.
        name: String,
        /// Every database of the project, in name order.
        known: Vec<String>,
    },

    /// An environment variable has a value dbgen cannot use. The value is not shown for
    /// `*_PASSWORD` and `*_URL` variables.
    #[error("{}", env_message(.var, .value, .reason))]
    BadEnv {
        /// The variable's name.
        var: String,
        /// Its value (never displayed for secrets).
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A tenant's connection does not fit its database's engine.
    #[error("tenant `{tenant}`: {reason}; fix its entry in the tenant list")]
    BadTenant {
        /// The tenant's name.
        tenant: String,
        /// What is wrong.
        reason: String,
    },

    /// A script uses a placeholder whose variable is unset and has no default.
    #[error(
        "database `{database}`: placeholder `${{{name}}}` reads environment variable {var}, which is not set and has no default; set it (in the environment or .env) or give the placeholder a default in database.toml"
    )]
    MissingPlaceholder {
        /// The database.
        database: String,
        /// The placeholder, without `${}`.
        name: String,
        /// The variable it reads.
        var: String,
    },

    /// The `.env` file cannot be parsed.
    #[error("invalid .env file {}: {message}", path.display())]
    DotEnv {
        /// The `.env` file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },

    /// `#[derive(Databases)]`: the databases folder does not exist.
    #[error(
        "no databases folder at {}: create one with `dbgen new <name>`, or set #[databases(root = \"<folder>\")] (relative to Cargo.toml)",
        path.display()
    )]
    NoDatabasesFolder {
        /// Where it was looked for.
        path: PathBuf,
    },

    /// `#[derive(Databases)]`: a variant matches no database folder.
    #[error(
        "variant `{variant}` has no database folder in {folder}/: {advice}; {}",
        known_databases_message(known)
    )]
    VariantWithoutFolder {
        /// The variant.
        variant: String,
        /// The databases folder, as `#[databases(root = "...")]` writes it.
        folder: String,
        /// The folder names it would accept and how to make one.
        advice: String,
        /// Every database folder there, in name order.
        known: Vec<String>,
    },

    /// `#[derive(Databases)]`: a database folder has no variant.
    #[error(
        "database folder {folder}/{database}/ has no variant: add `{variant}` to `enum {enum_name}` (or remove the folder)"
    )]
    FolderWithoutVariant {
        /// The databases folder, as `#[databases(root = "...")]` writes it.
        folder: String,
        /// The database folder's name.
        database: String,
        /// The variant it maps to.
        variant: String,
        /// The enum's name.
        enum_name: String,
    },

    /// `#[derive(Databases)]`: two variants name the same database folder.
    #[error(
        "variants `{first}` and `{second}` both name database folder {folder}/{database}/: remove one of them, or point it elsewhere with #[database(name = \"...\")]"
    )]
    VariantsShareFolder {
        /// The earlier variant.
        first: String,
        /// The later variant.
        second: String,
        /// The databases folder, as `#[databases(root = "...")]` writes it.
        folder: String,
        /// The database folder they both name.
        database: String,
    },
}

fn env_message(var: &str, value: &str, reason: &str) -> String {
    // The value of a *_PASSWORD or *_URL variable may hold a secret: never echo those.
    if var.ends_with("_PASSWORD") || var.ends_with("_URL") {
        format!("environment variable {var} is invalid: {reason}")
    } else {
        format!("environment variable {var}={value:?} is invalid: {reason}")
    }
}
