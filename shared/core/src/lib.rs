//! Jarvis core: everything the functions share that does not talk to the outside world.
//!
//! Map of the crate:
//! - [`domain`]: the records Jarvis keeps — documents, chunks, tasks, reminders,
//!   conversations, memories — each carrying its tenant id.
//! - [`content`]: the structured form of an extracted document (blocks with
//!   headings, pages, PII flags) that extractors produce and the chunker reads.
//! - [`ports`]: one narrow async trait per capability (blob store, metadata store,
//!   queue, workflow starter, search index, embedder, image analyzer, transcriber,
//!   PII detector, notifier, scheduler, mailer, chat model). Adapters live in
//!   `jarvis-local` (embedded) and `jarvis-aws` (AWS services).
//! - [`curated`]: reading and writing the JSON artifacts steps pass by pointer; status moves.
//! - [`pipeline`]: the state passed between pipeline steps, routing by content
//!   type, blob key layout and execution names.
//! - [`asl`]: the state machine's definition read as data (its retry rules).
//! - [`ingest_event`]: the S3 "Object Created" event as EventBridge delivers it
//!   into SQS, built and parsed.
//! - [`consent`]: when an irreversible action may run (the structured
//!   confirmation; what free text can and cannot do).
//! - [`chunking`], [`fusion`], [`pii`]: pure logic.
//! - [`analysis`]: the keyword side's analyzers (stemming per detected language),
//!   one definition for the local index and the OpenSearch template.
//! - [`query_cache`]: the query embedding cache (an Embedder wrapper).
//! - [`search`]: the search request (validated) and hit types.
//! - [`config`]: typed configuration, loaded once; every environment variable is named there.
//! - [`error`]: the error enum per layer.
//! - [`telemetry`]: tracing setup (JSON logs, `RUST_LOG`-style filter).
//! - [`clock`]: the time as a port (tests move it); ids.
//! - [`when`]: times people type, resolved in their zone; recurring times as cron.

pub mod agent;
pub mod analysis;
pub mod asl;
pub mod chunking;
pub mod clock;
pub mod config;
pub mod consent;
pub mod content;
pub mod contract;
pub mod curated;
pub mod domain;
pub mod error;
pub mod fusion;
pub mod idempotency;
pub mod ingest_event;
pub mod memory;
pub mod pii;
pub mod pipeline;
pub mod ports;
pub mod query_cache;
pub mod records;
pub mod search;
pub mod telemetry;
pub mod tools;
pub mod when;

pub use domain::{DocumentId, TenantId};
pub use error::{ApiError, PortError, StepError};
