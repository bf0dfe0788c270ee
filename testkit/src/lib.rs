//! A fresh, empty database per test, on real servers.
//!
//! The servers come from `DBGEN_TEST_POSTGRES_URL` and `DBGEN_TEST_MYSQL_URL` (defaults:
//! the local servers of a developer machine). When a server cannot be reached a test is
//! skipped loudly, except under `CI=true`, where that is a failure.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Postgres, Engine::Mysql, Engine::Sqlite];

    /// The `driver` value of a dbgen config.
    pub fn driver(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the test kit")
        .block_on(f)
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "dbgen_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

/// Replaces the database part of a server URL.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_end..].find('/') {
        Some(i) => &base[..authority_end + i],
        None => base,
    };
    format!("{root}/{database}{query}")
}

/// Replaces the login (user and password) of a server URL.
fn with_login(url: &str, user: &str, password: &str) -> String {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = url[start..]
        .find(['/', '?'])
        .map(|i| start + i)
        .unwrap_or(url.len());
    let host_start = url[start..authority_end]
        .rfind('@')
        .map(|i| start + i + 1)
        .unwrap_or(start);
    format!(
        "{}{}:{}@{}",
        &url[..start],
        percent_encode(user),
        percent_encode(password),
        &url[host_start..]
    )
}

/// Every byte but RFC 3986's unreserved characters as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An empty database that is dropped again when the test ends.
pub struct TestDb {
    pub engine: Engine,
    /// The URL to hand to dbgen (`{P}_DB_URL`).
    pub url: String,
    name: String,
    admin_url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database, or `None` (with a loud message) when its server is unreachable
    /// outside CI. Under `CI=true` an unreachable server panics.
    pub fn create(engine: Engine) -> Option<Self> {
        let name = unique_name();
        let result = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let path = dir.path().join(format!("{name}.sqlite3"));
                return Some(Self {
                    engine,
                    url: format!("sqlite://{}", path.display()),
                    name,
                    admin_url: String::new(),
                    _dir: Some(dir),
                });
            }
            Engine::Postgres => {
                let admin = std::env::var("DBGEN_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
                let created = block_on(async {
                    let mut conn = PgConnection::connect(&admin).await?;
                    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                });
                created.map(|()| (with_database(&admin, &name), admin))
            }
            Engine::Mysql => {
                let admin = std::env::var("DBGEN_TEST_MYSQL_URL")
                    .unwrap_or_else(|_| DEFAULT_MYSQL_URL.into());
                let created = block_on(async {
                    let mut conn = MySqlConnection::connect(&admin).await?;
                    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                });
                created.map(|()| (with_database(&admin, &name), admin))
            }
        };
        match result {
            Ok((url, admin_url)) => Some(Self {
                engine,
                url,
                name,
                admin_url,
                _dir: None,
            }),
            Err(e) => {
                let message = format!(
                    "{engine:?} server unreachable ({e}); set DBGEN_TEST_POSTGRES_URL / DBGEN_TEST_MYSQL_URL"
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{message}");
                }
                eprintln!("SKIPPED: {message}");
                None
            }
        }
    }

    /// The SQLite file, for SQLite databases.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.url.strip_prefix("sqlite://").map(PathBuf::from)
    }

    /// Rows of `sql` with every column cast to text by the query itself.
    pub fn query_strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row;
        let sql = sql.to_string();
        block_on(async {
            macro_rules! fetch {
                ($conn:expr) => {{
                    let mut conn = $conn;
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .fetch_all(&mut conn)
                        .await
                        .expect("test query");
                    rows.iter()
                        .map(|row| {
                            (0..row.len())
                                .map(|i| row.try_get::<Option<String>, _>(i).expect("text column"))
                                .collect()
                        })
                        .collect()
                }};
            }
            match self.engine {
                Engine::Postgres => {
                    fetch!(PgConnection::connect(&self.url).await.expect("connect"))
                }
                Engine::Mysql => {
                    fetch!(MySqlConnection::connect(&self.url).await.expect("connect"))
                }
                Engine::Sqlite => fetch!(
                    SqliteConnection::connect_with(
                        &SqliteConnectOptions::new().filename(self.sqlite_path().expect("path"))
                    )
                    .await
                    .expect("connect")
                ),
            }
        })
    }

    /// Runs statements (a script) on the database.
    pub fn execute(&self, sql: &str) {
        let sql = sql.to_string();
        block_on(async {
            match self.engine {
                Engine::Postgres => {
                    let mut c = PgConnection::connect(&self.url).await.expect("connect");
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await
                        .map(drop)
                }
                Engine::Mysql => {
                    let mut c = MySqlConnection::connect(&self.url).await.expect("connect");
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await
                        .map(drop)
                }
                Engine::Sqlite => {
                    let path = self.sqlite_path().expect("path");
                    let mut c = SqliteConnection::connect_with(
                        &SqliteConnectOptions::new()
                            .filename(path)
                            .create_if_missing(true),
                    )
                    .await
                    .expect("connect");
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await
                        .map(drop)
                }
            }
        })
        .expect("test statement");
    }

    /// The user tables of the database (from the catalog), sorted.
    pub fn tables(&self) -> Vec<String> {
        let sql = match self.engine {
            Engine::Postgres => {
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            }
            Engine::Mysql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
            }
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
        };
        if self.engine == Engine::Sqlite && !self.sqlite_path().is_some_and(|p| p.exists()) {
            return Vec::new();
        }
        self.query_strings(sql)
            .into_iter()
            .filter_map(|mut r| r.remove(0))
            .collect()
    }

    /// (version, batch) of every row of a tracking table, by version; none without the table.
    pub fn tracking_rows(&self, table: &str) -> Vec<(i64, i64)> {
        if !self.tables().iter().any(|t| t == table) {
            return Vec::new();
        }
        self.query_strings(&format!(
            "SELECT CAST(version AS CHAR(20)), CAST(batch AS CHAR(20)) FROM {table} ORDER BY version"
        ))
        .into_iter()
        .map(|row| {
            let num = |i: usize| row[i].as_deref().unwrap_or("0").trim().parse::<i64>().expect("a number");
            (num(0), num(1))
        })
        .collect()
    }

    /// This database's URL with `user` and `password` instead of the test kit's login, to
    /// connect as a role that a migration created (Postgres and MySQL). Both are
    /// percent-encoded.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        with_login(&self.url, user, password)
    }

    /// Runs `script` (one or more statements, sent as one simple query) on `url`, a URL of
    /// this database's engine such as [`TestDb::url_as`] gives, and returns the rows its
    /// statements produce, every column read as text (cast it in the query). Unlike the other
    /// helpers it returns failures instead of panicking, so that a refused login or a denied
    /// statement can be asserted on: `Err` holds the driver's message.
    pub fn try_script_at(
        &self,
        url: &str,
        script: &str,
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        use sqlx::Row;
        let script = script.to_string();
        let url = url.to_string();
        block_on(async {
            macro_rules! run {
                ($conn:expr) => {{
                    let mut conn = $conn.map_err(|e| e.to_string())?;
                    let rows = sqlx::raw_sql(AssertSqlSafe(script))
                        .fetch_all(&mut conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    let _ = conn.close().await;
                    rows.iter()
                        .map(|row| {
                            (0..row.len())
                                .map(|i| {
                                    row.try_get::<Option<String>, _>(i)
                                        .map_err(|e| e.to_string())
                                })
                                .collect()
                        })
                        .collect()
                }};
            }
            match self.engine {
                Engine::Postgres => run!(PgConnection::connect(&url).await),
                Engine::Mysql => run!(MySqlConnection::connect(&url).await),
                Engine::Sqlite => run!(SqliteConnection::connect(&url).await),
            }
        })
    }

    /// The single number a `SELECT COUNT(*) ...` returns.
    pub fn count(&self, sql: &str) -> i64 {
        let cast = format!("SELECT CAST(({sql}) AS CHAR(20))");
        let sql = if self.engine == Engine::Sqlite {
            format!("SELECT CAST(({sql}) AS TEXT)")
        } else {
            cast
        };
        self.query_strings(&sql)[0][0]
            .as_deref()
            .unwrap_or("0")
            .trim()
            .parse()
            .expect("a count")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = self.admin_url.clone();
        let _ = match self.engine {
            Engine::Sqlite => return,
            Engine::Postgres => block_on(async {
                let mut conn = PgConnection::connect(&admin).await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map(drop)
            }),
            Engine::Mysql => block_on(async {
                let mut conn = MySqlConnection::connect(&admin).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                    .execute(&mut conn)
                    .await
                    .map(drop)
            }),
        };
    }
}

/// Writes `content` to `root/relative`, creating folders.
pub fn write(root: &Path, relative: &str, content: &str) {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create folders");
    }
    std::fs::write(path, content).expect("write file");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            with_database("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306", "x"),
            "mysql://root@h:3306/x"
        );
        assert_eq!(
            with_database("mysql://root@h/m?ssl-mode=disabled", "x"),
            "mysql://root@h/x?ssl-mode=disabled"
        );
    }

    #[test]
    fn login_urls() {
        assert_eq!(
            with_login("postgres://postgres@127.0.0.1:5432/db", "rls", "pw"),
            "postgres://rls:pw@127.0.0.1:5432/db"
        );
        assert_eq!(
            with_login(
                "postgres://postgres:old@h/db?sslmode=disable",
                "a b",
                "it's $x@/"
            ),
            "postgres://a%20b:it%27s%20%24x%40%2F@h/db?sslmode=disable"
        );
        assert_eq!(with_login("mysql://h:3306", "u", "p"), "mysql://u:p@h:3306");
    }
}
