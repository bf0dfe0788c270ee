use thiserror::Error;

/// Why the state of a database forbids a command; nothing has been changed.
#[derive(Debug, Error)]
pub enum Refusal {
    #[error("refusing to run; fix these first:\n  - {}", .0.join("\n  - "))]
    NotIntact(Vec<String>),

    #[error(
        "refusing to apply {} with --strict: older than the newest applied migration (merged from another branch?); run without --strict to apply them anyway",
        .0.join(", ")
    )]
    OutOfOrder(Vec<String>),

    #[error(
        "cannot roll back {}: applied by a newer release whose files this build does not have; roll back with that release",
        .0.join(", ")
    )]
    NeedsNewerRelease(Vec<String>),

    #[error(
        "cannot roll back {}: irreversible (no .down.sql file); nothing was reverted. Add a down file, or roll back to a later version with --to",
        .0.join(", ")
    )]
    Irreversible(Vec<String>),

    #[error("no migration has version {0}: `migrate status` lists the versions")]
    UnknownVersion(i64),

    #[error("migration {0} is already applied")]
    AlreadyApplied(i64),

    #[error("migration {0} is not applied")]
    NotApplied(i64),
}

/// What went wrong running one database. The caller prefixes the database's name.
#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Core(#[from] dbgen_core::Error),

    #[error(
        "cannot connect to {target}: {message}\n  (connection read from {variables}, in the environment or .env)"
    )]
    Connect {
        target: String,
        variables: String,
        message: String,
    },

    #[error(
        "another runner has held the migration lock for {secs} s; try again later or raise --lock-timeout (a runner that dies releases its lock by itself)"
    )]
    LockTimeout { secs: u64 },

    #[error("{action} tracking table `{table}` failed: {message}")]
    Tracking {
        action: &'static str,
        table: String,
        message: String,
    },

    #[error("{file}{}: {message}{}", position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default(), note.as_deref().map(|n| format!("\n  {n}")).unwrap_or_default())]
    Script {
        file: String,
        position: Option<(usize, usize)>,
        message: String,
        note: Option<String>,
    },

    #[error("no seed named `{name}`; seeds: {}", if known.is_empty() { "none (create one with `dbgen seed make`)".to_string() } else { known.join(", ") })]
    UnknownSeed { name: String, known: Vec<String> },

    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// A driver error as one line: the server's own message and code when there is one.
pub(crate) fn describe(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_string(),
        },
        other => other.to_string(),
    }
}

/// (line, column) of a 1-based character offset into `script`.
pub(crate) fn line_column(script: &str, char_offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in script.chars().take(char_offset.saturating_sub(1)) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        assert_eq!(line_column("select 1;\nselec 2;", 11), (2, 1));
        assert_eq!(line_column("abc", 3), (1, 3));
        assert_eq!(line_column("é\nx", 3), (2, 1));
    }
}
