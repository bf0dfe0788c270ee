//! What `#[derive(Databases)]` needs to know about a project: where its databases are and
//! which database each variant of the enum names. The derive only turns the answer into
//! tokens (or a `compile_error!` at the span this answer points to).

use std::path::{Path, PathBuf};

use crate::files::normalize_path;
use crate::name::folder_names_for_variant;
use crate::{CONFIG_FILE, DATABASE_CONFIG_FILE, Error, Project, load_project_with};

/// One variant of a `#[derive(Databases)]` enum, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumVariant {
    /// The variant's identifier: `PermisoTest`.
    pub ident: String,
    /// Its `#[database(name = "...")]`, which names the folder outright.
    pub folder: Option<String>,
}

/// A project as the derive embeds it.
#[derive(Debug, Clone)]
pub struct DerivedProject {
    /// The project, loaded by the same loader the `dbgen` binary uses.
    pub project: Project,
    /// The folder `dbgen.toml` is read from, and that every script path is relative to:
    /// the parent of `databases_dir`.
    pub root: PathBuf,
    /// The databases folder (`#[databases(root = "...")]`), absolute and without `..`.
    pub databases_dir: PathBuf,
    /// For each variant in order, the index in `project.databases` of the database it names.
    pub variants: Vec<usize>,
    /// The config files read (every `database.toml`, diesel's `metadata.toml`s, and
    /// `dbgen.toml` when present): the derive includes them so that editing one rebuilds
    /// the application.
    pub config_files: Vec<PathBuf>,
}

/// Why the derive fails, and where the compile error goes.
#[derive(Debug)]
pub struct DeriveError {
    /// The index of the variant at fault; `None` for the enum as a whole.
    pub variant: Option<usize>,
    /// What is wrong, and what to do.
    pub error: Error,
}

/// Loads the databases folder `databases_root` (as written in `#[databases(root = "...")]`,
/// relative to `manifest_dir`, the crate's Cargo.toml folder) and matches it with the
/// variants of `enum enum_name`, both ways.
///
/// A variant names the folder whose [`crate::DatabaseName::variant_name`] is its identifier
/// (`Db2` names `db2` or `db-2`; two such folders are a load error), unless its
/// `#[database(name = "...")]` names the folder outright. Every folder needs a variant.
pub fn derive_project(
    manifest_dir: &Path,
    databases_root: &str,
    enum_name: &str,
    variants: &[EnumVariant],
) -> Result<DerivedProject, DeriveError> {
    let whole = |error| DeriveError {
        variant: None,
        error,
    };
    let databases_dir = normalize_path(&manifest_dir.join(databases_root));
    let root = databases_dir.parent().unwrap_or(manifest_dir).to_path_buf();
    if !databases_dir.is_dir() {
        return Err(whole(Error::NoDatabasesFolder {
            path: databases_dir,
        }));
    }
    let project = load_project_with(&root, &databases_dir).map_err(whole)?;

    let mut chosen: Vec<usize> = Vec::with_capacity(variants.len());
    for (at, variant) in variants.iter().enumerate() {
        let found = project
            .databases
            .iter()
            .position(|db| match &variant.folder {
                Some(folder) => db.name == folder.as_str(),
                None => db.variant_name() == variant.ident,
            });
        let Some(index) = found else {
            return Err(DeriveError {
                variant: Some(at),
                error: Error::VariantWithoutFolder {
                    variant: variant.ident.clone(),
                    folder: databases_root.to_string(),
                    advice: folder_advice(variant),
                    known: project.names(),
                },
            });
        };
        if let Some(earlier) = chosen.iter().position(|c| *c == index) {
            return Err(DeriveError {
                variant: Some(at),
                error: Error::VariantsShareFolder {
                    first: variants[earlier].ident.clone(),
                    second: variant.ident.clone(),
                    folder: databases_root.to_string(),
                    database: project.databases[index].name.to_string(),
                },
            });
        }
        chosen.push(index);
    }
    if let Some(orphan) = (0..project.databases.len()).find(|i| !chosen.contains(i)) {
        let db = &project.databases[orphan];
        return Err(whole(Error::FolderWithoutVariant {
            folder: databases_root.to_string(),
            database: db.name.to_string(),
            variant: db.variant_name(),
            enum_name: enum_name.to_string(),
        }));
    }

    let mut config_files: Vec<PathBuf> = project
        .databases
        .iter()
        .map(|db| {
            databases_dir
                .join(db.name.as_ref())
                .join(DATABASE_CONFIG_FILE)
        })
        .collect();
    // diesel's metadata.toml decides how a migration runs, like a config file.
    config_files.extend(
        project
            .databases
            .iter()
            .flat_map(|db| db.migrations.iter())
            .filter_map(|m| m.metadata_path())
            .map(|path| root.join(path)),
    );
    let top = root.join(CONFIG_FILE);
    if top.is_file() {
        config_files.push(top);
    }
    Ok(DerivedProject {
        project,
        root,
        databases_dir,
        variants: chosen,
        config_files,
    })
}

/// Which folder names the variant accepts, and how to make one.
fn folder_advice(variant: &EnumVariant) -> String {
    if let Some(folder) = &variant.folder {
        return format!(
            "its #[database(name = \"{folder}\")] names folder {folder}/, which is not there; create it with `dbgen new {folder}`, or fix the name"
        );
    }
    let ident = &variant.ident;
    let names = folder_names_for_variant(ident);
    let Some(first) = names.first() else {
        return format!(
            "no database name maps to `{ident}` (a folder `permiso-test` or `permiso_test` is the variant `PermisoTest`); rename the variant, or name its folder with #[database(name = \"...\")]"
        );
    };
    let examples = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    format!(
        "it needs a folder whose name maps to `{ident}`, such as {examples}; create one with `dbgen new {first}`, or name its folder with #[database(name = \"...\")]"
    )
}
