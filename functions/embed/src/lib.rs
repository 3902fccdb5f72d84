//! `embed`: one vector per chunk, in batches, written as one binary blob next to
//! the chunks. The text embedded is the chunk with its title and section, so a
//! passage is found by what its document is about as well as by its own words.

use jarvis_core::curated::load_json;
use jarvis_core::domain::Chunk;
use jarvis_core::pipeline::{encode_vectors, keys, PipelineState};
use jarvis_core::ports::{BlobStore, Embedder};
use jarvis_core::{PortError, StepError};
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, CURATED_BUCKET};
use std::sync::Arc;

/// Texts sent to the embedder per call.
pub const BATCH: usize = 64;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub embedder: Arc<dyn Embedder>,
    pub curated_bucket: String,
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
            embedder: stack.embedder(),
            curated_bucket: stack.curated_bucket()?,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            embedder: stack.embedder.clone(),
            curated_bucket: CURATED_BUCKET.into(),
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, mut state: PipelineState) -> Result<PipelineState, StepError> {
    let chunks: Vec<Chunk> =
        load_json(deps.blobs.as_ref(), state.chunks.as_ref(), "chunks").await?;
    let texts: Vec<String> = chunks.iter().map(embedding_text).collect();
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(BATCH) {
        let got = deps.embedder.embed(batch).await?;
        if got.len() != batch.len() || got.iter().any(|v| v.len() != deps.embedder.dimensions()) {
            return Err(StepError::Port(PortError::Invalid(format!(
                "{} returned {} vectors for {} texts",
                deps.embedder.model_id(),
                got.len(),
                batch.len()
            ))));
        }
        vectors.extend(got);
    }
    let key = keys::embeddings(&state.tenant_id, &state.document_id, &state.version());
    state.embeddings = Some(
        deps.blobs
            .put(
                &deps.curated_bucket,
                &key,
                encode_vectors(&vectors),
                "application/octet-stream",
            )
            .await?,
    );
    Ok(state)
}

/// What gets embedded for a chunk: title, section, then the text.
pub fn embedding_text(chunk: &Chunk) -> String {
    match &chunk.section {
        Some(section) => format!("{} — {section}\n{}", chunk.title, chunk.text),
        None => format!("{}\n{}", chunk.title, chunk.text),
    }
}
