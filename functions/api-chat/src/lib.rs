//! `api-chat`: `POST /chat {message, conversation_id?, turn_id?}` →
//! `{conversation_id, answer, citations[], actions[], pending?}`; and the
//! user's structured answer to the pending action, `POST /chat
//! {conversation_id, confirm: {token}}` or `{…, decline: {token}}` (the
//! consent rule: `jarvis_core::consent`).
//!
//! The agent loop is `jarvis_core::agent`: retrieval (hybrid search over the
//! caller's documents and memories) for grounding, the chat model with the
//! tools, bounded steps and tokens, citations of real chunks, the conversation
//! stored per tenant. [`turn`] is also what the streaming routes call, with an
//! event callback.

use jarvis_core::agent::{Agent, AgentError, ChatInput, ChatOutput, Event, Limits, Retriever};
use jarvis_core::clock::Clock;
use jarvis_core::fusion::FusionConfig;
use jarvis_core::ports::{ChatModel, Embedder, PortResult, RecordStore, SearchIndex};
use jarvis_core::search::{SearchFilters, SearchHit, SearchMode, SearchQuery};
use jarvis_core::tools::ToolRunner;
use jarvis_core::when::Zone;
use jarvis_core::{ApiError, TenantId};
use jarvis_lambda::http::{self, Request, Response};
use jarvis_lambda::routes::Op;
use std::sync::Arc;

pub mod stream;

/// Largest request body.
pub const MAX_BODY_BYTES: u64 = 32 * 1024;

pub struct Deps {
    pub model: Arc<dyn ChatModel>,
    pub tools: Arc<dyn ToolRunner>,
    pub records: Arc<dyn RecordStore>,
    pub index: Arc<dyn SearchIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub fusion: FusionConfig,
    pub clock: Arc<dyn Clock>,
    pub zone: Zone,
    pub limits: Limits,
}

fn limits(config: &jarvis_core::config::Config) -> Limits {
    Limits {
        max_steps: config.chat.max_steps,
        max_tokens: config.chat.max_tokens,
        turn_tokens: config.chat.turn_tokens,
        ..Limits::default()
    }
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        Ok(Deps {
            model: stack.chat_model(),
            tools: stack.tools()?,
            records: stack.records(Rows::ReadWrite)?,
            index: stack.index()?,
            embedder: stack.query_embedder(),
            fusion: stack.config.fusion,
            clock: Arc::new(jarvis_core::clock::SystemClock),
            zone: stack.zone(),
            limits: limits(&stack.config),
        })
    }

    /// The embedded adapters; the model and the tool runner are the runtime's choice.
    #[cfg(feature = "local")]
    pub fn local(
        stack: &jarvis_local::stack::LocalStack,
        model: Arc<dyn ChatModel>,
        tools: Arc<dyn ToolRunner>,
    ) -> Self {
        Deps {
            model,
            tools,
            records: stack.records.clone(),
            index: stack.index.clone(),
            embedder: stack.query_embedder.clone(),
            fusion: stack.config.fusion,
            clock: stack.clock.clone(),
            zone: stack.zone(),
            limits: limits(&stack.config),
        }
    }
}

/// Hybrid search over the caller's chunks (documents and memories).
struct Search<'a>(&'a Deps);

#[async_trait::async_trait]
impl Retriever for Search<'_> {
    async fn retrieve(
        &self,
        tenant: &TenantId,
        query: &str,
        limit: usize,
    ) -> PortResult<Vec<SearchHit>> {
        let vector = self.0.embedder.embed(&[query.to_owned()]).await?.pop();
        self.0
            .index
            .search(&SearchQuery {
                tenant_id: tenant.clone(),
                text: query.to_owned(),
                vector,
                filters: SearchFilters::default(),
                limit,
                mode: SearchMode::Hybrid,
                fusion: self.0.fusion,
            })
            .await
    }
}

fn api_error(e: AgentError) -> ApiError {
    match e {
        AgentError::UnknownConversation(id) => ApiError::NotFound(format!("no conversation {id}")),
        AgentError::Invalid(m) => ApiError::BadRequest(m),
        AgentError::Busy(m) | AgentError::Stale(m) => ApiError::Conflict(m),
        e @ AgentError::Erasing => ApiError::Conflict(e.to_string()),
        e @ (AgentError::StepLimit(_) | AgentError::TokenLimit(_)) => {
            ApiError::Unprocessable(e.to_string())
        }
        AgentError::Port(p) => ApiError::from(p),
    }
}

/// One chat turn for `tenant`; `on_event` hears deltas and tool events.
pub async fn turn(
    deps: &Deps,
    tenant: &TenantId,
    input: &ChatInput,
    on_event: &(dyn Fn(Event) + Send + Sync),
) -> Result<ChatOutput, ApiError> {
    let retriever = Search(deps);
    let zone = jarvis_core::records::zone_of(deps.records.as_ref(), tenant, deps.zone)
        .await
        .map_err(ApiError::from)?;
    let agent = Agent {
        model: deps.model.as_ref(),
        tools: deps.tools.as_ref(),
        retriever: &retriever,
        records: deps.records.as_ref(),
        clock: deps.clock.as_ref(),
        zone,
        limits: deps.limits,
    };
    agent.turn(tenant, input, on_event).await.map_err(api_error)
}

/// `POST /chat`.
pub async fn handle(deps: &Deps, req: Request) -> Response {
    let result = async {
        let tenant = http::tenant(&req)?;
        let route = http::route(&req)?;
        if route.op != Op::Chat {
            return Err(http::not_here("api-chat", route));
        }
        let input: ChatInput = http::json_body(&req, MAX_BODY_BYTES)?;
        turn(deps, &tenant, &input, &|_| {}).await
    }
    .await;
    match result {
        Ok(out) => http::json(200, &out),
        Err(e) => http::error(&e),
    }
}
