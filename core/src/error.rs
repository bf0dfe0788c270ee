use std::path::PathBuf;

/// Everything that can be wrong with a project's tree, config or environment.
///
/// Each message names the thing at fault and says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid database name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },

    #[error(
        "databases `{first}` and `{second}` both read environment variables {prefix}_DB_*: rename one of them"
    )]
    PrefixCollision {
        first: String,
        second: String,
        prefix: String,
    },

    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid config {}: {message}", path.display())]
    ConfigSyntax { path: PathBuf, message: String },

    #[error("invalid config {}: {message}", path.display())]
    ConfigValue { path: PathBuf, message: String },

    #[error(
        "database `{database}` has no driver: set `driver = \"postgres\"` (or \"mysql\", \"sqlite\") in {} or in dbgen.toml",
        path.display()
    )]
    MissingDriver { database: String, path: PathBuf },

    #[error(
        "database `{database}` takes its migrations from `{source_db}`, which {problem} (set `migrations` in {})",
        path.display()
    )]
    BadMigrationsSource {
        database: String,
        source_db: String,
        problem: String,
        path: PathBuf,
    },

    #[error("{}: {reason}", path.display())]
    BadFile { path: PathBuf, reason: String },

    #[error(
        "{} changed while dbgen was running (its checksum is no longer the one it had when the project was loaded), so it was not run: run the command again",
        path.display()
    )]
    ChangedWhileRunning { path: PathBuf },

    #[error(
        "duplicate migration version {version} in database `{database}`: {} and {} (give one of them a new version)",
        first.display(), second.display()
    )]
    DuplicateVersion {
        database: String,
        version: i64,
        first: PathBuf,
        second: PathBuf,
    },

    #[error("unknown database `{name}`; {}", known_list(known))]
    UnknownDatabase { name: String, known: Vec<String> },

    #[error("{}", env_message(.var, .value, .reason))]
    BadEnv {
        var: String,
        value: String,
        reason: String,
    },

    #[error(
        "database `{database}`: placeholder `${{{name}}}` reads environment variable {var}, which is not set and has no default; set it (in the environment or .env) or give the placeholder a default in database.toml"
    )]
    MissingPlaceholder {
        database: String,
        name: String,
        var: String,
    },

    #[error("invalid .env file {}: {message}", path.display())]
    DotEnv { path: PathBuf, message: String },
}

pub(crate) fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "this project has no databases yet: create one with `dbgen new <name>`".to_string()
    } else {
        format!("known databases: {}", known.join(", "))
    }
}

fn env_message(var: &str, value: &str, reason: &str) -> String {
    // The value of a *_PASSWORD or *_URL variable may hold a secret: never echo those.
    if var.ends_with("_PASSWORD") || var.ends_with("_URL") {
        format!("environment variable {var} is invalid: {reason}")
    } else {
        format!("environment variable {var}={value:?} is invalid: {reason}")
    }
}
