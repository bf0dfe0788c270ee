//! What to run, decided from the known migrations and the tracking table alone:
//! pure functions, no database, so every rule here is unit-tested.

use dbgen_core::{Checksum, Migration};

use crate::engine::AppliedRow;
use crate::error::{InterruptedMigration, MigrationId, Refusal};

/// Where one migration stands against one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum State {
    /// Applied, with the checksum its file has.
    Applied,
    /// Known, not applied.
    Pending,
    /// Applied, but the file's checksum differs from the one recorded.
    Modified,
    /// Applied, no file, and older than a known migration: a file was deleted.
    Missing,
    /// Applied, no file, newer than every known migration: a newer release ran it.
    Ahead,
    /// Its script (or down script) started outside a transaction and did not finish: the
    /// runner died or the script failed. It may be half done; `migrate resolve` says which.
    Interrupted,
    /// Its script (or down script) is running now: started, and another runner holds the
    /// lock (`status` only; PostgreSQL and MySQL can tell, SQLite cannot).
    Running,
}

impl State {
    /// The word `status` shows: `applied`, `pending`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Modified => "modified",
            State::Missing => "missing",
            State::Ahead => "ahead",
            State::Interrupted => "interrupted",
            State::Running => "running",
        }
    }
}

/// One line of `status`: a known migration, an applied one, or both.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub state: State,
    pub migration: Option<&'a Migration>,
    pub applied: Option<&'a AppliedRow>,
}

impl<'a> Entry<'a> {
    pub fn version(&self) -> i64 {
        match (self.migration, self.applied) {
            (Some(m), _) => m.version,
            (None, Some(row)) => row.version,
            (None, None) => 0,
        }
    }

    /// Its version and name.
    pub fn id(&self) -> MigrationId {
        MigrationId {
            version: self.version(),
            name: self.name().to_string(),
        }
    }

    pub fn name(&self) -> &'a str {
        match (self.migration, self.applied) {
            (Some(m), _) => &m.name,
            (None, Some(row)) => &row.name,
            (None, None) => "",
        }
    }
}

/// Every known and every applied migration, in version order.
#[derive(Debug, Clone)]
pub struct Status<'a> {
    pub entries: Vec<Entry<'a>>,
}

impl<'a> Status<'a> {
    /// Merges the two lists by version. Both usually arrive in version order (the loader
    /// sorts, the tracking table is read `ORDER BY version`), so this walks them once and
    /// allocates little more than the entries: with 10,000 migrations, maps and a sort
    /// here were the largest allocation of a run.
    pub fn new(migrations: &'a [Migration], applied: &'a [AppliedRow]) -> Self {
        let migrations = in_version_order(migrations, |m| m.version);
        let rows = in_version_order(applied, |r| r.version);
        let newest_known = migrations.last().map_or(i64::MIN, |m| m.version);
        let entry = |(migration, row): (Option<&'a Migration>, Option<&'a AppliedRow>)| {
            let state = match (migration, row) {
                (_, Some(row)) if row.interruption().is_some() => State::Interrupted,
                (Some(_), None) => State::Pending,
                (Some(m), Some(row)) if Checksum::from_hex(&row.checksum) != Some(m.checksum) => {
                    State::Modified
                }
                (Some(_), Some(_)) => State::Applied,
                (None, Some(row)) if row.version > newest_known => State::Ahead,
                (None, _) => State::Missing,
            };
            Entry {
                state,
                migration,
                applied: row,
            }
        };
        // Exact when every applied row is a known migration; only missing or ahead rows grow it.
        let mut entries = Vec::with_capacity(migrations.len().max(rows.len()));
        entries.extend(merge_by_version(&migrations, &rows).map(entry));
        Self { entries }
    }

    pub fn count(&self, state: State) -> usize {
        self.entries.iter().filter(|e| e.state == state).count()
    }

    fn with_state(&self, state: State) -> impl Iterator<Item = &Entry<'a>> {
        self.entries.iter().filter(move |e| e.state == state)
    }

    /// Nothing pending, modified, missing or interrupted (being ahead is up to date for this
    /// build).
    pub fn is_up_to_date(&self) -> bool {
        self.entries
            .iter()
            .all(|e| matches!(e.state, State::Applied | State::Ahead))
    }

    /// Interrupted, modified or missing migrations stop every command that changes the
    /// database.
    pub fn check_intact(&self) -> Result<(), Refusal> {
        let interrupted: Vec<InterruptedMigration> = self
            .entries
            .iter()
            .filter_map(|e| {
                let interruption = e.applied?.interruption()?;
                Some(InterruptedMigration {
                    id: e.id(),
                    interruption,
                    started_at: e.applied.map_or(0, |r| r.applied_at),
                })
            })
            .collect();
        if !interrupted.is_empty() {
            return Err(Refusal::Interrupted {
                database: String::new(),
                migrations: interrupted,
            });
        }
        let ids =
            |state: State| -> Vec<MigrationId> { self.with_state(state).map(Entry::id).collect() };
        let (modified, missing) = (ids(State::Modified), ids(State::Missing));
        if modified.is_empty() && missing.is_empty() {
            Ok(())
        } else {
            Err(Refusal::NotIntact { modified, missing })
        }
    }

    fn newest_applied(&self) -> Option<i64> {
        self.entries
            .iter()
            .filter(|e| e.applied.is_some())
            .map(|e| e.version())
            .max()
    }

    fn next_batch(&self) -> i64 {
        self.entries
            .iter()
            .filter_map(|e| e.applied.map(|r| r.batch))
            .max()
            .unwrap_or(0)
            + 1
    }

    /// `latest` (`to: None`) or `latest --to V`: every pending migration up to V, in order.
    pub fn plan_latest(&self, to: Option<i64>, strict: bool) -> Result<Plan<'a>, Refusal> {
        self.check_intact()?;
        if let Some(to) = to {
            self.check_known(to)?;
        }
        let steps: Vec<&'a Migration> = self
            .with_state(State::Pending)
            .filter(|e| to.is_none_or(|to| e.version() <= to))
            .filter_map(|e| e.migration)
            .collect();
        self.up_plan(steps, strict)
    }

    /// `up`: the oldest pending migration, or the one named by `version`.
    pub fn plan_up(&self, version: Option<i64>, strict: bool) -> Result<Plan<'a>, Refusal> {
        self.check_intact()?;
        let step = match version {
            None => self.with_state(State::Pending).next(),
            Some(v) => {
                self.check_known(v)?;
                let entry = self.entries.iter().find(|e| e.version() == v);
                match entry {
                    Some(e) if e.state == State::Pending => Some(e),
                    _ => return Err(Refusal::AlreadyApplied(v)),
                }
            }
        };
        self.up_plan(step.and_then(|e| e.migration).into_iter().collect(), strict)
    }

    fn up_plan(&self, steps: Vec<&'a Migration>, strict: bool) -> Result<Plan<'a>, Refusal> {
        let newest = self.newest_applied();
        let out_of_order: Vec<MigrationId> = steps
            .iter()
            .filter(|m| newest.is_some_and(|n| m.version < n))
            .map(|m| migration_id(m))
            .collect();
        if strict && !out_of_order.is_empty() {
            return Err(Refusal::OutOfOrder(out_of_order));
        }
        Ok(Plan {
            direction: Direction::Up,
            batch: self.next_batch(),
            steps,
            out_of_order,
            ahead: self.count(State::Ahead),
            recorded_ms: Vec::new(),
        })
    }

    /// `rollback`: the last batch; `rollback --to V`: everything newer than V.
    pub fn plan_rollback(&self, to: Option<i64>) -> Result<Plan<'a>, Refusal> {
        let last_batch = self.next_batch() - 1;
        match to {
            None => self.down_plan(|e| e.applied.is_some_and(|r| r.batch == last_batch)),
            Some(to) => {
                if to != 0 {
                    self.check_known(to)?;
                }
                self.down_plan(|e| e.version() > to)
            }
        }
    }

    /// `reset`: every applied migration.
    pub fn plan_reset(&self) -> Result<Plan<'a>, Refusal> {
        self.down_plan(|_| true)
    }

    /// `down`: the newest applied migration of the last batch, or the one named.
    pub fn plan_down(&self, version: Option<i64>) -> Result<Plan<'a>, Refusal> {
        let target = match version {
            Some(v) => {
                if !self
                    .entries
                    .iter()
                    .any(|e| e.version() == v && e.applied.is_some())
                {
                    return Err(Refusal::NotApplied(v));
                }
                Some(v)
            }
            None => self
                .entries
                .iter()
                .filter_map(|e| e.applied.map(|r| (r.batch, e.version())))
                .max()
                .map(|(_, v)| v),
        };
        self.down_plan(|e| Some(e.version()) == target)
    }

    fn down_plan(&self, selected: impl Fn(&Entry<'a>) -> bool) -> Result<Plan<'a>, Refusal> {
        self.check_intact()?;
        let chosen: Vec<&Entry<'a>> = self
            .entries
            .iter()
            .rev()
            .filter(|e| e.applied.is_some() && selected(e))
            .collect();
        let unknown: Vec<MigrationId> = chosen
            .iter()
            .filter(|e| e.migration.is_none())
            .map(|e| e.id())
            .collect();
        if !unknown.is_empty() {
            return Err(Refusal::NeedsNewerRelease(unknown));
        }
        let irreversible: Vec<MigrationId> = chosen
            .iter()
            .filter_map(|e| e.migration)
            .filter(|m| !m.is_reversible())
            .map(migration_id)
            .collect();
        if !irreversible.is_empty() {
            return Err(Refusal::Irreversible(irreversible));
        }
        Ok(Plan {
            direction: Direction::Down,
            batch: self.next_batch() - 1,
            steps: chosen.iter().filter_map(|e| e.migration).collect(),
            out_of_order: Vec::new(),
            ahead: self.count(State::Ahead),
            recorded_ms: chosen
                .iter()
                .filter(|e| e.migration.is_some())
                .map(|e| e.applied.map_or(0, |r| r.execution_ms))
                .collect(),
        })
    }

    fn check_known(&self, version: i64) -> Result<(), Refusal> {
        if self
            .entries
            .iter()
            .any(|e| e.version() == version && e.migration.is_some())
        {
            Ok(())
        } else {
            Err(Refusal::UnknownVersion(version))
        }
    }
}

pub(crate) fn migration_id(m: &Migration) -> MigrationId {
    MigrationId {
        version: m.version,
        name: m.name.to_string(),
    }
}

/// `items` in version order, sorted here only when they are not already.
fn in_version_order<T>(items: &[T], version: impl Fn(&T) -> i64) -> Vec<&T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    if !sorted.is_sorted_by_key(|item| version(item)) {
        sorted.sort_by_key(|item| version(item));
    }
    sorted
}

/// Pairs of a migration and its row, in version order; either may be missing.
fn merge_by_version<'a, 'l>(
    migrations: &'l [&'a Migration],
    rows: &'l [&'a AppliedRow],
) -> impl Iterator<Item = (Option<&'a Migration>, Option<&'a AppliedRow>)> + 'l {
    let (mut ms, mut rs) = (migrations.iter().peekable(), rows.iter().peekable());
    std::iter::from_fn(move || match (ms.peek(), rs.peek()) {
        (Some(m), Some(r)) if m.version == r.version => {
            Some((ms.next().copied(), rs.next().copied()))
        }
        (Some(m), Some(r)) if m.version < r.version => Some((ms.next().copied(), None)),
        (_, Some(_)) => Some((None, rs.next().copied())),
        (Some(_), None) => Some((ms.next().copied(), None)),
        (None, None) => None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// The migrations one command will run, in order.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub direction: Direction,
    /// The batch being recorded (up) or reverted (down, the newest one).
    pub batch: i64,
    pub steps: Vec<&'a Migration>,
    /// Pending migrations older than the newest applied one (merged from a branch).
    pub out_of_order: Vec<MigrationId>,
    /// Applied migrations newer than this build knows.
    pub ahead: usize,
    /// Down plans: each step's recorded `execution_ms`, to put back when its down script
    /// fails before any statement took effect.
    pub recorded_ms: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use dbgen_core::{Checksum, EmbeddedScripts, ScriptSource};

    use super::*;

    fn migration(version: i64, down: bool) -> Migration {
        let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
        let up = leak(format!("create table t{version} (id int);"));
        let scripts = EmbeddedScripts {
            up,
            down: down.then(|| leak(format!("drop table t{version};"))),
            up_path: leak(format!("database/x/migrations/{version}_m{version}.up.sql")),
            down_path: None,
        };
        Migration {
            version,
            name: Cow::Owned(format!("m{version}")),
            checksum: Checksum::of_script(up),
            source: ScriptSource::Embedded(Box::leak(Box::new(scripts))),
            no_transaction: false,
        }
    }

    fn row(m: &Migration, batch: i64) -> AppliedRow {
        AppliedRow {
            version: m.version,
            name: m.name.to_string(),
            batch,
            checksum: m.checksum.to_hex(),
            applied_at: 0,
            execution_ms: 1,
        }
    }

    fn versions(plan: &Plan) -> Vec<i64> {
        plan.steps.iter().map(|m| m.version).collect()
    }

    #[test]
    fn states() {
        let ms = vec![migration(1, true), migration(2, true), migration(3, true)];
        let mut modified = row(&ms[1], 1);
        modified.checksum = "0".repeat(64);
        let gone = AppliedRow {
            version: 0,
            ..row(&ms[0], 1)
        };
        let ahead = AppliedRow {
            version: 9,
            name: "newer".into(),
            ..row(&ms[0], 2)
        };
        let applied = vec![gone, row(&ms[0], 1), modified, ahead];
        let status = Status::new(&ms, &applied);
        let states: Vec<(i64, State)> = status
            .entries
            .iter()
            .map(|e| (e.version(), e.state))
            .collect();
        assert_eq!(
            states,
            [
                (0, State::Missing),
                (1, State::Applied),
                (2, State::Modified),
                (3, State::Pending),
                (9, State::Ahead)
            ]
        );
        assert!(!status.is_up_to_date());
        let err = status.plan_latest(None, false).unwrap_err().to_string();
        assert!(err.contains("2_m2 was changed"), "{err}");
        assert!(
            err.contains("0_m1 is applied but its file is gone"),
            "{err}"
        );
        assert!(status.plan_rollback(None).is_err());
    }

    #[test]
    fn latest_is_one_new_batch_in_order() {
        let ms = vec![migration(1, true), migration(2, true), migration(3, true)];
        let applied = vec![row(&ms[0], 4)];
        let status = Status::new(&ms, &applied);
        let plan = status.plan_latest(None, false).unwrap();
        assert_eq!(versions(&plan), [2, 3]);
        assert_eq!(plan.batch, 5);
        assert_eq!(versions(&status.plan_latest(Some(2), false).unwrap()), [2]);
        assert!(matches!(
            status.plan_latest(Some(7), false),
            Err(Refusal::UnknownVersion(7))
        ));
    }

    #[test]
    fn ahead_is_up_to_date_and_a_gap_is_missing() {
        let ms = vec![migration(1, true), migration(2, true)];
        let newer = AppliedRow {
            version: 3,
            name: "newer".into(),
            ..row(&ms[0], 2)
        };
        let applied = vec![row(&ms[0], 1), row(&ms[1], 1), newer.clone()];
        let status = Status::new(&ms, &applied);
        assert!(status.is_up_to_date());
        let plan = status.plan_latest(None, true).unwrap();
        assert!(plan.steps.is_empty());
        assert_eq!(plan.ahead, 1);
        // Rolling back the newer release's batch needs its files.
        let err = status.plan_rollback(None).unwrap_err();
        assert!(
            matches!(err, Refusal::NeedsNewerRelease(ref v) if v[0].to_string() == "3_newer"),
            "{err}"
        );
        // Without migration 2 the database's 2 is a gap below known 3... here: known 1 and 3.
        let known = vec![migration(1, true), migration(3, true)];
        let applied = vec![row(&ms[0], 1), row(&ms[1], 1)];
        let status = Status::new(&known, &applied);
        assert_eq!(status.entries[1].state, State::Missing);
    }

    #[test]
    fn out_of_order_warns_or_refuses() {
        let ms = vec![migration(1, true), migration(2, true), migration(3, true)];
        let applied = vec![row(&ms[0], 1), row(&ms[2], 1)];
        let status = Status::new(&ms, &applied);
        let plan = status.plan_latest(None, false).unwrap();
        assert_eq!(plan.out_of_order, [migration_id(&ms[1])]);
        assert!(matches!(
            status.plan_latest(None, true),
            Err(Refusal::OutOfOrder(_))
        ));
    }

    #[test]
    fn rollback_last_batch_newest_first_and_to() {
        let ms = vec![
            migration(1, true),
            migration(2, true),
            migration(3, true),
            migration(4, true),
        ];
        let applied = vec![
            row(&ms[0], 1),
            row(&ms[1], 2),
            row(&ms[2], 2),
            row(&ms[3], 3),
        ];
        let status = Status::new(&ms, &applied);
        let plan = status.plan_rollback(None).unwrap();
        assert_eq!((versions(&plan), plan.batch), (vec![4], 3));
        assert_eq!(versions(&status.plan_rollback(Some(1)).unwrap()), [4, 3, 2]);
        assert_eq!(
            versions(&status.plan_rollback(Some(0)).unwrap()),
            [4, 3, 2, 1]
        );
        assert_eq!(versions(&status.plan_reset().unwrap()), [4, 3, 2, 1]);
        assert_eq!(versions(&status.plan_down(None).unwrap()), [4]);
        assert_eq!(versions(&status.plan_down(Some(2)).unwrap()), [2]);
        assert!(matches!(
            status.plan_down(Some(9)),
            Err(Refusal::NotApplied(9))
        ));
    }

    #[test]
    fn irreversible_stops_rollback_before_anything() {
        let ms = vec![migration(1, true), migration(2, false), migration(3, true)];
        let applied = vec![row(&ms[0], 1), row(&ms[1], 1), row(&ms[2], 1)];
        let status = Status::new(&ms, &applied);
        let err = status.plan_rollback(None).unwrap_err();
        assert!(matches!(err, Refusal::Irreversible(ref v) if v == &[migration_id(&ms[1])]));
    }

    #[test]
    fn up_takes_one() {
        let ms = vec![migration(1, true), migration(2, true)];
        let status = Status::new(&ms, &[]);
        assert_eq!(versions(&status.plan_up(None, false).unwrap()), [1]);
        assert_eq!(versions(&status.plan_up(Some(2), false).unwrap()), [2]);
        let applied = vec![row(&ms[0], 1)];
        let status = Status::new(&ms, &applied);
        assert!(matches!(
            status.plan_up(Some(1), false),
            Err(Refusal::AlreadyApplied(1))
        ));
    }
}
