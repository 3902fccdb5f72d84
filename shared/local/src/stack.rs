//! Every local adapter opened over one data folder — how the local runtime and
//! the function binaries' local wiring get their ports.
//!
//! Layout under `JARVIS_DATA_DIR` (default `./data`):
//! ```text
//! inbox/            the watched folder (the raw bucket's stand-in); `@tenant/` subfolders
//! blobs/raw/        uploads and mail attachments, keyed `{tenant}/…`
//! blobs/curated/    extracted text, chunks and embeddings per document
//! index/            tantivy (BM25)
//! outbox/           sent mail as .eml files, per tenant
//! jarvis.sqlite3    documents, queue, executions, vectors, tokens, records, schedules
//! ```

use crate::blobs::FsBlobStore;
use crate::embedder::LocalEmbedder;
use crate::index::LocalSearchIndex;
use crate::mail::OutboxMailer;
use crate::media::{NoLocalTranscriber, TesseractOcr};
use crate::metadata::SqliteMetadataStore;
use crate::notify::LocalNotifier;
use crate::queue::SqliteQueue;
use crate::records::SqliteRecordStore;
use crate::scheduler::LocalScheduler;
use crate::tokens::TokenStore;
use crate::workflow::{LocalWorkflows, Run};
use crate::Db;
use jarvis_core::clock::{Clock, SystemClock};
use jarvis_core::config::Config;
use jarvis_core::ports::{Embedder, PortResult};
use jarvis_core::query_cache::QueryEmbeddingCache;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The watched inbox folder, as a bucket.
pub const INBOX_BUCKET: &str = "inbox";
/// Uploads and attachments (the AWS raw bucket).
pub const RAW_BUCKET: &str = "raw";
/// Derived artifacts (the AWS curated bucket).
pub const CURATED_BUCKET: &str = "curated";

/// The local adapters, sharing one SQLite database.
#[derive(Clone)]
pub struct LocalStack {
    pub config: Config,
    pub db: Db,
    pub blobs: Arc<FsBlobStore>,
    pub metadata: Arc<SqliteMetadataStore>,
    pub queue: Arc<SqliteQueue>,
    pub workflows: LocalWorkflows,
    pub index: Arc<LocalSearchIndex>,
    pub embedder: Arc<dyn Embedder>,
    /// The same model behind the query embedding cache (search and chat share it).
    pub query_embedder: Arc<dyn Embedder>,
    pub ocr: Arc<TesseractOcr>,
    pub transcriber: Arc<NoLocalTranscriber>,
    pub tokens: TokenStore,
    pub records: Arc<SqliteRecordStore>,
    pub scheduler: Arc<LocalScheduler>,
    pub notifier: Arc<LocalNotifier>,
    /// Where documents are parsed: a child process with capped memory and
    /// time (`JARVIS_PARSER`; `jarvis` sets itself), or in process.
    pub parser: Option<Arc<jarvis_extract::sandbox::Sandbox>>,
    /// The outbox, or SMTP (with an outbox copy) when `JARVIS_SMTP_URL` is set.
    pub mailer: Arc<dyn jarvis_core::ports::Mailer>,
    /// The runtime's time; tests replace it ([`LocalStack::with_clock`]).
    pub clock: Arc<dyn Clock>,
    /// Background jobs (erasures), run by the runtime's job worker.
    pub jobs: Arc<crate::jobs::LocalJobs>,
    /// Pre-signed upload URLs to the runtime's own `PUT /uploads/{key}`.
    pub uploads: Arc<crate::uploads::LocalUploads>,
}

impl LocalStack {
    /// Opens everything with the real embedding model from `config.model_dir`.
    pub fn open(config: &Config) -> PortResult<(Self, mpsc::UnboundedReceiver<Run>)> {
        let (documents, queries) = LocalEmbedder::load_pair(&config.model_dir, config.embedder)?;
        Self::open_with_embedders(config, documents, queries)
    }

    /// Opens everything with a given embedder (benchmarks measure the index alone this way).
    pub fn open_with_embedder(
        config: &Config,
        embedder: Arc<dyn Embedder>,
    ) -> PortResult<(Self, mpsc::UnboundedReceiver<Run>)> {
        Self::open_with_embedders(config, embedder.clone(), embedder)
    }

    /// Opens everything with one embedder for documents and one for search
    /// queries (the same model; see [`LocalEmbedder::load_for_queries`]).
    pub fn open_with_embedders(
        config: &Config,
        embedder: Arc<dyn Embedder>,
        queries: Arc<dyn Embedder>,
    ) -> PortResult<(Self, mpsc::UnboundedReceiver<Run>)> {
        if queries.dimensions() != embedder.dimensions() {
            return Err(jarvis_core::PortError::Invalid(format!(
                "the query embedder makes {} dimensions, the document embedder {}",
                queries.dimensions(),
                embedder.dimensions()
            )));
        }
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| jarvis_core::PortError::backend("filesystem", e))?;
        let db = Db::open(&dir.join("jarvis.sqlite3"))?;
        let queue = Arc::new(SqliteQueue::new(db.clone()));
        let blobs = FsBlobStore::new([
            (INBOX_BUCKET.to_owned(), dir.join("inbox")),
            (RAW_BUCKET.to_owned(), dir.join("blobs").join(RAW_BUCKET)),
            (
                CURATED_BUCKET.to_owned(),
                dir.join("blobs").join(CURATED_BUCKET),
            ),
        ])?
        .with_events(RAW_BUCKET, queue.clone());
        let (workflows, runs) = LocalWorkflows::new(db.clone());
        let index = LocalSearchIndex::open_for_writers(
            &dir.join("index"),
            db.clone(),
            embedder.dimensions(),
            config.pipeline_workers,
        )?;
        let records: Arc<SqliteRecordStore> = Arc::new(SqliteRecordStore::new(db.clone()));
        let own_webhook = config
            .webhook_url
            .clone()
            .map(|url| (config.default_tenant.clone(), url));
        let stack = Self {
            config: config.clone(),
            metadata: Arc::new(SqliteMetadataStore::new(db.clone())),
            tokens: TokenStore::new(db.clone()),
            blobs: Arc::new(blobs),
            queue,
            workflows,
            index: Arc::new(index),
            query_embedder: Arc::new(QueryEmbeddingCache::new(
                queries,
                jarvis_core::query_cache::DEFAULT_CAPACITY,
            )),
            embedder,
            ocr: Arc::new(TesseractOcr::probe(&config.tesseract)),
            transcriber: Arc::new(NoLocalTranscriber),
            notifier: Arc::new(LocalNotifier::new(own_webhook, records.clone())),
            records,
            scheduler: Arc::new(LocalScheduler::new(db.clone(), Arc::new(SystemClock))),
            mailer: mailer(config, dir)?,
            parser: config.parser.clone().map(|program| {
                Arc::new(jarvis_extract::sandbox::Sandbox {
                    program,
                    memory_bytes: config.parser_memory,
                    timeout: PARSER_TIMEOUT,
                })
            }),
            clock: Arc::new(SystemClock),
            jobs: Arc::default(),
            uploads: Arc::new(crate::uploads::LocalUploads::new()?),
            db,
        };
        Ok((stack, runs))
    }

    /// The same stack on another clock (the scheduler reads it too).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.scheduler = Arc::new(LocalScheduler::new(self.db.clone(), clock.clone()));
        self.clock = clock;
        self
    }

    /// The users' time zone (checked when the configuration loaded).
    pub fn zone(&self) -> jarvis_core::when::Zone {
        jarvis_core::when::zone(&self.config.time_zone).unwrap_or(jarvis_core::when::Zone::UTC)
    }
}

fn mailer(
    config: &Config,
    dir: &std::path::Path,
) -> PortResult<Arc<dyn jarvis_core::ports::Mailer>> {
    let from = config.mail_from.as_deref().unwrap_or(LOCAL_SENDER);
    let outbox = OutboxMailer::new(dir.join("outbox"), from);
    Ok(match &config.smtp_url {
        None => Arc::new(outbox),
        Some(url) => Arc::new(
            crate::mail::SmtpMailer::new(url, from, outbox)
                .map_err(jarvis_core::PortError::Invalid)?,
        ),
    })
}

/// How long the parser child may take over one file.
pub const PARSER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The From address of locally sent mail.
pub const LOCAL_SENDER: &str = "Jarvis <jarvis@localhost>";
