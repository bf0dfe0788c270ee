use std::borrow::Cow;

/// A seed script: `seeds/<name>.sql`, run in lexical order of its file name, not tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The file name without `.sql`: `01_roles`.
    pub name: Cow<'static, str>,
    /// The script.
    pub sql: Cow<'static, str>,
    /// Relative to the project root, for messages.
    pub path: Cow<'static, str>,
}

/// The file of seed `name` in a database's `seeds/` folder: `01_roles.sql`.
pub fn seed_file_name(name: &str) -> String {
    format!("{name}.sql")
}

/// A seed's name: `[a-z0-9_]+` (a leading number orders it: `01_roles`).
pub fn validate_seed_name(name: &str) -> Result<(), String> {
    let rule =
        "a seed name holds only a-z, 0-9 and _ (start it with a number to order it: 01_roles)";
    if name.is_empty() {
        return Err(format!("the seed name is empty; {rule}"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(c) => Err(format!("seed name {name:?} contains {c:?}; {rule}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names() {
        assert!(validate_seed_name("01_roles").is_ok());
        assert!(validate_seed_name("").unwrap_err().contains("empty"));
        assert!(validate_seed_name("Roles").unwrap_err().contains("'R'"));
        assert!(validate_seed_name("a.b").unwrap_err().contains("'.'"));
    }
}
