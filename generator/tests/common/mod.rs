//! Helpers shared by the command tests: run the real binary in a temporary folder and
//! compare the folder's every file before and after.
#![allow(dead_code)]

pub mod app;
pub mod peers;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use assert_cmd::Command;
use tempfile::TempDir;

/// `dbgen` run in `dir`, with no `DBGEN_*`/`*_DB_*` variables leaking in from the host.
pub fn dbgen(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbgen"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().contains("_DB_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// An empty project folder (no dbgen.toml, no Cargo.toml).
pub fn empty() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// A Cargo project with a main.rs and no dbgen files.
pub fn cargo_project() -> TempDir {
    let dir = empty();
    write(
        dir.path(),
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ndbgen-runtime = \"0.1\"\n",
    );
    write(
        dir.path(),
        "src/main.rs",
        "mod databases;\n\nfn main() {}\n",
    );
    dir
}

/// A project with dbgen.toml and databases `permiso` (postgres, two migrations, one seed)
/// and `permiso-test` (reusing permiso's migrations).
pub fn permiso_project() -> TempDir {
    let dir = empty();
    let root = dir.path();
    write(root, "dbgen.toml", "# mine\n");
    write(
        root,
        "database/permiso/database.toml",
        "driver = \"postgres\"\n",
    );
    write(
        root,
        "database/permiso/migrations/20250823075842_initial_schema.up.sql",
        "CREATE TABLE users (id int);\n",
    );
    write(
        root,
        "database/permiso/migrations/20250823075842_initial_schema.down.sql",
        "DROP TABLE users;\n",
    );
    write(
        root,
        "database/permiso/migrations/20250901000000_roles.up.sql",
        "CREATE TABLE roles (id int);\n",
    );
    write(root, "database/permiso/seeds/01_roles.sql", "SELECT 1;\n");
    write(
        root,
        "database/permiso-test/database.toml",
        "driver = \"postgres\"\nmigrations = \"permiso\"\n",
    );
    dir
}

pub fn write(root: &Path, path: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

pub fn read(root: &Path, path: &str) -> String {
    fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every folder (as `None`) and file (its bytes) under `root`, by relative path.
pub type Tree = BTreeMap<String, Option<Vec<u8>>>;

pub fn tree(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                out.insert(rel, None);
                walk(root, &path, out);
            } else {
                out.insert(rel, Some(fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

/// The files `after` has that `before` did not, in order.
pub fn new_files(before: &Tree, after: &Tree) -> Vec<String> {
    after
        .iter()
        .filter(|(path, contents)| contents.is_some() && !before.contains_key(*path))
        .map(|(path, _)| path.clone())
        .collect()
}

/// Runs `args` in `root`, expects exit `code` and `message` on stderr, and that the command
/// changed nothing under `root`.
pub fn fails_unchanged(root: &Path, args: &[&str], code: i32, message: &str) -> String {
    let before = tree(root);
    let out = dbgen(root)
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(message),
        "dbgen {args:?}: expected {message:?} in stderr:\n{stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(
        before,
        tree(root),
        "dbgen {args:?} changed the tree although it failed"
    );
    stderr
}

/// Runs `args` in `root`, expects success, and returns stdout.
pub fn succeeds(root: &Path, args: &[&str]) -> String {
    let out = dbgen(root)
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).unwrap()
}
