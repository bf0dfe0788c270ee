//! Real Cargo applications built against this workspace's runtime (derive_project.rs,
//! testing_app.rs). Their target folder is `target/derive-project`, so sqlx is compiled
//! once and reused; they get this workspace's Cargo.lock, so they build `--offline`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace folder")
        .to_path_buf()
}

/// Where the applications are built.
pub fn app_target() -> PathBuf {
    workspace().join("target").join("derive-project")
}

pub fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd`; panics with its output unless it exits with `code`. Returns stdout.
pub fn run(what: &str, cmd: &mut Command, code: i32) -> String {
    let out = output(what, cmd);
    assert_eq!(out.status.code(), Some(code), "{}", show(what, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd`, whatever its exit code.
pub fn output(what: &str, cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"))
}

/// A command with no `*_DB_*` variable of the host leaking in.
pub fn clean(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().contains("_DB_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `cargo <subcommand> --offline --quiet` in `project`, built in [`app_target`].
pub fn cargo(project: &Path, subcommand: &str) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = clean(program, project);
    cmd.args([subcommand, "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", app_target())
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS");
    cmd
}

/// A Cargo application in `dir` depending on this workspace's runtime (and, for its tests,
/// on `dev_dependencies`, TOML lines), with this workspace's Cargo.lock.
pub fn new_app(dir: &Path, package: &str, dev_dependencies: &str) {
    let runtime = workspace().join("runtime").display().to_string();
    let dev = if dev_dependencies.is_empty() {
        String::new()
    } else {
        format!("\n[dev-dependencies]\n{dev_dependencies}")
    };
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ndbgen-runtime = {{ path = {runtime:?} }}\n{dev}"
        ),
    );
    // The workspace's lock file pins every crate to a version already built and cached.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// Writes `text` to `path`, making its folders.
pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
