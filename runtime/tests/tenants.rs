//! Tenants from an application: a sign-up migrates one new schema through the app's own pool
//! (which gets its connection back as it lent it), and the whole fleet runs from code.

use std::path::Path;

use dbgen_core::{Database, load_project};
use dbgen_runtime::{Environment, Fleet, Migrator, Outcome, Tenant, list_tenants};
use dbgen_testkit::{Engine, TestDb};

/// `shard` on PostgreSQL, its tenants the schemas `tenant_*`; two migrations.
fn project(dir: &Path) -> Database {
    let db = dir.join("database/shard");
    std::fs::create_dir_all(db.join("migrations")).unwrap();
    std::fs::write(dir.join("dbgen.toml"), "").unwrap();
    std::fs::write(
        db.join("database.toml"),
        "driver = \"postgres\"\n[tenants]\nschemas = { like = \"tenant\\\\_%\" }\n",
    )
    .unwrap();
    let m = db.join("migrations");
    std::fs::write(
        m.join("1_customers.up.sql"),
        "CREATE TABLE customers (id INT);",
    )
    .unwrap();
    std::fs::write(m.join("2_orders.up.sql"), "CREATE TABLE orders (id INT);").unwrap();
    load_project(dir).unwrap().databases.remove(0)
}

fn tables_in(test_db: &TestDb, schema: &str) -> Vec<String> {
    test_db
        .query_strings(&format!(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = '{schema}' ORDER BY 1"
        ))
        .into_iter()
        .filter_map(|mut r| r.remove(0))
        .collect()
}

#[test]
fn a_sign_up_migrates_its_new_schema_through_the_apps_pool() {
    let Some(test_db) = TestDb::create(Engine::Postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (outcome, search_path) = rt.block_on(async {
        // One connection: the one the migrator borrows is the one the app uses next.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&test_db.url)
            .await
            .unwrap();
        let outcome = Migrator::new(&db)
            .tenant(Tenant::schema("tenant_acme"))
            .on(&pool)
            .latest()
            .await
            .unwrap();
        let search_path: String = sqlx::query_scalar("SHOW search_path")
            .fetch_one(&pool)
            .await
            .unwrap();
        (outcome, search_path)
    });
    assert!(
        matches!(&outcome, Outcome::Applied { steps, .. } if steps.len() == 2),
        "{outcome:?}"
    );
    assert_eq!(
        tables_in(&test_db, "tenant_acme"),
        ["customers", "dbgen_migrations", "orders"]
    );
    assert!(
        tables_in(&test_db, "public").is_empty(),
        "the public schema was touched"
    );
    assert_eq!(
        search_path, "\"$user\", public",
        "the pool's connection came back changed"
    );
}

#[test]
fn the_whole_fleet_from_code() {
    let Some(test_db) = TestDb::create(Engine::Postgres) else {
        return;
    };
    test_db.execute("CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b; CREATE SCHEMA other;");
    let dir = tempfile::tempdir().unwrap();
    let db = project(dir.path());
    let environment =
        Environment::from_vars([("SHARD_DB_URL", test_db.url.as_str())]).with_root(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (names, report) = rt.block_on(async {
        let tenants = list_tenants(&db, std::slice::from_ref(&db), &environment)
            .await
            .unwrap();
        let names: Vec<String> = tenants.iter().map(|t| t.name.clone()).collect();
        let report = Fleet::new(&db, tenants)
            .jobs(2)
            .environment(environment.clone())
            .latest()
            .await
            .unwrap();
        (names, report)
    });
    assert_eq!(names, ["tenant_a", "tenant_b"]);
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.outcomes.len(), 2);
    for schema in ["tenant_a", "tenant_b"] {
        assert_eq!(
            tables_in(&test_db, schema),
            ["customers", "dbgen_migrations", "orders"]
        );
    }
    assert!(tables_in(&test_db, "other").is_empty());
}
