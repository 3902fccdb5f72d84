//! Notifications pushed to the tenant's open WebSocket connections as well
//! (API Gateway's `@connections` on AWS): a [`Notifier`] that delivers through
//! its inner notifier (SNS, the durable channel) and then posts the same event
//! to every [`LiveConnection`] of the tenant. A connection API Gateway calls
//! gone, or older than it lets one live, is forgotten; a push that fails
//! otherwise is logged and does not fail the notification, which went out.

use crate::clock::Clock;
use crate::domain::LiveConnection;
use crate::ports::{
    Connection, Connections, Notification, Notifier, PortResult, RecordKind, RecordStore,
};
use crate::{records, PortError};
use async_trait::async_trait;
use std::sync::Arc;

pub struct PushToConnections {
    pub inner: Arc<dyn Notifier>,
    pub records: Arc<dyn RecordStore>,
    pub connections: Arc<dyn Connections>,
    pub clock: Arc<dyn Clock>,
}

impl PushToConnections {
    async fn forget(&self, c: &LiveConnection, why: &str) {
        tracing::info!(connection = %c.id, why, "forgetting a connection");
        if let Err(e) = self
            .records
            .delete(&c.tenant_id, RecordKind::Connection, &c.id)
            .await
        {
            tracing::warn!(connection = %c.id, error = %e, "could not forget a connection");
        }
    }
}

#[async_trait]
impl Notifier for PushToConnections {
    async fn notify(&self, n: &Notification) -> PortResult<()> {
        self.inner.notify(n).await?;
        let live = match records::list::<LiveConnection>(self.records.as_ref(), &n.tenant_id).await
        {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the open connections; pushed nothing");
                return Ok(());
            }
        };
        let body = n.event().to_string();
        let now = self.clock.now();
        for c in live {
            // Another tenant's record cannot be listed here; never post across anyway.
            if c.tenant_id != n.tenant_id {
                continue;
            }
            if now - c.connected_at > LiveConnection::MAX_AGE {
                self.forget(&c, "older than API Gateway keeps a connection")
                    .await;
                continue;
            }
            let to = Connection {
                endpoint: c.endpoint.clone(),
                id: c.id.clone(),
            };
            match self.connections.post(&to, body.as_bytes()).await {
                Ok(()) => tracing::info!(connection = %c.id, "notification pushed"),
                Err(PortError::NotFound(_)) => self.forget(&c, "the client has gone").await,
                Err(e) => {
                    tracing::warn!(connection = %c.id, error = %e, "could not push the notification")
                }
            }
        }
        Ok(())
    }
}
