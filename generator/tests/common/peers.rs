//! The other migration tools (knex, sqlx-cli, diesel_cli), run for real so that the history
//! `dbgen migrate adopt` takes over is the one those tools write, not our idea of it.
//!
//! Each runner returns `None` when its tool is not installed: the test is skipped loudly,
//! except under `CI=true`, where a missing tool is a failure. `.ci/run`'s `ensure_peers`
//! installs them all: knex 3 with its drivers under `generator/tests/peers/node_modules`
//! (`npm ci --prefix generator/tests/peers`), `sqlx` 0.9 and `diesel` in `~/.cargo/bin`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dbgen_testkit::Engine;

/// `generator/tests/peers`: the npm project holding knex and its drivers.
pub const PEERS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

/// What a tool's run left: its exit code and output, for assertions.
pub struct PeerRun {
    /// The command line, for messages.
    pub command: String,
    pub output: Output,
}

impl PeerRun {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// stdout then stderr: sqlx-cli prints its errors on stdout.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }
    /// Panics unless the tool exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            self.output.status.success(),
            "{} exited {}\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// Panics if the tool exited 0.
    #[track_caller]
    pub fn fails(self) -> Self {
        assert!(
            !self.output.status.success(),
            "{} succeeded, a failure was expected\nstdout:\n{}\nstderr:\n{}",
            self.command,
            self.stdout(),
            self.stderr()
        );
        self
    }
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A missing tool: a failure under CI, else a loud skip.
fn missing<T>(tool: &str, detail: &str) -> Option<T> {
    let message = format!("{tool} not installed (run .ci/run's ensure_peers){detail}");
    if under_ci() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// `name` on `PATH`, else in cargo's bin folder (`cargo install` puts it there, and a test
/// run does not always have that folder on `PATH`).
fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The first line `program --version` prints, or `None` when it does not run.
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` in `cwd` with nothing of the host's database settings leaking in.
fn run(mut cmd: Command, cwd: &Path) -> PeerRun {
    cmd.current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0");
    let command = format!("{cmd:?}");
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    PeerRun { command, output }
}

// ---------------------------------------------------------------------------------------
// knex

/// knex's npm package for `engine`'s driver.
fn knex_driver(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "pg",
        Engine::Mysql => "mysql2",
        Engine::Sqlite => "better-sqlite3",
    }
}

/// knex's command line and `node`, or `None` (skipped, or a panic under CI).
fn knex_cli(engine: Engine) -> Option<(PathBuf, PathBuf)> {
    let Some(node) = find_program("node") else {
        return missing("node (for knex)", "");
    };
    let cli = Path::new(PEERS_DIR).join("node_modules/knex/bin/cli.js");
    let driver = Path::new(PEERS_DIR)
        .join("node_modules")
        .join(knex_driver(engine))
        .join("package.json");
    if !cli.is_file() || !driver.is_file() {
        return missing(
            "knex",
            &format!(": no {} or no {}", cli.display(), driver.display()),
        );
    }
    Some((node, cli))
}

/// Whether knex and `engine`'s driver are installed (no message, no panic).
pub fn have_knex(engine: Engine) -> bool {
    find_program("node").is_some()
        && Path::new(PEERS_DIR)
            .join("node_modules/knex/bin/cli.js")
            .is_file()
        && Path::new(PEERS_DIR)
            .join("node_modules")
            .join(knex_driver(engine))
            .is_dir()
}

/// The knexfile for `url`: client, connection, migrations folder (`.js` files only) and
/// knex's tracking table (`knex_migrations` unless `table` is given).
pub fn knexfile(engine: Engine, url: &str, migrations_dir: &Path, table: Option<&str>) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("a JSON string");
    let connection = match engine {
        Engine::Sqlite => {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let path = path.split('?').next().unwrap_or(path);
            format!("{{ filename: {} }}", json(path))
        }
        Engine::Postgres | Engine::Mysql => json(url),
    };
    let table = table
        .map(|t| format!("\n    tableName: {},", json(t)))
        .unwrap_or_default();
    format!(
        "module.exports = {{\n  client: {client},\n  connection: {connection},\n  useNullAsDefault: true,\n  migrations: {{\n    directory: {dir},\n    loadExtensions: ['.js'],{table}\n  }},\n}};\n",
        client = json(knex_driver(engine)),
        dir = json(&migrations_dir.to_string_lossy()),
    )
}

/// `knex <command>` (`migrate:latest`, `migrate:rollback`, ...) on `url` with the JavaScript
/// migrations of `migrations_dir`, through a knexfile written for the run.
pub fn knex_migrate(
    engine: Engine,
    url: &str,
    migrations_dir: &Path,
    command: &str,
) -> Option<PeerRun> {
    knex_migrate_with_table(engine, url, migrations_dir, None, command)
}

/// [`knex_migrate`] with knex's `migrations.tableName` set to `table`.
pub fn knex_migrate_with_table(
    engine: Engine,
    url: &str,
    migrations_dir: &Path,
    table: Option<&str>,
    command: &str,
) -> Option<PeerRun> {
    let (node, cli) = knex_cli(engine)?;
    let dir = tempfile::tempdir().expect("a folder for the knexfile");
    let file = dir.path().join("knexfile.js");
    std::fs::write(&file, knexfile(engine, url, migrations_dir, table)).expect("the knexfile");
    let mut cmd = Command::new(node);
    cmd.arg(cli)
        .arg(command)
        .arg("--knexfile")
        .arg(&file)
        // knex looks for a local knex next to the knexfile; ours lives in PEERS_DIR.
        .env("KNEX_PATH", Path::new(PEERS_DIR).join("node_modules/knex"))
        .env("NODE_ENV", "development");
    Some(run(cmd, dir.path()))
}

// ---------------------------------------------------------------------------------------
// sqlx-cli

/// The `sqlx` program if it is sqlx-cli 0.9, else `None` (skipped, or a panic under CI).
fn sqlx_cli() -> Option<PathBuf> {
    let Some(sqlx) = find_program("sqlx") else {
        return missing("sqlx-cli 0.9", "");
    };
    match version_of(&sqlx) {
        Some(v) if v.trim_start().starts_with("sqlx-cli 0.9.") => Some(sqlx),
        other => missing(
            "sqlx-cli 0.9",
            &format!(": {} --version says {other:?}", sqlx.display()),
        ),
    }
}

/// Whether sqlx-cli 0.9 is installed (no message, no panic).
pub fn have_sqlx() -> bool {
    find_program("sqlx")
        .and_then(|p| version_of(&p))
        .is_some_and(|v| v.trim_start().starts_with("sqlx-cli 0.9."))
}

/// `url` as sqlx-cli wants it: a SQLite URL gets `?mode=rwc`, since sqlx opens an SQLite
/// file read-write without creating it and fails on a missing one ("unable to open database
/// file").
pub fn sqlx_url(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains('?') {
        format!("{url}?mode=rwc")
    } else {
        url.to_string()
    }
}

/// `sqlx migrate <command> --source <source> --database-url <url>` (`run`, `revert`,
/// `info`), run in `source`'s parent so that no `sqlx.toml` or `.env` of this repository is
/// read.
pub fn sqlx_migrate(url: &str, source: &Path, command: &str) -> Option<PeerRun> {
    let sqlx = sqlx_cli()?;
    let mut cmd = Command::new(sqlx);
    cmd.args(["migrate", command, "--source"])
        .arg(source)
        .arg("--database-url")
        .arg(sqlx_url(url));
    Some(run(cmd, source.parent().unwrap_or(source)))
}

// ---------------------------------------------------------------------------------------
// diesel_cli

/// The backends `diesel --version` lists ("Supported Backends: postgres sqlite").
fn diesel_backends(diesel: &Path) -> Option<String> {
    let version = version_of(diesel)?;
    version
        .lines()
        .find_map(|l| l.trim().strip_prefix("Supported Backends:"))
        .map(str::to_string)
}

fn diesel_backend(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "postgres",
        Engine::Mysql => "mysql",
        Engine::Sqlite => "sqlite",
    }
}

/// Whether diesel_cli with `engine`'s backend is installed (no message, no panic).
pub fn have_diesel(engine: Engine) -> bool {
    find_program("diesel")
        .and_then(|p| diesel_backends(&p))
        .is_some_and(|b| b.split_whitespace().any(|b| b == diesel_backend(engine)))
}

/// `diesel migration <command> --migration-dir <dir> --database-url <url>` (`run`,
/// `revert`, `list`), run in `dir`'s parent. diesel_cli is installed with the `postgres` and
/// `sqlite` backends only (`mysql` wants libmysqlclient): on MySQL this is a skip.
pub fn diesel_migrate(url: &str, dir: &Path, command: &str) -> Option<PeerRun> {
    let engine = if url.starts_with("postgres") {
        Engine::Postgres
    } else if url.starts_with("mysql") {
        Engine::Mysql
    } else {
        Engine::Sqlite
    };
    let Some(diesel) = find_program("diesel") else {
        return missing("diesel_cli", "");
    };
    let backends = diesel_backends(&diesel).unwrap_or_default();
    if !backends
        .split_whitespace()
        .any(|b| b == diesel_backend(engine))
    {
        return missing(
            &format!("diesel_cli with the {} backend", diesel_backend(engine)),
            &format!(": it supports {backends:?}"),
        );
    }
    let mut cmd = Command::new(diesel);
    cmd.args(["migration", command, "--migration-dir"])
        .arg(dir)
        .arg("--database-url")
        .arg(url);
    Some(run(cmd, dir.parent().unwrap_or(dir)))
}
