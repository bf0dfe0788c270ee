//! `--tenants` / `--tenant NAME`: a command over a database's tenants, printed as a line
//! per tenant that changed or failed, then a summary (and for `status`, a table of the
//! tenants that are not up to date, or JSON).

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use dbgen_core::{Database, Redactor, Tenant, TenantPlace, in_partition};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::output::{OutputMode, Reporter};
use super::planned;
use crate::environment::Environment;
use crate::error::RunError;
use crate::execute::Job;
use crate::fleet::{Fleet, FleetEnd};
use crate::migrator::{Outcome, plural};
use crate::observer::Observer;
use crate::plan::State;
use crate::tenants::{list_tenants, pick};

/// Which tenants of a database a command runs on (a database with `[tenants]` in its
/// `database.toml`).
#[derive(Debug, Clone, Default, Args)]
#[non_exhaustive]
pub struct TenantChoice {
    /// Run on every tenant of the databases named (the list their database.toml points at)
    #[arg(long, conflicts_with = "tenant")]
    pub tenants: bool,
    /// Run on this tenant (repeatable)
    #[arg(long, value_name = "NAME")]
    pub tenant: Vec<String>,
    /// Run the first K tenants first, one at a time, and stop before the rest if one fails
    #[arg(long, value_name = "K")]
    pub canary: Option<usize>,
    /// Run only share I of N of the tenants (1/3, 2/3, 3/3: one per runner), split by a hash of each name
    #[arg(long, value_name = "I/N", value_parser = parse_partition)]
    pub partition: Option<Partition>,
}

impl TenantChoice {
    /// Whether the command runs on tenants.
    pub fn any(&self) -> bool {
        self.tenants || !self.tenant.is_empty()
    }
}

/// `--partition I/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// 1-based.
    pub index: u32,
    /// How many shares.
    pub count: u32,
}

fn parse_partition(text: &str) -> Result<Partition, String> {
    let bad = || format!("`{text}` is not a share: write I/N, as 1/3 (the first of three runners)");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, count): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if count == 0 || index == 0 || index > count {
        return Err(format!(
            "`{text}`: I runs from 1 to N (N at least 1), as 1/3, 2/3, 3/3"
        ));
    }
    Ok(Partition { index, count })
}

/// How a fleet command should print and run.
pub(crate) struct FleetSettings<'a> {
    pub choice: &'a TenantChoice,
    pub jobs: usize,
    pub lock_timeout: Option<Duration>,
    pub json: bool,
}

/// What a database's fleet run came to, for the exit code.
#[derive(Debug, Default)]
pub(crate) struct FleetTally {
    pub tenants: usize,
    pub failed: usize,
    /// Failures that are all a usage mistake (an unknown version or seed).
    pub usage_only: bool,
    /// Tenants not up to date (`status`).
    pub behind: usize,
    /// The run could not start (listing failed), or a canary stopped it.
    pub stopped: bool,
    /// `status --json`: one object per tenant, printed by the caller with the others.
    pub json: Vec<serde_json::Value>,
}

/// One tenant's place in a fleet's status.
#[derive(Debug, Serialize)]
struct TenantStatus {
    database: String,
    tenant: String,
    /// `up to date`, `behind`, `interrupted`, `modified` or `failed`.
    state: &'static str,
    applied: usize,
    pending: usize,
    /// The newest applied version.
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_applied: Option<i64>,
    /// Migrations that are modified, missing, interrupted or running, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attention: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl TenantStatus {
    fn of(
        db: &str,
        tenant: &Tenant,
        result: &Result<Outcome, RunError>,
        hide: &dyn Fn(&str) -> String,
    ) -> Self {
        let mut line = TenantStatus {
            database: db.to_string(),
            tenant: tenant.name.clone(),
            state: "failed",
            applied: 0,
            pending: 0,
            newest_applied: None,
            attention: Vec::new(),
            error: None,
        };
        match result {
            Ok(Outcome::Status(report)) => {
                line.applied = report.applied + report.modified + report.ahead + report.missing;
                line.pending = report.pending;
                line.newest_applied = report
                    .migrations
                    .iter()
                    .filter(|m| {
                        matches!(
                            m.state,
                            State::Applied | State::Modified | State::Missing | State::Ahead
                        )
                    })
                    .map(|m| m.version)
                    .max();
                line.attention = report
                    .migrations
                    .iter()
                    .filter(|m| {
                        matches!(
                            m.state,
                            State::Modified | State::Missing | State::Interrupted | State::Running
                        )
                    })
                    .map(|m| format!("{}_{} ({})", m.version, m.name, m.state.as_str()))
                    .collect();
                line.state = if report.interrupted + report.running > 0 {
                    "interrupted"
                } else if report.modified + report.missing > 0 {
                    "modified"
                } else if report.pending > 0 || report.other_history.is_some() {
                    "behind"
                } else {
                    "up to date"
                };
            }
            Ok(_) => line.state = "up to date",
            Err(e) => line.error = Some(hide(&e.to_string())),
        }
        line
    }
}

/// Runs `job` on the tenants of `db` that `settings.choice` picks, printing as it goes.
pub(crate) async fn run_fleet(
    db: &Database,
    registry: &[Database],
    job: &Job,
    environment: &Environment,
    settings: &FleetSettings<'_>,
    redactor: &mut Redactor,
) -> FleetTally {
    let mut tally = FleetTally::default();
    let listed = match list_tenants(db, registry, environment).await {
        // A name that is not in the list is a mistake in what was typed.
        Ok(all) => pick(db, all, &settings.choice.tenant).map_err(|e| (e, true)),
        Err(e) => Err((e, false)),
    };
    let tenants: Vec<Tenant> = match listed {
        Ok(tenants) => tenants,
        Err((e, usage)) => {
            let message = redactor.redact(&e.to_string()).into_owned();
            eprintln!("{}: error: {message}", db.name);
            if settings.json {
                tally.json = vec![serde_json::json!({ "database": db.name, "error": message })];
            }
            tally.failed = 1;
            tally.usage_only = usage;
            tally.stopped = !usage;
            return tally;
        }
    };
    for tenant in &tenants {
        if let TenantPlace::Url(url) = &tenant.place {
            redactor.add_url(url.expose());
        }
    }
    let redactor: &Redactor = redactor;
    let hide = |text: &str| redactor.redact(text).into_owned();
    let tenants: Vec<Tenant> = match settings.choice.partition {
        Some(Partition { index, count }) => tenants
            .into_iter()
            .filter(|t| in_partition(&t.name, index, count))
            .collect(),
        None => tenants,
    };
    tally.tenants = tenants.len();
    let mut fleet = Fleet::new(db, tenants)
        .jobs(settings.jobs)
        .canary(settings.choice.canary.unwrap_or(0))
        .environment(environment.clone());
    if let Some(timeout) = settings.lock_timeout {
        fleet = fleet.lock_timeout(timeout);
    }
    let status = matches!(job, Job::Status);
    let bar = (tally.tenants >= 20
        && !settings.json
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none())
    .then(|| {
        let bar = ProgressBar::new(tally.tenants as u64);
        if let Ok(style) = ProgressStyle::with_template("{prefix}: [{bar:40}] {pos}/{len} tenants")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(db.name.to_string());
        bar
    });
    // Results go to stdout and errors to stderr, every line through the redactor; JSON
    // mode prints no line but the JSON.
    let print = |line: String| {
        let line = hide(&line);
        match &bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None if settings.json => {}
            None => println!("{line}"),
        }
    };
    let print_error = |line: String| {
        let line = hide(&line);
        match &bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    };
    let quiet = OutputMode {
        progress: false,
        quiet: true,
    };
    let observer_for = |tenant: &Tenant| {
        Box::new(Reporter::new(
            &format!("{}/{}", db.name, tenant.name),
            quiet,
            redactor,
        )) as Box<dyn Observer>
    };
    let mut statuses: Vec<TenantStatus> = Vec::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut usage_only = true;
    let mut on_done = |tenant: &Tenant, result: Result<Outcome, RunError>| {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        let who = format!("{}/{}", db.name, tenant.name);
        if status {
            let line = TenantStatus::of(&db.name, tenant, &result, &hide);
            if let Some(error) = &line.error {
                print_error(format!("{who}: error: {error}"));
            }
            statuses.push(line);
        }
        let label = match &result {
            Ok(outcome) => outcome_label(outcome),
            Err(e) => {
                usage_only &= super::is_usage_error(e);
                failed.push(tenant.name.clone());
                if !status {
                    print_error(format!("{who}: error: {e}"));
                }
                "failed"
            }
        };
        if let Ok(outcome) = &result
            && !status
        {
            if let Outcome::DryRun { scripts } = outcome {
                for script in scripts {
                    print(format!("-- {who}\n{}", planned(script)));
                }
            }
            if !matches!(
                outcome,
                Outcome::UpToDate { ahead: 0 } | Outcome::NothingToRollBack
            ) {
                print(format!("{who}: {}", outcome.summary()));
            }
        }
        match counts.iter_mut().find(|(l, _)| l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label.to_string(), 1)),
        }
    };
    let end = fleet.drive(job, &observer_for, &mut on_done).await;
    // The summary's counts in one order, whatever order the tenants finished in.
    counts.sort_by_key(|(label, _)| LABELS.iter().position(|l| l == label));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            eprintln!("{}: error: {}", db.name, hide(&e.to_string()));
            tally.failed = 1;
            tally.stopped = true;
            return tally;
        }
    };
    tally.failed = failed.len();
    tally.usage_only = usage_only;
    if status {
        statuses.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        tally.behind = statuses.iter().filter(|s| s.state != "up to date").count();
        if settings.json {
            tally.json = statuses
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .collect();
        } else {
            println!("{}", hide(&status_summary(&db.name, &statuses)));
        }
    } else if !settings.json {
        if let FleetEnd::CanaryFailed { not_started, .. } = &end {
            counts.push(("not started".to_string(), *not_started));
        }
        let parts: Vec<String> = counts
            .iter()
            .map(|(label, n)| {
                if label == "failed" {
                    format!("{n} failed ({})", names(&failed))
                } else {
                    format!("{n} {label}")
                }
            })
            .collect();
        let summary = format!(
            "{}: {} tenant{}: {}",
            db.name,
            tally.tenants,
            plural(tally.tenants),
            if parts.is_empty() {
                "none to run on".to_string()
            } else {
                parts.join(", ")
            }
        );
        println!("{}", hide(&summary));
    }
    if let FleetEnd::CanaryFailed {
        tenant,
        not_started,
    } = end
    {
        let message = format!(
            "{}: canary {tenant} failed: stopped before the other {not_started} tenant{}; fix it and run again (tenants already done cost one check)",
            db.name,
            plural(not_started)
        );
        eprintln!("{}", hide(&message));
        // A mistake in what was typed (an unknown version) stays a usage error.
        tally.stopped = !usage_only;
    }
    tally
}

/// Every label of [`outcome_label`], in the summary's order.
const LABELS: [&str; 10] = [
    "migrated",
    "rolled back",
    "seeded",
    "recorded",
    "resolved",
    "dry run",
    "status",
    "already up to date",
    "nothing to roll back",
    "failed",
];

/// What a tenant's outcome counts as in the summary.
fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Applied { .. } => "migrated",
        Outcome::RolledBack { .. } => "rolled back",
        Outcome::UpToDate { .. } => "already up to date",
        Outcome::NothingToRollBack => "nothing to roll back",
        Outcome::DryRun { .. } => "dry run",
        Outcome::Seeded { .. } => "seeded",
        Outcome::Status(_) => "status",
        Outcome::Recorded(_) => "recorded",
        Outcome::Resolved { .. } => "resolved",
    }
}

/// Up to ten names, then how many more.
fn names(all: &[String]) -> String {
    let shown: Vec<&str> = all.iter().take(10).map(String::as_str).collect();
    match all.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{}, and {more} more", shown.join(", ")),
    }
}

/// The fleet's summary line and the table of tenants that are not up to date.
fn status_summary(database: &str, statuses: &[TenantStatus]) -> String {
    let count = |state: &str| statuses.iter().filter(|s| s.state == state).count();
    let newest: Vec<i64> = statuses.iter().filter_map(|s| s.newest_applied).collect();
    let range = match (newest.iter().min(), newest.iter().max()) {
        (Some(low), Some(high)) if low == high => {
            format!("; newest applied version {high} everywhere")
        }
        (Some(low), Some(high)) => format!("; newest applied version from {low} to {high}"),
        _ => String::new(),
    };
    let mut out = format!(
        "{database}: {} tenant{}: {} up to date, {} behind, {} failed, {} interrupted, {} modified{range}",
        statuses.len(),
        plural(statuses.len()),
        count("up to date"),
        count("behind"),
        count("failed"),
        count("interrupted"),
        count("modified"),
    );
    let lagging: Vec<&TenantStatus> = statuses
        .iter()
        .filter(|s| s.state != "up to date")
        .collect();
    if lagging.is_empty() {
        return out;
    }
    let width = lagging
        .iter()
        .map(|s| s.tenant.len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "\n  {:width$}  {:11}  {:>7}  {:>7}  {:14}  note",
        "tenant", "state", "applied", "pending", "newest applied"
    ));
    for s in lagging {
        let newest = s
            .newest_applied
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into());
        let note = match (&s.error, s.attention.is_empty()) {
            (Some(error), _) => error.lines().next().unwrap_or_default().to_string(),
            (None, false) => s.attention.join(", "),
            (None, true) => String::new(),
        };
        out.push_str(&format!(
            "\n  {:width$}  {:11}  {:>7}  {:>7}  {:14}  {note}",
            s.tenant, s.state, s.applied, s.pending, newest
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse() {
        assert_eq!(parse_partition("2/3"), Ok(Partition { index: 2, count: 3 }));
        assert!(parse_partition("0/3").is_err());
        assert!(parse_partition("4/3").is_err());
        assert!(parse_partition("3").is_err());
    }
}
