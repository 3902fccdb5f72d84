//! Tasks, reminders, drafts, conversations and memories in SQLite, one row per
//! record keyed by (tenant, kind, id).

use crate::{sqlite_err, Db};
use async_trait::async_trait;
use jarvis_core::ports::{PortResult, RecordKind, RecordStore, RecordVersion};
use jarvis_core::{PortError, TenantId};
use rusqlite::{params, OptionalExtension};

#[derive(Clone)]
pub struct SqliteRecordStore {
    db: Db,
}

impl SqliteRecordStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn decode(body: String) -> PortResult<serde_json::Value> {
    serde_json::from_str(&body).map_err(|e| PortError::backend("sqlite", e))
}

#[async_trait]
impl RecordStore for SqliteRecordStore {
    async fn put(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
    ) -> PortResult<()> {
        self.db
            .lock()
            .execute(
                "INSERT INTO records (tenant, kind, id, body, version) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, kind, id) DO UPDATE SET body = excluded.body, version = excluded.version",
                params![
                    tenant.as_str(),
                    kind.as_str(),
                    id,
                    body.to_string(),
                    RecordVersion::fresh().0
                ],
            )
            .map_err(sqlite_err)?;
        Ok(())
    }

    async fn put_if(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
        expected: Option<&RecordVersion>,
    ) -> PortResult<RecordVersion> {
        let version = RecordVersion::fresh();
        let key = params![
            tenant.as_str(),
            kind.as_str(),
            id,
            body.to_string(),
            version.0
        ];
        // One connection behind one lock: the statement is the whole compare-and-set.
        let n = match expected {
            None => self.db.lock().execute(
                "INSERT INTO records (tenant, kind, id, body, version) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, kind, id) DO NOTHING",
                key,
            ),
            Some(seen) => self.db.lock().execute(
                "UPDATE records SET body = ?4, version = ?5
                 WHERE tenant = ?1 AND kind = ?2 AND id = ?3 AND version = ?6",
                params![
                    tenant.as_str(),
                    kind.as_str(),
                    id,
                    body.to_string(),
                    version.0,
                    seen.0
                ],
            ),
        }
        .map_err(sqlite_err)?;
        if n == 0 {
            return Err(PortError::Conflict(format!(
                "the {} {id} changed since it was read",
                kind.as_str()
            )));
        }
        Ok(version)
    }

    async fn get_versioned(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> PortResult<Option<(serde_json::Value, RecordVersion)>> {
        let row: Option<(String, String)> = self
            .db
            .lock()
            .query_row(
                "SELECT body, version FROM records WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                params![tenant.as_str(), kind.as_str(), id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sqlite_err)?;
        row.map(|(body, v)| Ok((decode(body)?, RecordVersion(v))))
            .transpose()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
    ) -> PortResult<Vec<serde_json::Value>> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare("SELECT body FROM records WHERE tenant = ?1 AND kind = ?2 ORDER BY id")
            .map_err(sqlite_err)?;
        let rows = stmt
            .query_map(params![tenant.as_str(), kind.as_str()], |r| {
                r.get::<_, String>(0)
            })
            .map_err(sqlite_err)?;
        rows.map(|r| r.map_err(sqlite_err).and_then(decode))
            .collect()
    }

    async fn delete(&self, tenant: &TenantId, kind: RecordKind, id: &str) -> PortResult<bool> {
        let n = self
            .db
            .lock()
            .execute(
                "DELETE FROM records WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                params![tenant.as_str(), kind.as_str(), id],
            )
            .map_err(sqlite_err)?;
        Ok(n > 0)
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<usize> {
        self.db
            .lock()
            .execute(
                "DELETE FROM records WHERE tenant = ?1 AND kind != ?2",
                params![tenant.as_str(), RecordKind::Erasure.as_str()],
            )
            .map_err(sqlite_err)
    }

    async fn tenants(&self, kind: RecordKind) -> PortResult<Vec<TenantId>> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare("SELECT DISTINCT tenant FROM records WHERE kind = ?1 ORDER BY tenant")
            .map_err(sqlite_err)?;
        let rows = stmt
            .query_map(params![kind.as_str()], |r| r.get::<_, String>(0))
            .map_err(sqlite_err)?;
        rows.map(|r| {
            let t = r.map_err(sqlite_err)?;
            TenantId::parse(&t).map_err(|e| PortError::Backend {
                backend: "sqlite",
                message: format!("a stored tenant id is invalid: {e}"),
                source: None,
            })
        })
        .collect()
    }
}
