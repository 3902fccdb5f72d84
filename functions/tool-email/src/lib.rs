//! `tool-email`: drafts, and sending them only on the user's own confirmation.
//! Assistant tools `draft_email`, `list_drafts`, `send_email`, and REST:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /emails/drafts` | `{"to": [...], "subject", "body"}` | 201, the draft |
//! | `GET /emails/drafts` | — | `{"drafts": [...]}` |
//! | `POST /emails/drafts/{id}/send` | `{"confirm": true}` | the sent draft (409 if already sent) |
//!
//! A `send_email` tool call that the user did not confirm (every call a model
//! makes) sends nothing: it answers `confirmation_required`, and api-chat asks
//! the user. Only a REST call with `"confirm": true` or the user's own
//! confirming chat turn sends, so text inside a document can never send mail.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use jarvis_core::clock::{new_id, Clock};
use jarvis_core::domain::{Draft, DraftState};
use jarvis_core::ports::{Mailer, OutgoingEmail, PortResult, RecordStore};
use jarvis_core::tools::{self, ToolCall, ToolOutcome, ToolRefusal, ToolReply};
use jarvis_core::{records, ApiError, TenantId};
use jarvis_lambda::http;
use regex::Regex;
use serde_json::{json, Value};
use std::sync::{Arc, LazyLock};

pub const MAX_RECIPIENTS: usize = 20;
pub const MAX_SUBJECT: usize = 300;
pub const MAX_BODY: usize = 50_000;

static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$").expect("address pattern")
});

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
    if let Some(bad) = to.iter().find(|a| !ADDRESS.is_match(a)) {
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

/// Sends a draft when `confirmed`; otherwise only says that the user must confirm.
pub async fn send(
    deps: &Deps,
    tenant: &TenantId,
    input: &Value,
    confirmed: bool,
) -> PortResult<ToolReply> {
    let draft = match tools::text(input, "draft_id").or_else(|| tools::text(input, "id")) {
        Some(id) => records::get::<Draft>(deps.records.as_ref(), tenant, id).await?,
        // The latest unsent draft.
        None => records::list::<Draft>(deps.records.as_ref(), tenant)
            .await?
            .into_iter()
            .rev()
            .find(|d| d.state == DraftState::Draft),
    };
    let Some(mut draft) = draft else {
        return Ok(Err(ToolRefusal::not_found("there is no such draft")));
    };
    if let DraftState::Sent { at, .. } = draft.state {
        return Ok(Err(ToolRefusal::conflict(format!(
            "that draft was already sent at {at}"
        ))));
    }
    if !confirmed {
        let summary = format!(
            "Ready to send the e-mail {}. Nothing is sent until you confirm (say \"yes, send it\").",
            describe(&draft)
        );
        return Ok(Ok(ToolOutcome::acted(
            "confirmation_required",
            summary,
            json!({"status": "confirmation_required", "draft_id": draft.id}),
            draft.id,
        )));
    }
    let message_id = deps
        .mailer
        .send(&OutgoingEmail {
            tenant_id: tenant.clone(),
            to: draft.to.clone(),
            subject: draft.subject.clone(),
            body_text: draft.body.clone(),
        })
        .await?;
    draft.state = DraftState::Sent {
        at: deps.clock.now(),
        message_id,
    };
    records::put(deps.records.as_ref(), &draft).await?;
    let summary = format!("Sent the e-mail {}", describe(&draft));
    Ok(Ok(ToolOutcome::acted(
        "email_sent",
        summary,
        json!({"status": "sent", "draft": draft}),
        draft.id.clone(),
    )))
}

/// A tool call: from the agent (unconfirmed), or the user's confirmed send.
pub async fn call(deps: &Deps, call: ToolCall) -> PortResult<ToolReply> {
    let (t, input) = (&call.tenant_id, &call.input);
    match call.name.as_str() {
        tools::DRAFT_EMAIL => draft(deps, t, input).await,
        tools::LIST_DRAFTS => list(deps, t).await,
        tools::SEND_EMAIL => send(deps, t, input, call.confirmed).await,
        other => Ok(Err(ToolRefusal::new(format!(
            "tool-email has no tool {other}"
        )))),
    }
}

pub const MAX_BODY_BYTES: u64 = 64 * 1024;

pub async fn handle(deps: &Deps, req: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    http::reply(route(deps, &req).await)
}

async fn route(deps: &Deps, req: &ApiGatewayV2httpRequest) -> Result<(u16, Value), ApiError> {
    let tenant = http::tenant(req)?;
    Ok(match req.route_key.as_deref().unwrap_or_default() {
        "POST /emails/drafts" => {
            let body: Value = http::json_body(req, MAX_BODY_BYTES)?;
            if !body.is_object() {
                return Err(ApiError::BadRequest(
                    "the body is a JSON object: {\"to\", \"subject\", \"body\"}".into(),
                ));
            }
            let out = draft(deps, &tenant, &body).await??;
            (201, out.result["draft"].clone())
        }
        "GET /emails/drafts" => {
            let out = list(deps, &tenant).await??;
            (200, json!({"drafts": out.result["drafts"]}))
        }
        "POST /emails/drafts/{id}/send" => {
            let body: Value = http::json_body(req, MAX_BODY_BYTES)?;
            if body.get("confirm") != Some(&Value::Bool(true)) {
                return Err(ApiError::BadRequest(
                    "sending needs the user's confirmation: {\"confirm\": true}".into(),
                ));
            }
            let input = json!({"draft_id": http::path_param(req, "id").unwrap_or_default()});
            let out = send(deps, &tenant, &input, true).await??;
            (200, out.result["draft"].clone())
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "tool-email has no route {other}"
            )))
        }
    })
}
