//! Every way a `dbgen` command can fail, each message naming what is at fault and what to do.

use std::path::PathBuf;
use std::process::ExitCode;

/// Input the user typed was wrong: same exit code as clap's usage errors.
pub const EXIT_USAGE: u8 = 2;
/// The command was fine but could not be carried out.
pub const EXIT_FAILURE: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Core(#[from] dbgen_core::Error),

    #[error("--root {}: {reason}", path.display())]
    BadRoot { path: PathBuf, reason: String },

    #[error("cannot find the current folder ({source}): pass the project folder with --root DIR")]
    CurrentDir {
        #[source]
        source: std::io::Error,
    },

    #[error(
        "database `{name}` already exists ({}): choose another name, or edit the files in that folder",
        path.display()
    )]
    DatabaseExists { name: String, path: PathBuf },

    #[error("{reason}; for example: `dbgen migrate make {database} create_users`")]
    BadMigrationName { database: String, reason: String },

    #[error("{reason}")]
    BadSeedName { reason: String },

    #[error(
        "database `{database}` takes its migrations from `{source_db}` (`migrations = \"{source_db}\"` in {}): run `dbgen migrate make {source_db} {name}`",
        config.display()
    )]
    MigrationsFromOther {
        database: String,
        source_db: String,
        name: String,
        config: PathBuf,
    },

    #[error(
        "database `{database}` already has migration version {highest}, the largest there is: renumber its migrations to leave room for new ones"
    )]
    VersionOverflow { database: String, highest: i64 },

    #[error("{} already exists: choose another name, or edit that file", path.display())]
    FileExists { path: PathBuf },

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{error}; undoing the changes also failed, fix these by hand: {}", problems.join("; "))]
    Rollback {
        error: Box<CliError>,
        problems: Vec<String>,
    },

    #[error("template {template}: {message}")]
    Template { template: String, message: String },

    #[error("templates folder {} (set by `templates` in dbgen.toml): {reason}", path.display())]
    TemplatesDir { path: PathBuf, reason: String },

    /// Boxed: a runtime error is large, and every command returns this type.
    #[error(transparent)]
    Run(Box<dbgen_runtime::RunError>),

    #[error("cannot start the async runtime: {source}")]
    AsyncRuntime {
        #[source]
        source: std::io::Error,
    },
}

impl From<dbgen_runtime::RunError> for CliError {
    fn from(error: dbgen_runtime::RunError) -> Self {
        Self::Run(Box::new(error))
    }
}

impl CliError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// 2 for input the user typed (a bad name, an unknown database), 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Core(dbgen_core::Error::InvalidName { .. })
            | CliError::Core(dbgen_core::Error::NameTaken { .. })
            | CliError::Core(dbgen_core::Error::UnknownDatabase { .. })
            | CliError::BadRoot { .. }
            | CliError::DatabaseExists { .. }
            | CliError::BadMigrationName { .. }
            | CliError::BadSeedName { .. }
            | CliError::MigrationsFromOther { .. } => EXIT_USAGE,
            CliError::Rollback { error, .. } => return error.exit_code(),
            _ => EXIT_FAILURE,
        })
    }
}
