//! How a run tells what it does as it goes. The library tells `tracing` only; the command
//! set adds an observer that prints lines and progress bars.

use crate::migrator::StepReport;

/// Receives a run's progress. Every method has a default that does nothing.
pub(crate) trait Observer: Send {
    /// A run of `steps` steps starts.
    fn started(&mut self, _steps: usize) {}
    /// One step is done.
    fn step(&mut self, _verb: &'static str, _step: &StepReport) {}
    /// Something the user should know, though the run goes on.
    fn warning(&mut self, _message: &str) {}
    /// The run's steps are over (done or failed).
    fn finished(&mut self) {}
}

/// Tells nothing beyond the `tracing` events every run emits.
pub(crate) struct Silent;

impl Observer for Silent {}
