//! `make bench`: figures for the local runtime, printed, never asserted.
//!
//! 1. Embedding throughput of all-MiniLM-L6-v2 (sentences/s), side by side:
//!    int8 under ONNX Runtime (the product's engine), fp32 in pure Rust, and
//!    the ONNX Runtime reference from Python (`scripts/ort-reference.py`, the
//!    way Chroma's default embedder and fastembed run it) on the same sentences.
//! 2. Ingestion: 2,000 generated Markdown documents dropped into the inbox of a
//!    running `jarvis`, timed until every one is `indexed` (documents/s, chunks/s),
//!    beside the pure embedding throughput on the very texts the pipeline embedded.
//! 3. Search latency (p50/p99) of the hybrid index at 10k and 100k chunks, with
//!    the query vector precomputed, plus the model's single-query embedding time,
//!    the k-NN recall@10 of the HNSW graph against exact search, and the time
//!    the runtime takes to be ready on that data folder. The index is filled
//!    with feature-hashed vectors (no model) so 100k chunks load in minutes;
//!    the index does the same work whatever the vectors mean.
//!
//! 4. Chat orchestration overhead per turn with the model's time excluded
//!    (p50/p99), and the time to the first streamed delta (see `chat.rs`).
//!
//! Options (environment): BENCH_DOCS (2000), BENCH_SIZES ("10000,100000"),
//! BENCH_QUERIES (200), BENCH_CHAT_TURNS (200).

mod chat;
mod inbox;

use jarvis_core::config::EmbedEngine;
use jarvis_core::config::{vars, Config};
use jarvis_core::domain::{Chunk, DocumentId, TenantId};
use jarvis_core::fusion::FusionConfig;
use jarvis_core::ports::{Embedder, IndexedChunk, SearchIndex};
use jarvis_core::search::{SearchFilters, SearchMode, SearchQuery};
use jarvis_local::embedder::LocalEmbedder;
use jarvis_local::index::LocalSearchIndex;
use jarvis_local::testing::HashingEmbedder;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORDS: &[&str] = &[
    "invoice",
    "garden",
    "meeting",
    "budget",
    "holiday",
    "insurance",
    "doctor",
    "school",
    "contract",
    "mortgage",
    "recipe",
    "train",
    "flight",
    "hotel",
    "tax",
    "salary",
    "pension",
    "car",
    "repair",
    "plumber",
    "birthday",
    "gift",
    "project",
    "deadline",
    "report",
    "quarter",
    "revenue",
    "customer",
    "supplier",
    "warranty",
    "receipt",
    "account",
    "bank",
    "loan",
    "energy",
    "water",
    "internet",
    "phone",
    "subscription",
    "renewal",
    "appointment",
    "vaccination",
    "passport",
    "visa",
    "lease",
    "landlord",
    "deposit",
    "furniture",
    "kitchen",
    "roof",
    "window",
    "heating",
    "boiler",
    "electricity",
    "fence",
];

/// Deterministic pseudo-random numbers (xorshift), so runs are comparable.
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn word(&mut self) -> &'static str {
        WORDS[(self.next() % WORDS.len() as u64) as usize]
    }
    pub(crate) fn sentence(&mut self, n: usize) -> String {
        let words: Vec<&str> = (0..n).map(|_| self.word()).collect();
        format!("{}.", words.join(" "))
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn model_dir() -> std::path::PathBuf {
    std::env::var_os(vars::MODEL_DIR)
        .map(Into::into)
        .unwrap_or_else(|| "models/all-MiniLM-L6-v2".into())
}

fn main() -> anyhow::Result<()> {
    // As the runtime's `main` runs: the RSS figures are the product's.
    jarvis::run_main(run())
}

async fn run() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "Jarvis benchmarks — {cores} cores, {}",
        std::env::consts::ARCH
    );
    let engine = EmbedEngine::from_value(std::env::var(vars::EMBEDDER).ok())?;
    let (model, queries) = LocalEmbedder::load_pair(&model_dir(), engine)?;
    println!(
        "embedding engines of the runtime: {} for documents, {} for search queries",
        model.engine(),
        queries.engine()
    );
    embedding()?;
    chat::chat(
        model.clone(),
        queries.clone(),
        env_or("BENCH_CHAT_TURNS", 200),
    )
    .await?;
    ingestion(model.clone(), env_or("BENCH_DOCS", 2000)).await?;
    let sizes: String = env_or("BENCH_SIZES", "10000,100000".to_owned());
    for size in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        search(&queries, size, env_or("BENCH_QUERIES", 200)).await?;
    }
    Ok(())
}

fn embedding() -> anyhow::Result<()> {
    let mut rng = Rng(7);
    let sentences: Vec<String> = (0..512).map(|i| rng.sentence(8 + i % 24)).collect();
    println!(
        "\n== embedding (all-MiniLM-L6-v2, CPU; {} sentences of 8-31 words)",
        sentences.len()
    );
    let time = |model: &LocalEmbedder| -> anyhow::Result<f64> {
        model.embed_blocking(&sentences[..32])?; // warm-up
        let started = Instant::now();
        model.embed_blocking(&sentences)?;
        Ok(sentences.len() as f64 / started.elapsed().as_secs_f64())
    };
    for engine in [EmbedEngine::Onnx, EmbedEngine::Fp32] {
        match LocalEmbedder::load(&model_dir(), engine) {
            Ok(model) => println!(
                "  {:<44} {:>5.0} sentences/s",
                format!("{} (Rust, this runtime)", model.engine()),
                time(&model)?
            ),
            Err(e) => println!("  {engine:?}: not measured ({e})"),
        }
    }
    // The same sentences through ONNX Runtime from Python.
    let file =
        std::env::temp_dir().join(format!("jarvis-bench-sentences-{}.txt", std::process::id()));
    std::fs::write(&file, sentences.join("\n"))?;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python)
        .arg("scripts/ort-reference.py")
        .arg(model_dir())
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let figures = out.ok().and_then(|o| {
        if !o.status.success() {
            println!(
                "  ONNX Runtime from Python: not measured ({})",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            );
        }
        serde_json::from_slice::<serde_json::Value>(&o.stdout).ok()
    });
    if let Some(f) = figures {
        let rate = |k: &str| f[k].as_f64().unwrap_or(0.0);
        println!(
            "  {:<44} {:>5.0} sentences/s",
            format!(
                "onnxruntime {} (Python, as Chroma/fastembed)",
                f["onnxruntime"].as_str().unwrap_or("?")
            ),
            rate("given_order")
        );
        println!(
            "  {:<44} {:>5.0} sentences/s",
            "  the same, batches sorted by length",
            rate("sorted")
        );
    }
    Ok(())
}

/// Passes every call to the model and keeps the texts, so that the pure
/// embedding throughput can be measured on exactly what the pipeline embedded.
struct Recording {
    model: Arc<LocalEmbedder>,
    texts: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Embedder for Recording {
    async fn embed(&self, texts: &[String]) -> jarvis_core::ports::PortResult<Vec<Vec<f32>>> {
        self.texts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(texts);
        self.model.embed(texts).await
    }
    fn dimensions(&self) -> usize {
        self.model.dimensions()
    }
    fn model_id(&self) -> &str {
        self.model.model_id()
    }
}

fn generated_document(rng: &mut Rng, i: usize) -> String {
    let mut doc = format!("# Note {i}: {} {}\n\n", rng.word(), rng.word());
    for s in 0..3 {
        doc.push_str(&format!("## Part {s} about {}\n\n", rng.word()));
        for _ in 0..3 {
            let para: Vec<String> = (0..4).map(|_| rng.sentence(9)).collect();
            doc.push_str(&para.join(" "));
            doc.push_str("\n\n");
        }
    }
    doc
}

async fn ingestion(model: Arc<LocalEmbedder>, docs: usize) -> anyhow::Result<()> {
    let dir = tempfile_dir("ingest")?;
    let env: HashMap<&str, String> = HashMap::from([
        (vars::DATA_DIR, dir.display().to_string()),
        (vars::BIND, "127.0.0.1:0".to_owned()),
        (vars::INBOX_POLL_MS, "100".to_owned()),
    ]);
    // JARVIS_PIPELINE_WORKERS, when set, is passed on (the default otherwise).
    let mut env = env;
    if let Ok(w) = std::env::var(vars::PIPELINE_WORKERS) {
        env.insert(vars::PIPELINE_WORKERS, w);
    }
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    let workers = config.pipeline_workers;
    let recording = Arc::new(Recording {
        model: model.clone(),
        texts: Default::default(),
    });
    let running = jarvis::start_with_embedder(config, recording.clone()).await?;
    let cpu_before = cpu_seconds();
    let inbox = dir.join("inbox");
    let mut rng = Rng(42);
    let started = Instant::now();
    for i in 0..docs {
        inbox::drop_file(
            &inbox,
            &format!("note-{i:05}.md"),
            &generated_document(&mut rng, i),
        )?;
    }
    let tenant = running.stack.config.default_tenant.clone();
    let all = inbox::wait_until_ingested(&running.stack, &tenant, docs, started).await?;
    let indexed = all
        .iter()
        .filter(|d| d.status == jarvis_core::domain::DocumentStatus::Indexed)
        .count();
    let chunks: u64 = all.iter().map(|d| u64::from(d.chunk_count)).sum();
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    running.shutdown().await;
    println!("\n== ingestion (inbox → extract → PII → chunk → embed → index, {workers} pipeline workers)");
    println!("  {docs} documents ({indexed} indexed), {chunks} chunks in {secs:.1} s");
    println!(
        "  {:.1} documents/s, {:.1} chunks/s",
        docs as f64 / secs,
        chunks as f64 / secs
    );
    if let Some(cpu) = cpu {
        println!(
            "  CPU time of the process while ingesting: {cpu:.1} s ({:.2} cores busy on average)",
            cpu / secs
        );
    }
    if let Some(peak) = peak_rss_mib() {
        println!(
            "  peak RSS of the process so far (model, chat benchmark and ingestion): {peak:.0} MiB"
        );
    }
    // The same texts embedded directly, in one call: what the pipeline could reach.
    let texts = std::mem::take(&mut *recording.texts.lock().unwrap_or_else(|p| p.into_inner()));
    if !texts.is_empty() {
        let started = Instant::now();
        model.embed(&texts).await?;
        let pure = texts.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "  pure embedding of the same {} texts: {pure:.1} chunks/s; ingestion ran at {:.0}% of it",
            texts.len(),
            100.0 * chunks as f64 / secs / pure
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn search(model: &LocalEmbedder, size: usize, queries: usize) -> anyhow::Result<()> {
    let dir = tempfile_dir(&format!("search-{size}"))?;
    let dims = model.dimensions();
    let hashing = HashingEmbedder { dims };
    let tenant = TenantId::parse("bench").map_err(anyhow::Error::msg)?;
    let other = TenantId::parse("someone-else").map_err(anyhow::Error::msg)?;
    let mut rng = Rng(99);
    // Fewer, larger documents at a million chunks: each replace commits the keyword index.
    let per_doc = (size / 1000).max(100);
    let load_started = Instant::now();
    {
        // The data folder's own layout, so that the runtime can start on it below.
        let db = jarvis_local::Db::open(&dir.join("jarvis.sqlite3"))?;
        let index = LocalSearchIndex::open(&dir.join("index"), db, dims)?;
        for d in 0..size.div_ceil(per_doc) {
            // One document in ten belongs to another tenant, so the tenant filter does real work.
            let owner = if d % 10 == 9 { &other } else { &tenant };
            let doc_id = DocumentId::for_object(owner, "raw", &format!("{owner}/doc-{d}"));
            let items: Vec<IndexedChunk> = (0..per_doc)
                .map(|c| {
                    let text = format!(
                        "{} {} {}",
                        rng.sentence(12),
                        rng.sentence(12),
                        rng.sentence(12)
                    );
                    let vector = hashing.embed_one(&text);
                    let chunk = Chunk {
                        id: Chunk::id_for(&doc_id, c as u32),
                        tenant_id: owner.clone(),
                        document_id: doc_id.clone(),
                        ordinal: c as u32,
                        title: format!("Document {d}"),
                        text,
                        section: Some(format!("Part {}", c / 10)),
                        page: None,
                        token_count: 40,
                        pii: Vec::new(),
                        source: "inbox".into(),
                        content_type: "text/markdown".into(),
                        created_at: chrono::Utc::now(),
                    };
                    IndexedChunk { chunk, vector }
                })
                .collect();
            index.replace_document(owner, &doc_id, items).await?;
        }
        index.flush()?;
    }
    let load_secs = load_started.elapsed().as_secs_f64();

    // Time to ready: the runtime started on this data folder until /healthz answers
    // (the embedding model's own load is measured apart, below).
    let env: HashMap<&str, String> = HashMap::from([
        (vars::DATA_DIR, dir.display().to_string()),
        (vars::BIND, "127.0.0.1:0".to_owned()),
    ]);
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    let started = Instant::now();
    let running = jarvis::start_with_embedder(config, Arc::new(hashing.clone())).await?;
    let client = reqwest::Client::new();
    let health = format!("http://{}/healthz", running.addr);
    while !client
        .get(&health)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready = started.elapsed();
    let index = running.stack.index.clone();

    let texts: Vec<String> = (0..queries)
        .map(|_| format!("{} {} {}", rng.word(), rng.word(), rng.word()))
        .collect();
    // Timed first, in one pass of their own: the recall check below scans every
    // vector of the tenant per query (138 MB at 100k chunks), which would leave
    // each timed search starting from a cold cache.
    let mut embed_times = Vec::with_capacity(queries);
    let mut search_times = Vec::with_capacity(queries);
    let mut keyword_times = Vec::with_capacity(queries);
    let mut knn_times = Vec::with_capacity(queries);
    let mut vectors = Vec::with_capacity(queries);
    for text in &texts {
        let t = Instant::now();
        model.embed_blocking(std::slice::from_ref(text))?;
        embed_times.push(t.elapsed());
        let vector = hashing.embed_one(text);
        let mut query = SearchQuery {
            tenant_id: tenant.clone(),
            text: text.clone(),
            vector: Some(vector.clone()),
            filters: SearchFilters::default(),
            limit: 10,
            mode: SearchMode::Hybrid,
            fusion: FusionConfig::default(),
        };
        let t = Instant::now();
        let hits = index.search(&query).await?;
        search_times.push(t.elapsed());
        anyhow::ensure!(hits.iter().all(|h| !h.document_id.as_str().is_empty()));
        query.mode = SearchMode::Keyword;
        let t = Instant::now();
        index.search(&query).await?;
        keyword_times.push(t.elapsed());
        let t = Instant::now();
        index.nearest(&tenant, &vector, &SearchFilters::default(), 10)?;
        knn_times.push(t.elapsed());
        vectors.push(vector);
    }
    // Recall@10 of the graph against exact search; a tie with the exact
    // 10th score counts as found (equal scores have no order). Also at other
    // candidate-list sizes than the runtime's, to show what they would buy.
    let efs = [50, 100, 200, 400];
    let (mut found, mut wanted) = (0usize, 0usize);
    let mut found_at = [0usize; 4];
    for vector in &vectors {
        let exact = index.exact_neighbours(&tenant, vector, 10)?;
        let tenth = exact.last().map_or(f32::NEG_INFINITY, |r| r.score);
        let hits = |approx: &[jarvis_core::fusion::Ranked]| {
            approx.iter().filter(|r| r.score >= tenth - 1e-6).count()
        };
        let approx = index.nearest(&tenant, vector, &SearchFilters::default(), 10)?;
        found += hits(&approx);
        for (n, ef) in found_at.iter_mut().zip(efs) {
            *n += hits(&index.vectors().nearest_with_ef(&tenant, vector, 10, ef)?);
        }
        wanted += exact.len();
    }
    running.shutdown().await;
    search_times.sort();
    embed_times.sort();
    println!(
        "\n== search at {size} chunks ({} for the searched tenant; loaded in {load_secs:.1} s)",
        index.vector_count(&tenant)
    );
    println!(
        "  hybrid (BM25 + HNSW k-NN, fused by scores, top 10): p50 {:.2} ms, p99 {:.2} ms over {queries} queries",
        ms(percentile(&search_times, 0.5)),
        ms(percentile(&search_times, 0.99))
    );
    keyword_times.sort();
    knn_times.sort();
    println!(
        "    its parts alone: BM25 p50 {:.2} ms, p99 {:.2} ms; HNSW k-NN p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&keyword_times, 0.5)),
        ms(percentile(&keyword_times, 0.99)),
        ms(percentile(&knn_times, 0.5)),
        ms(percentile(&knn_times, 0.99))
    );
    let searched = index.vector_count(&tenant);
    println!(
        "  k-NN recall@10 against exact search: {:.3} (ef_search {})",
        found as f64 / wanted.max(1) as f64,
        jarvis_local::index::vectors::ef_search(searched)
    );
    let at: Vec<String> = efs
        .iter()
        .zip(found_at)
        .map(|(ef, n)| format!("{ef}: {:.3}", n as f64 / wanted.max(1) as f64))
        .collect();
    println!("    at other ef_search: {}", at.join(", "));
    println!(
        "  + query embedding (MiniLM): p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&embed_times, 0.5)),
        ms(percentile(&embed_times, 0.99))
    );
    println!(
        "  runtime ready on this data folder in {:.2} s (to /healthz; the model's load apart)",
        ready.as_secs_f64()
    );
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The process's peak resident set (Linux `VmHWM`), in MiB.
/// CPU seconds the process has used (user and system), from /proc.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn tempfile_dir(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("jarvis-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
