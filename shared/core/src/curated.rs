//! What pipeline steps share around the curated store: reading and writing the
//! JSON artifacts the state points at, and the status moves every run makes.
//! Steps pass pointers ([`ObjectRef`]) between them, never payloads.

use crate::content::ExtractedDocument;
use crate::domain::{DocumentStatus, ObjectRef};
use crate::error::{PortError, StepError};
use crate::pipeline::{keys, PipelineState};
use crate::ports::{BlobStore, MetadataStore, StatusChange};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Reads the JSON artifact `what` points at (`name` is for the error message).
pub async fn load_json<T: DeserializeOwned>(
    blobs: &dyn BlobStore,
    what: Option<&ObjectRef>,
    name: &str,
) -> Result<T, StepError> {
    let obj = what.ok_or_else(|| {
        StepError::Rejected(format!(
            "the pipeline state has no {name}; an earlier step did not run"
        ))
    })?;
    let bytes = blobs.get(&obj.bucket, &obj.key).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        StepError::Port(PortError::Invalid(format!(
            "{name} at {} is not valid: {e}",
            obj.key
        )))
    })
}

/// Writes `value` as JSON and returns its pointer. Same key, same content: a
/// retried step overwrites its own earlier output, nothing else.
pub async fn store_json<T: Serialize>(
    blobs: &dyn BlobStore,
    bucket: &str,
    key: &str,
    value: &T,
) -> Result<ObjectRef, StepError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| StepError::Port(PortError::Invalid(e.to_string())))?;
    Ok(blobs.put(bucket, key, bytes, "application/json").await?)
}

/// Writes an extractor's output to the document's `extracted.json`, points
/// the state at it, and moves the document to its `indexing` stage (what
/// the app shows; a run that is no longer the document's current one
/// changes nothing, and neither does a document deleted meanwhile).
pub async fn store_extracted(
    blobs: &dyn BlobStore,
    metadata: &dyn MetadataStore,
    bucket: &str,
    state: &mut PipelineState,
    doc: &ExtractedDocument,
) -> Result<(), StepError> {
    let key = keys::extracted(&state.tenant_id, &state.document_id, &state.version());
    state.extracted = Some(store_json(blobs, bucket, &key, doc).await?);
    let change = StatusChange {
        to: DocumentStatus::Processing,
        reason: None,
        chunk_count: None,
        title: None,
        from: vec![DocumentStatus::Processing],
        version: Some(state.version()),
        stage: Some(crate::domain::Stage::Indexing),
    };
    match metadata
        .change_status(&state.tenant_id, &state.document_id, &change)
        .await
    {
        // Only what the app shows: the steps after decide what happens to
        // a superseded or deleted run.
        Ok(_) | Err(PortError::NotFound(_)) | Err(PortError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Moves the document to `processing` at the start of extraction. A document
/// deleted (or already finished by a newer run) meanwhile stops this run.
pub async fn begin_processing(
    metadata: &dyn MetadataStore,
    state: &PipelineState,
) -> Result<(), StepError> {
    let change = StatusChange {
        to: DocumentStatus::Processing,
        reason: None,
        chunk_count: None,
        title: None,
        from: vec![DocumentStatus::Queued, DocumentStatus::Processing],
        version: Some(state.version()),
        stage: Some(crate::domain::Stage::Extracting),
    };
    match metadata
        .change_status(&state.tenant_id, &state.document_id, &change)
        .await
    {
        Ok(_) => Ok(()),
        Err(PortError::NotFound(_)) => Err(StepError::Rejected(
            "the document was deleted while it was being processed".into(),
        )),
        Err(PortError::Conflict(now)) => Err(StepError::Rejected(format!(
            "the document is no longer queued ({now})"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The document as stored now when another run than `state`'s is its current
/// one (the file changed while the run was under way, even back to the same
/// bytes, or the file was dropped again); `None` when the run is still the
/// current one, or the document is gone.
pub async fn superseded_by(
    metadata: &dyn MetadataStore,
    state: &PipelineState,
) -> Result<Option<crate::domain::Document>, PortError> {
    Ok(metadata
        .get_document(&state.tenant_id, &state.document_id)
        .await?
        .filter(|doc| doc.source.etag != state.source.etag || doc.runs != state.run))
}

/// Reads the original object, refusing one larger than `max_bytes` before reading it.
pub async fn load_source(
    blobs: &dyn BlobStore,
    state: &PipelineState,
    max_bytes: u64,
) -> Result<Vec<u8>, StepError> {
    let head = blobs
        .head(&state.source.bucket, &state.source.key)
        .await
        .map_err(|e| match e {
            PortError::NotFound(_) => StepError::Rejected(
                "the original file is gone (deleted before it was processed)".into(),
            ),
            other => other.into(),
        })?;
    if head.size == 0 {
        return Err(StepError::Rejected("the file is empty (0 bytes)".into()));
    }
    if head.size > max_bytes {
        return Err(StepError::Rejected(too_large(head.size, max_bytes)));
    }
    Ok(blobs.get(&state.source.bucket, &state.source.key).await?)
}

/// The reason given for a file over the size limit.
pub fn too_large(size: u64, max: u64) -> String {
    format!("the file is {size} bytes; the limit is {max} bytes (JARVIS_MAX_FILE_BYTES)")
}

/// The last segment of an object key — the file name users gave it.
pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}
