//! Migration files: `<version>_<slug>.up.sql` with an optional `<version>_<slug>.down.sql`.

use std::borrow::Cow;

use crate::Checksum;

/// A first line that makes a migration run outside any transaction.
pub const NO_TRANSACTION_MARKER: &str = "-- dbgen:no-transaction";

const PATTERN: &str = "expected <version>_<name>.up.sql or <version>_<name>.down.sql, where <version> is digits (e.g. 20250823075842) and <name> is a-z, 0-9 and _";

/// One migration of one database, as loaded from disk or embedded by the derive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    /// The slug after the version: `initial_schema`.
    pub name: Cow<'static, str>,
    pub up: Cow<'static, str>,
    /// `None`: the migration is irreversible.
    pub down: Option<Cow<'static, str>>,
    pub up_no_transaction: bool,
    pub down_no_transaction: bool,
    pub checksum: Checksum,
    /// The up file, relative to the project root, for messages.
    pub up_path: Cow<'static, str>,
    pub down_path: Option<Cow<'static, str>>,
}

impl Migration {
    /// `20250823075842_initial_schema`
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }

    /// Whether it has a down script (read or not: see [`crate::Scripts::UpOnly`]).
    pub fn is_reversible(&self) -> bool {
        self.down.is_some() || self.down_path.is_some()
    }
}

/// What a migration file's name says; `name` borrows from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationFileName<'a> {
    pub version: i64,
    pub name: &'a str,
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

#[cfg(test)]
mod tests {
    use super::*;

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
