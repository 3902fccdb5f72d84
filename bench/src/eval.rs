//! `make eval`: retrieval quality on a public test collection, through the real
//! pipeline of the local runtime. Figures are printed, never asserted.
//!
//! 1. Every document of the collection is written to the inbox of a running
//!    `jarvis` as a Markdown file (`# title`, then the text) and goes through
//!    extract → PII → chunk → embed → index like any file a user drops.
//! 2. Every judged query is asked of `POST /search` in each mode (keyword,
//!    semantic, hybrid), 50 hits; hits are folded to documents, first hit first.
//! 3. nDCG@10, MAP (to depth 50) and recall@50 per mode, beside a reference
//!    BM25 with stemming that this program computes itself (`reference.rs`).
//! 4. With `EVAL_TUNE=1`: the fusion grid (RRF k and weights, and fusion by
//!    scores at several keyword weights) on the odd-numbered queries, each setting reported on
//!    the even-numbered ones too, so a choice can be checked on queries it was
//!    not chosen on.
//!
//! Options (environment): EVAL_COLLECTION (bench/eval/cisi), EVAL_NAME (CISI),
//! EVAL_TUNE (unset), EVAL_DATA (a data folder to keep and reuse; default a
//! temporary one), JARVIS_FUSION / JARVIS_RRF_K / … as for `make run`.

mod collection;
mod inbox;
mod reference;

use collection::{average_precision, ndcg_at, recall_at, Collection, Record};
use jarvis_core::config::EmbedEngine;
use jarvis_core::config::{vars, Config};
use jarvis_core::domain::{DocumentId, DocumentStatus};
use jarvis_core::fusion::FusionConfig;
use jarvis_core::ports::{Embedder, SearchIndex};
use jarvis_core::search::{SearchFilters, SearchMode, SearchQuery, MAX_LIMIT, MAX_QUERY_CHARS};
use jarvis_local::embedder::LocalEmbedder;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Depth of every ranking (the API's most hits per request).
const DEPTH: usize = MAX_LIMIT;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Mean nDCG@10, MAP and recall@50 of rankings against the judgments.
#[derive(Debug, Clone, Copy, Default)]
struct Scores {
    ndcg10: f64,
    map: f64,
    recall50: f64,
}

fn score<'a>(runs: impl Iterator<Item = (&'a Vec<u32>, &'a HashSet<u32>)>) -> Scores {
    let (mut s, mut n) = (Scores::default(), 0usize);
    for (ranking, relevant) in runs {
        s.ndcg10 += ndcg_at(ranking, relevant, 10);
        s.map += average_precision(&ranking[..ranking.len().min(DEPTH)], relevant);
        s.recall50 += recall_at(ranking, relevant, DEPTH);
        n += 1;
    }
    let n = n.max(1) as f64;
    Scores {
        ndcg10: s.ndcg10 / n,
        map: s.map / n,
        recall50: s.recall50 / n,
    }
}

/// The query text the API takes: within its byte limit, cut at a word.
fn query_text(q: &Record) -> String {
    let text = if q.title.is_empty() {
        q.text.clone()
    } else {
        format!("{} {}", q.title, q.text)
    };
    let Some((end, _)) = text.char_indices().nth(MAX_QUERY_CHARS) else {
        return text;
    };
    let cut = text[..end].rfind(' ').unwrap_or(end);
    text[..cut].to_owned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(env_or("EVAL_COLLECTION", "bench/eval/cisi"));
    let name = env_or("EVAL_NAME", "CISI");
    let collection = Collection::load(&dir, &name)?;
    let judged = collection.judged_queries();
    println!(
        "Jarvis retrieval evaluation — {}: {} documents, {} queries with judgments ({} in all)",
        collection.name,
        collection.docs.len(),
        judged.len(),
        collection.queries.len()
    );
    let long = judged
        .iter()
        .filter(|q| query_text(q).len() < q.text.len())
        .count();
    if long > 0 {
        println!("  ({long} queries cut to the API's {MAX_QUERY_CHARS}-character limit at a word)");
    }

    let model_dir = std::env::var_os(vars::MODEL_DIR)
        .map(PathBuf::from)
        .unwrap_or_else(|| "models/all-MiniLM-L6-v2".into());
    let engine = EmbedEngine::from_value(std::env::var(vars::EMBEDDER).ok())?;
    // As the runtime loads them: documents and queries may use different engines.
    let (local, for_queries) = LocalEmbedder::load_pair(&model_dir, engine)?;
    println!(
        "  embedding engine: {} for documents, {} for queries",
        local.engine(),
        for_queries.engine()
    );
    let model: Arc<dyn Embedder> = local;
    let query_model: Arc<dyn Embedder> = for_queries;

    // EVAL_DATA keeps the data folder: a second run skips ingestion (and an
    // index of an older analysis is rebuilt from its stored fields on open).
    let kept = std::env::var_os("EVAL_DATA").map(PathBuf::from);
    let data = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("jarvis-eval-{}", std::process::id()))
    });
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&data);
    }
    std::fs::create_dir_all(&data)?;
    let env: HashMap<&str, String> = HashMap::from([
        (vars::DATA_DIR, data.display().to_string()),
        (vars::BIND, "127.0.0.1:0".to_owned()),
        (vars::INBOX_POLL_MS, "100".to_owned()),
    ]);
    let config = Config::from_lookup(|k| env.get(k).cloned().or_else(|| std::env::var(k).ok()))?;
    let fusion = config.fusion;
    let running = jarvis::start_with_embedders(config, model.clone(), query_model.clone()).await?;
    let tenant = running.stack.config.default_tenant.clone();

    // 1. Ingest through the inbox.
    let started = Instant::now();
    let inbox = data.join("inbox");
    for d in &collection.docs {
        if inbox.join(format!("doc-{:05}.md", d.id)).exists() {
            continue;
        }
        let body = format!("# {}\n\n{}\n", d.title, d.text);
        inbox::drop_file(&inbox, &format!("doc-{:05}.md", d.id), &body)?;
    }
    let docs =
        inbox::wait_until_ingested(&running.stack, &tenant, collection.docs.len(), started).await?;
    let secs = started.elapsed().as_secs_f64();
    let chunks: u64 = docs.iter().map(|d| u64::from(d.chunk_count)).sum();
    let failed = docs
        .iter()
        .filter(|d| d.status != DocumentStatus::Indexed)
        .count();
    println!(
        "  ingested in {secs:.1} s: {} documents ({failed} not indexed), {chunks} chunks, {:.1} chunks/s",
        docs.len(),
        chunks as f64 / secs
    );
    // Which collection document each Jarvis document is (identical texts are folded into one).
    let number = |key: &str| -> Option<u32> {
        let file = key.rsplit('/').next()?;
        file.strip_prefix("doc-")?.strip_suffix(".md")?.parse().ok()
    };
    let mut ids: HashMap<DocumentId, Vec<u32>> = HashMap::new();
    for d in &docs {
        let mut n: Vec<u32> = std::iter::once(d.source.key.as_str())
            .chain(d.aliases.iter().map(String::as_str))
            .filter_map(number)
            .collect();
        n.sort_unstable();
        ids.insert(d.id.clone(), n);
    }
    let to_ranking = |hits: &[(DocumentId, f32)]| -> Vec<u32> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (doc, _) in hits {
            for n in ids.get(doc).into_iter().flatten() {
                if seen.insert(*n) {
                    out.push(*n);
                }
            }
        }
        out
    };

    // 2. Every judged query in each mode, through the HTTP API.
    let token = running.issue_token(&tenant, "make eval")?;
    let client = reqwest::Client::new();
    let url = format!("http://{}/search", running.addr);
    let mut table: Vec<(String, Scores)> = Vec::new();
    let mut latencies = Vec::new();
    for mode in ["keyword", "semantic", "hybrid"] {
        let mut runs = Vec::with_capacity(judged.len());
        for q in &judged {
            let t = Instant::now();
            let answer = client
                .post(&url)
                .bearer_auth(&token)
                .json(&serde_json::json!({"query": query_text(q), "limit": DEPTH, "mode": mode}))
                .send()
                .await?;
            let status = answer.status();
            let body: serde_json::Value = answer.json().await?;
            anyhow::ensure!(status.is_success(), "query {}: {status} {body}", q.id);
            latencies.push(t.elapsed());
            let hits: Vec<(DocumentId, f32)> = body["hits"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| {
                    Some((
                        DocumentId::parse(h["document_id"].as_str()?)?,
                        h["score"].as_f64()? as f32,
                    ))
                })
                .collect();
            runs.push((to_ranking(&hits), &collection.qrels[&q.id]));
        }
        table.push((
            format!("jarvis {mode}"),
            score(runs.iter().map(|(r, rel)| (r, *rel))),
        ));
    }
    latencies.sort();

    // 3. The reference.
    let bm25 = reference::Bm25::new(&collection.docs);
    let reference: Vec<(Vec<u32>, &HashSet<u32>)> = judged
        .iter()
        .map(|q| (bm25.search(&query_text(q), DEPTH), &collection.qrels[&q.id]))
        .collect();
    let reference = score(reference.iter().map(|(r, rel)| (r, *rel)));
    table.insert(0, ("reference BM25, stemmed".to_owned(), reference));

    println!(
        "\n  {:<26} {:>8} {:>8} {:>9} {:>8}",
        "ranking", "nDCG@10", "MAP", "recall@50", "vs ref"
    );
    for (label, s) in &table {
        println!(
            "  {label:<26} {:>8.4} {:>8.4} {:>9.4} {:>7.2}×",
            s.ndcg10,
            s.map,
            s.recall50,
            s.ndcg10 / reference.ndcg10
        );
    }
    println!(
        "  (fusion: {fusion:?}; /search answered in p50 {:.1} ms, including the query's embedding)",
        latencies[latencies.len() / 2].as_secs_f64() * 1000.0
    );

    // 4. The fusion grid, on the index itself with each query embedded once.
    if std::env::var_os("EVAL_TUNE").is_some() {
        let index = running.stack.index.clone();
        let mut vectors = Vec::with_capacity(judged.len());
        for q in &judged {
            vectors.push(query_model.embed(&[query_text(q)]).await?.remove(0));
        }
        let mut grid = Vec::new();
        for k in [5.0, 10.0, 20.0, 40.0, 60.0, 100.0] {
            for (wb, wv) in [(1.0, 1.0), (1.0, 0.5), (0.5, 1.0), (1.0, 0.75), (0.75, 1.0)] {
                grid.push(FusionConfig::parse("rrf", wb, wv, k).map_err(anyhow::Error::msg)?);
            }
        }
        for wb in [0.25, 0.33, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5] {
            grid.push(FusionConfig::parse("weighted", wb, 1.0, 60.0).map_err(anyhow::Error::msg)?);
        }
        let mut rows = Vec::new();
        for fusion in grid {
            let mut runs = Vec::with_capacity(judged.len());
            for (q, v) in judged.iter().zip(&vectors) {
                let hits = index
                    .search(&SearchQuery {
                        tenant_id: tenant.clone(),
                        text: query_text(q),
                        vector: Some(v.clone()),
                        filters: SearchFilters::default(),
                        limit: DEPTH,
                        mode: SearchMode::Hybrid,
                        fusion,
                    })
                    .await?;
                let hits: Vec<(DocumentId, f32)> =
                    hits.into_iter().map(|h| (h.document_id, h.score)).collect();
                runs.push((q.id, to_ranking(&hits), &collection.qrels[&q.id]));
            }
            let half = |odd: bool| {
                score(
                    runs.iter()
                        .filter(|(id, _, _)| (id % 2 == 1) == odd)
                        .map(|(_, r, rel)| (r, *rel)),
                )
            };
            rows.push((fusion, half(true), half(false)));
        }
        rows.sort_by(|a, b| b.1.ndcg10.total_cmp(&a.1.ndcg10));
        println!("\n  fusion grid, nDCG@10 (chosen on odd queries, checked on even ones):");
        for (f, odd, even) in rows {
            println!("  {f:?}: odd {:.4}, even {:.4}", odd.ndcg10, even.ndcg10);
        }
    }

    running.shutdown().await;
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&data);
    }
    Ok(())
}
