//! The assistant's local routes beyond the route table: the streaming
//! WebSocket `GET /chat/stream` (on AWS, the WebSocket API and chat-stream),
//! and `POST /me/memories/reflect` (on AWS, memory-reflector runs nightly).
//! `POST /chat`, the tools' REST routes and `/me/…` are the route table's,
//! served in [`crate::server`].

use crate::server::{authenticate_token, error_response};
use crate::App;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use jarvis_core::TenantId;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/chat/stream", get(chat_stream))
        .route("/me/memories/reflect", post(me_reflect))
}

/// `GET /chat/stream` (WebSocket; the token as `Authorization: Bearer` or
/// `?token=`, since browsers cannot set headers on WebSockets). Send
/// `{"action": "sendMessage", "message", "conversation_id"?}`; receive the
/// turn's events (`started`, `delta`, `tool_started`, `tool_finished`, `done`,
/// or `error`) and, any time, `notification`s such as fired reminders.
async fn chat_stream(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    match authenticate_token(&app, &headers, query.get("token").map(String::as_str)) {
        Ok(tenant) => ws.on_upgrade(move |socket| stream(app, tenant, socket)),
        Err(e) => error_response(&e),
    }
}

async fn send_json(socket: &mut WebSocket, value: &serde_json::Value) -> bool {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .is_ok()
}

async fn stream(app: Arc<App>, tenant: TenantId, mut socket: WebSocket) {
    let mut notifications = app.stack.notifier.subscribe();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                if !turn(&app, &tenant, &text, &mut socket).await {
                    return;
                }
            }
            note = notifications.recv() => match note {
                Ok((owner, event)) if owner == tenant => {
                    if !send_json(&mut socket, &event).await { return; }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            },
        }
    }
}

/// One `sendMessage`: the turn's events are forwarded as they happen.
async fn turn(app: &App, tenant: &TenantId, text: &str, socket: &mut WebSocket) -> bool {
    struct Socket<'a>(&'a mut WebSocket);
    #[async_trait::async_trait]
    impl api_chat::stream::EventSink for Socket<'_> {
        async fn send(&mut self, event: &serde_json::Value) -> bool {
            send_json(self.0, event).await
        }
    }
    api_chat::stream::handle_message(&app.chat, tenant, text, &mut Socket(socket)).await
}

/// The caller's new conversations turned into memories now (the runtime also
/// does it nightly); `jarvis reflect` calls this on a running runtime.
async fn me_reflect(State(app): State<Arc<App>>, req: Request) -> Response {
    let tenant = match authenticate_token(&app, req.headers(), None) {
        Ok(t) => t,
        Err(e) => return error_response(&e),
    };
    let event = memory_reflector::Reflect {
        tenant_id: Some(tenant),
    };
    match memory_reflector::handle(&app.reflect, event).await {
        Ok(out) => axum::response::IntoResponse::into_response(axum::Json(out)),
        Err(e) => error_response(&jarvis_core::ApiError::Internal(match e {
            jarvis_core::StepError::Port(p) => p,
            other => jarvis_core::PortError::Invalid(other.to_string()),
        })),
    }
}
