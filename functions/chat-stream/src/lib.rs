//! `chat-stream`: chat over API Gateway's WebSocket API, the AWS side of the
//! local runtime's `GET /chat/stream`, with the same messages both ways
//! (`api_chat::stream`).
//! - `$connect`: `ws-authorizer` has verified the user pool token from the
//!   query string (`wss://…/live?token=…`) and put the tenant in the
//!   connection's context; the connection is accepted if it is there, and
//!   kept as the tenant's [`LiveConnection`] so reminders are pushed to it.
//! - `sendMessage` (and `$default`, which answers a clear `error` event): one
//!   chat turn — the same agent as `POST /chat` — with `started`, `delta`,
//!   `tool_started`, `tool_finished` and `done` posted to the client as they
//!   happen (Bedrock ConverseStream deltas; those queued while a post is in
//!   flight are merged into one message).
//! - `$disconnect`: the connection's record goes (API Gateway does not promise
//!   this call; reminder-fire forgets a connection it finds gone or too old).
//!
//! API Gateway stops waiting for the function after 29 s; the turn goes on
//! and keeps posting to the connection until the function's own timeout.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use jarvis_core::domain::LiveConnection;
use jarvis_core::ports::{Connection, Connections, RecordKind, RecordStore};
use jarvis_core::PortError;
use jarvis_lambda::ws;
use serde_json::Value;
use std::sync::Arc;

pub struct Deps {
    pub chat: api_chat::Deps,
    pub connections: Arc<dyn Connections>,
    /// Where the tenant's open connections are kept.
    pub records: Arc<dyn RecordStore>,
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        Ok(Deps {
            chat: api_chat::Deps::aws(stack)?,
            connections: stack.connections(),
            records: stack.records(jarvis_aws::Rows::All)?,
        })
    }
}

/// Posts events to one client.
struct Post<'a> {
    connections: &'a dyn Connections,
    to: Connection,
}

#[async_trait::async_trait]
impl api_chat::stream::EventSink for Post<'_> {
    async fn send(&mut self, event: &Value) -> bool {
        match self
            .connections
            .post(&self.to, event.to_string().as_bytes())
            .await
        {
            Ok(()) => true,
            Err(PortError::NotFound(_)) => {
                tracing::info!(connection = %self.to.id, "the client has gone");
                false
            }
            Err(e) => {
                tracing::warn!(connection = %self.to.id, error = %e, "could not post to the client");
                false
            }
        }
    }

    fn merges_deltas(&self) -> bool {
        true
    }
}

/// One WebSocket route invocation.
pub async fn handle(deps: &Deps, req: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let tenant = match ws::tenant(&req) {
        Ok(t) => t,
        // Only reachable if the authorizer is not configured: refuse.
        Err(_) => return ws::status(401, Some("unauthorized")),
    };
    match ws::route(&req) {
        "$connect" => {
            let Some(c) = ws::connection(&req) else {
                return ws::status(400, Some("the request has no connection"));
            };
            let live = LiveConnection {
                tenant_id: tenant.clone(),
                id: c.id,
                endpoint: c.endpoint,
                connected_at: chrono::Utc::now(),
            };
            if let Err(e) = jarvis_core::records::put(deps.records.as_ref(), &live).await {
                // Chat still works; only pushed reminders would miss this client.
                tracing::warn!(error = %e, "could not keep the connection for notifications");
            }
            tracing::info!(tenant = %tenant, connection = %live.id, "connected");
            ws::status(200, None)
        }
        "$disconnect" => {
            if let Some(c) = ws::connection(&req) {
                if let Err(e) = deps
                    .records
                    .delete(&tenant, RecordKind::Connection, &c.id)
                    .await
                {
                    tracing::warn!(error = %e, "could not forget the connection");
                }
            }
            ws::status(200, None)
        }
        _ => {
            let Some(to) = ws::connection(&req) else {
                return ws::status(400, Some("the request has no connection"));
            };
            let mut sink = Post {
                connections: deps.connections.as_ref(),
                to,
            };
            let text = ws::body(&req);
            api_chat::stream::handle_message(&deps.chat, &tenant, &text, &mut sink).await;
            ws::status(200, None)
        }
    }
}
