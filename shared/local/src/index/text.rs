//! The BM25 side: a tantivy index on disk. Each chunk is one tantivy document;
//! the tenant is an indexed term that every query must match.

use jarvis_core::domain::{Chunk, DocumentId, TenantId};
use jarvis_core::fusion::Ranked;
use jarvis_core::ports::PortResult;
use jarvis_core::search::SearchFilters;
use jarvis_core::PortError;
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

fn err(e: tantivy::TantivyError) -> PortError {
    PortError::backend("tantivy", e)
}

#[derive(Clone, Copy)]
struct Fields {
    chunk_id: Field,
    doc_key: Field,
    tenant: Field,
    document_id: Field,
    title: Field,
    section: Field,
    text: Field,
    page: Field,
    source: Field,
    content_type: Field,
    content_family: Field,
    created_at: Field,
}

/// The analyzer of the text fields: words, lower-cased, accents folded, English stop words dropped.
const ANALYZER: &str = "jarvis_en";

fn analyzer() -> tantivy::tokenizer::TextAnalyzer {
    use tantivy::tokenizer::{
        AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer,
        StopWordFilter, TextAnalyzer,
    };
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter);
    match StopWordFilter::new(Language::English) {
        Some(stop) => builder.filter(stop).build(),
        None => builder.build(),
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_options = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let f = Fields {
        chunk_id: b.add_text_field("chunk_id", STRING | STORED),
        doc_key: b.add_text_field("doc_key", STRING),
        tenant: b.add_text_field("tenant", STRING),
        document_id: b.add_text_field("document_id", STRING | STORED),
        title: b.add_text_field("title", text_options.clone()),
        section: b.add_text_field("section", text_options.clone()),
        text: b.add_text_field("text", text_options.clone()),
        page: b.add_u64_field("page", STORED),
        source: b.add_text_field("source", STRING | STORED),
        content_type: b.add_text_field("content_type", STRING | STORED),
        content_family: b.add_text_field("content_family", STRING),
        created_at: b.add_i64_field("created_at", INDEXED | FAST | STORED),
    };
    (b.build(), f)
}

fn doc_key(tenant: &TenantId, doc: &DocumentId) -> String {
    format!("{tenant}/{doc}")
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
    f: Fields,
}

impl TextIndex {
    pub fn open(dir: &Path) -> PortResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| PortError::backend("tantivy", e))?;
        let (schema, f) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| PortError::backend("tantivy", e))?;
        let index = Index::open_or_create(directory, schema).map_err(err)?;
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = index.writer(50_000_000).map_err(err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            f,
        })
    }

    fn commit(&self, writer: &mut IndexWriter) -> PortResult<()> {
        writer.commit().map_err(err)?;
        self.reader.reload().map_err(err)
    }

    /// Replaces one document's chunks and commits.
    pub fn replace_document(
        &self,
        tenant: &TenantId,
        doc: &DocumentId,
        chunks: &[&Chunk],
    ) -> PortResult<()> {
        let f = self.f;
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.delete_term(Term::from_field_text(f.doc_key, &doc_key(tenant, doc)));
        for c in chunks {
            let mut d = doc!(
                f.chunk_id => c.id.clone(),
                f.doc_key => doc_key(tenant, doc),
                f.tenant => tenant.as_str(),
                f.document_id => doc.as_str(),
                f.title => c.title.clone(),
                f.text => c.text.clone(),
                f.source => c.source.clone(),
                f.content_type => c.content_type.clone(),
                f.content_family => c.content_type.split('/').next().unwrap_or("").to_owned(),
                f.created_at => c.created_at.timestamp(),
            );
            if let Some(s) = &c.section {
                d.add_text(f.section, s);
            }
            if let Some(p) = c.page {
                d.add_u64(f.page, p as u64);
            }
            w.add_document(d).map_err(err)?;
        }
        self.commit(&mut w)
    }

    pub fn delete_document(&self, tenant: &TenantId, doc: &DocumentId) -> PortResult<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.delete_term(Term::from_field_text(self.f.doc_key, &doc_key(tenant, doc)));
        self.commit(&mut w)
    }

    pub fn delete_tenant(&self, tenant: &TenantId) -> PortResult<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.delete_term(Term::from_field_text(self.f.tenant, tenant.as_str()));
        self.commit(&mut w)
    }

    fn term(&self, field: Field, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        ))
    }

    /// The user's words as a query over title, section and text (lenient: syntax
    /// characters in the input never make it fail).
    fn text_query(&self, text: &str) -> Box<dyn Query> {
        let f = self.f;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.section, f.text]);
        parser.set_field_boost(f.title, 1.5);
        parser.set_field_boost(f.section, 1.2);
        let (q, _ignored) = parser.parse_query_lenient(text);
        q
    }

    /// Tenant and filter clauses every query carries.
    fn scope(&self, tenant: &TenantId, filters: &SearchFilters) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.f;
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
        let mut clauses = self.scope(tenant, filters);
        clauses.push((Occur::Must, self.text_query(text)));
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(k))
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

    /// Loads chunks by id (scoped to the tenant) and highlights `text`'s terms.
    pub fn fetch(
        &self,
        tenant: &TenantId,
        ids: &[String],
        text: &str,
    ) -> PortResult<Vec<(StoredChunk, String)>> {
        let f = self.f;
        let searcher = self.reader.searcher();
        let snippets =
            SnippetGenerator::create(&searcher, &*self.text_query(text), f.text).map(|mut g| {
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
