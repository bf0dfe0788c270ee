//! All-or-nothing writes: a command plans every file first, then writes them; when one write
//! fails, everything this run created is removed and everything it replaced is restored, so a
//! failed command leaves the tree as it was.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::CliError;

#[derive(Debug)]
enum Step {
    /// A new file; refused if anything already has its path.
    Create { path: PathBuf, contents: Vec<u8> },
    /// An existing file whose current contents are `original`.
    Replace {
        path: PathBuf,
        original: Vec<u8>,
        contents: Vec<u8>,
    },
}

/// What a successful [`WritePlan::apply`] did, for the command's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Created(PathBuf),
    Updated(PathBuf),
}

/// Files to write, with paths relative to the project root.
#[derive(Debug, Default)]
pub struct WritePlan {
    steps: Vec<Step>,
}

#[derive(Debug)]
enum Undo {
    RemoveFile(PathBuf),
    RemoveDir(PathBuf),
    Restore(PathBuf, Vec<u8>),
}

impl WritePlan {
    pub fn create(&mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) {
        self.steps.push(Step::Create {
            path: path.into(),
            contents: contents.into(),
        });
    }

    pub fn replace(
        &mut self,
        path: impl Into<PathBuf>,
        original: impl Into<Vec<u8>>,
        contents: impl Into<Vec<u8>>,
    ) {
        self.steps.push(Step::Replace {
            path: path.into(),
            original: original.into(),
            contents: contents.into(),
        });
    }

    /// Writes every step under `root`, or none of them.
    pub fn apply(self, root: &Path) -> Result<Vec<Written>, CliError> {
        let mut undo = Vec::new();
        let mut written = Vec::new();
        for step in &self.steps {
            if let Err(error) = apply_step(root, step, &mut undo, &mut written) {
                let problems = roll_back(root, undo);
                return Err(if problems.is_empty() {
                    error
                } else {
                    CliError::Rollback {
                        error: Box::new(error),
                        problems,
                    }
                });
            }
        }
        Ok(written)
    }
}

fn apply_step(
    root: &Path,
    step: &Step,
    undo: &mut Vec<Undo>,
    written: &mut Vec<Written>,
) -> Result<(), CliError> {
    match step {
        Step::Create { path, contents } => {
            create_parents(root, path, undo)?;
            let full = root.join(path);
            // create_new: never clobber a file that appeared since the plan was made.
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&full)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => {
                        CliError::FileExists { path: path.clone() }
                    }
                    _ => CliError::io("create", path, e),
                })?;
            undo.push(Undo::RemoveFile(full));
            file.write_all(contents)
                .and_then(|()| file.sync_all())
                .map_err(|e| CliError::io("write", path, e))?;
            written.push(Written::Created(path.clone()));
        }
        Step::Replace {
            path,
            original,
            contents,
        } => {
            let full = root.join(path);
            let current = fs::read(&full).map_err(|e| CliError::io("read", path, e))?;
            if &current != original {
                return Err(CliError::io(
                    "update",
                    path,
                    std::io::Error::other(
                        "it changed while dbgen was running; run the command again",
                    ),
                ));
            }
            undo.push(Undo::Restore(full.clone(), current));
            fs::write(&full, contents).map_err(|e| CliError::io("write", path, e))?;
            written.push(Written::Updated(path.clone()));
        }
    }
    Ok(())
}

/// Creates the missing folders above `path`, outermost first, remembering each for the undo.
fn create_parents(root: &Path, path: &Path, undo: &mut Vec<Undo>) -> Result<(), CliError> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let mut missing: Vec<&Path> = parent
        .ancestors()
        .filter(|dir| !dir.as_os_str().is_empty() && !root.join(dir).is_dir())
        .collect();
    missing.reverse();
    for dir in missing {
        if root.join(dir).exists() {
            return Err(CliError::io(
                "create folder",
                dir,
                std::io::Error::other("a file of that name is in the way: move or rename it"),
            ));
        }
        fs::create_dir(root.join(dir)).map_err(|e| CliError::io("create folder", dir, e))?;
        undo.push(Undo::RemoveDir(root.join(dir)));
    }
    Ok(())
}

/// Undoes in reverse order; returns what could not be undone.
fn roll_back(root: &Path, undo: Vec<Undo>) -> Vec<String> {
    let shown = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut problems = Vec::new();
    for step in undo.into_iter().rev() {
        let (path, result) = match &step {
            Undo::RemoveFile(p) => (p, fs::remove_file(p)),
            Undo::RemoveDir(p) => (p, fs::remove_dir(p)),
            Undo::Restore(p, bytes) => (p, fs::write(p, bytes)),
        };
        if let Err(e) = result {
            problems.push(format!("{}: {e}", shown(path)));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_files_and_their_folders() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("old"), "old").unwrap();
        let mut plan = WritePlan::default();
        plan.create("a/b/c.txt", "c");
        plan.replace("old", "old", "new");
        let written = plan.apply(dir.path()).unwrap();
        assert_eq!(
            written,
            [
                Written::Created("a/b/c.txt".into()),
                Written::Updated("old".into())
            ]
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("a/b/c.txt")).unwrap(),
            "c"
        );
        assert_eq!(fs::read_to_string(dir.path().join("old")).unwrap(), "new");
    }

    #[test]
    fn a_failure_undoes_everything_before_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("keep")).unwrap();
        fs::write(dir.path().join("old"), "old").unwrap();
        fs::write(dir.path().join("blocker"), "a file, not a folder").unwrap();
        let mut plan = WritePlan::default();
        plan.create("keep/new/deep.txt", "x");
        plan.replace("old", "old", "new");
        plan.create("blocker/x.txt", "x");
        let err = plan.apply(dir.path()).unwrap_err();
        assert!(err.to_string().contains("blocker"), "{err}");
        assert!(!dir.path().join("keep/new").exists());
        assert!(dir.path().join("keep").is_dir(), "folders it found stay");
        assert_eq!(fs::read_to_string(dir.path().join("old")).unwrap(), "old");
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), "mine").unwrap();
        let mut plan = WritePlan::default();
        plan.create("y", "y");
        plan.create("x", "theirs");
        let err = plan.apply(dir.path()).unwrap_err();
        assert!(matches!(err, CliError::FileExists { .. }), "{err}");
        assert_eq!(fs::read_to_string(dir.path().join("x")).unwrap(), "mine");
        assert!(!dir.path().join("y").exists());
    }

    #[test]
    fn a_file_changed_since_the_plan_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), "edited").unwrap();
        let mut plan = WritePlan::default();
        plan.replace("x", "original", "new");
        assert!(plan.apply(dir.path()).is_err());
        assert_eq!(fs::read_to_string(dir.path().join("x")).unwrap(), "edited");
    }
}
