// A database.toml naming a driver that does not exist.
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/bad-config/database")]
enum Database {
    Alpha,
}

fn main() {}
