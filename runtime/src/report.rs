//! `status` as data: printed as a table or as JSON.

use std::fmt::Write;

use dbgen_core::{Database, format_utc_millis};
use serde::Serialize;

use crate::plan::{State, Status};

/// One migration in a [`StatusReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrationReport {
    /// Its version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub state: State,
    /// The batch that applied it, when applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<i64>,
    /// When it was applied, in milliseconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<i64>,
    /// How long its script ran, in milliseconds, when applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_ms: Option<i64>,
}

/// Where every migration of one database stands (`migrate status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StatusReport {
    /// The database's name.
    pub database: String,
    /// Its engine: `postgres`, `mysql` or `sqlite`.
    pub driver: String,
    /// The connection with any password hidden.
    pub connection: String,
    /// The tracking table.
    pub table: String,
    /// Nothing pending, modified or missing.
    pub up_to_date: bool,
    /// How many are applied.
    pub applied: usize,
    /// How many are pending.
    pub pending: usize,
    /// How many are applied with a changed file.
    pub modified: usize,
    /// How many are applied with no file.
    pub missing: usize,
    /// How many are applied and newer than every file this build knows.
    pub ahead: usize,
    /// How many started outside a transaction and did not finish (`migrate resolve`).
    pub interrupted: usize,
    /// How many are running now, under another runner's lock.
    pub running: usize,
    /// Every migration, known or applied, in version order.
    pub migrations: Vec<MigrationReport>,
    /// Another tool's history found in a database dbgen has not migrated, and the command
    /// that takes it over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_history: Option<String>,
}

impl StatusReport {
    pub(crate) fn new(db: &Database, connection: String, status: &Status<'_>) -> Self {
        Self {
            database: db.name.to_string(),
            driver: db.config.driver.to_string(),
            connection,
            table: db.config.migrations_table.to_string(),
            up_to_date: status.is_up_to_date(),
            applied: status.count(State::Applied),
            pending: status.count(State::Pending),
            modified: status.count(State::Modified),
            missing: status.count(State::Missing),
            ahead: status.count(State::Ahead),
            interrupted: status.count(State::Interrupted),
            running: status.count(State::Running),
            migrations: status
                .entries
                .iter()
                .map(|e| MigrationReport {
                    version: e.version(),
                    name: e.name().to_string(),
                    state: e.state,
                    batch: e.applied.map(|r| r.batch),
                    applied_at: e.applied.map(|r| r.applied_at),
                    execution_ms: e.applied.map(|r| r.execution_ms),
                })
                .collect(),
            other_history: None,
        }
    }

    /// `up to date (12 applied, 0 pending)`.
    pub fn summary(&self) -> String {
        let mut parts = vec![
            format!("{} applied", self.applied),
            format!("{} pending", self.pending),
        ];
        for (n, label) in [
            (self.running, "running"),
            (self.interrupted, "interrupted"),
            (self.modified, "modified"),
            (self.missing, "missing"),
            (self.ahead, "ahead"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        let verdict = if self.up_to_date {
            "up to date"
        } else {
            "NOT up to date"
        };
        format!("{verdict} ({})", parts.join(", "))
    }

    /// The table `status` prints for one database.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "{} ({}, table {})\n",
            self.database, self.connection, self.table
        );
        if self.migrations.is_empty() {
            out.push_str("  no migrations\n");
        } else {
            let width = self
                .migrations
                .iter()
                .map(|m| m.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            let digits = self
                .migrations
                .iter()
                .map(|m| m.version.to_string().len())
                .max()
                .unwrap_or(14)
                .max(14);
            let _ = writeln!(
                out,
                "  {:<digits$}  {:<width$}  {:<11}  {:>5}  APPLIED AT",
                "VERSION", "NAME", "STATE", "BATCH"
            );
            for m in &self.migrations {
                let batch = m.batch.map(|b| b.to_string()).unwrap_or_default();
                let at = m.applied_at.map(format_utc_millis).unwrap_or_default();
                let line = format!(
                    "  {:<digits$}  {:<width$}  {:<11}  {:>5}  {at}",
                    m.version,
                    m.name,
                    m.state.as_str(),
                    batch
                );
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        let _ = write!(out, "  {}", self.summary());
        if let Some(other) = &self.other_history {
            let _ = write!(out, "\n  note: {other}");
        }
        out
    }
}
