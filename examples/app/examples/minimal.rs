//! The smallest application: a binary that is nothing but dbgen's command set over its
//! embedded databases (`minimal migrate latest --all`, `minimal migrate:permiso:status`).
//!
//! ```text
//! cargo run -p dbgen-example --example minimal -- migrate status --all
//! ```

#[derive(Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "../../database")]
enum Database {
    Permiso,
    PermisoTest,
    PermisoSqlite,
}

fn main() -> std::process::ExitCode {
    dbgen_runtime::cli::main::<Database>()
}
