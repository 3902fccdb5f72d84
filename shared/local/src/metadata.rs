//! Document records in SQLite: the JSON record plus the columns queries need.
//! Status changes are conditional (compare-and-set inside one transaction).

use crate::{sqlite_err, Db};
use async_trait::async_trait;
use jarvis_core::domain::{Document, DocumentId, TenantId};
use jarvis_core::ports::{add_alias_to, DocumentFilter, MetadataStore, PortResult, StatusChange};
use jarvis_core::PortError;
use rusqlite::{params, OptionalExtension};

#[derive(Clone)]
pub struct SqliteMetadataStore {
    db: Db,
}

impl SqliteMetadataStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn decode(body: String) -> PortResult<Document> {
    serde_json::from_str(&body).map_err(|e| PortError::backend("sqlite", e))
}

fn write(conn: &rusqlite::Connection, doc: &Document) -> PortResult<()> {
    let body = serde_json::to_string(doc).map_err(|e| PortError::backend("sqlite", e))?;
    conn.execute(
        "INSERT INTO documents (tenant, id, etag, status, body) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, id) DO UPDATE SET etag = excluded.etag, status = excluded.status, body = excluded.body",
        params![doc.tenant_id.as_str(), doc.id.as_str(), doc.source.etag, doc.status.as_str(), body],
    )
    .map_err(sqlite_err)?;
    Ok(())
}

fn read(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    id: &DocumentId,
) -> PortResult<Option<Document>> {
    conn.query_row(
        "SELECT body FROM documents WHERE tenant = ?1 AND id = ?2",
        params![tenant.as_str(), id.as_str()],
        |r| r.get::<_, String>(0),
    )
    .optional()
    .map_err(sqlite_err)?
    .map(decode)
    .transpose()
}

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn put_document(&self, doc: &Document) -> PortResult<()> {
        write(&self.db.lock(), doc)
    }

    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> PortResult<Option<Document>> {
        read(&self.db.lock(), tenant, id)
    }

    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> PortResult<Vec<Document>> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare(
                "SELECT body FROM documents WHERE tenant = ?1 AND (?2 IS NULL OR status = ?2) AND id > ?3
                 ORDER BY id LIMIT ?4",
            )
            .map_err(sqlite_err)?;
        let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
        let rows = stmt
            .query_map(
                params![
                    tenant.as_str(),
                    filter.status.map(|s| s.as_str()),
                    filter.after.as_ref().map_or("", |a| a.as_str()),
                    limit
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(sqlite_err)?;
        rows.map(|r| r.map_err(sqlite_err).and_then(decode))
            .collect()
    }

    async fn find_by_etag(&self, tenant: &TenantId, etag: &str) -> PortResult<Option<Document>> {
        let conn = self.db.lock();
        conn.query_row(
            "SELECT body FROM documents WHERE tenant = ?1 AND etag = ?2 ORDER BY id LIMIT 1",
            params![tenant.as_str(), etag],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .map_err(sqlite_err)?
        .map(decode)
        .transpose()
    }

    async fn change_status(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        change: &StatusChange,
    ) -> PortResult<Document> {
        let mut conn = self.db.lock();
        let tx = conn.transaction().map_err(sqlite_err)?;
        let mut doc =
            read(&tx, tenant, id)?.ok_or_else(|| PortError::NotFound(format!("document {id}")))?;
        change.apply(&mut doc)?;
        write(&tx, &doc)?;
        tx.commit().map_err(sqlite_err)?;
        Ok(doc)
    }

    async fn add_alias(&self, tenant: &TenantId, id: &DocumentId, key: &str) -> PortResult<()> {
        let mut conn = self.db.lock();
        let tx = conn.transaction().map_err(sqlite_err)?;
        let mut doc =
            read(&tx, tenant, id)?.ok_or_else(|| PortError::NotFound(format!("document {id}")))?;
        if add_alias_to(&mut doc, key) {
            write(&tx, &doc)?;
        }
        tx.commit().map_err(sqlite_err)
    }

    async fn delete_document(&self, tenant: &TenantId, id: &DocumentId) -> PortResult<()> {
        self.db
            .lock()
            .execute(
                "DELETE FROM documents WHERE tenant = ?1 AND id = ?2",
                params![tenant.as_str(), id.as_str()],
            )
            .map_err(sqlite_err)?;
        Ok(())
    }
}
