//! The local SQLite database: one file, WAL mode, schema created on open.

use jarvis_core::PortError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS documents (
    tenant     TEXT NOT NULL,
    id         TEXT NOT NULL,
    etag       TEXT NOT NULL,
    status     TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS documents_by_etag ON documents (tenant, etag);
CREATE TABLE IF NOT EXISTS queue (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    body          TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
CREATE TABLE IF NOT EXISTS executions (
    name        TEXT PRIMARY KEY,
    input       TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    starts      INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS vectors (
    tenant       TEXT NOT NULL,
    chunk_id     TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    source       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    vector       BLOB NOT NULL,
    -- The vector's key in the tenant's HNSW graph (never reused: vector_keys).
    vkey         INTEGER,
    PRIMARY KEY (tenant, chunk_id)
);
CREATE TABLE IF NOT EXISTS vector_keys (
    id   INTEGER PRIMARY KEY CHECK (id = 0),
    next INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_by_document ON vectors (tenant, document_id);
CREATE TABLE IF NOT EXISTS inbox_seen (
    key   TEXT PRIMARY KEY,
    size  INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    etag  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    tenant     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, kind, id)
);
CREATE TABLE IF NOT EXISTS schedules (
    tenant      TEXT NOT NULL,
    reminder_id TEXT NOT NULL,
    next_fire   INTEGER NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (tenant, reminder_id)
);
CREATE INDEX IF NOT EXISTS schedules_by_time ON schedules (next_fire);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    label        TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
"#;

/// Brings a data folder made by an older build up to [`SCHEMA`]: records gained
/// a `version` (compare-and-set; rows from before have the empty version),
/// executions count their `starts` (a run that keeps stopping the runtime), and
/// vectors carry their HNSW graph key.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, definition) in [
        ("records", "version", "TEXT NOT NULL DEFAULT ''"),
        ("executions", "starts", "INTEGER NOT NULL DEFAULT 1"),
        ("vectors", "vkey", "INTEGER"),
    ] {
        let present = conn
            .prepare(&format!(
                "SELECT 1 FROM pragma_table_info('{table}') WHERE name = '{column}'"
            ))?
            .exists([])?;
        if !present {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
        }
    }
    // Vectors from before graph keys get their rowid; the counter starts past them.
    conn.execute_batch(
        "UPDATE vectors SET vkey = rowid WHERE vkey IS NULL;
         INSERT OR IGNORE INTO vector_keys (id, next) SELECT 0, COALESCE(MAX(vkey), 0) + 1 FROM vectors;",
    )?;
    Ok(())
}

/// A shared handle on the database.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn open(path: &Path) -> Result<Self, PortError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| PortError::backend("sqlite", e))?;
        }
        let conn = Connection::open(path).map_err(crate::sqlite_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(crate::sqlite_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(crate::sqlite_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(crate::sqlite_err)?;
        conn.execute_batch(SCHEMA).map_err(crate::sqlite_err)?;
        migrate(&conn).map_err(crate::sqlite_err)?;
        Ok(Self(Arc::new(Mutex::new(conn))))
    }

    /// The connection; poisoning (a panic while holding it) is not fatal to SQLite.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
