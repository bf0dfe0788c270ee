//! The templates of every file dbgen writes: built in from `templates/*.tera`, replaced file
//! by file by the project's own templates folder (`templates = "dir"` in dbgen.toml).

use std::collections::BTreeMap;
use std::error::Error as _;
use std::path::Path;

use dbgen_core::{DATABASES_DIR, Driver, ProjectSettings, env_var_names_for};
use include_dir::{Dir, include_dir};
use serde::Serialize;
use tera::{Context, Tera};

use crate::error::CliError;

/// `generator/templates` links to the repository's `templates/`; `cargo package` copies the
/// files, so the published crate embeds the same templates.
static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

pub const DBGEN_TOML: &str = "dbgen.toml.tera";
pub const DATABASE_TOML: &str = "database.toml.tera";
pub const MIGRATION_UP: &str = "migration.up.sql.tera";
pub const MIGRATION_DOWN: &str = "migration.down.sql.tera";
pub const SEED: &str = "seed.sql.tera";
pub const REGISTRY_MODULE: &str = "databases.rs.tera";
pub const BUILD_RS: &str = "build.rs.tera";

/// Every template, by the file name an override must have.
pub const NAMES: [&str; 7] = [
    DBGEN_TOML,
    DATABASE_TOML,
    MIGRATION_UP,
    MIGRATION_DOWN,
    SEED,
    REGISTRY_MODULE,
    BUILD_RS,
];

/// One database as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseInfo {
    pub name: String,
    pub driver: &'static str,
    pub env_prefix: String,
    pub variant: String,
    /// For the documented defaults of `<P>_DB_PORT` and `<P>_DB_USER` (none for SQLite).
    pub default_port: Option<u16>,
    pub default_user: Option<&'static str>,
    /// The variables its connection is read from, `<P>_DB_URL` first.
    pub env_vars: Vec<String>,
}

impl DatabaseInfo {
    pub fn new(name: &str, driver: Driver, env_prefix: String, variant: String) -> Self {
        Self {
            name: name.to_string(),
            driver: driver.as_str(),
            default_port: driver.default_port(),
            default_user: driver.default_user(),
            env_vars: env_var_names_for(driver, &env_prefix),
            env_prefix,
            variant,
        }
    }
}

/// The defaults that dbgen.toml and database.toml document, taken from core so they can't drift.
#[derive(Debug, Clone, Serialize)]
pub struct Defaults {
    pub migrations_table: &'static str,
    pub lock_timeout: u64,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: u64,
    pub registry_module: &'static str,
    pub databases_dir: &'static str,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            migrations_table: dbgen_core::DEFAULT_MIGRATIONS_TABLE,
            lock_timeout: dbgen_core::DEFAULT_LOCK_TIMEOUT_SECS,
            max_connections: dbgen_core::DEFAULT_MAX_CONNECTIONS,
            min_connections: dbgen_core::DEFAULT_MIN_CONNECTIONS,
            acquire_timeout: dbgen_core::DEFAULT_ACQUIRE_TIMEOUT_SECS,
            registry_module: dbgen_core::DEFAULT_REGISTRY_MODULE,
            databases_dir: DATABASES_DIR,
        }
    }
}

/// `dbgen.toml.tera`
#[derive(Debug, Serialize)]
pub struct ProjectContext {
    pub defaults: Defaults,
}

/// `database.toml.tera`
#[derive(Debug, Serialize)]
pub struct DatabaseContext {
    pub database: DatabaseInfo,
    pub defaults: Defaults,
    /// A database whose migrations this one could reuse, for the commented example.
    pub other_database: Option<String>,
}

/// `migration.up.sql.tera` and `migration.down.sql.tera`
#[derive(Debug, Serialize)]
pub struct MigrationContext {
    pub database: DatabaseInfo,
    pub version: i64,
    pub name: String,
    /// `2025-08-23 07:58:42 UTC`
    pub created: String,
    pub no_transaction_marker: &'static str,
}

/// `seed.sql.tera`
#[derive(Debug, Serialize)]
pub struct SeedContext {
    pub database: DatabaseInfo,
    pub name: String,
}

/// `databases.rs.tera`
#[derive(Debug, Serialize)]
pub struct RegistryContext {
    pub databases: Vec<DatabaseInfo>,
    pub databases_dir: &'static str,
}

/// `build.rs.tera`
#[derive(Debug, Serialize)]
pub struct BuildRsContext {
    pub databases_dir: &'static str,
}

pub struct Templates {
    tera: Tera,
    /// Template name -> where it came from, for error messages.
    origins: BTreeMap<&'static str, String>,
}

impl Templates {
    /// The built-in templates with the project's overrides, if it names a templates folder.
    pub fn load(root: &Path, settings: &ProjectSettings) -> Result<Self, CliError> {
        let mut sources: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
        for name in NAMES {
            let text = BUILT_IN
                .get_file(name)
                .and_then(|f| f.contents_utf8())
                .ok_or_else(|| CliError::Template {
                    template: format!("built-in template {name}"),
                    message: "missing from this build of dbgen".to_string(),
                })?;
            sources.insert(
                name,
                (text.to_string(), format!("built-in template {name}")),
            );
        }
        if let Some(dir) = &settings.templates {
            for (name, text, shown) in read_overrides(root, Path::new(dir))? {
                sources.insert(name, (text, shown));
            }
        }

        let mut tera = Tera::default();
        // SQL, TOML and Rust, never HTML: nothing must be escaped.
        tera.autoescape_on(vec![]);
        let mut origins = BTreeMap::new();
        for (name, (text, shown)) in sources {
            tera.add_raw_template(name, &text)
                .map_err(|e| template_error(&shown, &e))?;
            origins.insert(name, shown);
        }
        Ok(Self { tera, origins })
    }

    pub fn render(&self, name: &'static str, context: &impl Serialize) -> Result<String, CliError> {
        let shown = self
            .origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string());
        let context = Context::from_serialize(context).map_err(|e| template_error(&shown, &e))?;
        self.tera
            .render(name, &context)
            .map_err(|e| template_error(&shown, &e))
    }
}

/// The `*.tera` files of the overrides folder. A `.tera` file that replaces no template is an
/// error rather than silently unused (a typo would otherwise go unnoticed).
fn read_overrides(
    root: &Path,
    dir: &Path,
) -> Result<Vec<(&'static str, String, String)>, CliError> {
    let full = root.join(dir);
    let fail = |reason: String| CliError::TemplatesDir {
        path: dir.to_path_buf(),
        reason,
    };
    let entries = std::fs::read_dir(&full).map_err(|e| {
        fail(format!(
            "cannot read it ({e}): create it, or remove `templates` from dbgen.toml"
        ))
    })?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| fail(format!("cannot read it ({e})")))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || !file_name.ends_with(".tera") {
            continue;
        }
        let shown = dir.join(&file_name).display().to_string();
        let Some(name) = NAMES.iter().copied().find(|n| *n == file_name) else {
            return Err(fail(format!(
                "{file_name} replaces no template; the templates are {}: rename it to the one it replaces",
                NAMES.join(", ")
            )));
        };
        let text = std::fs::read_to_string(entry.path()).map_err(|e| CliError::Template {
            template: shown.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        out.push((name, text, shown));
    }
    Ok(out)
}

/// Tera puts the useful part (line, column, missing variable) in the error's sources.
fn template_error(shown: &str, error: &tera::Error) -> CliError {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(":\n");
        message.push_str(cause.to_string().trim_end());
        source = cause.source();
    }
    CliError::Template {
        template: shown.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, driver: Driver) -> DatabaseInfo {
        let db = dbgen_core::DatabaseName::new(name).unwrap();
        DatabaseInfo::new(name, driver, db.env_prefix(), db.variant_name())
    }

    fn built_in() -> Templates {
        Templates::load(Path::new("/nonexistent"), &ProjectSettings::default()).unwrap()
    }

    #[test]
    fn every_built_in_file_is_a_template() {
        let mut files: Vec<_> = BUILT_IN
            .files()
            .map(|f| f.path().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut names = NAMES.map(String::from).to_vec();
        names.sort();
        assert_eq!(files, names);
    }

    fn migration(driver: Driver) -> MigrationContext {
        MigrationContext {
            database: info("permiso-test", driver),
            version: 20250823075842,
            name: "create_users".into(),
            created: "2025-08-23 07:58:42 UTC".into(),
            no_transaction_marker: dbgen_core::NO_TRANSACTION_MARKER,
        }
    }

    #[test]
    fn dbgen_toml() {
        let text = built_in()
            .render(
                DBGEN_TOML,
                &ProjectContext {
                    defaults: Defaults::default(),
                },
            )
            .unwrap();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn database_toml() {
        let t = built_in();
        for (driver, other) in [(Driver::Postgres, Some("permiso")), (Driver::Sqlite, None)] {
            let text = t
                .render(
                    DATABASE_TOML,
                    &DatabaseContext {
                        database: info("permiso-test", driver),
                        defaults: Defaults::default(),
                        other_database: other.map(String::from),
                    },
                )
                .unwrap();
            insta::assert_snapshot!(format!("database_toml_{driver}"), text);
        }
    }

    #[test]
    fn migration_scripts() {
        let t = built_in();
        let up = t
            .render(MIGRATION_UP, &migration(Driver::Postgres))
            .unwrap();
        insta::assert_snapshot!("migration_up", up);
        let down = t
            .render(MIGRATION_DOWN, &migration(Driver::Postgres))
            .unwrap();
        insta::assert_snapshot!("migration_down", down);
        // A header that starts with the marker would make every migration non-transactional.
        assert!(!dbgen_core::is_no_transaction(&up));
        assert!(!dbgen_core::is_no_transaction(&down));
    }

    #[test]
    fn seed_per_driver() {
        let t = built_in();
        for driver in Driver::ALL {
            let text = t
                .render(
                    SEED,
                    &SeedContext {
                        database: info("permiso", driver),
                        name: "01_roles".into(),
                    },
                )
                .unwrap();
            insta::assert_snapshot!(format!("seed_{driver}"), text);
        }
    }

    #[test]
    fn registry_module() {
        let text = built_in()
            .render(
                REGISTRY_MODULE,
                &RegistryContext {
                    databases: vec![
                        info("cache", Driver::Sqlite),
                        info("permiso", Driver::Postgres),
                        info("permiso-test", Driver::Postgres),
                    ],
                    databases_dir: DATABASES_DIR,
                },
            )
            .unwrap();
        insta::assert_snapshot!(text);
        // What we write must parse, and must be what `dbgen new` knows how to edit later.
        let edited = crate::registry_module::add_variant(&text, "Audit", &[]);
        assert!(
            matches!(edited, crate::registry_module::Edit::Added(_)),
            "{edited:?}"
        );
        // A variant added later gets the doc comment this template writes.
        assert_eq!(
            crate::registry_module::variant_attributes(&text, "PermisoTest"),
            [
                "/// `database/permiso-test/` (postgres), connection from the PERMISO_TEST_DB_* variables."
            ]
        );
    }

    #[test]
    fn build_rs() {
        let text = built_in()
            .render(
                BUILD_RS,
                &BuildRsContext {
                    databases_dir: DATABASES_DIR,
                },
            )
            .unwrap();
        assert!(text.contains("cargo:rerun-if-changed=database"));
        syn::parse_file(&text).unwrap();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn overrides_replace_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tpl")).unwrap();
        std::fs::write(
            dir.path().join("tpl/seed.sql.tera"),
            "-- mine: {{ database.name }}/{{ name }}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("tpl/README.md"), "not a template").unwrap();
        let settings = ProjectSettings {
            templates: Some("tpl".into()),
            ..ProjectSettings::default()
        };
        let t = Templates::load(dir.path(), &settings).unwrap();
        let seed = SeedContext {
            database: info("permiso", Driver::Postgres),
            name: "01_roles".into(),
        };
        assert_eq!(
            t.render(SEED, &seed).unwrap(),
            "-- mine: permiso/01_roles\n"
        );
        let up = t
            .render(MIGRATION_UP, &migration(Driver::Postgres))
            .unwrap();
        assert!(up.contains("create_users"), "the others stay built in");
    }

    #[test]
    fn broken_overrides_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let settings = ProjectSettings {
            templates: Some("tpl".into()),
            ..ProjectSettings::default()
        };
        let err = Templates::load(dir.path(), &settings)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("tpl") && err.contains("create it"), "{err}");

        std::fs::create_dir(dir.path().join("tpl")).unwrap();
        std::fs::write(dir.path().join("tpl/seed.tera"), "x").unwrap();
        let err = Templates::load(dir.path(), &settings)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("seed.tera replaces no template") && err.contains("seed.sql.tera"),
            "{err}"
        );

        std::fs::remove_file(dir.path().join("tpl/seed.tera")).unwrap();
        std::fs::write(dir.path().join("tpl/seed.sql.tera"), "a\n{{ oops \n").unwrap();
        let err = Templates::load(dir.path(), &settings)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("template tpl/seed.sql.tera: "), "{err}");
        assert!(err.contains("--> 3:1"), "the position is shown: {err}");

        std::fs::write(dir.path().join("tpl/seed.sql.tera"), "{{ nope }}").unwrap();
        let t = Templates::load(dir.path(), &settings).unwrap();
        let seed = SeedContext {
            database: info("permiso", Driver::Postgres),
            name: "01_roles".into(),
        };
        let err = t.render(SEED, &seed).unwrap_err().to_string();
        assert!(
            err.contains("tpl/seed.sql.tera") && err.contains("nope"),
            "{err}"
        );
    }
}
