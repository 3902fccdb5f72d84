//! The assistant's routes on the local API: `POST /chat`, the streaming
//! WebSocket `GET /chat/stream`, and the tool functions' REST routes
//! (`/tasks…`, `/reminders…`, `/emails/drafts…`) and the data rights
//! (`DELETE /me/data`, `GET /me/export`) — each bridged into the API
//! Gateway event its Lambda would receive.

use crate::server::{authenticate_token, bridge, error_response, from_lambda};
use crate::App;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use jarvis_core::TenantId;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/chat", post(chat))
        .route("/chat/stream", get(chat_stream))
        .route("/tasks", post(tasks).get(tasks))
        .route("/tasks/{id}/complete", post(task_complete))
        .route("/tasks/{id}", delete(task_delete))
        .route("/reminders", post(reminders).get(reminders))
        .route("/reminders/{id}", delete(reminder_delete))
        .route("/emails/drafts", post(drafts).get(drafts))
        .route("/emails/drafts/{id}/send", post(draft_send))
        .route("/me/data", delete(me_data))
        .route("/me/data/erasure", get(me_erasure))
        .route("/me/memories/reflect", post(me_reflect))
        .route("/me/export", get(me_export))
        .route("/me/settings", get(me_settings).put(me_settings))
        .route(
            "/me/notifications",
            axum::routing::put(me_notifications).delete(me_notifications),
        )
}

/// Bridges `req` as `route` (with `{id}` when given) into `$handler`.
macro_rules! bridged {
    ($app:expr, $req:expr, $route:expr, $id:expr, $limit:expr, $handler:expr) => {{
        let params = match $id {
            Some(id) => json!({ "id": id }),
            None => json!({}),
        };
        match bridge(&$app, $req, $route, params, $limit).await {
            Ok(event) => from_lambda($handler(event).await),
            Err(e) => error_response(&e),
        }
    }};
}

async fn chat(State(app): State<Arc<App>>, req: Request) -> Response {
    bridged!(
        app,
        req,
        "POST /chat",
        None::<String>,
        api_chat::MAX_BODY_BYTES,
        |e| api_chat::handle(&app.chat, e)
    )
}

async fn tasks(State(app): State<Arc<App>>, req: Request) -> Response {
    let route = if req.method() == Method::POST {
        "POST /tasks"
    } else {
        "GET /tasks"
    };
    bridged!(
        app,
        req,
        route,
        None::<String>,
        tool_tasks::MAX_BODY_BYTES,
        |e| tool_tasks::handle(&app.tools.tasks, e)
    )
}

async fn task_complete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    bridged!(app, req, "POST /tasks/{id}/complete", Some(id), 0, |e| {
        tool_tasks::handle(&app.tools.tasks, e)
    })
}

async fn task_delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    bridged!(app, req, "DELETE /tasks/{id}", Some(id), 0, |e| {
        tool_tasks::handle(&app.tools.tasks, e)
    })
}

async fn reminders(State(app): State<Arc<App>>, req: Request) -> Response {
    let route = if req.method() == Method::POST {
        "POST /reminders"
    } else {
        "GET /reminders"
    };
    bridged!(
        app,
        req,
        route,
        None::<String>,
        tool_reminders::MAX_BODY_BYTES,
        |e| tool_reminders::handle(&app.tools.reminders, e)
    )
}

async fn reminder_delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    bridged!(app, req, "DELETE /reminders/{id}", Some(id), 0, |e| {
        tool_reminders::handle(&app.tools.reminders, e)
    })
}

async fn drafts(State(app): State<Arc<App>>, req: Request) -> Response {
    let route = if req.method() == Method::POST {
        "POST /emails/drafts"
    } else {
        "GET /emails/drafts"
    };
    bridged!(
        app,
        req,
        route,
        None::<String>,
        tool_email::MAX_BODY_BYTES,
        |e| tool_email::handle(&app.tools.email, e)
    )
}

async fn draft_send(State(app): State<Arc<App>>, Path(id): Path<String>, req: Request) -> Response {
    bridged!(
        app,
        req,
        "POST /emails/drafts/{id}/send",
        Some(id),
        tool_email::MAX_BODY_BYTES,
        |e| tool_email::handle(&app.tools.email, e)
    )
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

async fn me_data(State(app): State<Arc<App>>, req: Request) -> Response {
    bridged!(app, req, "DELETE /me/data", None::<String>, 0, |e| {
        api_me::handle(&app.me, e)
    })
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

async fn me_erasure(State(app): State<Arc<App>>, req: Request) -> Response {
    bridged!(app, req, "GET /me/data/erasure", None::<String>, 0, |e| {
        api_me::handle(&app.me, e)
    })
}

async fn me_export(State(app): State<Arc<App>>, req: Request) -> Response {
    bridged!(app, req, "GET /me/export", None::<String>, 0, |e| {
        api_me::handle(&app.me, e)
    })
}

/// Answers, as api-me does where no mail channel exists, where notifications go locally.
async fn me_notifications(State(app): State<Arc<App>>, req: Request) -> Response {
    let route = if req.method() == Method::PUT {
        "PUT /me/notifications"
    } else {
        "DELETE /me/notifications"
    };
    bridged!(
        app,
        req,
        route,
        None::<String>,
        api_me::MAX_SETTINGS_BYTES,
        |e| api_me::handle(&app.me, e)
    )
}

async fn me_settings(State(app): State<Arc<App>>, req: Request) -> Response {
    let route = if req.method() == Method::PUT {
        "PUT /me/settings"
    } else {
        "GET /me/settings"
    };
    bridged!(
        app,
        req,
        route,
        None::<String>,
        api_me::MAX_SETTINGS_BYTES,
        |e| api_me::handle(&app.me, e)
    )
}
