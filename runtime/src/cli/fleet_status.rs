//! A fleet's `status`: where each tenant stands, the summary line, and the table of the
//! tenants that are not up to date.

use dbgen_core::Tenant;
use serde::Serialize;

use crate::error::RunError;
use crate::migrator::{Outcome, plural};
use crate::plan::State;

/// Where a tenant stands, worst first: the summary counts each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum TenantState {
    /// Its status could not be read.
    #[serde(rename = "failed")]
    Failed,
    /// A migration is interrupted, or running under another runner's lock.
    #[serde(rename = "interrupted")]
    Interrupted,
    /// An applied migration's file changed or is gone.
    #[serde(rename = "modified")]
    Modified,
    /// Migrations are pending.
    #[serde(rename = "behind")]
    Behind,
    /// Nothing to do.
    #[serde(rename = "up to date")]
    UpToDate,
}

impl TenantState {
    fn as_str(self) -> &'static str {
        match self {
            TenantState::Failed => "failed",
            TenantState::Interrupted => "interrupted",
            TenantState::Modified => "modified",
            TenantState::Behind => "behind",
            TenantState::UpToDate => "up to date",
        }
    }
}

/// One tenant's place in a fleet's status.
#[derive(Debug, Serialize)]
pub(crate) struct TenantStatus {
    database: String,
    pub(crate) tenant: String,
    pub(crate) state: TenantState,
    applied: usize,
    pending: usize,
    /// The newest applied version.
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_applied: Option<i64>,
    /// Migrations that are modified, missing, interrupted or running, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attention: Vec<String>,
    /// Why its status could not be read (secrets hidden when printed).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl TenantStatus {
    pub(crate) fn of(db: &str, tenant: &Tenant, result: &Result<Outcome, RunError>) -> Self {
        let mut line = TenantStatus {
            database: db.to_string(),
            tenant: tenant.name.clone(),
            state: TenantState::Failed,
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
                    TenantState::Interrupted
                } else if report.modified + report.missing > 0 {
                    TenantState::Modified
                } else if report.pending > 0 || report.other_history.is_some() {
                    TenantState::Behind
                } else {
                    TenantState::UpToDate
                };
            }
            Ok(_) => line.state = TenantState::UpToDate,
            Err(e) => line.error = Some(e.to_string()),
        }
        line
    }
}

/// The fleet's summary line and the table of tenants that are not up to date.
pub(crate) fn status_summary(database: &str, statuses: &[TenantStatus]) -> String {
    let count = |state: TenantState| statuses.iter().filter(|s| s.state == state).count();
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
        count(TenantState::UpToDate),
        count(TenantState::Behind),
        count(TenantState::Failed),
        count(TenantState::Interrupted),
        count(TenantState::Modified),
    );
    let lagging: Vec<&TenantStatus> = statuses
        .iter()
        .filter(|s| s.state != TenantState::UpToDate)
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
            s.tenant,
            s.state.as_str(),
            s.applied,
            s.pending,
            newest
        ));
    }
    out
}
