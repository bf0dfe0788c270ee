//! Issue 15: an application scaffolded by `dbgen new` tests against fresh, fully migrated
//! databases with `#[dbgen_runtime::test]` and `testing::fresh`: each test sees an empty
//! database, no test database is left on the server after the run (only the template), a
//! failing test keeps its database and says how to reach it, two test processes at once
//! build the template once, and a changed migration gives a new template and drops the old.
//!
//! Heavy: builds a real project in `target/derive-project` (shared with derive_project.rs).

mod common;

use std::path::Path;
use std::process::Command;

use common::app::{cargo, new_app, output, show, workspace, write};
use dbgen_testkit::{Engine, TestDb};

/// `cargo test` in the app, with the servers' variables and none of the host's `*_DB_*`.
fn cargo_test(project: &Path, server: &str, extra: &[(&str, &str)]) -> Command {
    let mysql = std::env::var("DBGEN_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into());
    let mut cmd = cargo(project, "test");
    cmd.env("DBGEN_TEST_POSTGRES_URL", server)
        .env("DBGEN_TEST_MYSQL_URL", mysql)
        .env_remove("DBGEN_TEST_DATABASE_URL")
        .envs(extra.iter().copied());
    cmd
}

const TESTS: &str = r#"
#[cfg(test)]
mod tests {
    use crate::databases::Database;
    // The sqlx dbgen is built with: no sqlx dependency of the app's own.
    use dbgen_runtime::sqlx;

    async fn count(pool: &sqlx::PgPool) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM customers").fetch_one(pool).await.unwrap()
    }

    // Each test inserts a row: every one must still find the table empty.
    #[dbgen_runtime::test(Database::Tplshop)]
    async fn first(pool: sqlx::PgPool) {
        assert_eq!(count(&pool).await, 0);
        sqlx::query("INSERT INTO customers (name) VALUES ('a')").execute(&pool).await.unwrap();
    }

    #[dbgen_runtime::test(Database::Tplshop)]
    async fn second(pool: sqlx::PgPool) {
        assert_eq!(count(&pool).await, 0);
        sqlx::query("INSERT INTO customers (name) VALUES ('b')").execute(&pool).await.unwrap();
    }

    #[dbgen_runtime::test(Database::Tplshop)]
    async fn third(pool: sqlx::PgPool) -> Result<(), sqlx::Error> {
        assert_eq!(count(&pool).await, 0);
        sqlx::query("INSERT INTO customers (name) VALUES ('c')").execute(&pool).await?;
        Ok(())
    }

    #[tokio::test]
    async fn by_function() {
        let db = dbgen_runtime::testing::fresh(Database::Tplshop).await.unwrap();
        let pool = db.pool().as_postgres().unwrap();
        assert_eq!(count(pool).await, 0);
        sqlx::query("INSERT INTO customers (name) VALUES ('d')").execute(pool).await.unwrap();
        assert!(db.name().starts_with("dbgen_test_tplshop_"), "{}", db.name());
    }

    #[dbgen_runtime::test(Database::Tplmy)]
    async fn mysql_too(pool: sqlx::MySqlPool) {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 0);
        sqlx::query("INSERT INTO orders (id) VALUES (1)").execute(&pool).await.unwrap();
    }

    #[dbgen_runtime::test(Database::Tplmy)]
    async fn mysql_again(pool: sqlx::MySqlPool) {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 0);
        sqlx::query("INSERT INTO orders (id) VALUES (1)").execute(&pool).await.unwrap();
    }

    #[dbgen_runtime::test(Database::Tplcache)]
    async fn sqlite_too(pool: sqlx::SqlitePool) {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 0);
        sqlx::query("INSERT INTO items (id) VALUES (1)").execute(&pool).await.unwrap();
    }

    #[tokio::test]
    async fn a_migration_tested_from_the_version_before_it() {
        use dbgen_runtime::testing::Fresh;
        let db = Fresh::of(Database::Tplshop).to(20250101000000).create().await.unwrap();
        let pool = db.pool().as_postgres().unwrap();
        sqlx::query("INSERT INTO customers (name) VALUES ('old')").execute(pool).await.unwrap();
        db.migrator().latest().await.unwrap();
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM customers").fetch_one(pool).await.unwrap();
        assert_eq!(email.as_deref(), Some("unknown"));
    }

    #[dbgen_runtime::test(Database::Tplshop)]
    #[should_panic(expected = "expected")]
    async fn a_should_panic_test_passes_and_drops_its_database(pool: sqlx::PgPool) {
        assert_eq!(count(&pool).await, 0);
        panic!("expected");
    }

    #[dbgen_runtime::test(Database::Tplshop)]
    async fn fails_on_demand(pool: sqlx::PgPool) {
        assert_eq!(count(&pool).await, 0);
        if std::env::var_os("FAIL_ON_PURPOSE").is_some() {
            panic!("failing on purpose");
        }
    }
}
"#;

fn databases(db: &TestDb, sql: &str) -> Vec<String> {
    db.query_strings(sql)
        .into_iter()
        .filter_map(|mut row| row.remove(0))
        .collect()
}

#[test]
fn a_scaffolded_app_tests_on_fresh_databases() {
    let Some(server) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let Some(mysql) = TestDb::create(Engine::Mysql) else {
        return;
    };
    let mysql_tests = || {
        databases(
            &mysql,
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'dbgen\\_test\\_tplmy\\_%'",
        )
    };
    let admin = std::env::var("DBGEN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let listed = |pattern: &str| {
        databases(
            &server,
            &format!("SELECT datname FROM pg_database WHERE datname LIKE '{pattern}' ORDER BY 1"),
        )
    };
    for old in mysql_tests() {
        mysql.execute(&format!("DROP DATABASE IF EXISTS `{old}`"));
    }
    // A fresh server for this app: no template of its database yet.
    for old in listed("dbgen\\_%\\_tplshop\\_%") {
        server.execute(&format!("DROP DATABASE IF EXISTS \"{old}\" WITH (FORCE)"));
    }

    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("tplapp");
    let runtime = workspace().join("runtime").display().to_string();
    new_app(
        &project,
        "tplapp",
        &format!(
            "dbgen-runtime = {{ path = {runtime:?}, features = [\"testing\"] }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n"
        ),
    );
    write(
        &project.join("src/main.rs"),
        "mod databases;\n\nfn main() {}\n",
    );
    let dbgen = env!("CARGO_BIN_EXE_dbgen");
    for args in [
        vec!["new", "tplshop"],
        vec!["new", "tplcache", "--driver", "sqlite"],
        vec!["new", "tplmy", "--driver", "mysql"],
    ] {
        let out = output(
            "dbgen new",
            Command::new(dbgen).current_dir(&project).args(&args),
        );
        assert!(out.status.success(), "{}", show("dbgen new", &out));
    }
    let shop = project.join("database/tplshop/migrations");
    write(
        &shop.join("20250101000000_customers.up.sql"),
        "CREATE TABLE customers (id SERIAL PRIMARY KEY, name TEXT NOT NULL);\n",
    );
    write(
        &shop.join("20250102000000_email.up.sql"),
        "ALTER TABLE customers ADD COLUMN email TEXT;\nUPDATE customers SET email = 'unknown';\n",
    );
    write(
        &project.join("database/tplcache/migrations/20250101000000_items.up.sql"),
        "CREATE TABLE items (id INTEGER PRIMARY KEY);\n",
    );
    write(
        &project.join("database/tplmy/migrations/20250101000000_orders.up.sql"),
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n",
    );
    let main = std::fs::read_to_string(project.join("src/main.rs")).unwrap();
    write(&project.join("src/main.rs"), &format!("{main}{TESTS}"));

    // Build once, then two processes at once on a server with no template.
    let build = output(
        "cargo test --no-run",
        cargo_test(&project, &admin, &[]).arg("--no-run"),
    );
    assert!(
        build.status.success(),
        "{}",
        show("cargo test --no-run", &build)
    );
    let spawn = || {
        cargo_test(&project, &admin, &[])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cargo test")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", show("first cargo test", &a));
    assert!(b.status.success(), "{}", show("second cargo test", &b));
    // Two templates (every migration; up to the first one): each built by one process.
    let mut built: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|out| {
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter_map(|line| line.strip_prefix("dbgen: built template "))
                .filter_map(|rest| rest.split(' ').next())
                .filter(|name| name.starts_with("dbgen_tpl_tplshop_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    built.sort();
    let templates = listed("dbgen\\_tpl\\_tplshop\\_%");
    assert_eq!(
        built,
        templates,
        "each template built once, by one of the two processes:\n{}\n{}",
        show("a", &a),
        show("b", &b)
    );
    assert_eq!(templates.len(), 2, "{templates:?}");
    assert_eq!(
        listed("dbgen\\_test\\_tplshop\\_%"),
        Vec::<String>::new(),
        "no test database is left"
    );
    assert_eq!(
        mysql_tests(),
        Vec::<String>::new(),
        "no MySQL test database is left"
    );

    // A failing test keeps its database and says how to reach it.
    let failed = output(
        "cargo test (failing)",
        &mut cargo_test(&project, &admin, &[("FAIL_ON_PURPOSE", "1")]),
    );
    assert!(!failed.status.success(), "{}", show("failing", &failed));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&failed.stdout),
        String::from_utf8_lossy(&failed.stderr)
    );
    let kept = listed("dbgen\\_test\\_tplshop\\_%");
    assert_eq!(
        kept.len(),
        1,
        "only the failed test's database is kept: {kept:?}\n{printed}"
    );
    assert!(
        printed.contains("kept the database of test `tests::fails_on_demand`"),
        "{printed}"
    );
    assert!(
        printed.contains("(psql '") && printed.contains(&format!("/{}", kept[0])),
        "how to reach it:\n{printed}"
    );
    server.execute(&format!("DROP DATABASE \"{}\" WITH (FORCE)", kept[0]));

    // A changed migration: a new template, the old one dropped.
    write(
        &shop.join("20250102000000_email.up.sql"),
        "ALTER TABLE customers ADD COLUMN email TEXT DEFAULT 'unknown';\nUPDATE customers SET email = 'unknown';\n",
    );
    let again = output(
        "cargo test after a change",
        &mut cargo_test(&project, &admin, &[]),
    );
    assert!(again.status.success(), "{}", show("after a change", &again));
    let now = listed("dbgen\\_tpl\\_tplshop\\_%");
    assert_eq!(now.len(), 2, "{now:?}");
    let replaced: Vec<&String> = templates.iter().filter(|t| !now.contains(t)).collect();
    assert_eq!(
        replaced.len(),
        1,
        "the changed content's template was replaced: {templates:?} -> {now:?}"
    );
    for old in now {
        server.execute(&format!("DROP DATABASE IF EXISTS \"{old}\" WITH (FORCE)"));
    }
}
