//! `${name}` in scripts: values that must not live in the repository (role passwords), filled
//! from the environment when a script runs. The checksum covers the file as written, and dry
//! runs show the placeholder, never the value.

use std::borrow::Cow;

use crate::{Database, Env, Error};

/// The values of `db`'s placeholders, read from `env`. One that a script uses but whose
/// variable is unset (and has no default) is an error, before anything runs.
pub fn resolve_placeholders(db: &Database, env: &Env) -> Result<Vec<(String, String)>, Error> {
    let mut values = Vec::new();
    for p in db.config.placeholders.iter() {
        let value = env
            .get(p.env.as_ref())
            .cloned()
            .or_else(|| p.default.as_ref().map(|d| d.to_string()));
        match value {
            Some(value) => values.push((p.name.to_string(), value)),
            None if is_used(db, &p.name)? => {
                return Err(Error::MissingPlaceholder {
                    database: db.name.to_string(),
                    name: p.name.to_string(),
                    var: p.env.to_string(),
                });
            }
            None => {}
        }
    }
    Ok(values)
}

/// Whether a script of `db` holds `${name}`. Only asked for a placeholder without a value,
/// so reading every script again here costs nothing in the usual run.
fn is_used(db: &Database, name: &str) -> Result<bool, Error> {
    let token = format!("${{{name}}}");
    if db.seeds.iter().any(|s| s.sql.contains(&token)) {
        return Ok(true);
    }
    for m in db.migrations.iter() {
        if m.up_script()?.contains(&token) || m.down_script()?.is_some_and(|s| s.contains(&token)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `script` with each declared `${name}` replaced; undeclared `${...}` text is left alone.
pub fn substitute_placeholders<'a>(script: &'a str, values: &[(String, String)]) -> Cow<'a, str> {
    if values.is_empty() || !script.contains("${") {
        return Cow::Borrowed(script);
    }
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let value = after.find('}').and_then(|end| {
            values
                .iter()
                .find(|(name, _)| *name == after[..end])
                .map(|(_, v)| (end, v))
        });
        match value {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Placeholder;

    fn placeholder(
        name: &'static str,
        env: &'static str,
        default: Option<&'static str>,
    ) -> Placeholder {
        Placeholder {
            name: Cow::Borrowed(name),
            env: Cow::Borrowed(env),
            default: default.map(Cow::Borrowed),
        }
    }

    fn database(placeholders: Vec<Placeholder>, script: &'static str) -> Database {
        Database {
            name: Cow::Borrowed("permiso"),
            config: crate::DatabaseConfig {
                driver: crate::Driver::Postgres,
                migrations_table: Cow::Borrowed("dbgen_migrations"),
                lock_timeout_secs: 60,
                pool: crate::PoolConfig {
                    max_connections: 1,
                    min_connections: 0,
                    acquire_timeout_secs: 1,
                },
                migrations_from: None,
                placeholders: Cow::Owned(placeholders),
            },
            migrations: Cow::Owned(vec![]),
            seeds: Cow::Owned(vec![crate::Seed {
                name: Cow::Borrowed("01_roles"),
                sql: Cow::Borrowed(script),
                path: Cow::Borrowed("database/permiso/seeds/01_roles.sql"),
            }]),
        }
    }

    #[test]
    fn values_come_from_env_then_default() {
        let ps = vec![
            placeholder("rls_user", "RLS_DB_USER", Some("rls_db_user")),
            placeholder("rls_password", "RLS_DB_USER_PASSWORD", None),
        ];
        let db = database(ps, "CREATE ROLE ${rls_user} PASSWORD '${rls_password}'");
        let env: Env = [("RLS_DB_USER_PASSWORD".to_string(), "pw".to_string())].into();
        let values = resolve_placeholders(&db, &env).unwrap();
        assert_eq!(
            values,
            [
                ("rls_user".into(), "rls_db_user".into()),
                ("rls_password".into(), "pw".into())
            ]
        );
        let err = resolve_placeholders(&db, &Env::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`${rls_password}`") && err.contains("RLS_DB_USER_PASSWORD"),
            "{err}"
        );
        assert!(err.contains("permiso"), "{err}");
    }

    #[test]
    fn an_unused_placeholder_need_not_be_set() {
        let db = database(vec![placeholder("pw", "SOME_PASSWORD", None)], "SELECT 1");
        assert_eq!(resolve_placeholders(&db, &Env::new()).unwrap(), []);
    }

    #[test]
    fn only_declared_placeholders_are_replaced() {
        let values = vec![
            ("user".to_string(), "app".to_string()),
            ("pw".to_string(), "s'x".to_string()),
        ];
        assert_eq!(
            substitute_placeholders(
                "CREATE ROLE ${user} PASSWORD '${pw}'; -- ${other} ${ $${user}",
                &values
            ),
            "CREATE ROLE app PASSWORD 's'x'; -- ${other} ${ $app"
        );
        assert!(matches!(
            substitute_placeholders("no placeholders", &values),
            Cow::Borrowed(_)
        ));
        assert_eq!(substitute_placeholders("${user", &values), "${user");
        assert_eq!(substitute_placeholders("x ${user}", &[]), "x ${user}");
    }
}
