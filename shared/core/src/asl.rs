//! The ingestion state machine's definition (`terraform/modules/pipeline/
//! state-machine.asl.json`, an Amazon States Language template) read as data,
//! so the local runtime follows the very retry rules Step Functions does
//! instead of restating them.

use serde_json::Value;
use std::time::Duration;

/// The definition, as Terraform renders it from.
pub const TEMPLATE: &str =
    include_str!("../../../terraform/modules/pipeline/state-machine.asl.json");

/// The template as JSON: `${…}` placeholders inside strings stay as they are;
/// unquoted ones (numbers Terraform fills in) become 0.
pub fn parse(template: &str) -> Result<Value, serde_json::Error> {
    let mut out = String::with_capacity(template.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            escaped = !escaped && c == '\\';
            in_string = escaped || c != '"';
            out.push(c);
        } else if c == '$' && chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
            out.push('0');
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    serde_json::from_str(&out)
}

/// The functions the Task states invoke (the pipeline's steps after the router).
pub const TASK_FUNCTIONS: [&str; 8] = [
    "extract-document",
    "extract-image",
    "extract-audio",
    "parse-email",
    "detect-pii",
    "chunk",
    "embed",
    "index",
];

/// A Task state's `Retry` rule for one error name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all: the first, then `MaxAttempts` retries.
    pub attempts: u32,
    pub interval: Duration,
    pub backoff_rate: f64,
}

impl RetryPolicy {
    /// The wait before retry `n` (1-based): `interval × rate^(n-1)`.
    pub fn wait(&self, n: u32) -> Duration {
        self.interval
            .mul_f64(self.backoff_rate.powi(n.saturating_sub(1) as i32))
    }
}

/// The rule for `error` of the Task state that invokes `function` (its
/// `Resource` is `${fn_<function with _>}`), with the States Language defaults
/// (1 s, rate 2, 3 retries) for what the rule leaves out.
pub fn retry_policy(asl: &Value, function: &str, error: &str) -> Option<RetryPolicy> {
    let resource = format!("${{fn_{}}}", function.replace('-', "_"));
    let state = asl["States"]
        .as_object()?
        .values()
        .find(|s| s["Type"] == "Task" && s["Resource"] == resource.as_str())?;
    let rule = state["Retry"].as_array()?.iter().find(|r| {
        r["ErrorEquals"]
            .as_array()
            .is_some_and(|e| e.iter().any(|n| n == error || n == "States.ALL"))
    })?;
    Some(RetryPolicy {
        attempts: rule["MaxAttempts"].as_u64().unwrap_or(3) as u32 + 1,
        interval: Duration::from_secs_f64(rule["IntervalSeconds"].as_f64().unwrap_or(1.0)),
        backoff_rate: rule["BackoffRate"].as_f64().unwrap_or(2.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_definition_gives_every_step_its_transient_retry_rule() {
        let asl = parse(TEMPLATE).unwrap();
        for f in TASK_FUNCTIONS {
            let p = retry_policy(&asl, f, "Jarvis.Transient")
                .unwrap_or_else(|| panic!("{f} has no Jarvis.Transient retry"));
            assert!(p.attempts >= 2 && p.backoff_rate >= 1.0, "{f}: {p:?}");
        }
        assert!(retry_policy(&asl, "no-such-step", "Jarvis.Transient").is_none());
    }

    #[test]
    fn waits_grow_by_the_rate() {
        let p = RetryPolicy {
            attempts: 6,
            interval: Duration::from_secs(2),
            backoff_rate: 2.0,
        };
        assert_eq!(
            (1..=5).map(|n| p.wait(n).as_secs()).collect::<Vec<_>>(),
            [2, 4, 8, 16, 32]
        );
    }
}
