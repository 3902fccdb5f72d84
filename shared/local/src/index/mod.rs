//! The local hybrid index: tantivy for BM25 and [`vectors::VectorIndex`] for
//! k-NN, fused with [`jarvis_core::fusion`], always scoped to one tenant.

mod scoped;
pub mod text;
pub mod vectors;

use crate::Db;
use async_trait::async_trait;
use jarvis_core::domain::{DocumentId, TenantId};
use jarvis_core::fusion::{fuse, missing, Completion};
use jarvis_core::ports::{IndexedChunk, PortResult, SearchIndex};
use jarvis_core::search::{
    candidates, leading_text, SearchHit, SearchMode, SearchQuery, SNIPPET_CHARS,
};
use jarvis_core::PortError;
use std::path::Path;
use std::sync::Arc;

#[derive(Clone)]
pub struct LocalSearchIndex {
    text: Arc<text::TextIndex>,
    vectors: Arc<vectors::VectorIndex>,
}

impl LocalSearchIndex {
    pub fn open(dir: &Path, db: Db, dims: usize) -> PortResult<Self> {
        Self::open_for_writers(dir, db, dims, text::COMMIT_BATCH)
    }

    /// [`open`](Self::open), for at most `writers` changes at once (the
    /// pipeline's workers): a keyword-index commit waits for the others to
    /// join it up to [`text::COMMIT_WINDOW`], and no longer once `writers`
    /// changes wait.
    pub fn open_for_writers(dir: &Path, db: Db, dims: usize, writers: usize) -> PortResult<Self> {
        // An index from an older Jarvis is rebuilt on open; where it did not
        // store a chunk's tenant, the vector table knows it.
        // (Read once, on the first question: only a rebuild asks.)
        let tenants = std::cell::OnceCell::new();
        let tenant_of = |chunk_id: &str| -> Option<String> {
            tenants
                .get_or_init(|| chunk_tenants(&db).unwrap_or_default())
                .get(chunk_id)
                .cloned()
        };
        Ok(Self {
            text: Arc::new(
                text::TextIndex::open(dir, &tenant_of)?.with_commits(text::COMMIT_WINDOW, writers),
            ),
            vectors: Arc::new(vectors::VectorIndex::open(
                db,
                dims,
                &dir.with_file_name(format!(
                    "{}-vectors",
                    dir.file_name().and_then(|n| n.to_str()).unwrap_or("index")
                )),
            )?),
        })
    }

    /// Writes the vector snapshots (the runtime calls this when it stops).
    pub fn flush(&self) -> PortResult<()> {
        self.vectors.flush()
    }

    /// Exact k-NN over a tenant's vectors (benchmarks measure recall against it).
    pub fn exact_neighbours(
        &self,
        tenant: &TenantId,
        query: &[f32],
        k: usize,
    ) -> PortResult<Vec<jarvis_core::fusion::Ranked>> {
        self.vectors.search_exact(tenant, query, k)
    }

    /// The vector side alone (benchmarks measure it apart from BM25).
    pub fn nearest(
        &self,
        tenant: &TenantId,
        query: &[f32],
        filters: &jarvis_core::search::SearchFilters,
        k: usize,
    ) -> PortResult<Vec<jarvis_core::fusion::Ranked>> {
        self.vectors.search(tenant, query, filters, k)
    }

    /// The keyword side itself (tests compare its rankings and looked-up scores).
    pub fn text(&self) -> &text::TextIndex {
        &self.text
    }

    /// The vector side itself (benchmarks probe it, e.g. at other `ef`).
    pub fn vectors(&self) -> &vectors::VectorIndex {
        &self.vectors
    }

    /// Vectors held for a tenant (for status and benchmarks).
    pub fn vector_count(&self, tenant: &TenantId) -> usize {
        self.vectors.len(tenant)
    }
}

/// chunk id → tenant, from the vector table.
fn chunk_tenants(db: &Db) -> rusqlite::Result<std::collections::HashMap<String, String>> {
    let conn = db.lock();
    let mut stmt = conn.prepare("SELECT chunk_id, tenant FROM vectors")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> PortResult<T> + Send + 'static,
) -> PortResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PortError::backend("index", e))?
}

#[async_trait]
impl SearchIndex for LocalSearchIndex {
    async fn replace_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        chunks: Vec<IndexedChunk>,
    ) -> PortResult<()> {
        let (this, tenant, id) = (self.clone(), tenant.clone(), id.clone());
        blocking(move || {
            if let Some(bad) = chunks
                .iter()
                .find(|c| c.chunk.tenant_id != tenant || c.chunk.document_id != id)
            {
                return Err(PortError::Invalid(format!(
                    "chunk {} does not belong to {tenant}/{id}",
                    bad.chunk.id
                )));
            }
            // Vectors first: a search never sees text without its vector side for long.
            let pairs: Vec<_> = chunks
                .iter()
                .map(|c| (&c.chunk, c.vector.as_slice()))
                .collect();
            this.vectors.replace_document(&tenant, &id, &pairs)?;
            let refs: Vec<_> = chunks.iter().map(|c| &c.chunk).collect();
            this.text.replace_document(&tenant, &id, &refs)
        })
        .await
    }

    async fn delete_document(&self, tenant: &TenantId, id: &DocumentId) -> PortResult<()> {
        let (this, tenant, id) = (self.clone(), tenant.clone(), id.clone());
        blocking(move || {
            this.text.delete_document(&tenant, &id)?;
            this.vectors.delete_document(&tenant, &id)
        })
        .await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<()> {
        let (this, tenant) = (self.clone(), tenant.clone());
        blocking(move || {
            this.text.delete_tenant(&tenant)?;
            this.vectors.delete_tenant(&tenant)
        })
        .await
    }

    async fn search(&self, query: &SearchQuery) -> PortResult<Vec<SearchHit>> {
        let (this, q) = (self.clone(), query.clone());
        blocking(move || {
            let k = candidates(q.limit);
            let bm25 = match q.mode {
                SearchMode::Semantic => Vec::new(),
                _ => this.text.search(&q.tenant_id, &q.text, &q.filters, k)?,
            };
            let knn = match (q.mode, &q.vector) {
                (SearchMode::Keyword, _) | (_, None) => Vec::new(),
                (_, Some(v)) => this.vectors.search(&q.tenant_id, v, &q.filters, k)?,
            };
            // Each candidate scored on both sides when the fusion uses scores.
            let mut completion = Completion::default();
            if let (SearchMode::Hybrid, Some(v), true) =
                (q.mode, &q.vector, q.fusion.completes_scores())
            {
                let (for_bm25, for_vector) = missing(&bm25, &knn);
                let found = this.text.score_chunks(&q.tenant_id, &q.text, &for_bm25)?;
                let similar = this.vectors.score_chunks(&q.tenant_id, v, &for_vector)?;
                completion = Completion::from_lookups(for_bm25, found, similar);
            }
            let fused: Vec<_> = fuse(&bm25, &knn, &completion, &q.fusion)
                .into_iter()
                .take(q.limit)
                .collect();
            let ids: Vec<String> = fused.iter().map(|f| f.id.clone()).collect();
            let stored = this.text.fetch(&q.tenant_id, &ids, &q.text)?;
            let mut hits = Vec::with_capacity(stored.len());
            for (chunk, snippet) in stored {
                let Some(f) = fused.iter().find(|f| f.id == chunk.chunk_id) else {
                    continue;
                };
                let Some(document_id) = DocumentId::parse(&chunk.document_id) else {
                    continue;
                };
                let snippet = if snippet.is_empty() {
                    leading_text(&chunk.text, SNIPPET_CHARS)
                } else {
                    snippet
                };
                hits.push(SearchHit {
                    document_id,
                    chunk_id: chunk.chunk_id,
                    title: chunk.title,
                    text: chunk.text,
                    snippet,
                    page: chunk.page,
                    section: chunk.section,
                    source: chunk.source,
                    content_type: chunk.content_type,
                    score: f.score,
                    bm25_rank: f.bm25_rank,
                    vector_rank: f.vector_rank,
                });
            }
            Ok(hits)
        })
        .await
    }
}
