use std::collections::BTreeMap;
use std::fmt;

use crate::Error;

/// Names that would clash with a command (`dbgen migrate:all`).
pub const RESERVED_NAMES: &[&str] = &["all"];

const MAX_LEN: usize = 63;

/// A validated database name: `[a-z][a-z0-9_-]*`, at most 63 bytes, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatabaseName(String);

impl DatabaseName {
    /// Checks `name` against the rule; the error says which part breaks it.
    pub fn new(name: &str) -> Result<Self, Error> {
        let fail = |reason: &str| Error::InvalidName {
            name: name.to_string(),
            reason: format!(
                "{reason}; a name starts with a lower-case letter and holds only a-z, 0-9, `_` and `-` (at most {MAX_LEN} bytes)"
            ),
        };
        let Some(first) = name.chars().next() else {
            return Err(fail("it is empty"));
        };
        if name.len() > MAX_LEN {
            return Err(fail(&format!("it is {} bytes long", name.len())));
        }
        if !first.is_ascii_lowercase() {
            return Err(fail(&format!("it starts with {first:?}")));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(fail(&format!("it contains {bad:?}")));
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(Error::InvalidName {
                name: name.to_string(),
                reason: "it is reserved (`migrate:all` means every database); choose another name"
                    .to_string(),
            });
        }
        Ok(Self(name.to_string()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix of this database's environment variables: `permiso-test` -> `PERMISO_TEST`.
    pub fn env_prefix(&self) -> String {
        env_prefix(&self.0)
    }

    /// The enum variant naming this database: `permiso-test` -> `PermisoTest`.
    pub fn variant_name(&self) -> String {
        variant_name(&self.0)
    }
}

impl fmt::Display for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn env_prefix(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

pub(crate) fn variant_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Database names that map to the enum variant `variant`, the usual spelling first:
/// `Db2` -> `db2`, `db-2`; `PermisoTest` -> `permiso-test`, `permiso_test`. Empty when no
/// valid name maps to it (`permiso`, `All`, `Über`).
pub(crate) fn folder_names_for_variant(variant: &str) -> Vec<String> {
    let starts_upper = variant
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase());
    if !starts_upper || !variant.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Vec::new();
    }
    // A `-` before every upper-case letter but the first, and (in the second spelling)
    // between a letter and the digits after it, or `_` for `-` when there are words.
    let mut kebab = String::new();
    let mut digits_apart = String::new();
    let mut previous: Option<char> = None;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && previous.is_some() {
            kebab.push('-');
            digits_apart.push('-');
        } else if c.is_ascii_digit() && previous.is_some_and(|p| p.is_ascii_alphabetic()) {
            digits_apart.push('-');
        }
        kebab.push(c.to_ascii_lowercase());
        digits_apart.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    let second = if kebab.contains('-') {
        kebab.replace('-', "_")
    } else {
        digits_apart
    };
    let mut names = vec![kebab];
    if second != names[0] {
        names.push(second);
    }
    names.retain(|n| DatabaseName::new(n).is_ok() && variant_name(n) == variant);
    names
}

/// What makes two database names unusable together.
pub(crate) enum Clash {
    /// Both read the variables `<prefix>_DB_*`.
    EnvPrefix(String),
    /// Both map to this enum variant.
    Variant(String),
}

/// The first two of `names` that cannot live in one project, the earlier one first.
pub(crate) fn first_clash<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Option<(&'a str, &'a str, Clash)> {
    let mut prefixes: BTreeMap<String, &str> = BTreeMap::new();
    let mut variants: BTreeMap<String, &str> = BTreeMap::new();
    for name in names {
        let prefix = env_prefix(name);
        if let Some(first) = prefixes.get(&prefix) {
            return Some((first, name, Clash::EnvPrefix(prefix)));
        }
        let variant = variant_name(name);
        if let Some(first) = variants.get(&variant) {
            return Some((first, name, Clash::Variant(variant)));
        }
        prefixes.insert(prefix, name);
        variants.insert(variant, name);
    }
    None
}

/// Two database folders that would read the same environment variables (`a-b` and `a_b`)
/// or map to the same enum variant (`db-2` and `db2`) are an error naming both.
pub fn check_name_collisions<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), Error> {
    match first_clash(names) {
        None => Ok(()),
        Some((first, second, Clash::EnvPrefix(prefix))) => Err(Error::PrefixCollision {
            first: first.to_string(),
            second: second.to_string(),
            prefix,
        }),
        Some((first, second, Clash::Variant(variant))) => Err(Error::VariantCollision {
            first: first.to_string(),
            second: second.to_string(),
            variant,
        }),
    }
}

/// `known databases: a, b`, or how to make the first one when there is none: the tail of
/// every message about a database name that is not known.
pub fn known_databases_message<I>(names: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut list = String::new();
    for name in names {
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(name.as_ref());
    }
    if list.is_empty() {
        "this project has no databases yet: create one with `dbgen new <name>`".to_string()
    } else {
        format!("known databases: {list}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in [
            "permiso",
            "permiso-test",
            "a",
            "audit_log2",
            &"a".repeat(63),
        ] {
            assert_eq!(DatabaseName::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_each_bad_name_with_its_reason() {
        let cases = [
            ("", "empty"),
            ("../x", "starts with '.'"),
            ("My DB", "starts with 'M'"),
            ("1abc", "starts with '1'"),
            ("my db", "contains ' '"),
            ("a/b", "contains '/'"),
            ("aB", "contains 'B'"),
            ("all", "reserved"),
        ];
        for (name, reason) in cases {
            let err = DatabaseName::new(name).unwrap_err().to_string();
            assert!(err.contains(reason), "{name:?}: {err}");
            assert!(err.contains(&format!("{name:?}")), "{err}");
        }
        let long = "a".repeat(64);
        let err = DatabaseName::new(&long).unwrap_err().to_string();
        assert!(err.contains("64 bytes"), "{err}");
    }

    #[test]
    fn env_prefix_and_variant() {
        let name = DatabaseName::new("permiso-test").unwrap();
        assert_eq!(name.env_prefix(), "PERMISO_TEST");
        assert_eq!(name.variant_name(), "PermisoTest");
        let name = DatabaseName::new("audit_log2").unwrap();
        assert_eq!(name.env_prefix(), "AUDIT_LOG2");
        assert_eq!(name.variant_name(), "AuditLog2");
        assert_eq!(variant_name("a--b"), "AB");
    }

    #[test]
    fn the_names_of_issue_12_and_their_variants() {
        for (name, variant) in [
            ("shop", "Shop"),
            ("db-2", "Db2"),
            ("db2", "Db2"),
            ("a_b", "AB"),
            ("a-b", "AB"),
            ("permiso-test_v2", "PermisoTestV2"),
            ("x1-y2", "X1Y2"),
        ] {
            assert_eq!(variant_name(name), variant, "{name}");
        }
    }

    #[test]
    fn folder_names_map_back_to_their_variant() {
        let cases: [(&str, &[&str]); 9] = [
            ("Db2", &["db2", "db-2"]),
            ("Shop", &["shop"]),
            ("PermisoTest", &["permiso-test", "permiso_test"]),
            ("PermisoTestV2", &["permiso-test-v2", "permiso_test_v2"]),
            ("AB", &["a-b", "a_b"]),
            ("X1Y2", &["x1-y2", "x1_y2"]),
            ("permiso", &[]),
            ("All", &[]),
            ("Über", &[]),
        ];
        for (variant, names) in cases {
            assert_eq!(folder_names_for_variant(variant), names, "{variant}");
            for name in names {
                assert_eq!(variant_name(name), variant);
            }
        }
    }

    #[test]
    fn clashing_names_are_named_in_order() {
        assert!(check_name_collisions(["a", "b", "a-c"]).is_ok());
        let err = check_name_collisions(["db-2", "shop", "db2"]).unwrap_err();
        assert!(
            matches!(&err, Error::VariantCollision { first, second, variant }
                if first == "db-2" && second == "db2" && variant == "Db2"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("`db-2`") && msg.contains("`db2`") && msg.contains("rename"),
            "{msg}"
        );
        // An env-prefix clash is also a variant clash: the prefix is named.
        let err = check_name_collisions(["a-b", "a_b"]).unwrap_err();
        assert!(matches!(err, Error::PrefixCollision { .. }), "{err:?}");
    }

    #[test]
    fn known_databases() {
        assert_eq!(known_databases_message(["a", "b"]), "known databases: a, b");
        assert!(known_databases_message(Vec::<String>::new()).contains("dbgen new <name>"));
    }
}
