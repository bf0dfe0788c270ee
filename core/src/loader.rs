//! The one reader of a project's tree, shared by the derive and the `dbgen` binary.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ConfigLayer, LayerKind, display_path};
use crate::files::{
    Entry, Kind, Seen, Tree, for_each_entry, normalize_path, read_text, relative, sorted_entries,
    visit_scripts,
};
use crate::migration::{
    Layout, MIGRATION_FORMS, MigrationsFolder, ScriptFile, ScriptSource, parse_migration_file_name,
    parse_migration_folder_name,
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
    // A tenant list read from another database: that one must be a plain database here.
    for (name, path, config) in &folders {
        if let Some(crate::TenantSource::Query { database, .. }) = &config.tenants {
            let control = folders
                .iter()
                .find(|(n, _, _)| n.as_str() == database.as_ref());
            let problem = match control {
                _ if database.as_ref() == name.as_str() => Some("is this database itself; a tenant list lives in another database (a control database)".to_string()),
                None => Some(format!(
                    "is not a database of this project ({})",
                    crate::known_databases_message(folders.iter().map(|(n, _, _)| n.as_str()))
                )),
                Some((_, _, c)) if c.tenants.is_some() => {
                    Some("has tenants of its own; the list must come from a plain database".to_string())
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                return Err(Error::ConfigValue {
                    path: display_path(root, &path.join(DATABASE_CONFIG_FILE)),
                    message: format!("[tenants] query.database = \"{database}\" {problem}"),
                });
            }
        }
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

/// The checked entries of a migrations folder: a migration per up script, in version
/// order (the checksums not yet computed), and every rule broken, by file.
struct Listing {
    ups: Vec<Migration>,
    problems: Vec<(String, String)>,
}

/// Loads `dir` as a migrations folder: every entry but dotfiles must be a migration in one
/// of the forms of [`crate::MIGRATION_FORMS`]; every file that breaks a rule is reported at
/// once.
///
/// Every name is checked before any script is read. Only up scripts are read, each once, for
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
    let Listing {
        mut ups,
        mut problems,
    } = list_migrations(tree, &folder)?;
    let mut duplicates = Vec::new();
    for pair in ups.windows(2).filter(|w| w[0].version == w[1].version) {
        // `1_a.sql` next to `1_a.up.sql`: one stem, so one migration written twice.
        let stem = |m: &Migration| match &m.source {
            ScriptSource::Files { stem, .. } => Some(stem.to_string()),
            ScriptSource::Embedded(_) => None,
        };
        let same_stem = stem(&pair[0]).is_some() && stem(&pair[0]) == stem(&pair[1]);
        if !same_stem {
            duplicates.push((pair[0].version, pair[0].up_path(), pair[1].up_path()));
        }
        let (first, second) = (pair[0].file_name(true), pair[1].file_name(true));
        let reason = if same_stem {
            format!(
                "it and {first} are one migration in two forms: keep one of them (and its down file, if any)"
            )
        } else {
            format!(
                "its version {} is also that of {first}: give one of them another version",
                pair[1].version
            )
        };
        problems.push((second, reason));
    }
    if problems.len() == 1
        && let [(version, first, second)] = duplicates.as_slice()
    {
        return Err(Error::DuplicateVersion {
            database: database.to_string(),
            version: *version,
            first: PathBuf::from(first.as_ref()),
            second: PathBuf::from(second.as_ref()),
        });
    }
    match problems.len() {
        0 => {}
        1 => {
            let (file, reason) = problems.remove(0);
            return Err(bad_file(&tree.root, &folder.path.join(file), &reason));
        }
        _ => {
            problems.sort();
            return Err(Error::BadMigrationFiles {
                folder: PathBuf::from(&folder.shown),
                problems: problems
                    .into_iter()
                    .map(|(file, reason)| {
                        (PathBuf::from(format!("{}/{file}", folder.shown)), reason)
                    })
                    .collect(),
            });
        }
    }
    visit_scripts(
        tree,
        &mut ups,
        |m| folder.path.join(m.file_name(true)),
        |m, up| m.checksum = Checksum::of_script(up),
    )?;
    Ok(ups)
}

/// A migration read from a migrations folder, its checksum not yet computed.
fn listed(
    folder: &Arc<MigrationsFolder>,
    (version, name, stem): (i64, &str, &str),
    layout: Layout,
    no_transaction: bool,
) -> Migration {
    Migration {
        version,
        name: Cow::Owned(name.to_owned()),
        checksum: Checksum([0; 32]),
        source: ScriptSource::Files {
            folder: Arc::clone(folder),
            stem: stem.into(),
            layout,
            has_down: false,
        },
        no_transaction,
    }
}

/// Lists and checks a migrations folder's names, and reads diesel's `metadata.toml`s.
/// Problems are collected, not returned at the first, so that every one is reported.
fn list_migrations(tree: &Tree, folder: &Arc<MigrationsFolder>) -> Result<Listing, Error> {
    let (mut ups, mut downs, mut problems) = (Vec::new(), Vec::new(), Vec::new());
    let mut folders = Vec::new();
    for_each_entry(tree, &folder.path, |name, kind| {
        match kind {
            Kind::File => match parse_migration_file_name(name) {
                Ok(parsed) => match parsed.script {
                    ScriptFile::Up | ScriptFile::Single => {
                        let layout = match parsed.script {
                            ScriptFile::Up => Layout::UpDown,
                            _ => Layout::Single,
                        };
                        ups.push(listed(
                            folder,
                            (parsed.version, parsed.name, parsed.stem),
                            layout,
                            false,
                        ));
                    }
                    ScriptFile::Down => downs.push(parsed.stem.to_string()),
                },
                Err(reason) => problems.push((name.to_string(), reason)),
            },
            Kind::Dir => folders.push(name.to_string()),
            Kind::Refused(reason) => problems.push((name.to_string(), reason)),
        }
        Ok(())
    })?;
    for name in folders {
        match migration_folder(tree, folder, &name)? {
            Ok(migration) => ups.push(migration),
            Err(problem) => problems.push(problem),
        }
    }
    // In name order within a version, so that of two files with one version the first in
    // name order is reported first: `01_a` comes before `1_a`.
    ups.sort_unstable_by(|a, b| {
        (a.version, a.file_name(true)).cmp(&(b.version, b.file_name(true)))
    });
    let stem_of = |m: &Migration| match &m.source {
        ScriptSource::Files { stem, layout, .. } => Some((stem.to_string(), *layout)),
        ScriptSource::Embedded(_) => None,
    };
    for down in downs {
        let owner = |layout: Layout| {
            ups.iter()
                .position(|m| stem_of(m) == Some((down.clone(), layout)))
        };
        match (owner(Layout::UpDown), owner(Layout::Single)) {
            (Some(i), _) => {
                if let ScriptSource::Files { has_down, .. } = &mut ups[i].source {
                    *has_down = true;
                }
            }
            (None, Some(_)) => problems.push((
                format!("{down}.down.sql"),
                format!(
                    "its up script is {down}.sql, which pairs with no down file: rename that one to {down}.up.sql"
                ),
            )),
            (None, None) => problems.push((
                format!("{down}.down.sql"),
                format!(
                    "this down file has no up file ({down}.up.sql): add it, or rename the down file to match its up file"
                ),
            )),
        }
    }
    ups.shrink_to_fit();
    Ok(Listing { ups, problems })
}

/// A migration in diesel's form: the folder `name` holding `up.sql`, maybe `down.sql`, and
/// maybe `metadata.toml`. `Ok(Err(..))` is a broken rule, to be listed with the others.
fn migration_folder(
    tree: &Tree,
    folder: &Arc<MigrationsFolder>,
    name: &str,
) -> Result<Result<Migration, (String, String)>, Error> {
    let (version, slug) = match parse_migration_folder_name(name) {
        Ok(parsed) => parsed,
        Err(reason) => return Ok(Err((format!("{name}/"), reason))),
    };
    let dir = folder.path.join(name);
    let (mut up, mut down, mut metadata) = (false, false, false);
    let mut problem = None;
    for_each_entry(tree, &dir, |file, kind| {
        match (file, kind) {
            ("up.sql", Kind::File) => up = true,
            ("down.sql", Kind::File) => down = true,
            ("metadata.toml", Kind::File) => metadata = true,
            (_, Kind::Refused(reason)) => {
                problem.get_or_insert((format!("{name}/{file}"), reason));
            }
            _ => {
                problem.get_or_insert((
                    format!("{name}/{file}"),
                    "a migration folder holds only up.sql, down.sql and metadata.toml (diesel's form): move it elsewhere".to_string(),
                ));
            }
        }
        Ok(())
    })?;
    if let Some(problem) = problem {
        return Ok(Err(problem));
    }
    if !up {
        return Ok(Err((
            format!("{name}/"),
            if down {
                "this migration folder has down.sql but no up.sql: add up.sql".to_string()
            } else {
                format!(
                    "a folder in migrations/ is a migration in diesel's form and needs up.sql (and an optional down.sql); {MIGRATION_FORMS}"
                )
            },
        )));
    }
    let no_transaction = if metadata {
        let path = dir.join("metadata.toml");
        let shown = relative(&tree.root, &path);
        let text = read_text(&tree.real, &shown, &path, Seen::Listed)?;
        match diesel_run_in_transaction(&text) {
            Ok(run_in_transaction) => !run_in_transaction,
            Err(reason) => return Ok(Err((format!("{name}/metadata.toml"), reason))),
        }
    } else {
        false
    };
    let mut migration = listed(
        folder,
        (version, slug, name),
        Layout::Folder { metadata },
        no_transaction,
    );
    if let ScriptSource::Files { has_down, .. } = &mut migration.source {
        *has_down = down;
    }
    Ok(Ok(migration))
}

/// diesel's `metadata.toml`: `run_in_transaction = true | false` (default true).
fn diesel_run_in_transaction(text: &str) -> Result<bool, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Metadata {
        #[serde(default = "yes")]
        run_in_transaction: bool,
    }
    fn yes() -> bool {
        true
    }
    toml::from_str::<Metadata>(text)
        .map(|m| m.run_in_transaction)
        .map_err(|e| {
            format!(
                "not a diesel metadata.toml ({}): it may hold only `run_in_transaction = false` or `= true`",
                e.message()
            )
        })
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
