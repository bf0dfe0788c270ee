//! The npm script names of a knex setup (`migrate:permiso:latest`, `migrate:all`), so its
//! users' habits carry over: each is rewritten to the spelled-out command.

use std::ffi::OsString;

/// Rewrites the first `migrate:...` / `seed:...` argument into the command it stands for.
///
/// `migrate:<db>:<action>` -> `migrate <action> <db>`; `migrate:all` -> `migrate latest --all`;
/// `migrate:all:<action>` -> `migrate <action> --all`; `seed:<db>:<action>` -> `seed <action> <db>`.
/// Anything else is left alone for clap to judge.
pub fn expand_script_names(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut expanded = false;
    for arg in args {
        if !expanded && let Some(words) = arg.to_str().and_then(expand) {
            out.extend(words.into_iter().map(OsString::from));
            expanded = true;
            continue;
        }
        out.push(arg);
    }
    out
}

fn expand(arg: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = arg.split(':').collect();
    let (group, db, action) = match parts.as_slice() {
        ["migrate", "all"] => ("migrate", "all", "latest"),
        [group @ ("migrate" | "seed"), db, action] if !db.is_empty() && !action.is_empty() => {
            (*group, *db, *action)
        }
        _ => return None,
    };
    let target = if db == "all" { "--all" } else { db };
    Some(vec![
        group.to_string(),
        action.to_string(),
        target.to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Vec<String> {
        expand_script_names(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn knex_script_names() {
        assert_eq!(
            run(&["dbgen", "migrate:permiso:latest"]),
            ["dbgen", "migrate", "latest", "permiso"]
        );
        assert_eq!(
            run(&["dbgen", "migrate:permiso-test:make", "add_users"]),
            ["dbgen", "migrate", "make", "permiso-test", "add_users"]
        );
        assert_eq!(
            run(&["dbgen", "migrate:all"]),
            ["dbgen", "migrate", "latest", "--all"]
        );
        assert_eq!(
            run(&["dbgen", "migrate:all:rollback"]),
            ["dbgen", "migrate", "rollback", "--all"]
        );
        assert_eq!(
            run(&["dbgen", "migrate:all:status"]),
            ["dbgen", "migrate", "status", "--all"]
        );
        assert_eq!(
            run(&["dbgen", "seed:permiso:run"]),
            ["dbgen", "seed", "run", "permiso"]
        );
        assert_eq!(
            run(&["dbgen", "--root", "x", "seed:permiso:make", "roles"]),
            ["dbgen", "--root", "x", "seed", "make", "permiso", "roles"]
        );
    }

    #[test]
    fn other_arguments_are_untouched() {
        assert_eq!(
            run(&["dbgen", "migrate", "latest", "a"]),
            ["dbgen", "migrate", "latest", "a"]
        );
        assert_eq!(run(&["dbgen", "migrate:"]), ["dbgen", "migrate:"]);
        assert_eq!(run(&["dbgen", "other:a:b"]), ["dbgen", "other:a:b"]);
    }
}
