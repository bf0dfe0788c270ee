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
    for piece in pieces(script, values) {
        out.push_str(match piece {
            Piece::Text(text) => text,
            Piece::Value { value, .. } => value,
        });
    }
    Cow::Owned(out)
}

/// Where a 1-based character offset into `script` as [`substitute_placeholders`] filled it in
/// (what the engine was sent, and what PostgreSQL's error positions count in) falls in
/// `script` as written: a 1-based character offset. An offset within a value maps to the
/// `$` of its `${name}`; one past the end maps as far past the script's end.
pub fn original_offset(
    script: &str,
    values: &[(String, String)],
    substituted_offset: usize,
) -> usize {
    // 0-based character indexes, in the sent text and in the script.
    let target = substituted_offset.saturating_sub(1);
    let (mut sent, mut written) = (0, 0);
    for piece in pieces(script, values) {
        let (script_text, sent_chars) = match piece {
            Piece::Text(text) => {
                let chars = text.chars().count();
                if target < sent + chars {
                    return written + (target - sent) + 1;
                }
                (text, chars)
            }
            Piece::Value {
                written: token,
                value,
            } => {
                let chars = value.chars().count();
                if target < sent + chars {
                    return written + 1;
                }
                (token, chars)
            }
        };
        sent += sent_chars;
        written += script_text.chars().count();
    }
    written + (target - sent) + 1
}

/// A run of a script as substitution sees it.
enum Piece<'s, 'v> {
    /// Sent as written.
    Text(&'s str),
    /// A declared `${name}` (`written`), sent as `value`.
    Value { written: &'s str, value: &'v str },
}

/// The pieces of `script`, in order: the one reading of placeholders, shared by
/// [`substitute_placeholders`] and [`original_offset`] so that they cannot disagree.
fn pieces<'s, 'v>(
    script: &'s str,
    values: &'v [(String, String)],
) -> impl Iterator<Item = Piece<'s, 'v>> {
    let mut rest = script;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let start = match rest.find("${") {
            None => return Some(Piece::Text(std::mem::take(&mut rest))),
            Some(0) => 0,
            Some(start) => {
                let (text, tail) = rest.split_at(start);
                rest = tail;
                return Some(Piece::Text(text));
            }
        };
        let after = &rest[start + 2..];
        let value = after.find('}').and_then(|end| {
            values
                .iter()
                .find(|(name, _)| *name == after[..end])
                .map(|(_, v)| (end, v.as_str()))
        });
        let piece = match value {
            Some((end, value)) => {
                let (token, tail) = rest.split_at(2 + end + 1);
                rest = tail;
                Piece::Value {
                    written: token,
                    value,
                }
            }
            None => {
                // Not a declared placeholder: its `${` is text, and the search goes on after it.
                let (text, tail) = rest.split_at(2);
                rest = tail;
                Piece::Text(text)
            }
        };
        Some(piece)
    })
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
                tenants: None,
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

    /// Every character of the sent text maps back to where it came from.
    #[track_caller]
    fn assert_maps(script: &str, values: &[(String, String)]) {
        let sent = substitute_placeholders(script, values);
        let (sent_chars, script_chars): (Vec<char>, Vec<char>) =
            (sent.chars().collect(), script.chars().collect());
        for (i, c) in sent_chars.iter().enumerate() {
            let back = original_offset(script, values, i + 1);
            let from = script_chars[back - 1];
            // Either the same character copied, or the `$` of the placeholder it came from.
            assert!(
                from == *c || from == '$',
                "{script:?}: sent {} ({c:?}) -> {back} ({from:?})",
                i + 1
            );
        }
    }

    #[test]
    fn offsets_in_the_sent_text_map_back_to_the_script() {
        let values = vec![
            ("long".to_string(), "x".repeat(40)),
            ("s".to_string(), "é".to_string()),
            ("none".to_string(), String::new()),
        ];
        // The 1-based character offset of `bad` in `text`.
        let bad = |text: &str| text[..text.find("bad").unwrap()].chars().count() + 1;
        for script in [
            // A value longer than its placeholder, on a line before the error, then on its line.
            "SELECT '${long}';\nbad 1;",
            "SELECT '${long}', bad;",
            // A shorter one (one two-byte character), on a line before, then on the same line.
            "SELECT '${s}';\n  bad;",
            "SELECT '${s}', '${s}' bad;",
        ] {
            let sent = substitute_placeholders(script, &values);
            assert_eq!(
                original_offset(script, &values, bad(&sent)),
                bad(script),
                "{script:?}"
            );
        }
        // Inside a value (sent at 5..=44): the `$` of its placeholder, at 5; after it, `b`.
        let script = "a\n  ${long} b";
        assert_eq!(original_offset(script, &values, 24), 5);
        assert_eq!(original_offset(script, &values, 44), 5);
        assert_eq!(
            original_offset(script, &values, 46),
            script.find('b').unwrap() + 1
        );
        // Undeclared placeholders, a lone `${`, an empty value, and no placeholder at all.
        for script in [
            "-- ${other} ${ $${long}\nSELECT '${s}${none}${long}' ${none}x;",
            "${long",
            "plain",
            "",
        ] {
            assert_maps(script, &values);
        }
        assert_eq!(original_offset("ab", &[], 2), 2);
        // Past the end (the engine's own text after the script) stays past the end.
        assert_eq!(original_offset("${s}", &values, 2), 5);
        assert_eq!(original_offset("${s}", &values, 3), 6);
    }
}
