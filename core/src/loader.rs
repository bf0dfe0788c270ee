//! The one reader of a project's tree, shared by the derive and the `dbgen` binary.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ConfigLayer, LayerKind, display_path};
use crate::files::{
    Entry, Kind, Seen, Tree, for_each_entry, normalize_path, read_text, relative, sorted_entries,
    visit_scripts,
};
use crate::migration::{
    MigrationsFolder, ScriptSource, migration_file_name, parse_migration_file_name,
};
use crate::name::{Clash, DatabaseName};
use crate::{
    Checksum, DatabaseConfig, Error, Migration, ProjectSettings, Seed, validate_seed_name,
};

/// The project's config file, at its root: defaults shared by every database.
pub const CONFIG_FILE: &str = "dbgen.toml";
/// The folder, at the project root, holding one folder per database.
pub const DATABASES_DIR: &str = "database";
/// A database's config file, in its folder: overrides `dbgen.toml` key by key.
pub const DATABASE_CONFIG_FILE: &str = "database.toml";
/// A database's migrations folder, in its folder.
pub const MIGRATIONS_DIR: &str = "migrations";
/// A database's seeds folder, in its folder.
pub const SEEDS_DIR: &str = "seeds";

/// The folder of database `name`, relative to the project root: `database/<name>`.
pub fn database_dir(name: &str) -> PathBuf {
    Path::new(DATABASES_DIR).join(name)
}

/// One database: its name, merged config, migrations (by version) and seeds (by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// The name of its folder: `permiso-test`.
    pub name: Cow<'static, str>,
    /// Its `database.toml` merged over `dbgen.toml`.
    pub config: DatabaseConfig,
    /// In version order; another database's when `config.migrations_from` is set.
    pub migrations: Cow<'static, [Migration]>,
    /// In name order, which is the order they run in.
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
    /// The folder holding `dbgen.toml` (or where it would be).
    pub root: PathBuf,
    /// The project-wide settings of `dbgen.toml`.
    pub settings: ProjectSettings,
    /// In name order, which is the order `--all` runs them.
    pub databases: Vec<Database>,
}

impl Project {
    /// The database named `name`; an error listing the known ones when there is none.
    pub fn database(&self, name: &str) -> Result<&Database, Error> {
        self.databases
            .iter()
            .find(|db| db.name == name)
            .ok_or_else(|| Error::UnknownDatabase {
                name: name.to_string(),
                known: self.names(),
            })
    }

    /// Every database's name, in name order.
    pub fn names(&self) -> Vec<String> {
        self.databases
            .iter()
            .map(|db| db.name.to_string())
            .collect()
    }

    /// Whether a database `name` can be added to this project: an error when it would read
    /// the environment variables of an existing database (`a_b` next to `a-b`) or map to
    /// its enum variant (`db2` next to `db-2`). `dbgen new` asks before writing anything.
    pub fn check_new_name(&self, name: &DatabaseName) -> Result<(), Error> {
        let names = self
            .databases
            .iter()
            .map(|db| db.name.as_ref())
            .filter(|existing| *existing != name.as_str())
            .chain([name.as_str()]);
        match crate::name::first_clash(names) {
            None => Ok(()),
            Some((existing, _, clash)) => Err(Error::NameTaken {
                name: name.to_string(),
                existing: existing.to_string(),
                reason: match clash {
                    Clash::EnvPrefix(prefix) => {
                        format!("read environment variables {prefix}_DB_*")
                    }
                    Clash::Variant(variant) => {
                        format!("map to the enum variant `{variant}` of #[derive(Databases)]")
                    }
                },
            }),
        }
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
    let absolute =
        normalize_path(&std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf()));
    absolute
        .ancestors()
        .find(|dir| dir.join(CONFIG_FILE).is_file())
        .unwrap_or(&absolute)
        .to_path_buf()
}

/// Reads `root/dbgen.toml` and every `root/database/<name>/`.
///
/// A project without a `database/` folder has no databases; everything else that breaks a
/// rule is an error naming the file. Only regular files inside `root` are read: a symlink
/// whose target is outside it, a FIFO, a socket or a device is refused by name, unread.
pub fn load_project(root: &Path) -> Result<Project, Error> {
    load(root, &root.join(DATABASES_DIR))
}

/// [`load_project`] with the databases in `databases_dir` instead of `root/database`
/// (the derive's `#[databases(root = "...")]`); `dbgen.toml` is still read from `root`.
pub fn load_project_with(root: &Path, databases_dir: &Path) -> Result<Project, Error> {
    load(root, databases_dir)
}

fn load(root: &Path, databases_dir: &Path) -> Result<Project, Error> {
    let tree = Tree::new(root);
    let base = ConfigLayer::read(&tree, &root.join(CONFIG_FILE), LayerKind::Project)?;
    let settings = base.project_settings();

    let mut folders = Vec::new();
    for Entry {
        name: file_name,
        kind,
    } in sorted_entries(&tree, databases_dir)?
    {
        let path = databases_dir.join(&file_name);
        match kind {
            Kind::Dir => {}
            Kind::File => {
                return Err(bad_file(
                    root,
                    &path,
                    "only database folders belong in database/ (one per database, made by `dbgen new`): move or remove this file",
                ));
            }
            Kind::Refused(reason) => return Err(bad_file(root, &path, &reason)),
        }
        let name = DatabaseName::new(&file_name).map_err(|e| Error::BadFile {
            path: display_path(root, &path),
            reason: format!("this folder's name is not a database name: {e}"),
        })?;
        let config_path = path.join(DATABASE_CONFIG_FILE);
        if std::fs::symlink_metadata(&config_path)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return Err(bad_file(
                root,
                &path,
                "this database folder has no database.toml (`dbgen new` writes one): add it or remove the folder",
            ));
        }
        let layer = ConfigLayer::read(&tree, &config_path, LayerKind::Database)?;
        let config = base
            .merged_with(&layer)
            .resolve(name.as_str(), &display_path(root, &config_path))?;
        folders.push((name, path, config));
    }
    crate::check_name_collisions(folders.iter().map(|(name, _, _)| name.as_str()))?;

    let mut own_migrations: HashMap<String, Vec<Migration>> = HashMap::new();
    for (name, path, _) in &folders {
        own_migrations.insert(
            name.to_string(),
            load_migrations(&tree, &path.join(crate::MIGRATIONS_DIR), name.as_str())?,
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
                        crate::known_databases_message(folders.iter().map(|(n, _, _)| n.as_str()))
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
            seeds: Cow::Owned(load_seeds(&tree, &path.join(SEEDS_DIR))?),
        });
    }
    Ok(Project {
        root: root.to_path_buf(),
        settings,
        databases,
    })
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
    tree: &Tree,
    dir: &Path,
    database: &str,
) -> Result<Vec<Migration>, Error> {
    let folder = Arc::new(MigrationsFolder {
        path: dir.to_path_buf(),
        shown: relative(&tree.root, dir).into_owned(),
        project: tree.real.clone(),
    });
    let Listing { mut ups, downs } = list_migrations(tree, &folder)?;
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
        tree,
        &mut ups,
        |m| folder.path.join(m.file_name(true)),
        |m, up| m.checksum = Checksum::of_script(up),
    )?;
    Ok(ups)
}

/// Lists and checks a migrations folder's names. A bad entry is reported after the listing,
/// the first in name order, so that the error does not depend on the file system's order.
fn list_migrations(tree: &Tree, folder: &Arc<MigrationsFolder>) -> Result<Listing, Error> {
    let (mut ups, mut downs) = (Vec::new(), Vec::new());
    let mut first_bad: Option<(String, String)> = None;
    for_each_entry(tree, &folder.path, |name, kind| {
        if first_bad
            .as_ref()
            .is_some_and(|(bad, _)| bad.as_str() < name)
        {
            return Ok(());
        }
        let parsed = match kind {
            Kind::File => parse_migration_file_name(name),
            Kind::Dir => Err("folders inside migrations/ are not read: move its files up into migrations/ or remove it".to_string()),
            Kind::Refused(reason) => Err(reason),
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
        return Err(bad_file(&tree.root, &folder.path.join(name), &reason));
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
pub(crate) fn load_seeds(tree: &Tree, dir: &Path) -> Result<Vec<Seed>, Error> {
    let root = tree.root.as_path();
    let mut seeds = Vec::new();
    for Entry {
        name: file_name,
        kind,
    } in sorted_entries(tree, dir)?
    {
        let path = dir.join(&file_name);
        if let Kind::Refused(reason) = &kind {
            return Err(bad_file(root, &path, reason));
        }
        let name = file_name
            .strip_suffix(".sql")
            .filter(|_| kind == Kind::File)
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
            sql: Cow::Owned(read_text(&tree.real, &shown, &path, Seen::Listed)?),
            path: shown,
        });
    }
    Ok(seeds)
}
