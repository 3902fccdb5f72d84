//! `SearchIndex` on OpenSearch — Serverless (`aoss`, a VECTORSEARCH collection)
//! or a managed domain (`es`) — through the official `opensearch` client, every
//! request SigV4-signed by its `aws-auth` transport (rustls on ring, no native TLS).
//!
//! - One index (`jarvis-chunks` by default), created from an index template on
//!   first use: title, section and text under Jarvis's English analyzer and the
//!   text again under the detected language's (`text_de`…), the same analysis
//!   as the local index ([`jarvis_core::analysis`]); tenant and filter fields as
//!   keywords; the embedding as a `knn_vector` (see [`KNN_M`] for the graph's
//!   settings and why).
//! - Search runs a BM25 query and a filtered k-NN query, each filtered to the
//!   caller's tenant, and fuses the two rankings exactly like the local index
//!   (`jarvis_core::fusion`), so ranking behaves the same on a laptop and on AWS.
//! - Chunks are addressed by their `chunk_id` field, not `_id` (Serverless vector
//!   collections refuse custom ids and assign their own). Replacing a document
//!   indexes the new chunks first, tagged with a `generation` (the time of the
//!   replace), waits until search sees them (writes become searchable only at
//!   the next refresh), then deletes every chunk of the document from an older
//!   generation, so search never sees the document missing, a retry within the
//!   refresh window leaves no second copy, and two racing replaces keep the later.
//!   Search also keeps one hit per `chunk_id`.
//! - Throttling (429), 5xx answers and connection faults are retried with
//!   exponential backoff (the client sends each request once).

use ::opensearch::auth::Credentials;
use ::opensearch::http::headers::{HeaderValue, CONTENT_TYPE};
use ::opensearch::http::response::Response;
use ::opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use ::opensearch::http::Url;
use ::opensearch::indices::{IndicesCreateParts, IndicesPutIndexTemplateParts};
use ::opensearch::{BulkParts, OpenSearch, SearchParts};
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use jarvis_core::domain::{DocumentId, TenantId};
use jarvis_core::fusion::{fuse, missing, Completion, Ranked};
use jarvis_core::ports::{IndexedChunk, PortResult, SearchIndex};
use jarvis_core::search::{
    candidates, leading_text, SearchFilters, SearchHit, SearchMode, SearchQuery, SNIPPET_CHARS,
};
use jarvis_core::PortError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;

const SERVICE: &str = "opensearch";
/// Documents per bulk request.
const BULK_BATCH: usize = 200;
/// Most ids one lookup returns (OpenSearch's default result window).
const MAX_IDS: usize = 10_000;
const ATTEMPTS: u32 = 4;
/// Rounds of find-and-delete (or of waiting for a refresh) before a delete
/// gives up as transient: 1,000 rounds of 10,000 chunks, or the refresh wait.
const DELETE_ROUNDS: usize = 1000;
/// Longest a delete waits for the index to show its last round's deletes.
const DELETE_REFRESH_WAIT: Duration = Duration::from_secs(120);
/// Longest a replace waits for its own writes to become searchable.
const REFRESH_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct OpenSearchSettings {
    /// `https://{collection-id}.{region}.aoss.amazonaws.com` or a domain endpoint.
    pub endpoint: String,
    pub index: String,
    /// `aoss` or `es` (the SigV4 service name).
    pub service: String,
    pub dimensions: usize,
}

pub struct OpenSearchIndex {
    /// Built on first use: building it loads the system's CA certificates
    /// (rustls-platform-verifier), ~5 ms a function that never reaches
    /// OpenSearch on an invocation should not pay at cold start.
    client: std::sync::OnceLock<Result<OpenSearch, String>>,
    url: Url,
    /// The SDK's credentials and region, when it has credentials to sign with.
    signing: Option<(SharedCredentialsProvider, aws_config::Region)>,
    settings: OpenSearchSettings,
    ready: OnceCell<()>,
    /// The endpoint accepted a connection within [`CONNECT_TIMEOUT`] (reset
    /// when a request fails, so the next attempt asks again).
    reachable: AtomicBool,
}

/// How long connecting to the endpoint may take. The opensearch crate's
/// transport sets reqwest's whole-request timeout (30 s) but has no setting
/// for the connect timeout, so the adapter connects once itself, within this
/// bound, before a client's first request and after any failed one: an
/// endpoint that does not answer (a network policy, a wrong address) costs 3 s
/// an attempt, not 30.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// `connect` within `limit`, or why not.
pub async fn connect_within<F, T>(connect: F, limit: Duration) -> Result<(), String>
where
    F: std::future::Future<Output = std::io::Result<T>>,
{
    match tokio::time::timeout(limit, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("could not connect: {e}")),
        Err(_) => Err(format!("no connection within {} s", limit.as_secs_f32())),
    }
}

/// HNSW links per node. 16 is the usual balance for 384-dimension sentence
/// embeddings: recall@10 near 0.99 at the `ef_search` below, ~1.1 KiB of graph
/// per vector on top of the vector itself.
pub const KNN_M: u32 = 16;
/// Candidate list while building the graph: larger builds slower and finds
/// better links; 128 is OpenSearch's documented default for faiss.
pub const KNN_EF_CONSTRUCTION: u32 = 128;
/// Candidate list while searching (at least k): recall against latency. The
/// local index searches with the same value up to 250k vectors in a tenant's
/// graph and twice it beyond (`make bench` measured recall@10 0.985 at 100k
/// and 0.964 at 1M with 100); here one index holds every tenant, so a large
/// deployment raises this setting (`index.knn.algo_param.ef_search`) the same way.
pub const KNN_EF_SEARCH: u32 = 100;

/// The index template: analyzers, mappings for text, filters and the vector.
/// faiss is the engine: it filters inside the graph search ("efficient
/// filtering", so a small tenant beside a large one still gets k results)
/// and takes the inner product, which on unit vectors is the cosine.
pub fn index_template(index: &str, dimensions: usize) -> Value {
    use jarvis_core::analysis::{
        analyzer_name, opensearch_analysis, text_field, ENGLISH, LANGUAGES,
    };
    let english = json!({"type": "text", "analyzer": analyzer_name(&ENGLISH)});
    let mut properties = json!({
        "tenant_id": {"type": "keyword"},
        "document_id": {"type": "keyword"},
        "chunk_id": {"type": "keyword"},
        "ordinal": {"type": "integer"},
        "title": english,
        "text": english,
        "section": english,
        "language": {"type": "keyword"},
        "page": {"type": "integer"},
        "source": {"type": "keyword"},
        "content_type": {"type": "keyword"},
        "created_at": {"type": "date"},
        "generation": {"type": "keyword"},
        "vector": {
            "type": "knn_vector",
            "dimension": dimensions,
            "method": {
                "name": "hnsw",
                "engine": "faiss",
                "space_type": "innerproduct",
                "parameters": {
                    "ef_construction": KNN_EF_CONSTRUCTION,
                    "m": KNN_M,
                    "ef_search": KNN_EF_SEARCH
                }
            }
        }
    });
    for lang in LANGUAGES {
        properties[text_field(lang)] = json!({"type": "text", "analyzer": analyzer_name(lang)});
    }
    json!({
        "index_patterns": [format!("{index}*")],
        "template": {
            "settings": {"index": {"knn": true}, "analysis": opensearch_analysis()},
            "mappings": {"properties": properties}
        }
    })
}

/// The fields a keyword query searches, with their boosts: the same fields and
/// weights as the local index.
pub fn keyword_fields() -> Vec<String> {
    use jarvis_core::analysis::{text_field, LANGUAGES, SECTION_BOOST, TITLE_BOOST};
    let mut fields = vec![
        "text".to_owned(),
        format!("title^{TITLE_BOOST}"),
        format!("section^{SECTION_BOOST}"),
    ];
    fields.extend(LANGUAGES.iter().map(text_field));
    fields
}

/// The filter clauses every query carries: the tenant first, then the caller's filters.
pub fn filters(tenant: &TenantId, f: &SearchFilters) -> Vec<Value> {
    let mut out = vec![json!({"term": {"tenant_id": tenant.as_str()}})];
    if let Some(s) = &f.source {
        out.push(json!({"term": {"source": s}}));
    }
    if let Some(ct) = &f.content_type {
        if ct.ends_with('/') {
            out.push(json!({"prefix": {"content_type": ct}}));
        } else {
            out.push(json!({"term": {"content_type": ct}}));
        }
    }
    if let Some(d) = &f.document_id {
        out.push(json!({"term": {"document_id": d.as_str()}}));
    }
    if f.from.is_some() || f.to.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(from) = f.from {
            range.insert("gte".into(), json!(from.to_rfc3339()));
        }
        if let Some(to) = f.to {
            range.insert("lt".into(), json!(to.to_rfc3339()));
        }
        out.push(json!({"range": {"created_at": range}}));
    }
    out
}

const SOURCE_FIELDS: [&str; 9] = [
    "chunk_id",
    "document_id",
    "title",
    "text",
    "section",
    "page",
    "source",
    "content_type",
    "created_at",
];

/// The BM25 query.
pub fn keyword_query(q: &SearchQuery, k: usize) -> Value {
    json!({
        "size": k,
        "_source": SOURCE_FIELDS,
        "query": {"bool": {
            // most_fields sums each field's score, as the local index does.
            "must": [{"multi_match": {"query": q.text, "type": "most_fields", "fields": keyword_fields()}}],
            "filter": filters(&q.tenant_id, &q.filters)
        }},
        "highlight": {
            "encoder": "html",
            "pre_tags": ["<mark>"], "post_tags": ["</mark>"],
            "fields": {"text": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 1}}
        }
    })
}

/// The k-NN query, filtered inside the graph search (efficient filtering).
pub fn vector_query(q: &SearchQuery, vector: &[f32], k: usize) -> Value {
    json!({
        "size": k,
        "_source": SOURCE_FIELDS,
        "query": {"knn": {"vector": {
            "vector": vector,
            "k": k,
            "filter": {"bool": {"filter": filters(&q.tenant_id, &q.filters)}}
        }}}
    })
}

/// The BM25 scores of the candidates `ids` the keyword list lacks: the same
/// query, filtered to those chunks (one that matches no word is not returned).
pub fn keyword_scores_query(q: &SearchQuery, ids: &[String]) -> Value {
    let mut body = keyword_query(q, ids.len());
    if let Some(o) = body.as_object_mut() {
        o.remove("highlight");
    }
    body["_source"] = json!(["chunk_id"]);
    if let Some(filter) = body["query"]["bool"]["filter"].as_array_mut() {
        filter.push(json!({"terms": {"chunk_id": ids}}));
    }
    body
}

/// The similarities of the candidates `ids` the k-NN list lacks: the same
/// k-NN query with `k` = their number, filtered to those chunks. AWS rule (the
/// k-NN plugin's efficient filtering on the faiss engine): when a filter lets
/// through no more documents than `k`, the plugin scores them exactly instead
/// of walking the graph, so every one of them comes back, on the same scale
/// as the first k-NN query's scores.
pub fn vector_scores_query(q: &SearchQuery, vector: &[f32], ids: &[String]) -> Value {
    let mut body = vector_query(q, vector, ids.len());
    body["_source"] = json!(["chunk_id"]);
    if let Some(filter) = body["query"]["knn"]["vector"]["filter"]["bool"]["filter"].as_array_mut()
    {
        filter.push(json!({"terms": {"chunk_id": ids}}));
    }
    body
}

/// A replace's generation: nanoseconds since the epoch, zero-padded so that
/// later generations sort after earlier ones as strings.
pub fn generation_now() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{nanos:020}")
}

/// The `_id`s a bulk response created, in order.
pub fn created_ids(response: &Value) -> Vec<String> {
    response["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["index"]["_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The chunks a replace of generation `generation` removes: every other chunk
/// of the document, written by an earlier replace (or before generations).
pub fn older_than(
    found: Vec<(String, Option<String>)>,
    created: &std::collections::HashSet<String>,
    generation: &str,
) -> Vec<String> {
    found
        .into_iter()
        .filter(|(id, g)| !created.contains(id) && g.as_deref().is_none_or(|g| g < generation))
        .map(|(id, _)| id)
        .collect()
}

/// One bulk request's lines (NDJSON: an action, then its document) indexing
/// `chunks` as generation `generation`.
pub fn bulk_index_body(index: &str, chunks: &[IndexedChunk], generation: &str) -> Vec<String> {
    let mut lines = Vec::with_capacity(chunks.len() * 2);
    for c in chunks {
        let ch = &c.chunk;
        let language = jarvis_core::analysis::detect(&ch.text);
        let mut doc = json!({
            "tenant_id": ch.tenant_id.as_str(),
            "document_id": ch.document_id.as_str(),
            "chunk_id": ch.id,
            "ordinal": ch.ordinal,
            "title": ch.title,
            "text": ch.text,
            "section": ch.section,
            "page": ch.page,
            "source": ch.source,
            "content_type": ch.content_type,
            "created_at": ch.created_at.to_rfc3339(),
            "generation": generation,
            "language": language.map_or("en", |l| l.code),
            "vector": c.vector,
        });
        if let Some(lang) = language {
            doc[jarvis_core::analysis::text_field(lang)] = json!(ch.text);
        }
        lines.push(json!({"index": {"_index": index}}).to_string());
        lines.push(doc.to_string());
    }
    lines
}

fn bulk_delete_body(index: &str, ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|id| json!({"delete": {"_index": index, "_id": id}}).to_string())
        .collect()
}

/// Fails on item errors in a bulk response (a missing document on delete is fine).
pub fn check_bulk(response: &Value) -> PortResult<()> {
    if response.get("errors").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    let items = response
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut throttled = false;
    let mut first = None;
    let mut failed = 0;
    for item in &items {
        let Some((op, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let status = body.get("status").and_then(Value::as_u64).unwrap_or(0);
        if (op == "delete" && status == 404) || (200..300).contains(&status) {
            continue;
        }
        failed += 1;
        throttled |= status == 429 || status >= 500;
        first.get_or_insert_with(|| {
            let e = &body["error"];
            format!(
                "{op} {status}: {}: {}",
                e["type"].as_str().unwrap_or("error"),
                e["reason"].as_str().unwrap_or("")
            )
        });
    }
    if failed == 0 {
        return Ok(());
    }
    let message = format!(
        "bulk: {failed} of {} items failed, first: {}",
        items.len(),
        first.unwrap_or_default()
    );
    Err(if throttled {
        PortError::Transient {
            backend: SERVICE,
            message,
            source: None,
        }
    } else {
        PortError::Backend {
            backend: SERVICE,
            message,
            source: None,
        }
    })
}

/// Hits of a search response as (OpenSearch `_id`, score, `_source`, highlight).
fn hits(response: &Value) -> Vec<(String, f32, Value, Option<String>)> {
    response["hits"]["hits"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    (
                        h["_id"].as_str().unwrap_or_default().to_owned(),
                        h["_score"].as_f64().unwrap_or(0.0) as f32,
                        h["_source"].clone(),
                        h["highlight"]["text"][0].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A response's hits as a ranking by `chunk_id`: a copy indexed twice within
/// a refresh window counts once.
pub fn ranked_hits(response: &Value) -> Vec<Ranked> {
    let mut seen = std::collections::HashSet::new();
    hits(response)
        .into_iter()
        .filter_map(|(_, score, src, _)| {
            let id = src["chunk_id"].as_str()?.to_owned();
            seen.insert(id.clone()).then_some(Ranked { id, score })
        })
        .collect()
}

/// Fuses the two responses into hits, best first (the same fusion as the
/// local index), with the scores `completion` looked up for candidates one
/// list lacks.
pub fn fuse_responses(
    q: &SearchQuery,
    keyword: &Value,
    vector: &Value,
    completion: &Completion,
) -> Vec<SearchHit> {
    let fused = fuse(
        &ranked_hits(keyword),
        &ranked_hits(vector),
        completion,
        &q.fusion,
    );
    let (kw, vec) = (hits(keyword), hits(vector));
    let mut sources: HashMap<String, (Value, Option<String>)> = HashMap::new();
    for (_, _, src, hl) in vec.into_iter().chain(kw) {
        if let Some(id) = src["chunk_id"].as_str().map(str::to_owned) {
            let entry = sources.entry(id).or_insert((src, None));
            if hl.is_some() {
                entry.1 = hl;
            }
        }
    }
    fused
        .into_iter()
        .take(q.limit)
        .filter_map(|f| {
            let (src, hl) = sources.remove(&f.id)?;
            let str_of = |k: &str| src[k].as_str().unwrap_or_default().to_owned();
            let text = str_of("text");
            // Defence in depth: the tenant filter is in the query; a hit of another
            // tenant's document id shape cannot be produced, but never pass one on.
            let document_id = DocumentId::parse(src["document_id"].as_str()?)?;
            Some(SearchHit {
                document_id,
                chunk_id: f.id,
                title: str_of("title"),
                snippet: hl.unwrap_or_else(|| leading_text(&text, SNIPPET_CHARS)),
                text,
                page: src["page"].as_u64().map(|p| p as u32),
                section: src["section"].as_str().map(str::to_owned),
                source: str_of("source"),
                content_type: str_of("content_type"),
                score: f.score,
                bm25_rank: f.bm25_rank,
                vector_rank: f.vector_rank,
            })
        })
        .collect()
}

impl OpenSearchIndex {
    /// Scores each candidate on the side whose list lacks it (a second round
    /// of two queries, in parallel), for fusion by scores.
    async fn complete(
        &self,
        q: &SearchQuery,
        vector: &[f32],
        keyword: &Value,
        knn: &Value,
    ) -> PortResult<Completion> {
        let (for_bm25, for_vector) = missing(&ranked_hits(keyword), &ranked_hits(knn));
        let empty = json!({"hits": {"hits": []}});
        let bm25 = async {
            if for_bm25.is_empty() {
                return Ok(empty.clone());
            }
            self.search_json(keyword_scores_query(q, &for_bm25)).await
        };
        let similar = async {
            if for_vector.is_empty() {
                return Ok(empty.clone());
            }
            self.search_json(vector_scores_query(q, vector, &for_vector))
                .await
        };
        let (bm25, similar) = tokio::try_join!(bm25, similar)?;
        Ok(Completion::from_lookups(
            for_bm25,
            ranked_hits(&bm25),
            ranked_hits(&similar),
        ))
    }

    pub fn new(settings: OpenSearchSettings, sdk: &SdkConfig) -> Result<Self, String> {
        let url = Url::parse(&settings.endpoint).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err("the endpoint must be an http(s) URL".into());
        }
        let signing = sdk.credentials_provider().map(|credentials| {
            let region = sdk
                .region()
                .cloned()
                .unwrap_or_else(|| aws_config::Region::from_static("us-east-1"));
            (credentials, region)
        });
        Ok(Self {
            client: std::sync::OnceLock::new(),
            url,
            signing,
            settings,
            ready: OnceCell::new(),
            reachable: AtomicBool::new(false),
        })
    }

    /// The client, built the first time it is needed.
    fn client(&self) -> PortResult<&OpenSearch> {
        self.client
            .get_or_init(|| {
                // The client's reqwest is built without a TLS provider of its own
                // (no aws-lc, no native TLS): it uses rustls on ring, as the AWS
                // SDK does. Installing fails only when one is installed already.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let mut transport =
                    TransportBuilder::new(SingleNodeConnectionPool::new(self.url.clone()))
                        .timeout(Duration::from_secs(30));
                if let Some((credentials, region)) = &self.signing {
                    transport = transport
                        .auth(Credentials::AwsSigV4(credentials.clone(), region.clone()))
                        .service_name(&self.settings.service);
                }
                transport
                    .build()
                    .map(OpenSearch::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| PortError::Backend {
                backend: SERVICE,
                message: format!("the OpenSearch client could not be built: {e}"),
                source: None,
            })
    }

    /// One request (`send` makes it afresh for each attempt), retried with
    /// backoff on throttling, 5xx and connection faults. Returns the status
    /// and the JSON body (`Null` when empty).
    async fn call<F, Fut>(&self, what: &str, send: F) -> PortResult<(u16, Value)>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Response, ::opensearch::Error>>,
    {
        let mut delay = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            if let Err(e) = self.reach().await {
                last = format!("{what}: {}: {e}", self.url);
                if attempt < ATTEMPTS {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                continue;
            }
            match send().await {
                Ok(resp) => {
                    let status = resp.status_code().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    if status == 429 || status >= 500 {
                        last = format!("{what}: HTTP {status}: {}", clip(&text));
                    } else {
                        let json = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| PortError::Backend {
                                backend: SERVICE,
                                message: format!("{what}: HTTP {status}: not JSON: {e}"),
                                source: None,
                            })?
                        };
                        return Ok((status, json));
                    }
                }
                Err(e) => {
                    self.reachable.store(false, Ordering::Relaxed);
                    last = format!("{what}: {e}");
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        Err(PortError::Transient {
            backend: SERVICE,
            message: last,
            source: None,
        })
    }

    /// Connects to the endpoint within [`CONNECT_TIMEOUT`] unless it was
    /// reached since the last failed request.
    async fn reach(&self) -> Result<(), String> {
        if self.reachable.load(Ordering::Relaxed) {
            return Ok(());
        }
        let host = self.url.host_str().unwrap_or_default().to_owned();
        let port = self.url.port_or_known_default().unwrap_or(443);
        connect_within(
            tokio::net::TcpStream::connect((host, port)),
            CONNECT_TIMEOUT,
        )
        .await?;
        self.reachable.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Creates the template and the index once per process.
    async fn ensure_index(&self) -> PortResult<()> {
        self.ready
            .get_or_try_init(|| async {
                let idx = self.settings.index.as_str();
                let template = index_template(idx, self.settings.dimensions);
                let what = format!("PUT /_index_template/{idx}");
                let indices = self.client()?.indices();
                let answer = self
                    .call(&what, || {
                        indices
                            .put_index_template(IndicesPutIndexTemplateParts::Name(idx))
                            .body(&template)
                            .send()
                    })
                    .await?;
                succeeded(&what, answer)?;
                let (status, json) = self
                    .call(&format!("PUT /{idx}"), || {
                        indices
                            .create(IndicesCreateParts::Index(idx))
                            .body(json!({}))
                            .send()
                    })
                    .await?;
                let exists =
                    json["error"]["type"].as_str() == Some("resource_already_exists_exception");
                if (200..300).contains(&status) || exists {
                    Ok(())
                } else {
                    Err(PortError::Backend {
                        backend: SERVICE,
                        message: format!(
                            "creating index {idx}: HTTP {status}: {}",
                            json["error"]["reason"]
                        ),
                        source: None,
                    })
                }
            })
            .await
            .map(|_| ())
    }

    async fn search_json(&self, body: Value) -> PortResult<Value> {
        let indices = [self.settings.index.as_str()];
        let what = format!("POST /{}/_search", self.settings.index);
        let client = self.client()?;
        let answer = self
            .call(&what, || {
                client
                    .search(SearchParts::Index(&indices))
                    .body(&body)
                    .send()
            })
            .await?;
        match succeeded(&what, answer) {
            // Nothing indexed yet: no index, no hits.
            Err(PortError::NotFound(_)) => Ok(json!({"hits": {"hits": []}})),
            other => other,
        }
    }

    /// `_id` and generation of every chunk matching `filter` (one tenant,
    /// maybe one document) that search sees now.
    async fn generations(&self, filter: Vec<Value>) -> PortResult<Vec<(String, Option<String>)>> {
        let body = json!({"size": MAX_IDS, "_source": ["generation"], "query": {"bool": {"filter": filter}}});
        let resp = self.search_json(body).await?;
        Ok(hits(&resp)
            .into_iter()
            .map(|(id, _, src, _)| (id, src["generation"].as_str().map(str::to_owned)))
            .collect())
    }

    async fn bulk(&self, lines: Vec<String>) -> PortResult<Value> {
        if lines.is_empty() {
            return Ok(json!({"items": []}));
        }
        let client = self.client()?;
        let answer = self
            .call("POST /_bulk", || {
                client
                    .bulk(BulkParts::None)
                    // The client sends every body as application/json; bulk is NDJSON.
                    .header(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-ndjson"),
                    )
                    .body(lines.iter().map(String::as_str).collect())
                    .send()
            })
            .await?;
        let resp = succeeded("POST /_bulk", answer)?;
        check_bulk(&resp)?;
        Ok(resp)
    }

    /// Deletes every chunk matching `filter`, until a search shows none.
    ///
    /// A search returns at most [`MAX_IDS`] ids, and OpenSearch Serverless
    /// shows deletes only at its next refresh (not under our control): right
    /// after a round, a search still answers the chunks just deleted. So a
    /// round that finds only chunks it deleted already waits for the refresh
    /// and asks again; what is left past the first page (a tenant with more
    /// than 10,000 chunks) shows then. Done only when a search finds nothing.
    async fn delete_matching(&self, filter: Vec<Value>) -> PortResult<()> {
        let mut deleted = std::collections::HashSet::new();
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_millis(200);
        for _ in 0..DELETE_ROUNDS {
            let found: Vec<String> = self
                .generations(filter.clone())
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            if found.is_empty() {
                return Ok(());
            }
            let new: Vec<&String> = found.iter().filter(|id| !deleted.contains(*id)).collect();
            if new.is_empty() {
                // Only what this deleted: the index has not refreshed yet.
                if waited >= DELETE_REFRESH_WAIT {
                    break;
                }
                tokio::time::sleep(pause).await;
                waited += pause;
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            }
            for batch in new.chunks(BULK_BATCH * 5) {
                let ids: Vec<String> = batch.iter().map(|id| (*id).clone()).collect();
                self.bulk(bulk_delete_body(&self.settings.index, &ids))
                    .await?;
            }
            deleted.extend(new.into_iter().cloned());
            // Progress: the next refresh is waited for afresh.
            waited = Duration::ZERO;
            pause = Duration::from_millis(200);
        }
        Err(PortError::Transient {
            backend: SERVICE,
            message: format!(
                "chunks were still being found after {} deleted and {}s waited for the index to refresh",
                deleted.len(),
                waited.as_secs()
            ),
            source: None,
        })
    }
}

/// A 2xx answer's body; any other, an error naming OpenSearch's reason.
fn succeeded(what: &str, (status, json): (u16, Value)) -> PortResult<Value> {
    if (200..300).contains(&status) {
        return Ok(json);
    }
    let reason = json["error"]["reason"]
        .as_str()
        .unwrap_or("no reason given");
    let kind = json["error"]["type"].as_str().unwrap_or("error");
    let message = format!("{what}: HTTP {status}: {kind}: {reason}");
    Err(match status {
        404 => PortError::NotFound(message),
        400 => PortError::Invalid(message),
        _ => PortError::Backend {
            backend: SERVICE,
            message,
            source: None,
        },
    })
}

fn clip(text: &str) -> &str {
    &text[..text.floor_char_boundary(300)]
}

#[async_trait]
impl SearchIndex for OpenSearchIndex {
    async fn replace_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        chunks: Vec<IndexedChunk>,
    ) -> PortResult<()> {
        if let Some(c) = chunks
            .iter()
            .find(|c| &c.chunk.tenant_id != tenant || &c.chunk.document_id != id)
        {
            return Err(PortError::Invalid(format!(
                "chunk {} does not belong to document {id} of this tenant",
                c.chunk.id
            )));
        }
        if let Some(c) = chunks
            .iter()
            .find(|c| c.vector.len() != self.settings.dimensions)
        {
            return Err(PortError::Invalid(format!(
                "chunk {} has {} dimensions; the index has {}",
                c.chunk.id,
                c.vector.len(),
                self.settings.dimensions
            )));
        }
        self.ensure_index().await?;
        let doc_filter = vec![
            json!({"term": {"tenant_id": tenant.as_str()}}),
            json!({"term": {"document_id": id.as_str()}}),
        ];
        let generation = generation_now();
        let mut created = std::collections::HashSet::new();
        for batch in chunks.chunks(BULK_BATCH) {
            let resp = self
                .bulk(bulk_index_body(&self.settings.index, batch, &generation))
                .await?;
            created.extend(created_ids(&resp));
        }
        // Once search sees this replace's own writes, it sees every earlier one too.
        let (mut pause, mut waited) = (Duration::from_millis(200), Duration::ZERO);
        let found = loop {
            let found = self.generations(doc_filter.clone()).await?;
            let visible = found.iter().filter(|(id, _)| created.contains(id)).count();
            if visible >= created.len() {
                break found;
            }
            if waited >= REFRESH_WAIT {
                tracing::warn!(
                    visible,
                    written = created.len(),
                    "the index did not show this replace's chunks in time; removing what it shows"
                );
                break found;
            }
            tokio::time::sleep(pause).await;
            waited += pause;
            pause = (pause * 2).min(Duration::from_secs(2));
        };
        let stale = older_than(found, &created, &generation);
        for batch in stale.chunks(BULK_BATCH * 5) {
            self.bulk(bulk_delete_body(&self.settings.index, batch))
                .await?;
        }
        Ok(())
    }

    async fn delete_document(&self, tenant: &TenantId, id: &DocumentId) -> PortResult<()> {
        self.delete_matching(vec![
            json!({"term": {"tenant_id": tenant.as_str()}}),
            json!({"term": {"document_id": id.as_str()}}),
        ])
        .await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<()> {
        self.delete_matching(vec![json!({"term": {"tenant_id": tenant.as_str()}})])
            .await
    }

    async fn search(&self, q: &SearchQuery) -> PortResult<Vec<SearchHit>> {
        let k = candidates(q.limit);
        let empty = json!({"hits": {"hits": []}});
        let keyword = async {
            match q.mode {
                SearchMode::Semantic => Ok(empty.clone()),
                _ => self.search_json(keyword_query(q, k)).await,
            }
        };
        let vector = async {
            match (q.mode, &q.vector) {
                (SearchMode::Keyword, _) | (_, None) => Ok(empty.clone()),
                (_, Some(v)) => self.search_json(vector_query(q, v, k)).await,
            }
        };
        let (kw, vec) = tokio::try_join!(keyword, vector)?;
        let completion = match (q.mode, &q.vector) {
            (SearchMode::Hybrid, Some(v)) if q.fusion.completes_scores() => {
                self.complete(q, v, &kw, &vec).await?
            }
            _ => Completion::default(),
        };
        Ok(fuse_responses(q, &kw, &vec, &completion))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connect_that_never_completes_gives_up_at_the_limit() {
        let never = std::future::pending::<std::io::Result<()>>();
        let e = connect_within(never, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(e, "no connection within 0.05 s");
        assert_eq!(CONNECT_TIMEOUT, Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_listening_endpoint_is_reached_and_a_closed_one_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        assert_eq!(
            connect_within(tokio::net::TcpStream::connect(open), CONNECT_TIMEOUT).await,
            Ok(())
        );
        drop(listener);
        let e = connect_within(tokio::net::TcpStream::connect(open), CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(e.starts_with("could not connect: "), "{e}");
    }
}
