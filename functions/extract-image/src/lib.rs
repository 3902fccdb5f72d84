//! `extract-image`: the text in an image (OCR) and what it shows (labels), as a
//! document. With no engine for it in this deployment the step fails as
//! `Jarvis.ExtractorUnavailable`, and the document is kept as `skipped` with a
//! status that names the missing extractor.

use jarvis_core::content::{Block, ExtractedDocument};
use jarvis_core::curated::{begin_processing, file_name, load_source, store_extracted};
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{BlobStore, ImageAnalyzer, MetadataStore};
use jarvis_core::{PortError, StepError};
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, CURATED_BUCKET};
use std::sync::Arc;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub analyzer: Arc<dyn ImageAnalyzer>,
    pub curated_bucket: String,
    pub max_file_bytes: u64,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        Ok(Deps {
            blobs: stack.blobs(BlobAccess::new().read(Bucket::Raw).write(Bucket::Curated))?,
            metadata: stack.metadata(Rows::ReadWrite)?,
            analyzer: stack.vision(),
            curated_bucket: stack.curated_bucket()?,
            max_file_bytes: stack.config.max_file_bytes,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            analyzer: stack.ocr.clone(),
            curated_bucket: CURATED_BUCKET.into(),
            max_file_bytes: stack.config.max_file_bytes,
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, mut state: PipelineState) -> Result<PipelineState, StepError> {
    begin_processing(deps.metadata.as_ref(), &state).await?;
    let bytes = load_source(deps.blobs.as_ref(), &state, deps.max_file_bytes).await?;
    let analysis = deps
        .analyzer
        .analyze(&state.source, &bytes, &state.content_type)
        .await
        .map_err(|e| match e {
            PortError::Invalid(reason) => {
                StepError::Rejected(format!("the image could not be read: {reason}"))
            }
            other => other.into(),
        })?;
    let mut blocks = ExtractedDocument::paragraphs_of(&analysis.text, None);
    if !analysis.labels.is_empty() {
        blocks.push(Block::text(format!(
            "Image shows: {}",
            analysis.labels.join(", ")
        )));
    }
    if blocks.is_empty() {
        return Err(StepError::Rejected(
            "no text or recognisable content found in the image".into(),
        ));
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("labels".into(), analysis.labels.clone().into());
    let doc = ExtractedDocument {
        title: file_name(&state.source.key).to_owned(),
        blocks,
        metadata,
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
