//! `extract-audio`: a transcript of audio or video, as a document whose blocks
//! are the transcript's timed segments. Without a transcription engine the step
//! fails as `Jarvis.ExtractorUnavailable` and the document is kept as `skipped`.

use jarvis_core::content::{Block, ExtractedDocument};
use jarvis_core::curated::{begin_processing, file_name, store_extracted};
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{BlobStore, MetadataStore, Transcriber};
use jarvis_core::{PortError, StepError};
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, CURATED_BUCKET};
use std::sync::Arc;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub transcriber: Arc<dyn Transcriber>,
    pub curated_bucket: String,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        Ok(Deps {
            blobs: stack.blobs(BlobAccess::new().write(Bucket::Curated))?,
            metadata: stack.metadata(Rows::ReadWrite)?,
            transcriber: stack.transcriber()?,
            curated_bucket: stack.curated_bucket()?,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            transcriber: stack.transcriber.clone(),
            curated_bucket: CURATED_BUCKET.into(),
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, mut state: PipelineState) -> Result<PipelineState, StepError> {
    begin_processing(deps.metadata.as_ref(), &state).await?;
    // Transcription engines read the media from the store themselves (Transcribe reads S3).
    let transcript = deps
        .transcriber
        .transcribe(&state.source, &state.content_type)
        .await
        .map_err(|e| match e {
            PortError::Invalid(reason) => {
                StepError::Rejected(format!("the media could not be transcribed: {reason}"))
            }
            other => other.into(),
        })?;
    let blocks: Vec<Block> = if transcript.segments.is_empty() {
        ExtractedDocument::paragraphs_of(&transcript.text, None)
    } else {
        transcript
            .segments
            .iter()
            .map(|(at, text)| Block::text(format!("[{}] {text}", timestamp(*at))))
            .collect()
    };
    if blocks.iter().all(|b| b.text.trim().is_empty()) {
        return Err(StepError::Rejected(
            "the recording has no speech that could be transcribed".into(),
        ));
    }
    let doc = ExtractedDocument {
        title: file_name(&state.source.key).to_owned(),
        blocks,
        metadata: Default::default(),
    };
    store_extracted(
        deps.blobs.as_ref(),
        deps.metadata.as_ref(),
        &deps.curated_bucket,
        &mut state,
        &doc,
    )
    .await?;
    Ok(state)
}

/// `mm:ss` (or `h:mm:ss`) for a segment start in seconds.
fn timestamp(secs: f32) -> String {
    let s = secs.max(0.0) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_read_like_a_player() {
        assert_eq!(super::timestamp(65.4), "01:05");
        assert_eq!(super::timestamp(3725.0), "1:02:05");
    }
}
