//! `api-search` (`POST /search`): hybrid retrieval for the caller's tenant.
//! The body is validated (`query` 1..=2048 bytes, `limit` 1..=50, `mode`,
//! `filters` for source, content type, document and date range; unknown fields
//! refused); the query is embedded unless the mode is `keyword`; BM25 and vector
//! rankings are fused; every hit carries what a citation needs.

use jarvis_core::fusion::FusionConfig;
use jarvis_core::ports::{Embedder, SearchIndex};
use jarvis_core::search::{SearchHit, SearchMode, SearchQuery, SearchRequest};
use jarvis_core::ApiError;
use jarvis_lambda::http::{self, Request, Response};
use jarvis_lambda::routes::Op;
#[cfg(feature = "local")]
use jarvis_local::stack::LocalStack;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

pub struct Deps {
    pub index: Arc<dyn SearchIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub fusion: FusionConfig,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        Ok(Deps {
            index: stack.index()?,
            embedder: stack.query_embedder(),
            fusion: stack.config.fusion,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            index: stack.index.clone(),
            embedder: stack.query_embedder.clone(),
            fusion: stack.config.fusion,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub query: String,
    pub mode: &'static str,
    pub hits: Vec<SearchHit>,
    pub took_ms: u64,
}

/// `POST /search` (and `GET /healthz`, which API Gateway also routes here).
pub async fn handle(deps: &Deps, req: Request) -> Response {
    match search(deps, &req).await {
        Ok(response) => http::json(200, &response),
        Err(e) => http::error(&e),
    }
}

#[tracing::instrument(skip_all, fields(tenant))]
async fn search(deps: &Deps, req: &Request) -> Result<SearchResponse, ApiError> {
    let started = Instant::now();
    let tenant = http::tenant(req)?;
    tracing::Span::current().record("tenant", tenant.as_str());
    let route = http::route(req)?;
    if route.op != Op::Search {
        return Err(http::not_here("api-search", route));
    }
    let request: SearchRequest = http::json_body(req, MAX_BODY_BYTES)?;
    let (text, limit, mode) = request.validate().map_err(ApiError::BadRequest)?;
    let vector = match mode {
        SearchMode::Keyword => None,
        SearchMode::Hybrid | SearchMode::Semantic => {
            let mut v = deps
                .embedder
                .embed(std::slice::from_ref(&text))
                .await
                .map_err(ApiError::Internal)?;
            v.pop()
        }
    };
    let query = SearchQuery {
        tenant_id: tenant,
        text: text.clone(),
        vector,
        filters: request.filters,
        limit,
        mode,
        fusion: deps.fusion,
    };
    let hits = deps.index.search(&query).await?;
    Ok(SearchResponse {
        query: text,
        mode: match mode {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Keyword => "keyword",
            SearchMode::Semantic => "semantic",
        },
        hits,
        took_ms: started.elapsed().as_millis() as u64,
    })
}
