//! Seeds: every script of `seeds/` in lexical order, each in its own transaction, untracked
//! (as knex), under the same lock as migrations.

use std::time::Instant;

use dbgen_core::{ConnectionSettings, Database, Seed, substitute_placeholders};

use crate::engine::{Engine, OpenMode};
use crate::error::{RunError, describe, line_column};
use crate::migrator::{Outcome, open, with_lock};
use crate::output::Reporter;

pub(crate) fn select<'a>(
    db: &'a Database,
    specific: Option<&str>,
) -> Result<Vec<&'a Seed>, RunError> {
    match specific {
        None => Ok(db.seeds.iter().collect()),
        Some(name) => {
            let wanted = name.strip_suffix(".sql").unwrap_or(name);
            match db.seeds.iter().find(|s| s.name == wanted) {
                Some(seed) => Ok(vec![seed]),
                None => Err(RunError::UnknownSeed {
                    name: name.to_string(),
                    known: db.seeds.iter().map(|s| s.name.to_string()).collect(),
                }),
            }
        }
    }
}

pub(crate) async fn run<E: Engine>(
    db: &Database,
    settings: &ConnectionSettings,
    seeds: &[&Seed],
    (dry_run, mode): (bool, OpenMode),
    placeholders: &[(String, String)],
    out: &mut Reporter,
) -> Result<Outcome, RunError> {
    if dry_run {
        for seed in seeds {
            println!("-- seed {}\n{}\n", seed.path, seed.sql.trim_end());
        }
        return Ok(Outcome::DryRun { count: seeds.len() });
    }
    let Some(mut engine) = open::<E>(
        settings,
        OpenMode {
            create: true,
            ..mode
        },
    )
    .await?
    else {
        return Ok(Outcome::Seeded {
            count: 0,
            took: Default::default(),
        });
    };
    let started = Instant::now();
    let table: &str = &db.config.migrations_table;
    let result = with_lock(
        &mut engine,
        table,
        mode.lock_timeout,
        async |engine: &mut E| {
            out.start(seeds.len());
            for seed in seeds {
                let step_started = Instant::now();
                let sql = substitute_placeholders(&seed.sql, placeholders);
                if let Err(e) = run_one(engine, &sql).await {
                    let _ = engine.rollback().await;
                    out.finish();
                    return Err(RunError::Script {
                        file: seed.path.to_string(),
                        position: E::error_position(&e)
                            .map(|offset| line_column(&seed.sql, offset)),
                        message: describe(&e),
                        note: Some(
                            "this seed was rolled back; the seeds before it remain".to_string(),
                        ),
                    });
                }
                out.step("ran", &format!("{}.sql", seed.name), step_started.elapsed());
            }
            out.finish();
            Ok(Outcome::Seeded {
                count: seeds.len(),
                took: started.elapsed(),
            })
        },
    )
    .await;
    engine.close().await;
    result
}

async fn run_one<E: Engine>(engine: &mut E, sql: &str) -> Result<(), sqlx::Error> {
    engine.begin().await?;
    engine.execute(sql).await?;
    engine.commit().await
}
