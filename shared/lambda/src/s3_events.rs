//! The S3 `Object Created` event as EventBridge delivers it into the ingest SQS
//! queue (`aws_lambda_events`' `EventBridgeEvent`, with the detail S3 sends,
//! which the crate does not type: `jarvis_core::ingest_event`), read into the
//! facts `pipeline-router` needs.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use jarvis_core::ingest_event::ObjectCreatedDetail;

/// The facts the router needs from one event.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
    pub time: DateTime<Utc>,
}

/// Parses an SQS message body holding an EventBridge S3 `Object Created` event.
pub fn parse_object_created(body: &str) -> Result<ObjectCreated, String> {
    let event: EventBridgeEvent<ObjectCreatedDetail> =
        serde_json::from_str(body).map_err(|e| format!("not an EventBridge S3 event: {e}"))?;
    if event.source != "aws.s3" || event.detail_type != "Object Created" {
        return Err(format!(
            "unexpected event {} / {}",
            event.source, event.detail_type
        ));
    }
    Ok(ObjectCreated {
        bucket: event.detail.bucket.name,
        key: event.detail.object.key,
        etag: event.detail.object.etag.trim_matches('"').to_owned(),
        size: event.detail.object.size,
        time: event.time.unwrap_or_else(Utc::now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jarvis_core::ingest_event::object_created_body;

    #[test]
    fn built_events_parse_back() {
        let t = Utc::now();
        let body = object_created_body("raw", "alice/uploads/a.md", "abc", 12, t);
        let parsed = parse_object_created(&body).unwrap();
        assert_eq!(parsed.key, "alice/uploads/a.md");
        assert_eq!(parsed.size, 12);
        assert_eq!(parsed.etag, "abc");
    }

    #[test]
    fn other_events_are_refused() {
        assert!(parse_object_created("{}").is_err());
        assert!(parse_object_created("not json").is_err());
    }
}
