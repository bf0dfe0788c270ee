//! The progress bar: drawn only on a terminal, for runs of 20 migrations or more, never under
//! NO_COLOR. The terminal is a pseudo-terminal from util-linux's `script`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A SQLite project whose database `app` has `count` migrations.
fn project(count: usize) -> tempfile::TempDir {
    let dir = empty();
    write(dir.path(), "dbgen.toml", "driver = \"sqlite\"\n");
    write(dir.path(), "database/app/database.toml", "");
    for i in 1..=count {
        write(
            dir.path(),
            &format!("database/app/migrations/{i}_create_t{i:02}.up.sql"),
            format!("CREATE TABLE t{i} (id INTEGER);"),
        );
    }
    dir
}

/// `dbgen migrate latest app` with a terminal as stdin, stdout and stderr: everything it
/// wrote, escape codes included. `None` where `script` is missing (outside CI only).
fn latest_on_a_terminal(root: &Path, no_color: bool) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`script` (util-linux) is needed for the progress bar tests: apt-get install bsdutils"
        );
        eprintln!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let dbgen = env!("CARGO_BIN_EXE_dbgen");
    let mut command = Command::new("script");
    command
        .args([
            "-qec",
            &format!("'{dbgen}' migrate latest app"),
            "/dev/null",
        ])
        .current_dir(root)
        .env(
            "APP_DB_URL",
            format!("sqlite://{}", root.join("app.db").display()),
        )
        .env_remove("NO_COLOR");
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let out = command.output().expect("run script");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    Some(text)
}

fn applied_count(root: &Path) -> String {
    let status = dbgen(root)
        .args(["migrate", "status", "app"])
        .env(
            "APP_DB_URL",
            format!("sqlite://{}", root.join("app.db").display()),
        )
        .output()
        .unwrap();
    String::from_utf8_lossy(&status.stdout).into_owned()
}

#[test]
fn a_terminal_gets_a_bar_instead_of_a_line_per_migration() {
    let dir = project(25);
    let Some(out) = latest_on_a_terminal(dir.path(), false) else {
        return;
    };
    assert!(out.contains("app: [") && out.contains("/25"), "{out}");
    assert!(!out.contains("applied 1_create_t01 ("), "{out}");
    assert!(out.contains("app: batch 1 applied: 25 migrations"), "{out}");
    let status = applied_count(dir.path());
    assert!(status.contains("25 applied, 0 pending"), "{status}");
}

#[test]
fn no_color_or_a_short_run_gets_a_line_per_migration() {
    for (count, no_color) in [(25, true), (19, false)] {
        let dir = project(count);
        let Some(out) = latest_on_a_terminal(dir.path(), no_color) else {
            return;
        };
        assert!(
            !out.contains("app: ["),
            "{count}, NO_COLOR {no_color}: {out}"
        );
        assert!(
            out.contains("app: applied 1_create_t01 (")
                && out.contains(&format!("_create_t{count} (")),
            "{count}, NO_COLOR {no_color}: {out}"
        );
        assert!(
            out.contains(&format!("app: batch 1 applied: {count} migrations")),
            "{out}"
        );
    }
}
