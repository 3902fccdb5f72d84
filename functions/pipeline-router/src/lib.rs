//! `pipeline-router`: takes S3 `Object Created` events off the ingest queue and
//! starts one pipeline run per object version.
//!
//! Per record: work out the tenant from the key, check the object (gone, empty,
//! over the size limit → the document ends `failed` with that reason, no run),
//! fold identical content already ingested under another name into that document
//! (an alias), record the document as `queued`, and start the run. The run's name
//! comes from bucket+key+ETag, so a redelivered message starts nothing new and a
//! changed file (new ETag) starts a fresh run that replaces the old chunks.
//! Records that hit a transient error are returned as batch item failures, so SQS
//! redelivers exactly those. An attachment whose mail no longer exists (deleted
//! while it was parsed) is removed instead of becoming a document, and so is
//! any object of a tenant whose erasure is under way (every version of it).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use jarvis_core::curated::{file_name, too_large};
use jarvis_core::domain::{Document, DocumentId, DocumentStatus, ObjectRef, TenantId};
use jarvis_core::pipeline::{
    content_type_by_name, content_type_for, keys, run_name, PipelineState,
};
use jarvis_core::ports::{BlobStore, MetadataStore, RecordStore, StartOutcome, WorkflowStarter};
use jarvis_core::PortError;
use jarvis_lambda::s3_events::parse_object_created;
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, INBOX_BUCKET, RAW_BUCKET};
use std::sync::Arc;
use tracing::{info, warn};

/// Where a bucket's keys say whose an object is.
#[derive(Debug, Clone)]
pub enum TenantKeys {
    /// `{tenant}/…` (the raw bucket); `inbox/…` and the bucket's root are the
    /// owner's, when the deployment has one.
    Prefixed { owner: Option<TenantId> },
    /// `@tenant/…` folders, else the default tenant (the local inbox).
    Inbox { default: TenantId },
}

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    /// The tenant's erasure record (read only).
    pub records: Arc<dyn RecordStore>,
    pub workflows: Arc<dyn WorkflowStarter>,
    /// Where runs keep their files: a new version's arrival removes the previous version's.
    pub curated_bucket: String,
    /// Buckets and how their keys name tenants; events from other buckets are dropped with a warning.
    pub buckets: Vec<(String, TenantKeys)>,
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
                    .delete(Bucket::Raw)
                    .purge(Bucket::Raw)
                    .delete(Bucket::Curated),
            )?,
            curated_bucket: stack.curated_bucket()?,
            metadata: stack.metadata(Rows::ReadWrite)?,
            records: stack.records(Rows::Read)?,
            workflows: stack.workflows()?,
            buckets: vec![(
                stack.raw_bucket()?,
                TenantKeys::Prefixed {
                    owner: stack.owner_tenant()?,
                },
            )],
            max_file_bytes: stack.config.max_file_bytes,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            records: stack.records.clone(),
            curated_bucket: jarvis_local::stack::CURATED_BUCKET.into(),
            workflows: Arc::new(stack.workflows.clone()),
            buckets: vec![
                (RAW_BUCKET.into(), TenantKeys::Prefixed { owner: None }),
                (
                    INBOX_BUCKET.into(),
                    TenantKeys::Inbox {
                        default: stack.config.default_tenant.clone(),
                    },
                ),
            ],
            max_file_bytes: stack.config.max_file_bytes,
        }
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Started(DocumentId),
    /// A run for this exact object version exists already.
    Redelivered(DocumentId),
    /// Same content as an existing document; recorded as its alias.
    Duplicate {
        of: DocumentId,
    },
    /// Refused before any run; the document is `failed` with this reason.
    Refused {
        document: DocumentId,
        reason: String,
    },
    /// Nothing to do (the object is gone, or not in a known bucket / tenant folder).
    Ignored(String),
}

/// Handles an SQS batch; the response lists the records to redeliver.
pub async fn handle(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    let mut failed = Vec::new();
    for (message_id, body) in jarvis_lambda::sqs::bodies(&event) {
        match route_one(deps, body).await {
            Ok(outcome) => info!(message_id, ?outcome, "routed"),
            Err(e) => {
                // Every failure is redelivered. One that is not transient fails the same way
                // each time, so it reaches the dead-letter queue after its receive limit.
                warn!(message_id, error = %e, retryable = e.is_retryable(), "will be redelivered");
                failed.push(message_id);
            }
        }
    }
    jarvis_lambda::sqs::batch_response(failed)
}

/// Routes one `Object Created` message body.
pub async fn route_one(deps: &Deps, body: &str) -> Result<Outcome, PortError> {
    let event = match parse_object_created(body) {
        Ok(e) => e,
        Err(reason) => {
            return Ok(Outcome::Ignored(format!(
                "not an Object Created event: {reason}"
            )))
        }
    };
    let Some((_, keys_are)) = deps.buckets.iter().find(|(b, _)| *b == event.bucket) else {
        return Ok(Outcome::Ignored(format!(
            "bucket {} is not ingested",
            event.bucket
        )));
    };
    let tenant = match keys_are {
        TenantKeys::Prefixed { owner } => keys::owner_of_raw_key(&event.key, owner.as_ref()),
        TenantKeys::Inbox { default } => keys::tenant_of_inbox_key(&event.key, default),
    };
    let Some(tenant) = tenant else {
        return Ok(Outcome::Ignored(format!(
            "{} is not in a tenant folder (files dropped by hand into inbox/ or the bucket's root need JARVIS_OWNER_TENANT, the deployment's owner_tenant)",
            event.key
        )));
    };
    // The tenant asked for everything to be erased, and that is under way:
    // this object goes too, every version of it, and becomes nothing.
    if jarvis_core::records::erasing(deps.records.as_ref(), &tenant).await? {
        let removed = deps.blobs.purge_prefix(&event.bucket, &event.key).await?;
        return Ok(Outcome::Ignored(format!(
            "{} arrived while its tenant's data is being erased; removed ({removed} versions)",
            event.key
        )));
    }
    // An attachment of a mail deleted meanwhile (`DELETE /me/data` while the
    // mail was being parsed) must not come back as a document: it goes too.
    if let Some(parent) = parent_of(&event.key) {
        if deps
            .metadata
            .get_document(&tenant, &parent)
            .await?
            .is_none()
        {
            match deps.blobs.delete(&event.bucket, &event.key).await {
                Ok(()) | Err(PortError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            return Ok(Outcome::Ignored(format!(
                "{} belongs to a mail that was deleted; removed",
                event.key
            )));
        }
    }
    let id = DocumentId::for_object(&tenant, &event.bucket, &event.key);
    // The event may be stale: what counts is the object as it is now.
    let source = match deps.blobs.head(&event.bucket, &event.key).await {
        Ok(obj) => obj,
        Err(PortError::NotFound(_)) => {
            return Ok(Outcome::Ignored(format!("{} no longer exists", event.key)))
        }
        Err(e) => return Err(e),
    };
    let is_inbox = matches!(keys_are, TenantKeys::Inbox { .. });
    let existing = deps.metadata.get_document(&tenant, &id).await?;

    let refusal = if source.size == 0 {
        Some("the file is empty (0 bytes)".to_owned())
    } else if source.size > deps.max_file_bytes {
        Some(too_large(source.size, deps.max_file_bytes))
    } else {
        None
    };
    let content_type = if refusal.is_some() {
        content_type_for(&source.key, b"")
    } else {
        sniffed_content_type(deps, &source).await?
    };
    let mut doc = new_document(&tenant, &id, &source, &content_type, existing.as_ref());

    if let Some(reason) = refusal {
        doc.status = DocumentStatus::Failed;
        doc.status_reason = Some(reason.clone());
        deps.metadata.put_document(&doc).await?;
        return Ok(Outcome::Refused {
            document: id,
            reason,
        });
    }

    // The same content as another document: a new file becomes its alias. A
    // file that has a document of its own stays its own document whatever it
    // now holds (edited to match another file, it is that file's new version,
    // not a copy to fold away: its old text must go from search).
    if existing.is_none() {
        if let Some(original) = deps.metadata.find_by_etag(&tenant, &source.etag).await? {
            if original.id != id && original.status != DocumentStatus::Failed {
                deps.metadata
                    .add_alias(&tenant, &original.id, &source.key)
                    .await?;
                return Ok(Outcome::Duplicate { of: original.id });
            }
        }
    }

    let unchanged = existing
        .as_ref()
        .is_some_and(|d| d.source.etag == source.etag);
    // A new version, or the same bytes after a failure (a re-drop asks to try again).
    let rerun = !unchanged
        || existing
            .as_ref()
            .is_some_and(|d| d.status == DocumentStatus::Failed);
    if !rerun {
        // A redelivered event: the document names the same run, so this starts nothing.
        let name = run_name(&source.bucket, &source.key, &source.etag, doc.runs);
        return start(deps, &name, &doc, is_inbox).await;
    }
    // A run of its own: its number is one past the last, so its name is new
    // even for bytes an earlier run (maybe still under way) had.
    if let Some(old) = &existing {
        doc.runs = old.runs + 1;
    }
    deps.metadata.put_document(&doc).await?;
    // The previous run's files: if it is still under way it finds them gone,
    // fails, and (superseded) marks nothing.
    if let Some(old) = &existing {
        let version = jarvis_core::pipeline::run_version(&old.source.etag, old.runs);
        let prefix = keys::run_prefix(&tenant, &id, &version);
        deps.blobs
            .delete_prefix(&deps.curated_bucket, &prefix)
            .await?;
    }
    let name = run_name(&source.bucket, &source.key, &source.etag, doc.runs);
    start(deps, &name, &doc, is_inbox).await
}

async fn start(
    deps: &Deps,
    name: &str,
    doc: &Document,
    is_inbox: bool,
) -> Result<Outcome, PortError> {
    let state = PipelineState {
        tenant_id: doc.tenant_id.clone(),
        document_id: doc.id.clone(),
        source: doc.source.clone(),
        content_type: doc.content_type.clone(),
        origin: keys::origin_of(is_inbox, &doc.source.key).to_owned(),
        extracted: None,
        chunks: None,
        embeddings: None,
        chunk_count: None,
        run: doc.runs,
    };
    match deps.workflows.start(name, &state).await? {
        StartOutcome::Started => Ok(Outcome::Started(doc.id.clone())),
        StartOutcome::AlreadyExists => Ok(Outcome::Redelivered(doc.id.clone())),
    }
}

/// Content type from the name, or from the first bytes when the name says nothing.
async fn sniffed_content_type(deps: &Deps, source: &ObjectRef) -> Result<String, PortError> {
    if let Some(by_name) = content_type_by_name(&source.key) {
        return Ok(by_name.to_owned());
    }
    let bytes = deps.blobs.get(&source.bucket, &source.key).await?;
    Ok(content_type_for(
        &source.key,
        &bytes[..bytes.len().min(512)],
    ))
}

fn new_document(
    tenant: &TenantId,
    id: &DocumentId,
    source: &ObjectRef,
    content_type: &str,
    existing: Option<&Document>,
) -> Document {
    let now = Utc::now();
    Document {
        id: id.clone(),
        tenant_id: tenant.clone(),
        title: existing
            .map(|d| d.title.clone())
            .unwrap_or_else(|| file_name(&source.key).to_owned()),
        source: source.clone(),
        content_type: content_type.to_owned(),
        status: DocumentStatus::Queued,
        status_reason: None,
        chunk_count: existing.map_or(0, |d| d.chunk_count),
        parent_id: parent_of(&source.key),
        aliases: existing.map(|d| d.aliases.clone()).unwrap_or_default(),
        runs: existing.map_or(0, |d| d.runs),
        stage: None,
        created_at: existing.map_or(now, |d| d.created_at),
        updated_at: now,
    }
}

/// The mail an attachment key (`{tenant}/attachments/{parent}/…`) belongs to.
fn parent_of(key: &str) -> Option<DocumentId> {
    let mut parts = key.split('/');
    let (_tenant, kind, parent) = (parts.next()?, parts.next()?, parts.next()?);
    (kind == "attachments")
        .then(|| DocumentId::parse(parent))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_know_their_mail() {
        let parent = "doc_0123456789abcdef01234567";
        assert_eq!(
            parent_of(&format!("t/attachments/{parent}/0-a.pdf"))
                .unwrap()
                .as_str(),
            parent
        );
        assert_eq!(parent_of("t/uploads/a.pdf"), None);
    }
}
