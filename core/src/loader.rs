//! The one reader of a project's tree, shared by the derive and the `dbgen` binary.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use crate::config::{ConfigLayer, LayerKind, display_path};
use crate::migration::{MigrationFileName, is_no_transaction, parse_migration_file_name};
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
    load(root, &root.join(DATABASES_DIR), Scripts::All)
}

/// [`load_project`] with the databases in `databases_dir` instead of `root/database`
/// (the derive's `#[databases(root = "...")]`); `dbgen.toml` is still read from `root`.
pub fn load_project_with(root: &Path, databases_dir: &Path) -> Result<Project, Error> {
    load(root, databases_dir, Scripts::All)
}

/// Which scripts a load reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripts {
    All,
    /// Every file is checked, but down scripts are not read: a migration's `down` is `None`
    /// and its `down_path` says whether it has one. For commands that only apply or inspect
    /// migrations: a thousand files fewer to open.
    UpOnly,
}

/// [`load_project`], reading only the scripts `scripts` says.
pub fn load_project_reading(root: &Path, scripts: Scripts) -> Result<Project, Error> {
    load(root, &root.join(DATABASES_DIR), scripts)
}

fn load(root: &Path, databases_dir: &Path, scripts: Scripts) -> Result<Project, Error> {
    let base = ConfigLayer::read(&root.join(CONFIG_FILE), LayerKind::Project)?;
    let settings = base.project_settings();

    let mut folders = Vec::new();
    for Entry {
        name: file_name,
        path,
        is_dir,
    } in sorted_entries(databases_dir, true)?
    {
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
            load_migrations(
                root,
                &path.join(crate::MIGRATIONS_DIR),
                name.as_str(),
                scripts,
            )?,
        );
    }

    let mut databases = Vec::with_capacity(folders.len());
    for (name, path, config) in &folders {
        let migrations = match &config.migrations_from {
            None => own_migrations[name.as_str()].clone(),
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
                own_migrations[source.as_ref()].clone()
            }
        };
        databases.push(Database {
            name: Cow::Owned(name.to_string()),
            config: config.clone(),
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

/// One entry of a folder.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    name: String,
    path: PathBuf,
    is_dir: bool,
}

/// The entries of `dir` sorted by name, without dotfiles; a missing folder is empty.
fn sorted_entries(dir: &Path, missing_ok: bool) -> Result<Vec<Entry>, Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(Error::BadFile {
                path,
                reason: "the file name is not valid UTF-8: rename it".to_string(),
            });
        };
        if !name.starts_with('.') {
            // The entry's type comes with the listing; only a symlink needs a `stat`.
            let is_dir = match entry.file_type() {
                Ok(t) if !t.is_symlink() => t.is_dir(),
                _ => path.is_dir(),
            };
            out.push(Entry { name, path, is_dir });
        }
    }
    out.sort();
    Ok(out)
}

/// Reads many scripts, on several threads when there are enough of them to pay off (a
/// thousand small files cost tens of milliseconds of system calls one by one).
fn read_scripts(root: &Path, paths: &[&Path]) -> Result<Vec<String>, Error> {
    const PER_THREAD: usize = 128;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len().div_ceil(PER_THREAD))
        .max(1);
    if threads == 1 {
        return paths.iter().map(|path| read_script(root, path)).collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let readers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|path| read_script(root, path))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut scripts = Vec::with_capacity(paths.len());
        for reader in readers {
            let part = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            scripts.extend(part);
        }
        Ok(scripts)
    })
}

fn read_script(root: &Path, path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: display_path(root, path),
        source,
    })?;
    String::from_utf8(bytes)
        .map_err(|_| bad_file(root, path, "the file is not valid UTF-8: save it as UTF-8"))
}

fn relative(root: &Path, path: &Path) -> Cow<'static, str> {
    Cow::Owned(
        display_path(root, path)
            .to_string_lossy()
            .replace('\\', "/"),
    )
}

struct ScriptFile {
    name: String,
    path: PathBuf,
    /// `None`: not read (a down script under `Scripts::UpOnly`).
    sql: Option<String>,
}

/// Loads `dir` as a migrations folder: every entry but dotfiles must be a migration file.
pub(crate) fn load_migrations(
    root: &Path,
    dir: &Path,
    database: &str,
    scripts: Scripts,
) -> Result<Vec<Migration>, Error> {
    let mut ups: BTreeMap<i64, ScriptFile> = BTreeMap::new();
    let mut downs: BTreeMap<i64, ScriptFile> = BTreeMap::new();
    // Every name is checked before any file is read.
    let mut files = Vec::new();
    for Entry {
        name: file_name,
        path,
        is_dir,
    } in sorted_entries(dir, true)?
    {
        if is_dir {
            return Err(bad_file(
                root,
                &path,
                "folders inside migrations/ are not read: move its files up into migrations/ or remove it",
            ));
        }
        let parsed = parse_migration_file_name(&file_name)
            .map_err(|reason| bad_file(root, &path, &reason))?;
        files.push((parsed, path));
    }
    let wanted = |parsed: &MigrationFileName| parsed.is_up || scripts == Scripts::All;
    let paths: Vec<&Path> = files
        .iter()
        .filter(|(parsed, _)| wanted(parsed))
        .map(|(_, path)| path.as_path())
        .collect();
    let mut contents = read_scripts(root, &paths)?.into_iter();
    for (parsed, path) in files {
        let sql = if wanted(&parsed) {
            contents.next()
        } else {
            None
        };
        let script = ScriptFile {
            name: parsed.name,
            sql,
            path,
        };
        let side = if parsed.is_up { &mut ups } else { &mut downs };
        if let Some(first) = side.get(&parsed.version) {
            return Err(Error::DuplicateVersion {
                database: database.to_string(),
                version: parsed.version,
                first: display_path(root, &first.path),
                second: display_path(root, &script.path),
            });
        }
        side.insert(parsed.version, script);
    }
    for (version, down) in &downs {
        if ups.get(version).is_none_or(|up| up.name != down.name) {
            return Err(bad_file(
                root,
                &down.path,
                &format!(
                    "this down file has no up file ({version}_{}.up.sql): add it, or rename the down file to match its up file",
                    down.name
                ),
            ));
        }
    }
    Ok(ups
        .into_iter()
        .map(|(version, up)| {
            let down = downs.remove(&version);
            let up_sql = up.sql.unwrap_or_default();
            let down_sql = down.as_ref().and_then(|d| d.sql.clone());
            Migration {
                version,
                checksum: Checksum::of_script(&up_sql),
                up_no_transaction: is_no_transaction(&up_sql),
                down_no_transaction: down_sql.as_deref().is_some_and(is_no_transaction),
                up_path: relative(root, &up.path),
                down_path: down.as_ref().map(|d| relative(root, &d.path)),
                down: down_sql.map(Cow::Owned),
                name: Cow::Owned(up.name),
                up: Cow::Owned(up_sql),
            }
        })
        .collect())
}

/// Loads `dir` as a seeds folder: `*.sql` files, in lexical order.
pub(crate) fn load_seeds(root: &Path, dir: &Path) -> Result<Vec<Seed>, Error> {
    let mut seeds = Vec::new();
    for Entry {
        name: file_name,
        path,
        is_dir,
    } in sorted_entries(dir, true)?
    {
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
        seeds.push(Seed {
            name: Cow::Owned(name.to_string()),
            sql: Cow::Owned(read_script(root, &path)?),
            path: relative(root, &path),
        });
    }
    Ok(seeds)
}
