//! `Scheduler` on EventBridge Scheduler: one schedule per reminder, in one
//! schedule group, targeting `reminder-fire` with the reminder as its input.
//! One-time reminders are `at()` schedules, recurring ones `cron()` schedules in
//! the reminder's time zone; both have `ActionAfterCompletion=DELETE`, so a
//! one-time schedule removes itself once delivered.

use crate::error::{sdk_error, service_code};
use async_trait::async_trait;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, Target as SdkTarget,
};
use aws_sdk_scheduler::Client;
use chrono::{DateTime, NaiveDateTime, Utc};
use jarvis_core::domain::{Reminder, ReminderRef, ReminderSchedule, TenantId};
use jarvis_core::ports::{PortResult, Scheduler};
use jarvis_core::PortError;
use sha2::{Digest, Sha256};

const SERVICE: &str = "scheduler";
const NAME_PREFIX: &str = "rem-";
const AT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Where schedules live and what they invoke.
#[derive(Debug, Clone)]
pub struct Target {
    pub group: String,
    /// `reminder-fire`'s ARN.
    pub function_arn: String,
    /// The role EventBridge Scheduler assumes to invoke it.
    pub role_arn: String,
    /// The SQS queue deliveries go to when every retry failed (Scheduler
    /// delivers at least once, and drops what it gives up on without one).
    pub dead_letter_arn: String,
}

#[derive(Clone)]
pub struct EventBridgeScheduler {
    client: Client,
    target: Target,
    /// Only `cancel` (data erasure): creating or listing is refused, as IAM would.
    cancel_only: bool,
}

/// The schedule's name: 64 characters at most, so derived from tenant and reminder id.
pub fn schedule_name(tenant: &TenantId, reminder_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(tenant.as_str().as_bytes());
    h.update([0]);
    h.update(reminder_id.as_bytes());
    format!("{NAME_PREFIX}{}", &hex::encode(h.finalize())[..40])
}

/// The schedule expression and its time zone.
pub fn expression(schedule: &ReminderSchedule) -> (String, String) {
    match schedule {
        ReminderSchedule::At { at } => (format!("at({})", at.format(AT_FORMAT)), "UTC".into()),
        ReminderSchedule::Cron {
            expression,
            time_zone,
        } => (format!("cron({expression})"), time_zone.clone()),
    }
}

/// When a one-time expression fires (`at(…)` in UTC); `None` for recurring ones.
pub fn at_time(expression: &str) -> Option<DateTime<Utc>> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    NaiveDateTime::parse_from_str(inner, AT_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

impl EventBridgeScheduler {
    pub fn new(client: Client, target: Target) -> Self {
        Self {
            client,
            target,
            cancel_only: false,
        }
    }

    /// A scheduler that may only delete schedules of `group`.
    pub fn cancel_only(client: Client, group: &str) -> Self {
        Self {
            client,
            target: Target {
                group: group.to_owned(),
                function_arn: String::new(),
                role_arn: String::new(),
                dead_letter_arn: String::new(),
            },
            cancel_only: true,
        }
    }

    fn writable(&self, operation: &str) -> PortResult<()> {
        if self.cancel_only {
            return Err(PortError::Backend {
                backend: SERVICE,
                message: format!(
                    "AccessDenied: this function may only cancel schedules, not {operation}"
                ),
                source: None,
            });
        }
        Ok(())
    }

    /// The schedule's target. Its input names the reminder and nothing more:
    /// Scheduler keeps it under its own key, so the reminder's text stays in
    /// the table (KMS-encrypted with the stack's key) and reminder-fire reads it there.
    fn sdk_target(&self, reminder: &Reminder) -> PortResult<SdkTarget> {
        let input = serde_json::to_string(&ReminderRef::from(reminder))
            .map_err(|e| PortError::backend(SERVICE, e))?;
        SdkTarget::builder()
            .arn(&self.target.function_arn)
            .role_arn(&self.target.role_arn)
            .input(input)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(20)
                    .maximum_event_age_in_seconds(24 * 3600)
                    .build(),
            )
            .dead_letter_config(
                DeadLetterConfig::builder()
                    .arn(&self.target.dead_letter_arn)
                    .build(),
            )
            .build()
            .map_err(|e| PortError::Invalid(e.to_string()))
    }
}

fn off() -> PortResult<FlexibleTimeWindow> {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| PortError::Invalid(e.to_string()))
}

#[async_trait]
impl Scheduler for EventBridgeScheduler {
    async fn schedule(&self, reminder: &Reminder) -> PortResult<()> {
        self.writable("CreateSchedule")?;
        let name = schedule_name(&reminder.tenant_id, &reminder.id);
        let (expr, zone) = expression(&reminder.schedule);
        let created = self
            .client
            .create_schedule()
            .name(&name)
            .group_name(&self.target.group)
            .schedule_expression(&expr)
            .schedule_expression_timezone(&zone)
            .flexible_time_window(off()?)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(self.sdk_target(reminder)?)
            .description(format!("Jarvis reminder {}", reminder.id))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Scheduling the same reminder again (a retry, or a changed time) updates it.
            Err(e) if service_code(&e) == Some("ConflictException") => {
                self.client
                    .update_schedule()
                    .name(&name)
                    .group_name(&self.target.group)
                    .schedule_expression(&expr)
                    .schedule_expression_timezone(&zone)
                    .flexible_time_window(off()?)
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .target(self.sdk_target(reminder)?)
                    .send()
                    .await
                    .map_err(|e| sdk_error(SERVICE, "UpdateSchedule", e))?;
                Ok(())
            }
            Err(e) => Err(sdk_error(SERVICE, "CreateSchedule", e)),
        }
    }

    async fn cancel(&self, tenant: &TenantId, reminder_id: &str) -> PortResult<()> {
        let result = self
            .client
            .delete_schedule()
            .name(schedule_name(tenant, reminder_id))
            .group_name(&self.target.group)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if service_code(&e) == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(sdk_error(SERVICE, "DeleteSchedule", e)),
        }
    }

    /// One-time schedules whose time has passed and that are still there: a
    /// delivered schedule deletes itself, so these are late (being retried by
    /// Scheduler, or stuck). Recurring schedules are never "due" here.
    async fn due(&self, now: DateTime<Utc>) -> PortResult<Vec<ReminderRef>> {
        self.writable("ListSchedules")?;
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_schedules()
                .group_name(&self.target.group)
                .name_prefix(NAME_PREFIX)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "ListSchedules", e))?;
            names.extend(
                page.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_owned)),
            );
            match page.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        let mut due = Vec::new();
        for name in names {
            let got = self
                .client
                .get_schedule()
                .name(&name)
                .group_name(&self.target.group)
                .send()
                .await;
            let schedule = match got {
                Ok(s) => s,
                // Deleted between the list and the get: it was delivered.
                Err(e) if service_code(&e) == Some("ResourceNotFoundException") => continue,
                Err(e) => return Err(sdk_error(SERVICE, "GetSchedule", e)),
            };
            let at = schedule.schedule_expression().and_then(at_time);
            if at.is_none_or(|at| at > now) {
                continue;
            }
            let input = schedule.target().map(|t| t.input()).unwrap_or_default();
            if let Some(input) = input {
                // Schedules made before inputs were references hold the whole
                // reminder, which reads as its reference too.
                match serde_json::from_str::<ReminderRef>(input) {
                    Ok(r) => due.push(r),
                    Err(e) => {
                        tracing::warn!(schedule = name, error = %e, "schedule input is not a reminder")
                    }
                }
            }
        }
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_round_trip_and_names_fit() {
        let at = "2026-11-24T09:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let (e, z) = expression(&ReminderSchedule::At { at });
        assert_eq!((e.as_str(), z.as_str()), ("at(2026-11-24T09:00:00)", "UTC"));
        assert_eq!(at_time(&e), Some(at));
        let (c, tz) = expression(&ReminderSchedule::Cron {
            expression: "0 9 ? * MON *".into(),
            time_zone: "Europe/Lisbon".into(),
        });
        assert_eq!(
            (c.as_str(), tz.as_str()),
            ("cron(0 9 ? * MON *)", "Europe/Lisbon")
        );
        assert_eq!(at_time(&c), None);
        let t = TenantId::parse(&"t".repeat(128)).unwrap();
        let name = schedule_name(&t, "r1");
        assert!(name.len() <= 64);
        assert_ne!(name, schedule_name(&TenantId::parse("u").unwrap(), "r1"));
    }
}
