//! `tool-reminders`: reminders at a time or on a recurring schedule, as assistant
//! tools (`create_reminder`, `list_reminders`, `cancel_reminder`) and over REST:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /reminders` | `{"text", "when"}` ("tomorrow at 9am", "in 2 hours", an ISO time) or `{"text", "every"}` ("every weekday at 8") or `{"text", "cron", "time_zone"?}` | 201, the reminder |
//! | `GET /reminders` | — | `{"reminders": [...]}` (upcoming) |
//! | `DELETE /reminders/{id}` | — | `{"cancelled": id}` |
//! | `PATCH /reminders/{id}` | `{"text"?}` and/or a new `when` / `every` / `cron` | the reminder, rescheduled |
//!
//! Times are read in the user's zone (`JARVIS_TIME_ZONE`); one in the past is
//! refused with the reason. The record is stored, then scheduled (Scheduler on
//! AWS, the runtime's scheduler locally); `reminder-fire` delivers it.

use jarvis_core::clock::Clock;
use jarvis_core::domain::{Reminder, ReminderSchedule};
use jarvis_core::idempotency::ItemId;
use jarvis_core::ports::{PortResult, RecordStore, Scheduler};
use jarvis_core::tools::{self, ToolCall, ToolOutcome, ToolRefusal, ToolReply};
use jarvis_core::when::Zone;
use jarvis_core::{records, when, ApiError, TenantId};
use jarvis_lambda::http::{self, Request, Response};
use jarvis_lambda::routes::Op;
use serde_json::{json, Value};
use std::sync::Arc;

/// Longest reminder text.
pub const MAX_TEXT: usize = 1000;
/// Reminders one tenant may have active at once.
pub const MAX_ACTIVE: usize = 500;

pub struct Deps {
    pub records: Arc<dyn RecordStore>,
    pub scheduler: Arc<dyn Scheduler>,
    pub clock: Arc<dyn Clock>,
    pub zone: Zone,
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        Ok(Deps {
            records: stack.records(Rows::All)?,
            scheduler: stack.scheduler()?,
            clock: Arc::new(jarvis_core::clock::SystemClock),
            zone: stack.zone(),
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            records: stack.records.clone(),
            scheduler: stack.scheduler.clone(),
            clock: stack.clock.clone(),
            zone: stack.zone(),
        }
    }
}

/// "call Ana — Tue 24 Nov 09:00" / "stretch — every: 0 9 ? * MON-FRI * (Europe/Berlin)".
pub fn describe(r: &Reminder, zone: Zone) -> String {
    match &r.schedule {
        ReminderSchedule::At { at } => format!("{} — {}", r.text, when::describe(*at, zone)),
        ReminderSchedule::Cron {
            expression,
            time_zone,
        } => format!("{} — recurring (cron {expression}, {time_zone})", r.text),
    }
}

fn view(r: &Reminder, zone: Zone) -> Value {
    serde_json::to_value(rest::ReminderView {
        reminder: r.clone(),
        at_local: match &r.schedule {
            ReminderSchedule::At { at } => Some(when::describe(*at, zone)),
            ReminderSchedule::Cron { .. } => None,
        },
    })
    .unwrap_or_default()
}

/// Upcoming: not cancelled, and recurring or not fired yet.
fn active(r: &Reminder) -> bool {
    !r.cancelled && (matches!(r.schedule, ReminderSchedule::Cron { .. }) || r.fired_at.is_none())
}

fn schedule_from(
    input: &Value,
    now: chrono::DateTime<chrono::Utc>,
    zone: Zone,
) -> Result<ReminderSchedule, ToolRefusal> {
    if let Some(expression) = tools::text(input, "cron") {
        let time_zone = tools::text(input, "time_zone").unwrap_or(zone.name());
        let tz = when::zone(time_zone).map_err(ToolRefusal::new)?;
        when::next_cron(expression, tz, now).map_err(ToolRefusal::new)?;
        return Ok(ReminderSchedule::Cron {
            expression: expression.to_owned(),
            time_zone: tz.name().to_owned(),
        });
    }
    if let Some(every) = tools::text(input, "every") {
        let phrase = format!("every {}", every.trim_start_matches("every "));
        return match when::recurring(&phrase) {
            Some(Ok(expression)) => Ok(ReminderSchedule::Cron {
                expression,
                time_zone: zone.name().to_owned(),
            }),
            Some(Err(e)) => Err(ToolRefusal::new(e)),
            None => Err(ToolRefusal::new(format!(
                "I could not read {every:?} as a recurring time"
            ))),
        };
    }
    let Some(phrase) = tools::text(input, "when").or_else(|| tools::text(input, "at")) else {
        return Err(ToolRefusal::new(
            "say when: \"when\" (tomorrow at 9am, in 2 hours) or \"every\" (every weekday at 8)",
        ));
    };
    // A recurring phrase given as `when` still means recurring.
    if let Some(cron) = when::recurring(phrase) {
        return cron
            .map(|expression| ReminderSchedule::Cron {
                expression,
                time_zone: zone.name().to_owned(),
            })
            .map_err(ToolRefusal::new);
    }
    let at = match chrono::DateTime::parse_from_rfc3339(phrase) {
        Ok(t) if t.with_timezone(&chrono::Utc) <= now => {
            return Err(ToolRefusal::new(format!("{phrase} is in the past")))
        }
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => when::resolve(phrase, now, zone).map_err(ToolRefusal::new)?,
    };
    Ok(ReminderSchedule::At { at })
}

/// Sets a reminder; `id` is the id it takes (derived from an idempotency
/// key: a reminder that has it already is scheduled again and answered, not
/// made again).
pub async fn create(
    deps: &Deps,
    tenant: &TenantId,
    input: &Value,
    id: &ItemId,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> PortResult<ToolReply> {
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    let Some(text) = tools::text(input, "text") else {
        return Ok(Err(ToolRefusal::new(
            "a reminder needs its text (what to remind of)",
        )));
    };
    if text.chars().count() > MAX_TEXT {
        return Ok(Err(ToolRefusal::new(format!(
            "a reminder has at most {MAX_TEXT} characters"
        ))));
    }
    let now = deps.clock.now();
    let schedule = match schedule_from(input, now, zone) {
        Ok(s) => s,
        Err(r) => return Ok(Err(r)),
    };
    let existing = records::list::<Reminder>(deps.records.as_ref(), tenant).await?;
    if existing.iter().filter(|r| active(r)).count() >= MAX_ACTIVE {
        // The caller's state, not the request, stands in the way: 409.
        return Ok(Err(ToolRefusal::conflict(format!(
            "you have {MAX_ACTIVE} active reminders; cancel some first"
        ))));
    }
    let reminder = Reminder {
        id: id.id("rem", now),
        tenant_id: tenant.clone(),
        text: text.to_owned(),
        schedule,
        fired_at: None,
        cancelled: false,
        created_at: now,
        late: false,
        fired_count: 0,
        claimed: None,
        claimed_at: None,
        changed_at: None,
    };
    // Stored first: reminder-fire reads the record, so a schedule never points
    // at nothing. A create: a keyed id that exists is the earlier request's
    // reminder, scheduled again (scheduling is an upsert) if it is still on.
    let Some((reminder, created)) =
        records::create_unless_erased(deps.records.as_ref(), reminder, since.unwrap_or(now))
            .await?
    else {
        return Ok(Err(ToolRefusal::conflict(records::ERASING)));
    };
    if !created && !active(&reminder) {
        return Ok(Ok(ToolOutcome::acted(
            "reminder_created",
            format!("Reminder set: {}", describe(&reminder, zone)),
            json!({"reminder": view(&reminder, zone)}),
            reminder.id.clone(),
        )));
    }
    if let Err(e) = deps.scheduler.schedule(&reminder).await {
        // Not scheduled: a record left behind would list a reminder that never
        // fires, and the caller's retry would add a second one.
        if let Err(undo) =
            records::delete::<Reminder>(deps.records.as_ref(), tenant, &reminder.id).await
        {
            tracing::error!(error = %undo, reminder = %reminder.id, "an unscheduled reminder's record stays");
        }
        return Err(e);
    }
    let summary = format!("Reminder set: {}", describe(&reminder, zone));
    Ok(Ok(ToolOutcome::acted(
        "reminder_created",
        summary,
        json!({"reminder": view(&reminder, zone)}),
        reminder.id.clone(),
    )))
}

pub async fn list(deps: &Deps, tenant: &TenantId) -> PortResult<ToolReply> {
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    let mut upcoming: Vec<Reminder> = records::list::<Reminder>(deps.records.as_ref(), tenant)
        .await?
        .into_iter()
        .filter(active)
        .collect();
    upcoming.sort_by_key(|r| match &r.schedule {
        ReminderSchedule::At { at } => (0, Some(*at)),
        ReminderSchedule::Cron { .. } => (1, None),
    });
    let summary = if upcoming.is_empty() {
        "You have no upcoming reminders.".to_owned()
    } else {
        let lines: Vec<String> = upcoming
            .iter()
            .map(|r| format!("- {}", describe(r, zone)))
            .collect();
        format!("Your reminders ({}):\n{}", upcoming.len(), lines.join("\n"))
    };
    let views: Vec<Value> = upcoming.iter().map(|r| view(r, zone)).collect();
    Ok(Ok(ToolOutcome {
        result: json!({"summary": summary, "reminders": views}),
        action: None,
    }))
}

/// Cancels a reminder when `call.confirmed` (the user's own REST call or
/// confirming chat turn); a model's call only asks, with what would be cancelled.
pub async fn cancel(deps: &Deps, call: &ToolCall) -> PortResult<ToolReply> {
    let (tenant, input) = (&call.tenant_id, &call.input);
    let all = records::list::<Reminder>(deps.records.as_ref(), tenant).await?;
    let found: Vec<Reminder> = match (tools::text(input, "id"), tools::text(input, "query")) {
        (Some(id), _) => all.into_iter().filter(|r| r.id == id).collect(),
        (None, Some(q)) => all
            .into_iter()
            .filter(|r| active(r) && tools::matches(&r.text, q))
            .collect(),
        (None, None) => {
            return Ok(Err(ToolRefusal::new(
                "say which reminder (its id or words of its text)",
            )))
        }
    };
    let reminder = match found.as_slice() {
        [one] => one.clone(),
        [] => return Ok(Err(ToolRefusal::not_found("there is no such reminder"))),
        many => {
            let names: Vec<&str> = many.iter().map(|r| r.text.as_str()).collect();
            return Ok(Err(ToolRefusal::new(format!(
                "{} reminders match: {}; say which",
                many.len(),
                names.join("; ")
            ))));
        }
    };
    let token = tools::confirm_token(tools::CANCEL_REMINDER, &[&reminder.id, &reminder.text]);
    if !call.confirmed {
        let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
        let summary = format!(
            "Cancel the reminder \"{}\" ({}).",
            describe(&reminder, zone),
            reminder.id
        );
        return Ok(Ok(tools::confirmation_required(
            tools::CANCEL_REMINDER,
            &reminder.id,
            summary,
            json!({"id": reminder.id}),
            token,
            None,
        )));
    }
    if let Err(refusal) = tools::check_token(call, &token) {
        return Ok(Err(refusal));
    }
    deps.scheduler.cancel(tenant, &reminder.id).await?;
    // On the stored reminder as it is now: a delivery's claim is not undone.
    records::update::<Reminder, ()>(deps.records.as_ref(), tenant, &reminder.id, |r| {
        Ok(match r {
            Some(mut r) if !r.cancelled => {
                r.cancelled = true;
                records::Change::Write(r, ())
            }
            _ => records::Change::Keep(()),
        })
    })
    .await?;
    let summary = format!("Cancelled the reminder: {}", reminder.text);
    Ok(Ok(ToolOutcome::acted(
        "reminder_cancelled",
        summary,
        json!({"cancelled": reminder.id}),
        reminder.id,
    )))
}

/// Changes an upcoming reminder's text or time. The record changes first (a
/// compare-and-set on it as it is now), then the schedule (an upsert by the
/// reminder's id); if rescheduling fails, the record is put back, so what is
/// listed is what fires. A delivery of the old time that arrives meanwhile
/// finds the reminder not due and skips it (reminder-fire).
pub async fn edit(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    change: &rest::ReminderChange,
) -> PortResult<ToolReply> {
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    let retimed = change.when.is_some() || change.every.is_some() || change.cron.is_some();
    if change.text.is_none() && !retimed {
        return Ok(Err(ToolRefusal::new(
            "say what changes: text, or a new when / every / cron",
        )));
    }
    let text = match change.text.as_deref().map(str::trim) {
        Some("") => {
            return Ok(Err(ToolRefusal::new(
                "a reminder needs its text (what to remind of)",
            )))
        }
        Some(t) if t.chars().count() > MAX_TEXT => {
            return Ok(Err(ToolRefusal::new(format!(
                "a reminder has at most {MAX_TEXT} characters"
            ))))
        }
        other => other.map(str::to_owned),
    };
    let now = deps.clock.now();
    let schedule = if retimed {
        let input = serde_json::to_value(change).unwrap_or_default();
        match schedule_from(&input, now, zone) {
            Ok(s) => Some(s),
            Err(r) => return Ok(Err(r)),
        }
    } else {
        None
    };
    type Edited = Result<(Reminder, Reminder), ToolRefusal>;
    let edited = records::update::<Reminder, Edited>(deps.records.as_ref(), tenant, id, |r| {
        Ok(match r {
            None => records::Change::Keep(Err(ToolRefusal::not_found(format!(
                "there is no reminder {id}"
            )))),
            Some(r) if !active(&r) => records::Change::Keep(Err(ToolRefusal::conflict(
                "this reminder already fired or was cancelled; set a new one",
            ))),
            Some(r) if matches!(r.schedule, ReminderSchedule::At { .. }) && r.claimed.is_some() => {
                records::Change::Keep(Err(ToolRefusal::conflict(
                    "this reminder is being delivered right now",
                )))
            }
            Some(before) => {
                let mut after = before.clone();
                if let Some(text) = &text {
                    after.text.clone_from(text);
                }
                if let Some(schedule) = &schedule {
                    after.schedule = schedule.clone();
                    after.changed_at = Some(now);
                }
                records::Change::Write(after.clone(), Ok((before, after)))
            }
        })
    })
    .await?;
    let (before, after) = match edited {
        Ok(pair) => pair,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if schedule.is_some() {
        if let Err(e) = deps.scheduler.schedule(&after).await {
            // Put back what still fires, unless someone changed it since.
            let undo = records::update::<Reminder, ()>(deps.records.as_ref(), tenant, id, |r| {
                Ok(match r {
                    Some(r) if r == after => records::Change::Write(before.clone(), ()),
                    _ => records::Change::Keep(()),
                })
            })
            .await;
            if let Err(undo) = undo {
                tracing::error!(error = %undo, reminder = %id, "a reminder's record keeps a time that was not scheduled");
            }
            return Err(e);
        }
    }
    Ok(Ok(ToolOutcome::acted(
        "reminder_edited",
        format!("Reminder changed: {}", describe(&after, zone)),
        json!({"reminder": view(&after, zone)}),
        after.id.clone(),
    )))
}

/// A tool call from the agent.
pub async fn call(deps: &Deps, call: ToolCall) -> PortResult<ToolReply> {
    let (t, input) = (&call.tenant_id, &call.input);
    match call.name.as_str() {
        tools::CREATE_REMINDER => create(deps, t, input, &ItemId::Fresh, call.since).await,
        tools::LIST_REMINDERS => list(deps, t).await,
        tools::CANCEL_REMINDER => cancel(deps, &call).await,
        other => Ok(Err(ToolRefusal::new(format!(
            "tool-reminders has no tool {other}"
        )))),
    }
}

pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// A REST call through API Gateway.
pub async fn handle(deps: &Deps, req: Request) -> Response {
    http::reply(route(deps, &req).await)
}

async fn route(deps: &Deps, req: &Request) -> Result<(u16, Value), ApiError> {
    let tenant = http::tenant(req)?;
    let route = http::route(req)?;
    Ok(match route.op {
        Op::CreateReminder => {
            let who = &tenant;
            http::create_once::<Reminder, _, _>(
                deps.records.as_ref(),
                req,
                &tenant,
                deps.clock.now(),
                |id| async move {
                    let body = http::checked_object::<rest::NewReminder>(req, MAX_BODY_BYTES)?;
                    let out = create(deps, who, &body, &id, None).await??;
                    Ok((201, out.result["reminder"].clone()))
                },
            )
            .await?
        }
        Op::ListReminders => {
            let out = list(deps, &tenant).await??;
            (200, json!({"reminders": out.result["reminders"]}))
        }
        Op::CancelReminder => {
            // The user's own call, naming the reminder: it is the confirmation.
            let call = ToolCall::confirmed_by_user(
                &tenant,
                tools::CANCEL_REMINDER,
                json!({"id": http::path_param(req, "id").unwrap_or_default()}),
                None,
            );
            let out = cancel(deps, &call).await??;
            (200, json!({"cancelled": out.result["cancelled"]}))
        }
        Op::EditReminder => {
            let change: rest::ReminderChange = http::json_body(req, MAX_BODY_BYTES)?;
            let id = http::path_param(req, "id").unwrap_or_default();
            let out = edit(deps, &tenant, id, &change).await??;
            (200, out.result["reminder"].clone())
        }
        _ => return Err(http::not_here("tool-reminders", route)),
    })
}

/// The REST bodies and answers (the OpenAPI document's schemas; tests check
/// real answers against them).
pub mod rest {
    use jarvis_core::domain::Reminder;
    use serde::{Deserialize, Serialize};

    /// `POST /reminders`: `text`, and one of `when`, `every` or `cron`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct NewReminder {
        /// What to remind of: 1 to 1,000 characters, not only spaces.
        #[schema(min_length = 1, max_length = 1000, pattern = "\\S")]
        pub text: String,
        /// Once, as the user said it ("tomorrow at 9am", "in 2 hours") or an RFC 3339 instant.
        #[schema(max_length = 200, pattern = "\\S", example = "tomorrow at 9am")]
        pub when: Option<String>,
        /// Recurring, as the user said it ("every weekday at 8").
        #[schema(max_length = 200, pattern = "\\S", example = "every weekday at 8")]
        pub every: Option<String>,
        /// Recurring, as a Scheduler cron expression (`0 9 ? * MON *`).
        #[schema(max_length = 200, pattern = "\\S", example = "0 9 ? * MON *")]
        pub cron: Option<String>,
        /// The zone `cron` is read in (IANA); the user's by default.
        #[schema(value_type = Option<jarvis_core::contract::TimeZoneName>)]
        pub time_zone: Option<String>,
    }

    impl jarvis_core::contract::Contract for NewReminder {
        /// When: one of `when`, `every`, `cron`.
        fn refine(schema: &mut serde_json::Value) {
            schema["anyOf"] = jarvis_core::contract::one_of_given(&["when", "every", "cron"]);
            schema["x-message"] =
                "say when: \"when\" (tomorrow at 9am, in 2 hours), \"every\" (every weekday at 8) or \"cron\"".into();
        }
    }

    /// `PATCH /reminders/{id}`: a new text, a new time (one of `when`,
    /// `every`, `cron`, read as in `POST /reminders`), or both.
    #[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ReminderChange {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 1000, pattern = "\\S")]
        pub text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(max_length = 200, pattern = "\\S", example = "tomorrow at 9am")]
        pub when: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(max_length = 200, pattern = "\\S", example = "every weekday at 8")]
        pub every: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(max_length = 200, pattern = "\\S", example = "0 9 ? * MON *")]
        pub cron: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<jarvis_core::contract::TimeZoneName>)]
        pub time_zone: Option<String>,
    }

    impl jarvis_core::contract::Contract for ReminderChange {
        /// Something changes: the text, or the time.
        fn refine(schema: &mut serde_json::Value) {
            schema["anyOf"] =
                jarvis_core::contract::one_of_given(&["text", "when", "every", "cron"]);
            schema["x-message"] = "say what changes: text, or a new when / every / cron".into();
        }
    }

    /// A reminder as the API shows it.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct ReminderView {
        #[serde(flatten)]
        pub reminder: Reminder,
        /// A one-time reminder's time in the user's time zone, as a sentence.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub at_local: Option<String>,
    }

    /// `GET /reminders`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct ReminderList {
        pub reminders: Vec<ReminderView>,
    }

    /// `DELETE /reminders/{id}`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct ReminderCancelled {
        /// The cancelled reminder's id.
        pub cancelled: String,
    }
}
