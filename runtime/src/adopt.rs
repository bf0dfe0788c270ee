//! `migrate adopt` and `migrate baseline`: recording a history dbgen did not write, without
//! running any script. Adoption reads another tool's table in the same database and
//! matches its rows to this database's migrations by version; a baseline records every
//! migration up to a version.

use std::collections::BTreeMap;
use std::fmt;

use dbgen_core::{Database, Migration};
use sha2::{Digest, Sha384};

use crate::engine::{APPLYING_MS, Engine, OpenMode, Record, Source};
use crate::error::{AdoptionConflicts, MigrationId, Refusal, RunError};
use crate::execute::{close_after, now_millis, open, tracking, with_lock};
use crate::migrator::Outcome;

/// The tool whose history [`Adoption`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Tool {
    /// knex: `knex_migrations (name, batch, migration_time)`; names are file names such as
    /// `20250823075842_initial_schema.js`, matched by the digits before the first `_`.
    Knex,
    /// sqlx: `_sqlx_migrations (version, description, success, checksum, ...)`; checksums
    /// (SHA-384 of the up script) are compared with the files.
    Sqlx,
    /// diesel: `__diesel_schema_migrations (version, run_on)`.
    Diesel,
}

impl Tool {
    /// The table the tool writes by default.
    pub fn default_table(self) -> &'static str {
        match self {
            Tool::Knex => "knex_migrations",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Diesel => "__diesel_schema_migrations",
        }
    }

    /// Every column as text: label, version, batch, failed, checksum, applied_at (ms),
    /// execution (ms).
    fn select_sql<E: Engine>(self, table: &str) -> String {
        let text = |expr: &str| format!("CAST({expr} AS {})", E::TEXT_CAST);
        let ms = |expr: &str| text(&E::epoch_ms_sql(expr));
        match self {
            Tool::Knex => format!(
                "SELECT {}, NULL, {}, NULL, NULL, {}, NULL FROM {table} ORDER BY id",
                text("name"),
                text("batch"),
                ms("migration_time")
            ),
            Tool::Sqlx => format!(
                "SELECT {}, {}, NULL, {}, {}, {}, {} FROM {table} ORDER BY version",
                text("description"),
                text("version"),
                text("CASE WHEN success THEN 0 ELSE 1 END"),
                E::hex_sql("checksum"),
                ms("installed_on"),
                // Nanoseconds (divided here, not in SQL: MySQL would give a decimal).
                text("execution_time"),
            ),
            Tool::Diesel => format!(
                "SELECT {}, {}, NULL, NULL, NULL, {}, NULL FROM {table} ORDER BY version",
                text("version"),
                text("version"),
                ms("run_on")
            ),
        }
    }

    /// The columns its table has, for a message about a table that lacks them.
    fn columns(self) -> &'static str {
        match self {
            Tool::Knex => "id, name, batch, migration_time",
            Tool::Sqlx => "version, description, installed_on, success, checksum, execution_time",
            Tool::Diesel => "version, run_on",
        }
    }

    /// The tables `--drop-old-table` drops.
    fn tables(self, table: &str) -> Vec<String> {
        match self {
            Tool::Knex => vec![table.to_string(), format!("{table}_lock")],
            Tool::Sqlx | Tool::Diesel => vec![table.to_string()],
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tool::Knex => "knex",
            Tool::Sqlx => "sqlx",
            Tool::Diesel => "diesel",
        })
    }
}

/// How to record what adoption cannot decide by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Treatment {
    /// As applied: its schema is in the database.
    Applied,
    /// As not applied: the next `latest` runs it.
    Pending,
    /// As interrupted (only for sqlx's failed rows): `migrate resolve` decides later.
    Interrupted,
}

/// What `migrate adopt` does: which tool's history, and how to treat what does not match.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Adoption {
    /// The tool whose table is read.
    pub tool: Tool,
    /// Its table, when not the tool's default (PostgreSQL: `schema.table` too).
    pub table: Option<String>,
    /// Rows whose version no migration has are left out (else refused).
    pub skip_unknown: bool,
    /// sqlx's rows with `success = false` (else refused).
    pub failed: Option<Treatment>,
    /// Migrations older than the newest adopted row that the tool never applied (else
    /// refused). Newer ones are simply pending.
    pub unapplied: Option<Treatment>,
    /// sqlx checksums that differ from the files are recorded anyway (else refused).
    pub accept_edited: bool,
    /// Drops the tool's table (and knex's lock table) once the history is adopted.
    pub drop_old_table: bool,
    /// Shows what would be recorded; changes nothing.
    pub dry_run: bool,
}

impl Adoption {
    /// Adopts `tool`'s history with every safeguard on: anything that does not match is
    /// refused, and the tool's table is kept.
    pub fn from(tool: Tool) -> Self {
        Self {
            tool,
            table: None,
            skip_unknown: false,
            failed: None,
            unapplied: None,
            accept_edited: false,
            drop_old_table: false,
            dry_run: false,
        }
    }

    /// Reads this table instead of the tool's default.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// Leaves out rows whose version no migration has, instead of refusing.
    pub fn skip_unknown(mut self, skip: bool) -> Self {
        self.skip_unknown = skip;
        self
    }

    /// Records sqlx's failed rows this way instead of refusing.
    pub fn failed(mut self, treatment: Treatment) -> Self {
        self.failed = Some(treatment);
        self
    }

    /// Records migrations the tool skipped this way instead of refusing.
    pub fn unapplied(mut self, treatment: Treatment) -> Self {
        self.unapplied = Some(treatment);
        self
    }

    /// Records migrations whose file changed since sqlx applied it instead of refusing.
    pub fn accept_edited(mut self, accept: bool) -> Self {
        self.accept_edited = accept;
        self
    }

    /// Drops the tool's table once its history is adopted.
    pub fn drop_old_table(mut self, drop: bool) -> Self {
        self.drop_old_table = drop;
        self
    }

    /// Shows what would be recorded, changing nothing.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    fn table_name(&self) -> &str {
        self.table
            .as_deref()
            .unwrap_or_else(|| self.tool.default_table())
    }
}

/// A history recorded without running scripts (adopted or baselined).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// The other tool's table it came from (`knex_migrations`); empty for a baseline.
    pub from: String,
    /// A baseline (`migrate baseline`), not an adoption.
    pub baseline: bool,
    /// Each migration recorded, in version order, with its batch; `interrupted` ones are
    /// recorded as interrupted.
    pub migrations: Vec<RecordedMigration>,
    /// Migrations left pending: the next `latest` applies them.
    pub pending: Vec<MigrationId>,
    /// Rows of the other tool left out (`--skip-unknown`).
    pub skipped: Vec<String>,
    /// The tables dropped (`--drop-old-table`).
    pub dropped: Vec<String>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// One migration a [`Recorded`] history holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedMigration {
    /// Which one.
    pub id: MigrationId,
    /// Its batch.
    pub batch: i64,
    /// Recorded as interrupted rather than applied.
    pub interrupted: bool,
}

impl Recorded {
    /// `adopted 3 migrations from knex_migrations (batches 1 to 2); 1 pending: ...`
    pub fn summary(&self) -> String {
        let n = self.migrations.len();
        let verb = match (self.baseline, self.dry_run) {
            (true, false) => "recorded as applied (not run)",
            (true, true) => "dry run: would record as applied (not run)",
            (false, false) => "adopted",
            (false, true) => "dry run: would adopt",
        };
        let mut text = format!("{verb} {n} migration{}", crate::migrator::plural(n));
        if !self.baseline {
            text.push_str(&format!(" from {}", self.from));
        }
        let batches: Vec<i64> = self.migrations.iter().map(|m| m.batch).collect();
        if let (Some(low), Some(high)) = (batches.iter().min(), batches.iter().max()) {
            if low == high {
                text.push_str(&format!(" (batch {low})"));
            } else {
                text.push_str(&format!(" (batches {low} to {high})"));
            }
        }
        let interrupted = self.migrations.iter().filter(|m| m.interrupted).count();
        if interrupted > 0 {
            text.push_str(&format!(
                ", {interrupted} as interrupted (`migrate resolve` decides)"
            ));
        }
        if !self.skipped.is_empty() {
            text.push_str(&format!(", left out {}", self.skipped.join(", ")));
        }
        if !self.dropped.is_empty() {
            let verb = if self.dry_run {
                "would drop"
            } else {
                "dropped"
            };
            text.push_str(&format!(", {verb} {}", self.dropped.join(" and ")));
        }
        match self.pending.len() {
            0 => text.push_str("; nothing pending"),
            p => text.push_str(&format!(
                "; {p} pending: `migrate latest` applies {}",
                if p == 1 { "it" } else { "them" }
            )),
        }
        if self.dry_run {
            text.push_str("; nothing changed");
        }
        text
    }

    /// One line per migration recorded, for the command's output.
    pub fn lines(&self) -> Vec<String> {
        self.migrations
            .iter()
            .map(|m| {
                let state = if m.interrupted {
                    "interrupted"
                } else {
                    "applied"
                };
                let verb = if self.dry_run {
                    "would be recorded as"
                } else {
                    "recorded as"
                };
                format!("{} {verb} {state}, batch {}", m.id, m.batch)
            })
            .collect()
    }
}

/// A row of another tool's table, as read.
#[derive(Debug, Clone)]
struct ForeignRow {
    /// What the tool stores as the migration's name, for messages.
    label: String,
    version: Option<i64>,
    batch: Option<i64>,
    failed: bool,
    /// sqlx's SHA-384, in hex.
    checksum: Option<String>,
    applied_at: Option<i64>,
    execution_ms: Option<i64>,
}

impl ForeignRow {
    fn parse(tool: Tool, columns: &[Option<String>]) -> Self {
        let column = |i: usize| columns.get(i).cloned().flatten();
        let number = |i: usize| column(i).and_then(|v| v.trim().parse::<i64>().ok());
        let label = column(0).unwrap_or_default();
        let version = match tool {
            // `20250823075842_initial_schema.js`: the digits before the first `_`.
            Tool::Knex => label
                .split_once('_')
                .map_or(label.as_str(), |(v, _)| v)
                .parse()
                .ok(),
            // diesel's `2018-01-14-171611` as well as `20180114171611`.
            Tool::Diesel => column(1)
                .map(|v| v.replace('-', ""))
                .and_then(|v| v.trim().parse().ok()),
            Tool::Sqlx => number(1),
        };
        let label = match tool {
            Tool::Sqlx => format!("{} ({label})", column(1).unwrap_or_default()),
            _ => label,
        };
        Self {
            label,
            version,
            batch: number(2),
            failed: number(3) == Some(1),
            checksum: column(4).map(|c| c.to_ascii_lowercase()),
            applied_at: number(5),
            execution_ms: match tool {
                Tool::Sqlx => number(6).map(|ns| ns / 1_000_000),
                _ => number(6),
            },
        }
    }
}

/// A row to write into dbgen's table.
#[derive(Debug, Clone)]
struct NewRow<'m> {
    migration: &'m Migration,
    batch: i64,
    applied_at: i64,
    execution_ms: i64,
}

/// What an adoption would record, or why it cannot.
fn plan_adoption<'m>(
    migrations: &'m [Migration],
    rows: Vec<ForeignRow>,
    adoption: &Adoption,
    now: i64,
) -> Result<(Vec<NewRow<'m>>, Recorded), RunError> {
    let by_version: BTreeMap<i64, &Migration> = migrations.iter().map(|m| (m.version, m)).collect();
    let (mut unknown, mut failed, mut edited) = (Vec::new(), Vec::new(), Vec::new());
    let (mut skipped, mut failed_pending) = (Vec::new(), Vec::new());
    let mut duplicated = Vec::new();
    let mut adopted: BTreeMap<i64, (ForeignRow, bool)> = BTreeMap::new();
    for row in rows {
        let Some(migration) = row.version.and_then(|v| by_version.get(&v).copied()) else {
            if adoption.skip_unknown {
                skipped.push(row.label);
            } else {
                unknown.push(row.label);
            }
            continue;
        };
        let mut interrupted = false;
        if row.failed {
            match adoption.failed {
                None => {
                    failed.push(id(migration));
                    // Listed once, as failed, not also as never applied.
                    failed_pending.push(migration.version);
                    continue;
                }
                Some(Treatment::Pending) => {
                    failed_pending.push(migration.version);
                    continue;
                }
                Some(Treatment::Interrupted) => interrupted = true,
                Some(Treatment::Applied) => {}
            }
        }
        if let Some(recorded) = &row.checksum
            && !adoption.accept_edited
        {
            let script = migration.up_script()?;
            if !same_script(recorded, &script) {
                edited.push(migration.up_path().into_owned());
            }
        }
        match adopted.get(&migration.version) {
            // Two rows for one migration: one of them belongs to a file the port renumbered.
            Some((first, _)) => duplicated.push(format!(
                "{} and {} (both version {})",
                first.label, row.label, migration.version
            )),
            None => {
                adopted.insert(migration.version, (row, interrupted));
            }
        }
    }
    let newest = adopted.keys().next_back().copied();
    let mut gaps = Vec::new();
    let mut pending = Vec::new();
    let mut gap_rows = Vec::new();
    for m in migrations
        .iter()
        .filter(|m| !adopted.contains_key(&m.version))
    {
        if newest.is_some_and(|n| m.version < n) && !failed_pending.contains(&m.version) {
            match adoption.unapplied {
                // Never started, so never interrupted: refused like no treatment at all.
                None | Some(Treatment::Interrupted) => gaps.push(id(m)),
                Some(Treatment::Applied) => gap_rows.push(m),
                Some(Treatment::Pending) => pending.push(id(m)),
            }
        } else {
            pending.push(id(m));
        }
    }
    if !(unknown.is_empty()
        && failed.is_empty()
        && gaps.is_empty()
        && edited.is_empty()
        && duplicated.is_empty())
    {
        return Err(Refusal::CannotAdopt(Box::new(AdoptionConflicts {
            table: adoption.table_name().to_string(),
            tool: adoption.tool.to_string(),
            unknown,
            failed,
            unapplied: gaps,
            edited,
            duplicated,
        }))
        .into());
    }
    // knex keeps its batches; sqlx and diesel applied one migration at a time, so each is
    // a batch of its own and `rollback` reverts one, as their revert commands do.
    let mut new_rows: Vec<(NewRow<'m>, bool)> = adopted
        .iter()
        .map(|(version, (row, interrupted))| {
            let new = NewRow {
                migration: by_version[version],
                batch: row.batch.unwrap_or(0),
                applied_at: row.applied_at.unwrap_or(now),
                execution_ms: if *interrupted {
                    APPLYING_MS
                } else {
                    row.execution_ms.unwrap_or(0).max(0)
                },
            };
            (new, *interrupted)
        })
        .collect();
    for m in gap_rows {
        // A skipped migration goes with the next adopted one's batch.
        let batch = adopted
            .range(m.version..)
            .map(|(_, (row, _))| row.batch.unwrap_or(0))
            .min()
            .unwrap_or(0);
        let row = NewRow {
            migration: m,
            batch,
            applied_at: now,
            execution_ms: 0,
        };
        new_rows.push((row, false));
    }
    new_rows.sort_by_key(|(row, _)| row.migration.version);
    if adoption.tool != Tool::Knex {
        for (batch, (row, _)) in new_rows.iter_mut().enumerate() {
            row.batch = batch as i64 + 1;
        }
    }
    let recorded = Recorded {
        from: adoption.table_name().to_string(),
        baseline: false,
        migrations: new_rows
            .iter()
            .map(|(row, interrupted)| RecordedMigration {
                id: id(row.migration),
                batch: row.batch,
                interrupted: *interrupted,
            })
            .collect(),
        pending,
        skipped,
        dropped: Vec::new(),
        dry_run: adoption.dry_run,
    };
    Ok((new_rows.into_iter().map(|(row, _)| row).collect(), recorded))
}

/// Whether sqlx's `recorded` SHA-384 (hex) is of `script`, taking line endings as dbgen
/// does: a checkout that turned LF into CRLF (or back) has not edited the script.
fn same_script(recorded: &str, script: &str) -> bool {
    let hex = |text: &str| -> String {
        Sha384::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    if hex(script) == recorded {
        return true;
    }
    let lf = script.replace("\r\n", "\n");
    hex(&lf) == recorded || hex(&lf.replace('\n', "\r\n")) == recorded
}

fn id(m: &Migration) -> MigrationId {
    MigrationId {
        version: m.version,
        name: m.name.to_string(),
    }
}

/// `Sqlx`'s and knex's table names may carry a schema (`public.knex_migrations`); nothing
/// else reaches the SQL.
fn check_table_name(table: &str) -> Result<(), Refusal> {
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
            && !part.as_bytes()[0].is_ascii_digit()
    };
    if table.split('.').count() <= 2 && table.split('.').all(part_ok) {
        Ok(())
    } else {
        Err(Refusal::BadTableName(table.to_string()))
    }
}

/// `migrate adopt`: reads the tool's table and records its history in dbgen's, under the
/// lock, in one transaction where the engine allows it.
pub(crate) async fn adopt<E: Engine>(
    db: &Database,
    source: Source<'_>,
    mode: OpenMode,
    adoption: &Adoption,
) -> Result<Outcome, RunError> {
    check_table_name(adoption.table_name())?;
    let foreign_table = &*mode.table(adoption.table_name());
    if adoption.tool != Tool::Sqlx {
        let flag = match (adoption.failed, adoption.accept_edited) {
            (Some(_), _) => Some("--failed"),
            (None, true) => Some("--accept-edited"),
            (None, false) => None,
        };
        if let Some(flag) = flag {
            return Err(Refusal::OnlyForSqlx {
                flag,
                tool: adoption.tool.to_string(),
            }
            .into());
        }
    }
    let no_history = |found: Vec<String>| Refusal::NoHistory {
        database: db.name.to_string(),
        tool: adoption.tool.to_string(),
        table: foreign_table.to_string(),
        found,
    };
    let Some(mut engine) = open::<E>(source, &mode).await? else {
        return Err(no_history(Vec::new()).into());
    };
    let table = &*mode.table(&db.config.migrations_table);
    let work = async |engine: &mut E| {
        refuse_if_tracked(engine, table).await?;
        let read = engine
            .text_rows(&adoption.tool.select_sql::<E>(foreign_table))
            .await;
        let rows = match read {
            Ok(Some(rows)) => rows,
            Ok(None) => {
                let found = foreign_histories(engine, &mode).await;
                let found = found
                    .iter()
                    .map(|(tool, table, rows)| format!("{table} ({rows} rows): use --from {tool}"));
                return Err(no_history(found.collect()).into());
            }
            // The table is there but is not the tool's (a wrong --table).
            Err(sqlx::Error::Database(e)) => {
                return Err(Refusal::NotToolTable {
                    table: foreign_table.to_string(),
                    tool: adoption.tool.to_string(),
                    columns: adoption.tool.columns(),
                    message: e.message().to_string(),
                }
                .into());
            }
            Err(e) => return Err(tracking("reading", foreign_table)(e)),
        };
        if adoption.tool == Tool::Knex && knex_is_locked::<E>(engine, foreign_table).await {
            return Err(Refusal::KnexLocked {
                table: format!("{foreign_table}_lock"),
            }
            .into());
        }
        let rows = rows
            .iter()
            .map(|columns| ForeignRow::parse(adoption.tool, columns))
            .collect();
        let (new_rows, mut recorded) = plan_adoption(&db.migrations, rows, adoption, now_millis())?;
        if adoption.drop_old_table {
            recorded.dropped = adoption.tool.tables(foreign_table);
        }
        if !adoption.dry_run {
            write_rows(engine, table, &new_rows, &recorded.dropped).await?;
            tracing::info!(database = %db.name, from = foreign_table, migrations = new_rows.len(), "adopted a history");
        }
        Ok(Outcome::Recorded(recorded))
    };
    let result = if adoption.dry_run {
        work(&mut engine).await
    } else {
        with_lock(&mut engine, table, mode.lock_timeout, work).await
    };
    close_after(engine, &result).await;
    result
}

/// `migrate baseline --to V`: records every migration up to V as applied, one batch each,
/// without running it.
pub(crate) async fn baseline<E: Engine>(
    db: &Database,
    source: Source<'_>,
    mode: OpenMode,
    to: i64,
    dry_run: bool,
) -> Result<Outcome, RunError> {
    if !db.migrations.iter().any(|m| m.version == to) {
        return Err(Refusal::UnknownVersion(to).into());
    }
    let Some(mut engine) = open::<E>(source, &mode).await? else {
        return Err(Refusal::NothingToBaseline.into());
    };
    let table = &*mode.table(&db.config.migrations_table);
    let now = now_millis();
    let work = async |engine: &mut E| {
        refuse_if_tracked(engine, table).await?;
        refuse_foreign_history(engine, &mode, &db.name).await?;
        let rows: Vec<NewRow<'_>> = db
            .migrations
            .iter()
            .filter(|m| m.version <= to)
            .enumerate()
            .map(|(i, m)| NewRow {
                migration: m,
                batch: i as i64 + 1,
                applied_at: now,
                execution_ms: 0,
            })
            .collect();
        if !dry_run {
            write_rows(engine, table, &rows, &[]).await?;
            tracing::info!(database = %db.name, to, migrations = rows.len(), "baselined");
        }
        Ok(Outcome::Recorded(Recorded {
            from: String::new(),
            baseline: true,
            migrations: rows
                .iter()
                .map(|row| RecordedMigration {
                    id: id(row.migration),
                    batch: row.batch,
                    interrupted: false,
                })
                .collect(),
            pending: db
                .migrations
                .iter()
                .filter(|m| m.version > to)
                .map(id)
                .collect(),
            skipped: Vec::new(),
            dropped: Vec::new(),
            dry_run,
        }))
    };
    let result = if dry_run {
        work(&mut engine).await
    } else {
        with_lock(&mut engine, table, mode.lock_timeout, work).await
    };
    close_after(engine, &result).await;
    result
}

/// Adopting or baselining a database dbgen already tracks would mix two histories. An
/// empty table of dbgen's is refused too: a `reset` leaves one, and the other tool's
/// history would then describe a schema that is gone.
async fn refuse_if_tracked<E: Engine>(engine: &mut E, table: &str) -> Result<(), RunError> {
    let applied = engine
        .applied(table)
        .await
        .map_err(tracking("reading", table))?;
    match applied {
        None => Ok(()),
        Some(rows) => Err(Refusal::AlreadyTracked {
            table: table.to_string(),
            rows: rows.len(),
        }
        .into()),
    }
}

/// The other tools' histories in this database, under their default table names: each
/// tool, its table and how many rows it holds.
pub(crate) async fn foreign_histories<E: Engine>(
    engine: &mut E,
    mode: &OpenMode,
) -> Vec<(Tool, &'static str, u64)> {
    let mut found = Vec::new();
    for tool in [Tool::Knex, Tool::Sqlx, Tool::Diesel] {
        let table = tool.default_table();
        // A schema tenant's own, never another schema's found on search_path.
        let count = format!(
            "SELECT CAST(COUNT(*) AS {}) FROM {}",
            E::TEXT_CAST,
            mode.table(table)
        );
        if let Ok(Some(rows)) = engine.text_rows(&count).await {
            let n = rows
                .first()
                .and_then(|row| row.first().cloned().flatten())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            found.push((tool, table, n));
        }
    }
    found
}

/// Refuses to build over another tool's history: `adopt` takes it over instead.
pub(crate) async fn refuse_foreign_history<E: Engine>(
    engine: &mut E,
    mode: &OpenMode,
    database: &str,
) -> Result<(), RunError> {
    let found = foreign_histories(engine, mode).await;
    match found.into_iter().find(|(_, _, rows)| *rows > 0) {
        None => Ok(()),
        Some((tool, table, rows)) => Err(Refusal::ForeignHistory {
            database: database.to_string(),
            tool: tool.to_string(),
            table: table.to_string(),
            rows,
        }
        .into()),
    }
}

/// Whether knex's lock row says a knex run holds it (or died holding it).
async fn knex_is_locked<E: Engine>(engine: &mut E, table: &str) -> bool {
    let sql = format!(
        "SELECT CAST(MAX(is_locked) AS {}) FROM {table}_lock",
        E::TEXT_CAST
    );
    let value = match engine.text_rows(&sql).await {
        Ok(Some(rows)) => rows.first().and_then(|r| r.first().cloned().flatten()),
        _ => None,
    };
    value.is_some_and(|v| v.trim() == "1")
}

/// Creates dbgen's table and writes `rows` in one transaction (MySQL's `CREATE TABLE`
/// commits by itself, so there it comes first), and drops the tables `drop`: in the same
/// transaction where DDL is transactional, so that a drop that fails adopts nothing;
/// after the commit on MySQL, where a failed drop is left to be done by hand.
async fn write_rows<E: Engine>(
    engine: &mut E,
    table: &str,
    rows: &[NewRow<'_>],
    drop: &[String],
) -> Result<(), RunError> {
    // Where DDL is transactional the table is made in the transaction too: a failure
    // leaves no empty table of dbgen's behind (which would block the next try).
    if !E::TRANSACTIONAL_DDL {
        engine
            .create_tracking_table(table)
            .await
            .map_err(tracking("creating", table))?;
    }
    let written = async {
        engine.begin().await?;
        if E::TRANSACTIONAL_DDL {
            engine.create_tracking_table(table).await?;
        }
        for chunk in rows.chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .map(|row| {
                    let record = Record::Applied {
                        version: row.migration.version,
                        name: &row.migration.name,
                        batch: row.batch,
                        checksum: row.migration.checksum.to_hex(),
                        applied_at: row.applied_at,
                    };
                    record.values(&row.execution_ms.to_string())
                })
                .collect();
            engine
                .execute(&format!(
                    "INSERT INTO {table} (version, name, batch, checksum, applied_at, execution_ms) VALUES {}",
                    values.join(", ")
                ))
                .await?;
        }
        if E::TRANSACTIONAL_DDL {
            for old in drop {
                engine.execute(&format!("DROP TABLE IF EXISTS {old}")).await?;
            }
        }
        engine.commit().await
    }
    .await;
    if written.is_err() {
        let _ = engine.rollback().await;
    }
    written.map_err(tracking("writing", table))?;
    if !E::TRANSACTIONAL_DDL {
        for old in drop {
            let statement = format!("DROP TABLE IF EXISTS {old}");
            engine.execute(&statement).await.map_err(tracking(
                "dropping (the history is adopted; drop it by hand)",
                old,
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knex_names_give_their_version() {
        let row = ForeignRow::parse(
            Tool::Knex,
            &[
                Some("20250823075842_initial_schema.js".into()),
                None,
                Some("2".into()),
                None,
                None,
                Some("1700000000000".into()),
                None,
            ],
        );
        assert_eq!(row.version, Some(20250823075842));
        assert_eq!(row.batch, Some(2));
        assert_eq!(row.applied_at, Some(1700000000000));
        assert!(!row.failed);
    }

    #[test]
    fn diesel_versions_may_hold_dashes() {
        let columns = [
            Some("2018-01-14-171611".into()),
            Some("2018-01-14-171611".into()),
        ];
        let row = ForeignRow::parse(Tool::Diesel, &columns);
        assert_eq!(row.version, Some(20180114171611));
    }

    #[test]
    fn line_endings_are_not_an_edit() {
        let sql = "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n";
        let lf: String = Sha384::digest(sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(same_script(&lf, sql));
        assert!(same_script(&lf, &sql.replace('\n', "\r\n")));
        let crlf_applied: String = Sha384::digest(sql.replace('\n', "\r\n").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(same_script(&crlf_applied, sql));
        assert!(!same_script(&lf, "CREATE TABLE a (id int);\n"));
    }

    #[test]
    fn table_names_are_identifiers() {
        assert!(check_table_name("knex_migrations").is_ok());
        assert!(check_table_name("public.knex_migrations").is_ok());
        for bad in ["", "a;drop table x", "a.b.c", "1x", "a b"] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
    }
}
