//! `Transcriber` on Amazon Transcribe: an async job named after the object
//! version (so asking again finds the same job), its JSON result written to the
//! curated bucket and read back from S3. While the job runs this answers
//! `PortError::Pending`; the state machine's poll loop asks again.

use crate::s3::S3BlobStore;
use crate::signed::{AwsClient, TRANSCRIBE};
use async_trait::async_trait;
use jarvis_core::domain::ObjectRef;
use jarvis_core::ports::{
    BlobStore, Forgotten, PortResult, Transcriber, Transcript, TranscriptionJobs,
};
use jarvis_core::{PortError, TenantId};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const SERVICE: &str = "transcribe";

/// The fields Jarvis reads of a job (`TranscriptionJob`, or a list's summary).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Job {
    transcription_job_name: Option<String>,
    /// `QUEUED`, `IN_PROGRESS`, `FAILED` or `COMPLETED`.
    transcription_job_status: Option<String>,
    failure_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Jobs {
    transcription_job: Option<Job>,
    transcription_job_summaries: Vec<Job>,
    next_token: Option<String>,
}

#[derive(Clone)]
pub struct AwsTranscriber {
    client: AwsClient,
    blobs: Arc<S3BlobStore>,
    output_bucket: String,
}

/// Job name for one object version: `[0-9a-zA-Z._-]`, at most 200 characters:
/// `jarvis-` and the tenant's tag ([`tenant_jobs`]), then a digest of the version.
pub fn job_name(media: &ObjectRef) -> String {
    let mut h = Sha256::new();
    for part in [&media.bucket, &media.key, &media.etag] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let tenant = jarvis_core::pipeline::keys::tenant_of_raw_key(&media.key);
    format!(
        "{}{}",
        tenant_jobs(tenant.as_ref()),
        &hex::encode(h.finalize())[..48]
    )
}

/// The start every job name of a tenant shares (`jarvis-<12 hex>-`), so the
/// tenant's jobs can be found by name alone; `jarvis-shared-` for media
/// outside a tenant's prefix.
pub fn tenant_jobs(tenant: Option<&TenantId>) -> String {
    match tenant {
        Some(t) => format!(
            "jarvis-{}-",
            &hex::encode(Sha256::digest(format!("tenant\0{t}").as_bytes()))[..12]
        ),
        None => "jarvis-shared-".into(),
    }
}

/// `TranscriptionJobs` on Transcribe: a tenant's jobs found by their names'
/// shared start, and deleted.
pub struct AwsTranscriptionJobs {
    client: AwsClient,
}

impl AwsTranscriptionJobs {
    pub fn new(client: AwsClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl TranscriptionJobs for AwsTranscriptionJobs {
    async fn forget_tenant(&self, tenant: &TenantId) -> PortResult<Forgotten> {
        self.forget_starting(&tenant_jobs(Some(tenant))).await
    }

    async fn forget_unowned(&self) -> PortResult<usize> {
        Ok(self.forget_starting(&tenant_jobs(None)).await?.deleted)
    }
}

impl AwsTranscriptionJobs {
    /// Deletes every finished job whose name starts with `start`, and counts
    /// the ones still queued or in progress: Transcribe refuses to delete
    /// those (BadRequestException, "a non-terminal state"), and each writes
    /// its transcript when it ends.
    async fn forget_starting(&self, start: &str) -> PortResult<Forgotten> {
        let start = start.to_owned();
        let mut finished = Vec::new();
        let mut running = 0;
        let mut token: Option<String> = None;
        loop {
            let mut request = json!({"JobNameContains": start});
            if let Some(t) = token.take() {
                request["NextToken"] = Value::String(t);
            }
            let page: Jobs = self
                .client
                .call_port(&TRANSCRIBE, "ListTranscriptionJobs", request)
                .await?;
            for job in page.transcription_job_summaries {
                let Some(name) = job.transcription_job_name.filter(|n| n.starts_with(&start))
                else {
                    continue;
                };
                match job.transcription_job_status.as_deref() {
                    Some("QUEUED" | "IN_PROGRESS") => running += 1,
                    _ => finished.push(name),
                }
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let mut deleted = 0;
        for name in finished {
            let request = json!({"TranscriptionJobName": name});
            let deleting =
                self.client
                    .call::<_, Value>(&TRANSCRIBE, "DeleteTranscriptionJob", &request);
            match deleting.await {
                Ok(_) => deleted += 1,
                // Gone already (a retried erasure).
                Err(e) if e.code() == Some("BadRequestException") => {}
                Err(e) => return Err(e.into_port(SERVICE)),
            }
        }
        Ok(Forgotten { deleted, running })
    }
}

/// Where Transcribe writes the transcript of `media`: under the tenant's
/// prefix of the curated bucket, so erasing a tenant's prefix erases it too.
pub fn output_key(media: &ObjectRef, job: &str) -> String {
    match jarvis_core::pipeline::keys::tenant_of_raw_key(&media.key) {
        Some(tenant) => format!("{tenant}/transcripts/{job}.json"),
        None => format!("transcripts/{job}.json"),
    }
}

/// Transcribe's `MediaFormat` for a content type; `None` when it has none.
pub fn media_format(content_type: &str) -> Option<&'static str> {
    Some(match content_type {
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/mp4" | "audio/x-m4a" | "audio/m4a" | "video/mp4" => "mp4",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/amr" => "amr",
        "audio/webm" | "video/webm" => "webm",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct ResultFile {
    results: Results,
}

#[derive(Deserialize)]
struct Results {
    #[serde(default)]
    transcripts: Vec<TranscriptText>,
    #[serde(default)]
    audio_segments: Vec<Segment>,
}

#[derive(Deserialize)]
struct TranscriptText {
    transcript: String,
}

#[derive(Deserialize)]
struct Segment {
    start_time: String,
    transcript: String,
}

/// Reads Transcribe's result JSON.
pub fn parse_result(json: &[u8]) -> PortResult<Transcript> {
    let file: ResultFile = serde_json::from_slice(json).map_err(|e| PortError::Backend {
        backend: SERVICE,
        message: format!("the transcription result is not what Transcribe writes: {e}"),
        source: None,
    })?;
    let text = file
        .results
        .transcripts
        .iter()
        .map(|t| t.transcript.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let segments = file
        .results
        .audio_segments
        .into_iter()
        .filter_map(|s| Some((s.start_time.parse().ok()?, s.transcript)))
        .collect();
    Ok(Transcript { text, segments })
}

impl AwsTranscriber {
    pub fn new(client: AwsClient, blobs: Arc<S3BlobStore>, output_bucket: &str) -> Self {
        Self {
            client,
            blobs,
            output_bucket: output_bucket.to_owned(),
        }
    }

    async fn start(&self, name: &str, media: &ObjectRef, format: &str) -> PortResult<()> {
        let request = json!({
            "TranscriptionJobName": name,
            "Media": {"MediaFileUri": format!("s3://{}/{}", media.bucket, media.key)},
            "MediaFormat": format,
            "IdentifyLanguage": true,
            "OutputBucketName": self.output_bucket,
            "OutputKey": output_key(media, name),
        });
        self.client
            .call_port::<_, Value>(&TRANSCRIBE, "StartTranscriptionJob", request)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Transcriber for AwsTranscriber {
    async fn transcribe(&self, media: &ObjectRef, content_type: &str) -> PortResult<Transcript> {
        let format = media_format(content_type).ok_or_else(|| {
            PortError::Invalid(format!("Transcribe cannot read {content_type} media"))
        })?;
        let name = job_name(media);
        let request = json!({"TranscriptionJobName": name});
        let got = self
            .client
            .call::<_, Jobs>(&TRANSCRIBE, "GetTranscriptionJob", &request)
            .await;
        let job = match got {
            Ok(out) => out.transcription_job,
            // Transcribe answers an unknown job name with BadRequestException.
            Err(e) if e.code() == Some("BadRequestException") => None,
            Err(e) => return Err(e.into_port(SERVICE)),
        };
        let Some(job) = job else {
            self.start(&name, media, format).await?;
            return Err(PortError::Pending(format!(
                "transcription job {name} started"
            )));
        };
        match job.transcription_job_status.as_deref() {
            Some("COMPLETED") => {
                let json = self
                    .blobs
                    .get(&self.output_bucket, &output_key(media, &name))
                    .await?;
                parse_result(&json)
            }
            Some("FAILED") => Err(PortError::Invalid(format!(
                "Transcribe could not transcribe the media: {}",
                job.failure_reason.as_deref().unwrap_or("no reason given")
            ))),
            _ => Err(PortError::Pending(format!(
                "transcription job {name} is still running"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_parse_as_transcribe_writes_them() {
        let json = br#"{"jobName":"j","accountId":"1","status":"COMPLETED","results":{
            "transcripts":[{"transcript":"Call Ana at nine."}],
            "audio_segments":[{"id":0,"transcript":"Call Ana at nine.","start_time":"0.42","end_time":"1.9","items":[0,1]}],
            "items":[]}}"#;
        let t = parse_result(json).unwrap();
        assert_eq!(t.text, "Call Ana at nine.");
        assert_eq!(t.segments, vec![(0.42, "Call Ana at nine.".into())]);
        assert!(parse_result(b"{}").is_err());
        assert_eq!(media_format("audio/mpeg"), Some("mp3"));
        assert_eq!(media_format("text/plain"), None);
    }
}
