//! `parse-email`: an RFC 5322 mail (.eml) becomes a document of its headers and
//! body; each attachment is written to the raw bucket under
//! `{tenant}/attachments/{mail document}/{n}-{name}`, where its own `Object
//! Created` event makes it a document of its own (with the mail as its parent).
//! Re-running writes the same keys with the same bytes, so a retry adds nothing.

use jarvis_core::curated::{begin_processing, load_source, store_extracted};
use jarvis_core::pipeline::{content_type_by_name, keys, PipelineState};
use jarvis_core::ports::{BlobStore, MetadataStore};
use jarvis_core::{PortError, StepError};
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, CURATED_BUCKET, RAW_BUCKET};
use std::sync::Arc;

/// Attachments taken from one mail; the rest are listed in its metadata only.
pub const MAX_ATTACHMENTS: usize = 50;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub raw_bucket: String,
    pub curated_bucket: String,
    pub max_file_bytes: u64,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        Ok(Deps {
            blobs: stack.blobs(
                BlobAccess::new()
                    .read(Bucket::Raw)
                    .write(Bucket::Raw)
                    .write(Bucket::Curated),
            )?,
            metadata: stack.metadata(Rows::ReadWrite)?,
            raw_bucket: stack.raw_bucket()?,
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
            raw_bucket: RAW_BUCKET.into(),
            curated_bucket: CURATED_BUCKET.into(),
            max_file_bytes: stack.config.max_file_bytes,
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, mut state: PipelineState) -> Result<PipelineState, StepError> {
    begin_processing(deps.metadata.as_ref(), &state).await?;
    let bytes = load_source(deps.blobs.as_ref(), &state, deps.max_file_bytes).await?;
    let parsed = tokio::task::spawn_blocking(move || jarvis_extract::email::parse(&bytes))
        .await
        .map_err(|e| StepError::Port(PortError::backend("extract", e)))?
        .map_err(|e| StepError::Rejected(e.to_string()))?;
    let mut document = parsed.document;
    let mut stored = Vec::new();
    for (n, attachment) in parsed.attachments.into_iter().enumerate() {
        let name = keys::sanitize_file_name(&attachment.file_name)
            .unwrap_or_else(|| format!("attachment-{n}"));
        if n >= MAX_ATTACHMENTS {
            stored.push(serde_json::json!({ "name": name, "skipped": "too many attachments" }));
            continue;
        }
        let key = keys::attachment(&state.tenant_id, &state.document_id, n, &name);
        let content_type =
            content_type_by_name(&name).map_or(attachment.content_type.clone(), str::to_owned);
        deps.blobs
            .put(&deps.raw_bucket, &key, attachment.bytes, &content_type)
            .await?;
        stored.push(serde_json::json!({ "name": name, "key": key, "content_type": content_type }));
    }
    document
        .metadata
        .insert("attachments".into(), stored.into());
    if !document.has_text() {
        // A mail that is only attachments still gets a searchable record of itself.
        document
            .blocks
            .push(jarvis_core::content::Block::text(document.title.clone()));
    }
    store_extracted(
        deps.blobs.as_ref(),
        deps.metadata.as_ref(),
        &deps.curated_bucket,
        &mut state,
        &document,
    )
    .await?;
    Ok(state)
}
