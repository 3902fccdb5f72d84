//! The HTTP API as an OpenAPI 3.1 document (`GET /openapi.json`), built from
//! the code: the paths from the route table (`jarvis_lambda::routes::ROUTES`),
//! the schemas from the request and response types themselves (their
//! `utoipa::ToSchema` derives), and the errors from `ApiError` and from what
//! API Gateway itself answers before a function runs. tests/infra checks it is
//! a valid OpenAPI 3.1 document that describes every deployed route and every
//! sample event, and tests/local_runtime checks real answers against it.

use jarvis_core::contract::Contract;
use jarvis_lambda::routes::{self, In, Op, Route, ROUTES};
use serde_json::{json, Map, Value};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

/// What an operation takes and answers, beyond what the route table says.
struct Operation {
    /// A JSON body of this schema.
    body: Option<Value>,
    /// A raw file body (`POST /documents`).
    raw_body: bool,
    /// Success: status, description, the JSON schema (none: no JSON body).
    ok: (u16, &'static str, Option<Value>),
    /// Other answers the function gives (status, when), beyond 400/500.
    errors: &'static [(u16, &'static str)],
}

impl Operation {
    /// Answering `status` (`description`, with a JSON body of `schema` when
    /// there is one), taking no body or query, with no other answers.
    fn answers(status: u16, description: &'static str, schema: Option<Value>) -> Self {
        Self {
            body: None,
            raw_body: false,
            ok: (status, description, schema),
            errors: &[],
        }
    }

    /// Taking a JSON body of this schema.
    fn taking(self, body: Value) -> Self {
        Self {
            body: Some(body),
            ..self
        }
    }

    /// Taking a raw file body.
    fn raw(self) -> Self {
        Self {
            raw_body: true,
            ..self
        }
    }

    fn errors(self, errors: &'static [(u16, &'static str)]) -> Self {
        Self { errors, ..self }
    }
}

/// `$ref` to a component, registering it (and what it refers to).
fn component<T: ToSchema>(components: &mut Map<String, Value>) -> Value {
    let name = T::name().to_string();
    let mut nested: Vec<(String, RefOr<Schema>)> = Vec::new();
    T::schemas(&mut nested);
    nested.push((name.clone(), T::schema()));
    for (n, s) in nested {
        components
            .entry(n)
            .or_insert_with(|| serde_json::to_value(s).expect("a schema serializes"));
    }
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `$ref` to a request body's component: its schema as the edge checks it
/// (with [`Contract::refine`]'s rules), registering what it refers to.
fn request<T: Contract + 'static>(components: &mut Map<String, Value>) -> Value {
    let schemas = jarvis_core::contract::schemas::<T>();
    for (n, s) in &schemas.components {
        components.entry(n.clone()).or_insert_with(|| s.clone());
    }
    json!({"$ref": format!("#/components/schemas/{}", schemas.name)})
}

fn operation(route: &Route, c: &mut Map<String, Value>) -> Operation {
    const IDEMPOTENCY_BUSY: (u16, &str) =
        (409, "This Idempotency-Key's first request is still running, or what it created was deleted since");
    match route.op {
        Op::Healthz => Operation::answers(
            200,
            "Up",
            Some(json!({"type": "object", "required": ["status", "version"],
                "properties": {"status": {"const": "ok"}, "version": {"type": "string"}}})),
        ),
        Op::Search => Operation::answers(200, "The hits, best first", Some(component::<api_search::SearchResponse>(c)))
            .taking(request::<jarvis_core::search::SearchRequest>(c)),
        Op::UploadDocument => Operation::answers(202, "Stored and queued (or a duplicate of an earlier document)", Some(component::<api_documents::Accepted>(c)))
            .raw()
            .errors(&[(409, "Every numbered name is taken"), (413, "Larger than the upload limit"), (415, "Not a type Jarvis reads")]),
        Op::PresignUpload => Operation::answers(201, "Where to PUT the file (exactly that size and type, within 15 minutes)", Some(component::<api_documents::UploadTicket>(c)))
            .taking(request::<api_documents::UploadRequest>(c))
            .errors(&[(413, "Larger than the deployment's file limit")]),
        Op::ListDocuments => Operation::answers(200, "A page of documents", Some(component::<api_documents::Listing>(c))),
        Op::GetDocument => Operation::answers(200, "The document", Some(component::<jarvis_core::domain::Document>(c)))
            .errors(&[(404, "No such document of the caller's")]),
        Op::DocumentOriginal => Operation::answers(200, "A link to the original file, for 5 minutes", Some(component::<api_documents::Original>(c)))
            .errors(&[(404, "No such document of the caller's")]),
        Op::DeleteDocument => Operation::answers(200, "Deleted", Some(component::<api_documents::Deleted>(c)))
            .errors(&[(404, "No such document of the caller's")]),
        Op::Chat => Operation::answers(200, "The answer, its citations and what the assistant did", Some(component::<jarvis_core::agent::ChatOutput>(c)))
            .taking(request::<jarvis_core::agent::ChatInput>(c))
            .errors(&[(404, "No such conversation"), (409, "This turn_id is still running, or a confirm/decline token that is not the pending action's"), (422, "A bound was reached, or the turn_id was used with another message")]),
        Op::ListConversations => Operation::answers(200, "The caller's conversations, newest first", Some(component::<api_chat::rest::ConversationList>(c))),
        Op::GetConversation => Operation::answers(200, "The conversation", Some(component::<api_chat::rest::ConversationView>(c)))
            .errors(&[(400, "Not a conversation id"), (404, "No such conversation of the caller's")]),
        Op::DeleteConversation => Operation::answers(200, "Deleted", None)
            .errors(&[(400, "Not a conversation id"), (404, "No such conversation of the caller's")]),
        Op::CreateTask => Operation::answers(201, "The task", Some(component::<tool_tasks::rest::TaskView>(c)))
            .taking(request::<tool_tasks::rest::NewTask>(c))
            .errors(&[IDEMPOTENCY_BUSY, (422, "A due time that cannot be read, or a reused Idempotency-Key with another body")]),
        Op::ListTasks => Operation::answers(200, "The tasks, due ones first", Some(component::<tool_tasks::rest::TaskList>(c))),
        Op::CompleteTask => Operation::answers(200, "The task, done", Some(component::<tool_tasks::rest::TaskView>(c)))
            .errors(&[(404, "No such task")]),
        Op::DeleteTask => Operation::answers(200, "Deleted", Some(component::<tool_tasks::rest::TaskDeleted>(c)))
            .errors(&[(404, "No such task")]),
        Op::EditTask => Operation::answers(200, "The task, changed", Some(component::<tool_tasks::rest::TaskView>(c)))
            .taking(request::<tool_tasks::rest::TaskChange>(c))
            .errors(&[(404, "No such task"), (422, "A due time that cannot be read")]),
        Op::CreateReminder => Operation::answers(201, "The reminder, scheduled", Some(component::<tool_reminders::rest::ReminderView>(c)))
            .taking(request::<tool_reminders::rest::NewReminder>(c))
            .errors(&[(409, "This Idempotency-Key's first request is still running, or what it created was deleted since; or 500 reminders are active already"), (422, "A time in the past or that cannot be read, or a reused Idempotency-Key with another body")]),
        Op::ListReminders => Operation::answers(200, "Upcoming reminders", Some(component::<tool_reminders::rest::ReminderList>(c))),
        Op::CancelReminder => Operation::answers(200, "Cancelled", Some(component::<tool_reminders::rest::ReminderCancelled>(c)))
            .errors(&[(404, "No such reminder")]),
        Op::EditReminder => Operation::answers(200, "The reminder, changed and rescheduled", Some(component::<tool_reminders::rest::ReminderView>(c)))
            .taking(request::<tool_reminders::rest::ReminderChange>(c))
            .errors(&[(404, "No such reminder"), (409, "It already fired, was cancelled, or is being delivered"), (422, "A time in the past or that cannot be read")]),
        Op::CreateDraft => Operation::answers(201, "The draft (stored, not sent)", Some(component::<jarvis_core::domain::Draft>(c)))
            .taking(request::<tool_email::rest::NewDraft>(c))
            .errors(&[IDEMPOTENCY_BUSY, (422, "A reused Idempotency-Key with another body")]),
        Op::ListDrafts => Operation::answers(200, "The drafts", Some(component::<tool_email::rest::DraftList>(c))),
        Op::SendDraft => Operation::answers(200, "Sent, exactly once", Some(component::<jarvis_core::domain::Draft>(c)))
            .taking(request::<tool_email::rest::SendConfirmation>(c))
            .errors(&[(404, "No such draft"), (409, "Already sent, being sent, or changed since the confirm_token")]),
        Op::EditDraft => Operation::answers(200, "The draft, changed, with its new confirm_token", Some(component::<tool_email::rest::ListedDraft>(c)))
            .taking(request::<tool_email::rest::DraftChange>(c))
            .errors(&[(404, "No such draft"), (409, "Sent or being sent: it cannot change")]),
        Op::EraseData => Operation::answers(202, "The erasure, started (or already under way)", Some(component::<api_me::rest::ErasureView>(c))),
        Op::ErasureStatus => Operation::answers(200, "Where the erasure stands", Some(component::<api_me::rest::ErasureView>(c)))
            .errors(&[(404, "No erasure was asked for")]),
        Op::Export => Operation::answers(200, "A zip of the caller's documents, files and records (on AWS, when large: 303 to a pre-signed URL, or with ?link=true 200 {url, expires_at})", None),
        Op::GetSettings => Operation::answers(200, "The caller's settings", Some(component::<api_me::rest::SettingsView>(c))),
        Op::PutSettings => Operation::answers(200, "The settings, changed", Some(component::<api_me::rest::SettingsView>(c)))
            .taking(request::<api_me::rest::SettingsChange>(c)),
        Op::PutNotifications => Operation::answers(202, "Pending the address's confirmation", Some(component::<api_me::rest::NotificationsView>(c)))
            .taking(request::<api_me::rest::NotificationsChange>(c))
            .errors(&[(409, "This deployment mails no notifications, or posts no webhooks (the channel it does not have)")]),
        Op::DeleteNotifications => Operation::answers(200, "No longer mailed", Some(component::<api_me::rest::NotificationsView>(c)))
            .errors(&[(409, "This deployment mails no notifications (the local runtime)")]),
    }
}

/// What API Gateway answers itself, before any function runs: `{"message"}`.
const GATEWAY_ERRORS: &[(u16, &str)] = &[
    (
        401,
        "API Gateway: no or an invalid token (`{\"message\": \"Unauthorized\"}`)",
    ),
    (413, "API Gateway: the request is larger than 10 MB"),
    (
        429,
        "API Gateway: throttled (`{\"message\": \"Too Many Requests\"}`)",
    ),
    (
        503,
        "API Gateway: the function could not be reached (`{\"message\": \"Service Unavailable\"}`)",
    ),
];

/// The OpenAPI 3.1 document of the HTTP API.
pub fn document() -> Value {
    let mut components = Map::new();
    let error = component::<jarvis_core::error::ErrorBody>(&mut components);
    components.insert(
        "GatewayError".into(),
        json!({
            "type": "object",
            "description": "What API Gateway answers itself (not a Jarvis function).",
            "required": ["message"],
            "properties": {"message": {"type": "string"}},
        }),
    );
    let gateway = json!({"$ref": "#/components/schemas/GatewayError"});
    let mut paths = Map::new();
    for route in ROUTES {
        let op = operation(route, &mut components);
        let mut responses = Map::new();
        let (status, description, schema) = &op.ok;
        let mut ok = json!({"description": description});
        if let Some(schema) = schema {
            ok["content"] = json!({"application/json": {"schema": schema}});
        } else if route.op == Op::Export {
            ok["content"] = json!({"application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}}});
        }
        responses.insert(status.to_string(), ok);
        let app_error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": error}}});
        responses.insert(
            "400".into(),
            app_error("The request is not valid: the message says why"),
        );
        for (status, description) in op.errors {
            responses.insert(status.to_string(), app_error(description));
        }
        responses.insert(
            "500".into(),
            app_error("Not the caller's fault; nothing leaks"),
        );
        for (status, description) in GATEWAY_ERRORS {
            if *status == 401 && route.public {
                continue;
            }
            let entry = responses
                .entry(status.to_string())
                .or_insert_with(|| json!({"description": description}));
            // Where a function also answers this status, both bodies are possible.
            // The local runtime checks the token itself, answering 401 as a
            // function would ({"error"}).
            let schema = match entry.pointer("/content/application~1json/schema") {
                Some(own) => json!({"oneOf": [own, gateway]}),
                None if *status == 401 => json!({"oneOf": [error, gateway]}),
                None => gateway.clone(),
            };
            entry["content"] = json!({"application/json": {"schema": schema}});
        }
        let parameters: Vec<Value> = routes::parameters(route)
            .into_iter()
            .map(|p| {
                let location = match p.location {
                    In::Path => "path",
                    In::Query => "query",
                    In::Header => "header",
                };
                let mut schema = p.schema;
                jarvis_core::contract::portable_patterns(&mut schema);
                json!({"name": p.name, "in": location, "required": p.required,
                    "description": p.description, "schema": schema})
            })
            .collect();
        let mut operation = json!({
            "operationId": route.key().to_lowercase().replace(['/', ' ', '{', '}'], "_").trim_matches('_').replace("__", "_"),
            "summary": route.summary,
            "tags": [route.function.name()],
            "responses": responses,
        });
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        if let Some(schema) = op.body {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        } else if op.raw_body {
            operation["requestBody"] = json!({"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary", "minLength": 1, "contentMediaType": "application/octet-stream"}}}});
        }
        if route.public {
            operation["security"] = json!([]);
        }
        paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}))[route.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Jarvis",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A personal assistant over the caller's own data. Every route but /healthz needs a bearer token (on AWS a Cognito ID token, whose sub is the tenant; locally a token from `jarvis token`).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jarvis_core::contract::unknown_keywords;

    /// The edge's checker reads every keyword the document's request schemas
    /// use: a rule the document prints is a rule the API enforces, never one
    /// the checker silently skips.
    #[test]
    fn every_keyword_of_the_document_is_one_the_checker_reads() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for (name, schema) in schemas {
            let unknown = unknown_keywords(schema);
            assert!(unknown.is_empty(), "{name} uses {unknown:?}");
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let unknown = unknown_keywords(&p["schema"]);
                    assert!(
                        unknown.is_empty(),
                        "{method} {path} {}: {unknown:?}",
                        p["name"]
                    );
                }
            }
        }
    }
}
