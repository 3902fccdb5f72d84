//! `index`: the chunks and their vectors into the hybrid index, replacing every
//! earlier chunk of the document (so a changed file leaves no stale passages),
//! then the document becomes `indexed`.

use jarvis_core::curated::load_json;
use jarvis_core::domain::{Chunk, DocumentStatus};
use jarvis_core::pipeline::{decode_vectors, PipelineState};
use jarvis_core::ports::{BlobStore, IndexedChunk, MetadataStore, SearchIndex, StatusChange};
use jarvis_core::{PortError, StepError};
#[cfg(feature = "local")]
use jarvis_local::stack::LocalStack;
use std::sync::Arc;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub index: Arc<dyn SearchIndex>,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        Ok(Deps {
            blobs: stack.blobs(BlobAccess::new().read(Bucket::Curated))?,
            metadata: stack.metadata(Rows::ReadWrite)?,
            index: stack.index()?,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            index: stack.index.clone(),
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, state: PipelineState) -> Result<PipelineState, StepError> {
    let chunks: Vec<Chunk> =
        load_json(deps.blobs.as_ref(), state.chunks.as_ref(), "chunks").await?;
    let vectors_ref = state.embeddings.as_ref().ok_or_else(|| {
        StepError::Rejected(
            "the pipeline state has no embeddings; the embed step did not run".into(),
        )
    })?;
    let raw = deps
        .blobs
        .get(&vectors_ref.bucket, &vectors_ref.key)
        .await?;
    let vectors = decode_vectors(&raw)
        .filter(|v| v.len() == chunks.len())
        .ok_or_else(|| {
            StepError::Port(PortError::Invalid(format!(
                "embeddings at {} do not match the chunks",
                vectors_ref.key
            )))
        })?;
    let title = chunks.first().map(|c| c.title.clone());
    let count = chunks.len() as u32;
    let items = chunks
        .into_iter()
        .zip(vectors)
        .map(|(chunk, vector)| IndexedChunk { chunk, vector })
        .collect();
    deps.index
        .replace_document(&state.tenant_id, &state.document_id, items)
        .await?;
    let change = StatusChange {
        to: DocumentStatus::Indexed,
        reason: None,
        chunk_count: Some(count),
        title,
        from: vec![DocumentStatus::Queued, DocumentStatus::Processing],
    };
    match deps
        .metadata
        .change_status(&state.tenant_id, &state.document_id, &change)
        .await
    {
        Ok(_) => Ok(state),
        Err(PortError::NotFound(_)) => {
            // Deleted while this run was under way: take its chunks back out.
            deps.index
                .delete_document(&state.tenant_id, &state.document_id)
                .await?;
            Err(StepError::Rejected(
                "the document was deleted while it was being processed".into(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
