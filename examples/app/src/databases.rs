//! The databases of this application, one enum variant per folder in `database/` at the
//! repository's root.
//!
//! `#[derive(Databases)]` reads that folder at compile time and embeds every database's
//! migrations and seeds, so the binary can migrate and seed them on a machine that has no
//! source tree.

/// Every database this application talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, dbgen_runtime::Databases)]
#[databases(root = "../../database")]
pub enum Database {
    /// `database/permiso/` (postgres), connection from the PERMISO_DB_* variables.
    Permiso,
    /// `database/permiso-test/` (postgres, permiso's migrations), from PERMISO_TEST_DB_*.
    PermisoTest,
    /// `database/permiso-sqlite/` (sqlite), from PERMISO_SQLITE_DB_*.
    PermisoSqlite,
}
