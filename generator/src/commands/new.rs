//! `dbgen new <db>`: a database folder, dbgen.toml when missing, and in a Cargo project the
//! registry module and build.rs. Everything is planned first and written all or nothing.

use std::fs;
use std::path::{Path, PathBuf};

use dbgen_core::{
    CONFIG_FILE, DATABASE_CONFIG_FILE, DATABASES_DIR, DatabaseName, MIGRATIONS_DIR, Project,
    SEEDS_DIR, database_dir, load_project,
};

use crate::cli::NewArgs;
use crate::commands::{env_summary, info, print_written, shown};
use crate::error::CliError;
use crate::registry_module::{Edit, add_variant, variant_attributes};
use crate::templates::{
    BUILD_RS, BuildRsContext, DATABASE_TOML, DBGEN_TOML, DatabaseContext, DatabaseInfo, Defaults,
    ProjectContext, REGISTRY_MODULE, RegistryContext, Templates,
};
use crate::write_plan::WritePlan;

/// What the user still has to do by hand, printed after the files.
#[derive(Default)]
struct Report {
    notes: Vec<String>,
    warnings: Vec<String>,
}

pub fn run(root: &Path, args: &NewArgs) -> Result<(), CliError> {
    let name = DatabaseName::new(&args.database)?;
    let driver = args.driver.0;
    let db_dir = database_dir(name.as_str());
    // Checked before loading, so that a half-made folder reads as "exists", not as a bad config.
    if exists(&root.join(&db_dir)) {
        return Err(CliError::DatabaseExists {
            name: name.to_string(),
            path: db_dir,
        });
    }
    let project = load_project(root)?;
    // `db2` next to `db-2` (one enum variant), `a_b` next to `a-b` (one set of variables).
    project.check_new_name(&name)?;
    let templates = Templates::load(root, &project.settings)?;
    let new_db = DatabaseInfo::new(
        name.as_str(),
        driver,
        name.env_prefix(),
        name.variant_name(),
    );

    let mut plan = WritePlan::default();
    let mut report = Report::default();
    let database_toml = templates.render(
        DATABASE_TOML,
        &DatabaseContext {
            database: new_db.clone(),
            defaults: Defaults::default(),
            other_database: project
                .databases
                .iter()
                .find(|db| db.config.migrations_from.is_none())
                .map(|db| db.name.to_string()),
        },
    )?;
    plan.create(db_dir.join(DATABASE_CONFIG_FILE), database_toml);
    // Git keeps no empty folders; these keep migrations/ and seeds/ in a fresh clone.
    plan.create(db_dir.join(MIGRATIONS_DIR).join(".gitkeep"), "");
    plan.create(db_dir.join(SEEDS_DIR).join(".gitkeep"), "");
    if !exists(&root.join(CONFIG_FILE)) {
        let text = templates.render(
            DBGEN_TOML,
            &ProjectContext {
                defaults: Defaults::default(),
            },
        )?;
        plan.create(CONFIG_FILE, text);
    }
    match fs::read_to_string(root.join("Cargo.toml")) {
        Ok(manifest) if is_package(&manifest) => {
            plan_registry_module(root, &project, &templates, &new_db, &mut plan, &mut report)?;
            plan_build_rs(root, &templates, &mut plan, &mut report)?;
            plan_gitignore(root, &mut plan, &mut report);
        }
        // A workspace's root manifest has no crate to hold a registry or run a build.rs.
        Ok(_) => {
            report.notes.push(
                "Cargo.toml at the project root has no [package] (a workspace?), so no registry module or build.rs was written"
                    .to_string(),
            );
            plan_gitignore(root, &mut plan, &mut report);
        }
        Err(_) => {}
    }

    let written = plan.apply(root)?;
    print_written(&written);
    for note in &report.notes {
        println!("note: {note}");
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    println!();
    println!(
        "database `{name}` ({driver}) reads its connection from the environment (or .env):\n  {}",
        env_summary(&new_db.env_vars)
    );
    println!("next: dbgen migrate make {name} <migration_name>");
    Ok(())
}

/// Writes the registry module when missing, else adds the new variant to it.
fn plan_registry_module(
    root: &Path,
    project: &Project,
    templates: &Templates,
    new_db: &DatabaseInfo,
    plan: &mut WritePlan,
    report: &mut Report,
) -> Result<(), CliError> {
    let path = PathBuf::from(&project.settings.registry_module);
    let full = root.join(&path);
    let render = |databases| {
        templates.render(
            REGISTRY_MODULE,
            &RegistryContext {
                databases,
                databases_dir: DATABASES_DIR,
            },
        )
    };
    if !exists(&full) {
        let mut databases: Vec<DatabaseInfo> = project.databases.iter().map(info).collect();
        databases.push(new_db.clone());
        databases.sort_by(|a, b| a.name.cmp(&b.name));
        let text = render(databases)?;
        plan.create(&path, text);
        if let Some(hint) = module_declaration_hint(root, &path) {
            report.notes.push(hint);
        }
        if !fs::read_to_string(root.join("Cargo.toml")).is_ok_and(|t| t.contains("dbgen-runtime")) {
            report.notes.push(add_runtime_advice());
        }
        return Ok(());
    }
    // The new variant gets what the template writes above a variant (its doc comment).
    let attributes = variant_attributes(&render(vec![new_db.clone()])?, &new_db.variant);
    let by_hand = |why: String| {
        let mut lines = String::new();
        for line in attributes.iter().chain([&format!("{},", new_db.variant)]) {
            lines.push_str("\n    ");
            lines.push_str(line);
        }
        format!(
            "{} was not changed: {why}. Add these lines to its #[derive(Databases)] enum:{lines}",
            shown(&path),
        )
    };
    let original = match fs::read_to_string(&full) {
        Ok(text) => text,
        Err(e) => {
            report
                .warnings
                .push(by_hand(format!("dbgen cannot read it ({e})")));
            return Ok(());
        }
    };
    match add_variant(&original, &new_db.variant, &attributes) {
        Edit::Added(text) => plan.replace(&path, original, text),
        Edit::AlreadyPresent => report.notes.push(format!(
            "{} already has the variant {}",
            shown(&path),
            new_db.variant
        )),
        Edit::Unusable(why) => report.warnings.push(by_hand(why)),
    }
    Ok(())
}

/// How to add dbgen-runtime to the application today: it is not on crates.io yet, so from
/// the dbgen checkout this binary was built from when that is still there.
fn add_runtime_advice() -> String {
    let published =
        "once dbgen-runtime is published on crates.io, `cargo add dbgen-runtime` will do";
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|checkout| checkout.join("runtime"));
    match runtime.filter(|dir| {
        fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|t| t.contains("name = \"dbgen-runtime\""))
    }) {
        Some(dir) => format!(
            "the registry needs the dbgen-runtime crate, which is not on crates.io yet: run `cargo add dbgen-runtime --path {}` (the runtime of the dbgen checkout this dbgen was built from); {published}",
            shell_word(&dir.to_string_lossy())
        ),
        None => format!(
            "the registry needs the dbgen-runtime crate, which is not on crates.io yet: run `cargo add dbgen-runtime --path /path/to/dbgen/runtime` with the runtime folder of a dbgen checkout; {published}"
        ),
    }
}

/// `text` as one shell word: quoted when it holds anything a shell would split or expand.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// What the application's `.gitignore` must hold: the local connection settings and the
/// SQLite databases (with their `-wal`, `-shm` and `-journal` files) stay out of git.
const GITIGNORED: [&str; 3] = [".env", "*.sqlite3", "*.sqlite3-*"];

/// Writes `.gitignore` when missing, else appends the lines of [`GITIGNORED`] it lacks.
fn plan_gitignore(root: &Path, plan: &mut WritePlan, report: &mut Report) {
    let path = Path::new(".gitignore");
    if !exists(&root.join(path)) {
        let mut text = GITIGNORED.join("\n");
        text.push('\n');
        plan.create(path, text);
        return;
    }
    let original = match fs::read_to_string(root.join(path)) {
        Ok(text) => text,
        Err(e) => {
            report.warnings.push(format!(
                ".gitignore was not changed: dbgen cannot read it ({e}). Add these lines to it:\n    {}",
                GITIGNORED.join("\n    ")
            ));
            return;
        }
    };
    let missing: Vec<&str> = GITIGNORED
        .into_iter()
        .filter(|pattern| {
            !original.lines().any(|line| {
                let line = line.trim();
                line == *pattern || line.strip_prefix('/') == Some(pattern)
            })
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let newline = if original.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut text = original.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push_str(newline);
    }
    for pattern in missing {
        text.push_str(pattern);
        text.push_str(newline);
    }
    plan.replace(path, original, text);
}

/// `mod databases;` must appear in the crate root for the enum to compile.
fn module_declaration_hint(root: &Path, module: &Path) -> Option<String> {
    let stem = module.file_stem()?.to_str()?;
    let declared = ["src/main.rs", "src/lib.rs"].iter().any(|file| {
        fs::read_to_string(root.join(file)).is_ok_and(|t| t.contains(&format!("mod {stem};")))
    });
    (!declared).then(|| {
        format!("declare the registry module: add `mod {stem};` to src/main.rs or src/lib.rs")
    })
}

/// Writes build.rs when missing; a build.rs of the user's own is never changed.
fn plan_build_rs(
    root: &Path,
    templates: &Templates,
    plan: &mut WritePlan,
    report: &mut Report,
) -> Result<(), CliError> {
    let full = root.join("build.rs");
    if !exists(&full) {
        let text = templates.render(
            BUILD_RS,
            &BuildRsContext {
                databases_dir: DATABASES_DIR,
            },
        )?;
        plan.create("build.rs", text);
        return Ok(());
    }
    let watched = format!("rerun-if-changed={DATABASES_DIR}");
    if !fs::read_to_string(&full).is_ok_and(|t| t.contains(&watched)) {
        report.warnings.push(format!(
            "build.rs is yours, so dbgen left it alone; add this line to its fn main() so that cargo rebuilds when a migration is added:\n    println!(\"cargo:{watched}\");"
        ));
    }
    Ok(())
}

/// Whether a manifest describes a crate (`[package]`), not only a workspace.
fn is_package(manifest: &str) -> bool {
    manifest.lines().any(|line| line.trim() == "[package]")
}

/// Anything at `path`, even a dangling symlink, counts: dbgen never writes over it.
fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
