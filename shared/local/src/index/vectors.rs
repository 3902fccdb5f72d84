//! The vector side: one HNSW graph per tenant (usearch, inner product on unit
//! vectors = cosine), persisted as a snapshot file per tenant and kept in step
//! with SQLite, which holds every vector and stays the source of truth.
//!
//! - **Tenancy inside the search.** A tenant's vectors live in its own graph,
//!   so a search walks only that tenant's vectors and a small tenant beside a
//!   large one always gets its k nearest. Other filters (source, type, dates)
//!   are a predicate evaluated inside the graph walk; a filter on one document
//!   (a few chunks) is an exact scan of that document's vectors, and a
//!   filtered walk that comes back short is redone exactly.
//! - **Incremental.** A replace removes the document's old keys from the graph
//!   and adds the new ones; keys come from a counter in SQLite that never
//!   hands out a number twice, so a key names one vector forever.
//! - **Fast start.** Opening loads each tenant's snapshot (graph and vectors,
//!   one file read) and reconciles it with SQLite by key: keys SQLite no longer
//!   has are removed, keys the snapshot lacks (written after it, before a
//!   crash) are added. Nothing is rebuilt from scratch unless a snapshot is
//!   missing or unreadable. Snapshots are rewritten after [`SAVE_EVERY`]
//!   changes (or half the graph's size, if larger) and on
//!   [`VectorIndex::flush`] (the runtime's shutdown).

use crate::{sqlite_err, Db};
use jarvis_core::domain::{Chunk, DocumentId, TenantId};
use jarvis_core::fusion::Ranked;
use jarvis_core::ports::PortResult;
use jarvis_core::search::SearchFilters;
use jarvis_core::PortError;
use rusqlite::params;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, RwLock};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// How the graph holds its vectors: f32, as embedded. f16 would halve the
/// graph (its vectors are most of it: 1,536 of about 1,700 bytes a chunk at
/// 384 dimensions; in one run ingestion reached 92% of pure embedding against
/// 89–90%), but on `make bench`'s vectors recall@10 against exact search fell
/// from 0.998 to 0.851 at 10k, and stayed at 0.854 with ef_search 400:
/// neighbours closer than f16 can tell apart. A snapshot of another kind is
/// rebuilt from SQLite.
const GRAPH_SCALAR: ScalarKind = ScalarKind::F32;

/// HNSW links per node (as on OpenSearch: see `jarvis_aws::opensearch::KNN_M`).
pub const M: usize = 16;
/// Candidate list while building the graph.
pub const EF_CONSTRUCTION: usize = 128;
/// Candidate list while searching; a search for more than this many uses k.
pub const EF_SEARCH: usize = 100;
/// A tenant's graph beyond this many vectors is searched with twice
/// [`EF_SEARCH`]: on `make bench`'s vectors recall@10 against exact search
/// was 0.985 at 100k with 100, and 0.964 at 1M (see [`ef_search`]).
pub const WIDER_ABOVE: usize = 250_000;

/// The candidate list a search of a graph of `n` vectors walks with.
pub fn ef_search(n: usize) -> usize {
    if n > WIDER_ABOVE {
        2 * EF_SEARCH
    } else {
        EF_SEARCH
    }
}
/// Changes to a tenant's graph before its snapshot is rewritten, at least;
/// a large graph waits for changes worth half its size, so that filling a
/// graph writes its snapshot O(log n) times, not once per 20k vectors (a
/// million-vector graph is a 1.6 GB file). A crash costs the next start the
/// re-adding of what the snapshot lacks, from SQLite.
pub const SAVE_EVERY: usize = 20_000;
/// A filtered search whose filter matches at most this many of the tenant's
/// vectors scans them exactly instead of walking the graph.
pub const EXACT_BELOW: usize = 2_000;
/// A replace adds its vectors on one more core for each this many.
const PARALLEL_ADD_ABOVE: usize = 64;

/// Thread contexts reserved in every graph: usearch fails a search (or an
/// add) that finds none of them free, so at most this many run at once.
/// Searches queue for one in [`Slots`]; a replace, which holds the graphs
/// exclusively, uses them all to add in parallel.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 64))
}

/// A counting semaphore over the graphs' thread contexts.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Self {
        Self {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

fn ann_err(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Backend {
        backend: "usearch",
        message: format!("{what}: {e}"),
        source: None,
    }
}

/// What filters need to know of a vector.
#[derive(Debug, Clone)]
struct Meta {
    chunk_id: String,
    document_id: String,
    source: String,
    content_type: String,
    created_at: i64,
}

struct TenantVectors {
    ann: Index,
    meta: HashMap<u64, Meta>,
    by_doc: HashMap<String, Vec<u64>>,
    unsaved: usize,
}

pub struct VectorIndex {
    db: Db,
    dims: usize,
    dir: PathBuf,
    tenants: RwLock<HashMap<TenantId, TenantVectors>>,
    slots: Slots,
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn options(dims: usize) -> IndexOptions {
    IndexOptions {
        dimensions: dims,
        metric: MetricKind::IP,
        quantization: GRAPH_SCALAR,
        connectivity: M,
        expansion_add: EF_CONSTRUCTION,
        expansion_search: EF_SEARCH,
        multi: false,
    }
}

impl TenantVectors {
    fn new(dims: usize) -> PortResult<Self> {
        Ok(Self {
            ann: Index::new(&options(dims)).map_err(|e| ann_err("new index", e))?,
            meta: HashMap::new(),
            by_doc: HashMap::new(),
            unsaved: 0,
        })
    }

    /// Room for `more` vectors, and the thread contexts of [`threads`].
    fn reserve(&mut self, more: usize) -> PortResult<()> {
        let needed = self.ann.size() + more;
        if needed > self.ann.capacity() || self.ann.capacity() == 0 {
            let grown = needed.max(self.ann.capacity() * 2).max(1024);
            self.ann
                .reserve_capacity_and_threads(grown, threads())
                .map_err(|e| ann_err("reserve", e))?;
        }
        Ok(())
    }

    /// Adds vectors to the graph, on every core when there are many: the
    /// caller holds the graphs exclusively, so every thread context is free.
    fn add_all(&mut self, items: Vec<(u64, Meta, &[f32])>) -> PortResult<()> {
        self.reserve(items.len())?;
        let lanes = threads()
            .min(items.len().div_ceil(PARALLEL_ADD_ABOVE))
            .max(1);
        let ann = &self.ann;
        let add = |part: &[(u64, Meta, &[f32])]| -> PortResult<()> {
            for (key, _, v) in part {
                ann.add(*key, v).map_err(|e| ann_err("add", e))?;
            }
            Ok(())
        };
        if lanes == 1 {
            add(&items)?;
        } else {
            let size = items.len().div_ceil(lanes);
            std::thread::scope(|s| {
                let running: Vec<_> = items
                    .chunks(size)
                    .map(|part| s.spawn(move || add(part)))
                    .collect();
                running.into_iter().try_for_each(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(ann_err("add", "a thread panicked")))
                })
            })?;
        }
        for (key, meta, _) in items {
            self.by_doc
                .entry(meta.document_id.clone())
                .or_default()
                .push(key);
            self.meta.insert(key, meta);
            self.unsaved += 1;
        }
        self.ann.change_expansion_search(ef_search(self.meta.len()));
        Ok(())
    }

    /// Scored keys as chunk ids, in the same order.
    fn ranked(&self, scored: Vec<(u64, f32)>) -> Vec<Ranked> {
        scored
            .into_iter()
            .filter_map(|(key, score)| {
                Some(Ranked {
                    id: self.meta.get(&key)?.chunk_id.clone(),
                    score,
                })
            })
            .collect()
    }

    fn remove_doc(&mut self, doc: &str) -> PortResult<()> {
        for key in self.by_doc.remove(doc).unwrap_or_default() {
            self.ann.remove(key).map_err(|e| ann_err("remove", e))?;
            self.meta.remove(&key);
            self.unsaved += 1;
        }
        Ok(())
    }
}

impl VectorIndex {
    /// Opens the vectors of dimension `dims`: snapshots from `dir`, reconciled
    /// with the SQLite table.
    pub fn open(db: Db, dims: usize, dir: &Path) -> PortResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| PortError::backend("filesystem", e))?;
        let mut rows: HashMap<TenantId, Vec<(u64, Meta)>> = HashMap::new();
        {
            let conn = db.lock();
            let mut stmt = conn
                .prepare("SELECT tenant, vkey, chunk_id, document_id, source, content_type, created_at, length(vector) FROM vectors")
                .map_err(sqlite_err)?;
            let mut q = stmt.query([]).map_err(sqlite_err)?;
            while let Some(r) = q.next().map_err(sqlite_err)? {
                let bytes: usize = r.get(7).map_err(sqlite_err)?;
                if bytes != dims * 4 {
                    return Err(PortError::Invalid(format!(
                        "stored vectors have {} dimensions but the embedder makes {dims}; re-index (delete the data folder's index)",
                        bytes / 4
                    )));
                }
                let tenant = TenantId::parse(&r.get::<_, String>(0).map_err(sqlite_err)?)
                    .map_err(PortError::Invalid)?;
                let key: i64 = r.get(1).map_err(sqlite_err)?;
                rows.entry(tenant).or_default().push((
                    key as u64,
                    Meta {
                        chunk_id: r.get(2).map_err(sqlite_err)?,
                        document_id: r.get(3).map_err(sqlite_err)?,
                        source: r.get(4).map_err(sqlite_err)?,
                        content_type: r.get(5).map_err(sqlite_err)?,
                        created_at: r.get(6).map_err(sqlite_err)?,
                    },
                ));
            }
        }
        let this = Self {
            db,
            dims,
            dir: dir.to_owned(),
            tenants: RwLock::new(HashMap::new()),
            slots: Slots::new(threads()),
        };
        let mut tenants = HashMap::new();
        for (tenant, rows) in rows {
            let t = this.load_tenant(&tenant, rows)?;
            tenants.insert(tenant, t);
        }
        // Snapshots of tenants SQLite no longer has (erased while stopped).
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let tenant = name
                    .strip_suffix(".usearch")
                    .or_else(|| name.strip_suffix(".keys"));
                if let Some(tenant) = tenant.and_then(|t| TenantId::parse(t).ok()) {
                    if !tenants.contains_key(&tenant) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        *this.tenants.write().unwrap_or_else(|p| p.into_inner()) = tenants;
        Ok(this)
    }

    fn snapshot(&self, tenant: &TenantId) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{tenant}.usearch")),
            self.dir.join(format!("{tenant}.keys")),
        )
    }

    /// One tenant's graph: its snapshot if readable, then made to hold exactly
    /// the keys SQLite has.
    fn load_tenant(&self, tenant: &TenantId, rows: Vec<(u64, Meta)>) -> PortResult<TenantVectors> {
        let mut t = TenantVectors::new(self.dims)?;
        let (graph, keys) = self.snapshot(tenant);
        let mut held: HashSet<u64> = HashSet::new();
        if let (Ok(bytes), Some(path)) = (std::fs::read(&keys), graph.to_str()) {
            // A graph of other dimensions or another scalar kind than
            // [`GRAPH_SCALAR`] is rebuilt from SQLite.
            if t.ann.load(path).is_ok()
                && t.ann.dimensions() == self.dims
                && t.ann.scalar_kind() == GRAPH_SCALAR
            {
                held = bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect();
                if held.len() != t.ann.size() {
                    // The key list does not describe this graph: start over.
                    t = TenantVectors::new(self.dims)?;
                    held.clear();
                }
            } else {
                t = TenantVectors::new(self.dims)?;
            }
        }
        let wanted: HashSet<u64> = rows.iter().map(|(k, _)| *k).collect();
        let stale: Vec<u64> = held.difference(&wanted).copied().collect();
        for key in &stale {
            t.ann.remove(*key).map_err(|e| ann_err("remove", e))?;
        }
        t.ann
            .reserve_capacity_and_threads(rows.len().max(1024), threads())
            .map_err(|e| ann_err("reserve", e))?;
        let missing: HashSet<u64> = wanted.difference(&held).copied().collect();
        let changed = missing.len() + stale.len();
        for (key, meta) in rows {
            t.by_doc
                .entry(meta.document_id.clone())
                .or_default()
                .push(key);
            t.meta.insert(key, meta);
        }
        if !missing.is_empty() {
            let conn = self.db.lock();
            let mut stmt = conn
                .prepare("SELECT vkey, vector FROM vectors WHERE tenant = ?1")
                .map_err(sqlite_err)?;
            let mut q = stmt.query([tenant.as_str()]).map_err(sqlite_err)?;
            while let Some(r) = q.next().map_err(sqlite_err)? {
                let key = r.get::<_, i64>(0).map_err(sqlite_err)? as u64;
                if missing.contains(&key) {
                    let blob: Vec<u8> = r.get(1).map_err(sqlite_err)?;
                    t.ann
                        .add(key, &from_blob(&blob))
                        .map_err(|e| ann_err("add", e))?;
                }
            }
        }
        t.ann.change_expansion_search(ef_search(t.meta.len()));
        t.unsaved = changed;
        if changed > 0 {
            self.save(tenant, &mut t)?;
        }
        Ok(t)
    }

    /// Writes a tenant's snapshot (graph, then its key list), each by rename.
    fn save(&self, tenant: &TenantId, t: &mut TenantVectors) -> PortResult<()> {
        let (graph, keys) = self.snapshot(tenant);
        let tmp = graph.with_extension("usearch.part");
        let path = tmp
            .to_str()
            .ok_or_else(|| PortError::Invalid("data folder path is not UTF-8".into()))?;
        t.ann.save(path).map_err(|e| ann_err("save", e))?;
        let list: Vec<u8> = t.meta.keys().flat_map(|k| k.to_le_bytes()).collect();
        let keys_tmp = keys.with_extension("keys.part");
        let io = |e: std::io::Error| PortError::backend("filesystem", e);
        std::fs::write(&keys_tmp, list).map_err(io)?;
        // The key list goes last: a graph without its list is not trusted.
        let _ = std::fs::remove_file(&keys);
        std::fs::rename(&tmp, &graph).map_err(io)?;
        std::fs::rename(&keys_tmp, &keys).map_err(io)?;
        t.unsaved = 0;
        Ok(())
    }

    /// Rewrites the snapshot of every tenant with unsaved changes.
    pub fn flush(&self) -> PortResult<()> {
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        for (tenant, t) in tenants.iter_mut() {
            if t.unsaved > 0 {
                self.save(tenant, t)?;
            }
        }
        Ok(())
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Replaces one document's vectors.
    pub fn replace_document(
        &self,
        tenant: &TenantId,
        doc: &DocumentId,
        items: &[(&Chunk, &[f32])],
    ) -> PortResult<()> {
        if let Some((_, v)) = items.iter().find(|(_, v)| v.len() != self.dims) {
            return Err(PortError::Invalid(format!(
                "vector has {} dimensions, the index {}",
                v.len(),
                self.dims
            )));
        }
        // The graph's lock is taken before the SQLite write and held until the
        // graph matches it, so two replaces of one document cannot interleave
        // (the table and the graph would disagree until the next start).
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        let first_key = {
            let mut conn = self.db.lock();
            let tx = conn.transaction().map_err(sqlite_err)?;
            tx.execute(
                "DELETE FROM vectors WHERE tenant = ?1 AND document_id = ?2",
                params![tenant.as_str(), doc.as_str()],
            )
            .map_err(sqlite_err)?;
            let first: i64 = tx
                .query_row(
                    "UPDATE vector_keys SET next = next + ?1 WHERE id = 0 RETURNING next - ?1",
                    [items.len() as i64],
                    |r| r.get(0),
                )
                .map_err(sqlite_err)?;
            {
                let mut stmt = tx
                    .prepare("INSERT INTO vectors (tenant, chunk_id, document_id, source, content_type, created_at, vector, vkey) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .map_err(sqlite_err)?;
                for (i, (c, v)) in items.iter().enumerate() {
                    stmt.execute(params![
                        tenant.as_str(),
                        c.id,
                        doc.as_str(),
                        c.source,
                        c.content_type,
                        c.created_at.timestamp(),
                        to_blob(v),
                        first + i as i64,
                    ])
                    .map_err(sqlite_err)?;
                }
            }
            tx.commit().map_err(sqlite_err)?;
            first as u64
        };
        let t = match tenants.entry(tenant.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(TenantVectors::new(self.dims)?)
            }
        };
        t.remove_doc(doc.as_str())?;
        let adds = items
            .iter()
            .enumerate()
            .map(|(i, (c, v))| {
                let meta = Meta {
                    chunk_id: c.id.clone(),
                    document_id: doc.as_str().to_owned(),
                    source: c.source.clone(),
                    content_type: c.content_type.clone(),
                    created_at: c.created_at.timestamp(),
                };
                (first_key + i as u64, meta, *v)
            })
            .collect();
        t.add_all(adds)?;
        if t.unsaved >= SAVE_EVERY.max(t.meta.len() / 2) {
            self.save(tenant, t)?;
        }
        Ok(())
    }

    pub fn delete_document(&self, tenant: &TenantId, doc: &DocumentId) -> PortResult<()> {
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        self.db
            .lock()
            .execute(
                "DELETE FROM vectors WHERE tenant = ?1 AND document_id = ?2",
                params![tenant.as_str(), doc.as_str()],
            )
            .map_err(sqlite_err)?;
        if let Some(t) = tenants.get_mut(tenant) {
            t.remove_doc(doc.as_str())?;
        }
        Ok(())
    }

    pub fn delete_tenant(&self, tenant: &TenantId) -> PortResult<()> {
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        self.db
            .lock()
            .execute(
                "DELETE FROM vectors WHERE tenant = ?1",
                params![tenant.as_str()],
            )
            .map_err(sqlite_err)?;
        tenants.remove(tenant);
        let (graph, keys) = self.snapshot(tenant);
        for f in [graph, keys] {
            match std::fs::remove_file(&f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(PortError::backend("filesystem", e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The `k` nearest chunks of `tenant` that pass `filters`, best first.
    pub fn search(
        &self,
        tenant: &TenantId,
        query: &[f32],
        filters: &SearchFilters,
        k: usize,
    ) -> PortResult<Vec<Ranked>> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let Some(t) = tenants.get(tenant) else {
            return Ok(Vec::new());
        };
        if query.len() != self.dims || k == 0 || t.meta.is_empty() {
            return Ok(Vec::new());
        }
        let from = filters.from.map(|d| d.timestamp());
        let to = filters.to.map(|d| d.timestamp());
        let pass = |key: u64| {
            t.meta
                .get(&key)
                .is_some_and(|m| passes(m, filters, from, to))
        };
        let filtered = *filters != SearchFilters::default();
        // The keys a filter lets through, found once: one document's from its
        // list, any other filter's by a pass over the tenant's metadata.
        let matching: Option<Vec<u64>> = match &filters.document_id {
            Some(d) => Some(
                t.by_doc
                    .get(d.as_str())
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|k| pass(*k))
                    .collect(),
            ),
            None if filtered => Some(t.meta.keys().copied().filter(|k| pass(*k)).collect()),
            None => None,
        };
        let scored: Vec<(u64, f32)> = match &matching {
            // Few candidates (or one document's): score them exactly.
            Some(keys) if filters.document_id.is_some() || keys.len() <= EXACT_BELOW => {
                self.exact(t, keys, query, k)?
            }
            _ => {
                // (usearch widens the candidate list to k by itself when k > ef_search.)
                let _slot = self.slots.take();
                let found = if filtered {
                    t.ann.filtered_search(query, k, pass)
                } else {
                    t.ann.search(query, k)
                }
                .map_err(|e| ann_err("search", e))?;
                let out: Vec<(u64, f32)> = found
                    .keys
                    .iter()
                    .zip(&found.distances)
                    .map(|(key, d)| (*key, 1.0 - d))
                    .collect();
                match &matching {
                    // The walk came back short of a filter that matches more: be exact.
                    Some(keys) if out.len() < k && keys.len() > out.len() => {
                        self.exact(t, keys, query, k)?
                    }
                    _ => out,
                }
            }
        };
        Ok(t.ranked(scored))
    }

    /// Similarities of the tenant's chunks `ids` to `query` (the scores
    /// [`Self::search`] gives them); an id the tenant does not have is absent.
    pub fn score_chunks(
        &self,
        tenant: &TenantId,
        query: &[f32],
        ids: &[String],
    ) -> PortResult<Vec<Ranked>> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let Some(t) = tenants.get(tenant) else {
            return Ok(Vec::new());
        };
        if query.len() != self.dims {
            return Ok(Vec::new());
        }
        // A chunk id is `<document id>:<ordinal>`: its document's keys hold it,
        // in the order the chunks came, which is by ordinal from 0 as a rule.
        let keys: Vec<u64> = ids
            .iter()
            .filter_map(|id| {
                let (doc, ordinal) = id.rsplit_once(':')?;
                let keys = t.by_doc.get(doc)?;
                let holds = |k: &u64| t.meta.get(k).is_some_and(|m| m.chunk_id == *id);
                let at = ordinal.parse::<usize>().ok().and_then(|n| keys.get(n));
                at.filter(|k| holds(k))
                    .or_else(|| keys.iter().find(|k| holds(k)))
                    .copied()
            })
            .collect();
        Ok(t.ranked(self.exact(t, &keys, query, keys.len())?))
    }

    /// Exact top `k` among `keys` by inner product.
    fn exact(
        &self,
        t: &TenantVectors,
        keys: &[u64],
        query: &[f32],
        k: usize,
    ) -> PortResult<Vec<(u64, f32)>> {
        let mut buf = vec![0f32; self.dims];
        let mut scored = Vec::with_capacity(keys.len());
        for &key in keys {
            if t.ann.get(key, &mut buf).map_err(|e| ann_err("get", e))? == 0 {
                continue;
            }
            let score: f32 = buf.iter().zip(query).map(|(a, b)| a * b).sum();
            scored.push((key, score));
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(k);
        Ok(scored)
    }

    /// Exact search over every vector of the tenant (the reference a recall figure is measured against).
    pub fn search_exact(
        &self,
        tenant: &TenantId,
        query: &[f32],
        k: usize,
    ) -> PortResult<Vec<Ranked>> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let Some(t) = tenants.get(tenant) else {
            return Ok(Vec::new());
        };
        let keys: Vec<u64> = t.meta.keys().copied().collect();
        Ok(t.ranked(self.exact(t, &keys, query, k)?))
    }

    /// The `k` nearest of the whole graph walked with candidate list `ef`
    /// instead of [`ef_search`]'s (benchmarks: recall against `ef`). Holds
    /// the graphs exclusively while it runs, so no other search sees `ef`.
    pub fn nearest_with_ef(
        &self,
        tenant: &TenantId,
        query: &[f32],
        k: usize,
        ef: usize,
    ) -> PortResult<Vec<Ranked>> {
        let tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        let Some(t) = tenants.get(tenant) else {
            return Ok(Vec::new());
        };
        t.ann.change_expansion_search(ef);
        let found = t.ann.search(query, k);
        t.ann.change_expansion_search(ef_search(t.meta.len()));
        let found = found.map_err(|e| ann_err("search", e))?;
        let scored = found
            .keys
            .iter()
            .zip(&found.distances)
            .map(|(key, d)| (*key, 1.0 - d))
            .collect();
        Ok(t.ranked(scored))
    }

    /// Vectors held for `tenant`.
    pub fn len(&self, tenant: &TenantId) -> usize {
        self.tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .map_or(0, |t| t.meta.len())
    }
}

impl Drop for VectorIndex {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "vector snapshots not written; the next start adds what they lack");
        }
    }
}

fn passes(meta: &Meta, f: &SearchFilters, from: Option<i64>, to: Option<i64>) -> bool {
    f.source.as_ref().is_none_or(|s| *s == meta.source)
        && f.content_type
            .as_ref()
            .is_none_or(|ct| content_type_matches(ct, &meta.content_type))
        && f.document_id
            .as_ref()
            .is_none_or(|d| d.as_str() == meta.document_id)
        && from.is_none_or(|from| meta.created_at >= from)
        && to.is_none_or(|to| meta.created_at < to)
}

/// `filter` is an exact content type, or a family ending in `/` ("image/").
pub fn content_type_matches(filter: &str, content_type: &str) -> bool {
    if filter.ends_with('/') {
        content_type.starts_with(filter)
    } else {
        filter == content_type
    }
}
