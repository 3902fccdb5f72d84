//! `tool-email`: drafts, and sending them only on the user's own confirmation.
//! Assistant tools `draft_email`, `list_drafts`, `send_email`, and REST:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /emails/drafts` | `{"to": [...], "subject", "body"}` | 201, the draft |
//! | `GET /emails/drafts` | — | `{"drafts": [...]}` |
//! | `POST /emails/drafts/{id}/send` | `{"confirm": true, "confirm_token"?}` | the sent draft (409 if already sent, being sent, or changed since `confirm_token`) |
//!
//! A `send_email` tool call that the user did not confirm (every call a model
//! makes) sends nothing: it answers `confirmation_required`, and api-chat asks
//! the user. Only a REST call with `"confirm": true` or the user's own
//! confirming chat turn sends, so text inside a document can never send mail.

use jarvis_core::clock::{new_id, Clock};
use jarvis_core::domain::{Draft, DraftState};
use jarvis_core::ports::{Mailer, OutgoingEmail, PortResult, RecordStore};
use jarvis_core::tools::{self, ToolCall, ToolOutcome, ToolRefusal, ToolReply};
use jarvis_core::{records, ApiError, PortError, TenantId};
use jarvis_lambda::http::{self, Request, Response};
use jarvis_lambda::routes::Op;

use serde_json::{json, Value};
use std::sync::Arc;

pub const MAX_RECIPIENTS: usize = 20;
pub const MAX_SUBJECT: usize = 300;
pub const MAX_BODY: usize = 50_000;
/// Mail a tenant may send in 24 hours (a hijacked session cannot spam).
pub const MAX_SENDS_PER_DAY: usize = 50;
/// Tries at recording a sent draft as `Sent` before leaving it `Sending`.
const RECORD_ATTEMPTS: usize = 3;

pub struct Deps {
    pub records: Arc<dyn RecordStore>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        Ok(Deps {
            records: stack.records(Rows::ReadWrite)?,
            mailer: stack.mailer()?,
            clock: Arc::new(jarvis_core::clock::SystemClock),
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            records: stack.records.clone(),
            mailer: stack.mailer.clone(),
            clock: stack.clock.clone(),
        }
    }
}

fn describe(d: &Draft) -> String {
    format!("to {} — \"{}\"", d.to.join(", "), d.subject)
}

fn recipients(input: &Value) -> Result<Vec<String>, ToolRefusal> {
    let to: Vec<String> = match input.get("to") {
        Some(Value::String(s)) => s.split([',', ';']).map(|a| a.trim().to_owned()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|a| a.trim().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let to: Vec<String> = to.into_iter().filter(|a| !a.is_empty()).collect();
    if to.is_empty() {
        return Err(ToolRefusal::new(
            "a draft needs at least one recipient address",
        ));
    }
    if to.len() > MAX_RECIPIENTS {
        return Err(ToolRefusal::new(format!(
            "at most {MAX_RECIPIENTS} recipients"
        )));
    }
    if let Some(bad) = to.iter().find(|a| !tools::is_email_address(a)) {
        return Err(ToolRefusal::new(format!(
            "{bad:?} is not an e-mail address"
        )));
    }
    Ok(to)
}

pub async fn draft(deps: &Deps, tenant: &TenantId, input: &Value) -> PortResult<ToolReply> {
    let to = match recipients(input) {
        Ok(to) => to,
        Err(r) => return Ok(Err(r)),
    };
    let subject = tools::text(input, "subject").unwrap_or("(no subject)");
    let body = input
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if subject.chars().count() > MAX_SUBJECT || body.len() > MAX_BODY {
        return Ok(Err(ToolRefusal::new(format!(
            "a subject has at most {MAX_SUBJECT} characters and a body {MAX_BODY} bytes"
        ))));
    }
    let now = deps.clock.now();
    let draft = Draft {
        id: new_id("draft", now),
        tenant_id: tenant.clone(),
        to,
        subject: subject.replace(['\r', '\n'], " "),
        body: body.to_owned(),
        created_at: now,
        state: DraftState::Draft,
    };
    records::put(deps.records.as_ref(), &draft).await?;
    let summary = format!("Drafted an e-mail {} (not sent)", describe(&draft));
    Ok(Ok(ToolOutcome::acted(
        "draft_created",
        summary,
        json!({"draft": draft}),
        draft.id.clone(),
    )))
}

pub async fn list(deps: &Deps, tenant: &TenantId) -> PortResult<ToolReply> {
    let drafts = records::list::<Draft>(deps.records.as_ref(), tenant).await?;
    let summary = if drafts.is_empty() {
        "You have no drafts.".to_owned()
    } else {
        let lines: Vec<String> = drafts
            .iter()
            .map(|d| {
                let state = match d.state {
                    DraftState::Draft => "draft",
                    DraftState::Sending { .. } => "sending",
                    DraftState::Sent { .. } => "sent",
                };
                format!("- {} [{state}] ({})", describe(d), d.id)
            })
            .collect();
        format!("Your drafts ({}):\n{}", drafts.len(), lines.join("\n"))
    };
    Ok(Ok(ToolOutcome {
        result: json!({"summary": summary, "drafts": drafts}),
        action: None,
    }))
}

/// The digest of exactly what sending `d` does: its id, recipients, subject and body.
fn token(d: &Draft) -> String {
    let to = d.to.join(",");
    tools::confirm_token(tools::SEND_EMAIL, &[&d.id, &to, &d.subject, &d.body])
}

/// Sends a draft when `call.confirmed`; otherwise only says what would be
/// sent, rendered here from the stored draft, and that the user must confirm.
///
/// Exactly once: the draft moves `Draft → Sending` by compare-and-set before
/// the mailer is called, so of any number of concurrent or repeated
/// confirmations one sends and the rest are refused; a mailer failure moves it
/// back; `Sending → Sent` records the message id.
pub async fn send(deps: &Deps, call: &ToolCall) -> PortResult<ToolReply> {
    let (tenant, input) = (&call.tenant_id, &call.input);
    let store = deps.records.as_ref();
    let id = match tools::text(input, "draft_id").or_else(|| tools::text(input, "id")) {
        Some(id) => id.to_owned(),
        // The latest unsent draft.
        None => match records::list::<Draft>(store, tenant)
            .await?
            .into_iter()
            .rev()
            .find(|d| d.state == DraftState::Draft)
        {
            Some(d) => d.id,
            None => return Ok(Err(ToolRefusal::not_found("there is no unsent draft"))),
        },
    };
    let Some(read) = records::get_versioned::<Draft>(store, tenant, &id).await? else {
        return Ok(Err(ToolRefusal::not_found("there is no such draft")));
    };
    let draft = read.record;
    match draft.state {
        DraftState::Sent { at, .. } => {
            return Ok(Err(ToolRefusal::conflict(format!(
                "that draft was already sent at {at}"
            ))))
        }
        DraftState::Sending { since } => {
            return Ok(Err(ToolRefusal::conflict(format!(
                "that draft is already being sent (since {since}); it is not sent twice"
            ))))
        }
        DraftState::Draft => {}
    }
    if !call.confirmed {
        let summary = format!(
            "Send the e-mail {} ({}), {} characters of text. Nothing is sent until you confirm.",
            describe(&draft),
            draft.id,
            draft.body.chars().count()
        );
        return Ok(Ok(tools::confirmation_required(
            tools::SEND_EMAIL,
            &draft.id,
            summary,
            json!({"draft_id": draft.id}),
            token(&draft),
            &draft.to,
        )));
    }
    if let Err(refusal) = tools::check_token(call, &token(&draft)) {
        return Ok(Err(refusal));
    }
    let now = deps.clock.now();
    let sent_recently = records::list::<Draft>(store, tenant)
        .await?
        .iter()
        .filter(|d| match d.state {
            DraftState::Sent { at, .. } => now - at < chrono::Duration::days(1),
            DraftState::Sending { .. } => true,
            DraftState::Draft => false,
        })
        .count();
    if sent_recently >= MAX_SENDS_PER_DAY {
        return Ok(Err(ToolRefusal::conflict(format!(
            "at most {MAX_SENDS_PER_DAY} e-mails are sent per day; this one stays a draft"
        ))));
    }
    // Claim the send.
    let mut sending = draft.clone();
    sending.state = DraftState::Sending { since: now };
    let claim = match records::put_if(store, &sending, Some(&read.version)).await {
        Ok(v) => v,
        Err(PortError::Conflict(_)) => {
            return Ok(Err(ToolRefusal::conflict(
                "that draft is already being sent, or changed meanwhile; it is not sent twice",
            )))
        }
        Err(e) => return Err(e),
    };
    let sent = deps
        .mailer
        .send(&OutgoingEmail {
            tenant_id: tenant.clone(),
            to: draft.to.clone(),
            subject: draft.subject.clone(),
            body_text: draft.body.clone(),
        })
        .await;
    let message_id = match sent {
        Ok(id) => id,
        Err(e) => {
            // Nothing left: it is a draft again, and may be confirmed again.
            if let Err(release) = records::put_if(store, &draft, Some(&claim)).await {
                tracing::error!(error = %release, draft = %draft.id, "an unsent draft stays marked sending");
            }
            return Err(e);
        }
    };
    let mut done = sending;
    done.state = DraftState::Sent {
        at: deps.clock.now(),
        message_id,
    };
    let mut recorded = records::put_if(store, &done, Some(&claim)).await;
    for _ in 1..RECORD_ATTEMPTS {
        match &recorded {
            Err(e) if e.is_retryable() => {
                recorded = records::put_if(store, &done, Some(&claim)).await
            }
            _ => break,
        }
    }
    if let Err(e) = recorded {
        // The mail left; the draft stays `Sending`, which no confirmation sends again.
        tracing::error!(error = %e, draft = %done.id, "the mail was sent but its draft was not marked sent");
    }
    let summary = format!("Sent the e-mail {}", describe(&done));
    Ok(Ok(ToolOutcome::acted(
        "email_sent",
        summary,
        json!({"status": "sent", "draft": done}),
        done.id.clone(),
    )))
}

/// A tool call: from the agent (unconfirmed), or the user's confirmed send.
pub async fn call(deps: &Deps, call: ToolCall) -> PortResult<ToolReply> {
    let (t, input) = (&call.tenant_id, &call.input);
    match call.name.as_str() {
        tools::DRAFT_EMAIL => draft(deps, t, input).await,
        tools::LIST_DRAFTS => list(deps, t).await,
        tools::SEND_EMAIL => send(deps, &call).await,
        other => Ok(Err(ToolRefusal::new(format!(
            "tool-email has no tool {other}"
        )))),
    }
}

pub const MAX_BODY_BYTES: u64 = 64 * 1024;

pub async fn handle(deps: &Deps, req: Request) -> Response {
    http::reply(route(deps, &req).await)
}

async fn route(deps: &Deps, req: &Request) -> Result<(u16, Value), ApiError> {
    let tenant = http::tenant(req)?;
    let route = http::route(req)?;
    Ok(match route.op {
        Op::CreateDraft => {
            http::create_once(
                deps.records.as_ref(),
                req,
                &tenant,
                deps.clock.now(),
                || async {
                    let body =
                        http::json_object(req, MAX_BODY_BYTES, "{\"to\", \"subject\", \"body\"}")?;
                    let out = draft(deps, &tenant, &body).await??;
                    Ok((201, out.result["draft"].clone()))
                },
            )
            .await?
        }
        Op::ListDrafts => {
            let out = list(deps, &tenant).await??;
            (200, json!({"drafts": out.result["drafts"]}))
        }
        Op::SendDraft => {
            let body: Value = http::json_body(req, MAX_BODY_BYTES)?;
            if body.get("confirm") != Some(&Value::Bool(true)) {
                return Err(ApiError::BadRequest(
                    "sending needs the user's confirmation: {\"confirm\": true}".into(),
                ));
            }
            let call = ToolCall::confirmed_by_user(
                &tenant,
                tools::SEND_EMAIL,
                json!({"draft_id": http::path_param(req, "id").unwrap_or_default()}),
                body.get("confirm_token")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            );
            let out = send(deps, &call).await??;
            (200, out.result["draft"].clone())
        }
        _ => return Err(http::not_here("tool-email", route)),
    })
}

/// The REST bodies and answers (the OpenAPI document's schemas; tests check
/// real answers against them). A draft is answered as `jarvis_core::domain::Draft`.
pub mod rest {
    use jarvis_core::domain::Draft;
    use serde::{Deserialize, Serialize};

    /// `POST /emails/drafts`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct NewDraft {
        /// Plain addresses (`name@domain.tld`).
        pub to: Vec<String>,
        pub subject: String,
        pub body: String,
    }

    /// `GET /emails/drafts`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct DraftList {
        pub drafts: Vec<Draft>,
    }

    /// `POST /emails/drafts/{id}/send`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct SendConfirmation {
        /// Must be `true`: the user's confirmation.
        pub confirm: bool,
        /// The token a `confirmation_required` answer gave: the send fails (409)
        /// if the draft changed since.
        pub confirm_token: Option<String>,
    }
}
