//! A runner's connection: its own, or one borrowed from an application's pool.

use std::ops::{Deref, DerefMut};

use sqlx::Connection;
use sqlx::pool::PoolConnection;

/// The connection an engine runs on.
pub(crate) enum Conn<DB: sqlx::Database> {
    /// Opened for this run, closed after it.
    Own(DB::Connection),
    /// Borrowed from the application's pool, returned to it after the run.
    Pooled(Borrowed<DB>),
}

/// A pooled connection that goes back to its pool only when the run released its lock and
/// ended its transaction: a run dropped halfway (its future cancelled) closes it instead,
/// so that no lock or open transaction reaches the application's next query.
pub(crate) struct Borrowed<DB: sqlx::Database> {
    conn: PoolConnection<DB>,
    clean: bool,
}

impl<DB: sqlx::Database> Drop for Borrowed<DB> {
    fn drop(&mut self) {
        if !self.clean {
            self.conn.close_on_drop();
        }
    }
}

impl<DB: sqlx::Database> Conn<DB> {
    pub(crate) fn pooled(conn: PoolConnection<DB>) -> Self {
        Conn::Pooled(Borrowed { conn, clean: false })
    }

    /// After a failed run: an own connection is closed; a borrowed one is closed too rather
    /// than returned, since a failure may have left a transaction open or a lock held.
    pub(crate) async fn discard(self) {
        match self {
            Conn::Own(conn) => {
                let _ = conn.close().await;
            }
            // Not marked clean: dropped, sqlx closes it instead of pooling it.
            Conn::Pooled(borrowed) => drop(borrowed),
        }
    }

    /// Closes an own connection; returns a borrowed one to its pool.
    pub(crate) async fn close(self) {
        match self {
            Conn::Own(conn) => {
                let _ = conn.close().await;
            }
            Conn::Pooled(mut borrowed) => borrowed.clean = true,
        }
    }
}

impl<DB: sqlx::Database> Deref for Conn<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        match self {
            Conn::Own(conn) => conn,
            Conn::Pooled(borrowed) => &borrowed.conn,
        }
    }
}

impl<DB: sqlx::Database> DerefMut for Conn<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Conn::Own(conn) => conn,
            Conn::Pooled(borrowed) => &mut borrowed.conn,
        }
    }
}
