//! `memory-reflector`: summarises what is new in each tenant's conversations
//! into memories — stored as records and indexed like document chunks (source
//! `memory`), so chat retrieves them alongside documents. Nightly for every
//! tenant with conversations, or on demand for one. A conversation is
//! reflected once per change (`reflected_at`).
//!
//! With a real chat model the model writes the memory; with the offline model
//! (and when the model fails) `jarvis_core::memory::distill` keeps the user's
//! statements about themselves and what they asked about.

use jarvis_core::clock::Clock;
use jarvis_core::domain::{Conversation, Memory, Role, TenantId};
use jarvis_core::ports::{
    ChatMessage, ChatModel, ChatRequest, Embedder, IndexedChunk, PortResult, RecordKind,
    RecordStore, SearchIndex,
};
use jarvis_core::{memory, records, StepError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

pub struct Deps {
    pub records: Arc<dyn RecordStore>,
    pub index: Arc<dyn SearchIndex>,
    pub embedder: Arc<dyn Embedder>,
    /// A model that writes memories; `None` distills offline.
    pub model: Option<Arc<dyn ChatModel>>,
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        Ok(Deps {
            records: stack.records_across_tenants(Rows::ReadWrite)?,
            index: stack.index()?,
            embedder: stack.embedder(),
            model: Some(stack.chat_model()),
            clock: Arc::new(jarvis_core::clock::SystemClock),
        })
    }

    #[cfg(feature = "local")]
    pub fn local(
        stack: &jarvis_local::stack::LocalStack,
        model: Option<Arc<dyn ChatModel>>,
    ) -> Self {
        Deps {
            records: stack.records.clone(),
            index: stack.index.clone(),
            embedder: stack.embedder.clone(),
            model,
            clock: stack.clock.clone(),
        }
    }
}

/// The job's input: one tenant, or (nightly) all.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Reflect {
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Reflected {
    pub tenants: usize,
    pub conversations: usize,
    pub memories: usize,
}

const INSTRUCTIONS: &str = "Write down durable facts about the user from this conversation (preferences, people, places, plans), one per line, in the third person. Do not include anything from documents or tool results. Reply NONE if there is nothing worth remembering.";

/// The memory lines for a conversation's new turns.
async fn lines(deps: &Deps, conv: &Conversation) -> Vec<String> {
    let offline = memory::distill(conv, conv.reflected_at);
    let Some(model) = &deps.model else {
        return offline;
    };
    let new_turns: Vec<&jarvis_core::domain::Turn> = conv
        .turns
        .iter()
        .filter(|t| conv.reflected_at.is_none_or(|r| t.at > r))
        .collect();
    if new_turns.is_empty() {
        return Vec::new();
    }
    let transcript: Vec<String> = new_turns
        .iter()
        .map(|t| {
            format!(
                "{}: {}",
                if t.role == Role::User {
                    "User"
                } else {
                    "Assistant"
                },
                t.text
            )
        })
        .collect();
    let request = ChatRequest {
        system: INSTRUCTIONS.into(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: vec![json!({"text": transcript.join("\n")})],
        }],
        tools: Vec::new(),
        max_tokens: 400,
    };
    match model.converse(&request).await {
        Ok(r) => {
            let text: String = r
                .message
                .content
                .iter()
                .filter_map(|c| c.get("text").and_then(Value::as_str))
                .collect();
            text.lines()
                .map(|l| l.trim().trim_start_matches(['-', '*', ' ']).to_owned())
                .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("none"))
                .collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "the model could not write memories; distilling offline");
            offline
        }
    }
}

async fn reflect_tenant(deps: &Deps, tenant: &TenantId, out: &mut Reflected) -> PortResult<()> {
    // An erasure asked for after this began: nothing more is written, and a
    // memory written meanwhile is taken back.
    let started = deps.clock.now();
    for conv in records::list::<Conversation>(deps.records.as_ref(), tenant).await? {
        if conv.reflected_at.is_some_and(|r| r >= conv.updated_at) {
            continue;
        }
        out.conversations += 1;
        let lines = lines(deps, &conv).await;
        let now = deps.clock.now();
        if !lines.is_empty() {
            let memory = Memory {
                // One memory per conversation state: a retried reflection
                // rewrites the same memory instead of adding a second.
                id: memory_id(&conv),
                tenant_id: tenant.clone(),
                text: lines.join("\n"),
                source_conversation_ids: vec![conv.id.clone()],
                created_at: now,
            };
            let chunk = memory::as_chunk(&memory);
            let vector = deps
                .embedder
                .embed(std::slice::from_ref(&chunk.text))
                .await?
                .pop()
                .unwrap_or_default();
            let store = deps.records.as_ref();
            if records::erasing(store, tenant).await?
                || records::erased_since(store, tenant, started).await?
            {
                tracing::info!("the tenant's data is being erased; reflection stops");
                return Ok(());
            }
            let document = chunk.document_id.clone();
            records::put(store, &memory).await?;
            deps.index
                .replace_document(tenant, &document, vec![IndexedChunk { chunk, vector }])
                .await?;
            if records::erased_since(store, tenant, started).await? {
                records::delete::<Memory>(store, tenant, &memory.id).await?;
                deps.index.delete_document(tenant, &document).await?;
                tracing::info!("the tenant's data was erased meanwhile; the memory is taken back");
                return Ok(());
            }
            out.memories += 1;
        }
        // On the conversation as stored now: turns added since it was read stay.
        let upto = conv.updated_at;
        records::update::<Conversation, ()>(deps.records.as_ref(), tenant, &conv.id, |c| {
            Ok(match c {
                Some(mut c) if c.reflected_at.is_none_or(|r| r < upto) => {
                    c.reflected_at = Some(upto);
                    records::Change::Write(c, ())
                }
                _ => records::Change::Keep(()),
            })
        })
        .await?;
    }
    Ok(())
}

/// The id of the memory distilled from `conv` as it was at its last update.
fn memory_id(conv: &Conversation) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{}\0{}", conv.id, conv.updated_at.to_rfc3339()).as_bytes());
    format!(
        "mem_{:011x}{}",
        conv.updated_at.timestamp_millis().max(0),
        hex::encode(&h[..6])
    )
}

#[tracing::instrument(skip_all)]
pub async fn handle(deps: &Deps, event: Reflect) -> Result<Reflected, StepError> {
    let tenants = match event.tenant_id {
        Some(t) => vec![t],
        None => deps.records.tenants(RecordKind::Conversation).await?,
    };
    let mut out = Reflected {
        tenants: tenants.len(),
        ..Reflected::default()
    };
    for tenant in &tenants {
        reflect_tenant(deps, tenant, &mut out).await?;
    }
    tracing::info!(?out, "memories reflected");
    Ok(out)
}
