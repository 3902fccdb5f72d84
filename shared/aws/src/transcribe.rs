//! `Transcriber` on Amazon Transcribe: an async job named after the object
//! version (so asking again finds the same job), its JSON result written to the
//! curated bucket and read back from S3. While the job runs this answers
//! `PortError::Pending`; the state machine's poll loop asks again.

use crate::error::sdk_error;
use crate::s3::S3BlobStore;
use async_trait::async_trait;
use aws_sdk_transcribe::types::{Media, MediaFormat, TranscriptionJobStatus};
use aws_sdk_transcribe::Client;
use jarvis_core::domain::ObjectRef;
use jarvis_core::ports::{
    BlobStore, Forgotten, PortResult, Transcriber, Transcript, TranscriptionJobs,
};
use jarvis_core::{PortError, TenantId};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

const SERVICE: &str = "transcribe";

#[derive(Clone)]
pub struct AwsTranscriber {
    client: Client,
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
    client: Client,
}

impl AwsTranscriptionJobs {
    pub fn new(client: Client) -> Self {
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
        use aws_sdk_transcribe::types::TranscriptionJobStatus as Status;
        let start = start.to_owned();
        let mut finished = Vec::new();
        let mut running = 0;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_transcription_jobs()
                .job_name_contains(&start)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "ListTranscriptionJobs", e))?;
            for job in page.transcription_job_summaries() {
                let Some(name) = job
                    .transcription_job_name()
                    .filter(|n| n.starts_with(&start))
                else {
                    continue;
                };
                match job.transcription_job_status() {
                    Some(Status::Queued | Status::InProgress) => running += 1,
                    _ => finished.push(name.to_owned()),
                }
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        let mut deleted = 0;
        for name in finished {
            match self
                .client
                .delete_transcription_job()
                .transcription_job_name(&name)
                .send()
                .await
            {
                Ok(_) => deleted += 1,
                // Gone already (a retried erasure).
                Err(e) if crate::error::service_code(&e) == Some("BadRequestException") => {}
                Err(e) => return Err(sdk_error(SERVICE, "DeleteTranscriptionJob", e)),
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

/// Transcribe's media format for a content type; `None` when it has none.
pub fn media_format(content_type: &str) -> Option<MediaFormat> {
    Some(match content_type {
        "audio/mpeg" | "audio/mp3" => MediaFormat::Mp3,
        "audio/mp4" | "audio/x-m4a" | "audio/m4a" | "video/mp4" => MediaFormat::Mp4,
        "audio/wav" | "audio/x-wav" | "audio/wave" => MediaFormat::Wav,
        "audio/flac" | "audio/x-flac" => MediaFormat::Flac,
        "audio/ogg" | "audio/opus" => MediaFormat::Ogg,
        "audio/amr" => MediaFormat::Amr,
        "audio/webm" | "video/webm" => MediaFormat::Webm,
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
    pub fn new(client: Client, blobs: Arc<S3BlobStore>, output_bucket: &str) -> Self {
        Self {
            client,
            blobs,
            output_bucket: output_bucket.to_owned(),
        }
    }

    async fn start(&self, name: &str, media: &ObjectRef, format: MediaFormat) -> PortResult<()> {
        self.client
            .start_transcription_job()
            .transcription_job_name(name)
            .media(
                Media::builder()
                    .media_file_uri(format!("s3://{}/{}", media.bucket, media.key))
                    .build(),
            )
            .media_format(format)
            .identify_language(true)
            .output_bucket_name(&self.output_bucket)
            .output_key(output_key(media, name))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "StartTranscriptionJob", e))?;
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
        let got = self
            .client
            .get_transcription_job()
            .transcription_job_name(&name)
            .send()
            .await;
        let job = match got {
            Ok(out) => out.transcription_job,
            // Transcribe answers an unknown job name with BadRequestException.
            Err(e) if crate::error::service_code(&e) == Some("BadRequestException") => None,
            Err(e) => return Err(sdk_error(SERVICE, "GetTranscriptionJob", e)),
        };
        let Some(job) = job else {
            self.start(&name, media, format).await?;
            return Err(PortError::Pending(format!(
                "transcription job {name} started"
            )));
        };
        match job.transcription_job_status() {
            Some(TranscriptionJobStatus::Completed) => {
                let json = self
                    .blobs
                    .get(&self.output_bucket, &output_key(media, &name))
                    .await?;
                parse_result(&json)
            }
            Some(TranscriptionJobStatus::Failed) => Err(PortError::Invalid(format!(
                "Transcribe could not transcribe the media: {}",
                job.failure_reason().unwrap_or("no reason given")
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
        assert_eq!(media_format("audio/mpeg"), Some(MediaFormat::Mp3));
        assert_eq!(media_format("text/plain"), None);
    }
}
