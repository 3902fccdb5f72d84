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
use jarvis_core::domain::Conversation;
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
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

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
        e @ (AgentError::StepLimit(_) | AgentError::TokenLimit(_) | AgentError::KeyReused(_)) => {
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

/// `POST /chat`, and the conversations: `GET /conversations`, `GET` and
/// `DELETE /conversations/{id}`.
pub async fn handle(deps: &Deps, req: Request) -> Response {
    let result = async {
        let tenant = http::tenant(&req)?;
        let route = http::route(&req)?;
        let id = || conversation_id(http::path_param(&req, "id").unwrap_or_default());
        Ok::<_, ApiError>(match route.op {
            Op::Chat => {
                let input: ChatInput = http::json_body(&req, MAX_BODY_BYTES)?;
                http::json(200, &turn(deps, &tenant, &input, &|_| {}).await?)
            }
            Op::ListConversations => http::json(200, &list(deps, &tenant).await?),
            Op::GetConversation => http::json(200, &one(deps, &tenant, &id()?).await?),
            Op::DeleteConversation => {
                let id = id()?;
                if !jarvis_core::records::delete::<Conversation>(
                    deps.records.as_ref(),
                    &tenant,
                    &id,
                )
                .await?
                {
                    return Err(ApiError::NotFound(format!("no conversation {id}")));
                }
                http::json(200, &serde_json::json!({ "deleted": id }))
            }
            _ => return Err(http::not_here("api-chat", route)),
        })
    }
    .await;
    result.unwrap_or_else(|e| http::error(&e))
}

fn conversation_id(raw: &str) -> Result<String, ApiError> {
    if jarvis_core::agent::is_conversation_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::BadRequest(format!(
            "{raw:?} is not a conversation id (conv_…)"
        )))
    }
}

/// Characters of a conversation's first message used as its title.
const TITLE_CHARS: usize = 80;

/// The caller's conversations, newest first, each titled by its first message.
async fn list(deps: &Deps, tenant: &TenantId) -> Result<rest::ConversationList, ApiError> {
    let mut all: Vec<Conversation> =
        jarvis_core::records::list(deps.records.as_ref(), tenant).await?;
    all.sort_by_key(|c| std::cmp::Reverse(c.updated_at));
    Ok(rest::ConversationList {
        conversations: all
            .into_iter()
            .map(|c| rest::ConversationSummary {
                title: c
                    .turns
                    .iter()
                    .find(|t| t.role == jarvis_core::domain::Role::User)
                    .map(|t| t.text.chars().take(TITLE_CHARS).collect())
                    .unwrap_or_else(|| "New conversation".into()),
                turns: c.turns.len(),
                updated_at: c.updated_at,
                waiting: c.pending.is_some(),
                id: c.id,
            })
            .collect(),
    })
}

async fn one(deps: &Deps, tenant: &TenantId, id: &str) -> Result<rest::ConversationView, ApiError> {
    let c: Conversation = jarvis_core::records::get(deps.records.as_ref(), tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no conversation {id}")))?;
    let shown = c.turns.last().and_then(|t| t.shown.clone());
    Ok(rest::ConversationView {
        id: c.id,
        updated_at: c.updated_at,
        turns: c
            .turns
            .into_iter()
            .map(|t| rest::TurnView {
                role: match t.role {
                    jarvis_core::domain::Role::User => "user".into(),
                    jarvis_core::domain::Role::Assistant => "assistant".into(),
                },
                text: t.text,
                at: t.at,
                citations: t.citations,
                actions: t.actions,
            })
            .collect(),
        shows_pending: c
            .pending
            .as_ref()
            .is_some_and(|p| Some(&p.token) == shown.as_ref()),
        pending: c.pending,
    })
}

/// The REST answers about conversations (the OpenAPI document's schemas).
pub mod rest {
    use chrono::{DateTime, Utc};
    use jarvis_core::domain::{Citation, PendingAction};
    use jarvis_core::tools::Action;
    use serde::Serialize;

    /// `GET /conversations`.
    #[derive(Debug, Serialize, utoipa::ToSchema)]
    pub struct ConversationList {
        pub conversations: Vec<ConversationSummary>,
    }

    #[derive(Debug, Serialize, utoipa::ToSchema)]
    pub struct ConversationSummary {
        pub id: String,
        /// The start of its first message.
        pub title: String,
        pub turns: usize,
        pub updated_at: DateTime<Utc>,
        /// An action in it waits for the user's confirmation.
        pub waiting: bool,
    }

    /// `GET /conversations/{id}`.
    #[derive(Debug, Serialize, utoipa::ToSchema)]
    pub struct ConversationView {
        pub id: String,
        pub updated_at: DateTime<Utc>,
        pub turns: Vec<TurnView>,
        /// The action waiting for the user's confirmation (`confirm: {token}`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub pending: Option<PendingAction>,
        /// Whether the last answer showed `pending` (a bare "yes" may confirm it).
        pub shows_pending: bool,
    }

    #[derive(Debug, Serialize, utoipa::ToSchema)]
    pub struct TurnView {
        /// `user` or `assistant`.
        pub role: String,
        pub text: String,
        pub at: DateTime<Utc>,
        pub citations: Vec<Citation>,
        pub actions: Vec<Action>,
    }
}
