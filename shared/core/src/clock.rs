//! The time, as a port: the system clock in production, a clock the tests move.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move (tests: reminders fire without
/// waiting for real hours).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fresh random id with a readable prefix and a time order (`task_18c…`).
pub fn new_id(prefix: &str, now: DateTime<Utc>) -> String {
    let mut random = [0u8; 6];
    // getrandom fails only without an OS entropy source; the time part still differs.
    let _ = getrandom::fill(&mut random);
    format!(
        "{prefix}_{:011x}{}",
        now.timestamp_millis().max(0),
        hex::encode(random)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let t0 = "2026-11-23T08:00:00Z".parse().unwrap();
        let clock = ManualClock::at(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::hours(2));
        assert_eq!(clock.now(), t0 + Duration::hours(2));
    }

    #[test]
    fn ids_sort_by_time_and_differ() {
        let t0: DateTime<Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
        let a = new_id("task", t0);
        let b = new_id("task", t0 + Duration::milliseconds(1));
        assert!(a.starts_with("task_") && a < b, "{a} {b}");
        assert_ne!(new_id("task", t0), new_id("task", t0));
    }
}
