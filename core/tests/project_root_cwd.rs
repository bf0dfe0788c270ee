//! `find_project_root` with a start path relative to the working directory.
//!
//! This is its own test binary because it changes the process's working directory,
//! which would race with any other test that resolves a relative path.

use std::fs;
use std::path::{Path, PathBuf};

use dbgen_core::{find_project_root, load_project};

fn same_dir(a: &Path, b: &Path) -> bool {
    a.canonicalize().unwrap() == b.canonicalize().unwrap()
}

#[test]
fn a_relative_start_searches_above_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().canonicalize().unwrap();
    fs::write(root.join("dbgen.toml"), "driver = \"sqlite\"\n").unwrap();
    fs::create_dir_all(root.join("database/a")).unwrap();
    fs::write(root.join("database/a/database.toml"), "").unwrap();
    // A nested project below the working directory's parent.
    fs::create_dir_all(root.join("src/deep/nested")).unwrap();
    fs::write(root.join("src/deep/nested/dbgen.toml"), "").unwrap();
    std::env::set_current_dir(root.join("src/deep")).unwrap();

    // `dbgen` run from `src/deep`; "" is `Path::new("file").parent()`.
    for start in [".", "", "..", "./", "nested/..", "../deep"] {
        let found = find_project_root(Path::new(start));
        assert!(found.is_absolute(), "start {start:?} found {found:?}");
        assert!(same_dir(&found, &root), "start {start:?} found {found:?}");
        let project = load_project(&found).unwrap();
        assert_eq!(project.names(), ["a"], "start {start:?}");
    }
    let found = find_project_root(Path::new("nested"));
    assert!(same_dir(&found, &root.join("src/deep/nested")), "{found:?}");

    // Nothing above `/` holds a dbgen.toml: the start folder itself, made absolute.
    std::env::set_current_dir(&root).unwrap();
    fs::remove_file(root.join("dbgen.toml")).unwrap();
    let above = root.ancestors().any(|d| d.join("dbgen.toml").is_file());
    if !above {
        let found = find_project_root(Path::new("src/deep"));
        assert_eq!(found, root.join("src/deep"));
    }
}
