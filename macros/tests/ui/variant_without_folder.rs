// A variant whose database folder does not exist.
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/two/database")]
enum Database {
    Alpha,
    Beta,
    Audit,
}

fn main() {}
