//! Bedrock Runtime: `Embedder` on Titan text embeddings v2 (`InvokeModel`), and
//! `ChatModel` on `Converse` / `ConverseStream` with tool use.
//!
//! Messages cross the port in the Converse JSON shape (`{"text": …}`,
//! `{"toolUse": {"toolUseId", "name", "input"}}`, `{"toolResult": {"toolUseId",
//! "content": [{"text"}|{"json"}], "status"}}`; tools as `{"toolSpec": {"name",
//! "description", "inputSchema": {"json": …}}}`), and are converted to the SDK's
//! types here, so the agent loop never depends on the SDK.
//!
//! Every call's token counts and latency are written as EMF metrics
//! ([`crate::metrics`]).

use crate::error::sdk_error;
use crate::metrics::{Emf, ModelUsage};
use async_trait::async_trait;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ContentBlockStart, ConversationRole, ConverseOutput,
    ConverseStreamOutput, InferenceConfiguration, Message, SystemContentBlock, Tool,
    ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock, ToolResultStatus,
    ToolSpecification, ToolUseBlock,
};
use aws_sdk_bedrockruntime::Client;
use aws_smithy_types::{Document, Number};
use jarvis_core::ports::{
    ChatDelta, ChatMessage, ChatModel, ChatRequest, ChatResponse, Embedder, PortResult,
};
use jarvis_core::PortError;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const SERVICE: &str = "bedrock";
/// Titan v2 reads at most 50,000 characters per text.
pub const TITAN_MAX_CHARS: usize = 50_000;
/// Embedding calls in flight at once.
const EMBED_CONCURRENCY: usize = 8;

// ---------- embeddings ----------

#[derive(Clone)]
pub struct TitanEmbedder {
    client: Client,
    model_id: String,
    dimensions: usize,
    emf: Emf,
}

/// One text's embedding, and what it cost.
struct Embedded {
    vector: Vec<f32>,
    tokens: u64,
    latency_ms: u64,
}

impl TitanEmbedder {
    pub fn new(client: Client, model_id: &str, dimensions: usize, emf: Emf) -> Self {
        Self {
            client,
            model_id: model_id.to_owned(),
            dimensions,
            emf,
        }
    }

    /// The InvokeModel body for one text.
    pub fn request_body(&self, text: &str) -> Value {
        let clipped: String = text.chars().take(TITAN_MAX_CHARS).collect();
        json!({"inputText": clipped, "dimensions": self.dimensions, "normalize": true})
    }

    async fn embed_one(&self, text: &str) -> PortResult<Embedded> {
        let body = serde_json::to_vec(&self.request_body(text))
            .map_err(|e| PortError::backend(SERVICE, e))?;
        let started = std::time::Instant::now();
        let out = self
            .client
            .invoke_model()
            .model_id(&self.model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "InvokeModel", e))?;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (vector, tokens) = parse_embedding(out.body().as_ref(), self.dimensions)?;
        Ok(Embedded {
            vector,
            tokens,
            latency_ms,
        })
    }
}

/// Reads `{"embedding": [...], "inputTextTokenCount": n}`, checking the
/// dimension; the vector and the token count.
pub fn parse_embedding(body: &[u8], dimensions: usize) -> PortResult<(Vec<f32>, u64)> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Out {
        embedding: Vec<f32>,
        #[serde(default)]
        input_text_token_count: u64,
    }
    let out: Out = serde_json::from_slice(body).map_err(|e| PortError::Backend {
        backend: SERVICE,
        message: format!("the embedding response is not Titan's shape: {e}"),
        source: None,
    })?;
    if out.embedding.len() != dimensions {
        return Err(PortError::Backend {
            backend: SERVICE,
            message: format!(
                "the model answered {} dimensions, the index expects {dimensions}",
                out.embedding.len()
            ),
            source: None,
        });
    }
    Ok((out.embedding, out.input_text_token_count))
}

#[async_trait]
impl Embedder for TitanEmbedder {
    async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        let this = Arc::new(self.clone());
        let gate = Arc::new(tokio::sync::Semaphore::new(EMBED_CONCURRENCY));
        let mut set = tokio::task::JoinSet::new();
        for (i, text) in texts.iter().enumerate() {
            let (this, gate, text) = (this.clone(), gate.clone(), text.clone());
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                (i, this.embed_one(&text).await)
            });
        }
        let mut out = vec![Vec::new(); texts.len()];
        let mut usage = ModelUsage {
            operation: "InvokeModel",
            model: self.model_id.clone(),
            input_tokens: 0,
            output_tokens: 0,
            latencies_ms: Vec::with_capacity(texts.len()),
        };
        let mut failed = None;
        while let Some(joined) = set.join_next().await {
            let (i, v) = joined.map_err(|e| PortError::backend(SERVICE, e))?;
            match v {
                Ok(e) => {
                    usage.input_tokens += e.tokens;
                    usage.latencies_ms.push(e.latency_ms);
                    out[i] = e.vector;
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        // What was used is recorded even when a call failed: it was paid for.
        if !usage.latencies_ms.is_empty() {
            self.emf.record(&usage, chrono::Utc::now());
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

// ---------- JSON <-> smithy documents ----------

pub fn to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(to_document).collect()),
        Value::Object(o) => {
            Document::Object(o.iter().map(|(k, v)| (k.clone(), to_document(v))).collect())
        }
    }
}

pub fn from_document(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => json!(u),
        Document::Number(Number::NegInt(i)) => json!(i),
        Document::Number(Number::Float(f)) => json!(f),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(from_document).collect()),
        Document::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), from_document(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

// ---------- Converse shapes ----------

fn invalid(msg: impl Into<String>) -> PortError {
    PortError::Invalid(msg.into())
}

fn block_from_json(v: &Value) -> PortResult<ContentBlock> {
    if let Some(text) = v.get("text").and_then(Value::as_str) {
        return Ok(ContentBlock::Text(text.to_owned()));
    }
    if let Some(u) = v.get("toolUse") {
        let block = ToolUseBlock::builder()
            .tool_use_id(
                u.get("toolUseId")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .name(u.get("name").and_then(Value::as_str).unwrap_or_default())
            .input(to_document(u.get("input").unwrap_or(&Value::Null)))
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        return Ok(ContentBlock::ToolUse(block));
    }
    if let Some(r) = v.get("toolResult") {
        let mut content = Vec::new();
        for c in r
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(t) = c.get("text").and_then(Value::as_str) {
                content.push(ToolResultContentBlock::Text(t.to_owned()));
            } else if let Some(j) = c.get("json") {
                content.push(ToolResultContentBlock::Json(to_document(j)));
            }
        }
        let status = match r.get("status").and_then(Value::as_str) {
            Some("error") => ToolResultStatus::Error,
            _ => ToolResultStatus::Success,
        };
        let block = ToolResultBlock::builder()
            .tool_use_id(
                r.get("toolUseId")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .set_content(Some(content))
            .status(status)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        return Ok(ContentBlock::ToolResult(block));
    }
    Err(invalid(format!("unsupported content block {v}")))
}

fn block_to_json(b: &ContentBlock) -> Option<Value> {
    Some(match b {
        ContentBlock::Text(t) => json!({"text": t}),
        ContentBlock::ToolUse(u) => json!({"toolUse": {
            "toolUseId": u.tool_use_id(), "name": u.name(), "input": from_document(u.input())}}),
        ContentBlock::ToolResult(r) => json!({"toolResult": {
            "toolUseId": r.tool_use_id(),
            "content": r.content().iter().filter_map(|c| match c {
                ToolResultContentBlock::Text(t) => Some(json!({"text": t})),
                ToolResultContentBlock::Json(d) => Some(json!({"json": from_document(d)})),
                _ => None,
            }).collect::<Vec<_>>(),
            "status": r.status().map(|s| s.as_str()).unwrap_or("success")}}),
        _ => return None,
    })
}

fn message_from_json(m: &ChatMessage) -> PortResult<Message> {
    let role = match m.role.as_str() {
        "user" => ConversationRole::User,
        "assistant" => ConversationRole::Assistant,
        other => return Err(invalid(format!("unknown role {other:?}"))),
    };
    let content = m
        .content
        .iter()
        .map(block_from_json)
        .collect::<PortResult<Vec<_>>>()?;
    Message::builder()
        .role(role)
        .set_content(Some(content))
        .build()
        .map_err(|e| invalid(e.to_string()))
}

fn message_to_json(m: &Message) -> ChatMessage {
    ChatMessage {
        role: m.role().as_str().to_owned(),
        content: m.content().iter().filter_map(block_to_json).collect(),
    }
}

fn tool_from_json(t: &Value) -> PortResult<Tool> {
    let spec = t
        .get("toolSpec")
        .ok_or_else(|| invalid("a tool needs a toolSpec"))?;
    let schema = spec
        .get("inputSchema")
        .and_then(|s| s.get("json"))
        .ok_or_else(|| invalid("a toolSpec needs inputSchema.json"))?;
    Ok(Tool::ToolSpec(
        ToolSpecification::builder()
            .name(spec.get("name").and_then(Value::as_str).unwrap_or_default())
            .set_description(
                spec.get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
            .input_schema(ToolInputSchema::Json(to_document(schema)))
            .build()
            .map_err(|e| invalid(e.to_string()))?,
    ))
}

/// The parts of a Converse request, built once for both calls.
struct Parts {
    messages: Vec<Message>,
    system: Vec<SystemContentBlock>,
    tools: Option<ToolConfiguration>,
    inference: InferenceConfiguration,
}

fn parts(request: &ChatRequest) -> PortResult<Parts> {
    let tools = if request.tools.is_empty() {
        None
    } else {
        Some(
            ToolConfiguration::builder()
                .set_tools(Some(
                    request
                        .tools
                        .iter()
                        .map(tool_from_json)
                        .collect::<PortResult<_>>()?,
                ))
                .build()
                .map_err(|e| invalid(e.to_string()))?,
        )
    };
    Ok(Parts {
        messages: request
            .messages
            .iter()
            .map(message_from_json)
            .collect::<PortResult<_>>()?,
        system: if request.system.is_empty() {
            Vec::new()
        } else {
            vec![SystemContentBlock::Text(request.system.clone())]
        },
        tools,
        inference: InferenceConfiguration::builder()
            .max_tokens(request.max_tokens.min(i32::MAX as u32) as i32)
            .build(),
    })
}

#[derive(Clone)]
pub struct BedrockChat {
    client: Client,
    model_id: String,
    emf: Emf,
}

impl BedrockChat {
    pub fn new(client: Client, model_id: &str, emf: Emf) -> Self {
        Self {
            client,
            model_id: model_id.to_owned(),
            emf,
        }
    }

    fn record(
        &self,
        operation: &'static str,
        usage: Option<&aws_sdk_bedrockruntime::types::TokenUsage>,
        latency_ms: Option<i64>,
    ) {
        self.emf.record(
            &ModelUsage {
                operation,
                model: self.model_id.clone(),
                input_tokens: usage.map_or(0, |u| u.input_tokens().max(0) as u64),
                output_tokens: usage.map_or(0, |u| u.output_tokens().max(0) as u64),
                latencies_ms: latency_ms.map(|l| l.max(0) as u64).into_iter().collect(),
            },
            chrono::Utc::now(),
        );
    }
}

/// Assembles a streamed turn from its events.
#[derive(Default)]
struct Assembly {
    blocks: Vec<Value>,
    /// Partial tool-use input JSON per block index.
    tool_inputs: std::collections::HashMap<i32, String>,
    stop_reason: String,
}

impl Assembly {
    fn slot(&mut self, index: i32) -> &mut Value {
        let i = index.max(0) as usize;
        while self.blocks.len() <= i {
            self.blocks.push(Value::Null);
        }
        &mut self.blocks[i]
    }

    fn finish(mut self) -> ChatResponse {
        for (i, raw) in std::mem::take(&mut self.tool_inputs) {
            let input = serde_json::from_str(&raw).unwrap_or(json!({}));
            if let Some(u) = self.slot(i).get_mut("toolUse") {
                u["input"] = input;
            }
        }
        ChatResponse {
            message: ChatMessage {
                role: "assistant".into(),
                content: self.blocks.into_iter().filter(|b| !b.is_null()).collect(),
            },
            stop_reason: self.stop_reason,
        }
    }
}

#[async_trait]
impl ChatModel for BedrockChat {
    async fn converse(&self, request: &ChatRequest) -> PortResult<ChatResponse> {
        let p = parts(request)?;
        let out = self
            .client
            .converse()
            .model_id(&self.model_id)
            .set_messages(Some(p.messages))
            .set_system(Some(p.system))
            .set_tool_config(p.tools)
            .inference_config(p.inference)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "Converse", e))?;
        self.record(
            "Converse",
            out.usage(),
            out.metrics().map(|m| m.latency_ms()),
        );
        let message = match out.output() {
            Some(ConverseOutput::Message(m)) => message_to_json(m),
            _ => {
                return Err(PortError::Backend {
                    backend: SERVICE,
                    message: "Converse answered without a message".into(),
                    source: None,
                })
            }
        };
        Ok(ChatResponse {
            message,
            stop_reason: out.stop_reason().as_str().to_owned(),
        })
    }

    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_delta: &(dyn Fn(ChatDelta) + Send + Sync),
    ) -> PortResult<ChatResponse> {
        let p = parts(request)?;
        let mut out = self
            .client
            .converse_stream()
            .model_id(&self.model_id)
            .set_messages(Some(p.messages))
            .set_system(Some(p.system))
            .set_tool_config(p.tools)
            .inference_config(p.inference)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "ConverseStream", e))?;
        let mut turn = Assembly::default();
        loop {
            let event = out.stream.recv().await.map_err(|e| PortError::Transient {
                backend: SERVICE,
                message: format!(
                    "ConverseStream broke off: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
                source: None,
            })?;
            let Some(event) = event else { break };
            match event {
                ConverseStreamOutput::ContentBlockStart(e) => {
                    if let Some(ContentBlockStart::ToolUse(u)) = e.start() {
                        on_delta(ChatDelta::ToolUse {
                            tool_use_id: u.tool_use_id().to_owned(),
                            name: u.name().to_owned(),
                        });
                        *turn.slot(e.content_block_index()) = json!({"toolUse": {
                            "toolUseId": u.tool_use_id(), "name": u.name(), "input": {}}});
                    }
                }
                ConverseStreamOutput::ContentBlockDelta(e) => match e.delta() {
                    Some(ContentBlockDelta::Text(t)) => {
                        on_delta(ChatDelta::Text { text: t.clone() });
                        let slot = turn.slot(e.content_block_index());
                        match slot.get_mut("text") {
                            Some(Value::String(s)) => s.push_str(t),
                            _ => *slot = json!({"text": t}),
                        }
                    }
                    Some(ContentBlockDelta::ToolUse(u)) => {
                        turn.tool_inputs
                            .entry(e.content_block_index())
                            .or_default()
                            .push_str(u.input());
                    }
                    _ => {}
                },
                ConverseStreamOutput::MessageStop(e) => {
                    turn.stop_reason = e.stop_reason().as_str().to_owned();
                }
                ConverseStreamOutput::Metadata(e) => {
                    self.record(
                        "ConverseStream",
                        e.usage(),
                        e.metrics().map(|m| m.latency_ms()),
                    );
                }
                _ => {}
            }
        }
        Ok(turn.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_documents_round_trip() {
        let m = ChatMessage {
            role: "assistant".into(),
            content: vec![
                json!({"text": "Setting it."}),
                json!({"toolUse": {"toolUseId": "t1", "name": "create_reminder",
                    "input": {"text": "call Ana", "at": "2026-11-24T09:00:00Z", "n": -3, "f": 1.5, "ok": true}}}),
            ],
        };
        assert_eq!(message_to_json(&message_from_json(&m).unwrap()), m);
        let r = ChatMessage {
            role: "user".into(),
            content: vec![json!({"toolResult": {"toolUseId": "t1",
                "content": [{"json": {"id": "r1"}}], "status": "success"}})],
        };
        assert_eq!(message_to_json(&message_from_json(&r).unwrap()), r);
        assert!(message_from_json(&ChatMessage {
            role: "system".into(),
            content: vec![]
        })
        .is_err());
    }

    #[test]
    fn embeddings_are_checked() {
        assert_eq!(
            parse_embedding(br#"{"embedding":[0.5,0.5],"inputTextTokenCount":3}"#, 2).unwrap(),
            (vec![0.5, 0.5], 3)
        );
        assert!(parse_embedding(br#"{"embedding":[0.5]}"#, 2).is_err());
        assert!(parse_embedding(b"", 2).is_err());
    }
}
