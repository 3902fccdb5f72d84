//! The Jarvis local runtime: every handler of the Lambda suite on one machine,
//! over the embedded adapters (files, SQLite, tantivy, a local embedding model).
//!
//! - [`server`]: the HTTP API, bridged into API Gateway events for the API handlers
//! - [`pipeline`]: the local state machine and the ingest-queue consumer
//! - [`assistant`]: chat's model and tools in-process, and the reminder ticker
//!
//! [`start`] opens the data folder, resumes unfinished runs, and spawns the API
//! server, the inbox watcher, the queue consumer and the pipeline workers.

pub mod assistant;
pub mod openapi;
pub mod pipeline;
pub mod server;
pub mod server_assistant;
pub mod web;

use anyhow::Context as _;
use jarvis_core::config::Config;
use jarvis_core::ports::Embedder;
use jarvis_core::TenantId;
use jarvis_local::inbox::InboxWatcher;
use jarvis_local::stack::{LocalStack, INBOX_BUCKET};
use jarvis_local::workflow::Run;
use pipeline::Steps;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::{error, info};

/// How often the ingest queue is polled when it was empty.
const QUEUE_IDLE_POLL: Duration = Duration::from_millis(100);

/// What the HTTP handlers share.
pub struct App {
    pub stack: LocalStack,
    pub search: api_search::Deps,
    pub documents: api_documents::Deps,
    pub chat: api_chat::Deps,
    pub tools: Arc<assistant::LocalTools>,
    pub me: api_me::Deps,
    /// `POST /me/memories/reflect` (also how `jarvis reflect` reaches a running runtime).
    pub reflect: memory_reflector::Deps,
    /// One-time sign-in links for the web app.
    pub sign_ins: Arc<web::SignIns>,
    /// The web app's files.
    pub web_dir: std::path::PathBuf,
}

/// A started runtime.
pub struct Running {
    pub addr: SocketAddr,
    /// The token created on this start, when the data folder had none.
    pub first_token: Option<String>,
    pub stack: LocalStack,
    sign_ins: Arc<web::SignIns>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// A one-time link that signs the web app in as the runtime's own tenant
    /// (valid for [`web::SIGN_IN_LIFETIME`]).
    pub fn sign_in_link(&self) -> anyhow::Result<String> {
        let code = self.sign_ins.issue(&self.stack.config.default_tenant)?;
        Ok(format!("http://{}/#signin={code}", self.addr))
    }

    /// Issues an API token for `tenant`.
    pub fn issue_token(&self, tenant: &TenantId, label: &str) -> anyhow::Result<String> {
        issue_token(&self.stack, tenant, label)
    }

    /// Stops taking work, lets pipeline runs in flight finish, and closes the stores.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                error!(error = %e, "task ended badly during shutdown");
            }
        }
        if let Err(e) = self.stack.index.flush() {
            error!(error = %e, "vector snapshots not written; the next start adds what they lack");
        }
    }
}

/// Issues a random bearer token for `tenant`.
pub fn issue_token(stack: &LocalStack, tenant: &TenantId, label: &str) -> anyhow::Result<String> {
    issue_token_in(&stack.tokens, tenant, label)
}

/// Issues a token in the data folder's database alone: SQLite takes a second
/// writer, so this works while the runtime (which holds the index) is running.
pub fn issue_token_in(
    tokens: &jarvis_local::tokens::TokenStore,
    tenant: &TenantId,
    label: &str,
) -> anyhow::Result<String> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(tokens.issue(tenant, label, random)?)
}

/// `jarvis reflect` while the runtime runs (it holds the search index): for
/// each tenant (the one given, or every tenant with conversations), a token
/// made for the call asks the running runtime's `POST /me/memories/reflect`,
/// and is withdrawn after.
pub async fn reflect_in_running(
    config: &Config,
    tenant: Option<TenantId>,
) -> anyhow::Result<serde_json::Value> {
    use jarvis_core::ports::{RecordKind, RecordStore};
    let db = jarvis_local::Db::open(&config.data_dir.join("jarvis.sqlite3"))?;
    let tenants = match tenant {
        Some(t) => vec![t],
        None => {
            jarvis_local::records::SqliteRecordStore::new(db.clone())
                .tenants(RecordKind::Conversation)
                .await?
        }
    };
    let tokens = jarvis_local::tokens::TokenStore::new(db);
    let client = reqwest::Client::new();
    let url = format!("http://{}/me/memories/reflect", config.bind);
    let mut total = serde_json::json!({"tenants": 0, "conversations": 0, "memories": 0});
    for tenant in tenants {
        let token = issue_token_in(
            &tokens,
            &tenant,
            "made by `jarvis reflect`, withdrawn after",
        )?;
        let answer = client.post(&url).bearer_auth(&token).send().await;
        tokens.revoke(&token)?;
        let answer = answer.map_err(|e| {
            anyhow::anyhow!("the running runtime at {} did not answer: {e}", config.bind)
        })?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("reflecting {tenant}: {status} {body}");
        }
        for field in ["tenants", "conversations", "memories"] {
            total[field] =
                (total[field].as_u64().unwrap_or(0) + body[field].as_u64().unwrap_or(0)).into();
        }
    }
    Ok(total)
}

/// Starts with the real embedding model from `config.model_dir`.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let model_dir = config.model_dir.clone();
    let (stack, runs) = tokio::task::spawn_blocking(move || LocalStack::open(&config))
        .await?
        .with_context(|| {
            format!(
                "opening the local stack (model from {})",
                model_dir.display()
            )
        })?;
    launch(stack, runs).await
}

/// Starts with a given embedder (tests share one loaded model between runtimes).
pub async fn start_with_embedder(
    config: Config,
    embedder: Arc<dyn Embedder>,
) -> anyhow::Result<Running> {
    start_with(config, embedder, Arc::new(jarvis_core::clock::SystemClock)).await
}

/// Starts with one embedder for documents and one for search queries (what
/// [`start`] loads from the configuration; `make eval` measures it this way).
pub async fn start_with_embedders(
    config: Config,
    documents: Arc<dyn Embedder>,
    queries: Arc<dyn Embedder>,
) -> anyhow::Result<Running> {
    let (stack, runs) = LocalStack::open_with_embedders(&config, documents, queries)
        .context("opening the local stack")?;
    launch(stack, runs).await
}

/// Starts with a given embedder and clock (tests move the clock to fire reminders).
pub async fn start_with(
    config: Config,
    embedder: Arc<dyn Embedder>,
    clock: Arc<dyn jarvis_core::clock::Clock>,
) -> anyhow::Result<Running> {
    let (stack, runs) =
        LocalStack::open_with_embedder(&config, embedder).context("opening the local stack")?;
    launch(stack.with_clock(clock), runs).await
}

async fn launch(stack: LocalStack, runs: mpsc::UnboundedReceiver<Run>) -> anyhow::Result<Running> {
    let config = stack.config.clone();
    let first_token = if stack.tokens.count()? == 0 {
        Some(issue_token(
            &stack,
            &config.default_tenant,
            "created on first start",
        )?)
    } else {
        None
    };
    let steps = Arc::new(Steps::local(&stack));
    let steps_for_crashes = steps.clone();
    let tools = Arc::new(assistant::LocalTools::new(&stack));
    let model = assistant::chat_model(&stack)?;
    let sign_ins = Arc::new(web::SignIns::default());
    let app = Arc::new(App {
        search: api_search::Deps::local(&stack),
        documents: api_documents::Deps::local(&stack),
        chat: api_chat::Deps::local(&stack, model, tools.clone()),
        tools,
        me: api_me::Deps::local(&stack),
        reflect: assistant::reflector(&stack)?,
        sign_ins: sign_ins.clone(),
        web_dir: config
            .web_dir
            .clone()
            .unwrap_or_else(|| web::DEFAULT_WEB_DIR.into()),
        stack: stack.clone(),
    });
    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr()?;
    stack.uploads.listening_at(format!("http://{addr}"));
    let (stop, stopped) = watch::channel(false);

    let mut tasks = Vec::new();
    let server_stop = stopped.clone();
    tasks.push(tokio::spawn(async move {
        let shutdown = async move {
            let mut s = server_stop;
            let _ = s.wait_for(|v| *v).await;
        };
        if let Err(e) = axum::serve(listener, server::router(app))
            .with_graceful_shutdown(shutdown)
            .await
        {
            error!(error = %e, "HTTP server stopped");
        }
    }));
    tasks.push(tokio::spawn(run_workers(
        steps.clone(),
        stack.clone(),
        runs,
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(consume_queue(
        steps,
        stack.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(assistant::tick(
        reminder_fire::Deps::local(&stack),
        assistant::reflector(&stack)?,
        stack.clone(),
        stopped.clone(),
    )));
    if let Some(jobs) = stack.jobs.take_receiver() {
        tasks.push(tokio::spawn(run_jobs(
            erase_tenant::Deps::local(&stack),
            jobs,
            stopped.clone(),
        )));
    }
    tasks.push(tokio::spawn(watch_inbox(stack.clone(), stopped)));
    resume_erasures(&stack).await;

    let resumed = stack.workflows.resume_unfinished()?;
    for run in resumed.given_up {
        pipeline::give_up(&steps_for_crashes, &stack, run).await;
    }
    let resumed = resumed.dispatched;
    info!(%addr, resumed, data = %config.data_dir.display(), ocr = stack.ocr.version().unwrap_or("not installed"), "jarvis is up");
    Ok(Running {
        addr,
        first_token,
        stack,
        sign_ins,
        stop,
        tasks,
    })
}

/// Most malloc arenas glibc keeps (unless `MALLOC_ARENA_MAX` says otherwise).
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`MALLOC_ARENAS`], before any thread
/// starts ([`run_main`] calls it). By default glibc gives each thread that
/// meets contention an arena of its own (up to eight per core), and freed
/// memory stays in the arena that held it: with the pipeline's blocking
/// threads, the embedding lanes and tantivy's, ingesting 2,000 documents
/// peaked at 949 MiB of RSS, and at 641 MiB with two arenas, for the same CPU
/// time. A `MALLOC_ARENA_MAX` in the environment is left to glibc.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called
        // before other threads exist, and a refusal (0) leaves the default.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// What `jarvis` and the benchmarks run as `main`: malloc's arenas capped
/// first, then `main` on a multi-threaded tokio runtime.
pub fn run_main<T>(
    main: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(main)
}

/// Background jobs (erasures), one at a time, each to its end. An erasure
/// cut short by a stop stays `running` and starts again at the next start.
async fn run_jobs(
    erase: erase_tenant::Deps,
    mut jobs: mpsc::UnboundedReceiver<jarvis_local::jobs::Job>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let job = tokio::select! {
            job = jobs.recv() => match job { Some(j) => j, None => break },
            _ = stopped.wait_for(|v| *v) => break,
        };
        match job {
            jarvis_local::jobs::Job::Erase(tenant) => {
                match erase_tenant::handle(
                    &erase,
                    erase_tenant::Job {
                        tenant_id: tenant.clone(),
                    },
                )
                .await
                {
                    Ok(done) => info!(%tenant, removed = ?done.removed, "erasure finished"),
                    Err(e) => {
                        error!(%tenant, error = %e, "erasure failed; DELETE /me/data starts it again")
                    }
                }
            }
        }
    }
}

/// Starts again every erasure the last run of the runtime left `running`.
async fn resume_erasures(stack: &LocalStack) {
    use jarvis_core::ports::{Jobs, RecordKind, RecordStore};
    let tenants = match stack.records.tenants(RecordKind::Erasure).await {
        Ok(t) => t,
        Err(e) => return error!(error = %e, "looking for unfinished erasures"),
    };
    for tenant in tenants {
        let erasure = jarvis_core::records::get::<jarvis_core::domain::Erasure>(
            stack.records.as_ref(),
            &tenant,
            jarvis_core::domain::Erasure::ID,
        )
        .await;
        if let Ok(Some(e)) = erasure {
            if e.state == jarvis_core::domain::ErasureState::Running {
                info!(%tenant, "resuming an unfinished erasure");
                if let Err(err) = stack.jobs.start_erasure(&tenant).await {
                    error!(%tenant, error = %err, "resuming an erasure");
                }
            }
        }
    }
}

/// Pipeline runs: at most `pipeline_workers` in the steps before `index`, as
/// many more in `index` (see [`pipeline::Stages`]); on stop, waits for those
/// in flight.
async fn run_workers(
    steps: Arc<Steps>,
    stack: LocalStack,
    mut runs: mpsc::UnboundedReceiver<Run>,
    mut stopped: watch::Receiver<bool>,
) {
    let workers = stack.config.pipeline_workers;
    let stages = pipeline::Stages::new(workers);
    // Counts the runs in flight, for the wait at stop; `stages` bounds them.
    let in_flight = Arc::new(Semaphore::new(2 * workers));
    loop {
        let run = tokio::select! {
            run = runs.recv() => match run { Some(r) => r, None => break },
            _ = stopped.wait_for(|v| *v) => break,
        };
        let Ok(admitted) = stages.before_index.clone().acquire_owned().await else {
            break;
        };
        let Ok(running) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let (steps, stack, stages) = (steps.clone(), stack.clone(), stages.clone());
        tokio::spawn(async move {
            pipeline::run_to_end(steps, &stack, run, &stages, admitted).await;
            drop(running);
        });
    }
    // Runs still queued in the channel stay `running` in the database and resume next start.
    let _ = in_flight.acquire_many(2 * workers as u32).await;
}

async fn consume_queue(steps: Arc<Steps>, stack: LocalStack, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        let idle = match pipeline::consume_queue_once(&steps, &stack).await {
            Ok(n) => n == 0,
            Err(e) => {
                error!(error = %e, "ingest queue");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(QUEUE_IDLE_POLL) => {}
                _ = stopped.wait_for(|v| *v) => break,
            }
        }
    }
}

async fn watch_inbox(stack: LocalStack, mut stopped: watch::Receiver<bool>) {
    let root = stack.config.data_dir.join("inbox");
    let watcher = InboxWatcher::watching(root, INBOX_BUCKET, stack.db.clone(), stack.queue.clone());
    let watcher = Arc::new(std::sync::Mutex::new(watcher));
    let every = Duration::from_millis(stack.config.inbox_poll_ms.max(50));
    while !*stopped.borrow() {
        let w = watcher.clone();
        let scanned =
            tokio::task::spawn_blocking(move || w.lock().unwrap_or_else(|p| p.into_inner()).tick())
                .await;
        match scanned {
            Ok(Err(e)) => error!(error = %e, "inbox scan"),
            Err(e) => error!(error = %e, "inbox scan crashed"),
            Ok(Ok(_)) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|v| *v) => break,
        }
    }
}
