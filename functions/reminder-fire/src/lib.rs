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
use jarvis_core::{records, when, StepError};
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

#[tracing::instrument(skip_all, fields(tenant = %event.tenant_id, reminder = %event.id))]
pub async fn handle(deps: &Deps, event: Reminder) -> Result<Fired, StepError> {
    let now = deps.clock.now();
    let Some(mut reminder) =
        records::get::<Reminder>(deps.records.as_ref(), &event.tenant_id, &event.id).await?
    else {
        return Ok(Fired::Skipped {
            reason: "the reminder no longer exists".into(),
        });
    };
    if reminder.cancelled {
        return Ok(Fired::Skipped {
            reason: "the reminder was cancelled".into(),
        });
    }
    let due = due_time(&reminder, now);
    if let (ReminderSchedule::At { .. }, Some(_)) = (&reminder.schedule, reminder.fired_at) {
        return Ok(Fired::Skipped {
            reason: "the reminder already fired".into(),
        });
    }
    // A recurring reminder fires once per occurrence.
    if let (ReminderSchedule::Cron { .. }, Some(fired), Some(due)) =
        (&reminder.schedule, reminder.fired_at, due)
    {
        if fired >= due {
            return Ok(Fired::Skipped {
                reason: "this occurrence already fired".into(),
            });
        }
    }
    let late = due.is_some_and(|d| now - d > LATE_AFTER);
    let mut body = reminder.text.clone();
    if let (true, Some(d)) = (late, due) {
        let zone = records::zone_of(deps.records.as_ref(), &reminder.tenant_id, deps.zone).await?;
        body.push_str(&format!(" (late: it was due {})", when::describe(d, zone)));
    }
    deps.notifier
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
        .await?;
    reminder.fired_at = Some(now);
    reminder.fired_count += 1;
    reminder.late = late;
    records::put(deps.records.as_ref(), &reminder).await?;
    tracing::info!(late, "reminder fired");
    Ok(Fired::Sent { late })
}
