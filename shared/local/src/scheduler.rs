//! The in-process scheduler: each scheduled reminder is a row with its next fire
//! time. The runtime's ticker asks for what is [`due`](Scheduler::due) by its
//! clock, fires it through `reminder-fire`, then calls [`LocalScheduler::fired`]:
//! a one-time reminder's row goes, a recurring one moves to its next time. Rows
//! survive restarts, so reminders due while the runtime was down fire at the next
//! start (`reminder-fire` marks them late).

use crate::{sqlite_err, Db};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jarvis_core::clock::Clock;
use jarvis_core::domain::{Reminder, ReminderRef, ReminderSchedule};
use jarvis_core::ports::{PortResult, Scheduler};
use jarvis_core::{when, PortError, TenantId};
use rusqlite::params;
use std::sync::Arc;

#[derive(Clone)]
pub struct LocalScheduler {
    db: Db,
    clock: Arc<dyn Clock>,
}

impl LocalScheduler {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// When `reminder` next fires after `after`; `None` when it never will.
    pub fn next_fire(
        reminder: &Reminder,
        after: DateTime<Utc>,
    ) -> PortResult<Option<DateTime<Utc>>> {
        match &reminder.schedule {
            ReminderSchedule::At { at } => Ok((reminder.fired_at.is_none()).then_some(*at)),
            ReminderSchedule::Cron {
                expression,
                time_zone,
            } => {
                let zone = when::zone(time_zone).map_err(PortError::Invalid)?;
                when::next_cron(expression, zone, after)
                    .map(Some)
                    .map_err(PortError::Invalid)
            }
        }
    }

    fn store(&self, reminder: &Reminder, next: Option<DateTime<Utc>>) -> PortResult<()> {
        let conn = self.db.lock();
        match next {
            Some(next) => {
                let body =
                    serde_json::to_string(reminder).map_err(|e| PortError::backend("sqlite", e))?;
                conn.execute(
                    "INSERT INTO schedules (tenant, reminder_id, next_fire, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, reminder_id) DO UPDATE SET next_fire = excluded.next_fire, body = excluded.body",
                    params![
                        reminder.tenant_id.as_str(),
                        reminder.id,
                        next.timestamp_millis(),
                        body
                    ],
                )
            }
            None => conn.execute(
                "DELETE FROM schedules WHERE tenant = ?1 AND reminder_id = ?2",
                params![reminder.tenant_id.as_str(), reminder.id],
            ),
        }
        .map_err(sqlite_err)?;
        Ok(())
    }

    /// After a fire at `at`: a one-time reminder is done, a recurring one moves on.
    pub fn fired(&self, reminder: &Reminder, at: DateTime<Utc>) -> PortResult<()> {
        let next = match &reminder.schedule {
            ReminderSchedule::At { .. } => None,
            ReminderSchedule::Cron { .. } => Self::next_fire(reminder, at)?,
        };
        self.store(reminder, next)
    }

    /// Every scheduled reminder of a tenant (its next fire time first).
    pub fn scheduled(&self, tenant: &TenantId) -> PortResult<Vec<(DateTime<Utc>, String)>> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare(
                "SELECT next_fire, reminder_id FROM schedules WHERE tenant = ?1 ORDER BY next_fire",
            )
            .map_err(sqlite_err)?;
        let rows = stmt
            .query_map(params![tenant.as_str()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sqlite_err)?;
        rows.map(|r| {
            let (ms, id) = r.map_err(sqlite_err)?;
            Ok((DateTime::from_timestamp_millis(ms).unwrap_or_default(), id))
        })
        .collect()
    }

    /// The reminders whose next fire time is at or before `now`, in order: what
    /// the runtime fires, then moves on with [`LocalScheduler::fired`].
    pub fn due_reminders(&self, now: DateTime<Utc>) -> PortResult<Vec<Reminder>> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare("SELECT body FROM schedules WHERE next_fire <= ?1 ORDER BY next_fire")
            .map_err(sqlite_err)?;
        let rows = stmt
            .query_map(params![now.timestamp_millis()], |r| r.get::<_, String>(0))
            .map_err(sqlite_err)?;
        rows.map(|r| {
            let body = r.map_err(sqlite_err)?;
            serde_json::from_str(&body).map_err(|e| PortError::backend("sqlite", e))
        })
        .collect()
    }

    /// Drops every schedule of a tenant; returns how many.
    pub fn cancel_tenant(&self, tenant: &TenantId) -> PortResult<usize> {
        self.db
            .lock()
            .execute(
                "DELETE FROM schedules WHERE tenant = ?1",
                params![tenant.as_str()],
            )
            .map_err(sqlite_err)
    }
}

#[async_trait]
impl Scheduler for LocalScheduler {
    async fn schedule(&self, reminder: &Reminder) -> PortResult<()> {
        let next = Self::next_fire(reminder, self.clock.now())?;
        self.store(reminder, next)
    }

    async fn cancel(&self, tenant: &TenantId, reminder_id: &str) -> PortResult<()> {
        self.db
            .lock()
            .execute(
                "DELETE FROM schedules WHERE tenant = ?1 AND reminder_id = ?2",
                params![tenant.as_str(), reminder_id],
            )
            .map_err(sqlite_err)?;
        Ok(())
    }

    async fn due(&self, now: DateTime<Utc>) -> PortResult<Vec<ReminderRef>> {
        Ok(self
            .due_reminders(now)?
            .iter()
            .map(ReminderRef::from)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use jarvis_core::clock::ManualClock;

    fn reminder(id: &str, schedule: ReminderSchedule) -> Reminder {
        Reminder {
            id: id.into(),
            tenant_id: TenantId::parse("alice").unwrap(),
            text: "call Ana".into(),
            schedule,
            fired_at: None,
            cancelled: false,
            created_at: Utc::now(),
            late: false,
            fired_count: 0,
            claimed: None,
            claimed_at: None,
            changed_at: None,
        }
    }

    #[tokio::test]
    async fn one_time_reminders_are_due_once_and_recurring_ones_move_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.sqlite3")).unwrap();
        let t0: DateTime<Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
        let clock = ManualClock::at(t0);
        let s = LocalScheduler::new(db, Arc::new(clock.clone()));
        let once = reminder(
            "r1",
            ReminderSchedule::At {
                at: t0 + Duration::hours(1),
            },
        );
        let daily = reminder(
            "r2",
            ReminderSchedule::Cron {
                expression: "30 9 * * ? *".into(),
                time_zone: "UTC".into(),
            },
        );
        s.schedule(&once).await.unwrap();
        s.schedule(&daily).await.unwrap();
        assert!(s.due_reminders(t0).unwrap().is_empty());
        let at = t0 + Duration::hours(2);
        let due = s.due_reminders(at).unwrap();
        assert_eq!(
            due.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["r1", "r2"]
        );
        for r in &due {
            s.fired(r, at).unwrap();
        }
        assert!(s.due(at).await.unwrap().is_empty(), "nothing fires twice");
        let tomorrow = at + Duration::days(1);
        let due = s.due_reminders(tomorrow).unwrap();
        assert_eq!(due.len(), 1, "the daily one is due again the next day");
        s.cancel(&daily.tenant_id, "r2").await.unwrap();
        assert!(s.due(tomorrow).await.unwrap().is_empty());
    }
}
