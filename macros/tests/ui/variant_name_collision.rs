// Two folders (`db-2` and `db2`) that map to one variant: core refuses the tree.
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/collision/database")]
enum Database {
    Db2,
}

fn main() {}
