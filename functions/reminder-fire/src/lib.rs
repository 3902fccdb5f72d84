//! `reminder-fire`: a reminder's time has come. Reads the stored reminder (the
//! truth: a cancelled one does not fire, a one-time one fires once however often
//! it is delivered), sends the notification through its durable channel (SNS
//! on AWS; locally printed), records that it fired, and only then pushes it to
//! where the owner is right now ([`Push`]: their open WebSocket connections,
//! locally also their webhook) — bounded, so a hung client cannot keep the
//! delivery from being recorded, and nothing it does can publish twice.
//! A delivery more than [`LATE_AFTER`] past its time is marked late, and says so.
//!
//! On AWS the function also drains the schedules' dead-letter queue
//! ([`handle_dead_letters`]): a delivery Scheduler gave up on (the function
//! failed or was throttled for a day) is fired late from there, exactly like
//! a late direct delivery, instead of waiting for an operator.

use chrono::{DateTime, Duration, Utc};
use jarvis_core::clock::Clock;
use jarvis_core::domain::{Reminder, ReminderRef, ReminderSchedule};
use jarvis_core::ports::{Notification, Notifier, Push, RecordStore};
use jarvis_core::when::Zone;
use jarvis_core::{records, when, PortError, StepError};
use serde::Serialize;
use std::sync::Arc;

/// How late a delivery may be before it counts as late.
pub const LATE_AFTER: Duration = Duration::minutes(2);

/// How long a claim holds. Well over the function's timeout (15 s in
/// `terraform/modules/functions/catalog.tf`; `tests/infra` checks it), so a
/// live delivery has always recorded its fire, or released its claim, by then.
/// A claim older than this with no recorded fire was abandoned: the delivery
/// died between claiming and recording, and the next delivery fires it.
pub const CLAIM_LEASE: Duration = Duration::seconds(90);

/// Attempts at recording a fire after the notification went out.
const RECORD_ATTEMPTS: u32 = 4;

pub struct Deps {
    pub records: Arc<dyn RecordStore>,
    /// The durable channel: SNS on AWS, printed locally.
    pub notifier: Arc<dyn Notifier>,
    /// After the fire is recorded: the owner's open connections (and locally
    /// their webhook).
    pub push: Arc<dyn Push>,
    pub clock: Arc<dyn Clock>,
    pub zone: Zone,
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        let records = stack.records(Rows::All)?;
        // SNS (the owner's confirmed address); once recorded, the owner's open app.
        let push = Arc::new(jarvis_aws::push::PushToConnections {
            records: records.clone(),
            connections: stack.connections(),
            clock: Arc::new(jarvis_core::clock::SystemClock),
        });
        Ok(Deps {
            records,
            notifier: stack.notifier()?,
            push,
            clock: Arc::new(jarvis_core::clock::SystemClock),
            zone: stack.zone(),
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            records: stack.records.clone(),
            notifier: stack.notifier.clone(),
            push: stack.notifier.clone(),
            clock: stack.clock.clone(),
            zone: stack.zone(),
        }
    }
}

/// What happened to a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Fired {
    Sent {
        late: bool,
    },
    /// Cancelled, deleted, or a one-time reminder that already fired.
    Skipped {
        reason: String,
    },
}

/// When this delivery was due: a one-time reminder's time; for a recurring one,
/// the latest occurrence at or before now.
fn due_time(r: &Reminder, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match &r.schedule {
        ReminderSchedule::At { at } => Some(*at),
        ReminderSchedule::Cron {
            expression,
            time_zone,
        } => {
            let zone = when::zone(time_zone).ok()?;
            // The occurrence after (now - a day) that is not after now.
            let mut t = when::next_cron(expression, zone, now - Duration::days(1)).ok()?;
            let mut last = None;
            while t <= now {
                last = Some(t);
                t = when::next_cron(expression, zone, t).ok()?;
            }
            last
        }
    }
}

/// How early a delivery may come and still count as on time (clocks differ
/// by a little between the scheduler and this function).
const EARLY_BY_AT_MOST_SECONDS: i64 = 60;

/// Why a delivery is not for a due occurrence: a one-time reminder whose time
/// was moved later (the old schedule's delivery, arriving before the upsert
/// replaced it), or a recurring one whose latest occurrence comes before it
/// was set or last changed.
fn not_due(r: &Reminder, due: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    match &r.schedule {
        ReminderSchedule::At { at } if *at > now + Duration::seconds(EARLY_BY_AT_MOST_SECONDS) => {
            Some(format!("not due until {at}: its time was changed"))
        }
        ReminderSchedule::Cron { .. } if due < r.changed_at.unwrap_or(r.created_at) => {
            Some("no occurrence is due since the reminder was set or changed".into())
        }
        _ => None,
    }
}

/// Where an occurrence stands when a delivery arrives.
#[derive(Debug, PartialEq, Eq)]
enum Occurrence {
    /// Nobody fired or holds it: this delivery may claim it.
    Open,
    /// Nothing to do, for this reason.
    Done(&'static str),
    /// Another delivery claimed it within the lease and has not recorded it yet.
    Claimed,
}

fn occurrence(r: &Reminder, due: DateTime<Utc>, now: DateTime<Utc>) -> Occurrence {
    if r.cancelled {
        return Occurrence::Done("the reminder was cancelled");
    }
    let (fired, claimed) = match r.schedule {
        ReminderSchedule::At { .. } => (r.fired_at.is_some(), r.claimed.is_some()),
        ReminderSchedule::Cron { .. } => (
            r.fired_at.is_some_and(|f| f >= due),
            r.claimed.is_some_and(|c| c >= due),
        ),
    };
    if fired {
        Occurrence::Done("this occurrence already fired")
    } else if claimed && r.claimed_at.is_some_and(|t| now - t < CLAIM_LEASE) {
        Occurrence::Claimed
    } else {
        Occurrence::Open
    }
}

/// Fires one delivery of a reminder, exactly once per occurrence however often
/// it is delivered or raced:
/// 1. the stored reminder is read with its version (the event's copy is not trusted);
/// 2. the occurrence is claimed with a compare-and-set, so of two deliveries
///    one claims and the other skips;
/// 3. the owner is notified; if that fails the claim is released and the error
///    returned, so the scheduler's retry fires it;
/// 4. `fired_at` is recorded on the claimed version, retried a few times. While
///    the claim is within [`CLAIM_LEASE`], every other delivery answers
///    `Jarvis.Pending` (an error, so the scheduler asks again later) and
///    notifies nothing.
///
/// A delivery that dies after claiming fails its invocation, so the scheduler
/// retries it; once the lease is over, that retry fires the occurrence (late if
/// it is). The one window where this can notify twice is a death, or a store
/// outage longer than the lease, after the notification went out and before
/// it was recorded: a reminder told twice, rather than one never told.
///
/// The event names the reminder (`ReminderRef`; a whole `Reminder`, as
/// schedules made before carried, reads as one too); everything else is read
/// from the record.
pub async fn handle(deps: &Deps, event: impl Into<ReminderRef>) -> Result<Fired, StepError> {
    fire(deps, event.into()).await
}

#[tracing::instrument(skip_all, fields(tenant = %event.tenant_id, reminder = %event.id))]
async fn fire(deps: &Deps, event: ReminderRef) -> Result<Fired, StepError> {
    let store = deps.records.as_ref();
    let now = deps.clock.now();
    let Some(read) = records::get_versioned::<Reminder>(store, &event.tenant_id, &event.id).await?
    else {
        return Ok(Fired::Skipped {
            reason: "the reminder no longer exists".into(),
        });
    };
    let reminder = read.record;
    let Some(due) = due_time(&reminder, now) else {
        return Ok(Fired::Skipped {
            reason: "no occurrence is due".into(),
        });
    };
    if let Some(reason) = not_due(&reminder, due, now) {
        return Ok(Fired::Skipped { reason });
    }
    match occurrence(&reminder, due, now) {
        Occurrence::Open => {}
        Occurrence::Done(reason) => {
            return Ok(Fired::Skipped {
                reason: reason.into(),
            })
        }
        Occurrence::Claimed => {
            return Err(PortError::Pending(format!(
                "the occurrence due {due} is being delivered by another invocation; ask again later"
            ))
            .into())
        }
    }
    let mut claimed = reminder.clone();
    claimed.claimed = Some(due);
    claimed.claimed_at = Some(now);
    let claim = match records::put_if(store, &claimed, Some(&read.version)).await {
        Ok(v) => v,
        // Another delivery claimed it, or it was cancelled meanwhile.
        Err(PortError::Conflict(_)) => {
            return Ok(Fired::Skipped {
                reason: "another delivery of this occurrence claimed it".into(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let late = now - due > LATE_AFTER;
    let mut body = reminder.text.clone();
    if late {
        let zone = records::zone_of(store, &reminder.tenant_id, deps.zone).await?;
        body.push_str(&format!(
            " (late: it was due {})",
            when::describe(due, zone)
        ));
    }
    let notification = Notification {
        tenant_id: reminder.tenant_id.clone(),
        subject: "Reminder".into(),
        body,
        attributes: vec![
            ("kind".into(), "reminder".into()),
            ("reminder_id".into(), reminder.id.clone()),
            ("late".into(), late.to_string()),
        ],
    };
    let notified = deps.notifier.notify(&notification).await;
    if let Err(e) = notified {
        // Nobody was told: give the occurrence back so a retry fires it.
        if let Err(release) = records::put_if(store, &reminder, Some(&claim)).await {
            tracing::error!(error = %release, "could not release the claim of an undelivered reminder");
        }
        return Err(e.into());
    }
    let mut fired = claimed;
    fired.fired_at = Some(now);
    fired.fired_count += 1;
    fired.late = late;
    let mut pause = std::time::Duration::from_millis(50);
    for attempt in 1..=RECORD_ATTEMPTS {
        match record_fire(store, &fired, &claim, due, now, late).await {
            Ok(()) => break,
            Err(e) if attempt < RECORD_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "recording the fire; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            // The notification went out and the claim stands: deliveries
            // within the lease notify nothing.
            Err(e) => {
                tracing::error!(error = %e, "the reminder fired but its record was not updated")
            }
        }
    }
    tracing::info!(late, "reminder fired");
    // Recorded: whatever the push does now, no retry publishes again.
    deps.push.push(&notification).await;
    Ok(Fired::Sent { late })
}

/// Records the fire on the claimed version, or, when the reminder changed since
/// the claim (cancelled, say), on what is there now.
async fn record_fire(
    store: &dyn RecordStore,
    fired: &Reminder,
    claim: &jarvis_core::ports::RecordVersion,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    late: bool,
) -> Result<(), PortError> {
    match records::put_if(store, fired, Some(claim)).await {
        Err(PortError::Conflict(_)) => {
            records::update::<Reminder, ()>(store, &fired.tenant_id, &fired.id, |r| {
                Ok(match r {
                    Some(mut r) if r.fired_at.is_none_or(|f| f < due) => {
                        r.fired_at = Some(now);
                        r.fired_count += 1;
                        r.late = late;
                        r.claimed = r.claimed.max(Some(due));
                        records::Change::Write(r, ())
                    }
                    _ => records::Change::Keep(()),
                })
            })
            .await
        }
        other => other.map(|_| ()),
    }
}

/// Deliveries Scheduler gave up on, from its dead-letter queue (each message's
/// body is the schedule's input, the reminder): each fires as a late delivery
/// would. A record that fails (the notification service down again, a claim
/// still held) is answered for redelivery; after the queue's receive limit it
/// moves to the undelivered queue, which alarms. A body that is not a reminder
/// is logged and redelivered the same way, so it is kept for a person to read.
pub async fn handle_dead_letters(
    deps: &Deps,
    event: aws_lambda_events::event::sqs::SqsEvent,
) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    let mut failed = Vec::new();
    for (message_id, body) in jarvis_lambda::sqs::bodies(&event) {
        let Some(reminder) = dead_letter_reminder(body) else {
            tracing::error!(message_id, "a dead letter that holds no reminder");
            failed.push(message_id);
            continue;
        };
        match handle(deps, reminder).await {
            Ok(fired) => tracing::info!(message_id, ?fired, "a dead-lettered delivery, handled"),
            Err(e) => {
                tracing::warn!(message_id, error = %e, "a dead-lettered delivery failed again");
                failed.push(message_id);
            }
        }
    }
    jarvis_lambda::sqs::batch_response(failed)
}

/// The reminder in a dead-letter message. Scheduler's user guide calls the
/// message a "dead-letter event" carrying the invocation's details; the
/// schedule's input is read wherever it is: the body itself, or a field (or a
/// JSON string in a field) of it, a few levels deep.
pub fn dead_letter_reminder(body: &str) -> Option<ReminderRef> {
    fn find(v: &serde_json::Value, depth: usize) -> Option<ReminderRef> {
        if let Ok(r) = serde_json::from_value::<ReminderRef>(v.clone()) {
            return Some(r);
        }
        if depth == 0 {
            return None;
        }
        match v {
            serde_json::Value::String(s) => serde_json::from_str::<serde_json::Value>(s)
                .ok()
                .and_then(|inner| find(&inner, depth - 1)),
            serde_json::Value::Object(o) => o.values().find_map(|x| find(x, depth - 1)),
            serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, depth - 1)),
            _ => None,
        }
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    find(&v, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder(schedule: ReminderSchedule, created: &str) -> Reminder {
        Reminder {
            id: "rem_1".into(),
            tenant_id: jarvis_core::TenantId::parse("t").unwrap(),
            text: "call Ana".into(),
            schedule,
            fired_at: None,
            cancelled: false,
            created_at: created.parse().unwrap(),
            late: false,
            fired_count: 0,
            claimed: None,
            claimed_at: None,
            changed_at: None,
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// The old schedule's delivery of a reminder moved later arrives before
    /// the upsert replaced it: it is skipped, and the new time still fires.
    #[test]
    fn a_delivery_before_a_moved_time_is_not_due_and_one_at_it_is() {
        let r = reminder(
            ReminderSchedule::At {
                at: t("2026-11-22T13:00:00Z"),
            },
            "2026-11-22T10:00:00Z",
        );
        let old_time = t("2026-11-22T11:00:00Z");
        let due = due_time(&r, old_time).unwrap();
        assert!(not_due(&r, due, old_time).is_some());
        let a_little_early = t("2026-11-22T12:59:30Z");
        assert_eq!(
            not_due(&r, due, a_little_early),
            None,
            "clock skew is tolerated"
        );
        assert_eq!(not_due(&r, due, t("2026-11-22T13:00:01Z")), None);
    }

    /// A recurring reminder changed from 9:00 to 10:00 daily, delivered by
    /// the old 9:00 schedule: the latest 10:00 occurrence (yesterday's) came
    /// before the change, so nothing is due.
    #[test]
    fn a_recurring_occurrence_before_the_change_is_not_due() {
        let mut r = reminder(
            ReminderSchedule::Cron {
                expression: "0 10 * * ? *".into(),
                time_zone: "UTC".into(),
            },
            "2026-11-01T08:00:00Z",
        );
        r.changed_at = Some(t("2026-11-22T08:30:00Z"));
        let nine = t("2026-11-22T09:00:00Z");
        let due = due_time(&r, nine).unwrap();
        assert_eq!(due, t("2026-11-21T10:00:00Z"));
        assert!(not_due(&r, due, nine).is_some());
        let ten = t("2026-11-22T10:00:00Z");
        assert_eq!(not_due(&r, due_time(&r, ten).unwrap(), ten), None);
    }
}
