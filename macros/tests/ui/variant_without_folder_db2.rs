// `Db2` names a folder that maps to it (`db2` or `db-2`); the error says which it accepts.
#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "tests/ui-fixtures/two/database")]
enum Database {
    Alpha,
    Beta,
    Db2,
}

fn main() {}
