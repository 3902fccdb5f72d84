//! The ports: one narrow async trait per capability. Handlers are written
//! against these; `jarvis-local` implements them on one machine, the AWS adapter
//! crate with S3, DynamoDB, SQS, Step Functions, OpenSearch, Bedrock and friends.

use crate::domain::{
    Chunk, Document, DocumentId, DocumentStatus, ObjectRef, PiiKind, Reminder, ReminderRef,
    TenantId,
};
use crate::error::PortError;
use crate::pii::PiiEntity;
use crate::pipeline::PipelineState;
use crate::search::{SearchHit, SearchQuery};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub type PortResult<T> = Result<T, PortError>;

/// Object storage (S3 buckets; locally folders).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes`, returning the object's pointer with its ETag and size.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> PortResult<ObjectRef>;
    /// Stores `bytes` only if no object has the key: `Conflict` otherwise, and
    /// the stored object is untouched (S3: `If-None-Match: *`; a file: a link
    /// that fails if the name exists). What an upload that must never replace
    /// another writes with.
    async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> PortResult<ObjectRef>;
    async fn get(&self, bucket: &str, key: &str) -> PortResult<Vec<u8>>;
    /// Size and ETag without the body; `NotFound` when absent.
    async fn head(&self, bucket: &str, key: &str) -> PortResult<ObjectRef>;
    /// Deletes an object; absent objects are not an error.
    async fn delete(&self, bucket: &str, key: &str) -> PortResult<()>;
    /// Deletes every object under `prefix`; returns how many.
    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> PortResult<usize>;
    /// Deletes every object under `prefix` for good: in a versioned bucket a
    /// plain delete only hides the object behind a delete marker, so this
    /// removes every stored version and marker. Returns how many it removed.
    /// A store without versions deletes as [`BlobStore::delete_prefix`] does.
    async fn purge_prefix(&self, bucket: &str, prefix: &str) -> PortResult<usize> {
        self.delete_prefix(bucket, prefix).await
    }
    /// Stores the file at `path`. Stores that can stream it (S3) read it as
    /// it is sent instead of holding it whole in memory.
    async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> PortResult<ObjectRef> {
        let bytes = std::fs::read(path).map_err(|e| PortError::backend("filesystem", e))?;
        self.put(bucket, key, bytes, content_type).await
    }
}

/// A status change, applied only if the document is in one of `from` (a
/// conditional write, so an out-of-order retry cannot move a status backwards).
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub to: DocumentStatus,
    pub reason: Option<String>,
    pub chunk_count: Option<u32>,
    pub title: Option<String>,
    /// Allowed current statuses; empty means any.
    pub from: Vec<DocumentStatus>,
    /// The run the change is about, when a pipeline run makes it (its
    /// [`crate::pipeline::PipelineState::version`]: the source ETag and the run
    /// number): the change applies only while that run is the document's
    /// current one, so a superseded run can neither finish nor fail a newer one
    /// — even of the same bytes.
    pub version: Option<String>,
    /// The stage a `processing` document enters (kept when `None`); any
    /// other status has none.
    pub stage: Option<crate::domain::Stage>,
}

impl StatusChange {
    /// Applies the change to `doc`, or `Conflict` when its current status is not allowed.
    /// Every metadata adapter calls this inside its conditional write.
    pub fn apply(&self, doc: &mut Document) -> PortResult<()> {
        if let Some(version) = &self.version {
            if &crate::pipeline::run_version(&doc.source.etag, doc.runs) != version {
                return Err(PortError::Conflict(format!(
                    "document {} now holds another version of its file",
                    doc.id
                )));
            }
        }
        if !self.from.is_empty() && !self.from.contains(&doc.status) {
            return Err(PortError::Conflict(format!(
                "document {} is {}, not {}",
                doc.id,
                doc.status.as_str(),
                self.from
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        doc.status = self.to;
        doc.stage = if self.to == DocumentStatus::Processing {
            self.stage.or(doc.stage)
        } else {
            None
        };
        doc.status_reason = self.reason.clone();
        if let Some(n) = self.chunk_count {
            doc.chunk_count = n;
        }
        if let Some(t) = &self.title {
            doc.title = t.clone();
        }
        doc.updated_at = chrono::Utc::now();
        Ok(())
    }
}

/// Records `key` as an alias of `doc`; false when it is already the source or an alias.
pub fn add_alias_to(doc: &mut Document, key: &str) -> bool {
    if doc.source.key == key || doc.aliases.iter().any(|a| a == key) {
        return false;
    }
    doc.aliases.push(key.to_owned());
    true
}

/// Filters for listing documents.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    pub status: Option<DocumentStatus>,
    pub limit: usize,
    /// Return documents whose id sorts after this one (pagination).
    pub after: Option<DocumentId>,
}

/// Document records and their status (DynamoDB; locally SQLite).
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Inserts or replaces a document record.
    async fn put_document(&self, doc: &Document) -> PortResult<()>;
    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> PortResult<Option<Document>>;
    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> PortResult<Vec<Document>>;
    /// A document of this tenant whose content has this ETag, if any.
    async fn find_by_etag(&self, tenant: &TenantId, etag: &str) -> PortResult<Option<Document>>;
    /// Applies a status change; `Conflict` when the current status is not allowed.
    async fn change_status(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        change: &StatusChange,
    ) -> PortResult<Document>;
    /// Records that `key` held the same content as document `id`.
    async fn add_alias(&self, tenant: &TenantId, id: &DocumentId, key: &str) -> PortResult<()>;
    async fn delete_document(&self, tenant: &TenantId, id: &DocumentId) -> PortResult<()>;
}

/// A message taken from a queue; `receipt` acknowledges it.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub id: String,
    pub receipt: String,
    pub body: String,
    pub receive_count: u32,
}

/// A work queue with at-least-once delivery (SQS; locally SQLite-backed).
#[async_trait]
pub trait Queue: Send + Sync {
    async fn send(&self, body: &str) -> PortResult<String>;
    /// Up to `max` messages, hidden from other receivers for `visibility_secs`.
    async fn receive(&self, max: usize, visibility_secs: u64) -> PortResult<Vec<QueueMessage>>;
    async fn ack(&self, receipt: &str) -> PortResult<()>;
}

/// What starting a workflow run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    /// A run with this name exists already (the event was a redelivery). Step
    /// Functions answers an identical request for a still-running execution with
    /// success instead, so a redelivery may also read `Started`; either way there
    /// is one run.
    AlreadyExists,
}

/// Starts pipeline runs (Step Functions; locally the in-process state machine).
#[async_trait]
pub trait WorkflowStarter: Send + Sync {
    /// Starts a run named `name`; names are unique, so a repeated name starts nothing.
    async fn start(&self, name: &str, input: &PipelineState) -> PortResult<StartOutcome>;
}

/// Stops pipeline runs (Step Functions `StopExecution`): what an erasure does
/// to the runs of the documents it removes.
#[async_trait]
pub trait WorkflowStopper: Send + Sync {
    /// Stops the run named `name`; `false` when there is none (or it ended).
    async fn stop(&self, name: &str) -> PortResult<bool>;
}

/// What [`TranscriptionJobs::forget_tenant`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Jobs deleted.
    pub deleted: usize,
    /// Jobs still queued or running: the service deletes no job before it
    /// ends, and each will write its transcript when it does.
    pub running: usize,
}

/// A chunk with its embedding, ready for the index.
#[derive(Debug, Clone)]
pub struct IndexedChunk {
    pub chunk: Chunk,
    pub vector: Vec<f32>,
}

/// The hybrid search index (OpenSearch; locally tantivy + a vector index).
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// Replaces every chunk of one document with `chunks`.
    async fn replace_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        chunks: Vec<IndexedChunk>,
    ) -> PortResult<()>;
    async fn delete_document(&self, tenant: &TenantId, id: &DocumentId) -> PortResult<()>;
    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<()>;
    /// BM25 and vector retrieval, fused, always filtered to `query.tenant_id`.
    async fn search(&self, query: &SearchQuery) -> PortResult<Vec<SearchHit>>;
}

/// Text embeddings (Bedrock Titan; locally all-MiniLM-L6-v2 on ONNX Runtime or in pure Rust).
#[async_trait]
pub trait Embedder: Send + Sync {
    /// One unit-length vector per text.
    async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>>;
    fn dimensions(&self) -> usize;
    fn model_id(&self) -> &str;
}

/// What an image holds.
#[derive(Debug, Clone, Default)]
pub struct ImageAnalysis {
    pub text: String,
    pub labels: Vec<String>,
    /// Text per page, for multi-page inputs (scanned PDFs, TIFFs); empty otherwise.
    pub pages: Vec<String>,
}

/// Image text and labels (Textract/Rekognition; locally Tesseract OCR).
#[async_trait]
pub trait ImageAnalyzer: Send + Sync {
    /// `Unavailable` when this deployment has no engine for it.
    async fn analyze(
        &self,
        image: &ObjectRef,
        bytes: &[u8],
        content_type: &str,
    ) -> PortResult<ImageAnalysis>;
}

/// A transcript, with timed segments where the engine gives them.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    pub text: String,
    pub segments: Vec<(f32, String)>,
}

/// Speech to text (Transcribe; locally none unless an engine is configured).
#[async_trait]
pub trait Transcriber: Send + Sync {
    async fn transcribe(&self, media: &ObjectRef, content_type: &str) -> PortResult<Transcript>;
}

/// The records a transcription service keeps of a tenant's jobs (Transcribe
/// keeps each job, naming the media file, for 90 days).
#[async_trait]
pub trait TranscriptionJobs: Send + Sync {
    /// Deletes every finished job of `tenant`; answers how many, and how
    /// many are still running (those cannot be deleted yet).
    async fn forget_tenant(&self, tenant: &TenantId) -> PortResult<Forgotten>;
    /// Deletes every job of media outside any tenant's prefix (the owner's
    /// files dropped by hand); answers how many.
    async fn forget_unowned(&self) -> PortResult<usize>;
}

/// What a language service reads in a text, beyond PII.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TextInsights {
    /// Dominant language, as an ISO 639 code.
    pub language: Option<String>,
    /// Named entities as (type, text), e.g. ("PERSON", "Ana Silva"), most confident first.
    pub entities: Vec<(String, String)>,
    /// Key phrases, most confident first.
    pub key_phrases: Vec<String>,
}

/// PII detection (Comprehend; locally [`crate::pii`]).
#[async_trait]
pub trait PiiDetector: Send + Sync {
    async fn detect(&self, text: &str) -> PortResult<Vec<PiiEntity>>;

    /// Language, entities and key phrases, where the engine reads them (Comprehend
    /// does; the local pattern detector does not, and answers `None`).
    async fn insights(&self, _text: &str) -> PortResult<Option<TextInsights>> {
        Ok(None)
    }
}

/// The local, pattern-based detector.
#[derive(Debug, Default, Clone, Copy)]
pub struct PatternPiiDetector;

#[async_trait]
impl PiiDetector for PatternPiiDetector {
    async fn detect(&self, text: &str) -> PortResult<Vec<PiiEntity>> {
        Ok(crate::pii::detect(text))
    }
}

/// The kinds of records the assistant keeps per tenant besides documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    Task,
    Reminder,
    Draft,
    Conversation,
    Memory,
    Settings,
    /// An open WebSocket connection ([`crate::domain::LiveConnection`]).
    Connection,
    /// A remembered `Idempotency-Key` ([`crate::idempotency::IdempotencyRecord`]).
    Idempotency,
    /// A tenant's allowance of a limited side effect ([`crate::domain::Allowance`]:
    /// mail sent in the last day), counted by compare-and-set.
    Allowance,
    /// The erasure tombstone and receipt ([`crate::domain::Erasure`]): not the
    /// tenant's data, so not in [`RecordKind::ALL`], and never removed by
    /// [`RecordStore::delete_tenant`].
    Erasure,
}

impl RecordKind {
    /// The kinds that hold a tenant's data.
    pub const ALL: [RecordKind; 9] = [
        Self::Task,
        Self::Reminder,
        Self::Draft,
        Self::Conversation,
        Self::Memory,
        Self::Settings,
        Self::Connection,
        Self::Idempotency,
        Self::Allowance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Reminder => "reminder",
            Self::Draft => "draft",
            Self::Conversation => "conversation",
            Self::Memory => "memory",
            Self::Settings => "settings",
            Self::Connection => "connection",
            Self::Idempotency => "idempotency",
            Self::Allowance => "allowance",
            Self::Erasure => "erasure",
        }
    }
}

/// The version a record was read at: an opaque token that every write changes.
/// Handing it back to [`RecordStore::put_if`] writes only if nobody wrote since.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordVersion(pub String);

impl RecordVersion {
    /// A fresh token for a write (random; unique in practice).
    pub fn fresh() -> Self {
        let mut b = [0u8; 12];
        if getrandom::fill(&mut b).is_err() {
            // No OS entropy: a clock-based token still differs per write.
            let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
            b[..8].copy_from_slice(&nanos.to_le_bytes());
        }
        Self(hex::encode(b))
    }
}

/// Tenant-scoped JSON records by kind and id: tasks, reminders, drafts,
/// conversations, memories (DynamoDB items beside the documents; locally SQLite).
/// Every call names the tenant; nothing reads across tenants.
///
/// Records that guard a side effect (a draft being sent, a reminder occurrence
/// being fired, a conversation being appended to) are written with
/// [`RecordStore::put_if`], compare-and-set on the version read: on DynamoDB a
/// conditional `PutItem`, the only protection against races AWS offers.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Creates or replaces, whatever is stored (no race protection: only for
    /// records that guard nothing, like settings).
    async fn put(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
    ) -> PortResult<()>;
    /// Writes `body` only if the stored record is still at `expected` (`None`:
    /// only if there is no such record yet). Returns the new version; a lost
    /// race is `Conflict`, and nothing is written.
    async fn put_if(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
        expected: Option<&RecordVersion>,
    ) -> PortResult<RecordVersion>;
    /// The record and the version it was read at (a strongly consistent read).
    async fn get_versioned(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> PortResult<Option<(serde_json::Value, RecordVersion)>>;
    async fn get(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> PortResult<Option<serde_json::Value>> {
        Ok(self.get_versioned(tenant, kind, id).await?.map(|(v, _)| v))
    }
    /// All records of a kind, in id order (ids are time-ordered).
    async fn list(&self, tenant: &TenantId, kind: RecordKind)
        -> PortResult<Vec<serde_json::Value>>;
    /// `Ok(false)` when there was nothing to delete.
    async fn delete(&self, tenant: &TenantId, kind: RecordKind, id: &str) -> PortResult<bool>;
    /// Every record of the tenant of the kinds in [`RecordKind::ALL`] (the
    /// erasure record stays); returns how many.
    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<usize>;
    /// The tenants that have records of `kind` (nightly jobs go tenant by tenant).
    async fn tenants(&self, kind: RecordKind) -> PortResult<Vec<TenantId>>;
}

/// Something to tell the user now.
#[derive(Debug, Clone)]
pub struct Notification {
    pub tenant_id: TenantId,
    pub subject: String,
    pub body: String,
    pub attributes: Vec<(String, String)>,
}

impl Notification {
    /// The notification as a WebSocket client receives it, locally and on AWS:
    /// `{"type": "notification", "tenant_id", "subject", "body", "attributes"}`.
    pub fn event(&self) -> serde_json::Value {
        let attributes: serde_json::Map<String, serde_json::Value> = self
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "type": "notification",
            "tenant_id": self.tenant_id,
            "subject": self.subject,
            "body": self.body,
            "attributes": attributes,
        })
    }
}

/// Delivers notifications (SNS; locally stdout, WebSocket clients, a webhook).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notification: &Notification) -> PortResult<()>;
}

/// Where a tenant's notifications reach them outside the app. On AWS: an SNS
/// subscription to the reminder topic whose filter policy admits only messages
/// whose `tenant_id` attribute is this tenant, so a reminder reaches its owner
/// and nobody else.
#[async_trait]
pub trait NotificationTargets: Send + Sync {
    /// Subscribes `email` to `tenant`'s notifications only; answers the
    /// subscription's id. Nothing arrives until the address's owner confirms
    /// (SNS mails them a link).
    async fn subscribe_email(&self, tenant: &TenantId, email: &str) -> PortResult<String>;
    /// Ends a subscription `subscribe_email` made; one already gone is not an error.
    async fn unsubscribe(&self, id: &str) -> PortResult<()>;
}

/// Fires reminders at their time (EventBridge Scheduler; locally an in-process scheduler).
#[async_trait]
pub trait Scheduler: Send + Sync {
    async fn schedule(&self, reminder: &Reminder) -> PortResult<()>;
    async fn cancel(&self, tenant: &TenantId, reminder_id: &str) -> PortResult<()>;
    /// Reminders due at or before `now` that have not fired (as far as the
    /// scheduler knows: `reminder-fire` checks the record before it notifies).
    async fn due(&self, now: DateTime<Utc>) -> PortResult<Vec<ReminderRef>>;
}

/// A client connected to a WebSocket API: where its messages are posted
/// (API Gateway's `https://{domain}/{stage}`) and its connection id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub endpoint: String,
    pub id: String,
}

/// Pushes messages to connected WebSocket clients (API Gateway's
/// `@connections`; the local runtime writes to its own sockets instead).
#[async_trait]
pub trait Connections: Send + Sync {
    /// Sends one message; `NotFound` when the client has gone.
    async fn post(&self, to: &Connection, data: &[u8]) -> PortResult<()>;
}

/// An e-mail to send.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub tenant_id: TenantId,
    pub to: Vec<String>,
    pub subject: String,
    pub body_text: String,
}

/// Where a notification also goes at once, besides its durable channel: the
/// tenant's open WebSocket connections (API Gateway `@connections`; locally the
/// runtime's own sockets) and, locally, the tenant's webhook. Called after the
/// delivery is recorded, so nothing here can make a reminder fire twice; best
/// effort (it never fails the delivery), and bounded in time and in the number
/// of connections.
#[async_trait]
pub trait Push: Send + Sync {
    async fn push(&self, n: &Notification);
}

/// Why a mail did not go out, or may have.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Refused before anything left (a bad request, the provider's 4xx, an
    /// SMTP server's refusal): nothing was sent, and the mail may be sent again.
    #[error(transparent)]
    NotSent(PortError),
    /// The outcome is unknown: the mail may have left (a timeout or a broken
    /// connection after the request went out, the provider's 5xx). Never
    /// retried by the adapter or by Jarvis: SES SendEmail is not idempotent.
    #[error("{0}")]
    Unknown(PortError),
}

/// Sends mail (SESv2; locally an outbox folder or SMTP). One call is one
/// attempt: an adapter never retries a send on its own.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Returns the provider's message id.
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError>;
}

/// One message of a chat exchange in the Converse shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: Vec<serde_json::Value>,
}

/// A model turn: the messages so far, the tools it may call.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub system: String,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<serde_json::Value>,
    pub max_tokens: u32,
}

/// What the model answered.
#[derive(Debug, Clone)]
pub struct ChatResponse {
    pub message: ChatMessage,
    /// "end_turn", "tool_use", "max_tokens".
    pub stop_reason: String,
}

/// A piece of a model turn as it streams.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatDelta {
    /// More answer text.
    Text { text: String },
    /// The model started asking for a tool.
    ToolUse { tool_use_id: String, name: String },
}

/// A chat model speaking the Converse message and tool-use format.
#[async_trait]
pub trait ChatModel: Send + Sync {
    async fn converse(&self, request: &ChatRequest) -> PortResult<ChatResponse>;

    /// Like [`ChatModel::converse`], telling `on_delta` each piece as it arrives.
    /// Models that cannot stream answer whole and report the text as one delta.
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_delta: &(dyn Fn(ChatDelta) + Send + Sync),
    ) -> PortResult<ChatResponse> {
        let response = self.converse(request).await?;
        for block in &response.message.content {
            if let Some(text) = block.get("text").and_then(|t| t.as_str()) {
                on_delta(ChatDelta::Text {
                    text: text.to_owned(),
                });
            }
        }
        Ok(response)
    }
}

/// PII kinds worth recording on a document's metadata.
pub fn pii_summary(chunks: &[Chunk]) -> Vec<PiiKind> {
    let mut kinds: Vec<PiiKind> = chunks.iter().flat_map(|c| c.pii.iter().copied()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// A time-limited URL a client uses directly, without Jarvis in the data path.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PresignedUrl {
    pub url: String,
    pub method: String,
    /// Headers the client must send with the request (e.g. the content type it
    /// was signed for), each a `[name, value]` pair.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// Pre-signed object URLs (S3): uploads larger than an API request allows, and downloads.
#[async_trait]
pub trait UrlSigner: Send + Sync {
    /// A PUT of exactly `size` bytes of `content_type` to `key`: the size and
    /// the type are part of the signature, so another body is refused. With
    /// `only_new`, the PUT is refused if an object has the key by then
    /// (`If-None-Match: *`, a header the client must send), so it never
    /// replaces another file.
    async fn upload_url(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        size: u64,
        only_new: bool,
        expires_in: std::time::Duration,
    ) -> PortResult<PresignedUrl>;
    async fn download_url(
        &self,
        bucket: &str,
        key: &str,
        expires_in: std::time::Duration,
    ) -> PortResult<PresignedUrl>;
}

/// Work a request starts and does not wait for: on AWS an asynchronous Lambda
/// invoke (retried by Lambda), locally a background task of the runtime.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// Starts erasing everything of `tenant` (`erase-tenant`); returns at once.
    async fn start_erasure(&self, tenant: &TenantId) -> PortResult<()>;
}
