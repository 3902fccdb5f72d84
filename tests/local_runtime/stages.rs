//! How pipeline runs share the machine: a run waiting in `index` (for its
//! keyword-index commit) gives its place to the next run's extraction and
//! embedding, and `index` takes no more runs than it has places.

use async_trait::async_trait;
use jarvis::pipeline::{self, Stages, Steps};
use jarvis_core::domain::{DocumentId, DocumentStatus, TenantId};
use jarvis_core::ports::{Embedder, IndexedChunk, MetadataStore, PortResult, SearchIndex};
use jarvis_core::search::{SearchHit, SearchQuery};
use jarvis_local::inbox::InboxWatcher;
use jarvis_local::stack::{LocalStack, INBOX_BUCKET};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The real index, with `replace_document` held at a gate the test opens.
struct GatedIndex {
    inner: Arc<dyn SearchIndex>,
    entered: AtomicUsize,
    gate: Semaphore,
}

#[async_trait]
impl SearchIndex for GatedIndex {
    async fn replace_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        chunks: Vec<IndexedChunk>,
    ) -> PortResult<()> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        self.gate.acquire().await.unwrap().forget();
        self.inner.replace_document(tenant, id, chunks).await
    }
    async fn delete_document(&self, tenant: &TenantId, id: &DocumentId) -> PortResult<()> {
        self.inner.delete_document(tenant, id).await
    }
    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<()> {
        self.inner.delete_tenant(tenant).await
    }
    async fn search(&self, query: &SearchQuery) -> PortResult<Vec<SearchHit>> {
        self.inner.search(query).await
    }
}

/// The stack's embedder, counting the calls that returned.
struct CountingEmbedder {
    inner: Arc<dyn Embedder>,
    done: AtomicUsize,
}

#[async_trait]
impl Embedder for CountingEmbedder {
    async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        let out = self.inner.embed(texts).await;
        self.done.fetch_add(1, Ordering::SeqCst);
        out
    }
    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
}

async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn a_run_waiting_in_index_gives_its_place_to_the_next_runs_embedding() {
    let dir = tempfile::tempdir().unwrap();
    let config = jarvis_core::config::Config::from_lookup(|name| {
        (name == jarvis_core::config::vars::DATA_DIR).then(|| dir.path().display().to_string())
    })
    .unwrap();
    let (stack, mut runs) = LocalStack::open_with_embedder(
        &config,
        Arc::new(jarvis_local::testing::HashingEmbedder { dims: 16 }),
    )
    .unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("a.md"), "# A\n\nThe first note, about apples.").unwrap();
    std::fs::write(inbox.join("b.md"), "# B\n\nThe second note, about pears.").unwrap();
    let mut watcher = InboxWatcher::new(inbox, INBOX_BUCKET, stack.db.clone(), stack.queue.clone());
    watcher.scan().unwrap();
    assert_eq!(watcher.scan().unwrap(), 2);

    let index = Arc::new(GatedIndex {
        inner: stack.index.clone(),
        entered: AtomicUsize::new(0),
        gate: Semaphore::new(0),
    });
    let embedder = Arc::new(CountingEmbedder {
        inner: stack.embedder.clone(),
        done: AtomicUsize::new(0),
    });
    let mut steps = Steps::local(&stack);
    steps.index.index = index.clone();
    steps.embed.embedder = embedder.clone();
    let steps = Arc::new(steps);
    assert_eq!(
        pipeline::consume_queue_once(&steps, &stack).await.unwrap(),
        2
    );
    let (first, second) = (runs.recv().await.unwrap(), runs.recv().await.unwrap());

    // One place before `index`, one in it.
    let stages = Stages::new(1);
    let run = |run, admitted| {
        let (steps, stack, stages) = (steps.clone(), stack.clone(), stages.clone());
        tokio::spawn(
            async move { pipeline::run_to_end(steps, &stack, run, &stages, admitted).await },
        )
    };
    let admitted = stages.before_index.clone().try_acquire_owned().unwrap();
    let a = run(first, admitted);
    until("the first run waits in index", || {
        index.entered.load(Ordering::SeqCst) == 1
    })
    .await;
    // Its place before `index` is free: the second run starts at once and
    // is embedded while the first still waits for its commit.
    let admitted = stages
        .before_index
        .clone()
        .try_acquire_owned()
        .expect("the run in index gave its place back");
    let b = run(second, admitted);
    until("the second run is embedded", || {
        embedder.done.load(Ordering::SeqCst) == 2
    })
    .await;
    // `index` has one place, and the first run holds it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(index.entered.load(Ordering::SeqCst), 1);
    assert_eq!(stages.before_index.available_permits(), 1);

    // What the app shows meanwhile: both documents processing, in their
    // indexing stage (extraction is done), the stage gone once indexed.
    let tenant = &stack.config.default_tenant;
    let docs = stack
        .metadata
        .list_documents(tenant, &Default::default())
        .await
        .unwrap();
    assert!(
        docs.iter().all(|d| d.status == DocumentStatus::Processing
            && d.stage == Some(jarvis_core::domain::Stage::Indexing)),
        "{docs:?}"
    );

    index.gate.add_permits(2);
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!(index.entered.load(Ordering::SeqCst), 2);
    assert_eq!(stages.index.available_permits(), 1);
    let docs = stack
        .metadata
        .list_documents(tenant, &Default::default())
        .await
        .unwrap();
    assert_eq!(docs.len(), 2);
    assert!(docs
        .iter()
        .all(|d| d.status == DocumentStatus::Indexed && d.stage.is_none()));
}
