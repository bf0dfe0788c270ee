//! Where a run reads its settings: the variables (`{P}_DB_*`, placeholders) and the project
//! root (where `.env` is read and relative SQLite paths start).

use std::path::{Path, PathBuf};

use dbgen_core::{Env, load_env};

use crate::error::RunError;

/// The variables a run reads and the folder it treats as the project root.
///
/// An application's binary has no source tree: its project root is the folder named by
/// `DBGEN_ROOT`, or else the current folder. `.env` is read there, and relative SQLite
/// paths (`{P}_DB_NAME`, the default `<name>.sqlite3`) start there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    vars: Env,
    root: PathBuf,
}

impl Environment {
    /// The variable that sets an application's project root.
    pub const ROOT_VARIABLE: &'static str = "DBGEN_ROOT";

    /// The process environment over `.env` in the project root (`$DBGEN_ROOT`, else the
    /// current folder); the process wins over the file.
    pub fn from_process() -> Result<Self, RunError> {
        let root = match std::env::var_os(Self::ROOT_VARIABLE) {
            Some(root) if !root.is_empty() => PathBuf::from(root),
            _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        Self::from_process_at(root)
    }

    /// The process environment over `<root>/.env`, with `root` as the project root.
    pub fn from_process_at(root: impl Into<PathBuf>) -> Result<Self, RunError> {
        let root = root.into();
        Ok(Self {
            vars: load_env(&root)?,
            root,
        })
    }

    /// Exactly these variables (no process environment, no `.env`), with the current
    /// folder as the project root: for tests and for settings an application holds itself.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            root: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// The same variables with another project root.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// Sets one variable, over any value it had.
    pub fn with_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// The variables.
    pub fn vars(&self) -> &Env {
        &self.vars
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
