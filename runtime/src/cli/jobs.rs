//! Runs one job over many databases: each gets its own result, one failure does not stop
//! the others, and `--jobs N` runs N at a time.

use std::time::Duration;

use dbgen_core::{Database, Redactor};
use futures_util::StreamExt;
use futures_util::stream;

use super::output::{OutputMode, Reporter};
use crate::environment::Environment;
use crate::error::RunError;
use crate::execute::Job;
use crate::migrator::{Migrator, Outcome};

#[derive(Debug, Clone, Copy)]
pub(crate) struct RunSettings {
    pub jobs: usize,
    /// Overrides each database's `lock_timeout`.
    pub lock_timeout: Option<Duration>,
    pub output: OutputMode,
}

/// Runs `job` on every database in `databases`, `settings.jobs` at a time; the results come
/// back in the databases' order. `on_done` sees each result as it completes.
pub(crate) async fn run_many<'a>(
    databases: &[&'a Database],
    job: &Job,
    environment: &Environment,
    (settings, redactor): (RunSettings, &Redactor),
    mut on_done: impl FnMut(&Database, &Result<Outcome, RunError>),
) -> Vec<(&'a Database, Result<Outcome, RunError>)> {
    // The futures are made before they are streamed: a closure inside the stream would keep
    // the whole future from being `Send` (a limit of the compiler's lifetime checks).
    let runs: Vec<_> = databases
        .iter()
        .enumerate()
        .map(|(i, db)| run_indexed(i, db, job, environment, (settings, redactor)))
        .collect();
    let mut stream = stream::iter(runs).buffer_unordered(settings.jobs.max(1));
    let mut results = Vec::with_capacity(databases.len());
    while let Some((i, result)) = stream.next().await {
        on_done(databases[i], &result);
        results.push((i, result));
    }
    results.sort_by_key(|(i, _)| *i);
    results
        .into_iter()
        .map(|(i, result)| (databases[i], result))
        .collect()
}

async fn run_indexed(
    i: usize,
    db: &Database,
    job: &Job,
    environment: &Environment,
    (settings, redactor): (RunSettings, &Redactor),
) -> (usize, Result<Outcome, RunError>) {
    let mut migrator = Migrator::new(db).environment(environment.clone());
    if let Some(timeout) = settings.lock_timeout {
        migrator = migrator.lock_timeout(timeout);
    }
    let mut reporter = Reporter::new(&db.name, settings.output, redactor);
    (i, migrator.job_observed(job, &mut reporter).await)
}
