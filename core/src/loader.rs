//! The one reader of a project's tree, shared by the derive and the `dbgen` binary.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::config::{ConfigLayer, LayerKind, display_path};
use crate::files::{Entry, for_each_entry, read_text, relative, sorted_entries, visit_scripts};
use crate::migration::{
    MigrationsFolder, ScriptSource, migration_file_name, parse_migration_file_name,
};
use crate::name::DatabaseName;
use crate::{
    Checksum, DatabaseConfig, Error, Migration, ProjectSettings, Seed, validate_seed_name,
};

pub const CONFIG_FILE: &str = "dbgen.toml";
pub const DATABASES_DIR: &str = "database";
pub const DATABASE_CONFIG_FILE: &str = "database.toml";
pub const MIGRATIONS_DIR: &str = "migrations";
pub const SEEDS_DIR: &str = "seeds";

/// One database: its name, merged config, migrations (by version) and seeds (by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub name: Cow<'static, str>,
    pub config: DatabaseConfig,
    pub migrations: Cow<'static, [Migration]>,
    pub seeds: Cow<'static, [Seed]>,
}

impl Database {
    /// `PERMISO_TEST` for `permiso-test`.
    pub fn env_prefix(&self) -> String {
        crate::name::env_prefix(&self.name)
    }

    /// `PermisoTest` for `permiso-test`.
    pub fn variant_name(&self) -> String {
        crate::name::variant_name(&self.name)
    }
}

/// A whole project as read from disk.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub settings: ProjectSettings,
    /// In name order, which is the order `--all` runs them.
    pub databases: Vec<Database>,
}

impl Project {
    pub fn database(&self, name: &str) -> Result<&Database, Error> {
        self.databases
            .iter()
            .find(|db| db.name == name)
            .ok_or_else(|| Error::UnknownDatabase {
                name: name.to_string(),
                known: self.names(),
            })
    }

    pub fn names(&self) -> Vec<String> {
        self.databases
            .iter()
            .map(|db| db.name.to_string())
            .collect()
    }
}

/// The nearest folder from `start` upward that holds `dbgen.toml`, else `start` itself.
///
/// A relative `start` (`.`, `..`, `src`, or the empty parent of a bare file name) is made
/// absolute first, so the search goes above the working directory; the result is absolute.
pub fn find_project_root(start: &Path) -> PathBuf {
    let start = if start.as_os_str().is_empty() {
        Path::new(".")
    } else {
        start
    };
    // Lexically, like a shell's `cd ..`: `src/..` must not search `src`, a folder below it.
    let mut absolute = PathBuf::new();
    for part in std::path::absolute(start)
        .unwrap_or_else(|_| start.to_path_buf())
        .components()
    {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                absolute.pop();
            }
            part => absolute.push(part),
        }
    }
    absolute
        .ancestors()
        .find(|dir| dir.join(CONFIG_FILE).is_file())
        .unwrap_or(&absolute)
        .to_path_buf()
}

/// Reads `root/dbgen.toml` and every `root/database/<name>/`.
///
/// A project without a `database/` folder has no databases; everything else that breaks a
/// rule is an error naming the file.
pub fn load_project(root: &Path) -> Result<Project, Error> {
    load(root, &root.join(DATABASES_DIR))
}

/// [`load_project`] with the databases in `databases_dir` instead of `root/database`
/// (the derive's `#[databases(root = "...")]`); `dbgen.toml` is still read from `root`.
pub fn load_project_with(root: &Path, databases_dir: &Path) -> Result<Project, Error> {
    load(root, databases_dir)
}

fn load(root: &Path, databases_dir: &Path) -> Result<Project, Error> {
    let base = ConfigLayer::read(&root.join(CONFIG_FILE), LayerKind::Project)?;
    let settings = base.project_settings();

    let mut folders = Vec::new();
    for Entry {
        name: file_name,
        is_dir,
    } in sorted_entries(root, databases_dir)?
    {
        let path = databases_dir.join(&file_name);
        if !is_dir {
            return Err(bad_file(
                root,
                &path,
                "only database folders belong in database/ (one per database, made by `dbgen new`): move or remove this file",
            ));
        }
        let name = DatabaseName::new(&file_name).map_err(|e| Error::BadFile {
            path: display_path(root, &path),
            reason: format!("this folder's name is not a database name: {e}"),
        })?;
        let config_path = path.join(DATABASE_CONFIG_FILE);
        if !config_path.is_file() {
            return Err(bad_file(
                root,
                &path,
                "this database folder has no database.toml (`dbgen new` writes one): add it or remove the folder",
            ));
        }
        let layer = ConfigLayer::read(&config_path, LayerKind::Database)?;
        let config = base
            .merged_with(&layer)
            .resolve(name.as_str(), &display_path(root, &config_path))?;
        folders.push((name, path, config));
    }
    check_prefixes(folders.iter().map(|(name, _, _)| name))?;

    let mut own_migrations: HashMap<String, Vec<Migration>> = HashMap::new();
    for (name, path, _) in &folders {
        own_migrations.insert(
            name.to_string(),
            load_migrations(root, &path.join(crate::MIGRATIONS_DIR), name.as_str())?,
        );
    }

    // A database that takes another's migrations gets a copy; every other one then takes
    // its own, so the usual project copies nothing.
    let mut copies = Vec::with_capacity(folders.len());
    for (name, path, config) in &folders {
        copies.push(match &config.migrations_from {
            None => None,
            Some(source) => {
                let config_path = display_path(root, &path.join(DATABASE_CONFIG_FILE));
                let problem = |problem: &str| Error::BadMigrationsSource {
                    database: name.to_string(),
                    source_db: source.to_string(),
                    problem: problem.to_string(),
                    path: config_path.clone(),
                };
                if source == name.as_str() {
                    return Err(problem("is itself"));
                }
                let Some((_, _, source_config)) =
                    folders.iter().find(|(n, _, _)| n.as_str() == source)
                else {
                    return Err(problem(&format!(
                        "is not a database of this project ({})",
                        crate::error::known_list(
                            &folders
                                .iter()
                                .map(|(n, _, _)| n.to_string())
                                .collect::<Vec<_>>()
                        )
                    )));
                };
                if source_config.migrations_from.is_some() {
                    return Err(problem(
                        "takes its migrations from yet another database; point at that one directly",
                    ));
                }
                if !own_migrations[name.as_str()].is_empty() {
                    return Err(problem(&format!(
                        "cannot be combined with migration files of its own in {}: move them to `{source}` or remove the setting",
                        display_path(root, &path.join(MIGRATIONS_DIR)).display()
                    )));
                }
                Some(own_migrations[source.as_ref()].clone())
            }
        });
    }
    let mut databases = Vec::with_capacity(folders.len());
    for ((name, path, config), copy) in folders.into_iter().zip(copies) {
        let migrations =
            copy.unwrap_or_else(|| own_migrations.remove(name.as_str()).unwrap_or_default());
        databases.push(Database {
            name: Cow::Owned(name.to_string()),
            config,
            migrations: Cow::Owned(migrations),
            seeds: Cow::Owned(load_seeds(root, &path.join(SEEDS_DIR))?),
        });
    }
    Ok(Project {
        root: root.to_path_buf(),
        settings,
        databases,
    })
}

/// Two names whose environment variables would be the same (`a-b` and `a_b`) are an error.
pub(crate) fn check_prefixes<'a>(
    names: impl Iterator<Item = &'a DatabaseName>,
) -> Result<(), Error> {
    let mut seen: BTreeMap<String, &DatabaseName> = BTreeMap::new();
    for name in names {
        if let Some(first) = seen.insert(name.env_prefix(), name) {
            return Err(Error::PrefixCollision {
                first: first.to_string(),
                second: name.to_string(),
                prefix: name.env_prefix(),
            });
        }
    }
    Ok(())
}

fn bad_file(root: &Path, path: &Path, reason: &str) -> Error {
    Error::BadFile {
        path: display_path(root, path),
        reason: reason.to_string(),
    }
}

/// A down file as the loader lists it, until it is matched with its up file.
struct DownFile {
    version: i64,
    version_digits: u16,
    slug: Box<str>,
}

/// The checked entries of a migrations folder: a migration per up file, in version order (the
/// checksums not yet computed), and the down files.
struct Listing {
    ups: Vec<Migration>,
    downs: Vec<DownFile>,
}

/// Loads `dir` as a migrations folder: every entry but dotfiles must be a migration file.
///
/// Every name is checked before any file is read. Only up scripts are read, each once, for
/// its checksum; no script is kept (they are read again when they run), so memory grows with
/// the number of migrations, not with their SQL.
pub(crate) fn load_migrations(
    root: &Path,
    dir: &Path,
    database: &str,
) -> Result<Vec<Migration>, Error> {
    let folder = Arc::new(MigrationsFolder {
        path: dir.to_path_buf(),
        shown: relative(root, dir).into_owned(),
    });
    let Listing { mut ups, downs } = list_migrations(root, &folder)?;
    let down_path = |d: &DownFile| {
        let file = migration_file_name(d.version, d.version_digits, &d.slug, false);
        format!("{}/{file}", folder.shown)
    };
    let up_duplicate = ups
        .windows(2)
        .find(|w| w[0].version == w[1].version)
        .map(|w| (w[0].version, w[0].up_path().into(), w[1].up_path().into()));
    let down_duplicate = downs
        .windows(2)
        .find(|w| w[0].version == w[1].version)
        .map(|w| (w[0].version, down_path(&w[0]), down_path(&w[1])));
    // Of several duplicates, the lowest version is reported.
    if let Some((version, first, second)) = up_duplicate
        .into_iter()
        .chain(down_duplicate)
        .min_by_key(|(version, _, _)| *version)
    {
        return Err(Error::DuplicateVersion {
            database: database.to_string(),
            version,
            first: first.into(),
            second: second.into(),
        });
    }
    for down in &downs {
        let up = ups
            .binary_search_by_key(&down.version, |m| m.version)
            .ok()
            .map(|i| &mut ups[i])
            .filter(|up| up.name == *down.slug);
        match up.map(|up| &mut up.source) {
            Some(ScriptSource::Files {
                version_digits,
                has_down,
                ..
            }) if *version_digits == down.version_digits => *has_down = true,
            _ => {
                let up = migration_file_name(down.version, down.version_digits, &down.slug, true);
                return Err(Error::BadFile {
                    path: down_path(down).into(),
                    reason: format!(
                        "this down file has no up file ({up}): add it, or rename the down file to match its up file"
                    ),
                });
            }
        }
    }
    drop(downs);
    visit_scripts(
        root,
        &mut ups,
        |m| folder.path.join(m.file_name(true)),
        |m, up| m.checksum = Checksum::of_script(up),
    )?;
    Ok(ups)
}

/// Lists and checks a migrations folder's names. A bad entry is reported after the listing,
/// the first in name order, so that the error does not depend on the file system's order.
fn list_migrations(root: &Path, folder: &Arc<MigrationsFolder>) -> Result<Listing, Error> {
    let (mut ups, mut downs) = (Vec::new(), Vec::new());
    let mut first_bad: Option<(String, String)> = None;
    for_each_entry(root, &folder.path, |name, is_dir| {
        if first_bad
            .as_ref()
            .is_some_and(|(bad, _)| bad.as_str() < name)
        {
            return Ok(());
        }
        let parsed = if is_dir {
            Err("folders inside migrations/ are not read: move its files up into migrations/ or remove it".to_string())
        } else {
            parse_migration_file_name(name)
        };
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(reason) => {
                first_bad = Some((name.to_string(), reason));
                return Ok(());
            }
        };
        // The digits as written: `0001` is version 1, and its file is found again by them.
        let version_digits = u16::try_from(name.find('_').unwrap_or_default()).unwrap_or(u16::MAX);
        if parsed.is_up {
            ups.push(Migration {
                version: parsed.version,
                name: Cow::Owned(parsed.name.to_owned()),
                checksum: Checksum([0; 32]),
                source: ScriptSource::Files {
                    folder: Arc::clone(folder),
                    version_digits,
                    has_down: false,
                },
            });
        } else {
            downs.push(DownFile {
                version: parsed.version,
                version_digits,
                slug: parsed.name.into(),
            });
        }
        Ok(())
    })?;
    if let Some((name, reason)) = first_bad {
        return Err(bad_file(root, &folder.path.join(name), &reason));
    }
    // In name order within a version, so that of two files with one version the first in
    // name order is reported first: `01_a` comes before `1_a`, more leading zeros first.
    ups.sort_unstable_by(|a, b| {
        let digits = |m: &Migration| match m.source {
            ScriptSource::Files { version_digits, .. } => version_digits,
            ScriptSource::Embedded(_) => 0,
        };
        (a.version, Reverse(digits(a)), &a.name).cmp(&(b.version, Reverse(digits(b)), &b.name))
    });
    downs.sort_unstable_by(|a, b| {
        (a.version, Reverse(a.version_digits), &a.slug).cmp(&(
            b.version,
            Reverse(b.version_digits),
            &b.slug,
        ))
    });
    ups.shrink_to_fit();
    Ok(Listing { ups, downs })
}

/// Loads `dir` as a seeds folder: `*.sql` files, in lexical order.
pub(crate) fn load_seeds(root: &Path, dir: &Path) -> Result<Vec<Seed>, Error> {
    let mut seeds = Vec::new();
    for Entry {
        name: file_name,
        is_dir,
    } in sorted_entries(root, dir)?
    {
        let path = dir.join(&file_name);
        let name = file_name
            .strip_suffix(".sql")
            .filter(|_| !is_dir)
            .ok_or_else(|| {
                bad_file(
                    root,
                    &path,
                    "only <name>.sql seed files belong in seeds/: rename or remove it",
                )
            })?;
        validate_seed_name(name).map_err(|reason| bad_file(root, &path, &reason))?;
        let shown = relative(root, &path);
        seeds.push(Seed {
            name: Cow::Owned(name.to_string()),
            sql: Cow::Owned(read_text(&shown, &path)?),
            path: shown,
        });
    }
    Ok(seeds)
}
