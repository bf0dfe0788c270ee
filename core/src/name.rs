use std::fmt;

use crate::Error;

/// Names that would clash with a command (`dbgen migrate:all`).
pub const RESERVED_NAMES: &[&str] = &["all"];

const MAX_LEN: usize = 63;

/// A validated database name: `[a-z][a-z0-9_-]*`, at most 63 bytes, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatabaseName(String);

impl DatabaseName {
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
}
