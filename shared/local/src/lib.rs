//! Local adapters — the embedded default that `make run` and the tests use.
//!
//! - [`blobs`]: buckets as folders ([`blobs::FsBlobStore`]), emitting S3-shaped
//!   `Object Created` events like S3 + EventBridge do
//! - [`db`]: one SQLite database (WAL) shared by the stores below
//! - [`metadata`]: document records and status ([`metadata::SqliteMetadataStore`])
//! - [`queue`]: an SQS-like queue with visibility timeouts ([`queue::SqliteQueue`])
//! - [`workflow`]: execution names and the run queue of the local state machine
//! - [`inbox`]: the watched inbox folder, announcing stable new files on the queue
//! - [`index`]: tantivy (BM25) + an exact vector index, fused ([`index::LocalSearchIndex`])
//! - [`embedder`]: all-MiniLM-L6-v2, int8 under ONNX Runtime or fp32 in pure Rust ([`embedder::LocalEmbedder`])
//! - [`media`]: Tesseract OCR for images; the no-engine transcriber
//! - [`records`]: tasks, reminders, drafts, conversations, memories ([`records::SqliteRecordStore`])
//! - [`scheduler`]: reminders' next fire times, due by the runtime's clock ([`scheduler::LocalScheduler`])
//! - [`notify`]: notifications printed, pushed to WebSocket clients, POSTed to a webhook
//! - [`mail`]: sent mail as `.eml` files in an outbox folder
//! - [`stack`]: all of the above opened over one data folder
//! - [`tokens`]: bearer tokens of the local API
//! - [`testing`]: a deterministic fake embedder, for tests and benchmarks only

pub mod blobs;
pub mod chat;
pub mod db;
pub mod embedder;
pub mod inbox;
pub mod index;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod metadata;
pub mod notify;
pub mod openai;
pub mod queue;
pub mod records;
pub mod scheduler;
pub mod stack;
pub mod testing;
pub mod tokens;
pub mod uploads;
pub mod workflow;

pub use db::Db;

/// Maps a SQLite error to a port error (busy/locked is transient).
pub(crate) fn sqlite_err(e: rusqlite::Error) -> jarvis_core::PortError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            jarvis_core::PortError::transient("sqlite", e)
        }
        _ => jarvis_core::PortError::backend("sqlite", e),
    }
}
