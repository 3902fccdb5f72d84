//! The search API's request (validated here, once, for every adapter) and its hits.

use crate::domain::{DocumentId, TenantId};
use crate::fusion::FusionConfig;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest query accepted, in characters (as JSON Schema counts `maxLength`).
pub const MAX_QUERY_CHARS: usize = 2048;
/// Most hits one request may ask for.
pub const MAX_LIMIT: usize = 50;
/// Hits returned when the request does not say.
pub const DEFAULT_LIMIT: usize = 10;

/// `POST /search` body as clients send it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// What to look for (1 to 2,048 characters, not only spaces).
    #[schema(min_length = 1, max_length = 2048, pattern = "\\S")]
    pub query: String,
    /// Hits to answer, 1 to 50 (default 10).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub filters: SearchFilters,
    /// "hybrid" (default), "keyword" or "semantic".
    #[serde(default)]
    #[schema(value_type = Option<SearchModeName>)]
    pub mode: Option<String>,
}

/// How `POST /search` ranks.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchModeName {
    /// Words and meaning, fused (the default).
    Hybrid,
    /// Words only (BM25).
    Keyword,
    /// Meaning only (the embedding).
    Semantic,
}

impl crate::contract::Contract for SearchRequest {}

/// Optional narrowing of a search; the tenant filter is always applied on top.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFilters {
    /// Origin: "inbox", "upload", "attachment", "email".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Content type, exact ("application/pdf") or a family ("image/").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<DocumentId>,
    /// Documents ingested at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Documents ingested before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

/// Which rankings to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    Hybrid,
    Keyword,
    Semantic,
}

/// A validated query, scoped to one tenant.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub tenant_id: TenantId,
    pub text: String,
    /// The query's embedding, for the vector side (absent in keyword mode).
    pub vector: Option<Vec<f32>>,
    pub filters: SearchFilters,
    pub limit: usize,
    pub mode: SearchMode,
    pub fusion: FusionConfig,
}

impl SearchRequest {
    /// Checks the request; the error is a message for a 400 response.
    pub fn validate(&self) -> Result<(String, usize, SearchMode), String> {
        let text = self.query.trim();
        if text.is_empty() {
            return Err("query must not be empty".into());
        }
        let chars = self.query.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(format!(
                "query is {chars} characters; the limit is {MAX_QUERY_CHARS}"
            ));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(format!("limit must be between 1 and {MAX_LIMIT}"));
        }
        let mode = match self.mode.as_deref().unwrap_or("hybrid") {
            "hybrid" => SearchMode::Hybrid,
            "keyword" => SearchMode::Keyword,
            "semantic" => SearchMode::Semantic,
            other => {
                return Err(format!(
                    "mode {other:?} is not one of hybrid, keyword, semantic"
                ))
            }
        };
        Ok((text.to_owned(), limit, mode))
    }
}

/// One search result, with what a citation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub document_id: DocumentId,
    pub chunk_id: String,
    pub title: String,
    pub text: String,
    /// The best-matching passage with matched terms wrapped in `<mark>…</mark>`.
    pub snippet: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    pub source: String,
    pub content_type: String,
    /// Relevance, higher is better. Under the default fusion (`weighted`) it
    /// lies in 0..1: the weighted standard scores of both sides, squashed;
    /// under `rrf`, the sum of weight / (k + rank). Compare hits of one answer.
    pub score: f32,
    /// 1-based place in the keyword (BM25) list, when the chunk is in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bm25_rank: Option<usize>,
    /// 1-based place in the vector (k-NN) list, when the chunk is in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_rank: Option<usize>,
}

/// Candidates each ranking contributes to fusion per requested hit.
pub const CANDIDATES_PER_HIT: usize = 4;
/// Fewest candidates each ranking contributes.
pub const MIN_CANDIDATES: usize = 20;
/// Bytes of text in a snippet.
pub const SNIPPET_CHARS: usize = 240;

/// How many candidates each ranking fetches for `limit` fused hits (every index does the same).
pub fn candidates(limit: usize) -> usize {
    (limit * CANDIDATES_PER_HIT).max(MIN_CANDIDATES)
}

/// The start of `text`, cut at a word boundary, HTML-escaped like snippets are.
pub fn leading_text(text: &str, max: usize) -> String {
    let mut end = text.floor_char_boundary(max);
    if end < text.len() {
        if let Some(space) = text[..end].rfind(' ') {
            end = space;
        }
    }
    let cut = &text[..end];
    let escaped = cut
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    if end < text.len() {
        format!("{escaped}…")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> Result<SearchRequest, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn requests_are_validated() {
        assert!(req(r#"{"query":"  "}"#).unwrap().validate().is_err());
        assert!(req(r#"{"query":"x","limit":0}"#)
            .unwrap()
            .validate()
            .is_err());
        assert!(req(r#"{"query":"x","limit":51}"#)
            .unwrap()
            .validate()
            .is_err());
        assert!(req(r#"{"query":"x","mode":"psychic"}"#)
            .unwrap()
            .validate()
            .is_err());
        // An empty range is a search that finds nothing, not a bad request.
        assert!(req(
            r#"{"query":"x","filters":{"from":"2026-02-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}}"#
        )
        .unwrap()
        .validate()
        .is_ok());
        assert!(
            req(r#"{"query":"x","tenant":"someone-else"}"#).is_err(),
            "unknown fields are refused"
        );
        let (text, limit, mode) = req(r#"{"query":" tax "}"#).unwrap().validate().unwrap();
        assert_eq!(
            (text.as_str(), limit, mode),
            ("tax", DEFAULT_LIMIT, SearchMode::Hybrid)
        );
    }

    proptest::proptest! {
        // Thousands of generated inputs per run, not proptest's default 256.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Arbitrary bodies, JSON-shaped or not: a request or a reason, never a panic.
        #[test]
        fn search_bodies_never_panic(
            query in "\\PC{0,3000}",
            limit in proptest::prelude::any::<i64>(),
            mode in "\\PC{0,10}",
            junk in "\\PC{0,200}",
        ) {
            let body = serde_json::json!({"query": query, "limit": limit, "mode": mode}).to_string();
            if let Ok(r) = req(&body) {
                let _ = r.validate();
            }
            let _ = req(&junk);
        }
    }
}
