//! The environment a database's connection is resolved from: the process environment
//! over a `.env` file, as a plain map so that tests need no process state.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Driver, Error};

/// Environment variables by name: the process environment over `.env`, or a test's own.
pub type Env = BTreeMap<String, String>;

/// `.env` in `dir` when present, with the process environment winning over it.
pub fn load_env(dir: &Path) -> Result<Env, Error> {
    let mut env = Env::new();
    let path = dir.join(".env");
    if path.is_file() {
        let iter = dotenvy::from_path_iter(&path).map_err(|e| Error::DotEnv {
            path: path.clone(),
            message: describe_dotenv_error(&path, &e),
        })?;
        for item in iter {
            let (key, value) = item.map_err(|e| Error::DotEnv {
                path: path.clone(),
                message: describe_dotenv_error(&path, &e),
            })?;
            env.insert(key, value);
        }
    }
    env.extend(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    Ok(env)
}

/// What is wrong with a `.env` file, naming the line and the variable but never the value:
/// the parser's own message quotes the line, and the line may hold a password.
fn describe_dotenv_error(path: &Path, error: &dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(line, _) => {
            let variable = line
                .trim_start()
                .trim_start_matches("export ")
                .split(['=', ' ', '\t'])
                .next()
                .unwrap_or_default()
                .to_string();
            // The parser gives the line's text, not its number: find it in the file.
            let number = std::fs::read_to_string(path).ok().and_then(|text| {
                let first = line.lines().next().unwrap_or_default().trim();
                text.lines()
                    .position(|l| !first.is_empty() && l.trim() == first)
                    .map(|i| i + 1)
            });
            let at = number
                .map(|n| format!("line {n}"))
                .unwrap_or("a line".to_string());
            format!(
                "{at} (setting `{variable}`) cannot be parsed; its value is not shown: check its quotes (a value with spaces or `#` goes in quotes, and every quote is closed)"
            )
        }
        dotenvy::Error::Io(e, ..) => format!("cannot read it: {e}"),
        other => {
            // Other errors name a variable, not a value; still, show none of the text.
            let _ = other;
            "cannot be read as KEY=VALUE lines".to_string()
        }
    }
}

/// The variables a database with this prefix reads, in the order they are consulted.
pub fn env_var_names(prefix: &str) -> [String; 6] {
    ["URL", "HOST", "PORT", "NAME", "USER", "PASSWORD"].map(|key| format!("{prefix}_DB_{key}"))
}

/// The variables a database of `driver` actually reads, `{P}_DB_URL` first: SQLite reads
/// only the URL and NAME (a file path); the servers read all six.
pub fn env_var_names_for(driver: Driver, prefix: &str) -> Vec<String> {
    let [url, host, port, name, user, password] = env_var_names(prefix);
    match driver {
        Driver::Sqlite => vec![url, name],
        Driver::Postgres | Driver::Mysql => vec![url, host, port, name, user, password],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_is_read_and_the_process_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "DBGEN_CORE_TEST_ONLY_IN_FILE=file\nPATH=from-file\n",
        )
        .unwrap();
        let env = load_env(dir.path()).unwrap();
        assert_eq!(env["DBGEN_CORE_TEST_ONLY_IN_FILE"], "file");
        assert_ne!(env["PATH"], "from-file");
    }

    #[test]
    fn a_broken_dotenv_line_is_named_but_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "A=1\n# comment\nAPP_DB_PASSWORD=\"Zq7Secret\nB=2\n",
        )
        .unwrap();
        let err = load_env(dir.path()).unwrap_err().to_string();
        assert!(!err.contains("Zq7Secret"), "{err}");
        assert!(
            err.contains("APP_DB_PASSWORD") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn a_broken_dotenv_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A='unterminated\n").unwrap();
        let err = load_env(dir.path()).unwrap_err().to_string();
        assert!(err.contains(".env"), "{err}");
    }

    #[test]
    fn names() {
        assert_eq!(env_var_names("PERMISO_TEST")[0], "PERMISO_TEST_DB_URL");
        assert_eq!(env_var_names("A")[5], "A_DB_PASSWORD");
    }

    #[test]
    fn names_per_driver() {
        assert_eq!(
            env_var_names_for(Driver::Sqlite, "CACHE"),
            ["CACHE_DB_URL", "CACHE_DB_NAME"]
        );
        let pg = env_var_names_for(Driver::Postgres, "P");
        assert_eq!(pg.len(), 6);
        assert_eq!(pg[0], "P_DB_URL");
        assert_eq!(env_var_names_for(Driver::Mysql, "P"), pg);
    }
}
