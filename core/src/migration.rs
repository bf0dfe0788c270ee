//! Migration files, in the forms dbgen reads as they are:
//!
//! - `<version>_<name>.up.sql` with an optional `<version>_<name>.down.sql` (dbgen's own form,
//!   and sqlx's reversible one);
//! - `<version>_<name>.sql` (sqlx's simple form, irreversible);
//! - a folder `<version>_<name>/` holding `up.sql`, an optional `down.sql` and an optional
//!   `metadata.toml` (diesel's form; the version may hold `-`: `2018-01-14-171611`).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use crate::files::{Seen, read_text};
use crate::{Checksum, Error};

/// A first line that makes a migration run outside any transaction.
pub const NO_TRANSACTION_MARKER: &str = "-- dbgen:no-transaction";
/// sqlx's spelling of [`NO_TRANSACTION_MARKER`], read the same way.
pub const SQLX_NO_TRANSACTION_MARKER: &str = "-- no-transaction";

/// The forms a migrations folder may hold, for messages.
pub const MIGRATION_FORMS: &str = "migration files are <version>_<name>.up.sql with an optional <version>_<name>.down.sql, <version>_<name>.sql (irreversible), or a folder <version>_<name>/ holding up.sql and an optional down.sql (diesel); <version> is digits, e.g. 20250823075842";

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
    /// Both scripts run outside any transaction whatever their first line says: diesel's
    /// `metadata.toml` with `run_in_transaction = false`.
    pub no_transaction: bool,
}

/// Where a migration's scripts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    /// Compiled into the application by `#[derive(Databases)]`.
    Embedded(&'static EmbeddedScripts),
    /// Files of a migrations folder, read when they run, so that a project of 10,000
    /// migrations is not held in memory at once.
    Files {
        /// The migrations folder holding them.
        folder: Arc<MigrationsFolder>,
        /// The file name without its ending, or the folder's name: `0001_initial_schema`.
        stem: Box<str>,
        /// How its files are laid out.
        layout: Layout,
        /// Whether a down script exists (else the migration is irreversible).
        has_down: bool,
    },
}

/// How a migration's files are laid out in its migrations folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `<stem>.up.sql`, and `<stem>.down.sql` when reversible.
    UpDown,
    /// `<stem>.sql`, irreversible (sqlx's simple form).
    Single,
    /// `<stem>/up.sql`, `<stem>/down.sql` and maybe `<stem>/metadata.toml` (diesel's form).
    Folder {
        /// Whether `metadata.toml` is there (the derive includes it, so editing it rebuilds).
        metadata: bool,
    },
}

impl Layout {
    /// The path of the up (`up = true`) or down script under the migrations folder.
    pub fn script_path(self, stem: &str, up: bool) -> String {
        match (self, up) {
            (Layout::UpDown, true) => format!("{stem}.up.sql"),
            (Layout::UpDown | Layout::Single, false) => format!("{stem}.down.sql"),
            (Layout::Single, true) => format!("{stem}.sql"),
            (Layout::Folder { .. }, true) => format!("{stem}/up.sql"),
            (Layout::Folder { .. }, false) => format!("{stem}/down.sql"),
        }
    }
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

    /// The `metadata.toml` of a migration in diesel's form, relative to the project root.
    pub fn metadata_path(&self) -> Option<String> {
        match &self.source {
            ScriptSource::Files {
                folder,
                stem,
                layout: Layout::Folder { metadata: true },
                ..
            } => Some(format!("{}/{stem}/metadata.toml", folder.shown)),
            _ => None,
        }
    }

    /// Whether `script` (one of this migration's) runs outside any transaction: its first
    /// line says so, or its `metadata.toml` does.
    pub fn runs_outside_transaction(&self, script: &str) -> bool {
        self.no_transaction || is_no_transaction(script)
    }

    fn path(&self, up: bool) -> Cow<'static, str> {
        match &self.source {
            ScriptSource::Embedded(s) if up => Cow::Borrowed(s.up_path),
            ScriptSource::Embedded(s) => Cow::Borrowed(s.down_path.unwrap_or_default()),
            ScriptSource::Files {
                folder,
                stem,
                layout,
                ..
            } => Cow::Owned(format!("{}/{}", folder.shown, layout.script_path(stem, up))),
        }
    }

    /// `0001_initial_schema.up.sql`, as the file is named under its migrations folder.
    pub(crate) fn file_name(&self, up: bool) -> String {
        match &self.source {
            ScriptSource::Files { stem, layout, .. } => layout.script_path(stem, up),
            ScriptSource::Embedded(_) => migration_file_name(self.version, 0, &self.name, up),
        }
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
    /// The name after the version: `initial_schema`.
    pub name: &'a str,
    /// The file name without its ending: `20250823075842_initial_schema`.
    pub stem: &'a str,
    /// Which script the file holds.
    pub script: ScriptFile,
}

/// Which script a migration file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptFile {
    /// `.up.sql`
    Up,
    /// `.down.sql`
    Down,
    /// `.sql`: the up script of an irreversible migration.
    Single,
}

/// Parses a file name from `migrations/`; the error says which rule it breaks and, where
/// one can be made, the name that would fix it.
pub fn parse_migration_file_name(file_name: &str) -> Result<MigrationFileName<'_>, String> {
    let (stem, script, ending) = if let Some(stem) = file_name.strip_suffix(".up.sql") {
        (stem, ScriptFile::Up, ".up.sql")
    } else if let Some(stem) = file_name.strip_suffix(".down.sql") {
        (stem, ScriptFile::Down, ".down.sql")
    } else if let Some(stem) = file_name.strip_suffix(".sql") {
        (stem, ScriptFile::Single, ".sql")
    } else {
        return Err(not_sql(file_name));
    };
    let (version, name) = parse_stem(stem, false, ending)?;
    // `x.Down.sql` or `x.down.sql.sql` would load as an up script: a name does not end in
    // what looks like a script's kind or hold `.sql`.
    let lower = name.to_ascii_lowercase();
    for (kind, right) in [(".up", ".up.sql"), (".down", ".down.sql")] {
        if lower.ends_with(kind) || lower.contains(&format!("{kind}.sql")) {
            let cut = lower.find(kind).unwrap_or(name.len());
            let base = &stem[..stem.len() - name.len() + cut];
            return Err(format!(
                "its name ends in what looks like a script's kind: rename it to {base}{right}"
            ));
        }
    }
    if lower.contains(".sql") {
        return Err(format!(
            "its name holds `.sql`: rename it so that `.sql` is only its ending, e.g. {version}_{}.sql",
            name.replace(".sql", "").replace('.', "_")
        ));
    }
    Ok(MigrationFileName {
        version,
        name,
        stem,
        script,
    })
}

/// Parses the name of a migration folder in diesel's form, `2018-01-14-171611_create_users`,
/// as diesel does: the version is the part before the first `_` with every `-` left out.
pub fn parse_migration_folder_name(folder_name: &str) -> Result<(i64, &str), String> {
    parse_stem(folder_name, true, "/")
}

/// What to do with a file that is not SQL: JavaScript is knex's, to be ported.
fn not_sql(file_name: &str) -> String {
    if [".up", ".down"]
        .iter()
        .any(|kind| file_name.ends_with(kind))
    {
        return format!("not a migration file: add its ending, rename it to {file_name}.sql");
    }
    let stem = [".js", ".ts", ".cjs", ".mjs"]
        .iter()
        .find_map(|ending| file_name.strip_suffix(ending));
    match stem {
        Some(stem) if parse_stem(stem, false, "").is_ok() => format!(
            "dbgen runs SQL, not JavaScript: port this migration to {stem}.up.sql and {stem}.down.sql (the same version keeps knex's history adoptable), then remove it"
        ),
        _ => format!(
            "not a migration file: only migrations belong in migrations/, so move it elsewhere; {MIGRATION_FORMS}"
        ),
    }
}

/// Splits `<version>_<name>`; `dashes` lets the version hold `-` (diesel), and `ending` is
/// what follows the stem in the name (for the suggested rename).
fn parse_stem<'a>(stem: &'a str, dashes: bool, ending: &str) -> Result<(i64, &'a str), String> {
    let example = "20250823075842";
    let Some((version, name)) = stem.split_once('_') else {
        let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
        let rest = stem[digits..].trim_start_matches([' ', '-', '.']);
        return Err(if digits > 0 && rest.is_empty() {
            format!("it has a version but no name: rename it to {stem}_<name>{ending}")
        } else if digits > 0 {
            format!(
                "no `_` between its version and its name: rename it to {}_{rest}{ending}",
                &stem[..digits]
            )
        } else {
            format!(
                "it has no version: rename it to <version>_{stem}{ending}, e.g. {example}_{stem}{ending} (`dbgen migrate make` uses the UTC time), choosing a version that keeps the migrations in the order they must run"
            )
        });
    };
    if !version.bytes().any(|b| b.is_ascii_digit()) {
        return Err(format!(
            "it has no version: rename it to <version>_{stem}{ending}, e.g. {example}_{stem}{ending} (`dbgen migrate make` uses the UTC time), choosing a version that keeps the migrations in the order they must run"
        ));
    }
    let digits: Cow<'_, str> = if dashes {
        Cow::Owned(version.replace('-', ""))
    } else {
        Cow::Borrowed(version)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let allowed = if dashes { "digits and -" } else { "digits" };
        return Err(format!(
            "its version {version:?} is not all {allowed}: rename it to <version>_{stem}{ending}, e.g. {example}_{stem}{ending}"
        ));
    }
    let version: i64 = digits.parse().map_err(|_| {
        format!(
            "its version {version} does not fit a 64-bit integer (at most 18 digits): shorten it"
        )
    })?;
    if name.is_empty() {
        return Err(format!(
            "its name is empty: rename it to {}_<name>{ending}",
            &stem[..stem.len() - 1]
        ));
    }
    // The name is written into the tracking table as an SQL literal; MySQL reads `\` in
    // one as an escape.
    if let Some(c) = name.chars().find(|c| matches!(c, '\'' | '\\' | '"' | '`')) {
        return Err(format!(
            "its name holds {c:?}, which dbgen does not take in a migration's name: rename it without"
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "its name contains the control character {c:?}: rename it"
        ));
    }
    Ok((version, name))
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

/// Whether a script opts out of transactions with [`NO_TRANSACTION_MARKER`] (or sqlx's
/// [`SQLX_NO_TRANSACTION_MARKER`]) on its first line.
pub fn is_no_transaction(script: &str) -> bool {
    let first = script
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("")
        .trim_end();
    first == NO_TRANSACTION_MARKER || first == SQLX_NO_TRANSACTION_MARKER
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
    fn parses_every_file_form() {
        let up = parse_migration_file_name("20250823075842_initial_schema.up.sql").unwrap();
        assert_eq!(
            up,
            MigrationFileName {
                version: 20250823075842,
                name: "initial_schema",
                stem: "20250823075842_initial_schema",
                script: ScriptFile::Up,
            }
        );
        let down = parse_migration_file_name("1_a.down.sql").unwrap();
        assert_eq!((down.version, down.script), (1, ScriptFile::Down));
        // sqlx's simple form, version 0, hyphens and capitals (sqlx takes any description).
        let single = parse_migration_file_name("0_Create-Store.sql").unwrap();
        assert_eq!(
            (single.version, single.name, single.script),
            (0, "Create-Store", ScriptFile::Single)
        );
    }

    #[test]
    fn diesel_folder_versions_leave_out_dashes() {
        assert_eq!(
            parse_migration_folder_name("2018-01-14-171611_create_tables").unwrap(),
            (20180114171611, "create_tables")
        );
        assert_eq!(
            parse_migration_folder_name("00000000000000_diesel_initial_setup").unwrap(),
            (0, "diesel_initial_setup")
        );
        assert!(parse_migration_folder_name("2018-01-xx_a").is_err());
    }

    #[test]
    fn file_names_are_built_as_they_are_parsed() {
        assert_eq!(
            migration_file_name(20250823075842, 0, "initial_schema", true),
            "20250823075842_initial_schema.up.sql"
        );
        assert_eq!(migration_file_name(1, 4, "x", false), "0001_x.down.sql");
        let parsed = parse_migration_file_name("0001_x.down.sql").unwrap();
        assert_eq!(
            (parsed.version, parsed.name, parsed.script),
            (1, "x", ScriptFile::Down)
        );
    }

    #[test]
    fn each_broken_rule_is_named_with_its_fix() {
        let cases = [
            ("README.md", "not a migration file"),
            (
                "20250823075842_initial.js",
                "port this migration to 20250823075842_initial.up.sql",
            ),
            (
                "20250823075842.up.sql",
                "rename it to 20250823075842_<name>.up.sql",
            ),
            ("2025a_x.up.sql", "rename it to <version>_2025a_x.up.sql"),
            (
                "create_users.sql",
                "rename it to <version>_create_users.sql",
            ),
            ("_x.up.sql", "it has no version"),
            ("99999999999999999999_x.up.sql", "does not fit"),
            ("1_.up.sql", "rename it to 1_<name>.up.sql"),
            ("1_a\tb.sql", "control character"),
            ("20240102_Foo.UP.sql", "rename it to 20240102_Foo.up.sql"),
            (
                "20240103_bar.Down.sql",
                "rename it to 20240103_bar.down.sql",
            ),
            (
                "20240104_baz.down.sql.sql",
                "rename it to 20240104_baz.down.sql",
            ),
            (
                "20240105_create.down",
                "rename it to 20240105_create.down.sql",
            ),
            ("20240106 space.sql", "rename it to 20240106_space.sql"),
            ("5_a.sql.bak.sql", "`.sql` is only its ending"),
            ("6_it's.sql", "does not take in a migration's name"),
            (
                "7_a\\', 0); DROP TABLE x; --.sql",
                "does not take in a migration's name",
            ),
        ];
        for (file, reason) in cases {
            let err = parse_migration_file_name(file).unwrap_err();
            assert!(err.contains(reason), "{file}: {err}");
        }
    }

    #[test]
    fn layouts_name_their_scripts() {
        assert_eq!(Layout::UpDown.script_path("1_a", false), "1_a.down.sql");
        assert_eq!(Layout::Single.script_path("1_a", true), "1_a.sql");
        let folder = Layout::Folder { metadata: false };
        assert_eq!(
            folder.script_path("2018-01-14-171611_a", true),
            "2018-01-14-171611_a/up.sql"
        );
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
        // sqlx's marker.
        assert!(is_no_transaction("-- no-transaction\nCREATE DATABASE x;"));
        assert!(!is_no_transaction("-- no-transactions\n"));
        assert!(!is_no_transaction(""));
    }
}
