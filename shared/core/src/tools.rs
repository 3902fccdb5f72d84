//! The assistant's tools: what the model may ask for (names, descriptions, JSON
//! input schemas in the Converse `toolSpec` shape), the call and its outcome as
//! they travel between `api-chat` and the tool functions, and the port through
//! which the agent reaches them ([`ToolRunner`]: on AWS a Lambda invoke of the
//! tool's own function, locally a direct call of the same handler).

use crate::domain::TenantId;
use crate::ports::PortResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A request to run a tool for a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub tenant_id: TenantId,
    pub name: String,
    #[serde(default)]
    pub input: Value,
    /// The user confirmed this call themselves (a REST call, or their own
    /// confirming chat turn). Never set from a model's request: sending mail
    /// checks it, so no document text can make Jarvis send anything.
    #[serde(default)]
    pub confirmed: bool,
    /// With `confirmed`, the token of the summary the user confirmed (from
    /// [`confirmation_required`]); a tool refuses when what would happen now
    /// no longer matches it. REST calls, where the user names the record
    /// themselves, carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_token: Option<String>,
    /// When the work this call belongs to began (a chat turn): if the
    /// tenant's data was erased since, a create stores nothing. `None`: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

impl ToolCall {
    /// A call the user confirmed themselves: their own REST call naming the
    /// record (no token), or their "yes" to the summary `token` digests.
    pub fn confirmed_by_user(
        tenant: &TenantId,
        name: &str,
        input: Value,
        token: Option<String>,
    ) -> Self {
        Self {
            tenant_id: tenant.clone(),
            name: name.to_owned(),
            input,
            confirmed: true,
            confirm_token: token,
            since: None,
        }
    }
}

/// Tools that send, remove or close something of the user's: a model's call
/// of one only asks ([`confirmation_required`]); the user's own confirmation runs it.
pub fn needs_confirmation(tool: &str) -> bool {
    matches!(
        tool,
        SEND_EMAIL | DELETE_TASK | COMPLETE_TASK | CANCEL_REMINDER
    )
}

/// A digest of exactly what a confirmed call will do (the tool, the records'
/// ids and the fields the user was shown): the confirmation's binding.
pub fn confirm_token(tool: &str, parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(tool.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// The answer to an unconfirmed call of a [`needs_confirmation`] tool. The
/// `summary` is rendered by the tool from the stored records, never taken from
/// the model; `input` names exactly the records the confirmed call will act on;
/// `mail` is exactly what would be sent, read from the stored draft (the agent
/// shows it, and flags the recipients the user never named).
pub fn confirmation_required(
    tool: &str,
    id: &str,
    summary: String,
    input: Value,
    token: String,
    mail: Option<&crate::domain::PendingMail>,
) -> ToolOutcome {
    ToolOutcome::acted(
        "confirmation_required",
        summary,
        json!({
            "status": "confirmation_required",
            "tool": tool,
            "confirm_input": input,
            "confirm_token": token,
            "recipients": mail.map(|m| m.to.clone()).unwrap_or_default(),
            "mail": mail,
            "id": id,
        }),
        id,
    )
}

/// For a confirmed call: `Ok` when it carries the token of what would happen
/// now, or no token where the caller named the record itself (a REST delete
/// or complete of one id); otherwise a conflict, and nothing may be done.
/// Sending mail always needs the token ([`SEND_EMAIL`]): the user confirms
/// the exact mail they were shown.
pub fn check_token(call: &ToolCall, now: &str) -> Result<(), ToolRefusal> {
    match call.confirm_token.as_deref() {
        Some(t) if t != now => Err(ToolRefusal::conflict(
            "that changed since you confirmed it; nothing was done. Ask again to see what it is now.",
        )),
        None if call.name == SEND_EMAIL => Err(ToolRefusal::new(
            "sending needs the confirmation token of the mail you were shown (confirm_token)",
        )),
        _ => Ok(()),
    }
}

/// Something a tool did, reported to the client in `actions[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Action {
    /// `reminder_created`, `reminder_cancelled`, `task_created`, `task_completed`,
    /// `task_deleted`, `draft_created`, `email_sent`, `confirmation_required`.
    pub kind: String,
    pub id: String,
    pub summary: String,
}

/// What a tool answered: a JSON result for the model (with a one-line
/// `summary`) and, when it changed something, the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutcome {
    pub result: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

impl ToolOutcome {
    /// An outcome that changed something: `result` carries the summary beside
    /// its own fields, and the action names what changed.
    pub fn acted(kind: &str, summary: String, mut result: Value, id: impl Into<String>) -> Self {
        if let Some(fields) = result.as_object_mut() {
            fields.insert("summary".into(), Value::String(summary.clone()));
        }
        Self {
            result,
            action: Some(Action {
                kind: kind.into(),
                id: id.into(),
                summary,
            }),
        }
    }

    pub fn summary(&self) -> &str {
        self.result["summary"].as_str().unwrap_or_default()
    }
}

/// What kind of refusal: over REST, 422, 404 or 409.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The request cannot be done as asked (a past time, a bad address).
    #[default]
    Invalid,
    /// What it names does not exist (for this tenant).
    NotFound,
    /// It conflicts with the current state (a draft already sent).
    Conflict,
}

/// Why a tool refused: the user-facing reason ("that time is in the past").
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{reason}")]
pub struct ToolRefusal {
    pub reason: String,
    #[serde(default)]
    pub kind: RefusalKind,
}

impl ToolRefusal {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            kind: RefusalKind::Invalid,
        }
    }

    pub fn not_found(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            kind: RefusalKind::NotFound,
        }
    }

    pub fn conflict(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            kind: RefusalKind::Conflict,
        }
    }
}

/// A tool's answer over the wire: done, or refused with a reason.
pub type ToolReply = Result<ToolOutcome, ToolRefusal>;

/// How the agent reaches the tools.
#[async_trait]
pub trait ToolRunner: Send + Sync {
    /// Infrastructure failures are `Err`; a refusal is `Ok(Err(reason))`.
    async fn call(&self, call: &ToolCall) -> PortResult<ToolReply>;
}

/// Which function crate serves a tool.
pub fn owner(tool: &str) -> Option<&'static str> {
    Some(match tool {
        CREATE_REMINDER | LIST_REMINDERS | CANCEL_REMINDER => "tool-reminders",
        CREATE_TASK | LIST_TASKS | COMPLETE_TASK | DELETE_TASK => "tool-tasks",
        DRAFT_EMAIL | LIST_DRAFTS | SEND_EMAIL => "tool-email",
        _ => return None,
    })
}

pub const CREATE_REMINDER: &str = "create_reminder";
pub const LIST_REMINDERS: &str = "list_reminders";
pub const CANCEL_REMINDER: &str = "cancel_reminder";
pub const CREATE_TASK: &str = "create_task";
pub const LIST_TASKS: &str = "list_tasks";
pub const COMPLETE_TASK: &str = "complete_task";
pub const DELETE_TASK: &str = "delete_task";
pub const DRAFT_EMAIL: &str = "draft_email";
pub const LIST_DRAFTS: &str = "list_drafts";
pub const SEND_EMAIL: &str = "send_email";
/// Served by api-chat itself: more retrieval when the first was not enough.
pub const SEARCH_DOCUMENTS: &str = "search_documents";

fn spec(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "toolSpec": {
            "name": name,
            "description": description,
            "inputSchema": {"json": {
                "type": "object",
                "properties": properties,
                "required": required,
            }}
        }
    })
}

/// Every tool in the Converse `toolSpec` shape (what the model is offered).
pub fn specs() -> Vec<Value> {
    vec![
        spec(
            SEARCH_DOCUMENTS,
            "Search the user's documents and memories. Use when the sources given are not enough.",
            json!({"query": {"type": "string"}}),
            &["query"],
        ),
        spec(
            CREATE_REMINDER,
            "Remind the user of something at a time. Give `when` as the user said it (\"tomorrow at 9am\", \"in 2 hours\", \"next Monday\") or `every` for a recurring one (\"every weekday at 8\"); it is read in the user's time zone. A time in the past is refused.",
            json!({
                "text": {"type": "string", "description": "what to remind of"},
                "when": {"type": "string"},
                "every": {"type": "string"},
            }),
            &["text"],
        ),
        spec(LIST_REMINDERS, "List the user's upcoming reminders.", json!({}), &[]),
        spec(
            CANCEL_REMINDER,
            "Cancel a reminder, by id or by words of its text.",
            json!({"id": {"type": "string"}, "query": {"type": "string"}}),
            &[],
        ),
        spec(
            CREATE_TASK,
            "Add a task to the user's to-do list, with an optional due time as the user said it.",
            json!({"title": {"type": "string"}, "due": {"type": "string"}}),
            &["title"],
        ),
        spec(
            LIST_TASKS,
            "List the user's tasks: open (default), done or all.",
            json!({"status": {"type": "string", "enum": ["open", "done", "all"]}}),
            &[],
        ),
        spec(
            COMPLETE_TASK,
            "Mark a task done, by id or by words of its title.",
            json!({"id": {"type": "string"}, "query": {"type": "string"}}),
            &[],
        ),
        spec(
            DELETE_TASK,
            "Delete a task, by id or by words of its title.",
            json!({"id": {"type": "string"}, "query": {"type": "string"}}),
            &[],
        ),
        spec(
            DRAFT_EMAIL,
            "Write an e-mail draft. It is only stored; sending needs the user's confirmation.",
            json!({
                "to": {"type": "array", "items": {"type": "string"}},
                "subject": {"type": "string"},
                "body": {"type": "string"},
            }),
            &["to", "subject", "body"],
        ),
        spec(LIST_DRAFTS, "List the user's e-mail drafts.", json!({}), &[]),
        spec(
            SEND_EMAIL,
            "Ask to send a draft (the latest when no id is given). The user must confirm before anything is sent.",
            json!({"draft_id": {"type": "string"}}),
            &[],
        ),
    ]
}

/// A plain e-mail address (`name@domain.tld`): the regex [`is_email_address`]
/// uses, and the `pattern` of every address field in the API's schemas.
pub const ADDRESS_PATTERN: &str = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$";
/// Longest address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 254;

static ADDRESS: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(ADDRESS_PATTERN).expect("address pattern"));

/// An address field's JSON Schema.
pub fn address_schema() -> serde_json::Value {
    serde_json::json!({"type": "string", "maxLength": MAX_ADDRESS_CHARS, "pattern": ADDRESS_PATTERN,
        "x-message": "is not a plain e-mail address (name@domain.tld)"})
}

/// Whether `text` is one plain e-mail address (`name@domain.tld`, no display
/// name, no list): what drafts and notification subscriptions accept.
pub fn is_email_address(text: &str) -> bool {
    text.chars().count() <= MAX_ADDRESS_CHARS && ADDRESS.is_match(text)
}

/// A string field of a tool input, trimmed; `None` when absent or empty.
pub fn text<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    input
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Words of `query` all found in `text` (case-insensitive): how a tool finds
/// "the dentist task" without an id.
pub fn matches(text: &str, query: &str) -> bool {
    let text = text.to_lowercase();
    query
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            w.len() > 1 && !["the", "my", "a", "an", "to", "task", "reminder", "about"].contains(w)
        })
        .all(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_owner_and_a_valid_spec() {
        for s in specs() {
            let name = s["toolSpec"]["name"].as_str().unwrap();
            assert!(owner(name).is_some() || name == SEARCH_DOCUMENTS, "{name}");
            assert_eq!(s["toolSpec"]["inputSchema"]["json"]["type"], "object");
        }
    }

    #[test]
    fn finding_by_words_ignores_filler() {
        assert!(matches("Call the dentist", "the dentist task"));
        assert!(!matches("Call the dentist", "plumber"));
    }

    #[test]
    fn a_call_from_the_wire_is_unconfirmed_unless_it_says_so() {
        let call: ToolCall =
            serde_json::from_value(json!({"tenant_id": "alice", "name": "send_email"})).unwrap();
        assert!(!call.confirmed);
    }
}
