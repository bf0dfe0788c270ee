//! `dbgen migrate make` and `dbgen seed make`: one new file (or up/down pair) from templates.

use std::path::Path;
use std::time::SystemTime;

use dbgen_core::{
    DATABASE_CONFIG_FILE, Database, MIGRATIONS_DIR, NO_TRANSACTION_MARKER, SEEDS_DIR, database_dir,
    format_utc_millis, load_project, migration_file_name, seed_file_name, utc_version,
    validate_migration_slug, validate_seed_name,
};

use crate::commands::{info, print_written};
use crate::error::CliError;
use crate::templates::{
    MIGRATION_DOWN, MIGRATION_UP, MigrationContext, SEED, SeedContext, Templates,
};
use crate::write_plan::WritePlan;

pub fn migration(root: &Path, database: &str, name: &str) -> Result<(), CliError> {
    validate_migration_slug(name).map_err(|reason| CliError::BadMigrationName {
        database: database.to_string(),
        reason,
    })?;
    let project = load_project(root)?;
    let db = project.database(database)?;
    if let Some(source) = &db.config.migrations_from {
        return Err(CliError::MigrationsFromOther {
            database: database.to_string(),
            source_db: source.to_string(),
            name: name.to_string(),
            config: database_dir(&db.name).join(DATABASE_CONFIG_FILE),
        });
    }
    let now = SystemTime::now();
    let version = next_version(db, utc_version(now))?;
    let templates = Templates::load(root, &project.settings)?;
    let context = MigrationContext {
        database: info(db),
        version,
        name: name.to_string(),
        created: format_utc_millis(unix_millis(now)),
        no_transaction_marker: NO_TRANSACTION_MARKER,
    };
    let dir = database_dir(&db.name).join(MIGRATIONS_DIR);
    let mut plan = WritePlan::default();
    plan.create(
        dir.join(migration_file_name(version, 0, name, true)),
        templates.render(MIGRATION_UP, &context)?,
    );
    plan.create(
        dir.join(migration_file_name(version, 0, name, false)),
        templates.render(MIGRATION_DOWN, &context)?,
    );
    print_written(&plan.apply(root)?);
    Ok(())
}

pub fn seed(root: &Path, database: &str, name: &str) -> Result<(), CliError> {
    validate_seed_name(name).map_err(|reason| CliError::BadSeedName { reason })?;
    let project = load_project(root)?;
    let db = project.database(database)?;
    let templates = Templates::load(root, &project.settings)?;
    let text = templates.render(
        SEED,
        &SeedContext {
            database: info(db),
            name: name.to_string(),
        },
    )?;
    let mut plan = WritePlan::default();
    // The plan refuses an existing file (create_new), so no separate check can race it.
    plan.create(
        database_dir(&db.name)
            .join(SEEDS_DIR)
            .join(seed_file_name(name)),
        text,
    );
    print_written(&plan.apply(root)?);
    Ok(())
}

/// The current UTC time as a version, or one past the newest existing version when that is
/// later (a second make within the same second, or a clock behind a teammate's), so versions
/// stay unique and in the order they were made.
fn next_version(db: &Database, now: i64) -> Result<i64, CliError> {
    let Some(highest) = db.migrations.iter().map(|m| m.version).max() else {
        return Ok(now);
    };
    let after = highest
        .checked_add(1)
        .ok_or_else(|| CliError::VersionOverflow {
            database: db.name.to_string(),
            highest,
        })?;
    Ok(now.max(after))
}

fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
