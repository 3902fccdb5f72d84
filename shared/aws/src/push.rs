//! Notifications pushed to the tenant's open WebSocket connections (API
//! Gateway's `@connections` on AWS): the [`Push`] reminder-fire calls once the
//! durable notification (SNS) went out and its delivery is recorded.
//!
//! Bounded, so that a slow or hung client cannot hold the delivery open until
//! the function times out (and a retry publishes to SNS again): at most
//! [`MAX_PUSHED`] connections, the newest, are posted to, all at once, each
//! given [`PUSH_TIMEOUT`]. A connection API Gateway calls gone, or older than
//! it lets one live, is forgotten; a push that fails otherwise is logged.

use async_trait::async_trait;
use jarvis_core::clock::Clock;
use jarvis_core::domain::LiveConnection;
use jarvis_core::ports::{Connection, Connections, Notification, Push, RecordKind, RecordStore};
use jarvis_core::{records, PortError};
use std::sync::Arc;
use std::time::Duration;

/// The most connections one notification is posted to (the newest).
pub const MAX_PUSHED: usize = 10;
/// How long a post to one connection may take.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct PushToConnections {
    pub records: Arc<dyn RecordStore>,
    pub connections: Arc<dyn Connections>,
    pub clock: Arc<dyn Clock>,
}

async fn forget(records: &dyn RecordStore, c: &LiveConnection, why: &str) {
    tracing::info!(connection = %c.id, why, "forgetting a connection");
    if let Err(e) = records
        .delete(&c.tenant_id, RecordKind::Connection, &c.id)
        .await
    {
        tracing::warn!(connection = %c.id, error = %e, "could not forget a connection");
    }
}

impl PushToConnections {
    async fn post(self, c: LiveConnection, body: Arc<Vec<u8>>) {
        let to = Connection {
            endpoint: c.endpoint.clone(),
            id: c.id.clone(),
        };
        match tokio::time::timeout(PUSH_TIMEOUT, self.connections.post(&to, &body)).await {
            Ok(Ok(())) => tracing::info!(connection = %c.id, "notification pushed"),
            Ok(Err(PortError::NotFound(_))) => {
                forget(self.records.as_ref(), &c, "the client has gone").await
            }
            Ok(Err(e)) => {
                tracing::warn!(connection = %c.id, error = %e, "could not push the notification")
            }
            Err(_) => tracing::warn!(connection = %c.id, "the push timed out"),
        }
    }
}

#[async_trait]
impl Push for PushToConnections {
    async fn push(&self, n: &Notification) {
        let live = match records::list::<LiveConnection>(self.records.as_ref(), &n.tenant_id).await
        {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the open connections; pushed nothing");
                return;
            }
        };
        let now = self.clock.now();
        let mut current = Vec::new();
        for c in live {
            // Another tenant's record cannot be listed here; never post across anyway.
            if c.tenant_id != n.tenant_id {
                continue;
            }
            if now - c.connected_at > LiveConnection::MAX_AGE {
                forget(
                    self.records.as_ref(),
                    &c,
                    "older than API Gateway keeps a connection",
                )
                .await;
                continue;
            }
            current.push(c);
        }
        current.sort_by_key(|c| std::cmp::Reverse(c.connected_at));
        if current.len() > MAX_PUSHED {
            tracing::warn!(
                open = current.len(),
                "more open connections than are pushed to; the oldest hear nothing"
            );
            current.truncate(MAX_PUSHED);
        }
        let body = Arc::new(n.event().to_string().into_bytes());
        let mut posts = tokio::task::JoinSet::new();
        for c in current {
            posts.spawn(self.clone().post(c, body.clone()));
        }
        while posts.join_next().await.is_some() {}
    }
}
