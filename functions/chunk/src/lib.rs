//! `chunk`: the (annotated) extracted document into search chunks that follow its
//! structure — never across a heading or a page — bounded by tokens with overlap,
//! each keeping its page and section path for citations and its PII flags.

use chrono::Utc;
use jarvis_core::chunking::{chunk_blocks, section_under_title, ChunkingConfig};
use jarvis_core::content::ExtractedDocument;
use jarvis_core::curated::{load_json, store_json};
use jarvis_core::domain::Chunk;
use jarvis_core::pipeline::{keys, PipelineState};
use jarvis_core::ports::BlobStore;
use jarvis_core::StepError;
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, CURATED_BUCKET};
use std::sync::Arc;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub curated_bucket: String,
    pub chunking: ChunkingConfig,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess};
        Ok(Deps {
            blobs: stack.blobs(
                BlobAccess::new()
                    .read(Bucket::Curated)
                    .write(Bucket::Curated),
            )?,
            curated_bucket: stack.curated_bucket()?,
            chunking: stack.config.chunking(),
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            curated_bucket: CURATED_BUCKET.into(),
            chunking: stack.config.chunking(),
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, mut state: PipelineState) -> Result<PipelineState, StepError> {
    let doc: ExtractedDocument = load_json(
        deps.blobs.as_ref(),
        state.extracted.as_ref(),
        "extracted document",
    )
    .await?;
    let chunks = to_chunks(&state, &doc, &deps.chunking);
    if chunks.is_empty() {
        return Err(StepError::Rejected(
            "the document has no text to index".into(),
        ));
    }
    let key = keys::chunks(&state.tenant_id, &state.document_id, &state.version());
    state.chunks =
        Some(store_json(deps.blobs.as_ref(), &deps.curated_bucket, &key, &chunks).await?);
    state.chunk_count = Some(chunks.len() as u32);
    Ok(state)
}

/// The chunks of one document, with ids, title and provenance.
pub fn to_chunks(
    state: &PipelineState,
    doc: &ExtractedDocument,
    config: &ChunkingConfig,
) -> Vec<Chunk> {
    let now = Utc::now();
    chunk_blocks(&doc.blocks, config)
        .into_iter()
        .enumerate()
        .map(|(i, draft)| Chunk {
            id: Chunk::id_for(&state.document_id, i as u32),
            tenant_id: state.tenant_id.clone(),
            document_id: state.document_id.clone(),
            ordinal: i as u32,
            title: doc.title.clone(),
            text: draft.text,
            section: section_under_title(&doc.title, draft.section),
            page: draft.page,
            token_count: draft.token_count as u32,
            pii: draft.pii,
            source: state.origin.clone(),
            content_type: state.content_type.clone(),
            created_at: now,
        })
        .collect()
}
