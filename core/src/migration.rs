//! Migration files: `<version>_<slug>.up.sql` with an optional `<version>_<slug>.down.sql`.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use crate::files::{Seen, read_text};
use crate::{Checksum, Error};

/// A first line that makes a migration run outside any transaction.
pub const NO_TRANSACTION_MARKER: &str = "-- dbgen:no-transaction";

const PATTERN: &str = "expected <version>_<name>.up.sql or <version>_<name>.down.sql, where <version> is digits (e.g. 20250823075842) and <name> is a-z, 0-9 and _";

/// One migration of one database, as loaded from disk or embedded by the derive.
///
/// It holds what planning needs (version, name, checksum); the scripts stay where they are
/// until they run (see [`ScriptSource`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The number before the first `_` of its file names: `20250823075842`.
    pub version: i64,
    /// The slug after the version: `initial_schema`.
    pub name: Cow<'static, str>,
    /// Of the up script, as loaded.
    pub checksum: Checksum,
    /// Where its scripts are read from when they run.
    pub source: ScriptSource,
}

/// Where a migration's scripts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    /// Compiled into the application by `#[derive(Databases)]`.
    Embedded(&'static EmbeddedScripts),
    /// Files of a migrations folder, read when they run, so that a project of 10,000
    /// migrations is not held in memory at once. The file names are rebuilt from the version
    /// (written with `version_digits` digits: `0001_x.up.sql`) and the name.
    Files {
        /// The migrations folder holding them.
        folder: Arc<MigrationsFolder>,
        /// How many digits the version is written with in the file names.
        version_digits: u16,
        /// Whether a down script exists (else the migration is irreversible).
        has_down: bool,
    },
}

/// The scripts of an embedded migration, and the paths they were read from.
#[derive(Debug, PartialEq, Eq)]
pub struct EmbeddedScripts {
    /// The up script.
    pub up: &'static str,
    /// `None`: the migration is irreversible.
    pub down: Option<&'static str>,
    /// Relative to the project root, for messages.
    pub up_path: &'static str,
    /// Relative to the project root, for messages; `None` when irreversible.
    pub down_path: Option<&'static str>,
}

/// A migrations folder, shared by every migration read from it.
#[derive(Debug, PartialEq, Eq)]
pub struct MigrationsFolder {
    /// Where its files are read from.
    pub path: PathBuf,
    /// Relative to the project root with `/` separators, as messages show it.
    pub shown: String,
    /// The project root as the file system resolves it: a script read again when it runs
    /// must still resolve inside it.
    pub(crate) project: PathBuf,
}

impl Migration {
    /// `20250823075842_initial_schema`
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }

    /// Whether it has a down script.
    pub fn is_reversible(&self) -> bool {
        match &self.source {
            ScriptSource::Embedded(scripts) => scripts.down.is_some(),
            ScriptSource::Files { has_down, .. } => *has_down,
        }
    }

    /// The up file, relative to the project root.
    pub fn up_path(&self) -> Cow<'static, str> {
        self.path(true)
    }

    /// The down file, relative to the project root; `None` when irreversible.
    pub fn down_path(&self) -> Option<Cow<'static, str>> {
        self.is_reversible().then(|| self.path(false))
    }

    fn path(&self, up: bool) -> Cow<'static, str> {
        match &self.source {
            ScriptSource::Embedded(s) if up => Cow::Borrowed(s.up_path),
            ScriptSource::Embedded(s) => Cow::Borrowed(s.down_path.unwrap_or_default()),
            ScriptSource::Files { folder, .. } => {
                Cow::Owned(format!("{}/{}", folder.shown, self.file_name(up)))
            }
        }
    }

    /// `0001_initial_schema.up.sql`, as the file is named on disk.
    pub(crate) fn file_name(&self, up: bool) -> String {
        let digits = match &self.source {
            ScriptSource::Files { version_digits, .. } => *version_digits,
            ScriptSource::Embedded(_) => 0,
        };
        migration_file_name(self.version, digits, &self.name, up)
    }

    /// The up script. A file is read now and must still be what was loaded: a file changed
    /// since is an error rather than SQL that its recorded checksum does not describe.
    pub fn up_script(&self) -> Result<Cow<'static, str>, Error> {
        match &self.source {
            ScriptSource::Embedded(scripts) => Ok(Cow::Borrowed(scripts.up)),
            ScriptSource::Files { folder, .. } => {
                let up = read_text(
                    &folder.project,
                    &self.up_path(),
                    &folder.path.join(self.file_name(true)),
                    Seen::Unseen,
                )?;
                if Checksum::of_script(&up) != self.checksum {
                    return Err(Error::ChangedWhileRunning {
                        path: self.up_path().into_owned().into(),
                    });
                }
                Ok(Cow::Owned(up))
            }
        }
    }

    /// The down script, read now; `None` when irreversible.
    pub fn down_script(&self) -> Result<Option<Cow<'static, str>>, Error> {
        match &self.source {
            ScriptSource::Embedded(scripts) => Ok(scripts.down.map(Cow::Borrowed)),
            ScriptSource::Files { folder, .. } => match self.down_path() {
                None => Ok(None),
                Some(shown) => {
                    let path = folder.path.join(self.file_name(false));
                    let down = read_text(&folder.project, &shown, &path, Seen::Unseen)?;
                    Ok(Some(Cow::Owned(down)))
                }
            },
        }
    }
}

/// The file name of a migration's up (`up = true`) or down script:
/// `20250823075842_initial_schema.up.sql`. The version is written with at least `digits`
/// digits, zero-padded (`0001_x.up.sql` for version 1 with 4 digits); 0 writes it as is.
pub fn migration_file_name(version: i64, digits: u16, name: &str, up: bool) -> String {
    let (digits, kind) = (usize::from(digits), if up { "up" } else { "down" });
    format!("{version:0digits$}_{name}.{kind}.sql")
}

/// What a migration file's name says; `name` borrows from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationFileName<'a> {
    /// The version: `20250823075842`.
    pub version: i64,
    /// The slug after the version: `initial_schema`.
    pub name: &'a str,
    /// An up script (`.up.sql`), else a down script (`.down.sql`).
    pub is_up: bool,
}

/// Parses a file name from `migrations/`; the error says which rule it breaks.
pub fn parse_migration_file_name(file_name: &str) -> Result<MigrationFileName<'_>, String> {
    let (stem, is_up) = if let Some(stem) = file_name.strip_suffix(".up.sql") {
        (stem, true)
    } else if let Some(stem) = file_name.strip_suffix(".down.sql") {
        (stem, false)
    } else {
        return Err(format!("not a migration file; {PATTERN}"));
    };
    let Some((version, name)) = stem.split_once('_') else {
        return Err(format!("no `_` between version and name; {PATTERN}"));
    };
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("version {version:?} is not all digits; {PATTERN}"));
    }
    let version: i64 = version
        .parse()
        .map_err(|_| format!("version {version} does not fit a 64-bit integer; {PATTERN}"))?;
    if version == 0 {
        return Err(format!(
            "version 0 is reserved (`--to 0` means before every migration); {PATTERN}"
        ));
    }
    validate_migration_slug(name).map_err(|e| format!("{e}; {PATTERN}"))?;
    Ok(MigrationFileName {
        version,
        name,
        is_up,
    })
}

/// A migration's name: `[a-z0-9_]+`.
pub fn validate_migration_slug(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the migration name is empty".to_string());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(c) => Err(format!(
            "migration name {name:?} contains {c:?} (only a-z, 0-9 and _ are allowed)"
        )),
        None => Ok(()),
    }
}

/// Whether a script opts out of transactions with [`NO_TRANSACTION_MARKER`] on its first line.
pub fn is_no_transaction(script: &str) -> bool {
    let first = script
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("");
    first.trim_end() == NO_TRANSACTION_MARKER
}

/// Whether a script holds no statement: only whitespace and `--` comment lines (31 of
/// Vaultwarden's 55 MySQL down scripts are empty). Such a script runs nothing and is still
/// recorded; sent as it is, MySQL and MariaDB refuse it ("Query was empty").
pub fn is_blank_script(script: &str) -> bool {
    script
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with("--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_scripts() {
        assert!(is_blank_script(""));
        assert!(is_blank_script(" \n\t\r\n"));
        assert!(is_blank_script(
            "-- dbgen:no-transaction\n-- nothing to undo\n"
        ));
        assert!(!is_blank_script("-- x\nDROP TABLE t;"));
        assert!(!is_blank_script("/* */ SELECT 1"));
    }

    #[test]
    fn parses_up_and_down_names() {
        let up = parse_migration_file_name("20250823075842_initial_schema.up.sql").unwrap();
        assert_eq!(
            up,
            MigrationFileName {
                version: 20250823075842,
                name: "initial_schema",
                is_up: true
            }
        );
        let down = parse_migration_file_name("1_a.down.sql").unwrap();
        assert!(!down.is_up);
        assert_eq!(down.version, 1);
    }

    #[test]
    fn file_names_are_built_as_they_are_parsed() {
        assert_eq!(
            migration_file_name(20250823075842, 0, "initial_schema", true),
            "20250823075842_initial_schema.up.sql"
        );
        assert_eq!(migration_file_name(1, 4, "x", false), "0001_x.down.sql");
        let parsed = parse_migration_file_name("0001_x.down.sql").unwrap();
        assert_eq!((parsed.version, parsed.name, parsed.is_up), (1, "x", false));
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases = [
            ("20250823075842_initial.sql", "not a migration file"),
            ("README.md", "not a migration file"),
            ("20250823075842.up.sql", "no `_`"),
            ("2025a_x.up.sql", "not all digits"),
            ("_x.up.sql", "not all digits"),
            ("99999999999999999999_x.up.sql", "does not fit"),
            ("0_x.up.sql", "reserved"),
            ("1_Initial.up.sql", "contains 'I'"),
            ("1_add-users.up.sql", "contains '-'"),
            ("1_.up.sql", "empty"),
        ];
        for (file, reason) in cases {
            let err = parse_migration_file_name(file).unwrap_err();
            assert!(err.contains(reason), "{file}: {err}");
            assert!(err.contains("<version>_<name>.up.sql"), "{file}: {err}");
        }
    }

    #[test]
    fn no_transaction_marker_on_the_first_line_only() {
        assert!(is_no_transaction(
            "-- dbgen:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);"
        ));
        assert!(is_no_transaction("-- dbgen:no-transaction\r\nVACUUM;"));
        assert!(!is_no_transaction(
            "CREATE TABLE t (id int);\n-- dbgen:no-transaction\n"
        ));
        assert!(!is_no_transaction("-- dbgen:no-transactions\n"));
        assert!(!is_no_transaction(""));
    }
}
