// Every database of the fixture, one of them in a folder named with #[database(name)], one
// (`db-2`) whose folder is found by core's naming rule alone.
use dbgen_runtime::Databases;
use dbgen_runtime::core::Driver;

#[derive(Debug, Clone, Copy, PartialEq, Eq, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/ok/database")]
enum Database {
    Alpha,
    AlphaTest,
    Db2,
    #[database(name = "legacy_store")]
    Legacy,
}

fn main() {
    assert_eq!(
        Database::ALL,
        &[
            Database::Alpha,
            Database::AlphaTest,
            Database::Db2,
            Database::Legacy
        ]
    );
    assert_eq!(Database::Db2.name(), "db-2");
    assert_eq!(Database::Alpha.name(), "alpha");
    assert_eq!(Database::AlphaTest.name(), "alpha-test");
    assert_eq!(Database::Legacy.name(), "legacy_store");
    assert_eq!(Database::registry().len(), 4);

    let alpha = Database::Alpha;
    assert_eq!(alpha.config().driver, Driver::Sqlite);
    assert_eq!(alpha.config().migrations_table, "app_migrations");
    assert_eq!(alpha.config().pool.max_connections, 3);
    let migrations = alpha.migrations();
    assert_eq!(migrations.len(), 2);
    assert_eq!(migrations[0].version, 20250101000000);
    assert_eq!(migrations[0].name, "create_users");
    // The scripts are compiled in: nothing is read from disk at run time.
    let up = migrations[0].up_script().unwrap();
    assert!(matches!(up, std::borrow::Cow::Borrowed(_)));
    assert_eq!(up, "CREATE TABLE users (id INTEGER PRIMARY KEY);\n");
    assert_eq!(
        migrations[0].down_script().unwrap().as_deref(),
        Some("DROP TABLE users;\n")
    );
    assert_eq!(
        migrations[0].up_path(),
        "database/alpha/migrations/20250101000000_create_users.up.sql"
    );
    assert!(dbgen_runtime::core::is_no_transaction(
        &migrations[1].up_script().unwrap()
    ));
    assert!(!migrations[1].is_reversible());
    assert_eq!(migrations[1].down_script().unwrap(), None);
    // The checksum computed at compile time is the one the loader computes at run time.
    assert_eq!(
        migrations[0].checksum,
        dbgen_runtime::core::Checksum::of_script(&up)
    );
    assert_eq!(alpha.seeds().len(), 1);
    assert_eq!(alpha.seeds()[0].name, "01_users");

    // alpha-test runs alpha's migrations.
    assert_eq!(Database::AlphaTest.migrations(), migrations);
    assert_eq!(
        Database::AlphaTest.config().migrations_from.as_deref(),
        Some("alpha")
    );
    assert!(Database::AlphaTest.seeds().is_empty());

    let legacy = Database::Legacy.config();
    assert_eq!(legacy.driver, Driver::Postgres);
    assert_eq!(legacy.migrations_table, "schema_history");
    assert_eq!(legacy.placeholders.len(), 1);
    assert_eq!(legacy.placeholders[0].env, "APP_PASSWORD");
}
