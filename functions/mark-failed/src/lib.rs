//! `mark-failed`: the state machine's `Catch` target. The document ends `failed`
//! with the step's reason — or `skipped` when only an extractor is missing — and
//! any chunks of an earlier version leave the index, so search never cites a file
//! whose current version could not be read.
//!
//! A run whose document was deleted meanwhile (`DELETE /documents/{id}`, or
//! `DELETE /me/data` while the file was being processed) fails at its next
//! status change and lands here too: then everything the run wrote goes — its
//! derived files under the document's curated prefix and its chunks — so a
//! deletion leaves nothing behind once the run has ended.

use jarvis_core::curated::superseded_by;
use jarvis_core::domain::DocumentStatus;
use jarvis_core::pipeline::{keys, FailedState, PipelineState};
use jarvis_core::ports::{BlobStore, MetadataStore, SearchIndex, StatusChange};
use jarvis_core::{PortError, StepError};
#[cfg(feature = "local")]
use jarvis_local::stack::LocalStack;
use std::sync::Arc;

/// Longest reason stored.
const MAX_REASON: usize = 1000;

pub struct Deps {
    pub metadata: Arc<dyn MetadataStore>,
    pub index: Arc<dyn SearchIndex>,
    /// The curated store, where a deleted document's run left derived files.
    pub blobs: Arc<dyn BlobStore>,
    pub curated_bucket: String,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        Ok(Deps {
            metadata: stack.metadata(Rows::ReadWrite)?,
            index: stack.index()?,
            blobs: stack.blobs(BlobAccess::new().delete(Bucket::Curated))?,
            curated_bucket: stack.curated_bucket()?,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            metadata: stack.metadata.clone(),
            index: stack.index.clone(),
            blobs: stack.blobs.clone(),
            curated_bucket: jarvis_local::stack::CURATED_BUCKET.into(),
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %input.state.tenant_id, document = %input.state.document_id, error = %input.error.error))]
pub async fn handle(deps: &Deps, input: FailedState) -> Result<PipelineState, StepError> {
    let skipped = input.error.error == "Jarvis.ExtractorUnavailable";
    let mut reason = jarvis_lambda::step::reason_from_cause(&input.error.cause);
    if reason.len() > MAX_REASON {
        reason.truncate(reason.floor_char_boundary(MAX_REASON));
    }
    let state = input.state;
    let change = StatusChange {
        to: if skipped {
            DocumentStatus::Skipped
        } else {
            DocumentStatus::Failed
        },
        reason: Some(reason),
        chunk_count: Some(0),
        title: None,
        from: vec![DocumentStatus::Queued, DocumentStatus::Processing],
        version: Some(state.version()),
        stage: None,
    };
    match deps
        .metadata
        .change_status(&state.tenant_id, &state.document_id, &change)
        .await
    {
        Ok(_) => {
            deps.index
                .delete_document(&state.tenant_id, &state.document_id)
                .await?
        }
        // Deleted while the run was under way: take back what it wrote.
        Err(PortError::NotFound(_)) => {
            deps.index
                .delete_document(&state.tenant_id, &state.document_id)
                .await?;
            let prefix = keys::curated_prefix(&state.tenant_id, &state.document_id);
            let removed = deps
                .blobs
                .delete_prefix(&deps.curated_bucket, &prefix)
                .await?;
            tracing::info!(
                removed,
                "the document was deleted mid-run; its derived files went too"
            );
        }
        // Already finished by a newer run, or the file changed: nothing of
        // ours to mark. A superseded run's own files go; the index is left to
        // the run of the version the document holds now.
        Err(PortError::Conflict(_)) => {
            if superseded_by(deps.metadata.as_ref(), &state)
                .await?
                .is_some()
            {
                let prefix =
                    keys::run_prefix(&state.tenant_id, &state.document_id, &state.version());
                let removed = deps
                    .blobs
                    .delete_prefix(&deps.curated_bucket, &prefix)
                    .await?;
                tracing::info!(removed, "superseded by a newer version of the file");
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(state)
}
