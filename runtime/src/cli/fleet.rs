//! `--tenants` / `--tenant NAME`: a command over a database's tenants, printed as a line
//! per tenant that changed or failed, then a summary (and for `status`, a table of the
//! tenants that are not up to date, or JSON).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use dbgen_core::{Database, Redactor, Tenant, TenantPlace, in_partition};
use indicatif::{ProgressBar, ProgressStyle};

use super::fleet_status::{TenantState, TenantStatus, status_summary};
use super::output::{OutputMode, Reporter};
use super::planned;
use crate::environment::Environment;
use crate::error::RunError;
use crate::execute::Job;
use crate::fleet::{Fleet, FleetEnd};
use crate::migrator::{Outcome, plural};
use crate::observer::Observer;
use crate::tenants::list_tenants;

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
    let printer = Printer {
        bar,
        json: settings.json,
        redactor,
    };
    let mut collected = Collected::new(status);
    let mut on_done = |tenant: &Tenant, result: Result<Outcome, RunError>| {
        collected.add(&db.name, tenant, result, &printer);
    };
    let end = fleet.drive(job, &observer_for, &mut on_done).await;
    if let Some(bar) = &printer.bar {
        bar.finish_and_clear();
    }
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            printer.error(format!("{}: error: {e}", db.name));
            tally.failed = 1;
            tally.stopped = true;
            return tally;
        }
    };
    tally.failed = collected.failed.len();
    tally.usage_only = collected.usage_only;
    if let Some(mut statuses) = collected.statuses {
        statuses.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        tally.behind = statuses
            .iter()
            .filter(|s| s.state != TenantState::UpToDate)
            .count();
        if settings.json {
            tally.json = statuses
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .collect();
        } else {
            println!("{}", hide(&status_summary(&db.name, &statuses)));
        }
    } else if !settings.json {
        let mut counts = collected.counts;
        if let FleetEnd::CanaryFailed { not_started, .. } = &end {
            counts.insert(Ending::NotStarted, *not_started);
        }
        let parts: Vec<String> = counts
            .iter()
            .map(|(ending, n)| match ending {
                Ending::Failed => format!("{n} failed ({})", names(&collected.failed)),
                _ => format!("{n} {}", ending.label()),
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
        printer.error(format!(
            "{}: canary {tenant} failed: stopped before the other {not_started} tenant{}; fix it and run again (tenants already done cost one check)",
            db.name,
            plural(not_started)
        ));
        // A mistake in what was typed (an unknown version) stays a usage error.
        tally.stopped = !collected.usage_only;
    }
    tally
}

/// The tenants `names` picks from `all`, in the order given; an unknown name is an error
/// that shows some of the names there are.
pub(crate) fn pick(
    db: &Database,
    all: Vec<Tenant>,
    names: &[String],
) -> Result<Vec<Tenant>, RunError> {
    if names.is_empty() {
        return Ok(all);
    }
    let mut picked: Vec<Tenant> = Vec::with_capacity(names.len());
    for name in names {
        if picked.iter().any(|t| &t.name == name) {
            continue;
        }
        match all.iter().find(|t| &t.name == name) {
            Some(tenant) => picked.push(tenant.clone()),
            None => {
                let known: Vec<&str> = all.iter().take(10).map(|t| t.name.as_str()).collect();
                let more = all.len().saturating_sub(known.len());
                return Err(RunError::Tenants {
                    database: db.name.to_string(),
                    message: format!(
                        "{} has no tenant `{name}`; its {} tenant{}: {}{}",
                        db.name,
                        all.len(),
                        plural(all.len()),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        },
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    ),
                    source: None,
                });
            }
        }
    }
    Ok(picked)
}

/// Prints a fleet's lines as tenants finish: results on stdout, errors on stderr, every
/// line through the redactor, above the progress bar when there is one; in JSON mode no
/// line but errors.
struct Printer<'r> {
    bar: Option<ProgressBar>,
    json: bool,
    redactor: &'r Redactor,
}

impl Printer<'_> {
    fn result(&self, line: String) {
        let line = self.redactor.redact(&line);
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None if self.json => {}
            None => println!("{line}"),
        }
    }

    fn error(&self, line: String) {
        let line = self.redactor.redact(&line);
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

/// What the tenants' results add up to, gathered as they finish.
struct Collected {
    /// `status`: a line per tenant; other commands keep only counts.
    statuses: Option<Vec<TenantStatus>>,
    counts: BTreeMap<Ending, usize>,
    failed: Vec<String>,
    /// Every failure so far was a mistake in what was typed.
    usage_only: bool,
}

impl Collected {
    fn new(status: bool) -> Self {
        Self {
            statuses: status.then(Vec::new),
            counts: BTreeMap::new(),
            failed: Vec::new(),
            usage_only: true,
        }
    }

    /// One tenant's result: printed when it changed something or failed, then counted.
    fn add(
        &mut self,
        database: &str,
        tenant: &Tenant,
        result: Result<Outcome, RunError>,
        out: &Printer<'_>,
    ) {
        if let Some(bar) = &out.bar {
            bar.inc(1);
        }
        let who = format!("{database}/{}", tenant.name);
        if let Err(e) = &result {
            self.usage_only &= super::is_usage_error(e);
            self.failed.push(tenant.name.clone());
            out.error(format!("{who}: error: {e}"));
        }
        match (&mut self.statuses, &result) {
            (Some(statuses), _) => statuses.push(TenantStatus::of(database, tenant, &result)),
            (None, Ok(Outcome::UpToDate { ahead: 0 } | Outcome::NothingToRollBack) | Err(_)) => {}
            (None, Ok(outcome)) => {
                if let Outcome::DryRun { scripts } = outcome {
                    for script in scripts {
                        out.result(format!("-- {who}\n{}", planned(script)));
                    }
                }
                out.result(format!("{who}: {}", outcome.summary()));
            }
        }
        *self.counts.entry(Ending::of(&result)).or_default() += 1;
    }
}

/// What a tenant's run came to, in the order the summary counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    Migrated,
    RolledBack,
    Seeded,
    Recorded,
    Resolved,
    DryRun,
    Status,
    UpToDate,
    NothingToRollBack,
    Failed,
    NotStarted,
}

impl Ending {
    fn of(result: &Result<Outcome, RunError>) -> Self {
        match result {
            Ok(Outcome::Applied { .. }) => Ending::Migrated,
            Ok(Outcome::RolledBack { .. }) => Ending::RolledBack,
            Ok(Outcome::Seeded { .. }) => Ending::Seeded,
            Ok(Outcome::Recorded(_)) => Ending::Recorded,
            Ok(Outcome::Resolved { .. }) => Ending::Resolved,
            Ok(Outcome::DryRun { .. }) => Ending::DryRun,
            Ok(Outcome::Status(_)) => Ending::Status,
            Ok(Outcome::UpToDate { .. }) => Ending::UpToDate,
            Ok(Outcome::NothingToRollBack) => Ending::NothingToRollBack,
            Err(_) => Ending::Failed,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Ending::Migrated => "migrated",
            Ending::RolledBack => "rolled back",
            Ending::Seeded => "seeded",
            Ending::Recorded => "recorded",
            Ending::Resolved => "resolved",
            Ending::DryRun => "shown (dry run)",
            Ending::Status => "status",
            Ending::UpToDate => "already up to date",
            Ending::NothingToRollBack => "nothing to roll back",
            Ending::Failed => "failed",
            Ending::NotStarted => "not started",
        }
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
