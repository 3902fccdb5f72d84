//! `extract-document`: plain text, Markdown, HTML, JSON, PDF and DOCX into
//! structured blocks (headings, paragraphs, pages) in the curated store.
//! Parsing runs in a child process with capped memory and time where one is
//! configured ([`jarvis_extract::sandbox`]: the local runtime, and the Lambda
//! itself), else on a blocking thread; a file that cannot be read (corrupt,
//! binary, no text, or one that blows the parser's limits) fails the step as
//! `Jarvis.Rejected` with a reason for users, and nothing else is affected.

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
    pub curated_bucket: String,
    pub max_file_bytes: u64,
    /// OCR for PDFs without a text layer (scans): Textract on AWS; none locally.
    pub ocr: Option<Arc<dyn ImageAnalyzer>>,
    /// Where the parsers run: a child process with capped memory and time;
    /// `None` parses in this process (tests of the handler alone).
    pub sandbox: Option<Arc<jarvis_extract::sandbox::Sandbox>>,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        Ok(Deps {
            blobs: stack.blobs(BlobAccess::new().read(Bucket::Raw).write(Bucket::Curated))?,
            metadata: stack.metadata(Rows::ReadWrite)?,
            curated_bucket: stack.curated_bucket()?,
            max_file_bytes: stack.config.max_file_bytes,
            ocr: Some(stack.document_ocr()),
            sandbox: None,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            curated_bucket: CURATED_BUCKET.into(),
            max_file_bytes: stack.config.max_file_bytes,
            ocr: None,
            sandbox: stack.parser.clone(),
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %state.tenant_id, document = %state.document_id))]
pub async fn handle(deps: &Deps, mut state: PipelineState) -> Result<PipelineState, StepError> {
    begin_processing(deps.metadata.as_ref(), &state).await?;
    let bytes = load_source(deps.blobs.as_ref(), &state, deps.max_file_bytes).await?;
    let (content_type, name) = (
        state.content_type.clone(),
        file_name(&state.source.key).to_owned(),
    );
    let parsed = match &deps.sandbox {
        Some(sandbox) => sandbox.extract(&bytes, &content_type, &name).await,
        None => {
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || {
                jarvis_extract::extract_document(&bytes, &content_type, &name)
            })
            .await
            .map_err(|e| StepError::Port(PortError::backend("extract", e)))?
        }
    };
    let extracted = match (parsed, &deps.ocr) {
        (Ok(doc), _) => doc,
        // A PDF without a text layer is a scan: read it with OCR where there is one.
        (Err(e), Some(ocr)) if e.is_no_text() && state.content_type == "application/pdf" => {
            scanned(ocr.as_ref(), &state, &bytes).await?
        }
        (Err(e), _) => return Err(StepError::Rejected(e.to_string())),
    };
    store_extracted(
        deps.blobs.as_ref(),
        deps.metadata.as_ref(),
        &deps.curated_bucket,
        &mut state,
        &extracted,
    )
    .await?;
    Ok(state)
}

/// A scanned PDF's text, page by page, from the OCR engine (a Textract async job
/// on AWS: `Pending` until it finishes, so the state machine asks again).
async fn scanned(
    ocr: &dyn ImageAnalyzer,
    state: &PipelineState,
    bytes: &[u8],
) -> Result<ExtractedDocument, StepError> {
    let analysis = ocr.analyze(&state.source, bytes, "application/pdf").await?;
    let pages = if analysis.pages.is_empty() {
        vec![analysis.text]
    } else {
        analysis.pages
    };
    let blocks: Vec<Block> = pages
        .iter()
        .enumerate()
        .flat_map(|(i, text)| ExtractedDocument::paragraphs_of(text, Some(i as u32 + 1)))
        .collect();
    let doc = ExtractedDocument {
        title: file_name(&state.source.key).to_owned(),
        blocks,
        metadata: serde_json::Map::from_iter([
            ("pages".to_owned(), serde_json::json!(pages.len())),
            ("ocr".to_owned(), serde_json::json!(true)),
        ]),
    };
    if !doc.has_text() {
        return Err(StepError::Rejected(
            "no text found in the PDF, not even by OCR".into(),
        ));
    }
    Ok(doc)
}
