// A database folder (beta) that no variant names.
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/two/database")]
enum Database {
    Alpha,
}

fn main() {}
