//! `mark-failed`: the state machine's `Catch` target. The document ends `failed`
//! with the step's reason — or `skipped` when only an extractor is missing — and
//! any chunks of an earlier version leave the index, so search never cites a file
//! whose current version could not be read.

use jarvis_core::domain::DocumentStatus;
use jarvis_core::pipeline::{FailedState, PipelineState};
use jarvis_core::ports::{MetadataStore, SearchIndex, StatusChange};
use jarvis_core::{PortError, StepError};
#[cfg(feature = "local")]
use jarvis_local::stack::LocalStack;
use std::sync::Arc;

/// Longest reason stored.
const MAX_REASON: usize = 1000;

pub struct Deps {
    pub metadata: Arc<dyn MetadataStore>,
    pub index: Arc<dyn SearchIndex>,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        Ok(Deps {
            metadata: stack.metadata(Rows::ReadWrite)?,
            index: stack.index()?,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            metadata: stack.metadata.clone(),
            index: stack.index.clone(),
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
    };
    match deps
        .metadata
        .change_status(&state.tenant_id, &state.document_id, &change)
        .await
    {
        // Deleted, or already finished by a newer run: nothing of ours to mark.
        Ok(_) => {
            deps.index
                .delete_document(&state.tenant_id, &state.document_id)
                .await?
        }
        Err(PortError::NotFound(_) | PortError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(state)
}
