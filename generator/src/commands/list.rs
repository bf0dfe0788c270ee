//! `dbgen list`: what the project holds and which variables each database reads.

use std::path::Path;

use dbgen_core::load_project;

use crate::commands::{env_summary, info};
use crate::error::CliError;

pub fn run(root: &Path) -> Result<(), CliError> {
    let project = load_project(root)?;
    if project.databases.is_empty() {
        println!("no databases yet: create one with `dbgen new <name>`");
        return Ok(());
    }
    for (i, db) in project.databases.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let migrations = match &db.config.migrations_from {
            Some(source) => format!("{}, from {source}", db.migrations.len()),
            None => db.migrations.len().to_string(),
        };
        println!("{} ({})", db.name, db.config.driver);
        println!("  migrations: {migrations}");
        println!("  seeds:      {}", db.seeds.len());
        println!("  env:        {}", env_summary(&info(db).env_vars));
    }
    Ok(())
}
