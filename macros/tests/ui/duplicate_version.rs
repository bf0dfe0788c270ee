// Two up files with one version.
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/duplicate/database")]
enum Database {
    Alpha,
}

fn main() {}
