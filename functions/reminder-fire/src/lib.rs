//! `reminder-fire`: a reminder's time has come. Reads the stored reminder (the
//! truth: a cancelled one does not fire, a one-time one fires once however often
//! it is delivered), sends the notification (SNS on AWS; locally printed, pushed
//! to WebSocket clients and POSTed to the webhook), then records that it fired.
//! A delivery more than [`LATE_AFTER`] past its time is marked late, and says so.

use chrono::{DateTime, Duration, Utc};
use jarvis_core::clock::Clock;
use jarvis_core::domain::{Reminder, ReminderSchedule};
use jarvis_core::ports::{Notification, Notifier, RecordStore};
use jarvis_core::when::Zone;
use jarvis_core::{records, when, PortError, StepError};
use serde::Serialize;
use std::sync::Arc;

/// How late a delivery may be before it counts as late.
pub const LATE_AFTER: Duration = Duration::minutes(2);

pub struct Deps {
    pub records: Arc<dyn RecordStore>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    pub zone: Zone,
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        Ok(Deps {
            records: stack.records(Rows::ReadWrite)?,
            notifier: stack.notifier()?,
            clock: Arc::new(jarvis_core::clock::SystemClock),
            zone: stack.zone(),
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            records: stack.records.clone(),
            notifier: stack.notifier.clone(),
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

/// Why a delivery fires nothing, or `None` when `occurrence` is still to fire.
fn already(r: &Reminder, occurrence: DateTime<Utc>) -> Option<&'static str> {
    if r.cancelled {
        return Some("the reminder was cancelled");
    }
    let fired = match r.schedule {
        ReminderSchedule::At { .. } => r.fired_at.is_some() || r.claimed.is_some(),
        ReminderSchedule::Cron { .. } => {
            r.claimed.is_some_and(|c| c >= occurrence)
                || r.fired_at.is_some_and(|f| f >= occurrence)
        }
    };
    fired.then_some("this occurrence already fired")
}

/// Fires one delivery of a reminder, exactly once per occurrence however often
/// it is delivered or raced:
/// 1. the stored reminder is read with its version (the event's copy is not trusted);
/// 2. the occurrence is claimed with a compare-and-set, so of two deliveries
///    one claims and the other skips;
/// 3. the owner is notified; if that fails the claim is released and the error
///    returned, so the scheduler's retry fires it;
/// 4. `fired_at` is recorded on the claimed version. If that write fails the
///    claim still stands, so no retry notifies twice.
#[tracing::instrument(skip_all, fields(tenant = %event.tenant_id, reminder = %event.id))]
pub async fn handle(deps: &Deps, event: Reminder) -> Result<Fired, StepError> {
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
    if let Some(reason) = already(&reminder, due) {
        return Ok(Fired::Skipped {
            reason: reason.into(),
        });
    }
    let mut claimed = reminder.clone();
    claimed.claimed = Some(due);
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
    let notified = deps
        .notifier
        .notify(&Notification {
            tenant_id: reminder.tenant_id.clone(),
            subject: "Reminder".into(),
            body,
            attributes: vec![
                ("kind".into(), "reminder".into()),
                ("reminder_id".into(), reminder.id.clone()),
                ("late".into(), late.to_string()),
            ],
        })
        .await;
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
    let recorded = match records::put_if(store, &fired, Some(&claim)).await {
        Err(PortError::Conflict(_)) => {
            // Changed since the claim (cancelled, say): record the fire on what is there now.
            records::update::<Reminder, ()>(store, &reminder.tenant_id, &reminder.id, |r| {
                Ok(match r {
                    Some(mut r) => {
                        r.fired_at = Some(now);
                        r.fired_count += 1;
                        r.late = late;
                        r.claimed = r.claimed.max(Some(due));
                        records::Change::Write(r, ())
                    }
                    None => records::Change::Keep(()),
                })
            })
            .await
        }
        other => other.map(|_| ()),
    };
    if let Err(e) = recorded {
        // The notification went out and the claim stands: a redelivery skips it.
        tracing::error!(error = %e, "the reminder fired but its record was not updated");
    }
    tracing::info!(late, "reminder fired");
    Ok(Fired::Sent { late })
}
