//! Streamed chat, the same on both transports (the local runtime's
//! `GET /chat/stream` and API Gateway's WebSocket API through `chat-stream`):
//! the client sends `{"action": "sendMessage", "message", "conversation_id"?}`
//! and hears the turn's events (`started`, `delta`, `tool_started`,
//! `tool_finished`, `done`) or one `error` (`{type, code, message}`).

use crate::{turn, Deps, MAX_BODY_BYTES};
use jarvis_core::agent::{ChatInput, Event};
use jarvis_core::{ApiError, TenantId};
use serde_json::{json, Value};

/// Where a turn's events go. `false` means the client has gone.
#[async_trait::async_trait]
pub trait EventSink: Send {
    async fn send(&mut self, event: &Value) -> bool;

    /// Whether deltas that queued while a send was in flight go out as one
    /// message (where each message costs: API Gateway charges and throttles
    /// per message). A local socket sends every delta as it came.
    fn merges_deltas(&self) -> bool {
        false
    }
}

/// A client's message, validated as `POST /chat` validates its body: the
/// body's fields (`message`, or `confirm`/`decline` with the pending action's
/// token; `conversation_id`, `turn_id`) beside `"action": "sendMessage"`.
pub fn parse_message(text: &str) -> Result<ChatInput, ApiError> {
    if text.len() as u64 > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "the message is {} bytes; the limit is {MAX_BODY_BYTES}",
            text.len()
        )));
    }
    let mut request: serde_json::Map<String, Value> = serde_json::from_str(text)
        .map_err(|e| ApiError::BadRequest(format!("invalid message: {e}")))?;
    match request.remove("action") {
        Some(Value::String(a)) if a == "sendMessage" => {}
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown action {}; use sendMessage",
                other.map_or("(none)".to_owned(), |a| a.to_string())
            )))
        }
    }
    let mut body = Value::Object(request);
    jarvis_core::contract::integral_numbers(&mut body);
    jarvis_core::contract::schemas::<ChatInput>()
        .check(&body)
        .map_err(ApiError::BadRequest)?;
    serde_json::from_value(body).map_err(|e| ApiError::BadRequest(format!("invalid message: {e}")))
}

/// The `error` event a client hears instead of `done`.
pub fn error_event(e: &ApiError) -> Value {
    json!({"type": "error", "code": e.code(), "message": e.to_string()})
}

/// Merges runs of consecutive deltas: what queued while the transport was busy
/// goes out as one message (API Gateway charges and throttles per message).
pub fn coalesce(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    for event in events {
        match (out.last_mut(), event) {
            (Some(Event::Delta { text }), Event::Delta { text: more }) => text.push_str(&more),
            (_, event) => out.push(event),
        }
    }
    out
}

/// One message from a client: parses it, runs the turn and forwards its events
/// as they happen, then an `error` event if it failed. A client that leaves
/// mid-turn does not stop the turn (its tools and the stored conversation stay
/// consistent); it just hears nothing more. Returns whether the client is
/// still there.
pub async fn handle_message(
    deps: &Deps,
    tenant: &TenantId,
    text: &str,
    sink: &mut dyn EventSink,
) -> bool {
    let input = match parse_message(text) {
        Ok(input) => input,
        Err(e) => return sink.send(&error_event(&e)).await,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let on_event = move |e: Event| {
        let _ = tx.send(e);
    };
    let work = turn(deps, tenant, &input, &on_event);
    tokio::pin!(work);
    let mut present = true;
    let outcome = loop {
        tokio::select! {
            Some(first) = rx.recv() => {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                present = send_all(sink, batch, present).await;
            }
            outcome = &mut work => break outcome,
        }
    };
    // Events sent just before the turn ended.
    let mut rest = Vec::new();
    while let Ok(event) = rx.try_recv() {
        rest.push(event);
    }
    present = send_all(sink, rest, present).await;
    match outcome {
        Ok(_) => present,
        Err(e) if present => sink.send(&error_event(&e)).await,
        Err(_) => false,
    }
}

async fn send_all(sink: &mut dyn EventSink, events: Vec<Event>, present: bool) -> bool {
    let events = if sink.merges_deltas() {
        coalesce(events)
    } else {
        events
    };
    let mut present = present;
    for event in events {
        if !present {
            break;
        }
        let value = serde_json::to_value(&event).unwrap_or_default();
        present = sink.send(&value).await;
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(t: &str) -> Event {
        Event::Delta { text: t.into() }
    }

    #[test]
    fn consecutive_deltas_merge_and_nothing_else_moves() {
        let started = Event::Started {
            conversation_id: "c".into(),
        };
        let tool = Event::ToolFinished {
            name: "create_task".into(),
            ok: true,
            summary: "ok".into(),
        };
        let out = coalesce(vec![
            started.clone(),
            delta("Hel"),
            delta("lo "),
            tool.clone(),
            delta("wor"),
            delta("ld"),
        ]);
        assert_eq!(out, vec![started, delta("Hello "), tool, delta("world")]);
        assert!(coalesce(vec![]).is_empty());
    }

    #[test]
    fn messages_are_validated() {
        let ok =
            parse_message(r#"{"action":"sendMessage","message":"hi","conversation_id":"conv_1"}"#)
                .unwrap();
        assert_eq!(
            (ok.message.as_str(), ok.conversation_id.as_deref()),
            ("hi", Some("conv_1"))
        );
        for (text, code) in [
            ("not json", "bad_request"),
            (r#"{"action":"deleteAll","message":"x"}"#, "bad_request"),
            (
                r#"{"action":"sendMessage","message":"x","tenant":"bob"}"#,
                "bad_request",
            ),
            // The schema POST /chat prints: a blank message, a made-up id.
            (r#"{"action":"sendMessage","message":"  "}"#, "bad_request"),
            (
                r#"{"action":"sendMessage","message":"x","conversation_id":"c1"}"#,
                "bad_request",
            ),
        ] {
            assert_eq!(parse_message(text).unwrap_err().code(), code, "{text}");
        }
        let big = format!(
            r#"{{"action":"sendMessage","message":"{}"}}"#,
            "a".repeat(70_000)
        );
        assert_eq!(parse_message(&big).unwrap_err().code(), "payload_too_large");
        assert_eq!(
            error_event(&ApiError::Unauthorized)["type"],
            "error",
            "an error event is typed"
        );
    }
}
