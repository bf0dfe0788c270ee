//! The shipped binary alone: copied out of the target folder into an empty one, it migrates,
//! reports, rolls back and seeds this repository's databases with nothing but what it embeds.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use dbgen_testkit::{Engine, TestDb};
use tempfile::TempDir;

/// An empty folder holding nothing but a copy of the binary.
fn shipped() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("dbgen-example");
    std::fs::copy(env!("CARGO_BIN_EXE_dbgen-example"), &bin).unwrap();
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
    (dir, bin)
}

/// The binary run in `dir` with `env` and none of the host's database variables.
fn app(bin: &Path, dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.contains("_DB_") || key_text.starts_with("PERMISO") {
            cmd.env_remove(&key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn show(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the command; panics with its output unless it exits with `code`; returns stdout.
fn expect<I, S>(mut cmd: Command, args: I, code: i32) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = cmd.args(args).output().expect("run dbgen-example");
    assert_eq!(out.status.code(), Some(code), "{}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sqlite_at(path: &Path) -> TestDb {
    // A TestDb only to query the file the binary wrote; the folder it made stays unused.
    let mut db = TestDb::create(Engine::Sqlite).expect("sqlite");
    db.url = format!("sqlite://{}", path.display());
    db
}

#[test]
fn sqlite_from_an_empty_folder() {
    let (dir, bin) = shipped();
    let dir = dir.path();
    let run = |args: &[&str], code: i32| expect(app(&bin, dir, &[]), args, code);

    let out = run(&["db", "migrate", "latest", "permiso-sqlite"], 0);
    assert!(out.contains("permiso-sqlite"), "{out}");
    // PERMISO_SQLITE_DB_NAME is unset: the file is the default, in the current folder.
    let file = dir.join("permiso-sqlite.sqlite3");
    let db = sqlite_at(&file);
    assert!(
        db.tables().iter().any(|t| t == "organization"),
        "{:?}",
        db.tables()
    );
    assert_eq!(db.tracking_rows("dbgen_migrations").len(), 1);

    // The same commands nested under `db`, and as knex's script names.
    let status = run(
        &["db", "migrate", "status", "permiso-sqlite", "--exit-code"],
        0,
    );
    assert!(status.contains("initial_schema"), "{status}");
    run(&["db", "migrate:permiso-sqlite:status", "--exit-code"], 0);

    let seeded = run(&["db", "seed", "run", "permiso-sqlite"], 0);
    assert!(seeded.contains("permiso-sqlite"), "{seeded}");
    assert!(db.count("SELECT COUNT(*) FROM organization") > 0);

    run(&["db", "migrate", "rollback", "permiso-sqlite"], 0);
    assert!(db.tracking_rows("dbgen_migrations").is_empty());
    assert!(!db.tables().iter().any(|t| t == "organization"));
    run(
        &["db", "migrate", "status", "permiso-sqlite", "--exit-code"],
        3,
    );

    // A failure exits 1: the database file cannot be made in a folder that does not exist.
    let out = app(
        &bin,
        dir,
        &[("PERMISO_SQLITE_DB_NAME", "no/such/folder/x.sqlite3")],
    )
    .args(["db", "migrate", "latest", "permiso-sqlite"])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));

    // No database named: an error that lists them, with the usage exit code.
    let out = app(&bin, dir, &[])
        .args(["db", "migrate", "latest"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("permiso-test"), "{stderr}");
}

/// Role names unique to this test: roles belong to the whole Postgres server.
fn unique_role(kind: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("dbgen_{kind}_{}_{nanos}", std::process::id())
}

/// Drops the test's server-wide roles once its databases are gone.
struct Roles(Vec<String>);

impl Drop for Roles {
    fn drop(&mut self) {
        // Never a panic here: this may run while a failed test unwinds.
        let _ = std::panic::catch_unwind(|| {
            if let Some(admin) = TestDb::create(Engine::Postgres) {
                for role in &self.0 {
                    admin.execute(&format!("DROP ROLE IF EXISTS \"{role}\""));
                }
            }
        });
    }
}

#[test]
fn every_database_from_an_empty_folder() {
    // Declared first, dropped last: after the databases that hold grants to the roles.
    let (rls, unrestricted) = (unique_role("rls"), unique_role("unrestricted"));
    let _roles = Roles(vec![rls.clone(), unrestricted.clone()]);
    let Some(permiso) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let Some(permiso_test) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let (dir, bin) = shipped();
    let dir = dir.path();
    let env = [
        ("PERMISO_DB_URL", permiso.url.as_str()),
        ("PERMISO_TEST_DB_URL", permiso_test.url.as_str()),
        ("PERMISO_SQLITE_DB_NAME", "permiso.sqlite3"),
        ("RLS_DB_USER", rls.as_str()),
        ("RLS_DB_USER_PASSWORD", "rls-secret-1"),
        ("UNRESTRICTED_DB_USER", unrestricted.as_str()),
        ("UNRESTRICTED_DB_USER_PASSWORD", "unrestricted-secret-1"),
    ];
    let run = |args: &[&str], code: i32| expect(app(&bin, dir, &env), args, code);

    // A failure exits 1, as with `dbgen`: permiso's role passwords are placeholders without
    // a default, so without them nothing runs.
    let without_passwords: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .filter(|(key, _)| !key.ends_with("PASSWORD"))
        .collect();
    let out = app(&bin, dir, &without_passwords)
        .args(["db", "migrate", "latest", "permiso"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(permiso.tables().is_empty(), "{:?}", permiso.tables());

    let out = run(&["db", "migrate", "latest", "--all"], 0);
    for name in ["permiso", "permiso-test", "permiso-sqlite"] {
        assert!(out.contains(name), "{name}: {out}");
    }
    assert!(!out.contains("secret-1"), "{out}");
    let sqlite = sqlite_at(&dir.join("permiso.sqlite3"));
    for db in [&permiso, &permiso_test, &sqlite] {
        assert!(
            db.tables().iter().any(|t| t == "organization"),
            "{:?}",
            db.tables()
        );
    }
    assert_eq!(permiso.tracking_rows("dbgen_migrations").len(), 2);
    assert_eq!(permiso_test.tracking_rows("dbgen_migrations").len(), 2);
    assert_eq!(
        permiso.count(&format!(
            "SELECT COUNT(*) FROM pg_roles WHERE rolname IN ('{rls}', '{unrestricted}')"
        )),
        2
    );

    let status = run(&["db", "migrate", "status", "--all", "--exit-code"], 0);
    assert!(status.contains("row_level_security"), "{status}");

    let seeded = run(&["db", "seed", "run", "--all"], 0);
    assert!(seeded.contains("permiso-test"), "{seeded}");
    // permiso-test has no seeds of its own.
    for db in [&permiso, &sqlite] {
        assert!(db.count("SELECT COUNT(*) FROM organization") > 0);
    }
    assert_eq!(permiso_test.count("SELECT COUNT(*) FROM organization"), 0);

    run(&["db", "migrate", "rollback", "permiso-sqlite"], 0);
    assert!(sqlite.tracking_rows("dbgen_migrations").is_empty());
    run(&["db", "migrate", "rollback", "permiso-test"], 0);
    assert!(permiso_test.tracking_rows("dbgen_migrations").len() < 2);
    assert_eq!(permiso.tracking_rows("dbgen_migrations").len(), 2);
    let status = run(&["db", "migrate", "status", "--all", "--exit-code"], 3);
    assert!(status.contains("pending"), "{status}");
    run(&["db", "migrate:all"], 0);
    run(&["db", "migrate", "status", "--all", "--exit-code"], 0);
}

#[test]
fn serve_migrates_on_start_when_asked() {
    let (rls, unrestricted) = (unique_role("rls"), unique_role("unrestricted"));
    let _roles = Roles(vec![rls.clone(), unrestricted.clone()]);
    let Some(permiso) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let (dir, bin) = shipped();
    let mut env = vec![
        ("PERMISO_DB_URL", permiso.url.as_str()),
        ("RLS_DB_USER", rls.as_str()),
        ("RLS_DB_USER_PASSWORD", "rls-secret-2"),
        ("UNRESTRICTED_DB_USER", unrestricted.as_str()),
        ("UNRESTRICTED_DB_USER_PASSWORD", "unrestricted-secret-2"),
    ];

    let out = expect(app(&bin, dir.path(), &env), ["serve", "--once"], 0);
    assert!(out.contains("serving with permiso"), "{out}");
    assert!(permiso.tracking_rows("dbgen_migrations").is_empty());

    env.push(("PERMISO_AUTO_MIGRATE", "true"));
    let out = expect(app(&bin, dir.path(), &env), ["serve", "--once"], 0);
    assert!(out.contains("serving with permiso"), "{out}");
    assert_eq!(permiso.tracking_rows("dbgen_migrations").len(), 2);
}
