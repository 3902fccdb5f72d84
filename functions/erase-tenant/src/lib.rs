//! `erase-tenant`: removes everything of one tenant, as a job. `DELETE /me/data`
//! (api-me) writes the tenant's erasure record (`running`) and starts this
//! asynchronously, so an erasure is not bound by API Gateway's 29 s; the
//! caller polls `GET /me/data/erasure`.
//!
//! In order, each phase idempotent (a retried or duplicated job redoes nothing
//! that is done):
//! 1. the search index entries, so nothing is found any more;
//! 2. the pipeline runs of the tenant's documents still under way (Step
//!    Functions executions, stopped), the mail subscription, the
//!    transcription service's finished jobs, and every reminder's schedule;
//! 3. the records (tasks, reminders, drafts, conversations, memories, settings);
//! 4. every document record, and files outside the tenant's prefix (the local inbox);
//! 5. every file under the tenant's prefix in the raw and curated buckets,
//!    **with every stored version** (the buckets are versioned, and a plain
//!    delete would only hide an object behind a delete marker) — originals,
//!    mail as SES stored it, derived files, transcripts, exports;
//! 6. once the index has had time to show writes made just before the first
//!    pass (OpenSearch makes writes searchable at its next refresh), the index
//!    and the curated prefix once more, for what an in-flight run wrote meanwhile;
//! 7. transcription jobs still running when it began cannot be deleted (the
//!    service refuses until they end) and write their transcript when they
//!    do: the erasure waits for them, deletes them, and sweeps the curated
//!    prefix once more. If they outlast its wait it ends `failed`, saying so,
//!    and runs again.
//!
//! While the record says `running`, uploads are refused (409), pipeline-router
//! removes any new object of the tenant instead of processing it, and tools,
//! chat and reflection store nothing new. The record then says `done`, with
//! what was removed: it is the one thing an erasure leaves, and holds no
//! content. An attempt that fails says `failed`, with its reason: nothing is
//! held back then, and `DELETE /me/data` (or the invoke's own retry) runs it
//! again.

use chrono::{DateTime, Utc};
use jarvis_core::clock::Clock;
use jarvis_core::domain::{Document, ErasedCounts, Erasure, ErasureState, Reminder, Settings};
use jarvis_core::ports::{
    BlobStore, DocumentFilter, MetadataStore, NotificationTargets, PortResult, RecordStore,
    Scheduler, SearchIndex, TranscriptionJobs, WorkflowStopper,
};
use jarvis_core::records::{self, Change};
use jarvis_core::{PortError, StepError, TenantId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub records: Arc<dyn RecordStore>,
    pub index: Arc<dyn SearchIndex>,
    pub scheduler: Arc<dyn Scheduler>,
    /// Where reminders are mailed (SNS); `None` locally.
    pub targets: Option<Arc<dyn NotificationTargets>>,
    /// The transcription service's records of the tenant's jobs; `None` locally.
    pub transcriptions: Option<Arc<dyn TranscriptionJobs>>,
    /// Stops the pipeline runs of the tenant's documents (Step Functions);
    /// `None` locally, where a run stops at its deleted document.
    pub runs: Option<Arc<dyn WorkflowStopper>>,
    /// How long it waits for transcription jobs still running to end.
    pub transcription_wait: Duration,
    pub raw_bucket: String,
    pub curated_bucket: String,
    /// The deployment's owner, whose files dropped by hand (`inbox/…`, the
    /// raw bucket's root) and their transcripts live outside a tenant prefix.
    pub owner: Option<TenantId>,
    pub clock: Arc<dyn Clock>,
    /// How long after its first pass the index is swept again (OpenSearch's
    /// refresh; the local index shows every write at once, so zero there).
    pub settle: Duration,
}

/// OpenSearch Serverless makes writes searchable within seconds; a minute is
/// a wide margin, and the job has 15 minutes.
pub const AWS_SETTLE: Duration = Duration::from_secs(60);

/// How long the job waits for transcription jobs still running (it has 15
/// minutes in all; one that ends later makes it `failed`, and it runs again).
pub const AWS_TRANSCRIPTION_WAIT: Duration = Duration::from_secs(10 * 60);

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        Ok(Deps {
            blobs: stack.blobs(
                BlobAccess::new()
                    .delete(Bucket::Raw)
                    .purge(Bucket::Raw)
                    .purge(Bucket::Curated),
            )?,
            metadata: stack.metadata(Rows::All)?,
            records: stack.records(Rows::All)?,
            index: stack.index()?,
            scheduler: stack.schedule_canceller(),
            targets: Some(stack.notification_unsubscriber()?),
            transcriptions: Some(stack.transcription_jobs()),
            runs: Some(stack.workflow_stopper()?),
            transcription_wait: AWS_TRANSCRIPTION_WAIT,
            raw_bucket: stack.raw_bucket()?,
            curated_bucket: stack.curated_bucket()?,
            owner: stack.owner_tenant()?,
            clock: Arc::new(jarvis_core::clock::SystemClock),
            settle: AWS_SETTLE,
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            records: stack.records.clone(),
            index: stack.index.clone(),
            scheduler: stack.scheduler.clone(),
            targets: None,
            transcriptions: None,
            runs: None,
            transcription_wait: Duration::ZERO,
            raw_bucket: jarvis_local::stack::RAW_BUCKET.into(),
            curated_bucket: jarvis_local::stack::CURATED_BUCKET.into(),
            owner: None,
            clock: stack.clock.clone(),
            settle: Duration::ZERO,
        }
    }
}

/// The job's input: the asynchronous invoke's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub tenant_id: TenantId,
}

/// A fresh erasure record: asked for at `now`, not yet started.
pub fn requested(tenant: &TenantId, now: DateTime<Utc>) -> Erasure {
    Erasure {
        tenant_id: tenant.clone(),
        id: Erasure::ID.into(),
        state: ErasureState::Running,
        requested_at: now,
        started_at: None,
        finished_at: None,
        removed: ErasedCounts::default(),
        last_error: None,
    }
}

/// Runs one erasure job to its end and answers the finished record. A job for
/// an erasure already `done` (a duplicated invoke) does nothing.
#[tracing::instrument(skip_all, fields(tenant = %job.tenant_id))]
pub async fn handle(deps: &Deps, job: Job) -> Result<Erasure, StepError> {
    let tenant = &job.tenant_id;
    let store = deps.records.as_ref();
    let now = deps.clock.now();
    let finished = records::update::<Erasure, Option<Erasure>>(store, tenant, Erasure::ID, |e| {
        Ok(match e {
            Some(e) if e.state == ErasureState::Done => Change::Keep(Some(e)),
            Some(mut e) => {
                e.started_at = Some(now);
                Change::Write(e, None)
            }
            None => {
                let mut e = requested(tenant, now);
                e.started_at = Some(now);
                Change::Write(e, None)
            }
        })
    })
    .await?;
    if let Some(done) = finished {
        tracing::info!("this erasure finished already");
        return Ok(done);
    }
    let outcome = erase(deps, tenant).await;
    let end = deps.clock.now();
    let recorded = records::update::<Erasure, Erasure>(store, tenant, Erasure::ID, |e| {
        let mut e = e.unwrap_or_else(|| requested(tenant, now));
        match &outcome {
            Ok(removed) => {
                e.state = ErasureState::Done;
                e.finished_at = Some(end);
                e.removed = removed.clone();
                e.last_error = None;
            }
            Err(err) => {
                // Ends failed, with its reason: nothing is held back while it
                // is so (uploads are taken again), and it can be asked again.
                e.state = ErasureState::Failed;
                e.finished_at = Some(end);
                e.last_error = Some(err.to_string());
            }
        }
        Ok(Change::Write(e.clone(), e))
    })
    .await?;
    match outcome {
        Ok(removed) => {
            tracing::info!(?removed, "tenant data erased");
            Ok(recorded)
        }
        Err(e) => Err(e.into()),
    }
}

/// Every document record of the tenant, page by page.
pub async fn all_documents(
    metadata: &dyn MetadataStore,
    tenant: &TenantId,
) -> PortResult<Vec<Document>> {
    let mut docs = Vec::new();
    loop {
        let page = metadata
            .list_documents(
                tenant,
                &DocumentFilter {
                    status: None,
                    limit: 100,
                    after: docs.last().map(|d: &Document| d.id.clone()),
                },
            )
            .await?;
        let n = page.len();
        docs.extend(page);
        if n < 100 {
            return Ok(docs);
        }
    }
}

/// Removes everything of `tenant` (the phases in the crate's documentation)
/// and answers what it removed.
pub async fn erase(deps: &Deps, tenant: &TenantId) -> PortResult<ErasedCounts> {
    let began = std::time::Instant::now();
    let mut erased = ErasedCounts::default();
    deps.index.delete_tenant(tenant).await?;
    // Nothing more is mailed to the tenant's address.
    let settings = records::get::<Settings>(deps.records.as_ref(), tenant, Settings::ID).await?;
    if let (Some(id), Some(targets)) = (settings.and_then(|s| s.notify_subscription), &deps.targets)
    {
        targets.unsubscribe(&id).await?;
    }
    // Runs still under way stop now (they would stop at their deleted
    // document anyway, after their next step; a run waiting on a service —
    // a transcription — would wait on).
    if let Some(runs) = &deps.runs {
        for doc in all_documents(deps.metadata.as_ref(), tenant).await? {
            if !doc.status.is_terminal() {
                let name = jarvis_core::pipeline::run_name(
                    &doc.source.bucket,
                    &doc.source.key,
                    &doc.source.etag,
                    doc.runs,
                );
                if runs.stop(&name).await? {
                    erased.runs += 1;
                }
            }
        }
    }
    // Transcribe keeps each job (naming the media file) for 90 days.
    let is_owner = deps.owner.as_ref() == Some(tenant);
    let mut transcribing = 0;
    if let Some(jobs) = &deps.transcriptions {
        let forgotten = jobs.forget_tenant(tenant).await?;
        erased.transcription_jobs = forgotten.deleted;
        transcribing = forgotten.running;
        if is_owner {
            erased.transcription_jobs += jobs.forget_unowned().await?;
        }
    }
    for reminder in records::list::<Reminder>(deps.records.as_ref(), tenant).await? {
        deps.scheduler.cancel(tenant, &reminder.id).await?;
        erased.schedules += 1;
    }
    erased.records = deps.records.delete_tenant(tenant).await?;
    let prefix = format!("{tenant}/");
    for doc in all_documents(deps.metadata.as_ref(), tenant).await? {
        // Files outside the tenant's prefix (the local inbox) go one by one.
        for key in std::iter::once(&doc.source.key).chain(&doc.aliases) {
            if doc.source.bucket == deps.raw_bucket && !key.starts_with(&prefix) {
                // The owner's, dropped by hand at the bucket's root: every version.
                erased.files += deps.blobs.purge_prefix(&deps.raw_bucket, key).await?;
            } else if doc.source.bucket != deps.raw_bucket {
                match deps.blobs.delete(&doc.source.bucket, key).await {
                    Ok(()) => erased.files += 1,
                    Err(PortError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        deps.metadata.delete_document(tenant, &doc.id).await?;
        erased.documents += 1;
    }
    erased.files += deps.blobs.purge_prefix(&deps.raw_bucket, &prefix).await?;
    if is_owner {
        // What the owner dropped by hand, and those files' transcripts.
        let inbox = format!("{}/", jarvis_core::pipeline::keys::OWNER_INBOX);
        erased.files += deps.blobs.purge_prefix(&deps.raw_bucket, &inbox).await?;
        erased.files += deps
            .blobs
            .purge_prefix(&deps.curated_bucket, "transcripts/")
            .await?;
    }
    erased.files += deps
        .blobs
        .purge_prefix(&deps.curated_bucket, &prefix)
        .await?;
    // A run that was in flight stops at its deleted document and takes back
    // what it wrote; this pass is for what the index did not show yet.
    if let Some(rest) = deps.settle.checked_sub(began.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    deps.index.delete_tenant(tenant).await?;
    erased.files += deps
        .blobs
        .purge_prefix(&deps.curated_bucket, &prefix)
        .await?;
    if let (Some(jobs), true) = (&deps.transcriptions, transcribing > 0) {
        erased.transcription_jobs += wait_for_transcriptions(deps, jobs.as_ref(), tenant).await?;
        // What they wrote as they ended.
        erased.files += deps
            .blobs
            .purge_prefix(&deps.curated_bucket, &prefix)
            .await?;
    }
    Ok(erased)
}

/// Waits up to `deps.transcription_wait` for the tenant's transcription jobs
/// still running to end, deleting each as it does; answers how many it
/// deleted, or an error naming how many still run.
async fn wait_for_transcriptions(
    deps: &Deps,
    jobs: &dyn TranscriptionJobs,
    tenant: &TenantId,
) -> PortResult<usize> {
    let poll =
        (deps.transcription_wait / 20).clamp(Duration::from_millis(10), Duration::from_secs(10));
    let began = std::time::Instant::now();
    let mut deleted = 0;
    loop {
        let forgotten = jobs.forget_tenant(tenant).await?;
        deleted += forgotten.deleted;
        if forgotten.running == 0 {
            return Ok(deleted);
        }
        if began.elapsed() >= deps.transcription_wait {
            return Err(PortError::Transient {
                backend: "transcribe",
                message: format!(
                    "{} of your transcription jobs were still running after {} s; the erasure runs again to remove what they write",
                    forgotten.running,
                    deps.transcription_wait.as_secs()
                ),
                source: None,
            });
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_invoke_is_a_job() {
        let job: Job = serde_json::from_str(include_str!(
            "../../../events/erase-tenant.async-invoke.json"
        ))
        .unwrap();
        assert_eq!(
            job.tenant_id.as_str(),
            "3f1c2a9e-5b7d-4e8a-9c0f-1a2b3c4d5e6f"
        );
    }
}
