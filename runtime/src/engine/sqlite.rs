use std::str::FromStr;
use std::time::Duration;

use dbgen_core::{ConnectionSettings, ConnectionTarget};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::sqlite_split::{Found, OutsideOnly, SPLIT_FROM, outside_only, pieces};
use crate::pool::Pool;

use super::{
    AppliedRow, Conn, Engine, OpenMode, Record, Source, TextRows, decode_applied, decode_text,
    none_if_missing, run_then_record, script_then, select_applied_sql,
};

/// SQLite: transactional DDL; the lock is the write transaction (`BEGIN IMMEDIATE`), which
/// the file system releases when a runner dies.
pub(crate) struct Sqlite {
    conn: Conn<sqlx::Sqlite>,
    in_transaction: bool,
    /// The database file, when opening it created it.
    created: Option<std::path::PathBuf>,
    /// `PRAGMA foreign_keys` as the connection had it when `relax_references` first turned
    /// it off; `None` when it never did.
    references: Option<bool>,
    /// Foreign keys could not be set back: the connection is closed, never pooled.
    unrestored: bool,
}

/// How to reach `settings` on SQLite, for the runner and for an application's pool.
pub(crate) fn connect_options(
    settings: &ConnectionSettings,
) -> Result<SqliteConnectOptions, sqlx::Error> {
    match &settings.target {
        ConnectionTarget::Url(url) => SqliteConnectOptions::from_str(url.expose()),
        ConnectionTarget::SqliteFile(path) => Ok(SqliteConnectOptions::new().filename(path)),
        ConnectionTarget::Server { .. } => Err(super::wrong_target(settings, "SQLite")),
    }
}

impl Sqlite {
    /// The values the `PRAGMA foreign_keys` queries of `sql` answer, in order.
    async fn foreign_keys(&mut self, sql: &'static str) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::raw_sql(sql)
            .fetch_all(&mut *self.conn)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect()
    }
}

impl Engine for Sqlite {
    const TRANSACTIONAL_DDL: bool = true;
    const TEXT_TYPE: &'static str = "TEXT";
    const TEXT_CAST: &'static str = "TEXT";

    fn hex_sql(expr: &str) -> String {
        format!("hex({expr})")
    }

    /// knex stores JavaScript's milliseconds; sqlx and diesel store text timestamps.
    fn epoch_ms_sql(expr: &str) -> String {
        format!(
            "CASE WHEN typeof({expr}) IN ('integer', 'real') THEN CAST({expr} AS INTEGER) ELSE CAST((julianday({expr}) - 2440587.5) * 86400000 AS INTEGER) END"
        )
    }

    async fn text_rows(&mut self, sql: &str) -> Result<Option<TextRows>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.message().starts_with("no such table"))?
            .map(decode_text)
            .transpose()
    }
    const LOCK_IS_TRANSACTION: bool = true;

    async fn open(source: Source<'_>, mode: OpenMode) -> Result<Option<Self>, sqlx::Error> {
        let settings = match source {
            Source::Settings(settings) => settings,
            // The pool's own busy_timeout bounds the wait for the write lock.
            Source::Pool(Pool::Sqlite(pool)) => {
                return Ok(Some(Self {
                    conn: Conn::pooled(pool.acquire().await?),
                    in_transaction: false,
                    created: None,
                    references: None,
                    unrestored: false,
                }));
            }
            #[allow(unreachable_patterns)]
            Source::Pool(_) => return Err(super::wrong_target(&"the pool", "SQLite")),
        };
        let options = connect_options(settings)?;
        // A read-only command must not create the file: a missing database is an empty one.
        let file = options.get_filename().to_path_buf();
        let file = file.as_path();
        if !mode.create && file != std::path::Path::new(":memory:") && !file.exists() {
            return Ok(None);
        }
        let options = options
            .create_if_missing(mode.create)
            // sqlx takes milliseconds as an i32: longer waits are capped (24.8 days).
            .busy_timeout(
                mode.lock_timeout
                    .min(Duration::from_millis(i32::MAX as u64)),
            );
        let created = (mode.create && file != std::path::Path::new(":memory:") && !file.exists())
            .then(|| file.to_path_buf());
        let conn = Conn::Own(SqliteConnection::connect_with(&options).await?);
        Ok(Some(Self {
            created,
            conn,
            in_transaction: false,
            references: None,
            unrestored: false,
        }))
    }

    async fn lock(&mut self, _table: &str) -> Result<bool, sqlx::Error> {
        match self.begin().await {
            Ok(()) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.message().contains("database is locked") => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn unlock(&mut self, _table: &str) -> Result<(), sqlx::Error> {
        if self.in_transaction {
            self.commit().await?;
        }
        Ok(())
    }

    async fn applied(&mut self, table: &str) -> Result<Option<Vec<AppliedRow>>, sqlx::Error> {
        let rows = sqlx::raw_sql(AssertSqlSafe(select_applied_sql(table)))
            .fetch_all(&mut *self.conn)
            .await;
        none_if_missing(rows, |e| e.message().starts_with("no such table"))?
            .map(decode_applied)
            .transpose()
    }

    /// Joins the lock's transaction when one is open; otherwise takes the write lock.
    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        if !self.in_transaction {
            self.execute("BEGIN IMMEDIATE").await?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// A COMMIT refused as busy leaves the transaction (and the write lock) open: it stays
    /// marked open, so that the run fails and its connection is discarded, not pooled.
    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        self.execute("COMMIT").await?;
        self.in_transaction = false;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.execute("ROLLBACK").await?;
        self.in_transaction = false;
        Ok(())
    }

    async fn execute_affected(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// A large script runs in pieces of whole statements: in one piece SQLite would take
    /// time that grows with the square of its size.
    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        if sql.len() < SPLIT_FROM {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *self.conn)
                .await?;
            return Ok(());
        }
        for piece in pieces(sql) {
            sqlx::raw_sql(AssertSqlSafe(piece))
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    /// One call into SQLite's worker thread instead of two; SQLite shares our clock.
    async fn run_step(
        &mut self,
        table: &str,
        sql: &str,
        record: &Record<'_>,
        alone: bool,
    ) -> Result<(), sqlx::Error> {
        let started = match record {
            Record::Applied { applied_at, .. } if !alone && sql.len() < SPLIT_FROM => *applied_at,
            _ => {
                return run_then_record(self, table, sql, record).await;
            }
        };
        // SQLite's clock has millisecond resolution: never below zero.
        let elapsed = format!(
            "MAX(0, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) - {started})"
        );
        self.execute(&script_then(sql, &record.statement(table, &elapsed)))
            .await
    }

    /// SQLite's documented way to change a schema ("Making Other Kinds Of Table Schema
    /// Changes"): foreign keys off before the transaction begins, since inside one
    /// `PRAGMA foreign_keys` does nothing. Otherwise rebuilding a parent table (create,
    /// copy, drop, rename) would cascade its `DROP` into the child tables' rows. The first
    /// call remembers the connection's own setting.
    async fn relax_references(&mut self) -> Result<(), sqlx::Error> {
        let values = match self.references {
            None => {
                let values = self
                    .foreign_keys(
                        "PRAGMA foreign_keys; PRAGMA foreign_keys = OFF; PRAGMA foreign_keys",
                    )
                    .await?;
                if let [was, _] = values[..] {
                    self.references = Some(was != 0);
                }
                values
            }
            Some(_) => {
                self.foreign_keys("PRAGMA foreign_keys = OFF; PRAGMA foreign_keys")
                    .await?
            }
        };
        match (self.references, values.last()) {
            (Some(_), Some(0)) => Ok(()),
            _ => Err(sqlx::Error::InvalidArgument(format!(
                "foreign keys could not be turned off for the migrations (PRAGMA foreign_keys answered {values:?}; is a transaction open on the connection?)"
            ))),
        }
    }

    /// Foreign keys back as the connection had them before the run, whatever a script run
    /// outside a transaction set meanwhile; a connection on which that fails is closed
    /// rather than returned to the application's pool.
    async fn restore_references(&mut self) -> Result<(), sqlx::Error> {
        let Some(was) = self.references else {
            return Ok(());
        };
        let sql = match was {
            true => "PRAGMA foreign_keys = ON; PRAGMA foreign_keys",
            false => "PRAGMA foreign_keys = OFF; PRAGMA foreign_keys",
        };
        let restored = match self.foreign_keys(sql).await {
            Ok(values) if values[..] == [i64::from(was)] => Ok(()),
            Ok(values) => Err(sqlx::Error::InvalidArgument(format!(
                "foreign keys could not be set back (PRAGMA foreign_keys answered {values:?}; is a transaction still open on the connection?)"
            ))),
            Err(e) => Err(e),
        };
        self.unrestored |= restored.is_err();
        restored
    }

    /// `PRAGMA foreign_key_check`, when foreign keys were on before `relax_references`
    /// (the documentation's step 10): a connection that keeps them off has none to keep.
    async fn broken_references(&mut self) -> Result<Option<String>, sqlx::Error> {
        const SHOWN: usize = 5; // the query's LIMIT, less one
        if self.references != Some(true) {
            return Ok(None);
        }
        // The check's fkid is the constraint's id in foreign_key_list: its columns.
        // One more than shown: whether there are more.
        let rows: Vec<(String, Option<i64>, String, Option<String>)> = sqlx::query_as(
            "SELECT k.\"table\", k.rowid, k.parent, \
             (SELECT group_concat(l.\"from\", ', ') FROM pragma_foreign_key_list(k.\"table\") AS l WHERE l.id = k.fkid) \
             FROM pragma_foreign_key_check AS k LIMIT 6",
        )
        .fetch_all(&mut *self.conn)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut found: Vec<String> = rows
            .iter()
            .take(SHOWN)
            .map(|(table, rowid, parent, columns)| {
                let row = match rowid {
                    Some(rowid) => format!("`{table}` rowid {rowid}"),
                    None => format!("a row of `{table}` (WITHOUT ROWID)"),
                };
                let columns = columns.as_deref().unwrap_or("its foreign key");
                format!("{row}: {columns} refers to no row of `{parent}`")
            })
            .collect();
        if rows.len() > SHOWN {
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_foreign_key_check")
                .fetch_one(&mut *self.conn)
                .await?;
            found.push(format!("and {} more", total - SHOWN as i64));
        }
        Ok(Some(found.join("; ")))
    }

    /// A statement that SQLite ignores (or refuses) inside a transaction, in a script that
    /// will run in one: refused before it runs rather than reported as applied.
    async fn refusal(
        &mut self,
        sql: &str,
        in_transaction: bool,
    ) -> Result<Option<String>, sqlx::Error> {
        Ok(in_transaction
            .then(|| outside_only(sql))
            .flatten()
            .map(|found| refuse_in_transaction(sql, &found)))
    }

    async fn close(self) {
        if self.unrestored {
            self.conn.discard().await;
        } else {
            self.conn.close().await;
        }
    }

    /// A failed (or refused) first `latest` must not leave an empty database file behind:
    /// one this run created and that holds no schema at all.
    async fn close_failed(mut self) {
        let created = self.created.take();
        let empty = match &created {
            Some(_) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sqlite_master")
                .fetch_one(&mut *self.conn)
                .await
                .is_ok_and(|objects| objects == 0),
            None => false,
        };
        self.conn.discard().await;
        if let Some(file) = created.filter(|_| empty) {
            let _ = std::fs::remove_file(&file);
        }
    }
}

/// Why `found` cannot be in a script that runs in a transaction, and what to do.
fn refuse_in_transaction(sql: &str, found: &Found<'_>) -> String {
    let line = sql[..found.offset].matches('\n').count() + 1;
    let mut shown = found.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if shown.chars().count() > 60 {
        shown = shown.chars().take(57).collect::<String>() + "...";
    }
    let statement = format!("`{shown}` (line {line})");
    let advice = "put `-- dbgen:no-transaction` on the script's first line to run it outside a transaction (a migration only: a seed always runs in one)";
    match found.kind {
        OutsideOnly::ForeignKeys => format!(
            "{statement} would do nothing: SQLite ignores PRAGMA foreign_keys inside a transaction, and this script runs in one. Migrations already run with foreign keys off and are checked with PRAGMA foreign_key_check before they commit, as SQLite's documentation prescribes for schema changes, so a migration can leave it out, or {advice}"
        ),
        OutsideOnly::JournalMode => format!(
            "{statement} cannot take effect: SQLite does not change the journal mode inside a transaction (into or out of WAL it fails, another mode it may ignore), and this script runs in one: {advice}"
        ),
        OutsideOnly::Vacuum => format!(
            "{statement} cannot run: SQLite refuses VACUUM inside a transaction, and this script runs in one: {advice}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
    use sqlx::{Connection, Executor};

    use crate::{Migrator, RunError};

    /// A project with one SQLite database `shop` whose migrations are `scripts`.
    fn project(dir: &Path, scripts: &[(&str, &str)]) -> dbgen_core::Database {
        let write = |path: &str, text: &str| {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("dbgen.toml", "driver = \"sqlite\"\n");
        write("database/shop/database.toml", "");
        for (file, sql) in scripts {
            write(&format!("database/shop/migrations/{file}"), sql);
        }
        dbgen_core::load_project(dir).unwrap().databases.remove(0)
    }

    const PARENT_CHILD: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE child (id INTEGER PRIMARY KEY,
            parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE);
        INSERT INTO parent VALUES (1);
        INSERT INTO child VALUES (1, 1), (2, 1);";

    /// SQLite's documented table rebuild.
    const REBUILD: &str = "CREATE TABLE new_parent (id INTEGER PRIMARY KEY, label TEXT);
        INSERT INTO new_parent (id) SELECT id FROM parent;
        DROP TABLE parent;
        ALTER TABLE new_parent RENAME TO parent;";

    async fn one_connection_pool(file: &Path, foreign_keys: bool) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true)
            .foreign_keys(foreign_keys)
            .busy_timeout(Duration::from_millis(200));
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap()
    }

    async fn scalar(pool: &SqlitePool, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    }

    #[tokio::test]
    async fn a_pooled_connection_gets_its_foreign_keys_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = project(
            dir.path(),
            &[
                ("1_parent.up.sql", PARENT_CHILD),
                ("2_rebuild.up.sql", REBUILD),
                // Outside a transaction a script is in charge, for itself only.
                (
                    "3_outside.up.sql",
                    "-- dbgen:no-transaction\nPRAGMA foreign_keys = OFF;",
                ),
                ("4_rebuild_again.up.sql", REBUILD),
            ],
        );
        let file = dir.path().join("shop.db");
        // One connection: the migrator borrows the very one the queries below use, as a
        // temporary table (which only its connection sees) shows.
        let pool = one_connection_pool(&file, true).await;
        pool.execute("CREATE TEMP TABLE same_connection (x)")
            .await
            .unwrap();
        Migrator::new(&db).on(&pool).latest().await.unwrap();
        assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM child").await, 2);
        assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 1);
        assert_eq!(
            scalar(&pool, "SELECT COUNT(*) FROM temp.same_connection").await,
            0
        );
        let orphan = pool.execute("INSERT INTO child VALUES (3, 99)").await;
        assert!(orphan.is_err(), "foreign keys are not enforced again");

        // A run that timed out waiting for the lock gives it back too.
        let mut holder = SqliteConnection::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        holder.execute("BEGIN IMMEDIATE").await.unwrap();
        let waited = Migrator::new(&db).on(&pool).latest().await;
        assert!(
            matches!(waited, Err(RunError::LockTimeout { .. })),
            "{waited:?}"
        );
        holder.execute("ROLLBACK").await.unwrap();
        assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 1);
        assert_eq!(
            scalar(&pool, "SELECT COUNT(*) FROM temp.same_connection").await,
            0
        );

        // A failed run closes its connection; the pool opens a new one as configured.
        let db = project(
            dir.path(),
            &[("5_orphan.up.sql", "DELETE FROM parent WHERE id = 1;")],
        );
        let failed = Migrator::new(&db).on(&pool).latest().await;
        let message = failed.unwrap_err().to_string();
        assert!(message.contains("`child` rowid 1"), "{message}");
        assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM parent").await, 1);
        assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 1);
        pool.close().await;
    }

    #[tokio::test]
    async fn a_connection_without_foreign_keys_keeps_them_off_unchecked() {
        let dir = tempfile::tempdir().unwrap();
        let db = project(
            dir.path(),
            &[
                ("1_parent.up.sql", PARENT_CHILD),
                ("2_orphan.up.sql", "DELETE FROM parent WHERE id = 1;"),
            ],
        );
        let pool = one_connection_pool(&dir.path().join("shop.db"), false).await;
        pool.execute("CREATE TEMP TABLE same_connection (x)")
            .await
            .unwrap();
        // The application does not enforce references, so the batch is not checked either.
        Migrator::new(&db).on(&pool).latest().await.unwrap();
        assert_eq!(scalar(&pool, "PRAGMA foreign_keys").await, 0);
        assert_eq!(
            scalar(&pool, "SELECT COUNT(*) FROM temp.same_connection").await,
            0
        );
        assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM child").await, 2);
        pool.close().await;
    }
}
