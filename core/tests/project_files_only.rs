//! Only regular files inside the project are read as scripts and configs: a symlink out of
//! the project, a FIFO, a socket or a device is refused by name and never read, at load and
//! when a script is read again to run. Symlinks that stay inside the project keep working.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use dbgen_core::{Checksum, Project, load_project};
use tempfile::TempDir;

const SECRET: &str = "SECRET-OUTSIDE";

fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn link(root: &Path, rel: &str, target: impl AsRef<Path>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(target, path).unwrap();
}

fn mkfifo(root: &Path, rel: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A project with one SQLite database `a` holding one good migration.
fn project() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/a/database.toml",
        "driver = \"sqlite\"\n",
    );
    write(
        dir.path(),
        "database/a/migrations/1_ok.up.sql",
        "SELECT 1;\n",
    );
    dir
}

/// A file outside every project, holding the secret.
fn outside_file() -> (TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    fs::write(&file, format!("{SECRET}:x:0:0\n")).unwrap();
    let file = file.canonicalize().unwrap();
    (dir, file)
}

/// `f()` on another thread; fails the test instead of hanging when it takes over 10 s.
fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    receive
        .recv_timeout(Duration::from_secs(10))
        .expect("reading the project hung (a FIFO or device was opened)")
}

/// The error loading `root` gives, within 10 s.
fn load_err(root: &Path) -> String {
    let root = root.to_path_buf();
    match within_10s(move || load_project(&root).map_err(|e| e.to_string())) {
        Ok(project) => panic!("expected an error, got {:?}", project.names()),
        Err(e) => e,
    }
}

fn load(root: &Path) -> Project {
    load_project(root).unwrap_or_else(|e| panic!("load_project failed: {e}"))
}

#[track_caller]
fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "expected {part:?} in the message:\n{message}"
        );
    }
    assert!(!message.contains(SECRET), "the secret leaked:\n{message}");
}

#[test]
fn a_migration_linked_outside_the_project_is_refused_unread() {
    let (_outside, secret) = outside_file();
    let dir = project();
    link(dir.path(), "database/a/migrations/2_leak.up.sql", &secret);
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &[
            "database/a/migrations/2_leak.up.sql",
            "points outside the project",
            &format!("at {}", secret.display()),
            "copy the file into the project",
        ],
    );
}

#[test]
fn seeds_down_scripts_and_configs_linked_outside_are_refused_unread() {
    let (_outside, secret) = outside_file();
    for rel in [
        "database/a/seeds/01_leak.sql",
        "database/a/migrations/1_ok.down.sql",
        "dbgen.toml",
    ] {
        let dir = project();
        link(dir.path(), rel, &secret);
        let err = load_err(dir.path());
        assert_mentions(&err, &[rel, "points outside the project", "copy the file"]);
    }
    // A database.toml too (its folder has no other config).
    let dir = project();
    fs::remove_file(dir.path().join("database/a/database.toml")).unwrap();
    link(dir.path(), "database/a/database.toml", &secret);
    let err = load_err(dir.path());
    assert_mentions(
        &err,
        &["database/a/database.toml", "points outside the project"],
    );
}

#[test]
fn a_link_to_dev_zero_is_refused_without_reading_it() {
    let dir = project();
    link(
        dir.path(),
        "database/a/migrations/2_zero.up.sql",
        "/dev/zero",
    );
    let err = load_err(dir.path());
    assert_mentions(&err, &["database/a/migrations/2_zero.up.sql", "/dev/zero"]);
    let dir = project();
    link(dir.path(), "database/a/seeds/01_zero.sql", "/dev/zero");
    assert_mentions(&load_err(dir.path()), &["database/a/seeds/01_zero.sql"]);
}

#[test]
fn fifos_are_refused_by_name_without_being_opened() {
    for rel in [
        "database/a/migrations/2_pipe.up.sql",
        "database/a/seeds/01_pipe.sql",
        "dbgen.toml",
    ] {
        let dir = project();
        mkfifo(dir.path(), rel);
        let err = load_err(dir.path());
        assert_mentions(&err, &[rel, "named pipe (FIFO)", "was not opened"]);
    }
    let dir = project();
    fs::remove_file(dir.path().join("database/a/database.toml")).unwrap();
    mkfifo(dir.path(), "database/a/database.toml");
    assert_mentions(
        &load_err(dir.path()),
        &["database/a/database.toml", "named pipe (FIFO)"],
    );
    // Also behind a symlink that stays inside the project.
    let dir = project();
    mkfifo(dir.path(), "pipes/p");
    link(
        dir.path(),
        "database/a/migrations/2_pipe.up.sql",
        "../../../pipes/p",
    );
    assert_mentions(
        &load_err(dir.path()),
        &[
            "database/a/migrations/2_pipe.up.sql",
            "which is a named pipe (FIFO)",
        ],
    );
}

#[test]
fn a_socket_is_refused_by_name() {
    let dir = project();
    let path = dir.path().join("database/a/migrations/2_sock.up.sql");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    assert_mentions(
        &load_err(dir.path()),
        &["database/a/migrations/2_sock.up.sql", "a socket"],
    );
}

#[test]
fn a_dangling_link_is_refused_by_name() {
    let dir = project();
    link(
        dir.path(),
        "database/a/migrations/2_gone.up.sql",
        "nowhere.sql",
    );
    assert_mentions(
        &load_err(dir.path()),
        &[
            "database/a/migrations/2_gone.up.sql",
            "symbolic link to nowhere.sql",
        ],
    );
}

#[test]
fn a_migrations_folder_linked_outside_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("1_x.up.sql"), SECRET).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "database/a/database.toml",
        "driver = \"sqlite\"\n",
    );
    link(dir.path(), "database/a/migrations", outside.path());
    assert_mentions(
        &load_err(dir.path()),
        &[
            "database/a/migrations",
            "resolves outside the project",
            "copy its files into the project",
        ],
    );
    // A whole database folder linked in from outside, too.
    let dir = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "db/database.toml",
        &format!("driver = \"sqlite\" # {SECRET}\n"),
    );
    link(dir.path(), "database/b", outside.path().join("db"));
    assert_mentions(
        &load_err(dir.path()),
        &[
            "database/b",
            "points outside the project",
            "copy its files into the project",
        ],
    );
}

#[test]
fn a_linked_folder_inside_the_project_works() {
    // As sqlx's own test suite does: one folder of migrations, linked from a second place.
    let dir = project();
    write(
        dir.path(),
        "database/a/migrations/2_more.up.sql",
        "SELECT 2;\n",
    );
    write(
        dir.path(),
        "database/a/migrations/2_more.down.sql",
        "SELECT -2;\n",
    );
    write(
        dir.path(),
        "database/b/database.toml",
        "driver = \"sqlite\"\n",
    );
    link(dir.path(), "database/b/migrations", "../a/migrations");
    link(dir.path(), "database/b/seeds", "../../shared-seeds");
    write(dir.path(), "shared-seeds/01_x.sql", "SELECT 3;\n");
    let project = load(dir.path());
    let (a, b) = (&project.databases[0], &project.databases[1]);
    let ids = |db: &dbgen_core::Database| {
        db.migrations
            .iter()
            .map(|m| (m.id(), m.checksum))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(b), ids(a));
    assert_eq!(b.migrations.len(), 2);
    assert_eq!(b.migrations[1].up_script().unwrap(), "SELECT 2;\n");
    assert_eq!(
        b.migrations[1].down_script().unwrap().as_deref(),
        Some("SELECT -2;\n")
    );
    assert_eq!(
        b.migrations[1].up_path(),
        "database/b/migrations/2_more.up.sql"
    );
    assert_eq!(b.seeds[0].sql, "SELECT 3;\n");
}

#[test]
fn a_linked_file_inside_the_project_works() {
    let dir = project();
    write(dir.path(), "shared/2_y.sql", "CREATE TABLE y (id int);\n");
    write(dir.path(), "shared/2_y_down.sql", "DROP TABLE y;\n");
    write(dir.path(), "shared/seed.sql", "INSERT INTO y VALUES (1);\n");
    link(
        dir.path(),
        "database/a/migrations/2_y.up.sql",
        "../../../shared/2_y.sql",
    );
    // An absolute link into the project is as good as a relative one.
    link(
        dir.path(),
        "database/a/migrations/2_y.down.sql",
        dir.path().join("shared/2_y_down.sql"),
    );
    link(
        dir.path(),
        "database/a/seeds/01_y.sql",
        "../../../shared/seed.sql",
    );
    let project = load(dir.path());
    let a = &project.databases[0];
    let m = &a.migrations[1];
    assert_eq!(
        m.checksum,
        Checksum::of_script("CREATE TABLE y (id int);\n")
    );
    assert_eq!(m.up_script().unwrap(), "CREATE TABLE y (id int);\n");
    assert_eq!(m.down_script().unwrap().as_deref(), Some("DROP TABLE y;\n"));
    assert_eq!(a.seeds[0].sql, "INSERT INTO y VALUES (1);\n");
}

#[test]
fn a_script_swapped_after_loading_is_checked_again_when_read() {
    let (_outside, secret) = outside_file();
    let dir = project();
    write(
        dir.path(),
        "database/a/migrations/1_ok.down.sql",
        "SELECT -1;\n",
    );
    let project = load(dir.path());
    let m = project.databases[0].migrations[0].clone();
    let up = dir.path().join("database/a/migrations/1_ok.up.sql");
    let down = dir.path().join("database/a/migrations/1_ok.down.sql");

    fs::remove_file(&up).unwrap();
    symlink(&secret, &up).unwrap();
    let err = m.up_script().unwrap_err().to_string();
    assert_mentions(
        &err,
        &[
            "database/a/migrations/1_ok.up.sql",
            "points outside the project",
        ],
    );

    fs::remove_file(&down).unwrap();
    mkfifo(dir.path(), "database/a/migrations/1_ok.down.sql");
    let err = within_10s(move || m.down_script().unwrap_err().to_string());
    assert_mentions(
        &err,
        &["database/a/migrations/1_ok.down.sql", "named pipe (FIFO)"],
    );
}
