//! Fleets: one database definition run on many tenants, on real servers. PostgreSQL with
//! schema tenants and with database tenants listed by a control database, MariaDB with
//! database tenants listed by a control database, SQLite with file tenants listed in a
//! file. Each kind goes through the same scenarios: apply, status, rollback, a canary
//! stopping on a broken tenant, a failed tenant not stopping the others, a runner killed
//! mid-fleet and its rerun, and three runners started at once.

use std::path::Path;
use std::process::{Child, Command as Process, Output, Stdio};
use std::time::{Duration, Instant};

use dbgen_testkit::{Engine, TestDb, write};
use tempfile::TempDir;

/// How the tenants are listed and where they live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// PostgreSQL schemas `tenant_N` of one database, `schemas = { like = ... }`.
    Schemas,
    /// Databases on the control database's server, listed by a query on it: PostgreSQL
    /// rows give URLs, MariaDB rows give database names.
    Query(Engine),
    /// SQLite files listed in `tenants.txt`.
    File,
}

impl Kind {
    fn engine(self) -> Engine {
        match self {
            Kind::Schemas => Engine::Postgres,
            Kind::Query(engine) => engine,
            Kind::File => Engine::Sqlite,
        }
    }
}

enum Place {
    Schema(String),
    Database(TestDb),
}

struct Tenant {
    name: String,
    place: Place,
}

/// A project whose database `shard` has tenants.
struct Fleet {
    kind: Kind,
    dir: TempDir,
    /// The schemas' database, or the control database.
    host: Option<TestDb>,
    tenants: Vec<Tenant>,
}

const V1: i64 = 20250101000000;
const V2: i64 = 20250102000000;
const V3: i64 = 20250103000000;

impl Fleet {
    /// `n` tenants, whose second migration takes about `slow_secs`.
    fn new(kind: Kind, n: usize, slow_secs: f64) -> Option<Self> {
        let engine = kind.engine();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "dbgen.toml", "");
        let host = match kind {
            Kind::File => None,
            _ => Some(TestDb::create(engine)?),
        };
        let tenants_toml = match kind {
            Kind::Schemas => "schemas = { like = \"tenant\\\\_%\" }\n".to_string(),
            Kind::Query(_) => {
                write(
                    root,
                    "database/control/database.toml",
                    &format!("driver = \"{}\"\n", engine.driver()),
                );
                write(
                    root,
                    "database/control/migrations/20240101000000_tenants.up.sql",
                    "CREATE TABLE tenants (name VARCHAR(100) NOT NULL, place VARCHAR(400));\n",
                );
                "query = { database = \"control\", sql = \"SELECT name, place FROM tenants ORDER BY name\" }\n".to_string()
            }
            Kind::File => "file = \"tenants.txt\"\n".to_string(),
        };
        write(
            root,
            "database/shard/database.toml",
            &format!(
                "driver = \"{}\"\n\n[tenants]\n{tenants_toml}",
                engine.driver()
            ),
        );
        let slow = match (engine, slow_secs) {
            (_, s) if s <= 0.0 => "SELECT 1;\n".to_string(),
            (Engine::Postgres, s) => format!("SELECT pg_sleep({s});\n"),
            (Engine::Mysql, s) => format!("SELECT SLEEP({s});\n"),
            // About a second per 4 million rows in a debug build.
            (Engine::Sqlite, s) => format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {}) SELECT count(*) FROM c;\n",
                (s * 4_000_000.0) as i64
            ),
        };
        for (version, up, down) in [
            (
                V1,
                "CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(50));\n".to_string(),
                "DROP TABLE items;\n",
            ),
            (V2, slow, "SELECT 1;\n"),
            (
                V3,
                "INSERT INTO items (id, note) VALUES (1, 'one');\n".to_string(),
                "DELETE FROM items WHERE id = 1;\n",
            ),
        ] {
            let base = format!("database/shard/migrations/{version}_m{version}");
            write(root, &format!("{base}.up.sql"), &up);
            write(root, &format!("{base}.down.sql"), down);
        }
        let mut env = String::new();
        if let Some(host) = &host {
            env.push_str(&format!(
                "SHARD_DB_URL={}\nCONTROL_DB_URL={}\n",
                host.url, host.url
            ));
        }
        write(root, ".env", &env);
        let mut fleet = Fleet {
            kind,
            dir,
            host,
            tenants: Vec::new(),
        };
        if let Kind::Query(_) = kind {
            fleet.expect(&["migrate", "latest", "control"], 0);
        }
        for i in 1..=n {
            fleet.add_tenant(&format!("tenant_{i}"))?;
        }
        Some(fleet)
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self) -> &TestDb {
        self.host.as_ref().expect("a host database")
    }

    /// A new tenant, listed where this kind lists them.
    fn add_tenant(&mut self, name: &str) -> Option<()> {
        let place = match self.kind {
            Kind::Schemas => {
                self.host().execute(&format!("CREATE SCHEMA {name}"));
                Place::Schema(name.to_string())
            }
            Kind::Query(engine) => {
                let db = TestDb::create(engine)?;
                let place = match engine {
                    // A URL of its own.
                    Engine::Postgres => db.url.clone(),
                    // A database name on the control database's server.
                    _ => db
                        .url
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .split('?')
                        .next()
                        .unwrap()
                        .to_string(),
                };
                self.host().execute(&format!(
                    "INSERT INTO tenants (name, place) VALUES ('{name}', '{place}')"
                ));
                Place::Database(db)
            }
            Kind::File => {
                let db = TestDb::create(Engine::Sqlite)?;
                let list = self.root().join("tenants.txt");
                let mut text = std::fs::read_to_string(&list).unwrap_or_default();
                text.push_str(&format!("{name} {}\n", db.url));
                std::fs::write(list, text).unwrap();
                Place::Database(db)
            }
        };
        self.tenants.push(Tenant {
            name: name.to_string(),
            place,
        });
        Some(())
    }

    fn command(&self, args: &[&str]) -> Process {
        let mut cmd = Process::new(assert_cmd::cargo::cargo_bin("dbgen"));
        cmd.current_dir(self.root()).env("NO_COLOR", "1").args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().contains("_DB_") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs; asserts the exit code; returns stdout and stderr together.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "{args:?}:\n{text}");
        text
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Rows of `sql` on tenant `t`; `{s}` in it is the tenant's schema prefix (`"tenant_1".`).
    fn query(&self, t: &Tenant, sql: &str) -> Vec<Vec<Option<String>>> {
        match &t.place {
            Place::Schema(schema) => self
                .host()
                .query_strings(&sql.replace("{s}", &format!("\"{schema}\"."))),
            Place::Database(db) => db.query_strings(&sql.replace("{s}", "")),
        }
    }

    fn tables(&self, t: &Tenant) -> Vec<String> {
        match &t.place {
            Place::Schema(schema) => self
                .host()
                .query_strings(&format!(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = '{schema}' ORDER BY 1"
                ))
                .into_iter()
                .filter_map(|mut r| r.remove(0))
                .collect(),
            Place::Database(db) => db.tables(),
        }
    }

    /// (version, execution_ms) of the tenant's tracking rows.
    fn rows(&self, t: &Tenant) -> Vec<(i64, i64)> {
        if !self.tables(t).iter().any(|n| n == "dbgen_migrations") {
            return Vec::new();
        }
        self.query(
            t,
            "SELECT CAST(version AS CHAR(20)), CAST(execution_ms AS CHAR(20)) FROM {s}dbgen_migrations ORDER BY version",
        )
        .into_iter()
        .map(|r| {
            let n = |i: usize| r[i].as_deref().unwrap().trim().parse::<i64>().unwrap();
            (n(0), n(1))
        })
        .collect()
    }

    /// Every migration recorded and finished (MariaDB records one before it runs).
    fn is_complete(&self, t: &Tenant) -> bool {
        let rows = self.rows(t);
        rows.len() == 3 && rows.iter().all(|(_, ms)| *ms >= 0)
    }

    fn versions(&self, t: &Tenant) -> Vec<i64> {
        self.rows(t).into_iter().map(|(v, _)| v).collect()
    }

    /// Rows in `items`; `None` without the table.
    fn items(&self, t: &Tenant) -> Option<i64> {
        if !self.tables(t).iter().any(|n| n == "items") {
            return None;
        }
        let rows = self.query(t, "SELECT CAST(COUNT(*) AS CHAR(20)) FROM {s}items");
        Some(rows[0][0].as_deref().unwrap().trim().parse().unwrap())
    }

    /// Fully migrated, once: three rows, the table, its one row.
    fn assert_complete(&self, t: &Tenant) {
        assert_eq!(self.versions(t), vec![V1, V2, V3], "{}", t.name);
        assert!(
            self.rows(t).iter().all(|(_, ms)| *ms >= 0),
            "{}: {:?}",
            t.name,
            self.rows(t)
        );
        assert_eq!(self.items(t), Some(1), "{}", t.name);
    }

    /// Untouched: no row, no table.
    fn assert_untouched(&self, t: &Tenant) {
        assert_eq!(self.versions(t), Vec::<i64>::new(), "{}", t.name);
        assert_eq!(self.items(t), None, "{}", t.name);
    }

    /// Makes the tenant's first migration fail: its table is there already.
    fn break_tenant(&self, t: &Tenant) {
        match &t.place {
            Place::Schema(schema) => self
                .host()
                .execute(&format!("CREATE TABLE \"{schema}\".items (x INT)")),
            Place::Database(db) => db.execute("CREATE TABLE items (x INT)"),
        }
    }
}

fn apply_status_rollback(kind: Kind) {
    let Some(fleet) = Fleet::new(kind, 3, 0.0) else {
        return;
    };
    // A database with tenants is not run as one by mistake.
    let out = fleet.expect(&["migrate", "latest", "shard"], 2);
    assert!(out.contains("`shard` has tenants: pass --tenants"), "{out}");
    fleet.tenants.iter().for_each(|t| fleet.assert_untouched(t));

    let out = fleet.expect(
        &["migrate", "status", "shard", "--tenants", "--exit-code"],
        3,
    );
    assert!(
        out.contains("shard: 3 tenants: 0 up to date, 3 behind"),
        "{out}"
    );

    let out = fleet.expect(
        &["migrate", "latest", "shard", "--tenants", "--jobs", "2"],
        0,
    );
    assert!(out.contains("shard: 3 tenants: 3 migrated"), "{out}");
    for t in &fleet.tenants {
        assert!(
            out.contains(&format!("shard/{}: batch 1 applied: 3 migrations", t.name)),
            "{out}"
        );
        fleet.assert_complete(t);
    }
    // A rerun costs one check per tenant and changes nothing.
    let out = fleet.expect(&["migrate", "latest", "shard", "--tenants"], 0);
    assert!(
        out.contains("shard: 3 tenants: 3 already up to date"),
        "{out}"
    );

    let out = fleet.expect(
        &["migrate", "status", "shard", "--tenants", "--exit-code"],
        0,
    );
    assert!(
        out.contains(&format!("shard: 3 tenants: 3 up to date, 0 behind, 0 failed, 0 interrupted, 0 modified; newest applied version {V3} everywhere")),
        "{out}"
    );
    let out = fleet.run(&["migrate", "status", "shard", "--tenants", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 3, "{json}");
    assert!(
        items
            .iter()
            .all(|i| i["state"] == "up to date" && i["applied"] == 3),
        "{json}"
    );

    // One tenant rolled back: the fleet is behind, and says which tenant.
    let second = &fleet.tenants[1];
    let out = fleet.expect(
        &["migrate", "rollback", "shard", "--tenant", &second.name],
        0,
    );
    assert!(
        out.contains(&format!("shard/{}: rolled back 3 migrations", second.name)),
        "{out}"
    );
    fleet.assert_untouched(second);
    fleet.assert_complete(&fleet.tenants[0]);
    let out = fleet.expect(
        &["migrate", "status", "shard", "--tenants", "--exit-code"],
        3,
    );
    assert!(out.contains("2 up to date, 1 behind"), "{out}");
    let behind_line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&second.name))
        .unwrap_or_default();
    assert!(behind_line.contains("behind"), "{out}");

    // The rest roll back together.
    let out = fleet.expect(
        &["migrate", "rollback", "shard", "--tenants", "--jobs", "3"],
        0,
    );
    assert!(
        out.contains("2 rolled back, 1 nothing to roll back"),
        "{out}"
    );
    fleet.tenants.iter().for_each(|t| fleet.assert_untouched(t));

    // An unknown tenant is a usage error that lists them.
    let out = fleet.expect(&["migrate", "latest", "shard", "--tenant", "nobody"], 2);
    assert!(
        out.contains("shard has no tenant `nobody`; its 3 tenants: tenant_1, tenant_2, tenant_3"),
        "{out}"
    );
    fleet.tenants.iter().for_each(|t| fleet.assert_untouched(t));
}

fn canary_stops_on_a_broken_tenant(kind: Kind) {
    let Some(fleet) = Fleet::new(kind, 4, 0.0) else {
        return;
    };
    fleet.break_tenant(&fleet.tenants[1]);
    let out = fleet.expect(
        &[
            "migrate",
            "latest",
            "shard",
            "--tenants",
            "--canary",
            "2",
            "--jobs",
            "4",
        ],
        1,
    );
    assert!(
        out.contains("canary tenant_2 failed: stopped before the other 2 tenants"),
        "{out}"
    );
    assert!(out.contains("shard/tenant_2: error:"), "{out}");
    fleet.assert_complete(&fleet.tenants[0]);
    for t in &fleet.tenants[1..] {
        assert_eq!(
            fleet.versions(t),
            Vec::<i64>::new(),
            "{} was touched:\n{out}",
            t.name
        );
    }
}

fn a_failed_tenant_does_not_stop_the_others(kind: Kind) {
    let Some(fleet) = Fleet::new(kind, 4, 0.0) else {
        return;
    };
    fleet.break_tenant(&fleet.tenants[1]);
    let out = fleet.expect(
        &["migrate", "latest", "shard", "--tenants", "--jobs", "2"],
        1,
    );
    assert!(out.contains("shard: 4 tenants: "), "{out}");
    assert!(out.contains("3 migrated"), "{out}");
    assert!(out.contains("1 failed (tenant_2)"), "{out}");
    for (i, t) in fleet.tenants.iter().enumerate() {
        if i == 1 {
            assert!(
                fleet.versions(t).is_empty() || kind.engine() == Engine::Mysql,
                "{out}"
            );
        } else {
            fleet.assert_complete(t);
        }
    }
    let out = fleet.expect(
        &["migrate", "status", "shard", "--tenants", "--exit-code"],
        3,
    );
    assert!(out.contains("3 up to date"), "{out}");
}

/// Any migration a killed MariaDB runner left interrupted, resolved by what the schema shows.
fn resolve_interrupted(fleet: &Fleet) {
    for t in &fleet.tenants {
        for (version, _) in fleet.rows(t).into_iter().filter(|(_, ms)| *ms < 0) {
            let done = match version {
                V1 => fleet.items(t).is_some(),
                V2 => true,
                _ => fleet.items(t) == Some(1),
            };
            let verdict = if done { "--applied" } else { "--reverted" };
            fleet.expect(
                &[
                    "migrate",
                    "resolve",
                    "shard",
                    &version.to_string(),
                    verdict,
                    "--tenant",
                    &t.name,
                ],
                0,
            );
        }
    }
}

fn resume_after_kill(kind: Kind) {
    let Some(fleet) = Fleet::new(kind, 6, 0.4) else {
        return;
    };
    let mut runner = fleet.spawn(&["migrate", "latest", "shard", "--tenants"]);
    // Killed once the first tenant is done, while the rest wait or run.
    let started = Instant::now();
    while !fleet.is_complete(&fleet.tenants[0]) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first tenant never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    runner.kill().unwrap();
    runner.wait().unwrap();
    // Let the servers notice the killed sessions.
    std::thread::sleep(Duration::from_millis(300));
    let done = fleet
        .tenants
        .iter()
        .filter(|t| fleet.is_complete(t))
        .count();
    assert!(
        done < fleet.tenants.len(),
        "the kill came after the whole fleet"
    );
    for t in &fleet.tenants {
        let rows = fleet.rows(t);
        if kind.engine() == Engine::Mysql {
            // No transactional DDL: each migration is recorded before it runs, so a state
            // halfway is an interrupted row that status names.
            let unfinished = rows.iter().filter(|(_, ms)| *ms < 0).count();
            assert!(unfinished <= 1, "{}: {rows:?}", t.name);
        } else {
            // One transaction per tenant: all of it, or nothing.
            match rows.len() {
                3 => fleet.assert_complete(t),
                0 => fleet.assert_untouched(t),
                _ => panic!("{} is half applied: {rows:?}", t.name),
            }
        }
    }
    if kind.engine() == Engine::Mysql {
        let out = fleet.expect(&["migrate", "status", "shard", "--tenants"], 0);
        let interrupted = fleet
            .tenants
            .iter()
            .filter(|t| fleet.rows(t).iter().any(|(_, ms)| *ms < 0))
            .count();
        assert!(out.contains(&format!("{interrupted} interrupted")), "{out}");
        resolve_interrupted(&fleet);
    }
    let out = fleet.expect(
        &["migrate", "latest", "shard", "--tenants", "--jobs", "3"],
        0,
    );
    // The tenants done before the kill cost one check (a MariaDB tenant resolved as
    // applied may join them).
    let up_to_date: usize = out
        .split(", ")
        .find_map(|part| part.trim().strip_suffix(" already up to date"))
        .and_then(|n| n.rsplit(' ').next())
        .map_or(0, |n| n.parse().unwrap());
    assert!(
        up_to_date >= done,
        "{done} were done before the kill:\n{out}"
    );
    fleet.tenants.iter().for_each(|t| fleet.assert_complete(t));
}

fn three_runners_at_once(kind: Kind) {
    let Some(fleet) = Fleet::new(kind, 8, 0.1) else {
        return;
    };
    let runners: Vec<Child> = (0..3)
        .map(|_| fleet.spawn(&["migrate", "latest", "shard", "--tenants", "--jobs", "2"]))
        .collect();
    let outputs: Vec<Output> = runners
        .into_iter()
        .map(|r| r.wait_with_output().unwrap())
        .collect();
    let mut all = String::new();
    for out in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{text}");
        all.push_str(&text);
    }
    for t in &fleet.tenants {
        fleet.assert_complete(t);
        let applied = all
            .lines()
            .filter(|l| l.starts_with(&format!("shard/{}: batch 1 applied", t.name)))
            .count();
        assert_eq!(applied, 1, "{} migrated {applied} times:\n{all}", t.name);
    }
}

fn a_tenant_added_to_the_control_table_is_picked_up(kind: Kind) {
    let Some(mut fleet) = Fleet::new(kind, 2, 0.0) else {
        return;
    };
    fleet.expect(&["migrate", "latest", "shard", "--tenants"], 0);
    fleet.add_tenant("tenant_9").unwrap();
    let out = fleet.expect(&["migrate", "latest", "shard", "--tenants"], 0);
    assert!(
        out.contains("shard/tenant_9: batch 1 applied: 3 migrations"),
        "{out}"
    );
    assert!(
        out.contains("shard: 3 tenants: 1 migrated, 2 already up to date"),
        "{out}"
    );
    fleet.tenants.iter().for_each(|t| fleet.assert_complete(t));
}

macro_rules! scenarios {
    ($($module:ident: $kind:expr;)*) => {$(
        mod $module {
            use super::*;

            #[test]
            fn apply_status_rollback() {
                super::apply_status_rollback($kind)
            }

            #[test]
            fn canary_stops_on_a_broken_tenant() {
                super::canary_stops_on_a_broken_tenant($kind)
            }

            #[test]
            fn a_failed_tenant_does_not_stop_the_others() {
                super::a_failed_tenant_does_not_stop_the_others($kind)
            }

            #[test]
            fn resume_after_kill() {
                super::resume_after_kill($kind)
            }

            #[test]
            fn three_runners_at_once() {
                super::three_runners_at_once($kind)
            }
        }
    )*};
}

scenarios! {
    postgres_schemas: Kind::Schemas;
    postgres_databases: Kind::Query(Engine::Postgres);
    mariadb_databases: Kind::Query(Engine::Mysql);
    sqlite_files: Kind::File;
}

#[test]
fn postgres_a_tenant_added_to_the_control_table_is_picked_up() {
    a_tenant_added_to_the_control_table_is_picked_up(Kind::Query(Engine::Postgres));
}

#[test]
fn mariadb_a_tenant_added_to_the_control_table_is_picked_up() {
    a_tenant_added_to_the_control_table_is_picked_up(Kind::Query(Engine::Mysql));
}

#[test]
fn partitions_split_the_fleet_between_runners() {
    let Some(fleet) = Fleet::new(Kind::Schemas, 6, 0.0) else {
        return;
    };
    let first = fleet.expect(
        &[
            "migrate",
            "latest",
            "shard",
            "--tenants",
            "--partition",
            "1/2",
        ],
        0,
    );
    let second = fleet.expect(
        &[
            "migrate",
            "latest",
            "shard",
            "--tenants",
            "--partition",
            "2/2",
        ],
        0,
    );
    for t in &fleet.tenants {
        let line = format!("shard/{}: batch 1 applied", t.name);
        assert!(
            first.contains(&line) != second.contains(&line),
            "{}:\n{first}\n{second}",
            t.name
        );
        fleet.assert_complete(t);
    }
    let out = fleet.expect(
        &[
            "migrate",
            "latest",
            "shard",
            "--tenants",
            "--partition",
            "3/2",
        ],
        2,
    );
    assert!(out.contains("I runs from 1 to N"), "{out}");
}

#[test]
fn bad_tenant_lists_are_refused_by_name() {
    let Some(fleet) = Fleet::new(Kind::File, 1, 0.0) else {
        return;
    };
    write(fleet.root(), "tenants.txt", "acme\nacme\nbeta x y\n");
    let out = fleet.expect(&["migrate", "latest", "shard", "--tenants"], 1);
    assert!(out.contains("tenants.txt has bad lines"), "{out}");
    assert!(
        out.contains("line 2: tenant `acme` is listed twice"),
        "{out}"
    );
    assert!(out.contains("line 3: more than two fields"), "{out}");
    // A database without tenants cannot take the flags.
    write(
        fleet.root(),
        "database/plain/database.toml",
        "driver = \"sqlite\"\n",
    );
    let out = fleet.expect(&["migrate", "latest", "plain", "--tenants"], 2);
    assert!(out.contains("`plain` has no tenants"), "{out}");
    let out = fleet.expect(&["migrate", "latest", "plain", "--canary", "1"], 2);
    assert!(
        out.contains("--canary and --partition choose among tenants"),
        "{out}"
    );
    // `schemas` needs PostgreSQL.
    write(
        fleet.root(),
        "database/plain/database.toml",
        "driver = \"sqlite\"\n[tenants]\nschemas = \"SELECT 1\"\n",
    );
    let out = fleet.expect(&["migrate", "status", "plain", "--tenants"], 1);
    assert!(out.contains("`schemas` needs PostgreSQL"), "{out}");
}

#[test]
fn tenant_urls_never_show_their_password() {
    let Some(fleet) = Fleet::new(Kind::File, 0, 0.0) else {
        return;
    };
    write(
        fleet.root(),
        "tenants.txt",
        "acme postgres://someone:hunter2secret@127.0.0.1:1/acme\n",
    );
    let out = fleet.expect(&["migrate", "status", "shard", "--tenants"], 1);
    assert!(!out.contains("hunter2secret"), "{out}");
    assert!(out.contains("shard/acme: error: tenant `acme`: its URL postgres://someone:***@127.0.0.1:1/acme does not fit"), "{out}");
    let out = fleet.run(&["migrate", "status", "shard", "--tenants", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("hunter2secret") && text.contains("failed"),
        "{text}"
    );
    // Errors go to stderr: stdout stays one JSON document.
    let json: serde_json::Value = serde_json::from_str(&text).expect("stdout is JSON");
    assert_eq!(json[0]["tenant"], "acme", "{json}");
}

#[test]
fn postgres_schema_tenants_ignore_another_tools_history_in_public() {
    let Some(fleet) = Fleet::new(Kind::Schemas, 2, 0.0) else {
        return;
    };
    // The shared schema was migrated by sqlx; each tenant's own schema was not.
    fleet.host().execute(
        "CREATE TABLE public._sqlx_migrations (version BIGINT PRIMARY KEY); INSERT INTO public._sqlx_migrations VALUES (1);",
    );
    let out = fleet.expect(&["migrate", "status", "shard", "--tenants"], 0);
    assert!(!out.contains("sqlx's history"), "{out}");
    fleet.expect(&["migrate", "latest", "shard", "--tenants"], 0);
    fleet.tenants.iter().for_each(|t| fleet.assert_complete(t));
}

#[test]
fn seeds_baseline_and_single_steps_run_over_tenants_too() {
    let Some(fleet) = Fleet::new(Kind::File, 2, 0.0) else {
        return;
    };
    write(
        fleet.root(),
        "database/shard/seeds/01_items.sql",
        "INSERT INTO items (id, note) VALUES (2, 'seeded');\n",
    );
    // The schema is there already on tenant_1 (made by hand): baseline records it.
    let first = &fleet.tenants[0];
    fleet.break_tenant(first);
    let out = fleet.expect(
        &[
            "migrate",
            "baseline",
            "shard",
            "--to",
            &V1.to_string(),
            "--tenant",
            &first.name,
        ],
        0,
    );
    assert!(out.contains("shard/tenant_1: "), "{out}");
    assert_eq!(fleet.versions(first), vec![V1]);
    assert_eq!(fleet.versions(&fleet.tenants[1]), Vec::<i64>::new());

    // One step at a time, on every tenant.
    let out = fleet.expect(&["migrate", "up", "shard", "--tenants"], 0);
    assert!(out.contains("shard: 2 tenants: 2 migrated"), "{out}");
    assert_eq!(fleet.versions(first), vec![V1, V2]);
    assert_eq!(fleet.versions(&fleet.tenants[1]), vec![V1]);

    // tenant_1's table is the hand-made one, without `note`: its seed fails, and the other
    // tenant is seeded anyway.
    let out = fleet.expect(&["seed", "run", "shard", "--tenants"], 1);
    assert!(out.contains("1 seeded, 1 failed (tenant_1)"), "{out}");
    let second = &fleet.tenants[1];
    assert_eq!(fleet.items(second), Some(1));

    // Nothing is interrupted: resolve says so, for the tenant named.
    let out = fleet.expect(
        &[
            "migrate",
            "resolve",
            "shard",
            &V1.to_string(),
            "--applied",
            "--tenant",
            &second.name,
        ],
        1,
    );
    assert!(out.contains("shard/tenant_2: error:"), "{out}");
    assert!(out.contains("not interrupted"), "{out}");
}
