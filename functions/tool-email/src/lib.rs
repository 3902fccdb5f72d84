//! `tool-email`: drafts, and sending them only on the user's own confirmation.
//! Assistant tools `draft_email`, `list_drafts`, `send_email`, and REST:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /emails/drafts` | `{"to": [...], "subject", "body"}` | 201, the draft with its `confirm_token` |
//! | `GET /emails/drafts` | — | `{"drafts": [...]}`, each unsent one with its `confirm_token` |
//! | `POST /emails/drafts/{id}/send` | `{"confirm_token"}` | the draft, `sent` or `unknown` (409 if already sent, being sent, or changed since the token) |
//! | `PATCH /emails/drafts/{id}` | `{"to"?, "subject"?, "body"?}` | the unsent draft, changed, with its new `confirm_token` (409 once sending began) |
//!
//! A `send_email` tool call that the user did not confirm (every call a model
//! makes) sends nothing: it answers `confirmation_required`, and api-chat asks
//! the user. Only the user's structured confirmation carrying the token of
//! exactly the mail they were shown sends (a REST call with `confirm_token`,
//! or the consent rule in chat: `jarvis_core::consent`), so text inside a
//! document can never send mail.
//!
//! Exactly once, at every point a send can break:
//! - the draft moves `draft → sending` by compare-and-set before the mailer is
//!   called: of any number of confirmations, one sends;
//! - a refusal before anything left (`SendError::NotSent`) puts it back to `draft`;
//! - an unknown outcome (`SendError::Unknown`: a timeout after SES may have
//!   accepted the mail) makes it `unknown`; the user is told, and nothing sends
//!   it again on its own (the SES client does not retry SendEmail either);
//! - the daily limit is an [`Allowance`] taken by compare-and-set before the
//!   send and given back when nothing left, so concurrent sends of different
//!   drafts cannot pass it together.

use jarvis_core::clock::Clock;
use jarvis_core::domain::{Allowance, AllowanceUse, Draft, DraftState, PendingMail};
use jarvis_core::idempotency::ItemId;
use jarvis_core::ports::{Mailer, OutgoingEmail, PortResult, RecordStore, SendError};
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
/// The id of the mail [`Allowance`].
const MAIL_ALLOWANCE: &str = "mail";
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

/// Stores a draft; `id` is the id it takes (derived from an idempotency key:
/// a draft that has it already is answered, not made again).
pub async fn draft(
    deps: &Deps,
    tenant: &TenantId,
    input: &Value,
    id: &ItemId,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> PortResult<ToolReply> {
    let to = match recipients(input) {
        Ok(to) => to,
        Err(r) => return Ok(Err(r)),
    };
    let subject = tools::text(input, "subject").unwrap_or("(no subject)");
    let body = input
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if subject.chars().count() > MAX_SUBJECT || body.chars().count() > MAX_BODY {
        return Ok(Err(ToolRefusal::new(format!(
            "a subject has at most {MAX_SUBJECT} characters and a body {MAX_BODY}"
        ))));
    }
    let now = deps.clock.now();
    let draft = Draft {
        id: id.id("draft", now),
        tenant_id: tenant.clone(),
        to,
        subject: subject.replace(['\r', '\n'], " "),
        body: body.to_owned(),
        created_at: now,
        state: DraftState::Draft,
    };
    let Some((draft, _)) =
        records::create_unless_erased(deps.records.as_ref(), draft, since.unwrap_or(now)).await?
    else {
        return Ok(Err(ToolRefusal::conflict(records::ERASING)));
    };
    let summary = format!("Drafted an e-mail {} (not sent)", describe(&draft));
    Ok(Ok(ToolOutcome::acted(
        "draft_created",
        summary,
        json!({"draft": draft}),
        draft.id.clone(),
    )))
}

/// Changes an unsent draft, on the stored draft as it is now (compare-and-set
/// against `draft → sending`: once a send began, nothing changes). Its
/// `confirm_token` is the digest of what it says, so a token shown before
/// the change no longer sends it.
pub async fn edit(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    change: &rest::DraftChange,
) -> PortResult<ToolReply> {
    if change.to.is_none() && change.subject.is_none() && change.body.is_none() {
        return Ok(Err(ToolRefusal::new("say what changes: to, subject, body")));
    }
    let to = match &change.to {
        None => None,
        Some(to) => match recipients(&json!({ "to": to })) {
            Ok(to) => Some(to),
            Err(r) => return Ok(Err(r)),
        },
    };
    let subject = change
        .subject
        .as_deref()
        .map(|s| s.replace(['\r', '\n'], " "));
    if subject
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBJECT)
        || change
            .body
            .as_ref()
            .is_some_and(|b| b.chars().count() > MAX_BODY)
    {
        return Ok(Err(ToolRefusal::new(format!(
            "a subject has at most {MAX_SUBJECT} characters and a body {MAX_BODY}"
        ))));
    }
    type Edited = Result<Draft, ToolRefusal>;
    let edited = records::update::<Draft, Edited>(deps.records.as_ref(), tenant, id, |d| {
        Ok(match d {
            None => records::Change::Keep(Err(ToolRefusal::not_found(format!(
                "there is no draft {id}"
            )))),
            Some(d) if d.state != DraftState::Draft => records::Change::Keep(Err(
                ToolRefusal::conflict("this mail was sent, or is being sent: it cannot change"),
            )),
            Some(mut d) => {
                if let Some(to) = &to {
                    d.to.clone_from(to);
                }
                if let Some(subject) = &subject {
                    d.subject.clone_from(subject);
                }
                if let Some(body) = &change.body {
                    d.body.clone_from(body);
                }
                records::Change::Write(d.clone(), Ok(d))
            }
        })
    })
    .await?;
    let draft = match edited {
        Ok(d) => d,
        Err(r) => return Ok(Err(r)),
    };
    Ok(Ok(ToolOutcome::acted(
        "draft_edited",
        format!("Changed the draft {} (not sent)", describe(&draft)),
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
                    DraftState::Unknown { .. } => "unknown whether sent",
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
pub fn token(d: &Draft) -> String {
    let to = d.to.join(",");
    tools::confirm_token(tools::SEND_EMAIL, &[&d.id, &to, &d.subject, &d.body])
}

/// The token a client shows with a draft: only an unsent draft has one.
pub fn sendable_token(d: &Draft) -> Option<String> {
    (d.state == DraftState::Draft).then(|| token(d))
}

/// What happened to the allowance.
enum Taken {
    Yes,
    /// The limit is reached.
    Spent,
}

/// Takes one use of the tenant's mail allowance for `draft` (compare-and-set:
/// concurrent sends each see the others' uses), dropping uses older than a day.
async fn take_allowance(
    store: &dyn RecordStore,
    tenant: &TenantId,
    draft: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> PortResult<Taken> {
    records::update::<Allowance, Taken>(store, tenant, MAIL_ALLOWANCE, |a| {
        let mut a = a.unwrap_or_else(|| Allowance {
            tenant_id: tenant.clone(),
            id: MAIL_ALLOWANCE.into(),
            used: Vec::new(),
        });
        a.used.retain(|u| now - u.at < chrono::Duration::days(1));
        if a.used.len() >= MAX_SENDS_PER_DAY {
            return Ok(records::Change::Keep(Taken::Spent));
        }
        a.used.push(AllowanceUse {
            at: now,
            by: draft.to_owned(),
        });
        Ok(records::Change::Write(a, Taken::Yes))
    })
    .await
}

/// Gives back the use `draft` took: nothing left.
async fn give_back_allowance(store: &dyn RecordStore, tenant: &TenantId, draft: &str) {
    let given = records::update::<Allowance, ()>(store, tenant, MAIL_ALLOWANCE, |a| {
        Ok(match a {
            Some(mut a) if a.used.iter().any(|u| u.by == draft) => {
                a.used.retain(|u| u.by != draft);
                records::Change::Write(a, ())
            }
            _ => records::Change::Keep(()),
        })
    })
    .await;
    if let Err(e) = given {
        tracing::warn!(error = %e, draft, "an unsent mail still counts against the daily limit");
    }
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
    match &draft.state {
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
        DraftState::Unknown { since, .. } => {
            return Ok(Err(ToolRefusal::conflict(format!(
                "I could not tell whether that draft left at {since}, so I will not send it again on my own; if it did not arrive, make a new draft"
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
            Some(&PendingMail {
                to: draft.to.clone(),
                subject: draft.subject.clone(),
                body: draft.body.clone(),
            }),
        )));
    }
    if let Err(refusal) = tools::check_token(call, &token(&draft)) {
        return Ok(Err(refusal));
    }
    let now = deps.clock.now();
    if let Taken::Spent = take_allowance(store, tenant, &draft.id, now).await? {
        return Ok(Err(ToolRefusal::conflict(format!(
            "at most {MAX_SENDS_PER_DAY} e-mails are sent per day; this one stays a draft"
        ))));
    }
    // Claim the send.
    let mut sending = draft.clone();
    sending.state = DraftState::Sending { since: now };
    let claim = match records::put_if(store, &sending, Some(&read.version)).await {
        Ok(v) => v,
        Err(e) => {
            give_back_allowance(store, tenant, &draft.id).await;
            return match e {
                PortError::Conflict(_) => Ok(Err(ToolRefusal::conflict(
                    "that draft is already being sent, or changed meanwhile; it is not sent twice",
                ))),
                e => Err(e),
            };
        }
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
    let (state, outcome) = match sent {
        Ok(message_id) => (
            DraftState::Sent {
                at: deps.clock.now(),
                message_id,
            },
            None,
        ),
        Err(SendError::NotSent(e)) => {
            // Nothing left: it is a draft again, and may be confirmed again.
            if let Err(release) = records::put_if(store, &draft, Some(&claim)).await {
                tracing::error!(error = %release, draft = %draft.id, "an unsent draft stays marked sending");
            }
            give_back_allowance(store, tenant, &draft.id).await;
            return Err(e);
        }
        Err(SendError::Unknown(e)) => {
            tracing::error!(error = %e, draft = %draft.id, "the mail service's answer never came: the mail may have left");
            (
                DraftState::Unknown {
                    since: now,
                    reason: e.to_string(),
                },
                Some(e),
            )
        }
    };
    let mut done = sending;
    done.state = state;
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
        // The draft stays `Sending`, which no confirmation sends again.
        tracing::error!(error = %e, draft = %done.id, "a sent (or maybe sent) draft was not marked so");
    }
    Ok(Ok(match outcome {
        None => ToolOutcome::acted(
            "email_sent",
            format!("Sent the e-mail {}", describe(&done)),
            json!({"status": "sent", "draft": done}),
            done.id.clone(),
        ),
        Some(e) => ToolOutcome::acted(
            "email_unknown",
            format!(
                "I could not tell whether the e-mail {} left: the mail service did not answer ({e}). I will not send it again on my own; check with the recipients before you send it again.",
                describe(&done)
            ),
            json!({"status": "unknown", "draft": done}),
            done.id.clone(),
        ),
    }))
}

/// A tool call: from the agent (unconfirmed), or the user's confirmed send.
pub async fn call(deps: &Deps, call: ToolCall) -> PortResult<ToolReply> {
    let (t, input) = (&call.tenant_id, &call.input);
    match call.name.as_str() {
        tools::DRAFT_EMAIL => draft(deps, t, input, &ItemId::Fresh, call.since).await,
        tools::LIST_DRAFTS => list(deps, t).await,
        tools::SEND_EMAIL => send(deps, &call).await,
        other => Ok(Err(ToolRefusal::new(format!(
            "tool-email has no tool {other}"
        )))),
    }
}

pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// A draft as clients see it: with its `confirm_token` while it is unsent.
fn listed(draft: &Value) -> Value {
    let mut out = draft.clone();
    let token = serde_json::from_value::<Draft>(draft.clone())
        .ok()
        .and_then(|d| sendable_token(&d));
    if let (Some(fields), Some(token)) = (out.as_object_mut(), token) {
        fields.insert("confirm_token".into(), Value::String(token));
    }
    out
}

pub async fn handle(deps: &Deps, req: Request) -> Response {
    http::reply(route(deps, &req).await)
}

async fn route(deps: &Deps, req: &Request) -> Result<(u16, Value), ApiError> {
    let tenant = http::tenant(req)?;
    let route = http::route(req)?;
    Ok(match route.op {
        Op::CreateDraft => {
            let who = &tenant;
            http::create_once::<Draft, _, _>(
                deps.records.as_ref(),
                req,
                &tenant,
                deps.clock.now(),
                |id| async move {
                    let body = http::checked_object::<rest::NewDraft>(req, MAX_BODY_BYTES)?;
                    let out = draft(deps, who, &body, &id, None).await??;
                    Ok((201, listed(&out.result["draft"])))
                },
            )
            .await?
        }
        Op::ListDrafts => {
            let out = list(deps, &tenant).await??;
            let drafts: Vec<Value> = out.result["drafts"]
                .as_array()
                .map(|a| a.iter().map(listed).collect())
                .unwrap_or_default();
            (200, json!({ "drafts": drafts }))
        }
        Op::SendDraft => {
            let body: rest::SendConfirmation = http::json_body(req, MAX_BODY_BYTES)?;
            // The schema's bounds, as it counts them (characters).
            let n = body.confirm_token.chars().count();
            if n == 0 || n > 128 {
                return Err(ApiError::BadRequest(
                    "confirm_token is the draft's token as listed (1 to 128 characters)".into(),
                ));
            }
            let call = ToolCall::confirmed_by_user(
                &tenant,
                tools::SEND_EMAIL,
                json!({"draft_id": http::path_param(req, "id").unwrap_or_default()}),
                Some(body.confirm_token),
            );
            let out = send(deps, &call).await??;
            (200, listed(&out.result["draft"]))
        }
        Op::EditDraft => {
            let change: rest::DraftChange = http::json_body(req, MAX_BODY_BYTES)?;
            let id = http::path_param(req, "id").unwrap_or_default();
            let out = edit(deps, &tenant, id, &change).await??;
            (200, listed(&out.result["draft"]))
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
        /// 1 to 20 plain addresses (`name@domain.tld`).
        #[schema(min_items = 1, max_items = 20)]
        pub to: Vec<String>,
        /// At most 300 characters (blank: "(no subject)").
        #[schema(max_length = 300)]
        pub subject: String,
        /// At most 50,000 characters.
        #[schema(max_length = 50000)]
        pub body: String,
    }

    impl jarvis_core::contract::Contract for NewDraft {
        fn refine(schema: &mut serde_json::Value) {
            schema["properties"]["to"]["items"] = jarvis_core::tools::address_schema();
        }
    }

    /// `PATCH /emails/drafts/{id}`: what changes in an unsent draft.
    #[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct DraftChange {
        /// 1 to 20 plain addresses; replaces the recipients.
        #[schema(min_items = 1, max_items = 20)]
        pub to: Option<Vec<String>>,
        #[schema(max_length = 300)]
        pub subject: Option<String>,
        #[schema(max_length = 50000)]
        pub body: Option<String>,
    }

    impl jarvis_core::contract::Contract for DraftChange {
        /// Something changes, and the recipients are addresses.
        fn refine(schema: &mut serde_json::Value) {
            schema["properties"]["to"]["items"] = jarvis_core::tools::address_schema();
            schema["anyOf"] = jarvis_core::contract::one_of_given(&["to", "subject", "body"]);
            schema["x-message"] = "say what changes: to, subject, body".into();
        }
    }

    impl jarvis_core::contract::Contract for SendConfirmation {}

    /// A draft as the API answers it.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct ListedDraft {
        #[serde(flatten)]
        pub draft: Draft,
        /// While the draft is unsent: the token of exactly this mail (its
        /// recipients, subject and body). Sending needs it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub confirm_token: Option<String>,
    }

    /// `GET /emails/drafts`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct DraftList {
        pub drafts: Vec<ListedDraft>,
    }

    /// `POST /emails/drafts/{id}/send`: the user's confirmation of exactly the
    /// mail they were shown.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct SendConfirmation {
        /// The draft's `confirm_token` as listed: the send fails (409) if the
        /// draft changed since.
        #[schema(min_length = 1, max_length = 128)]
        pub confirm_token: String,
    }
}
