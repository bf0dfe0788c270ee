//! Seeds: every script of `seeds/` in lexical order, each in its own transaction, untracked
//! (as knex), under the same lock as migrations.

use std::time::Instant;

use dbgen_core::{Database, Seed, is_blank_script, original_offset, substitute_placeholders};

use crate::engine::{Engine, OpenMode, Source};
use crate::error::{RunError, describe, line_column};
use crate::execute::{close_after, open, with_lock};
use crate::migrator::{Outcome, PlannedScript, StepReport};
use crate::observer::Observer;

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
    source: Source<'_>,
    seeds: &[&Seed],
    (dry_run, mode): (bool, OpenMode),
    placeholders: &[(String, String)],
    out: &mut dyn Observer,
) -> Result<Outcome, RunError> {
    if dry_run {
        let scripts = seeds
            .iter()
            .map(|seed| PlannedScript {
                id: seed.name.to_string(),
                file: seed.path.to_string(),
                direction: "seed",
                no_transaction: false,
                sql: seed.sql.to_string(),
            })
            .collect();
        return Ok(Outcome::DryRun { scripts });
    }
    let Some(mut engine) = open::<E>(
        source,
        &OpenMode {
            create: true,
            ..mode.clone()
        },
    )
    .await?
    else {
        return Ok(Outcome::Seeded {
            steps: Vec::new(),
            took: Default::default(),
        });
    };
    let started = Instant::now();
    let table = &*mode.table(&db.config.migrations_table);
    let result = with_lock(
        &mut engine,
        table,
        mode.lock_timeout,
        async |engine: &mut E| {
            out.started(seeds.len());
            let mut steps = Vec::with_capacity(seeds.len());
            for seed in seeds {
                let step_started = Instant::now();
                let sql = substitute_placeholders(&seed.sql, placeholders);
                let refusal = match engine.seed_refusal(&sql).await {
                    Ok(refusal) => refusal,
                    Err(e) => Some(describe(&e)),
                };
                if let Some(reason) = refusal {
                    out.finished();
                    return Err(RunError::Script {
                        file: seed.path.to_string(),
                        position: None,
                        message: reason,
                        note: Some("this seed did not run; the seeds before it remain".to_string()),
                        source: None,
                    });
                }
                if let Err(e) = run_one(engine, &sql).await {
                    let _ = engine.rollback().await;
                    out.finished();
                    return Err(RunError::Script {
                        file: seed.path.to_string(),
                        // Counted in the seed as sent, placeholders filled in.
                        position: E::error_position(&e).map(|offset| {
                            line_column(&seed.sql, original_offset(&seed.sql, placeholders, offset))
                        }),
                        message: describe(&e),
                        note: Some(
                            "this seed was rolled back; the seeds before it remain".to_string(),
                        ),
                        source: Some(Box::new(e)),
                    });
                }
                let step = StepReport {
                    id: format!("{}.sql", seed.name),
                    version: None,
                    took: step_started.elapsed(),
                };
                tracing::info!(database = %db.name, seed = %seed.name, took_ms = step.took.as_millis() as u64, "ran seed");
                out.step("ran", &step);
                steps.push(step);
            }
            out.finished();
            Ok(Outcome::Seeded {
                steps,
                took: started.elapsed(),
            })
        },
    )
    .await;
    close_after(engine, &result).await;
    result
}

async fn run_one<E: Engine>(engine: &mut E, sql: &str) -> Result<(), sqlx::Error> {
    if is_blank_script(sql) {
        return Ok(());
    }
    engine.begin().await?;
    engine.execute(sql).await?;
    engine.commit().await
}
