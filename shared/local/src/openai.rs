//! A chat model on any OpenAI-compatible server — Ollama, llama.cpp's server,
//! vLLM, LM Studio — configured by URL and model (`JARVIS_CHAT_MODEL=openai`,
//! `JARVIS_OPENAI_URL=http://127.0.0.1:11434/v1`, `JARVIS_OPENAI_MODEL=llama3.1`,
//! optional `JARVIS_OPENAI_API_KEY`). The agent's Converse messages and tool
//! blocks are converted to `/chat/completions` messages and function tools, and
//! the answer back.

use async_trait::async_trait;
use jarvis_core::ports::{ChatMessage, ChatModel, ChatRequest, ChatResponse, PortResult};
use jarvis_core::PortError;
use serde_json::{json, Value};
use std::time::Duration;

const BACKEND: &str = "openai-compatible";

pub struct OpenAiChat {
    http: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<String>,
}

impl OpenAiChat {
    pub fn new(base_url: &str, model: &str, api_key: Option<String>) -> Result<Self, String> {
        let base = base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) || model.is_empty() {
            return Err("needs an http(s) base URL and a model name".into());
        }
        let url = if base.ends_with("/chat/completions") {
            base.to_owned()
        } else if base.ends_with("/v1") {
            format!("{base}/chat/completions")
        } else {
            format!("{base}/v1/chat/completions")
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            url,
            model: model.to_owned(),
            api_key,
        })
    }
}

/// The Converse request as a `/chat/completions` body.
pub fn to_openai(model: &str, request: &ChatRequest) -> Value {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    for m in &request.messages {
        let texts: Vec<&str> = m
            .content
            .iter()
            .filter_map(|c| c.get("text").and_then(Value::as_str))
            .collect();
        let calls: Vec<Value> = m
            .content
            .iter()
            .filter_map(|c| c.get("toolUse"))
            .map(|u| {
                json!({
                    "id": u["toolUseId"],
                    "type": "function",
                    "function": {"name": u["name"], "arguments": u["input"].to_string()},
                })
            })
            .collect();
        let results: Vec<Value> = m
            .content
            .iter()
            .filter_map(|c| c.get("toolResult"))
            .map(|r| {
                let content = r["content"]
                    .as_array()
                    .and_then(|c| c.first())
                    .and_then(|c| {
                        c.get("json")
                            .map(Value::to_string)
                            .or_else(|| c.get("text").and_then(Value::as_str).map(str::to_owned))
                    })
                    .unwrap_or_default();
                json!({"role": "tool", "tool_call_id": r["toolUseId"], "content": content})
            })
            .collect();
        if !results.is_empty() {
            messages.extend(results);
        } else if m.role == "assistant" {
            let mut msg = json!({"role": "assistant", "content": if texts.is_empty() { Value::Null } else { json!(texts.join("")) }});
            if !calls.is_empty() {
                msg["tool_calls"] = json!(calls);
            }
            messages.push(msg);
        } else {
            messages.push(json!({"role": m.role, "content": texts.join("")}));
        }
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .map(|t| {
            let s = &t["toolSpec"];
            json!({"type": "function", "function": {
                "name": s["name"], "description": s["description"], "parameters": s["inputSchema"]["json"],
            }})
        })
        .collect();
    let mut body = json!({"model": model, "messages": messages, "max_tokens": request.max_tokens});
    if !tools.is_empty() {
        body["tools"] = json!(tools);
    }
    body
}

/// A `/chat/completions` answer as a Converse turn.
pub fn from_openai(body: &Value) -> Result<ChatResponse, String> {
    let choice = body["choices"]
        .get(0)
        .ok_or_else(|| format!("no choices in the answer: {}", clip(&body.to_string())))?;
    let msg = &choice["message"];
    let mut content = Vec::new();
    if let Some(text) = msg["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"text": text}));
    }
    for call in msg["tool_calls"].as_array().into_iter().flatten() {
        let args = call["function"]["arguments"].as_str().unwrap_or("{}");
        let input: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
        content.push(json!({"toolUse": {
            "toolUseId": call["id"], "name": call["function"]["name"], "input": input,
        }}));
    }
    let has_calls = content.iter().any(|c| c.get("toolUse").is_some());
    let stop_reason = match choice["finish_reason"].as_str() {
        Some("length") => "max_tokens",
        _ if has_calls => "tool_use",
        _ => "end_turn",
    };
    Ok(ChatResponse {
        message: ChatMessage {
            role: "assistant".into(),
            content,
        },
        stop_reason: stop_reason.into(),
    })
}

fn clip(s: &str) -> &str {
    &s[..s.floor_char_boundary(300)]
}

#[async_trait]
impl ChatModel for OpenAiChat {
    async fn converse(&self, request: &ChatRequest) -> PortResult<ChatResponse> {
        let mut req = self
            .http
            .post(&self.url)
            .json(&to_openai(&self.model, request));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let response = req
            .send()
            .await
            .map_err(|e| PortError::transient(BACKEND, e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| PortError::transient(BACKEND, e))?;
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(PortError::Transient {
                backend: BACKEND,
                message: format!("{} answered {status}: {}", self.url, clip(&text)),
                source: None,
            });
        }
        if !status.is_success() {
            return Err(PortError::Backend {
                backend: BACKEND,
                message: format!("{} answered {status}: {}", self.url, clip(&text)),
                source: None,
            });
        }
        let body: Value =
            serde_json::from_str(&text).map_err(|e| PortError::backend(BACKEND, e))?;
        from_openai(&body).map_err(|message| PortError::Backend {
            backend: BACKEND,
            message,
            source: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converse_messages_and_tools_become_chat_completions() {
        let request = ChatRequest {
            system: "sys".into(),
            messages: vec![
                ChatMessage {
                    role: "user".into(),
                    content: vec![json!({"text": "remind me"})],
                },
                ChatMessage {
                    role: "assistant".into(),
                    content: vec![
                        json!({"toolUse": {"toolUseId": "t1", "name": "create_reminder", "input": {"text": "x"}}}),
                    ],
                },
                ChatMessage {
                    role: "user".into(),
                    content: vec![
                        json!({"toolResult": {"toolUseId": "t1", "content": [{"json": {"summary": "set"}}], "status": "success"}}),
                    ],
                },
            ],
            tools: jarvis_core::tools::specs(),
            max_tokens: 100,
        };
        let body = to_openai("llama", &request);
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "sys"})
        );
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"text\":\"x\"}"
        );
        assert_eq!(body["messages"][3]["role"], "tool");
        assert_eq!(body["messages"][3]["tool_call_id"], "t1");
        assert_eq!(body["tools"][1]["function"]["name"], "create_reminder");
    }

    #[test]
    fn answers_with_tool_calls_become_tool_use() {
        let r = from_openai(&json!({"choices": [{"finish_reason": "tool_calls", "message": {
            "content": null,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "list_tasks", "arguments": "{\"status\":\"open\"}"}}]
        }}]}))
        .unwrap();
        assert_eq!(r.stop_reason, "tool_use");
        assert_eq!(r.message.content[0]["toolUse"]["input"]["status"], "open");
        let r = from_openai(
            &json!({"choices": [{"finish_reason": "stop", "message": {"content": "Hi [1]."}}]}),
        )
        .unwrap();
        assert_eq!(r.stop_reason, "end_turn");
        assert!(from_openai(&json!({"error": "x"})).is_err());
    }
}
