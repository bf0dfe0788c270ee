//! The one reader of a project's tree, shared by the derive and the `dbgen` binary.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use crate::config::{ConfigLayer, LayerKind, display_path};
use crate::files::{Entry, read_script, read_scripts, relative, sorted_entries};
use crate::migration::{is_no_transaction, parse_migration_file_name};
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
        is_dir,
    } in sorted_entries(databases_dir, true)?
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
            load_migrations(
                root,
                &path.join(crate::MIGRATIONS_DIR),
                name.as_str(),
                scripts,
            )?,
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

/// One migration file, as the loader holds it between listing and reading: a project of
/// 10,000 migrations has 20,000 of these at once, so its name is held only inside `path`.
struct MigrationFile {
    version: i64,
    is_up: bool,
    /// Relative to the project root, as messages show it; it becomes the migration's path.
    path: String,
    /// Where the file name starts in `path`.
    name_at: usize,
}

impl MigrationFile {
    fn file_name(&self) -> &str {
        &self.path[self.name_at..]
    }

    /// The slug: `create_users`. The name was checked when the file was listed.
    fn slug(&self) -> &str {
        parse_migration_file_name(self.file_name()).map_or("", |parsed| parsed.name)
    }
}

/// Loads `dir` as a migrations folder: every entry but dotfiles must be a migration file.
///
/// Every name is checked before any file is read, and nothing is held twice: no full paths
/// while listing, no second map, one exactly sized path per file.
pub(crate) fn load_migrations(
    root: &Path,
    dir: &Path,
    database: &str,
    scripts: Scripts,
) -> Result<Vec<Migration>, Error> {
    let shown_dir = relative(root, dir);
    let entries = sorted_entries(dir, true)?;
    let mut files = Vec::with_capacity(entries.len());
    for Entry { name, is_dir } in entries {
        if is_dir {
            return Err(bad_file(
                root,
                &dir.join(&name),
                "folders inside migrations/ are not read: move its files up into migrations/ or remove it",
            ));
        }
        let parsed = parse_migration_file_name(&name)
            .map_err(|reason| bad_file(root, &dir.join(&name), &reason))?;
        let mut path = String::with_capacity(shown_dir.len() + 1 + name.len());
        path.push_str(&shown_dir);
        path.push('/');
        let name_at = path.len();
        path.push_str(&name);
        files.push(MigrationFile {
            version: parsed.version,
            is_up: parsed.is_up,
            path,
            name_at,
        });
    }
    // By version, a down file just before its up file; stable, so that of two files with
    // one version the first in name order is reported first.
    files.sort_by_key(|f| (f.version, f.is_up));
    for pair in files.windows(2) {
        let (first, second) = (&pair[0], &pair[1]);
        if first.version == second.version && first.is_up == second.is_up {
            return Err(Error::DuplicateVersion {
                database: database.to_string(),
                version: first.version,
                first: display_path(root, &dir.join(first.file_name())),
                second: display_path(root, &dir.join(second.file_name())),
            });
        }
    }
    for (i, down) in files.iter().enumerate().filter(|(_, f)| !f.is_up) {
        let up = files.get(i + 1).filter(|up| up.version == down.version);
        if up.is_none_or(|up| up.slug() != down.slug()) {
            return Err(bad_file(
                root,
                &dir.join(down.file_name()),
                &format!(
                    "this down file has no up file ({}_{}.up.sql): add it, or rename the down file to match its up file",
                    down.version,
                    down.slug()
                ),
            ));
        }
    }

    let wanted = |f: &MigrationFile| f.is_up || scripts == Scripts::All;
    let names: Vec<&str> = files
        .iter()
        .filter(|f| wanted(f))
        .map(MigrationFile::file_name)
        .collect();
    let mut contents = read_scripts(root, dir, &names)?.into_iter();

    let mut migrations = Vec::with_capacity(files.iter().filter(|f| f.is_up).count());
    let mut down: Option<(String, Option<String>)> = None;
    for file in files {
        let sql = if wanted(&file) { contents.next() } else { None };
        if !file.is_up {
            down = Some((file.path, sql));
            continue;
        }
        let up = sql.unwrap_or_default();
        let (down_path, down_sql) = down.take().unzip();
        let down_sql = down_sql.flatten();
        migrations.push(Migration {
            version: file.version,
            name: Cow::Owned(file.slug().to_owned()),
            checksum: Checksum::of_script(&up),
            up_no_transaction: is_no_transaction(&up),
            down_no_transaction: down_sql.as_deref().is_some_and(is_no_transaction),
            up_path: Cow::Owned(file.path),
            down_path: down_path.map(Cow::Owned),
            down: down_sql.map(Cow::Owned),
            up: Cow::Owned(up),
        });
    }
    Ok(migrations)
}

/// Loads `dir` as a seeds folder: `*.sql` files, in lexical order.
pub(crate) fn load_seeds(root: &Path, dir: &Path) -> Result<Vec<Seed>, Error> {
    let mut seeds = Vec::new();
    for Entry {
        name: file_name,
        is_dir,
    } in sorted_entries(dir, true)?
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
        seeds.push(Seed {
            name: Cow::Owned(name.to_string()),
            sql: Cow::Owned(read_script(root, &path)?),
            path: relative(root, &path),
        });
    }
    Ok(seeds)
}
