//! Checks the HTTP API's OpenAPI document (`jarvis::openapi::document`) and
//! real bodies against it, with `scripts/check-openapi.py` (the OpenAPI 3.1
//! validator and a JSON Schema 2020-12 validator, from the emulator's Python
//! packages).

use serde_json::{json, Value};

/// A body to check: a request the route takes, or a response it gave.
pub fn request(route: &str, body: Value) -> Value {
    json!({"route": route, "kind": "request", "body": body})
}

pub fn response(route: &str, status: u16, body: Value) -> Value {
    json!({"route": route, "kind": "response", "status": status, "body": body})
}

/// Runs the checker; panics with its report when the document is not valid
/// OpenAPI 3.1 or a body does not match its schema. Returns the report.
pub fn check(document: &Value, cases: &[Value]) -> String {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let doc = dir.path().join("openapi.json");
    let bodies = dir.path().join("cases.json");
    std::fs::write(&doc, document.to_string()).unwrap();
    std::fs::write(&bodies, Value::from(cases.to_vec()).to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/check-openapi.py"
        ))
        .arg(&doc)
        .arg(&bodies)
        .output()
        .expect("python3 runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    report
}
