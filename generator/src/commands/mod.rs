//! One module per authoring command. Each takes the project root and prints what it did.

pub mod list;
pub mod make;
pub mod new;

use std::path::Path;

use dbgen_core::Database;

use crate::templates::DatabaseInfo;
use crate::write_plan::Written;

/// A path relative to the project root as printed: `/`-separated on every platform.
pub fn shown(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

pub fn info(db: &Database) -> DatabaseInfo {
    DatabaseInfo::new(
        &db.name,
        db.config.driver,
        db.env_prefix(),
        db.variant_name(),
    )
}

pub fn print_written(written: &[Written]) {
    for w in written {
        match w {
            Written::Created(path) => println!("created {}", shown(path)),
            Written::Updated(path) => println!("updated {}", shown(path)),
        }
    }
}

/// `P_DB_URL, or P_DB_HOST, P_DB_PORT, ...`: the URL wins over the rest.
pub fn env_summary(vars: &[String]) -> String {
    match vars.split_first() {
        Some((url, [])) => url.clone(),
        Some((url, rest)) => format!("{url}, or {}", rest.join(", ")),
        None => String::new(),
    }
}
