// A migration whose name breaks the slug rule (upper case and `-`).
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/bad-file-name/database")]
enum Database {
    Alpha,
}

fn main() {}
