//! Model usage as CloudWatch metrics, with no extra calls: each Bedrock call's
//! token counts and latency are written as one log line in the embedded metric
//! format (EMF), which CloudWatch Logs turns into metrics in the `Jarvis`
//! namespace, by `Function` and `Model`:
//!
//! - `InputTokens`, `OutputTokens` (Count): from Converse's `usage`, the stream's
//!   `metadata` event, Titan's `inputTextTokenCount`;
//! - `ModelLatency` (Milliseconds): Bedrock's own `metrics.latencyMs` for chat,
//!   the call's time as the function saw it for embeddings;
//! - `ModelCalls` (Count).
//!
//! The dashboard and the cost widgets read them (terraform/modules/observability).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

pub const NAMESPACE: &str = "Jarvis";
/// EMF takes at most 100 values per metric in one line.
const MAX_VALUES: usize = 100;

/// What one or more model calls of one kind used.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelUsage {
    /// `Converse`, `ConverseStream`, `InvokeModel`.
    pub operation: &'static str,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// One value per call, in milliseconds.
    pub latencies_ms: Vec<u64>,
}

type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// Where EMF lines go: stdout on Lambda (CloudWatch Logs reads it), a buffer in tests.
#[derive(Clone)]
pub struct Emf {
    sink: Sink,
    function: String,
}

impl std::fmt::Debug for Emf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emf")
            .field("function", &self.function)
            .finish()
    }
}

impl Emf {
    /// Lines to stdout, named for the function Lambda runs
    /// (`AWS_LAMBDA_FUNCTION_NAME`; outside Lambda, `local`).
    pub fn stdout() -> Self {
        let function =
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned());
        Self {
            sink: Arc::new(|line: &str| {
                use std::io::Write;
                // One write per line, so concurrent lines never interleave.
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(format!("{line}\n").as_bytes());
                let _ = out.flush();
            }),
            function,
        }
    }

    /// Lines kept in memory (tests read them back).
    pub fn capture(function: &str) -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let sink: Sink = Arc::new(move |line: &str| {
            kept.lock().expect("lines lock").push(line.to_owned());
        });
        (
            Self {
                sink,
                function: function.to_owned(),
            },
            lines,
        )
    }

    /// Writes `usage` as EMF line(s) stamped `now`.
    pub fn record(&self, usage: &ModelUsage, now: DateTime<Utc>) {
        for line in lines(&self.function, usage, now) {
            (self.sink)(&line.to_string());
        }
    }
}

/// The EMF document(s) for `usage`: token counts on the first line, latencies
/// split so no line carries more than 100 values.
pub fn lines(function: &str, usage: &ModelUsage, now: DateTime<Utc>) -> Vec<Value> {
    let chunks: Vec<&[u64]> = if usage.latencies_ms.is_empty() {
        vec![&[]]
    } else {
        usage.latencies_ms.chunks(MAX_VALUES).collect()
    };
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, latencies)| {
            let mut metrics = Vec::new();
            let mut doc = Map::new();
            if i == 0 {
                metrics.push(json!({"Name": "InputTokens", "Unit": "Count"}));
                metrics.push(json!({"Name": "OutputTokens", "Unit": "Count"}));
                metrics.push(json!({"Name": "ModelCalls", "Unit": "Count"}));
                doc.insert("InputTokens".into(), json!(usage.input_tokens));
                doc.insert("OutputTokens".into(), json!(usage.output_tokens));
                doc.insert("ModelCalls".into(), json!(usage.latencies_ms.len().max(1)));
            }
            if !latencies.is_empty() {
                metrics.push(json!({"Name": "ModelLatency", "Unit": "Milliseconds"}));
                doc.insert(
                    "ModelLatency".into(),
                    if latencies.len() == 1 {
                        json!(latencies[0])
                    } else {
                        json!(latencies)
                    },
                );
            }
            doc.insert(
                "_aws".into(),
                json!({
                    "Timestamp": now.timestamp_millis(),
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Function", "Model"]],
                        "Metrics": metrics,
                    }],
                }),
            );
            doc.insert("Function".into(), json!(function));
            doc.insert("Model".into(), json!(usage.model));
            doc.insert("Operation".into(), json!(usage.operation));
            Value::Object(doc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The EMF specification's rules, checked on what `lines` writes: a root
    /// `_aws` with a millisecond `Timestamp` and `CloudWatchMetrics`, every
    /// dimension and metric named there present as a root member, at most 100
    /// values per metric, at most 30 dimensions per set.
    fn assert_valid_emf(doc: &Value) {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        for directive in aws["CloudWatchMetrics"].as_array().unwrap() {
            assert!(!directive["Namespace"].as_str().unwrap().is_empty());
            for set in directive["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(set.len() <= 30);
                for d in set {
                    assert!(doc[d.as_str().unwrap()].is_string(), "{d} missing");
                }
            }
            for m in directive["Metrics"].as_array().unwrap() {
                let value = &doc[m["Name"].as_str().unwrap()];
                match value {
                    Value::Number(_) => {}
                    Value::Array(values) => assert!(values.len() <= MAX_VALUES),
                    other => panic!("{m}: {other}"),
                }
            }
        }
    }

    #[test]
    fn usage_becomes_valid_emf_with_at_most_100_values_a_line() {
        let now = "2026-11-29T10:00:00Z".parse().unwrap();
        let usage = ModelUsage {
            operation: "InvokeModel",
            model: "amazon.titan-embed-text-v2:0".into(),
            input_tokens: 5000,
            output_tokens: 0,
            latencies_ms: (0..250).collect(),
        };
        let docs = lines("jarvis-dev-embed", &usage, now);
        assert_eq!(docs.len(), 3);
        for d in &docs {
            assert_valid_emf(d);
            assert_eq!(d["Function"], "jarvis-dev-embed");
        }
        assert_eq!(docs[0]["InputTokens"], 5000);
        assert_eq!(docs[0]["ModelCalls"], 250);
        assert_eq!(docs[2]["ModelLatency"].as_array().unwrap().len(), 50);
        assert!(
            docs[1].get("InputTokens").is_none(),
            "tokens are counted once"
        );

        let (emf, seen) = Emf::capture("f");
        emf.record(
            &ModelUsage {
                operation: "Converse",
                model: "m".into(),
                input_tokens: 10,
                output_tokens: 3,
                latencies_ms: vec![812],
            },
            now,
        );
        let line: Value = serde_json::from_str(&seen.lock().unwrap()[0]).unwrap();
        assert_valid_emf(&line);
        assert_eq!(line["ModelLatency"], 812);
    }
}
