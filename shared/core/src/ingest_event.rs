//! The S3 `Object Created` event as EventBridge delivers it into the ingest SQS
//! queue: built here (the local blob store emits the same shape S3 does) and
//! parsed by `pipeline-router`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `detail` of an S3 `Object Created` EventBridge event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectCreatedDetail {
    pub version: String,
    pub bucket: BucketDetail,
    pub object: ObjectDetail,
    #[serde(rename = "request-id", default)]
    pub request_id: String,
    #[serde(default)]
    pub requester: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketDetail {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectDetail {
    pub key: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub etag: String,
    #[serde(
        rename = "version-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub version_id: Option<String>,
    #[serde(default)]
    pub sequencer: String,
}

/// The facts the router needs from one event.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
    pub time: DateTime<Utc>,
}

/// Builds the JSON body of the SQS message EventBridge would deliver.
pub fn object_created_body(
    bucket: &str,
    key: &str,
    etag: &str,
    size: u64,
    time: DateTime<Utc>,
) -> String {
    serde_json::json!({
        "version": "0",
        "id": format!("{:x}", time.timestamp_nanos_opt().unwrap_or_default()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "local",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": ObjectCreatedDetail {
            version: "0".into(),
            bucket: BucketDetail { name: bucket.into() },
            object: ObjectDetail {
                key: key.into(),
                size,
                etag: etag.into(),
                version_id: None,
                sequencer: format!("{:016X}", time.timestamp_micros()),
            },
            request_id: String::new(),
            requester: "jarvis-local".into(),
            reason: "PutObject".into(),
        }
    })
    .to_string()
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
