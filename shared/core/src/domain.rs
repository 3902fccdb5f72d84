//! The records Jarvis keeps. Every one carries the tenant it belongs to; stores
//! key every read and write by it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The owner of a piece of data. On AWS it is the Cognito `sub`; locally the
/// tenant a bearer token was issued for.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct TenantId(String);

impl TenantId {
    /// Longest tenant id accepted.
    pub const MAX_LEN: usize = 128;

    /// A tenant id: 1..=128 characters of `[A-Za-z0-9._-]` (a Cognito `sub` is a UUID).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !raw.starts_with('.');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "tenant id must be 1-{} characters of letters, digits, '-', '_' or '.', not starting with '.'",
                Self::MAX_LEN
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A document's id: derived from its tenant and the object key it came from, so
/// the same object always maps to the same document (idempotency by construction).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^doc_[0-9a-fA-F]{24}$")]
pub struct DocumentId(String);

impl DocumentId {
    pub fn for_object(tenant: &TenantId, bucket: &str, key: &str) -> Self {
        let mut h = Sha256::new();
        h.update(tenant.as_str().as_bytes());
        h.update([0]);
        h.update(bucket.as_bytes());
        h.update([0]);
        h.update(key.as_bytes());
        Self(format!("doc_{}", &hex::encode(h.finalize())[..24]))
    }

    /// Accepts ids as this type prints them (`doc_` + 24 hex digits).
    pub fn parse(raw: &str) -> Option<Self> {
        let hex_part = raw.strip_prefix("doc_")?;
        (hex_part.len() == 24 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a document is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Accepted; a pipeline run is (or will be) started.
    Queued,
    /// A pipeline step is working on it.
    Processing,
    /// Searchable.
    Indexed,
    /// The pipeline gave up; `status_reason` says why.
    Failed,
    /// Kept, but not searchable here because an extractor is missing (for
    /// example no OCR engine installed); `status_reason` names it.
    Skipped,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Indexed => "indexed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "queued" => Self::Queued,
            "processing" => Self::Processing,
            "indexed" => Self::Indexed,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            _ => return None,
        })
    }

    /// Whether a pipeline run has finished with this status.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Indexed | Self::Failed | Self::Skipped)
    }
}

/// A file or mail Jarvis ingested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Document {
    pub id: DocumentId,
    pub tenant_id: TenantId,
    pub title: String,
    /// Where the original lives.
    pub source: ObjectRef,
    pub content_type: String,
    pub status: DocumentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub chunk_count: u32,
    /// The mail a document was attached to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<DocumentId>,
    /// Other keys whose content was identical and so were folded into this document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// How many runs of the pipeline this document had before the current
    /// one (0 for its first): each new version of its file, or each retry,
    /// counts one. A run is identified by its file version *and* this number,
    /// so a file edited A→B→A while A's first run is still under way gets a
    /// run of its own, and the first, superseded, marks nothing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub runs: u32,
    /// While `processing`: which part of the work it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The part of the pipeline a `processing` document is in: its text being
/// read (extracted, transcribed, parsed), then made searchable (checked for
/// personal data, chunked, embedded, indexed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Extracting,
    Indexing,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A pointer to an object in a blob store (an S3 object on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// Content fingerprint (S3 ETag; locally the SHA-256 of the bytes).
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub size: u64,
}

/// Kinds of personal data the PII detector flags.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    CardNumber,
    Iban,
    NationalId,
}

impl PiiKind {
    /// The placeholder written in place of a redacted value.
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Email => "[EMAIL]",
            Self::Phone => "[PHONE]",
            Self::CardNumber => "[CARD_NUMBER]",
            Self::Iban => "[IBAN]",
            Self::NationalId => "[NATIONAL_ID]",
        }
    }
}

/// A searchable piece of a document, with what a citation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// `{document_id}:{ordinal}`.
    pub id: String,
    pub tenant_id: TenantId,
    pub document_id: DocumentId,
    pub ordinal: u32,
    pub title: String,
    pub text: String,
    /// Heading path, e.g. "Setup > Install".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// 1-based page number, for paged formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    pub token_count: u32,
    /// PII kinds found in this chunk (before any redaction).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<PiiKind>,
    /// Where the document came from: "inbox", "upload", "email", "attachment".
    pub source: String,
    pub content_type: String,
    pub created_at: DateTime<Utc>,
}

impl Chunk {
    pub fn id_for(document_id: &DocumentId, ordinal: u32) -> String {
        format!("{document_id}:{ordinal}")
    }
}

/// A to-do item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    pub id: String,
    pub tenant_id: TenantId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
    pub done: bool,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// When a reminder fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReminderSchedule {
    /// Once, at an instant.
    At { at: DateTime<Utc> },
    /// Recurring, by a Scheduler cron expression (`min hour dom month dow year`)
    /// evaluated in `time_zone`.
    Cron {
        expression: String,
        time_zone: String,
    },
}

/// Something to tell the user at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reminder {
    pub id: String,
    pub tenant_id: TenantId,
    pub text: String,
    pub schedule: ReminderSchedule,
    /// When it last fired (a one-time reminder fires once).
    pub fired_at: Option<DateTime<Utc>>,
    pub cancelled: bool,
    pub created_at: DateTime<Utc>,
    /// It fired later than its time (the runtime or the scheduler was down).
    #[serde(default)]
    pub late: bool,
    /// Times it has fired.
    #[serde(default)]
    pub fired_count: u32,
    /// The occurrence (its due time) a delivery claimed before notifying: a
    /// compare-and-set, so of two deliveries of one occurrence only one notifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed: Option<DateTime<Utc>>,
    /// When that claim was made. A claim with no recorded fire that is older
    /// than reminder-fire's lease was abandoned (the delivery died between
    /// claiming and recording), and the next delivery fires the occurrence late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
    /// When its text or time was last changed (`PATCH /reminders/{id}`): no
    /// occurrence before this (or before `created_at`) is delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
}

/// Which reminder a delivery is for, and nothing more: what a schedule carries
/// as its input (on AWS, stored by EventBridge Scheduler under its own key).
/// The reminder's text stays in the table; `reminder-fire` reads it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderRef {
    pub tenant_id: TenantId,
    pub id: String,
}

impl From<&Reminder> for ReminderRef {
    fn from(r: &Reminder) -> Self {
        Self {
            tenant_id: r.tenant_id.clone(),
            id: r.id.clone(),
        }
    }
}

impl From<Reminder> for ReminderRef {
    fn from(r: Reminder) -> Self {
        Self::from(&r)
    }
}

/// Whether a draft has gone out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DraftState {
    Draft,
    /// Claimed by one confirmed send (a compare-and-set from `Draft`): the mail
    /// is going out, or went out and `Sent` is not yet written. A draft in this
    /// state is never sent again; a send that fails before the mail leaves puts
    /// it back to `Draft`.
    Sending {
        since: DateTime<Utc>,
    },
    Sent {
        at: DateTime<Utc>,
        message_id: String,
    },
    /// The mail service's answer never came (a timeout after the request
    /// left): the mail may or may not have gone out. Jarvis never sends it
    /// again on its own; the user was told.
    Unknown {
        since: DateTime<Utc>,
        reason: String,
    },
}

/// A tenant's use of a limited side effect over a sliding window (mail: one
/// per send in the last 24 hours), taken and given back by compare-and-set so
/// that concurrent sends cannot pass the limit together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allowance {
    pub tenant_id: TenantId,
    /// What is limited (`"mail"`).
    pub id: String,
    /// One entry per use still inside the window: when, and for what (a draft id).
    #[serde(default)]
    pub used: Vec<AllowanceUse>,
}

/// One use of an [`Allowance`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowanceUse {
    pub at: DateTime<Utc>,
    pub by: String,
}

/// An e-mail the assistant or the user wrote, kept until the user confirms sending it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Draft {
    pub id: String,
    pub tenant_id: TenantId,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub state: DraftState,
}

/// Who said a conversation turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

/// Where an answer's statement comes from: a real chunk of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Citation {
    /// The `[n]` marker in the answer.
    pub n: usize,
    pub document_id: DocumentId,
    pub chunk_id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    pub snippet: String,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    /// The client's idempotency key of the turn (`turn_id` of `POST /chat`): a
    /// retried turn finds its stored answer here and repeats nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// What the turn did (on the assistant's turn).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<crate::tools::Action>,
    /// On the assistant's turn: the token of the pending action Jarvis itself
    /// showed at the end of this answer (free text may confirm only that one,
    /// and only in the very next turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<String>,
}

/// A chat history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub tenant_id: TenantId,
    pub turns: Vec<Turn>,
    pub updated_at: DateTime<Utc>,
    /// An action the assistant offered (a send, a delete…); only the user's own
    /// confirmation of exactly this runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingAction>,
    /// When memory-reflector last summarised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflected_at: Option<DateTime<Utc>>,
}

/// A tool call waiting for the user's confirmation, as the user was shown it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingAction {
    pub tool: String,
    /// The call's input: the ids of exactly the records it acts on.
    pub input: serde_json::Value,
    /// What the user was shown, rendered by the tool from the stored records.
    pub summary: String,
    /// The tool's digest of what will happen; a changed record no longer matches.
    pub token: String,
    /// Where mail would go: every address the action writes to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Recipients the user never named as recipients in this conversation: no
    /// free-text reply sends to them, only the structured confirmation
    /// (`jarvis_core::consent`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unnamed_recipients: Vec<String>,
    /// For mail: exactly what would be sent, read from the stored draft (what
    /// the confirmation and the web app's card show).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<PendingMail>,
}

/// The mail a pending send would send, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingMail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// A tenant's own settings: one record per tenant, id [`Settings::ID`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub tenant_id: TenantId,
    pub id: String,
    /// The IANA zone the tenant's times are read and shown in; `None` means
    /// the deployment's (`JARVIS_TIME_ZONE`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The address the tenant's reminders are mailed to (AWS: an SNS e-mail
    /// subscription filtered to this tenant), and that subscription's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_subscription: Option<String>,
    /// Where the local runtime POSTs the tenant's notifications (JSON), if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

impl Settings {
    pub const ID: &'static str = "settings";

    /// A tenant's settings before they set anything.
    pub fn empty(tenant: &TenantId) -> Self {
        Self {
            tenant_id: tenant.clone(),
            id: Self::ID.into(),
            time_zone: None,
            notify_email: None,
            notify_subscription: None,
            webhook_url: None,
        }
    }
}

/// A tenant's erasure (`DELETE /me/data`): the tombstone pipeline-router
/// checks while it runs, and afterwards the receipt of what was removed. One
/// record per tenant, id [`Erasure::ID`]; it holds no content, only times and
/// counts, and is the one record an erasure leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Erasure {
    pub tenant_id: TenantId,
    pub id: String,
    pub state: ErasureState,
    pub requested_at: DateTime<Utc>,
    /// When a job last began working on it (a job that died is started again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// What was removed, once finished.
    #[serde(default)]
    pub removed: ErasedCounts,
    /// Why the last attempt failed, while it is being retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Erasure {
    pub const ID: &'static str = "erasure";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureState {
    Running,
    Done,
    /// The last attempt ended with an error (`last_error`); nothing is held
    /// back while it is so, and `DELETE /me/data` starts it again.
    Failed,
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErasedCounts {
    pub documents: usize,
    /// Stored files, every version of each counted.
    pub files: usize,
    pub records: usize,
    pub schedules: usize,
    /// Jobs a transcription service kept of the tenant's audio (AWS).
    #[serde(default)]
    pub transcription_jobs: usize,
    /// Pipeline runs under way that were stopped (AWS).
    #[serde(default)]
    pub runs: usize,
}

/// An open WebSocket connection of a tenant, kept by chat-stream's
/// `$connect` and removed at `$disconnect`, so a reminder reaches the open app
/// as well as the mail subscription (AWS; the local runtime keeps its sockets
/// in memory). API Gateway closes a connection after two hours at most, and
/// does not promise `$disconnect`: an older record, or one API Gateway calls
/// gone, is removed when a notification finds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveConnection {
    pub tenant_id: TenantId,
    /// API Gateway's connection id.
    pub id: String,
    /// `https://{domain}/{stage}`, where its management API answers.
    pub endpoint: String,
    pub connected_at: DateTime<Utc>,
}

impl LiveConnection {
    /// API Gateway's limit on a WebSocket connection's life.
    pub const MAX_AGE: chrono::Duration = chrono::Duration::hours(2);
}

/// A fact distilled from conversations, retrievable by chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub id: String,
    pub tenant_id: TenantId,
    pub text: String,
    pub source_conversation_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_reject_path_tricks_and_empties() {
        assert!(TenantId::parse("alice").is_ok());
        assert!(TenantId::parse("3f1c-uuid_like.v2").is_ok());
        for bad in ["", "../etc", "a/b", ".hidden", "sp ace", &"x".repeat(129)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn document_ids_are_stable_per_object_and_differ_by_tenant() {
        let a = TenantId::parse("a").unwrap();
        let b = TenantId::parse("b").unwrap();
        let id = DocumentId::for_object(&a, "raw", "a/x.md");
        assert_eq!(id, DocumentId::for_object(&a, "raw", "a/x.md"));
        assert_ne!(id, DocumentId::for_object(&b, "raw", "a/x.md"));
        assert_eq!(DocumentId::parse(id.as_str()), Some(id));
        assert_eq!(DocumentId::parse("doc_xyz"), None);
    }
}
