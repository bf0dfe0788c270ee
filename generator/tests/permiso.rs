//! The repository's own databases (`database/` at the repository root: permiso,
//! permiso-test, permiso-sqlite) end to end, through the real `dbgen` binary with `--root`
//! pointing at the repository, on real servers. Assertions read the catalogs (pg_tables,
//! pg_indexes, pg_policies, pg_class, pg_constraint, pg_roles, pg_shdepend, sqlite_master)
//! and log in as the roles the migrations create.
//!
//! Postgres roles belong to the whole server, so each test names its own pair through
//! RLS_DB_USER / UNRESTRICTED_DB_USER: the two databases of one test share them, as permiso
//! and permiso-test do, while tests running in parallel never meet. The roles are dropped
//! when the test ends.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dbgen_testkit::{Engine, TestDb};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const TRACKING: &str = "dbgen_migrations";
const INITIAL_SCHEMA: i64 = 20261125151012;
const ROW_LEVEL_SECURITY: i64 = 20261125151014;
const SQLITE_INITIAL_SCHEMA: i64 = 20261125151014;

const TABLES: [&str; 10] = [
    "organization",
    "organization_property",
    "resource",
    "role",
    "role_permission",
    "role_property",
    "user",
    "user_permission",
    "user_property",
    "user_role",
];
/// The tables with an org_id: row-level security, one `<table>_isolation` policy each.
const TENANT_TABLES: [&str; 8] = [
    "resource",
    "role",
    "role_permission",
    "role_property",
    "user",
    "user_permission",
    "user_property",
    "user_role",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn column(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter()
        .map(|mut row| row.remove(0).unwrap_or_default())
        .collect()
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

/// `dbgen --root <repository> ...`, with no `*_DB_*` variable of the host leaking in.
fn dbgen() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbgen"));
    cmd.arg("--root")
        .arg(Path::new(ROOT))
        .current_dir(std::env::temp_dir())
        .env("NO_COLOR", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().contains("_DB_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

struct Run(Output);

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[track_caller]
    fn code(self, code: i32) -> Self {
        assert_eq!(
            self.0.status.code(),
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    fn ok(self) -> Self {
        self.code(0)
    }
}

/// Two fresh databases on one Postgres server, for permiso and permiso-test, and the pair
/// of roles they share.
struct Server {
    permiso: TestDb,
    permiso_test: TestDb,
    rls_user: String,
    rls_password: String,
    unrestricted_user: String,
    unrestricted_password: String,
}

impl Server {
    fn new() -> Option<Self> {
        let permiso = TestDb::create(Engine::Postgres)?;
        let permiso_test = TestDb::create(Engine::Postgres)?;
        Some(Self {
            permiso,
            permiso_test,
            rls_user: unique("dbgen_rls"),
            // Quotes, a dollar sign and URL delimiters: the migration quotes the value itself.
            rls_password: "rls 'pw' $x@/1".into(),
            unrestricted_user: unique("dbgen_unr"),
            unrestricted_password: "unrestricted-pw".into(),
        })
    }

    /// dbgen with both databases' URLs and the roles' variables.
    fn command(&self) -> Command {
        let mut cmd = dbgen();
        cmd.env("PERMISO_DB_URL", &self.permiso.url)
            .env("PERMISO_TEST_DB_URL", &self.permiso_test.url)
            .env("RLS_DB_USER", &self.rls_user)
            .env("RLS_DB_USER_PASSWORD", &self.rls_password)
            .env("UNRESTRICTED_DB_USER", &self.unrestricted_user)
            .env("UNRESTRICTED_DB_USER_PASSWORD", &self.unrestricted_password);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run(self.command().args(args).output().expect("run dbgen"))
    }

    fn dbs(&self) -> [&TestDb; 2] {
        [&self.permiso, &self.permiso_test]
    }

    /// Rows of `sql` run as `user` (with `password`) on `db`; `setup` runs first, in the
    /// same session.
    fn as_role(
        &self,
        db: &TestDb,
        user: &str,
        password: &str,
        setup: &str,
        sql: &str,
    ) -> Result<Vec<String>, String> {
        db.try_script_at(&db.url_as(user, password), &format!("{setup}\n{sql}"))
            .map(column)
    }

    fn as_rls(&self, db: &TestDb, org: Option<&str>, sql: &str) -> Result<Vec<String>, String> {
        let setup = org
            .map(|org| format!("SET app.current_org_id = '{org}';"))
            .unwrap_or_default();
        self.as_role(db, &self.rls_user, &self.rls_password, &setup, sql)
    }

    /// How many catalog rows of the whole server depend on the test's roles: grants,
    /// ownerships, policies naming them, in any database.
    fn role_dependencies(&self) -> i64 {
        self.permiso.count(&format!(
            "SELECT COUNT(*) FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid \
             WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname IN ('{}', '{}')",
            self.rls_user, self.unrestricted_user
        ))
    }

    /// The same, for the objects of `db` alone (its tables, schema and the database itself).
    fn role_dependencies_in(&self, db: &TestDb) -> i64 {
        db.count(&format!(
            "SELECT COUNT(*) FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid \
             WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname IN ('{}', '{}') \
             AND (d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                  OR (d.classid = 'pg_database'::regclass \
                      AND d.objid = (SELECT oid FROM pg_database WHERE datname = current_database())))",
            self.rls_user, self.unrestricted_user
        ))
    }

    /// (name, can log in, superuser, bypasses RLS) of the test's roles that exist.
    fn roles(&self) -> Vec<String> {
        column(self.permiso.query_strings(&format!(
            "SELECT rolname::text || ' login=' || rolcanlogin::text || ' super=' || rolsuper::text \
             || ' bypassrls=' || rolbypassrls::text FROM pg_roles \
             WHERE rolname IN ('{}', '{}') ORDER BY rolname <> '{}'",
            self.rls_user, self.unrestricted_user, self.rls_user
        )))
    }

    fn expected_roles(&self) -> Vec<String> {
        vec![
            format!("{} login=true super=false bypassrls=false", self.rls_user),
            format!(
                "{} login=true super=false bypassrls=true",
                self.unrestricted_user
            ),
        ]
    }
}

impl Drop for Server {
    /// Best effort, and never a panic (this also runs while a failed test unwinds): take
    /// back what the roles hold in each database, then drop them. The databases themselves
    /// are dropped right after, by the test kit.
    fn drop(&mut self) {
        let (rls, unr) = (&self.rls_user, &self.unrestricted_user);
        let revoke = format!(
            "DO $$ BEGIN \
               IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{rls}') THEN DROP OWNED BY \"{rls}\"; END IF; \
               IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{unr}') THEN DROP OWNED BY \"{unr}\"; END IF; \
             END $$;"
        );
        for db in self.dbs() {
            let _ = db.try_script_at(&db.url, &revoke);
        }
        let _ = self.permiso.try_script_at(
            &self.permiso.url,
            &format!("DROP ROLE IF EXISTS \"{rls}\", \"{unr}\";"),
        );
    }
}

/// The first column of `sql`'s rows, sorted byte-wise (not by the server's collation).
fn names(db: &TestDb, sql: &str) -> Vec<String> {
    let mut names = column(db.query_strings(sql));
    names.sort();
    names
}

/// Everything `latest` builds is in `db`'s catalogs: tables, foreign keys, indexes, grants,
/// row-level security and its policies.
#[track_caller]
fn assert_migrated(server: &Server, db: &TestDb) {
    let mut tables = strings(&TABLES);
    tables.push(TRACKING.into());
    tables.sort();
    assert_eq!(db.tables(), tables);
    assert_eq!(
        db.tracking_rows(TRACKING),
        [(INITIAL_SCHEMA, 1), (ROW_LEVEL_SECURITY, 1)]
    );

    // Every foreign key cascades, and each carries org_id where the parent is keyed by it.
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' \
             AND connamespace = 'public'::regnamespace"
        ),
        12
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' \
             AND connamespace = 'public'::regnamespace AND confdeltype <> 'c'"
        ),
        0,
        "every foreign key is ON DELETE CASCADE"
    );

    assert_eq!(
        names(
            db,
            "SELECT tablename::text || ' ' || indexname::text FROM pg_indexes \
             WHERE schemaname = 'public' AND indexdef LIKE '%USING gin (value)%' ORDER BY 1"
        ),
        strings(&[
            "organization_property idx_organization_property_value",
            "role_property idx_role_property_value",
            "user_property idx_user_property_value",
        ])
    );
    assert_eq!(
        names(
            db,
            "SELECT tablename::text || ' ' || indexname::text FROM pg_indexes \
             WHERE schemaname = 'public' AND indexdef LIKE '%text_pattern_ops%' ORDER BY 1"
        ),
        strings(&["resource idx_resource_id_pattern"])
    );

    assert_eq!(
        names(
            db,
            "SELECT relname::text FROM pg_class WHERE relrowsecurity \
             AND relnamespace = 'public'::regnamespace ORDER BY 1"
        ),
        strings(&TENANT_TABLES)
    );
    let mut policies = db.query_strings(
        "SELECT tablename::text, policyname::text, cmd::text, roles::text, qual::text \
         FROM pg_policies WHERE schemaname = 'public'",
    );
    policies.sort();
    assert_eq!(policies.len(), 8, "{policies:?}");
    for (row, table) in policies.iter().zip(TENANT_TABLES) {
        let text = |i: usize| row[i].clone().unwrap_or_default();
        assert_eq!(text(0), table);
        assert_eq!(text(1), format!("{table}_isolation"));
        assert_eq!(text(2), "ALL");
        assert_eq!(text(3), "{public}");
        assert_eq!(
            text(4),
            "((org_id)::text = current_setting('app.current_org_id'::text, true))"
        );
    }

    // The grants, from the tables' access lists: the restricted role only reads the
    // organizations, and neither role may touch the tracking table.
    let all = "DELETE,INSERT,SELECT,UPDATE";
    let mut expected = Vec::new();
    for table in TABLES {
        let rls = if TENANT_TABLES.contains(&table) {
            all
        } else {
            "SELECT"
        };
        expected.push(format!("{table} {} {rls}", server.rls_user));
        expected.push(format!("{table} {} {all}", server.unrestricted_user));
    }
    expected.sort();
    assert_eq!(
        names(
            db,
            &format!(
                "SELECT c.relname::text || ' ' || r.rolname::text || ' ' \
                 || string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) \
                 FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a \
                 JOIN pg_roles r ON r.oid = a.grantee \
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' \
                 AND r.rolname IN ('{}', '{}') \
                 GROUP BY c.relname, r.rolname ORDER BY 1",
                server.rls_user, server.unrestricted_user
            )
        ),
        expected
    );
}

/// After `reset`: the tracking table alone, and nothing of the schema left in the catalogs.
#[track_caller]
fn assert_reset(db: &TestDb) {
    assert_eq!(db.tables(), [TRACKING]);
    assert!(db.tracking_rows(TRACKING).is_empty());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM pg_policies WHERE schemaname = 'public'"),
        0
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'public' \
             AND tablename <> 'dbgen_migrations'"
        ),
        0
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM pg_class WHERE relrowsecurity \
             AND relnamespace = 'public'::regnamespace"
        ),
        0
    );
}

/// Row counts of every table, in TABLES order.
fn row_counts(db: &TestDb) -> Vec<i64> {
    TABLES
        .iter()
        .map(|t| db.count(&format!("SELECT COUNT(*) FROM \"{t}\"")))
        .collect()
}

#[test]
fn permiso_and_permiso_test_share_roles_one_after_another() {
    let Some(server) = Server::new() else {
        return;
    };
    let run = server.run(&["migrate", "latest", "permiso"]).ok();
    assert!(
        run.stdout()
            .contains("permiso: batch 1 applied: 2 migrations"),
        "{}",
        run.stdout()
    );
    assert!(!run.stdout().contains(&server.rls_password));
    assert_migrated(&server, &server.permiso);
    assert_eq!(server.roles(), server.expected_roles());
    assert_eq!(server.permiso_test.tables(), Vec::<String>::new());

    // The second database finds the roles there and uses them.
    server.run(&["migrate", "latest", "permiso-test"]).ok();
    assert_migrated(&server, &server.permiso_test);
    assert_eq!(server.roles(), server.expected_roles());

    // Rolling permiso back leaves permiso-test and the shared roles working.
    let run = server.run(&["migrate", "reset", "permiso"]).ok();
    assert!(
        run.stdout().contains("permiso: rolled back 2 migrations"),
        "{}",
        run.stdout()
    );
    assert_reset(&server.permiso);
    assert_eq!(
        server.roles(),
        server.expected_roles(),
        "roles are not dropped"
    );
    assert_migrated(&server, &server.permiso_test);
    server.permiso_test.execute(
        "INSERT INTO organization VALUES ('o1', 'O1', NULL, 1, 1), ('o2', 'O2', NULL, 1, 1); \
         INSERT INTO role VALUES ('r', 'o1', 'R', NULL, 1, 1), ('r', 'o2', 'R', NULL, 1, 1);",
    );
    assert_eq!(
        server.as_rls(
            &server.permiso_test,
            Some("o1"),
            "SELECT org_id::text FROM role"
        ),
        Ok(strings(&["o1"]))
    );
    assert_eq!(
        server.role_dependencies_in(&server.permiso),
        0,
        "permiso took back its grants"
    );
    assert!(server.role_dependencies_in(&server.permiso_test) > 0);

    server.run(&["migrate", "reset", "permiso-test"]).ok();
    assert_reset(&server.permiso_test);
    assert_eq!(
        server.role_dependencies(),
        0,
        "after reset nothing of either database depends on the roles: they can be dropped"
    );
    assert_eq!(server.roles(), server.expected_roles());

    // And again, the roles being there from the start.
    server.run(&["migrate", "latest", "permiso"]).ok();
    server.run(&["migrate", "latest", "permiso-test"]).ok();
    for db in server.dbs() {
        assert_migrated(&server, db);
    }
}

#[test]
fn permiso_and_permiso_test_migrate_concurrently() {
    let Some(server) = Server::new() else {
        return;
    };
    // Both create the missing roles at once: the second waits for the first and uses them.
    let run = server
        .run(&[
            "migrate",
            "latest",
            "permiso",
            "permiso-test",
            "--jobs",
            "2",
        ])
        .ok();
    assert!(
        run.stdout().contains("2 databases: 2 ok"),
        "{}",
        run.stdout()
    );
    for db in server.dbs() {
        assert_migrated(&server, db);
    }
    assert_eq!(server.roles(), server.expected_roles());

    server
        .run(&["migrate", "reset", "permiso", "permiso-test", "--jobs", "2"])
        .ok();
    for db in server.dbs() {
        assert_reset(db);
    }
    assert_eq!(server.role_dependencies(), 0);

    server
        .run(&[
            "migrate",
            "latest",
            "permiso-test",
            "permiso",
            "--jobs",
            "2",
        ])
        .ok();
    for db in server.dbs() {
        assert_migrated(&server, db);
    }
    server
        .run(&[
            "migrate",
            "status",
            "permiso",
            "permiso-test",
            "--exit-code",
        ])
        .ok();
}

#[test]
fn a_role_created_meanwhile_by_another_database_is_used() {
    let Some(server) = Server::new() else {
        return;
    };
    // Another database's migration creates the restricted role and, before committing, waits
    // until some session is blocked on its transaction: dbgen's CREATE ROLE in permiso.
    let holder_db = &server.permiso_test;
    let holder_script = format!(
        "BEGIN;
         CREATE ROLE \"{}\" LOGIN;
         DO $$
         DECLARE deadline timestamptz := clock_timestamp() + interval '60 seconds';
         BEGIN
             WHILE NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid'
                               AND NOT granted AND transactionid::text = pg_current_xact_id()::text) LOOP
                 IF clock_timestamp() > deadline THEN
                     RAISE EXCEPTION 'no migration waited for the role';
                 END IF;
                 PERFORM pg_sleep(0.05);
             END LOOP;
         END $$;
         COMMIT;",
        server.rls_user
    );
    std::thread::scope(|scope| {
        let holder = scope.spawn(|| holder_db.try_script_at(&holder_db.url, &holder_script));
        // Wait until the holder has created the role and is polling.
        let started = Instant::now();
        while holder_db.count(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' \
             AND datname = current_database() AND pid <> pg_backend_pid()",
        ) == 0
        {
            assert!(!holder.is_finished(), "{:?}", holder.join());
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the holder never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let run = server.run(&["migrate", "latest", "permiso"]).ok();
        assert!(
            run.stdout().contains("batch 1 applied: 2 migrations"),
            "{}",
            run.stdout()
        );
        let held = holder.join().expect("holder thread");
        assert!(held.is_ok(), "the holder's transaction: {held:?}");
    });
    assert_migrated(&server, &server.permiso);
    assert_eq!(server.roles(), server.expected_roles());
}

#[test]
fn seeds_are_repeatable_and_row_level_security_isolates_organizations() {
    let Some(server) = Server::new() else {
        return;
    };
    server.run(&["migrate", "latest", "permiso"]).ok();
    let run = server.run(&["seed", "run", "permiso"]).ok();
    assert!(
        run.stdout().contains("permiso: ran 2 seeds"),
        "{}",
        run.stdout()
    );
    let first = row_counts(&server.permiso);
    assert_eq!(
        first,
        [2, 3, 5, 4, 11, 3, 4, 2, 4, 4],
        "rows per table: {TABLES:?}"
    );
    server.run(&["seed", "run", "permiso"]).ok();
    assert_eq!(
        row_counts(&server.permiso),
        first,
        "a second run adds nothing"
    );
    let dump = "SELECT string_agg(t::text, ';' ORDER BY t::text) FROM role_permission t";
    let before = server.permiso.query_strings(dump);
    server
        .run(&["seed", "run", "permiso", "--specific", "02_demo_access"])
        .ok();
    assert_eq!(server.permiso.query_strings(dump), before);

    let db = &server.permiso;
    // The restricted role logs in with RLS_DB_USER_PASSWORD and sees one organization's rows.
    let roles_of = |org: Option<&str>| {
        server.as_rls(
            db,
            org,
            "SELECT id::text || '@' || org_id::text FROM role ORDER BY 1",
        )
    };
    assert_eq!(roles_of(None), Ok(vec![]), "no organization set: no rows");
    assert_eq!(
        roles_of(Some("acme")),
        Ok(strings(&["admin@acme", "editor@acme", "viewer@acme"]))
    );
    assert_eq!(roles_of(Some("globex")), Ok(strings(&["admin@globex"])));
    for table in TENANT_TABLES {
        let acme = db.count(&format!(
            "SELECT COUNT(*) FROM \"{table}\" WHERE org_id = 'acme'"
        ));
        assert!(acme > 0, "{table}");
        let sql = format!(
            "SELECT COUNT(*) FILTER (WHERE org_id = 'acme')::text || ' of ' || COUNT(*)::text \
             FROM \"{table}\""
        );
        assert_eq!(
            server.as_rls(db, Some("acme"), &sql),
            Ok(vec![format!("{acme} of {acme}")]),
            "{table}: acme's rows, all of them, and no other"
        );
    }
    // Prefix queries, the text_pattern_ops index's use.
    assert_eq!(
        server.as_rls(
            db,
            Some("acme"),
            "SELECT id::text FROM resource WHERE id LIKE '/projects/apollo%' ORDER BY 1"
        ),
        Ok(strings(&["/projects/apollo", "/projects/apollo/docs"]))
    );
    // Writes are checked too: no row for another organization, none without one.
    let err = server
        .as_rls(
            db,
            Some("acme"),
            "INSERT INTO role VALUES ('spy', 'globex', 'Spy', NULL, 1, 1)",
        )
        .expect_err("a row of another organization");
    assert!(err.contains("row-level security"), "{err}");
    assert_eq!(
        server.as_rls(
            db,
            Some("acme"),
            "UPDATE role SET name = 'x' WHERE org_id = 'globex' RETURNING id::text"
        ),
        Ok(vec![])
    );
    let err = server
        .as_rls(
            db,
            Some("acme"),
            "DELETE FROM organization WHERE id = 'globex'",
        )
        .expect_err("organizations are read-only to the restricted role");
    assert!(err.contains("permission denied"), "{err}");
    assert_eq!(
        server.as_rls(
            db,
            Some("acme"),
            "SELECT id::text FROM organization ORDER BY 1"
        ),
        Ok(strings(&["acme", "globex"]))
    );

    // The unrestricted role sees every organization's rows.
    assert_eq!(
        server.as_role(
            db,
            &server.unrestricted_user,
            &server.unrestricted_password,
            "",
            "SELECT COUNT(*)::text FROM role"
        ),
        Ok(strings(&["4"]))
    );

    // The passwords are stored; a server that checks passwords (not `trust`) refuses a wrong one.
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM pg_authid WHERE rolname IN ('{}', '{}') AND rolpassword IS NOT NULL",
            server.rls_user, server.unrestricted_user
        )),
        2
    );
    if let Err(err) = server.as_role(db, &server.rls_user, "wrong", "", "SELECT 1::text") {
        assert!(err.contains("password authentication failed"), "{err}");
    }

    // Deleting an organization deletes everything of it, down every foreign key.
    db.execute("DELETE FROM organization WHERE id = 'acme'");
    assert_eq!(row_counts(db), [1, 1, 1, 1, 2, 1, 1, 0, 1, 1]);
}

#[test]
fn a_missing_password_stops_before_anything_runs_and_dry_runs_show_placeholders() {
    let Some(server) = Server::new() else {
        return;
    };
    let run = Run(server
        .command()
        .env_remove("RLS_DB_USER_PASSWORD")
        .args(["migrate", "latest", "permiso"])
        .output()
        .expect("run dbgen"))
    .code(1);
    assert!(
        run.stderr().contains(
            "placeholder `${rls_password}` reads environment variable RLS_DB_USER_PASSWORD"
        ),
        "{}",
        run.stderr()
    );
    assert!(server.permiso.tables().is_empty(), "nothing ran");

    let run = server
        .run(&["migrate", "latest", "permiso-test", "--dry-run"])
        .ok();
    assert!(
        run.stdout().contains("$v$${rls_password}$v$"),
        "{}",
        run.stdout()
    );
    assert!(!run.stdout().contains(&server.rls_password));
    assert!(server.permiso_test.tables().is_empty());
    assert!(server.roles().is_empty(), "a dry run creates no role");
}

#[test]
fn permiso_sqlite_latest_reset_latest_and_repeatable_seeds() {
    let db = TestDb::create(Engine::Sqlite).expect("SQLite needs no server");
    let run = |args: &[&str]| {
        Run(dbgen()
            .env("PERMISO_SQLITE_DB_URL", &db.url)
            .args(args)
            .output()
            .expect("run dbgen"))
        .ok()
    };
    let mut tables = strings(&TABLES);
    tables.push(TRACKING.into());
    tables.sort();

    run(&["migrate", "latest", "permiso-sqlite"]);
    assert_eq!(db.tables(), tables);
    assert_eq!(db.tracking_rows(TRACKING), [(SQLITE_INITIAL_SCHEMA, 1)]);
    assert_eq!(
        names(
            &db,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY 1",
        ),
        strings(&[
            "idx_resource_org_id",
            "idx_role_org_id",
            "idx_role_permission_resource",
            "idx_user_identity",
            "idx_user_org_id",
            "idx_user_permission_resource",
            "idx_user_role_role",
        ])
    );
    let cascades = names(
        &db,
        "SELECT m.name || '.' || f.\"table\" || ':' || f.on_delete FROM sqlite_master m, \
         pragma_foreign_key_list(m.name) f WHERE m.type = 'table' GROUP BY m.name, f.id ORDER BY 1",
    );
    assert_eq!(cascades.len(), 12, "{cascades:?}");
    assert!(
        cascades.iter().all(|c| c.ends_with(":CASCADE")),
        "{cascades:?}"
    );

    run(&["migrate", "reset", "permiso-sqlite"]);
    assert_eq!(db.tables(), [TRACKING]);
    assert!(db.tracking_rows(TRACKING).is_empty());
    run(&["migrate", "latest", "permiso-sqlite"]);
    assert_eq!(db.tables(), tables);

    let out = run(&["seed", "run", "permiso-sqlite"]);
    assert!(
        out.stdout().contains("permiso-sqlite: ran 2 seeds"),
        "{}",
        out.stdout()
    );
    let first = row_counts(&db);
    assert_eq!(
        first,
        [2, 3, 5, 4, 11, 3, 4, 2, 4, 4],
        "the same rows as permiso's"
    );
    run(&["seed", "run", "permiso-sqlite"]);
    assert_eq!(row_counts(&db), first, "a second run adds nothing");
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM user_property \
             WHERE json_extract(value, '$.method') = 'totp' AND hidden = 1"
        ),
        1
    );
    // With foreign keys on (as sqlx connects), deleting an organization cascades.
    db.execute("PRAGMA foreign_keys = ON; DELETE FROM organization WHERE id = 'acme';");
    assert_eq!(row_counts(&db), [1, 1, 1, 1, 2, 1, 1, 0, 1, 1]);
}
