//! The S3 `Object Created` event as EventBridge delivers it into the ingest SQS
//! queue: its `detail`, and the message body built here (the local blob store
//! emits the same shape S3 does). Reading one back is the edge's job
//! (`jarvis_lambda::s3_events`, for `pipeline-router`).

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
