//! Chat orchestration overhead per turn, model time excluded: a scripted model
//! that answers instantly stands in for the chat model, so what is timed is the
//! agent loop itself — query embedding and hybrid retrieval (real
//! all-MiniLM-L6-v2, a 200-passage index), prompt building, the tool call
//! through the tool function's handler, the conversation read and write. Plus
//! the time to the first streamed text delta with the offline model.

use crate::{percentile, Rng};
use async_trait::async_trait;
use jarvis_core::agent::{ChatInput, Event};
use jarvis_core::config::{vars, Config};
use jarvis_core::domain::{Chunk, DocumentId, TenantId};
use jarvis_core::ports::{
    ChatMessage, ChatModel, ChatRequest, ChatResponse, Embedder, IndexedChunk, PortResult,
    SearchIndex,
};
use jarvis_local::chat::OfflineModel;
use jarvis_local::stack::LocalStack;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Answers instantly: a tool call when the turn has none yet and the message
/// asks for a task, else a cited answer.
struct Scripted;

#[async_trait]
impl ChatModel for Scripted {
    async fn converse(&self, request: &ChatRequest) -> PortResult<ChatResponse> {
        let asked_tool = request.messages.iter().any(|m| {
            m.content.iter().any(|c| {
                c.get("text")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| t.starts_with("add a task"))
            })
        });
        let had_result = request
            .messages
            .last()
            .is_some_and(|m| m.content.iter().any(|c| c.get("toolResult").is_some()));
        let content = if asked_tool && !had_result {
            json!({"toolUse": {"toolUseId": "t1", "name": "create_task", "input": {"title": "benchmark task"}}})
        } else {
            json!({"text": "The answer is in your notes [1]."})
        };
        let stop = if content.get("toolUse").is_some() {
            "tool_use"
        } else {
            "end_turn"
        };
        Ok(ChatResponse {
            message: ChatMessage {
                role: "assistant".into(),
                content: vec![content],
            },
            stop_reason: stop.into(),
        })
    }
}

fn stats(label: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "  {label}: p50 {:.1} ms, p99 {:.1} ms ({} turns)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.len()
    );
}

pub async fn chat(
    model: Arc<dyn Embedder>,
    queries: Arc<dyn Embedder>,
    turns: usize,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().display().to_string();
    let config = Config::from_lookup(|k| (k == vars::DATA_DIR).then(|| data.clone()))?;
    let (stack, _runs) = LocalStack::open_with_embedders(&config, model.clone(), queries)?;
    let tenant = TenantId::parse("bench").map_err(anyhow::Error::msg)?;
    // 200 passages to retrieve from, embedded by the real model.
    let mut rng = Rng(11);
    let texts: Vec<String> = (0..200).map(|_| rng.sentence(20)).collect();
    let vectors = model.embed(&texts).await?;
    for (i, (text, vector)) in texts.into_iter().zip(vectors).enumerate() {
        let doc = DocumentId::for_object(&tenant, "bench", &format!("note-{i}"));
        let chunk = Chunk {
            id: Chunk::id_for(&doc, 0),
            tenant_id: tenant.clone(),
            document_id: doc.clone(),
            ordinal: 0,
            title: format!("Note {i}"),
            text,
            section: None,
            page: None,
            token_count: 30,
            pii: Vec::new(),
            source: "upload".into(),
            content_type: "text/markdown".into(),
            created_at: chrono::Utc::now(),
        };
        stack
            .index
            .replace_document(&tenant, &doc, vec![IndexedChunk { chunk, vector }])
            .await?;
    }
    let tools = Arc::new(jarvis::assistant::LocalTools::new(&stack));
    let scripted = api_chat::Deps::local(&stack, Arc::new(Scripted), tools.clone());
    println!("\n== chat orchestration per turn, model time excluded (scripted instant model; real query embedding, 200-passage index)");
    for (label, message) in [
        (
            "question, 1 model call",
            "what did the budget meeting say about the invoice",
        ),
        (
            "tool turn, 2 model calls + create_task",
            "add a task to check the budget",
        ),
    ] {
        let mut times = Vec::with_capacity(turns);
        for i in 0..turns + 5 {
            // A different text each turn: the query embedding cache would
            // otherwise answer every turn after the first.
            let input = ChatInput {
                message: format!("{message} (turn {i})"),
                conversation_id: None,
                turn_id: None,
                ..ChatInput::default()
            };
            let started = Instant::now();
            api_chat::turn(&scripted, &tenant, &input, &|_| {})
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if i >= 5 {
                times.push(started.elapsed());
            }
        }
        stats(label, times);
    }
    // The same question inside a growing conversation (history read, trimmed, written back).
    let mut conversation = None;
    let mut times = Vec::with_capacity(turns);
    for i in 0..turns {
        let input = ChatInput {
            // Texts of their own: the questions above are in the query
            // embedding cache, and a hit would hide the embedding's cost.
            message: format!(
                "what did the budget meeting say about the invoice (conversation turn {i})"
            ),
            conversation_id: conversation.clone(),
            turn_id: None,
            ..ChatInput::default()
        };
        let started = Instant::now();
        let out = api_chat::turn(&scripted, &tenant, &input, &|_| {})
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(started.elapsed());
        conversation = Some(out.conversation_id);
    }
    stats("question in one conversation, turns 1..N", times);

    let offline = api_chat::Deps::local(&stack, Arc::new(OfflineModel::default()), tools);
    let mut first = Vec::with_capacity(turns);
    for i in 0..turns {
        let seen: Arc<Mutex<Option<Duration>>> = Arc::default();
        let started = Instant::now();
        let sink = seen.clone();
        let on_event = move |e: Event| {
            if let Event::Delta { .. } = e {
                sink.lock().unwrap().get_or_insert(started.elapsed());
            }
        };
        let input = ChatInput {
            message: format!(
                "what did the budget meeting say about the invoice (streamed turn {i})"
            ),
            conversation_id: None,
            turn_id: None,
            ..ChatInput::default()
        };
        api_chat::turn(&offline, &tenant, &input, &on_event)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = *seen.lock().unwrap();
        if let Some(t) = t {
            first.push(t);
        }
    }
    println!("\n== time to the first streamed text delta (offline model, same index)");
    stats("first delta", first);
    Ok(())
}
