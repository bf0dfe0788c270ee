//! What a run prints: one line per step and a result line per database, prefixed with the
//! database's name so that concurrent runs (`--jobs`) stay readable.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use dbgen_core::Redactor;

use crate::migrator::{StepReport, millis};
use crate::observer::Observer;

/// Migrations in one run from which a terminal gets a progress bar instead of a line each.
const PROGRESS_BAR_FROM: usize = 20;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OutputMode {
    /// Draw progress bars (a terminal, one database at a time, NO_COLOR unset).
    pub progress: bool,
    /// Print nothing but results (JSON output).
    pub quiet: bool,
}

impl OutputMode {
    pub(crate) fn detect(jobs: usize) -> Self {
        Self {
            progress: jobs == 1
                && std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none(),
            quiet: false,
        }
    }
}

pub(crate) struct Reporter<'r> {
    database: String,
    mode: OutputMode,
    bar: Option<ProgressBar>,
    redactor: &'r Redactor,
}

impl<'r> Reporter<'r> {
    pub(crate) fn new(database: &str, mode: OutputMode, redactor: &'r Redactor) -> Self {
        Self {
            database: database.to_string(),
            mode,
            bar: None,
            redactor,
        }
    }

    fn line(&self, message: &str) {
        if self.mode.quiet {
            return;
        }
        let message = self.redactor.redact(message);
        match &self.bar {
            Some(bar) => bar.println(format!("{}: {message}", self.database)),
            None => println!("{}: {message}", self.database),
        }
    }
}

impl Observer for Reporter<'_> {
    fn warning(&mut self, message: &str) {
        eprintln!(
            "{}: warning: {}",
            self.database,
            self.redactor.redact(message)
        );
    }

    /// Starts a run of `steps` steps: a progress bar when there are many on a terminal.
    fn started(&mut self, steps: usize) {
        if self.mode.progress && !self.mode.quiet && steps >= PROGRESS_BAR_FROM {
            let bar = ProgressBar::new(steps as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{prefix}: [{bar:40}] {pos}/{len} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(self.database.clone());
            self.bar = Some(bar);
        }
    }

    /// One step done; its line is printed unless a bar stands for it.
    fn step(&mut self, verb: &'static str, step: &StepReport) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(step.id.clone());
                bar.inc(1);
            }
            None => self.line(&format!("{verb} {} ({})", step.id, millis(step.took))),
        }
    }

    fn finished(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
