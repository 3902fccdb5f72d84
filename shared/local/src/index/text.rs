//! The BM25 side: a tantivy index on disk. Each chunk is one tantivy document;
//! the tenant is an indexed term that scopes every query. Text is analysed
//! as [`jarvis_core::analysis`] defines (the OpenSearch template declares the same).

use super::scoped::{score_by_id, ScopedTopDocs};
use jarvis_core::analysis::{
    analyzer_name, detect, text_field, Language, ENGLISH, LANGUAGES, MAX_TOKEN_BYTES,
    SECTION_BOOST, TITLE_BOOST,
};
use jarvis_core::domain::{Chunk, DocumentId, TenantId};
use jarvis_core::fusion::Ranked;
use jarvis_core::ports::PortResult;
use jarvis_core::search::SearchFilters;
use jarvis_core::PortError;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, EnableScoring, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

fn err(e: tantivy::TantivyError) -> PortError {
    PortError::backend("tantivy", e)
}

fn io_err(e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError::backend("tantivy", e)
}

#[derive(Clone)]
struct Fields {
    chunk_id: Field,
    doc_key: Field,
    tenant: Field,
    document_id: Field,
    title: Field,
    section: Field,
    text: Field,
    /// One per [`LANGUAGES`] entry, in that order: the text again, under that language's analysis.
    text_lang: Vec<Field>,
    language: Field,
    page: Field,
    source: Field,
    content_type: Field,
    content_family: Field,
    created_at: Field,
}

/// Bumped whenever the schema or an analyzer changes: an index written under
/// another version is rebuilt from its stored fields when it is opened.
const ANALYSIS_VERSION: &str = "2";
const VERSION_FILE: &str = "jarvis-analysis-version";

fn tantivy_language(lang: &Language) -> tantivy::tokenizer::Language {
    use tantivy::tokenizer::Language as L;
    match lang.code {
        "da" => L::Danish,
        "de" => L::German,
        "es" => L::Spanish,
        "fi" => L::Finnish,
        "fr" => L::French,
        "hu" => L::Hungarian,
        "it" => L::Italian,
        "nl" => L::Dutch,
        "no" => L::Norwegian,
        "pt" => L::Portuguese,
        "ru" => L::Russian,
        "sv" => L::Swedish,
        _ => L::English,
    }
}

/// A language's analyzer, the chain [`jarvis_core::analysis`] describes (and
/// the OpenSearch template declares): words, long tokens dropped, lower case,
/// stop words, Snowball stemmer, accents folded.
pub fn analyzer(lang: &Language) -> tantivy::tokenizer::TextAnalyzer {
    use tantivy::tokenizer::{
        AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
        TextAnalyzer,
    };
    let language = tantivy_language(lang);
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter_dynamic(
            StopWordFilter::new(language)
                .unwrap_or_else(|| StopWordFilter::remove(Vec::<String>::new())),
        )
        .filter_dynamic(Stemmer::new(language))
        .filter_dynamic(AsciiFoldingFilter);
    builder.build()
}

/// The tokens `text` is indexed as under `lang`'s analysis (the analyzer test's view).
#[cfg(test)]
fn analyze(lang: &Language, text: &str) -> Vec<String> {
    use tantivy::tokenizer::TokenStream;
    let mut analyzer = analyzer(lang);
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push(t.text.clone());
    }
    out
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_options = |lang: &Language, stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(&analyzer_name(lang))
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            o.set_stored()
        } else {
            o
        }
    };
    let f = Fields {
        chunk_id: b.add_text_field("chunk_id", STRING | STORED),
        doc_key: b.add_text_field("doc_key", STRING),
        tenant: b.add_text_field("tenant", STRING | STORED),
        document_id: b.add_text_field("document_id", STRING | STORED),
        title: b.add_text_field("title", text_options(&ENGLISH, true)),
        section: b.add_text_field("section", text_options(&ENGLISH, true)),
        text: b.add_text_field("text", text_options(&ENGLISH, true)),
        text_lang: LANGUAGES
            .iter()
            .map(|l| b.add_text_field(&text_field(l), text_options(l, false)))
            .collect(),
        language: b.add_text_field("language", STRING | STORED),
        page: b.add_u64_field("page", STORED),
        source: b.add_text_field("source", STRING | STORED),
        content_type: b.add_text_field("content_type", STRING | STORED),
        content_family: b.add_text_field("content_family", STRING),
        created_at: b.add_i64_field("created_at", INDEXED | FAST | STORED),
    };
    (b.build(), f)
}

fn doc_key(tenant: &str, doc: &str) -> String {
    format!("{tenant}/{doc}")
}

/// What the index stores of a chunk, and all a rebuild needs.
struct Entry {
    chunk_id: String,
    tenant: String,
    document_id: String,
    title: String,
    section: Option<String>,
    text: String,
    page: Option<u64>,
    source: String,
    content_type: String,
    created_at: i64,
}

impl Entry {
    fn of(tenant: &TenantId, doc: &DocumentId, c: &Chunk) -> Self {
        Entry {
            chunk_id: c.id.clone(),
            tenant: tenant.as_str().to_owned(),
            document_id: doc.as_str().to_owned(),
            title: c.title.clone(),
            section: c.section.clone(),
            text: c.text.clone(),
            page: c.page.map(u64::from),
            source: c.source.clone(),
            content_type: c.content_type.clone(),
            created_at: c.created_at.timestamp(),
        }
    }

    /// The tantivy document: English fields always, the detected language's field too.
    fn to_doc(&self, f: &Fields) -> TantivyDocument {
        let language = detect(&self.text);
        let mut d = doc!(
            f.chunk_id => self.chunk_id.clone(),
            f.doc_key => doc_key(&self.tenant, &self.document_id),
            f.tenant => self.tenant.clone(),
            f.document_id => self.document_id.clone(),
            f.title => self.title.clone(),
            f.text => self.text.clone(),
            f.language => language.map_or(ENGLISH.code, |l| l.code),
            f.source => self.source.clone(),
            f.content_type => self.content_type.clone(),
            f.content_family => self.content_type.split('/').next().unwrap_or("").to_owned(),
            f.created_at => self.created_at,
        );
        if let Some(lang) = language {
            if let Some(i) = LANGUAGES.iter().position(|l| l == lang) {
                d.add_text(f.text_lang[i], &self.text);
            }
        }
        if let Some(s) = &self.section {
            d.add_text(f.section, s);
        }
        if let Some(p) = self.page {
            d.add_u64(f.page, p);
        }
        d
    }

    /// Reads the stored fields of a document of any earlier schema (fields it
    /// lacks are empty; the tenant, if not stored, comes from `tenant_of`).
    fn read(
        schema: &Schema,
        d: &TantivyDocument,
        tenant_of: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        let s = |name: &str| {
            schema
                .get_field(name)
                .ok()
                .and_then(|field| d.get_first(field))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let n = |name: &str| {
            schema
                .get_field(name)
                .ok()
                .and_then(|field| d.get_first(field))
        };
        let chunk_id = s("chunk_id")?;
        let tenant = s("tenant").or_else(|| tenant_of(&chunk_id))?;
        Some(Entry {
            tenant,
            document_id: s("document_id")?,
            title: s("title").unwrap_or_default(),
            section: s("section").filter(|x| !x.is_empty()),
            text: s("text").unwrap_or_default(),
            page: n("page").and_then(|v| v.as_u64()),
            source: s("source").unwrap_or_default(),
            content_type: s("content_type").unwrap_or_default(),
            created_at: n("created_at").and_then(|v| v.as_i64()).unwrap_or(0),
            chunk_id,
        })
    }
}

/// A stored chunk as the index returns it.
#[derive(Debug, Clone)]
pub struct StoredChunk {
    pub chunk_id: String,
    pub document_id: String,
    pub title: String,
    pub section: Option<String>,
    pub text: String,
    pub page: Option<u32>,
    pub source: String,
    pub content_type: String,
}

pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    commits: Mutex<Commits>,
    committed: Condvar,
    /// How long a commit waits for changes to join it, and how many it waits for at most.
    window: Duration,
    batch: u64,
    f: Fields,
}

/// Group commit: every change takes a number; a change returns once a commit
/// that covers its number is done. A commit is costly whatever its size (a
/// new segment, a term dictionary per field, a hash table of 512 Ki slots
/// (4 MiB) zeroed and walked, and merges later), so changes share commits: those
/// made while one commit runs share the next, and a commit waits up to
/// [`COMMIT_WINDOW`] after the oldest change it covers for others to join.
#[derive(Default)]
struct Commits {
    /// Changes made to the writer so far.
    made: u64,
    /// Changes covered by a finished commit.
    committed: u64,
    /// A commit is running (or waiting out its window).
    running: bool,
    /// When the oldest change not yet in a commit was made.
    oldest_pending: Option<Instant>,
}

/// Longest a change waits for others to share its commit. While documents
/// stream in (a folder dropped into the inbox), commits then come a few times
/// a second instead of once per document; a lone change waits this long.
pub const COMMIT_WINDOW: Duration = Duration::from_millis(250);
/// A commit starts before its window ends once this many changes wait,
/// unless [`TextIndex::with_commits`] says otherwise.
pub const COMMIT_BATCH: usize = 64;

fn register(index: &Index) {
    for lang in std::iter::once(&ENGLISH).chain(LANGUAGES) {
        index
            .tokenizers()
            .register(&analyzer_name(lang), analyzer(lang));
    }
}

/// Segments below this many chunks are one level of the log merge policy.
/// Tantivy's default (10,000) suits bulk indexing; here a commit adds a few
/// documents' chunks, so with it the index's growing first segment was merged
/// again with every few new ones: each chunk rewritten hundreds of times
/// before the index reached 10,000 chunks. Levels from 1,000 keep that
/// rewriting within the first thousand chunks, and logarithmic after.
const MERGE_MIN_LAYER_CHUNKS: u32 = 1_000;

fn merge_policy() -> tantivy::indexer::LogMergePolicy {
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_layer_size(MERGE_MIN_LAYER_CHUNKS);
    policy
}

impl TextIndex {
    /// Opens the index in `dir`, creating it if need be. An index written under
    /// another analysis version (an older Jarvis) is rebuilt from its stored
    /// fields first; `tenant_of` names a chunk's tenant where that index did
    /// not store it (chunks it cannot place are left out).
    pub fn open(dir: &Path, tenant_of: &dyn Fn(&str) -> Option<String>) -> PortResult<Self> {
        recover_interrupted_rebuild(dir)?;
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let version = std::fs::read_to_string(dir.join(VERSION_FILE)).ok();
        let has_index = Index::exists(&*directory(dir)?).unwrap_or(false);
        if has_index && version.as_deref().map(str::trim) != Some(ANALYSIS_VERSION) {
            rebuild(dir, tenant_of)?;
        }
        let (schema, f) = schema();
        let index = Index::open_or_create(directory(dir)?, schema).map_err(err)?;
        std::fs::write(dir.join(VERSION_FILE), ANALYSIS_VERSION).map_err(io_err)?;
        register(&index);
        // One indexing thread: a commit then writes one segment, not one per thread.
        let writer: IndexWriter = index.writer_with_num_threads(1, 50_000_000).map_err(err)?;
        writer.set_merge_policy(Box::new(merge_policy()));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            commits: Mutex::new(Commits::default()),
            committed: Condvar::new(),
            window: COMMIT_WINDOW,
            batch: COMMIT_BATCH as u64,
            f,
        })
    }

    /// Commits wait up to `window` for other changes to join them, and no
    /// longer once `batch` changes wait: when as many writers as can write at
    /// once all wait, none is left to join.
    pub fn with_commits(mut self, window: Duration, batch: usize) -> Self {
        self.window = window;
        self.batch = batch.max(1) as u64;
        self
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn commits(&self) -> MutexGuard<'_, Commits> {
        self.commits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes a change with the writer, then returns once it is committed and
    /// visible to searches (see [`Commits`]).
    fn change(&self, make: impl FnOnce(&mut IndexWriter) -> PortResult<()>) -> PortResult<()> {
        let number = {
            let mut w = self.writer();
            make(&mut w)?;
            let mut c = self.commits();
            c.made += 1;
            c.oldest_pending.get_or_insert_with(Instant::now);
            c.made
        };
        // A committer waiting out its window counts the changes that join.
        self.committed.notify_all();
        let mut c = self.commits();
        loop {
            if c.committed >= number {
                return Ok(());
            }
            if c.running {
                c = self.committed.wait(c).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // No commit is running: this caller commits every change made so
            // far, once the window is over or the batch is full.
            c.running = true;
            let deadline = c.oldest_pending.unwrap_or_else(Instant::now) + self.window;
            loop {
                let now = Instant::now();
                if now >= deadline || c.made - c.committed >= self.batch {
                    break;
                }
                c = self
                    .committed
                    .wait_timeout(c, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            drop(c);
            let result = (|| {
                let mut w = self.writer();
                let upto = {
                    let mut c = self.commits();
                    c.oldest_pending = None;
                    c.made
                };
                w.commit().map_err(err)?;
                self.reader.reload().map_err(err)?;
                Ok(upto)
            })();
            c = self.commits();
            c.running = false;
            self.committed.notify_all();
            c.committed = c.committed.max(result?);
        }
    }

    /// Replaces one document's chunks; returns once that is committed.
    pub fn replace_document(
        &self,
        tenant: &TenantId,
        doc: &DocumentId,
        chunks: &[&Chunk],
    ) -> PortResult<()> {
        let f = &self.f;
        self.change(|w| {
            w.delete_term(Term::from_field_text(
                f.doc_key,
                &doc_key(tenant.as_str(), doc.as_str()),
            ));
            for c in chunks {
                w.add_document(Entry::of(tenant, doc, c).to_doc(f))
                    .map_err(err)?;
            }
            Ok(())
        })
    }

    pub fn delete_document(&self, tenant: &TenantId, doc: &DocumentId) -> PortResult<()> {
        self.change(|w| {
            w.delete_term(Term::from_field_text(
                self.f.doc_key,
                &doc_key(tenant.as_str(), doc.as_str()),
            ));
            Ok(())
        })
    }

    pub fn delete_tenant(&self, tenant: &TenantId) -> PortResult<()> {
        self.change(|w| {
            w.delete_term(Term::from_field_text(self.f.tenant, tenant.as_str()));
            Ok(())
        })
    }

    fn term(&self, field: Field, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        ))
    }

    /// The user's words as one flat union of terms over title, section, text
    /// and every language's text field, each field analysing them with its
    /// own analyzer, a word said twice counting twice. Flat, so that tantivy
    /// can prune it (block-max WAND; see [`ScopedTopDocs`]); query syntax is
    /// not interpreted: quotes, signs and `field:` prefixes are just text.
    fn text_query(&self, text: &str) -> PortResult<BooleanQuery> {
        let clauses: Vec<(Occur, Box<dyn Query>)> = self
            .word_terms(text)?
            .into_iter()
            .map(|(term, boost)| {
                let term = TermQuery::new(term, IndexRecordOption::WithFreqs);
                let clause: Box<dyn Query> = Box::new(BoostQuery::new(Box::new(term), boost));
                (Occur::Should, clause)
            })
            .collect();
        Ok(BooleanQuery::new(clauses))
    }

    /// The words of `text` as each field analyses them, each term with its
    /// boost: the field's, times the times the word occurs.
    fn word_terms(&self, text: &str) -> PortResult<Vec<(Term, f32)>> {
        let f = &self.f;
        let fields = [
            (f.title, TITLE_BOOST),
            (f.section, SECTION_BOOST),
            (f.text, 1.0),
        ]
        .into_iter()
        .chain(f.text_lang.iter().map(|&field| (field, 1.0)));
        let mut terms = Vec::new();
        for (field, boost) in fields {
            let mut analyzer = self.index.tokenizer_for_field(field).map_err(err)?;
            let mut counts: Vec<(String, f32)> = Vec::new();
            let mut stream = analyzer.token_stream(text);
            while let Some(token) = stream.next() {
                match counts.iter_mut().find(|(t, _)| *t == token.text) {
                    Some((_, n)) => *n += 1.0,
                    None => counts.push((token.text.clone(), 1.0)),
                }
            }
            for (token, n) in counts {
                terms.push((Term::from_field_text(field, &token), boost * n));
            }
        }
        Ok(terms)
    }

    /// Tenant and filter clauses every query carries.
    fn scope(&self, tenant: &TenantId, filters: &SearchFilters) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.f;
        let mut clauses = vec![(Occur::Must, self.term(f.tenant, tenant.as_str()))];
        if let Some(s) = &filters.source {
            clauses.push((Occur::Must, self.term(f.source, s)));
        }
        if let Some(ct) = &filters.content_type {
            clauses.push(match ct.strip_suffix('/') {
                Some(family) => (Occur::Must, self.term(f.content_family, family)),
                None => (Occur::Must, self.term(f.content_type, ct)),
            });
        }
        if let Some(d) = &filters.document_id {
            clauses.push((Occur::Must, self.term(f.document_id, d.as_str())));
        }
        if filters.from.is_some() || filters.to.is_some() {
            let lo = filters.from.map_or(Bound::Unbounded, |d| {
                Bound::Included(Term::from_field_i64(f.created_at, d.timestamp()))
            });
            let hi = filters.to.map_or(Bound::Unbounded, |d| {
                Bound::Excluded(Term::from_field_i64(f.created_at, d.timestamp()))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        clauses
    }

    /// BM25 ranking of the tenant's chunks for `text`.
    pub fn search(
        &self,
        tenant: &TenantId,
        text: &str,
        filters: &SearchFilters,
        k: usize,
    ) -> PortResult<Vec<Ranked>> {
        let words = self.text_query(text)?;
        let scope = BooleanQuery::new(self.scope(tenant, filters));
        let searcher = self.reader.searcher();
        let scope = scope
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(err)?;
        let top = searcher
            .search(
                &words,
                &ScopedTopDocs {
                    scope: &*scope,
                    limit: k,
                },
            )
            .map_err(err)?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(err)?;
            let id = d
                .get_first(self.f.chunk_id)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            out.push(Ranked { id, score });
        }
        Ok(out)
    }

    /// BM25 scores of the tenant's chunks `ids` for `text` (the same scores
    /// [`Self::search`] gives them); a chunk matching none of the words is
    /// absent, as is an id the tenant does not have.
    pub fn score_chunks(
        &self,
        tenant: &TenantId,
        text: &str,
        ids: &[String],
    ) -> PortResult<Vec<Ranked>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let words = self.word_terms(text)?;
        let tenant = Term::from_field_text(self.f.tenant, tenant.as_str());
        let scored = score_by_id(
            &self.reader.searcher(),
            &words,
            self.f.chunk_id,
            ids,
            &tenant,
        )
        .map_err(err)?;
        Ok(scored
            .into_iter()
            .map(|(i, score)| Ranked {
                id: ids[i].clone(),
                score,
            })
            .collect())
    }

    /// Loads chunks by id (scoped to the tenant) and highlights `text`'s terms.
    pub fn fetch(
        &self,
        tenant: &TenantId,
        ids: &[String],
        text: &str,
    ) -> PortResult<Vec<(StoredChunk, String)>> {
        let f = &self.f;
        let searcher = self.reader.searcher();
        let snippets =
            SnippetGenerator::create(&searcher, &self.text_query(text)?, f.text).map(|mut g| {
                g.set_max_num_chars(jarvis_core::search::SNIPPET_CHARS);
                g
            });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let query = BooleanQuery::new(vec![
                (Occur::Must, self.term(f.tenant, tenant.as_str())),
                (Occur::Must, self.term(f.chunk_id, id)),
            ]);
            let Some((_, addr)) = searcher
                .search(&query, &TopDocs::with_limit(1))
                .map_err(err)?
                .into_iter()
                .next()
            else {
                continue;
            };
            let d: TantivyDocument = searcher.doc(addr).map_err(err)?;
            let s = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let chunk = StoredChunk {
                chunk_id: s(f.chunk_id),
                document_id: s(f.document_id),
                title: s(f.title),
                section: Some(s(f.section)).filter(|x| !x.is_empty()),
                text: s(f.text),
                page: d
                    .get_first(f.page)
                    .and_then(|v| v.as_u64())
                    .map(|p| p as u32),
                source: s(f.source),
                content_type: s(f.content_type),
            };
            let snippet = match &snippets {
                Ok(g) => {
                    let mut snip = g.snippet(&chunk.text);
                    snip.set_snippet_prefix_postfix("<mark>", "</mark>");
                    snip.to_html()
                }
                Err(_) => String::new(),
            };
            out.push((chunk, snippet));
        }
        Ok(out)
    }
}

fn directory(dir: &Path) -> PortResult<Box<dyn tantivy::Directory>> {
    Ok(Box::new(
        tantivy::directory::MmapDirectory::open(dir).map_err(io_err)?,
    ))
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// A rebuild swaps `dir` for `dir.new` by way of `dir.old`; a crash between
/// the two renames leaves `dir` missing and `dir.old` whole: put it back (the
/// rebuild runs again). A half-written `dir.new` is thrown away.
fn recover_interrupted_rebuild(dir: &Path) -> PortResult<()> {
    let (new, old) = (sibling(dir, ".new"), sibling(dir, ".old"));
    if old.exists() {
        if dir.exists() {
            std::fs::remove_dir_all(&old).map_err(io_err)?;
        } else {
            std::fs::rename(&old, dir).map_err(io_err)?;
        }
    }
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(io_err)?;
    }
    Ok(())
}

/// Re-indexes every stored chunk of the index in `dir` under today's schema
/// and analyzers, into `dir.new`, then swaps it in.
fn rebuild(dir: &Path, tenant_of: &dyn Fn(&str) -> Option<String>) -> PortResult<()> {
    let old_index = Index::open(directory(dir)?).map_err(err)?;
    let old_schema = old_index.schema();
    let reader = old_index.reader().map_err(err)?;
    let searcher = reader.searcher();
    let new_dir = sibling(dir, ".new");
    std::fs::create_dir_all(&new_dir).map_err(io_err)?;
    let (schema, f) = schema();
    let index = Index::create(
        tantivy::directory::MmapDirectory::open(&new_dir).map_err(io_err)?,
        schema,
        tantivy::IndexSettings::default(),
    )
    .map_err(err)?;
    register(&index);
    let mut writer: IndexWriter = index.writer(50_000_000).map_err(err)?;
    let (mut kept, mut dropped) = (0usize, 0usize);
    for segment in searcher.segment_readers() {
        let store = segment.get_store_reader(64).map_err(io_err)?;
        for id in segment.doc_ids_alive() {
            let d: TantivyDocument = store.get(id).map_err(err)?;
            match Entry::read(&old_schema, &d, tenant_of) {
                Some(entry) => {
                    writer.add_document(entry.to_doc(&f)).map_err(err)?;
                    kept += 1;
                }
                None => dropped += 1,
            }
        }
    }
    writer.commit().map_err(err)?;
    writer.wait_merging_threads().map_err(err)?;
    std::fs::write(new_dir.join(VERSION_FILE), ANALYSIS_VERSION).map_err(io_err)?;
    drop((searcher, reader, old_index));
    let old = sibling(dir, ".old");
    std::fs::rename(dir, &old).map_err(io_err)?;
    std::fs::rename(&new_dir, dir).map_err(io_err)?;
    std::fs::remove_dir_all(&old).map_err(io_err)?;
    tracing::info!(
        kept,
        dropped,
        "keyword index rebuilt under analysis version {ANALYSIS_VERSION}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The schema of analysis version 1 (no stored tenant, no language fields,
    /// no stemming), as data folders of earlier releases hold it.
    fn write_version_1(dir: &Path, chunks: &[(&str, &str, &str, &str)]) {
        use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer};
        let mut b = Schema::builder();
        let text = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("jarvis_en")
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let chunk_id = b.add_text_field("chunk_id", STRING | STORED);
        let doc_key_f = b.add_text_field("doc_key", STRING);
        let tenant = b.add_text_field("tenant", STRING);
        let document_id = b.add_text_field("document_id", STRING | STORED);
        let title = b.add_text_field("title", text.clone());
        b.add_text_field("section", text.clone());
        let body = b.add_text_field("text", text);
        b.add_u64_field("page", STORED);
        let source = b.add_text_field("source", STRING | STORED);
        let content_type = b.add_text_field("content_type", STRING | STORED);
        b.add_text_field("content_family", STRING);
        let created_at = b.add_i64_field("created_at", INDEXED | FAST | STORED);
        std::fs::create_dir_all(dir).unwrap();
        let index = Index::create_in_dir(dir, b.build()).unwrap();
        index.tokenizers().register(
            "jarvis_en",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .build(),
        );
        let mut w: IndexWriter = index.writer(15_000_000).unwrap();
        for (t, doc, id, words) in chunks {
            w.add_document(doc!(
                chunk_id => *id, doc_key_f => doc_key(t, doc), tenant => *t,
                document_id => *doc, title => "Notes", body => *words,
                source => "inbox", content_type => "text/plain", created_at => 0i64,
            ))
            .unwrap();
        }
        w.commit().unwrap();
    }

    #[test]
    fn an_index_of_an_older_analysis_is_rebuilt_from_its_stored_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("index");
        let (alice, bob) = ("alice", "bob");
        let doc_a = DocumentId::for_object(&TenantId::parse(alice).unwrap(), "raw", "a");
        let doc_b = DocumentId::for_object(&TenantId::parse(bob).unwrap(), "raw", "b");
        write_version_1(
            &dir,
            &[
                (alice, doc_a.as_str(), "a#0", "the herons were nesting"),
                (bob, doc_b.as_str(), "b#0", "herons nest here too"),
                (bob, doc_b.as_str(), "orphan#0", "a chunk no tenant claims"),
            ],
        );
        let tenants: HashMap<&str, &str> = HashMap::from([("a#0", alice), ("b#0", bob)]);
        let tenant_of = |id: &str| tenants.get(id).map(|t| t.to_string());
        let index = TextIndex::open(&dir, &tenant_of).unwrap();
        let alice = TenantId::parse(alice).unwrap();
        // Stemmed now: "nest" finds "nesting", and only alice's chunk for alice.
        let hits = index
            .search(&alice, "nest", &SearchFilters::default(), 10)
            .unwrap();
        assert_eq!(
            hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["a#0"]
        );
        let fetched = index.fetch(&alice, &["a#0".to_owned()], "nest").unwrap();
        assert_eq!(fetched[0].0.text, "the herons were nesting");
        assert_eq!(fetched[0].0.document_id, doc_a.as_str());
        let searcher = index.reader.searcher();
        assert_eq!(
            searcher.num_docs(),
            2,
            "the chunk no tenant claims is left out"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(VERSION_FILE)).unwrap(),
            ANALYSIS_VERSION
        );
        drop(index);
        // Opening again does not rebuild (nothing asks for tenants).
        let index = TextIndex::open(&dir, &|_| panic!("no rebuild expected")).unwrap();
        assert_eq!(index.reader.searcher().num_docs(), 2);
    }

    #[test]
    fn the_local_analyzers_make_the_tokens_documented_for_opensearch() {
        // Hand-derived from the chain both sides declare (Snowball stemmers,
        // Lucene/Snowball stop lists, ASCII folding last).
        let de = LANGUAGES.iter().find(|l| l.code == "de").unwrap();
        let fr = LANGUAGES.iter().find(|l| l.code == "fr").unwrap();
        assert_eq!(
            analyze(&ENGLISH, "The Running dogs' houses were INDEXED, naïvely."),
            ["run", "dog", "hous", "were", "index", "naiv"]
        );
        assert_eq!(analyze(de, "Die Häuser der Städte"), ["haus", "stadt"]);
        assert_eq!(analyze(fr, "Les maisons anciennes"), ["maison", "ancien"]);
        let long = "x".repeat(MAX_TOKEN_BYTES);
        assert_eq!(analyze(&ENGLISH, &format!("{long} ok")), ["ok"]);
    }

    #[test]
    fn changes_made_at_once_are_each_committed_and_visible_when_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let index = std::sync::Arc::new(TextIndex::open(dir.path(), &|_| None).unwrap());
        let tenant = TenantId::parse("alice").unwrap();
        let words: [&'static str; 8] = [
            "apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel",
        ];
        let threads: Vec<_> = words
            .into_iter()
            .enumerate()
            .map(|(t, word)| {
                let (index, tenant) = (index.clone(), tenant.clone());
                std::thread::spawn(move || {
                    for round in 0..5 {
                        let doc =
                            DocumentId::for_object(&tenant, "raw", &format!("{word}-{round}"));
                        let chunk = Chunk {
                            id: Chunk::id_for(&doc, 0),
                            tenant_id: tenant.clone(),
                            document_id: doc.clone(),
                            ordinal: 0,
                            title: format!("Note {t}"),
                            text: format!("a note about the {word} tree, round {round}"),
                            section: None,
                            page: None,
                            token_count: 8,
                            pii: Vec::new(),
                            source: "inbox".into(),
                            content_type: "text/plain".into(),
                            created_at: chrono::Utc::now(),
                        };
                        index.replace_document(&tenant, &doc, &[&chunk]).unwrap();
                        // Read your writes: committed and visible once it returns.
                        let hits = index
                            .search(&tenant, word, &SearchFilters::default(), 10)
                            .unwrap();
                        assert_eq!(hits.len(), round + 1, "{word} after round {round}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let c = index.commits();
        assert_eq!(c.made, 40);
        assert_eq!(c.committed, 40);
        assert_eq!(index.reader.searcher().num_docs(), 40);
    }

    fn note(tenant: &TenantId, name: &str) -> (DocumentId, Chunk) {
        let doc = DocumentId::for_object(tenant, "raw", name);
        let chunk = Chunk {
            id: Chunk::id_for(&doc, 0),
            tenant_id: tenant.clone(),
            document_id: doc.clone(),
            ordinal: 0,
            title: name.to_owned(),
            text: format!("a note called {name}"),
            section: None,
            page: None,
            token_count: 4,
            pii: Vec::new(),
            source: "inbox".into(),
            content_type: "text/plain".into(),
            created_at: chrono::Utc::now(),
        };
        (doc, chunk)
    }

    #[test]
    fn a_commit_waits_for_the_writers_that_can_join_it_and_no_longer() {
        let dir = tempfile::tempdir().unwrap();
        // A window no test would wait out: only the batch can start the commit.
        let index = std::sync::Arc::new(
            TextIndex::open(dir.path(), &|_| None)
                .unwrap()
                .with_commits(Duration::from_secs(3600), 4),
        );
        let tenant = TenantId::parse("alice").unwrap();
        let (done, returned) = std::sync::mpsc::channel();
        for name in ["one", "two", "three", "four"] {
            let (index, tenant, done) = (index.clone(), tenant.clone(), done.clone());
            std::thread::spawn(move || {
                let (doc, chunk) = note(&tenant, name);
                index.replace_document(&tenant, &doc, &[&chunk]).unwrap();
                done.send(name).unwrap();
            });
        }
        for _ in 0..4 {
            returned
                .recv_timeout(Duration::from_secs(120))
                .expect("the fourth writer starts the commit; no one waits out the window");
        }
        assert_eq!(
            index.index.searchable_segment_ids().unwrap().len(),
            1,
            "the four changes share one commit, one segment"
        );
        assert_eq!(index.reader.searcher().num_docs(), 4);
    }

    /// The exhaustive ranking the pruned search must equal: every chunk of
    /// the scope that matches a word, scored, best first.
    fn exhaustive(
        index: &TextIndex,
        tenant: &TenantId,
        text: &str,
        filters: &SearchFilters,
        k: usize,
    ) -> Vec<Ranked> {
        // The scope as a filter that adds nothing to the score.
        let scope = BooleanQuery::new(index.scope(tenant, filters));
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BoostQuery::new(Box::new(scope), 0.0)))];
        clauses.push((
            Occur::Must,
            Box::new(index.text_query(text).unwrap()) as Box<dyn Query>,
        ));
        let searcher = index.reader.searcher();
        let mut all = searcher
            .search(&BooleanQuery::new(clauses), &TopDocs::with_limit(100_000))
            .unwrap();
        // Best first, then by address (ties have no order of their own).
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter()
            .take(k)
            .map(|(score, addr)| {
                let d: TantivyDocument = searcher.doc(addr).unwrap();
                let id = d.get_first(index.f.chunk_id).unwrap().as_str().unwrap();
                Ranked {
                    id: id.to_owned(),
                    score,
                }
            })
            .collect()
    }

    #[test]
    fn pruned_search_ranks_exactly_the_scope_a_small_tenant_beside_a_large_one_included() {
        let dir = tempfile::tempdir().unwrap();
        // One writer: each document's change commits at once.
        let index = TextIndex::open(dir.path(), &|_| None)
            .unwrap()
            .with_commits(COMMIT_WINDOW, 1);
        let (big, small) = (
            TenantId::parse("big").unwrap(),
            TenantId::parse("small").unwrap(),
        );
        let words = [
            "invoice",
            "lease",
            "boiler",
            "dentist",
            "passport",
            "garden",
            "tax",
            "school",
            "flight",
            "insurance",
            "roof",
            "bank",
        ];
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Several commits, so several segments; the small tenant's chunks are
        // spread among the big one's, and some documents are deleted again.
        for d in 0..60 {
            let tenant = if d % 12 == 5 { &small } else { &big };
            let doc = DocumentId::for_object(tenant, "raw", &format!("doc-{d}"));
            let chunks: Vec<Chunk> = (0..25)
                .map(|c| {
                    let n = 5 + next() % 30;
                    let text: Vec<&str> = (0..n)
                        .map(|_| words[(next() % words.len() as u64) as usize])
                        .collect();
                    Chunk {
                        id: Chunk::id_for(&doc, c),
                        tenant_id: tenant.clone(),
                        document_id: doc.clone(),
                        ordinal: c,
                        title: format!("{} notes", words[d % words.len()]),
                        text: text.join(" "),
                        section: None,
                        page: None,
                        token_count: n as u32,
                        pii: Vec::new(),
                        source: if c % 2 == 0 { "inbox" } else { "mail" }.into(),
                        content_type: "text/plain".into(),
                        created_at: chrono::Utc::now(),
                    }
                })
                .collect();
            let refs: Vec<&Chunk> = chunks.iter().collect();
            index.replace_document(tenant, &doc, &refs).unwrap();
            if d % 9 == 4 {
                index.delete_document(tenant, &doc).unwrap();
            }
        }
        let mail_only = SearchFilters {
            source: Some("mail".into()),
            ..SearchFilters::default()
        };
        let queries = [
            "tax",
            "lease boiler",
            "garden garden roof",
            "flight insurance bank school",
        ];
        let mut checked = 0;
        for tenant in [&big, &small] {
            for filters in [&SearchFilters::default(), &mail_only] {
                for q in queries {
                    for k in [1, 10, 40] {
                        let got = index.search(tenant, q, filters, k).unwrap();
                        let want = exhaustive(&index, tenant, q, filters, k);
                        assert_eq!(got.len(), want.len(), "{tenant} {q:?} k={k}");
                        for (g, w) in got.iter().zip(&want) {
                            assert_eq!(g.id, w.id, "{tenant} {q:?} k={k}");
                            assert!((g.score - w.score).abs() < 1e-4, "{g:?} {w:?}");
                        }
                        checked += got.len();
                    }
                }
            }
        }
        assert!(
            checked > 500,
            "the queries matched too little to test anything"
        );
        // The small tenant gets k results of its own although the big
        // tenant's chunks outscore them.
        // Words that analyse to nothing (punctuation, stop words, query
        // syntax) find nothing, without an error.
        for nothing in ["", "!!! ???", "the of and", "\"", "title:"] {
            assert!(index
                .search(&big, nothing, &SearchFilters::default(), 10)
                .unwrap()
                .is_empty());
        }
        let small_hits = index
            .search(&small, "tax", &SearchFilters::default(), 10)
            .unwrap();
        assert_eq!(small_hits.len(), 10);
        let ids: Vec<String> = small_hits.into_iter().map(|r| r.id).collect();
        assert_eq!(index.fetch(&small, &ids, "tax").unwrap().len(), 10);
        assert!(index.fetch(&big, &ids, "tax").unwrap().is_empty());
    }
}
