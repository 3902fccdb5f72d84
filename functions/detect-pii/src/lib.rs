//! `detect-pii`: flags personal data (e-mail addresses, phone numbers, card
//! numbers passing Luhn, IBANs passing mod-97, national ids) block by block, and
//! redacts it when configured. The annotated document is written next to the
//! extracted one, so a retry starts again from the untouched original.

use jarvis_core::content::ExtractedDocument;
use jarvis_core::curated::{load_json, store_json};
use jarvis_core::domain::ObjectRef;
use jarvis_core::pii;
use jarvis_core::pipeline::{keys, PipelineState};
use jarvis_core::ports::{BlobStore, PiiDetector};
use jarvis_core::StepError;
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, CURATED_BUCKET};
use std::sync::Arc;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub detector: Arc<dyn PiiDetector>,
    pub curated_bucket: String,
    /// Replace what was found with placeholders such as `[EMAIL]`.
    pub redact: bool,
    /// Also record the text's language, entities and key phrases (where the detector reads them).
    pub insights: bool,
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
            detector: stack.pii(),
            curated_bucket: stack.curated_bucket()?,
            redact: stack.config.pii_redact,
            insights: stack.config.text_insights,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            detector: Arc::new(jarvis_core::ports::PatternPiiDetector),
            curated_bucket: CURATED_BUCKET.into(),
            redact: stack.config.pii_redact,
            insights: stack.config.text_insights,
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, mut state: PipelineState) -> Result<PipelineState, StepError> {
    // Retries read the untouched extraction, never a previous annotation.
    let original = state.extracted.clone().map(|obj| ObjectRef {
        key: keys::extracted(&state.tenant_id, &state.document_id, &state.version()),
        ..obj
    });
    let mut doc: ExtractedDocument =
        load_json(deps.blobs.as_ref(), original.as_ref(), "extracted document").await?;
    let mut found = 0usize;
    for block in &mut doc.blocks {
        let entities = deps.detector.detect(&block.text).await?;
        if entities.is_empty() {
            continue;
        }
        found += entities.len();
        block.pii = pii::kinds(&entities);
        if deps.redact {
            block.text = pii::redact(&block.text, &entities);
        }
    }
    tracing::info!(found, redacted = deps.redact, "pii checked");
    if deps.insights {
        record_insights(deps.detector.as_ref(), &mut doc).await?;
    }
    let key = keys::annotated(&state.tenant_id, &state.document_id, &state.version());
    state.extracted =
        Some(store_json(deps.blobs.as_ref(), &deps.curated_bucket, &key, &doc).await?);
    Ok(state)
}

/// Adds the language, entities and key phrases of the whole text to the
/// document's metadata, where the detector reads them.
async fn record_insights(
    detector: &dyn PiiDetector,
    doc: &mut ExtractedDocument,
) -> Result<(), StepError> {
    let text = doc
        .blocks
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let Some(insights) = detector.insights(&text).await? else {
        return Ok(());
    };
    if let Some(language) = insights.language {
        doc.metadata.insert("language".into(), language.into());
    }
    doc.metadata.insert(
        "key_phrases".into(),
        serde_json::json!(insights.key_phrases),
    );
    doc.metadata
        .insert("entities".into(), serde_json::json!(insights.entities));
    Ok(())
}
