// A migration file without a version.
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/bad-file-name/database")]
enum Database {
    Alpha,
}

fn main() {}
