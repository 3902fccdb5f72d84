//! An SQS-like queue in SQLite: at-least-once delivery, visibility timeouts,
//! receive counts. Also the sink for the blob store's `Object Created` events.

use crate::blobs::ObjectEvents;
use crate::{sqlite_err, Db};
use async_trait::async_trait;
use chrono::Utc;
use jarvis_core::domain::ObjectRef;
use jarvis_core::ingest_event::object_created_body;
use jarvis_core::ports::{PortResult, Queue, QueueMessage};
use rusqlite::params;

#[derive(Clone)]
pub struct SqliteQueue {
    db: Db,
}

impl SqliteQueue {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Sends without awaiting (the queue is local and synchronous).
    pub fn send_now(&self, body: &str) -> PortResult<String> {
        let conn = self.db.lock();
        conn.execute(
            "INSERT INTO queue (body, visible_at) VALUES (?1, 0)",
            params![body],
        )
        .map_err(sqlite_err)?;
        Ok(conn.last_insert_rowid().to_string())
    }

    /// Messages waiting (visible or in flight).
    pub fn depth(&self) -> PortResult<u64> {
        self.db
            .lock()
            .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sqlite_err)
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, body: &str) -> PortResult<String> {
        self.send_now(body)
    }

    async fn receive(&self, max: usize, visibility_secs: u64) -> PortResult<Vec<QueueMessage>> {
        let now = Utc::now().timestamp_millis();
        let mut conn = self.db.lock();
        let tx = conn.transaction().map_err(sqlite_err)?;
        let picked: Vec<(i64, String, i64)> = {
            let mut stmt = tx
                .prepare("SELECT id, body, receive_count FROM queue WHERE visible_at <= ?1 ORDER BY id LIMIT ?2")
                .map_err(sqlite_err)?;
            let rows = stmt
                .query_map(params![now, max as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(sqlite_err)?;
            rows.collect::<Result<_, _>>().map_err(sqlite_err)?
        };
        let mut out = Vec::with_capacity(picked.len());
        for (id, body, count) in picked {
            let receipt = format!("{id}-{now}-{count}");
            tx.execute(
                "UPDATE queue SET visible_at = ?1, receive_count = receive_count + 1, receipt = ?2 WHERE id = ?3",
                params![now + visibility_secs as i64 * 1000, receipt, id],
            )
            .map_err(sqlite_err)?;
            out.push(QueueMessage {
                id: id.to_string(),
                receipt,
                body,
                receive_count: count as u32 + 1,
            });
        }
        tx.commit().map_err(sqlite_err)?;
        Ok(out)
    }

    async fn ack(&self, receipt: &str) -> PortResult<()> {
        self.db
            .lock()
            .execute("DELETE FROM queue WHERE receipt = ?1", params![receipt])
            .map_err(sqlite_err)?;
        Ok(())
    }
}

impl ObjectEvents for SqliteQueue {
    fn object_created(&self, object: &ObjectRef) -> PortResult<()> {
        self.send_now(&object_created_body(
            &object.bucket,
            &object.key,
            &object.etag,
            object.size,
            Utc::now(),
        ))
        .map(|_| ())
    }
}
