//! `index`: the chunks and their vectors into the hybrid index, replacing every
//! earlier chunk of the document (so a changed file leaves no stale passages),
//! then the document becomes `indexed` — only while it still holds the file
//! version this run read. A run whose file changed meanwhile indexes nothing;
//! if the change came mid-replace, it puts the current version's chunks back.

use jarvis_core::curated::{load_json, superseded_by};
use jarvis_core::domain::{Chunk, Document, DocumentStatus, ObjectRef};
use jarvis_core::pipeline::{decode_vectors, keys, PipelineState};
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
    // The file changed since this run began: the newer version's run indexes it.
    if let Some(now) = superseded_by(deps.metadata.as_ref(), &state).await? {
        return Err(superseded(&now));
    }
    let loaded = load(deps, state.chunks.as_ref(), state.embeddings.as_ref()).await?;
    let (title, count) = (loaded.title, loaded.items.len() as u32);
    deps.index
        .replace_document(&state.tenant_id, &state.document_id, loaded.items)
        .await?;
    let change = StatusChange {
        to: DocumentStatus::Indexed,
        reason: None,
        chunk_count: Some(count),
        title,
        from: vec![DocumentStatus::Queued, DocumentStatus::Processing],
        version: Some(state.version()),
        stage: None,
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
        Err(PortError::Conflict(why)) => match superseded_by(deps.metadata.as_ref(), &state).await?
        {
            // The file changed between the check above and the replace, so
            // these chunks may have overwritten the newer version's.
            Some(now) => {
                restore(deps, &state, now).await?;
                Err(StepError::Rejected(format!(
                    "a newer version of the file arrived while this one was indexed ({why})"
                )))
            }
            None => Err(PortError::Conflict(why).into()),
        },
        Err(e) => Err(e.into()),
    }
}

fn superseded(now: &Document) -> StepError {
    StepError::Rejected(format!(
        "a newer version of the file arrived (document {} is {}); its own run indexes it",
        now.id,
        now.status.as_str()
    ))
}

/// How often [`restore`] follows a file that keeps changing under it.
const RESTORE_ROUNDS: usize = 3;

/// Puts the chunks of the version the document holds now back into the index,
/// when that version's run has embedded them already (otherwise its own index
/// step comes later and replaces whatever this run left).
async fn restore(deps: &Deps, state: &PipelineState, mut now: Document) -> Result<(), StepError> {
    for _ in 0..RESTORE_ROUNDS {
        let version = jarvis_core::pipeline::run_version(&now.source.etag, now.runs);
        let at = |key: String| ObjectRef {
            bucket: state
                .chunks
                .as_ref()
                .map(|c| c.bucket.clone())
                .unwrap_or_default(),
            key,
            etag: String::new(),
            size: 0,
        };
        let chunks = at(keys::chunks(&state.tenant_id, &state.document_id, &version));
        let vectors = at(keys::embeddings(
            &state.tenant_id,
            &state.document_id,
            &version,
        ));
        match load(deps, Some(&chunks), Some(&vectors)).await {
            Ok(loaded) => {
                deps.index
                    .replace_document(&state.tenant_id, &state.document_id, loaded.items)
                    .await?;
                tracing::info!(%version, "restored the current version's chunks");
            }
            Err(StepError::Port(PortError::NotFound(_))) => {
                tracing::info!(%version, "the current version is not embedded yet; its run indexes it");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        match superseded_by(deps.metadata.as_ref(), state).await? {
            Some(newer)
                if jarvis_core::pipeline::run_version(&newer.source.etag, newer.runs)
                    != version =>
            {
                now = newer
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

struct Loaded {
    items: Vec<IndexedChunk>,
    title: Option<String>,
}

/// The chunks and their vectors, which must match one to one.
async fn load(
    deps: &Deps,
    chunks: Option<&ObjectRef>,
    vectors: Option<&ObjectRef>,
) -> Result<Loaded, StepError> {
    let chunks: Vec<Chunk> = load_json(deps.blobs.as_ref(), chunks, "chunks").await?;
    let vectors_ref = vectors.ok_or_else(|| {
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
    Ok(Loaded {
        title: chunks.first().map(|c| c.title.clone()),
        items: chunks
            .into_iter()
            .zip(vectors)
            .map(|(chunk, vector)| IndexedChunk { chunk, vector })
            .collect(),
    })
}
