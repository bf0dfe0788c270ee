//! A template's name: the database's name and the checksum of everything that makes its
//! content, so that a changed migration, seed or placeholder value gives a new template.

use sha2::{Digest, Sha256};

use super::{Fresh, Seeds};
use crate::environment::Environment;

/// What identifies a template: `dbgen_tpl_<database>_<variant>_<content>`, where the
/// variant (4 hex digits) says which seeds and which last version it holds, and the content
/// (12 hex digits) is the checksum of what makes it. A new content of one variant makes
/// the old template stale; other variants (a test stopping at another version) stay.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateKey {
    /// The template's name on the server (or its file's stem).
    pub name: String,
    /// `dbgen_tpl_<database>_<variant>_`: every template of this database and variant
    /// starts with it, so that the stale ones can be found and removed.
    pub prefix: String,
    /// A lock key for the build, from the same checksum.
    pub lock: i64,
}

impl TemplateKey {
    /// The key of `fresh`'s content, with placeholder values from `environment`.
    pub fn new(fresh: &Fresh, environment: &Environment) -> Self {
        let db = fresh.db;
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        field(db.config.driver.as_str().as_bytes());
        field(db.name.as_bytes());
        field(db.config.migrations_table.as_bytes());
        field(&migrations_digest(db, fresh.to));
        let seeds: Vec<&str> = match &fresh.seeds {
            Seeds::None => Vec::new(),
            Seeds::All => db.seeds.iter().map(|s| s.name.as_ref()).collect(),
            Seeds::Named(names) => names.iter().map(String::as_str).collect(),
        };
        for name in seeds {
            field(name.as_bytes());
            if let Some(seed) = db.seeds.iter().find(|s| s.name == name) {
                field(seed.sql.as_bytes());
            }
        }
        // A placeholder's value changes what a script does (never printed: only hashed).
        for p in db.config.placeholders.iter() {
            field(p.name.as_bytes());
            let value = environment
                .vars()
                .get(p.env.as_ref())
                .map(String::as_str)
                .or(p.default.as_deref())
                .unwrap_or_default();
            field(value.as_bytes());
        }
        let digest = hash.finalize();
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        // The variant: what else than the files makes a template differ (its full database
        // name, seeds, last version, placeholder values). A template for other files of the
        // same variant is stale; one of another variant is not.
        let mut variant = Sha256::new();
        variant.update(format!("{} {:?} {:?}", db.name, fresh.to, fresh.seeds).as_bytes());
        for (key, value) in &fresh.vars {
            variant.update(key.as_bytes());
            variant.update([0]);
            variant.update(value.as_bytes());
            variant.update([0]);
        }
        let variant: String = variant.finalize()[..2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let prefix = format!("dbgen_tpl_{}_{variant}_", short_name(&db.name));
        let mut lock = [0u8; 8];
        lock.copy_from_slice(&digest[6..14]);
        Self {
            name: format!("{prefix}{hex}"),
            prefix,
            lock: i64::from_le_bytes(lock),
        }
    }
}

/// The digest of a database's migrations up to `to`, once per process: hashing 1,000
/// checksums for every test is a millisecond each in a debug build.
fn migrations_digest(db: &'static dbgen_core::Database, to: Option<i64>) -> [u8; 32] {
    use std::collections::HashMap;
    use std::sync::Mutex;
    type Digests = HashMap<(usize, Option<i64>), [u8; 32]>;
    static DIGESTS: Mutex<Option<Digests>> = Mutex::new(None);
    // A `'static` definition's address names it for the life of the process.
    let id = (std::ptr::from_ref(db) as usize, to);
    if let Some(digest) = DIGESTS
        .lock()
        .ok()
        .and_then(|d| d.as_ref().and_then(|d| d.get(&id).copied()))
    {
        return digest;
    }
    let mut hash = Sha256::new();
    for m in db
        .migrations
        .iter()
        .filter(|m| to.is_none_or(|to| m.version <= to))
    {
        hash.update(m.version.to_le_bytes());
        hash.update(m.checksum.0);
    }
    let digest: [u8; 32] = hash.finalize().into();
    if let Ok(mut digests) = DIGESTS.lock() {
        digests.get_or_insert_with(HashMap::new).insert(id, digest);
    }
    digest
}

/// A database name as part of a server's database name: at most 24 characters of
/// `[a-z0-9_]`, so that every name dbgen makes fits PostgreSQL's 63 bytes.
pub(crate) fn short_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(24)
        .collect()
}

/// A new test database's name: `dbgen_test_<database>_<16 hex digits>`.
pub(crate) fn test_database_name(db: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hash = Sha256::new();
    hash.update(std::process::id().to_le_bytes());
    hash.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hash.update(now.as_nanos().to_le_bytes());
    let hex: String = hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("dbgen_test_{}_{hex}", short_name(db))
}

/// `url` with its database (the path) replaced by `database`.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (before_query, query) = match rest.find('?') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // The authority ends at the first `/` after any `@` (a password may hold `/`).
    let host_start = before_query.rfind('@').map_or(0, |at| at + 1);
    let authority_end = before_query[host_start..]
        .find('/')
        .map_or(before_query.len(), |i| host_start + i);
    plain_on_loopback(&format!(
        "{scheme}://{}/{database}{query}",
        &before_query[..authority_end]
    ))
}

/// `url` with TLS turned off when its server is on this machine (`localhost`, `127.0.0.1`,
/// `::1`) and the URL does not choose itself: a handshake per test connection is most of a
/// test's wait in a debug build, and it protects nothing on loopback.
pub(crate) fn plain_on_loopback(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_part = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = host_part
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .trim_start_matches('[');
    let loopback = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .any(|h| host == *h || host.starts_with(&format!("{h}:")) || host.starts_with("::1]"));
    let (param, value) = match scheme {
        "postgres" | "postgresql" => ("sslmode", "disable"),
        "mysql" | "mariadb" => ("ssl-mode", "disabled"),
        _ => return url.to_string(),
    };
    if !loopback || url.contains(&format!("{param}=")) {
        return url.to_string();
    }
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}{param}={value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_another_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://db.example.com/postgres?sslmode=require", "x"),
            "postgres://db.example.com/x?sslmode=require"
        );
        assert_eq!(
            with_database("postgres://localhost/postgres?sslmode=require", "x"),
            "postgres://localhost/x?sslmode=require"
        );
        assert_eq!(
            with_database("mysql://u:p/w@h/db?ssl-mode=disabled", "x"),
            "mysql://u:p/w@h/x?ssl-mode=disabled"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    /// A database `a` (SQLite) with these migrations, leaked for `Fresh`'s `'static`.
    fn database(migrations: &[(&str, &str)]) -> &'static dbgen_core::Database {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "database/a/database.toml",
            "driver = \"sqlite\"\n[placeholders]\nowner = { env = \"OWNER\", default = \"me\" }\n",
        );
        for (file, sql) in migrations {
            write(&format!("database/a/migrations/{file}"), sql);
        }
        let project = dbgen_core::load_project(dir.path()).unwrap();
        Box::leak(Box::new(project.databases[0].clone()))
    }

    fn key(
        db: &'static dbgen_core::Database,
        to: Option<i64>,
        vars: &[(&str, &str)],
    ) -> TemplateKey {
        let fresh = Fresh {
            db,
            seeds: Seeds::None,
            to,
            vars: Vec::new(),
            expects_panic: false,
        };
        let environment = Environment::from_vars(vars.iter().copied());
        TemplateKey::new(&fresh, &environment)
    }

    #[test]
    fn the_key_follows_the_content_and_only_it() {
        let one = database(&[("1_a.up.sql", "CREATE TABLE a (id int);")]);
        let edited = database(&[("1_a.up.sql", "CREATE TABLE a (id bigint);")]);
        let two = database(&[
            ("1_a.up.sql", "CREATE TABLE a (id int);"),
            ("2_b.up.sql", "CREATE TABLE b (id int);"),
        ]);
        let base = key(one, None, &[]);
        assert_eq!(base, key(one, None, &[]), "the same content, the same key");
        let changed = key(edited, None, &[]);
        assert_ne!(base.name, changed.name, "an edited migration");
        assert_eq!(
            base.prefix, changed.prefix,
            "same variant: the old one is stale"
        );
        assert_ne!(base.name, key(two, None, &[]).name, "an added migration");
        assert_eq!(
            key(one, Some(1), &[]).name.rsplit('_').next(),
            key(two, Some(1), &[]).name.rsplit('_').next(),
            "a migration after `to` is not in the content"
        );
        assert_ne!(
            base.prefix,
            key(one, Some(1), &[]).prefix,
            "`to` is another variant"
        );
        assert_ne!(
            base.name,
            key(one, None, &[("OWNER", "you")]).name,
            "a placeholder's value"
        );
    }

    #[test]
    fn names_fit_postgres() {
        let long = "a-very-long-database-name-that-goes-on-and-on";
        assert!(test_database_name(long).len() <= 63);
        assert_ne!(test_database_name("a"), test_database_name("a"));
        assert!(short_name("db-2").chars().all(|c| c != '-'));
    }
}
