//! What can go wrong running a database, as data an application can act on; each message
//! says what happened and what to do next.

use std::fmt;

use dbgen_core::Driver;
use thiserror::Error;

/// One migration, as refusals and reports name it: `20250823075842_initial_schema`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct MigrationId {
    /// Its version.
    pub version: i64,
    /// Its name (the part of the file name after the version).
    pub name: String,
}

impl fmt::Display for MigrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.version, self.name)
    }
}

/// A migration whose script started outside a transaction and did not finish.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct InterruptedMigration {
    /// Which one.
    pub id: MigrationId,
    /// Whether its up or its down script was running.
    pub interruption: crate::engine::Interruption,
    /// When that script started, in milliseconds since the Unix epoch.
    pub started_at: i64,
}

/// The name the user runs commands by: this binary's (an application's, or `dbgen`).
pub(crate) fn command_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg| {
            std::path::Path::new(&arg)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "dbgen".to_string())
}

/// What an interrupted migration may have left, and the two commands that resolve it.
pub(crate) fn resolve_advice(database: &str, m: &InterruptedMigration) -> String {
    use crate::engine::Interruption;
    let bin = command_name();
    let db = if database.is_empty() {
        "<db>"
    } else {
        database
    };
    let (id, v) = (&m.id, m.id.version);
    let at = dbgen_core::format_utc_millis(m.started_at);
    match m.interruption {
        Interruption::Applying => format!(
            "{id} started at {at} and did not finish (its runner died, or it failed outside a transaction): some of its statements may have taken effect. Check the schema, then either complete it by hand and run `{bin} migrate resolve {db} {v} --applied`, or undo what it did and run `{bin} migrate resolve {db} {v} --reverted` (the next `migrate latest` runs it again)"
        ),
        Interruption::Reverting => format!(
            "{id} started rolling back at {at} and did not finish: some of its down script may have taken effect. Check the schema, then either complete the rollback by hand and run `{bin} migrate resolve {db} {v} --reverted`, or restore what it undid and run `{bin} migrate resolve {db} {v} --applied`"
        ),
    }
}

fn interrupted(database: &str, migrations: &[InterruptedMigration]) -> String {
    let lines: Vec<String> = migrations
        .iter()
        .map(|m| resolve_advice(database, m))
        .collect();
    format!(
        "refusing to run: interrupted migration{} may be half done:\n  - {}",
        if migrations.len() == 1 { "" } else { "s" },
        lines.join("\n  - ")
    )
}

fn list(ids: &[MigrationId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `migrate adopt` refused: every row and file that does not match, each with the flag
/// that says how to treat it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdoptionConflicts {
    /// The tool.
    pub tool: String,
    /// Its table.
    pub table: String,
    /// Rows no migration matches, as the tool names them.
    pub unknown: Vec<String>,
    /// Rows the tool recorded as failed (sqlx's `success = false`).
    pub failed: Vec<MigrationId>,
    /// Migrations older than the newest adopted one that the tool never applied.
    pub unapplied: Vec<MigrationId>,
    /// Up scripts changed since the tool applied them (their checksums differ).
    pub edited: Vec<String>,
    /// Rows of the tool that share a version: "`1_a.js` and `1_b.js` (both version 1)".
    pub duplicated: Vec<String>,
}

impl fmt::Display for AdoptionConflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AdoptionConflicts {
            tool,
            table,
            unknown,
            failed,
            unapplied,
            edited,
            duplicated,
        } = self;
        let mut text = cannot_adopt(tool, table, unknown, failed, unapplied, edited);
        for rows in duplicated {
            text.push_str(&format!(
                "\n  - {rows} are one migration to dbgen, which matches by version: give each its own version in the port (and in {table}), so that each row matches its own file"
            ));
        }
        f.write_str(&text)
    }
}

fn no_history(database: &str, tool: &str, table: &str, found: &[String]) -> String {
    let mut text =
        format!("no {tool} history here: table `{table}` does not exist in this database");
    if found.is_empty() {
        text.push_str(&format!(
            ". Pass --table if {tool} was set up with another table name. If the database is empty, `dbgen migrate latest {database}` builds it; if its schema was made without any tool, `dbgen migrate baseline {database} --to <VERSION>` records it"
        ));
    } else {
        text.push_str(&format!("; it has {}", found.join("; ")));
    }
    text
}

fn already_tracked(table: &str, rows: usize) -> String {
    if rows == 0 {
        format!(
            "dbgen has run on this database before (its table `{table}` exists, empty: a `reset`, or a first run that failed), so another tool's history may no longer describe the schema. If the schema is what that history says, drop `{table}` and run this again"
        )
    } else {
        format!(
            "dbgen already tracks this database ({rows} rows in `{table}`), so there is no history to adopt or baseline: `migrate status` shows where it stands"
        )
    }
}

fn cannot_adopt(
    tool: &str,
    table: &str,
    unknown: &[String],
    failed: &[MigrationId],
    unapplied: &[MigrationId],
    edited: &[String],
) -> String {
    let mut lines = Vec::new();
    let add = if tool == "knex" {
        "add its file under that version (ported to SQL)"
    } else {
        "restore its file from version control"
    };
    for row in unknown {
        lines.push(format!(
            "{row} is in {table} but no migration has its version: {add}, or pass --skip-unknown to leave it out"
        ));
    }
    for m in failed {
        lines.push(format!(
            "{m} failed under {tool} (success = false): check the schema, then pass --failed applied (it is complete), --failed pending (none of it remains) or --failed interrupted (decide later with `migrate resolve`)"
        ));
    }
    for m in unapplied {
        lines.push(format!(
            "{m} is older than the newest migration {tool} applied, but {tool} never applied it: pass --unapplied applied if its schema is there, or --unapplied pending to run it with the next `migrate latest`"
        ));
    }
    for path in edited {
        lines.push(format!(
            "{path} changed after {tool} applied it (its SHA-384 differs from {table}'s): restore it as it was applied (version control has it), or pass --accept-edited if the database already has what it says now"
        ));
    }
    format!(
        "cannot adopt {tool}'s history from {table}; nothing was written. Fix these first:\n  - {}",
        lines.join("\n  - ")
    )
}

fn not_intact(modified: &[MigrationId], missing: &[MigrationId]) -> String {
    let mut lines = Vec::new();
    for m in modified {
        lines.push(format!(
            "{m} was changed after it was applied (checksum differs): restore its up script as it was applied and put the change in a new migration"
        ));
    }
    for m in missing {
        lines.push(format!(
            "{m} is applied but its file is gone: restore {m}.up.sql (and .down.sql) from version control"
        ));
    }
    format!(
        "refusing to run; fix these first:\n  - {}",
        lines.join("\n  - ")
    )
}

/// Why the state of a database forbids a command; nothing has been changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Migrations whose script started outside a transaction and did not finish.
    #[error("{}", interrupted(database, migrations))]
    Interrupted {
        /// The database (for the commands the message gives).
        database: String,
        /// Each interrupted migration.
        migrations: Vec<InterruptedMigration>,
    },

    /// `migrate adopt`: the other tool's history does not match the migrations; nothing
    /// was written.
    #[error("{0}")]
    CannotAdopt(Box<AdoptionConflicts>),

    /// `migrate adopt`: the other tool's table is not in the database.
    #[error("{}", no_history(database, tool, table, found))]
    NoHistory {
        /// The dbgen database.
        database: String,
        /// The tool.
        tool: String,
        /// The table looked for.
        table: String,
        /// Other tools' tables that are there, with what to pass.
        found: Vec<String>,
    },

    /// `migrate adopt --table`: the table is there but lacks the tool's columns.
    #[error(
        "`{table}` is not {tool}'s history table ({message}): {tool} writes the columns {columns}; pass the right --table, or the right --from"
    )]
    NotToolTable {
        /// The table read.
        table: String,
        /// The tool.
        tool: String,
        /// The columns the tool writes.
        columns: &'static str,
        /// The server's message.
        message: String,
    },

    /// `migrate adopt --from knex` while knex's lock is held.
    #[error(
        "knex holds its lock (`{table}`.is_locked = 1): a knex migration is running, or one died holding it. Make sure none runs (`knex migrate:unlock` clears a stale lock), then adopt"
    )]
    KnexLocked {
        /// knex's lock table.
        table: String,
    },

    /// A flag of `migrate adopt` that only sqlx's history has a use for.
    #[error(
        "{flag} applies to sqlx's history only (its failed rows, its checksums), not to {tool}'s"
    )]
    OnlyForSqlx {
        /// The flag.
        flag: &'static str,
        /// The tool named by --from.
        tool: String,
    },

    /// `latest`, `up` or `baseline` on a database whose history another tool wrote.
    #[error(
        "this database has {tool}'s history ({rows} rows in `{table}`) and none of dbgen's, so this would run again what {tool} applied: take it over with `dbgen migrate adopt {database} --from {tool}` (or drop `{table}` if it is stale)"
    )]
    ForeignHistory {
        /// The dbgen database.
        database: String,
        /// The tool.
        tool: String,
        /// Its table.
        table: String,
        /// Its rows.
        rows: u64,
    },

    /// `migrate adopt` or `baseline` on a database dbgen already tracks.
    #[error("{}", already_tracked(table, *rows))]
    AlreadyTracked {
        /// dbgen's tracking table.
        table: String,
        /// Its rows.
        rows: usize,
    },

    /// `migrate baseline` of a SQLite database whose file does not exist.
    #[error(
        "the database does not exist yet, so there is no schema to baseline: `migrate latest` creates it"
    )]
    NothingToBaseline,

    /// `--table` is not a table name.
    #[error(
        "`{0}` is not a table name: letters, digits, _ and $, with an optional schema (public.knex_migrations)"
    )]
    BadTableName(String),

    /// `migrate resolve` of a migration that is not interrupted.
    #[error(
        "migration {0} is not interrupted: `migrate status` shows where it stands; there is nothing to resolve"
    )]
    NotInterrupted(i64),

    /// Applied migrations whose file changed (`modified`) or is gone (`missing`).
    #[error("{}", not_intact(modified, missing))]
    NotIntact {
        /// Applied, but the file's checksum differs from the recorded one.
        modified: Vec<MigrationId>,
        /// Applied, older than a known migration, and no file.
        missing: Vec<MigrationId>,
    },

    /// `--strict`: these pending migrations are older than the newest applied one.
    #[error(
        "refusing to apply {} with --strict: older than the newest applied migration (merged from another branch?); run without --strict to apply them anyway",
        list(.0)
    )]
    OutOfOrder(Vec<MigrationId>),

    /// Rolling back these needs files of a newer release.
    #[error(
        "cannot roll back {}: applied by a newer release whose files this build does not have; roll back with that release",
        list(.0)
    )]
    NeedsNewerRelease(Vec<MigrationId>),

    /// These migrations have no down script.
    #[error(
        "cannot roll back {}: irreversible (no .down.sql file); nothing was reverted. Add a down file, or roll back to a later version with --to",
        list(.0)
    )]
    Irreversible(Vec<MigrationId>),

    /// No migration has this version.
    #[error("no migration has version {0}: `migrate status` lists the versions")]
    UnknownVersion(i64),

    /// `up --migration V` of an applied migration.
    #[error("migration {0} is already applied")]
    AlreadyApplied(i64),

    /// `down --migration V` of a migration that is not applied.
    #[error("migration {0} is not applied")]
    NotApplied(i64),
}

/// A pool of one engine where a database of another was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{what} is a {actual} pool, not a {expected} one: pass the pool of a {expected} database")]
pub struct WrongEngine {
    /// What was given: "the pool", or the database it was given for.
    pub what: String,
    /// The engine that was needed.
    pub expected: Driver,
    /// The engine of the pool given.
    pub actual: Driver,
}

/// What went wrong running one database. The caller prefixes the database's name.
///
/// `Debug` prints the same redacted message as `Display`, so that `fn main() -> Result<(),
/// Box<dyn Error>>` shows what to do, and no secret (the driver's own error, which may quote
/// a failed statement with its placeholder values filled in, is reached only through
/// [`source`](std::error::Error::source)).
#[derive(Error)]
#[non_exhaustive]
pub enum RunError {
    /// A rule of the project (a name, a file, the config, the environment) is broken.
    #[error(transparent)]
    Core(#[from] dbgen_core::Error),

    /// The database could not be reached.
    #[error(
        "cannot connect to {target}: {message}\n  (connection from {variables}; set them in the environment or .env)"
    )]
    Connect {
        /// The connection, password hidden.
        target: String,
        /// The variables it was read from.
        variables: String,
        /// What went wrong, secrets hidden.
        message: String,
        /// The driver's own error (not redacted: it may quote what the server echoed).
        #[source]
        source: sqlx::Error,
    },

    /// Another runner held the lock for the whole timeout.
    #[error(
        "another runner has held the migration lock for {secs} s; try again later or raise --lock-timeout (a runner that dies releases its lock by itself)"
    )]
    LockTimeout {
        /// How long this runner waited.
        secs: u64,
    },

    /// Reading or writing the tracking table failed.
    #[error("{action} tracking table `{table}` failed: {message}")]
    Tracking {
        /// "reading", "creating", "locking", ...
        action: &'static str,
        /// The tracking table.
        table: String,
        /// What went wrong, secrets hidden.
        message: String,
        /// The driver's own error (not redacted).
        #[source]
        source: sqlx::Error,
    },

    /// A script failed, or could not be read.
    #[error("{file}{}: {message}{}", position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default(), note.as_deref().map(|n| format!("\n  {n}")).unwrap_or_default())]
    Script {
        /// The script's path, relative to the project root.
        file: String,
        /// Line and column in the script, where the driver gives one.
        position: Option<(usize, usize)>,
        /// What went wrong.
        message: String,
        /// What remains applied, and what to do.
        note: Option<String>,
        /// The driver's own error, when the script ran and failed (not redacted: it may
        /// quote the statement, placeholder values filled in).
        #[source]
        source: Option<Box<sqlx::Error>>,
    },

    /// `seed run --specific NAME` names no seed.
    #[error("no seed named `{name}`; seeds: {}", if known.is_empty() { "none (create one with `dbgen seed make`)".to_string() } else { known.join(", ") })]
    UnknownSeed {
        /// The name asked for.
        name: String,
        /// The seeds there are.
        known: Vec<String>,
    },

    /// The database's state forbids the command; nothing was changed.
    #[error(transparent)]
    Refused(#[from] Refusal),

    /// The database's tenants could not be listed, or one asked for is not among them.
    #[error("{message}")]
    Tenants {
        /// The database whose tenants these are.
        database: String,
        /// What went wrong and what to do, secrets hidden.
        message: String,
        /// The driver's own error, when the list's query failed (not redacted).
        #[source]
        source: Option<Box<sqlx::Error>>,
    },

    /// A pool of another engine than the database's.
    #[error(transparent)]
    WrongEngine(#[from] WrongEngine),

    /// The database's engine was left out of this build.
    #[error(
        "{database} uses {driver}, which this build leaves out: enable dbgen-runtime's `{feature}` feature"
    )]
    EngineDisabled {
        /// The database.
        database: String,
        /// Its engine.
        driver: Driver,
        /// The feature that brings it in.
        feature: &'static str,
    },
}

impl Refusal {
    /// The refusal, naming `database` in the commands it gives.
    pub(crate) fn for_database(self, name: &str) -> Self {
        match self {
            Refusal::Interrupted { migrations, .. } => Refusal::Interrupted {
                database: name.to_string(),
                migrations,
            },
            other => other,
        }
    }
}

impl fmt::Debug for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl RunError {
    /// The same error with every secret `redactor` knows hidden in its messages.
    pub(crate) fn redacted(self, redactor: &dbgen_core::Redactor) -> Self {
        let hide = |text: String| redactor.redact(&text).into_owned();
        match self {
            RunError::Connect {
                target,
                variables,
                message,
                source,
            } => RunError::Connect {
                target,
                variables,
                message: hide(message),
                source,
            },
            RunError::Tracking {
                action,
                table,
                message,
                source,
            } => RunError::Tracking {
                action,
                table,
                message: hide(message),
                source,
            },
            RunError::Script {
                file,
                position,
                message,
                note,
                source,
            } => {
                let (shown, shown_note) = (hide(message.clone()), note.clone().map(hide));
                // A driver error whose text held a secret is not kept as the source either:
                // error reporters print the whole chain.
                let clean = shown == message && shown_note == note;
                RunError::Script {
                    file,
                    position,
                    message: shown,
                    note: shown_note,
                    source: source.filter(|_| clean),
                }
            }
            RunError::Tenants {
                database,
                message,
                source,
            } => {
                let shown = hide(message.clone());
                let clean = shown == message;
                RunError::Tenants {
                    database,
                    message: shown,
                    source: source.filter(|_| clean),
                }
            }
            other => other,
        }
    }
}

/// A driver error as one line: the server's own message and code when there is one, and
/// never the driver's source location.
pub(crate) fn describe(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_string(),
        },
        sqlx::Error::Protocol(message) => format!(
            "the server did not answer as this database's engine does ({}): are the host and port those of the right kind of server?",
            without_location(message)
        ),
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: is the server running, and listening at that host and port?"
                .to_string()
        }
        other => without_location(&other.to_string()).to_string(),
    }
}

/// `unexpected message: CopyData (sqlx_postgres::connection::establish:130)` without the
/// part in parentheses that names the driver's code.
fn without_location(message: &str) -> &str {
    match message.rfind(" (sqlx_") {
        Some(i) if message.ends_with(')') => &message[..i],
        _ => message,
    }
}

/// Why a connection failed, with what to do when the database itself is missing.
pub(crate) fn connect_message(err: &sqlx::Error) -> String {
    let message = describe(err);
    let missing = err.as_database_error().and_then(|db| {
        let text = db.message();
        let quoted = |open: char, close: char| {
            let start = text.find(open)? + 1;
            let end = start + text[start..].find(close)?;
            Some(text[start..end].to_string())
        };
        if db.code().as_deref() == Some("3D000") {
            quoted('"', '"')
                .map(|name| format!("`CREATE DATABASE \"{name}\"` (or `createdb {name}`)"))
        } else if text.starts_with("Unknown database") {
            quoted('\'', '\'').map(|name| format!("CREATE DATABASE `{name}`;"))
        } else {
            None
        }
    });
    match missing {
        Some(create) => format!(
            "{message}: the server is reachable but has no such database; create it with {create}, or point the connection at one that exists"
        ),
        None => message,
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

    #[test]
    fn refusals_name_each_migration() {
        let id = |version, name: &str| MigrationId {
            version,
            name: name.to_string(),
        };
        let refusal = Refusal::NotIntact {
            modified: vec![id(2, "b")],
            missing: vec![id(1, "a")],
        };
        let text = refusal.to_string();
        assert!(text.contains("2_b was changed"), "{text}");
        assert!(
            text.contains("1_a is applied but its file is gone"),
            "{text}"
        );
    }
}
