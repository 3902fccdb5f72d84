//! The offline chat model: no network, no weights. It speaks the same Converse
//! messages and tool-use blocks as Bedrock, so the agent loop is the same.
//!
//! What it does:
//! - reads the tool requests people type and asks for the tool: "remind me
//!   tomorrow at 9am to …", "remind me every weekday at 8 to …", "add a task to …
//!   (by friday)", "what are my tasks", "mark the … task done", "what are my
//!   reminders", "cancel the reminder about …", "draft an email to a@b.c about …",
//!   "send it", "show my drafts" — several in one message, joined by "and";
//! - answers questions and "summarize …" extractively: the sentences of the
//!   retrieved sources that share the most words with the question, each with its
//!   `[n]` citation — never text that is not in the user's documents;
//! - after tools ran, reports what they did (their summaries) with the answer.
//!
//! What it cannot do: reason, paraphrase, translate, or understand requests
//! phrased far from the patterns above. For that, use an OpenAI-compatible
//! server (`JARVIS_CHAT_MODEL=openai`) or Bedrock on AWS.

use async_trait::async_trait;
use jarvis_core::agent::{parse_sources, Source};
use jarvis_core::ports::{
    ChatDelta, ChatMessage, ChatModel, ChatRequest, ChatResponse, PortResult,
};
use jarvis_core::tools;
use regex::Regex;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineModel {
    /// The pause between streamed words (none by default).
    pub pace: std::time::Duration,
}

/// Words that carry no meaning for matching.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "by",
    "can",
    "did",
    "do",
    "does",
    "for",
    "from",
    "give",
    "how",
    "i",
    "in",
    "is",
    "it",
    "me",
    "my",
    "of",
    "on",
    "or",
    "please",
    "say",
    "tell",
    "that",
    "the",
    "this",
    "to",
    "was",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "with",
    "you",
    "your",
    "summarize",
    "summarise",
    "summary",
    "document",
    "doc",
    "file",
    "notes",
    "note",
    "know",
    "there",
    "have",
    "has",
    "we",
    "our",
    "us",
];

/// Clause starts that begin a new request inside one message.
const STARTS: &[&str] = &[
    "remind",
    "add",
    "create",
    "put",
    "draft",
    "write",
    "compose",
    "email",
    "e-mail",
    "send",
    "list",
    "show",
    "what",
    "which",
    "cancel",
    "delete",
    "remove",
    "mark",
    "complete",
    "finish",
    "summarize",
    "summarise",
    "tell",
    "also",
    "please",
];

static SENTENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^.!?\n]+[.!?]?").expect("sentence pattern"));
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[^\s@<>,;]+@[^\s@<>,;]+\.[A-Za-z]{2,}").expect("address pattern")
});
static REMIND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:please\s+)?remind\s+(?:me|us)\s+(.+)$").expect("remind pattern")
});
static ADD_TASK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:please\s+)?(?:add|create|put|new)\s+(?:a\s+|an\s+)?(?:task|todo|to-do)(?:\s*:\s*|\s+to\s+|\s+)(.+)$|^(?:please\s+)?add\s+(.+?)\s+to\s+my\s+(?:tasks|task list|to-?do(?: list)?|list)$")
        .expect("task pattern")
});
static LIST_TASKS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:what|show|list|which)\b.*\b(open |done |completed |finished )?(?:tasks|to-?dos|to-?do list)\b|what do i (?:still )?have to do").expect("list tasks pattern")
});
static COMPLETE_TASK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:please\s+)?(?:mark\s+(.+?)\s+(?:as\s+)?(?:done|complete|completed|finished)|(?:complete|finish)\s+(.+)|i(?:'ve| have)?\s+(?:finished|done|completed)\s+(.+))$").expect("complete pattern")
});
static DELETE_TASK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:please\s+)?(?:delete|remove)\s+(?:the\s+)?(.+?)\s+task$|^(?:please\s+)?(?:delete|remove)\s+(?:the\s+)?task\s+(.+)$").expect("delete pattern")
});
static LIST_REMINDERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:what|show|list|which)\b.*\breminders?\b").expect("list reminders pattern")
});
static CANCEL_REMINDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:please\s+)?(?:cancel|delete|remove|stop)\s+(?:the\s+|my\s+)?reminder\s+(?:about|to|for|of)?\s*(.+)$").expect("cancel pattern")
});
static DRAFT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:please\s+)?(?:draft|write|compose|prepare)\s+(?:an?\s+)?(?:e-?mail|mail|message|note)\s+(?:to\s+)?(.+?)(?:\s+(?:about|regarding|re:?|on|saying)\s+(.+))?$").expect("draft pattern")
});
static SEND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:please\s+)?send\s+(?:it|that|the\s+(?:draft|e-?mail|mail|message))(?:\s+now)?$",
    )
    .expect("send pattern")
});
static LIST_DRAFTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:what|show|list|which)\b.*\bdrafts?\b").expect("list drafts pattern")
});
/// Where the time part of a reminder starts.
static TIME_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:at|on|in|tomorrow|tonight|today|yesterday|next|this|every|each|daily|by)\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\b\d{4}-\d{2}-\d{2}\b").expect("time start pattern")
});

/// Lower-case content words, lightly stemmed.
fn terms(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && !STOPWORDS.contains(w))
        .map(stem)
        .collect()
}

fn stem(w: &str) -> String {
    for suffix in ["ing", "ies", "es", "ed", "s"] {
        if w.len() > suffix.len() + 3 {
            if let Some(base) = w.strip_suffix(suffix) {
                return base.to_owned();
            }
        }
    }
    w.to_owned()
}

/// Splits a message into requests: "summarize X and remind me … to Y" → two.
fn clauses(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in text.split(['\n', ';']) {
        let mut current = String::new();
        let words: Vec<&str> = piece.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            let next = words.get(i + 1).map(|n| n.to_lowercase());
            let joins = w.eq_ignore_ascii_case("and")
                || w.eq_ignore_ascii_case("then")
                || w.ends_with(['.', ',', '?', '!']);
            let starts_new = next.as_deref().is_some_and(|n| {
                STARTS
                    .iter()
                    .any(|s| n.trim_matches(|c: char| !c.is_alphanumeric()) == *s)
            });
            if joins && starts_new && !current.is_empty() {
                if !w.eq_ignore_ascii_case("and") && !w.eq_ignore_ascii_case("then") {
                    current.push(' ');
                    current.push_str(w.trim_end_matches([',', '.']));
                }
                out.push(current.trim().to_owned());
                current = String::new();
            } else {
                current.push(' ');
                current.push_str(w);
            }
            i += 1;
        }
        if !current.trim().is_empty() {
            out.push(current.trim().to_owned());
        }
    }
    out.into_iter()
        .map(|c| {
            c.trim_start_matches(|ch: char| !ch.is_alphanumeric())
                .to_owned()
        })
        .map(|c| {
            let lower = c.to_lowercase();
            match lower
                .strip_prefix("also ")
                .or_else(|| lower.strip_prefix("please also "))
            {
                Some(_) => c.split_once(' ').map_or(c.as_str(), |x| x.1).to_owned(),
                None => c,
            }
        })
        .filter(|c| !c.is_empty())
        .collect()
}

/// "tomorrow at 9am to call Ana" / "to call Ana tomorrow at 9am" → (what, when).
fn split_reminder(rest: &str) -> Option<(String, String)> {
    let rest = rest.trim().trim_end_matches(['.', '!']);
    let lower = rest.to_ascii_lowercase();
    for lead in ["to ", "about ", "that ", "of "] {
        if let Some(after) = lower.strip_prefix(lead) {
            // The time is at the end: from the last time word on.
            let offset = rest.len() - after.len();
            let starts: Vec<usize> = TIME_START.find_iter(after).map(|m| m.start()).collect();
            for start in starts {
                let (what, when) = (&rest[offset..offset + start], &rest[offset + start..]);
                if !what.trim().is_empty() && parses_as_time(when) {
                    return Some((what.trim().to_owned(), when.trim().to_owned()));
                }
            }
            return None;
        }
    }
    // The time first: up to " to "/" about "/" that ".
    for sep in [" to ", " about ", " that "] {
        if let Some(i) = lower.find(sep) {
            let (when, what) = (&rest[..i], &rest[i + sep.len()..]);
            if parses_as_time(when) {
                return Some((what.trim().to_owned(), when.trim().to_owned()));
            }
        }
    }
    None
}

/// Whether the tools will be able to read `phrase` as a time (past or not).
fn parses_as_time(phrase: &str) -> bool {
    // Read at the real time: a past time is still a time (the tool refuses it with the reason).
    let p = phrase.trim();
    jarvis_core::when::recurring(p).is_some_and(|r| r.is_ok())
        || !matches!(jarvis_core::when::resolve(p, chrono::Utc::now(), jarvis_core::when::Zone::UTC),
            Err(e) if e.contains("could not read") || e.contains("no time"))
}

/// A tool request recognised in a clause.
fn tool_request(clause: &str) -> Option<(&'static str, Value)> {
    let c = clause.trim().trim_end_matches(['.', '!', '?']);
    if let Some(m) = REMIND.captures(c) {
        let (what, when) = split_reminder(&m[1])?;
        let recurring = jarvis_core::when::recurring(&when).is_some();
        let input = if recurring {
            json!({"text": what, "every": when})
        } else {
            json!({"text": what, "when": when})
        };
        return Some((tools::CREATE_REMINDER, input));
    }
    if let Some(m) = CANCEL_REMINDER.captures(c) {
        return Some((tools::CANCEL_REMINDER, json!({"query": m[1].trim()})));
    }
    if LIST_REMINDERS.is_match(c) {
        return Some((tools::LIST_REMINDERS, json!({})));
    }
    if let Some(m) = ADD_TASK.captures(c) {
        let title = m.get(1).or(m.get(2))?.as_str().trim();
        // A trailing "by friday" / "due next monday" is the due time.
        for sep in [" by ", " due ", " before "] {
            if let Some(i) = title.to_ascii_lowercase().rfind(sep) {
                let due = &title[i + sep.len()..];
                if parses_as_time(due) {
                    return Some((
                        tools::CREATE_TASK,
                        json!({"title": title[..i].trim(), "due": due}),
                    ));
                }
            }
        }
        return Some((tools::CREATE_TASK, json!({"title": title})));
    }
    if let Some(m) = DELETE_TASK.captures(c) {
        let q = m.get(1).or(m.get(2))?.as_str();
        return Some((tools::DELETE_TASK, json!({"query": q})));
    }
    if let Some(m) = COMPLETE_TASK.captures(c) {
        let q = m.get(1).or(m.get(2)).or(m.get(3))?.as_str();
        return Some((tools::COMPLETE_TASK, json!({"query": q})));
    }
    if LIST_TASKS.is_match(c) {
        let lower = c.to_lowercase();
        let status = if lower.contains("done")
            || lower.contains("completed")
            || lower.contains("finished")
        {
            "done"
        } else if lower.contains("all ") {
            "all"
        } else {
            "open"
        };
        return Some((tools::LIST_TASKS, json!({"status": status})));
    }
    if SEND.is_match(c) {
        return Some((tools::SEND_EMAIL, json!({})));
    }
    if LIST_DRAFTS.is_match(c) {
        return Some((tools::LIST_DRAFTS, json!({})));
    }
    if let Some(m) = DRAFT.captures(c) {
        let to: Vec<&str> = ADDRESS.find_iter(&m[1]).map(|a| a.as_str()).collect();
        let topic = m.get(2).map(|t| t.as_str().trim()).unwrap_or("").to_owned();
        return Some((
            tools::DRAFT_EMAIL,
            json!({"to": to, "topic": topic, "recipient_text": m[1].trim()}),
        ));
    }
    None
}

/// The sentences of the sources that best answer `question`, with their markers.
fn extract(question: &str, sources: &[Source], max: usize) -> Vec<(usize, String)> {
    let wanted: HashSet<String> = terms(question).into_iter().collect();
    let summarize = {
        let q = question.to_lowercase();
        q.contains("summar") || q.starts_with("what is in") || q.contains("overview")
    };
    let mut scored: Vec<(f32, usize, usize, String)> = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        let title_terms: HashSet<String> = terms(&s.title).into_iter().collect();
        let title_hit = wanted.iter().filter(|w| title_terms.contains(*w)).count() as f32;
        for (pos, m) in SENTENCE.find_iter(&s.text).enumerate() {
            let sentence = m.as_str().trim();
            if sentence.split_whitespace().count() < 3 {
                continue;
            }
            let words: HashSet<String> = terms(sentence).into_iter().collect();
            let overlap = wanted.iter().filter(|w| words.contains(*w)).count() as f32;
            // A summary takes the leading sentences of the best-matching source.
            let score = if summarize {
                (title_hit + overlap) * 0.5 + 3.0 / (1.0 + pos as f32) - si as f32
            } else {
                overlap + 0.25 * title_hit - 0.01 * si as f32
            };
            if summarize || overlap > 0.0 {
                scored.push((score, si, pos, sentence.to_owned()));
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut picked: Vec<(usize, usize, usize, String)> = scored
        .into_iter()
        .take(max)
        .map(|(_, si, pos, s)| (si, pos, sources[si].n, s))
        .collect();
    // In document order, so a summary reads in sequence.
    picked.sort_by_key(|(si, pos, _, _)| (*si, *pos));
    picked.into_iter().map(|(_, _, n, s)| (n, s)).collect()
}

fn answer_from(question: &str, sources: &[Source]) -> String {
    if sources.is_empty() {
        return "I could not find anything about that in your documents.".into();
    }
    let lower = question.to_lowercase();
    let max = if lower.contains("summar") { 4 } else { 2 };
    let picked = extract(question, sources, max);
    if picked.is_empty() {
        return "I could not find that in your documents.".into();
    }
    let body: Vec<String> = picked
        .iter()
        .map(|(n, s)| {
            let s = s.trim_end_matches(['.', '!', '?']);
            format!("{s} [{n}].")
        })
        .collect();
    if lower.contains("summar") {
        format!("Summary: {}", body.join(" "))
    } else {
        body.join(" ")
    }
}

fn text_of(message: &ChatMessage) -> Option<String> {
    let parts: Vec<&str> = message
        .content
        .iter()
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `text` with its first character upper-cased, whatever its script ("élan" → "Élan").
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A draft's body: the passages on its topic, plainly.
fn compose(topic: &str, sources: &[Source]) -> String {
    let picked = extract(topic, sources, 3);
    let mut body = String::from("Hello,\n\n");
    if picked.is_empty() {
        body.push_str(&format!("I am writing about {topic}.\n"));
    } else {
        for (_, s) in &picked {
            body.push_str(s.trim());
            body.push('\n');
        }
    }
    body.push_str("\nBest regards");
    body
}

impl OfflineModel {
    fn respond(&self, request: &ChatRequest) -> ChatResponse {
        let sources = parse_sources(&request.system);
        let last = request.messages.last();
        let after_tools =
            last.is_some_and(|m| m.content.iter().any(|c| c.get("toolResult").is_some()));
        // The user's words of this turn: the last user message with text.
        let question = request
            .messages
            .iter()
            .rev()
            .filter(|m| m.role == "user")
            .find_map(text_of)
            .unwrap_or_default();
        let clauses = clauses(&question);
        if !after_tools {
            let uses: Vec<Value> = clauses
                .iter()
                .filter_map(|c| tool_request(c))
                .enumerate()
                .map(|(i, (name, mut input))| {
                    if name == tools::DRAFT_EMAIL {
                        let topic = input["topic"].as_str().unwrap_or_default().to_owned();
                        let subject = if topic.is_empty() {
                            "Hello".to_owned()
                        } else {
                            capitalized(&topic)
                        };
                        input = json!({"to": input["to"], "subject": subject, "body": compose(&topic, &sources)});
                    }
                    json!({"toolUse": {"toolUseId": format!("tooluse_{}", i + 1), "name": name, "input": input}})
                })
                .collect();
            if !uses.is_empty() {
                return ChatResponse {
                    message: ChatMessage {
                        role: "assistant".into(),
                        content: uses,
                    },
                    stop_reason: "tool_use".into(),
                };
            }
        }
        // The answer: the questions answered from the sources, then what the tools did.
        let mut parts: Vec<String> = clauses
            .iter()
            .filter(|c| tool_request(c).is_none())
            .map(|c| answer_from(c, &sources))
            .collect();
        if after_tools {
            for m in request
                .messages
                .iter()
                .rev()
                .take_while(|m| m.role != "user" || text_of(m).is_none())
            {
                for c in m.content.iter().rev() {
                    let Some(r) = c.get("toolResult") else {
                        continue;
                    };
                    let content = &r["content"][0]["json"];
                    let line = match (
                        r["status"].as_str(),
                        content["summary"].as_str(),
                        content["error"].as_str(),
                    ) {
                        (Some("error"), _, Some(e)) => format!("I could not do that: {e}."),
                        (_, Some(s), _) => s.to_owned(),
                        _ => "Done.".to_owned(),
                    };
                    parts.push(line);
                }
            }
        }
        if parts.is_empty() {
            parts.push(answer_from(&question, &sources));
        }
        ChatResponse {
            message: ChatMessage {
                role: "assistant".into(),
                content: vec![json!({"text": parts.join("\n\n")})],
            },
            stop_reason: "end_turn".into(),
        }
    }
}

#[async_trait]
impl ChatModel for OfflineModel {
    async fn converse(&self, request: &ChatRequest) -> PortResult<ChatResponse> {
        Ok(self.respond(request))
    }

    /// The answer word by word, like a streaming model.
    async fn converse_stream(
        &self,
        request: &ChatRequest,
        on_delta: &(dyn Fn(ChatDelta) + Send + Sync),
    ) -> PortResult<ChatResponse> {
        let response = self.respond(request);
        for block in &response.message.content {
            if let Some(text) = block.get("text").and_then(Value::as_str) {
                for piece in text.split_inclusive(' ') {
                    if !self.pace.is_zero() {
                        tokio::time::sleep(self.pace).await;
                    }
                    on_delta(ChatDelta::Text {
                        text: piece.to_owned(),
                    });
                }
            } else if let Some(u) = block.get("toolUse") {
                on_delta(ChatDelta::ToolUse {
                    tool_use_id: u["toolUseId"].as_str().unwrap_or_default().to_owned(),
                    name: u["name"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(text: &str) -> Vec<(String, Value)> {
        clauses(text)
            .iter()
            .filter_map(|c| tool_request(c))
            .map(|(n, i)| (n.to_owned(), i))
            .collect()
    }

    #[test]
    fn reminders_in_both_orders_and_recurring() {
        assert_eq!(
            uses("Remind me tomorrow at 9am to call Ana"),
            [(
                "create_reminder".to_owned(),
                json!({"text": "call Ana", "when": "tomorrow at 9am"})
            )]
        );
        assert_eq!(
            uses("remind me to water the plants in 2 hours"),
            [(
                "create_reminder".to_owned(),
                json!({"text": "water the plants", "when": "in 2 hours"})
            )]
        );
        assert_eq!(
            uses("remind me every weekday at 8 to stretch"),
            [(
                "create_reminder".to_owned(),
                json!({"text": "stretch", "every": "every weekday at 8"})
            )]
        );
        assert_eq!(
            uses("Remind me next Monday to renew the passport")[0].1["when"],
            "next Monday"
        );
    }

    #[test]
    fn several_requests_in_one_message() {
        let u = uses("Summarize my trip notes and remind me at 9am to pack");
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].1, json!({"text": "pack", "when": "at 9am"}));
        assert_eq!(
            clauses("Summarize my trip notes and remind me at 9am to pack").len(),
            2
        );
    }

    #[test]
    fn a_question_then_a_request() {
        let c =
            clauses("Where do we stay in Lisbon? Also remind me in 10 minutes to book the train");
        assert_eq!(
            c,
            [
                "Where do we stay in Lisbon?",
                "remind me in 10 minutes to book the train"
            ]
        );
    }

    #[test]
    fn tasks_drafts_and_lists() {
        assert_eq!(
            uses("add a task to call the plumber by friday")[0].1,
            json!({"title": "call the plumber", "due": "friday"})
        );
        assert_eq!(
            uses("add buy milk to my tasks")[0].1,
            json!({"title": "buy milk"})
        );
        assert_eq!(uses("what are my tasks?")[0].0, "list_tasks");
        assert_eq!(uses("show my done tasks")[0].1, json!({"status": "done"}));
        assert_eq!(
            uses("mark the plumber task as done")[0],
            (
                "complete_task".to_owned(),
                json!({"query": "the plumber task"})
            )
        );
        assert_eq!(uses("what reminders do I have")[0].0, "list_reminders");
        assert_eq!(
            uses("cancel the reminder about the dentist")[0].1,
            json!({"query": "the dentist"})
        );
        let d = uses("draft an email to bob@example.com about the trip");
        assert_eq!(d[0].0, "draft_email");
        assert_eq!(d[0].1["to"], json!(["bob@example.com"]));
        assert_eq!(uses("send it")[0].0, "send_email");
        assert!(uses("What does the lease say about pets?").is_empty());
    }

    fn ask(message: &str, after_tools: bool) -> ChatResponse {
        let mut messages = vec![ChatMessage {
            role: "user".into(),
            content: vec![json!({"text": message})],
        }];
        if after_tools {
            messages.push(ChatMessage {
                role: "user".into(),
                content: vec![
                    json!({"toolResult": {"toolUseId": "t1", "status": "success",
                    "content": [{"json": {"summary": message}}]}}),
                ],
            });
        }
        OfflineModel::default().respond(&ChatRequest {
            system: format!(
                "{}\n[1] notes — é\n{message}\n{}",
                jarvis_core::agent::SOURCES_BEGIN,
                jarvis_core::agent::SOURCES_END
            ),
            messages,
            tools: tools::specs(),
            max_tokens: 256,
        })
    }

    #[test]
    fn a_topic_that_starts_with_a_non_ascii_letter_is_capitalized() {
        let r = ask("draft an email to a@b.com about élan", false);
        let input = &r.message.content[0]["toolUse"]["input"];
        assert_eq!(input["subject"], "Élan");
        assert_eq!(capitalized("ßig"), "SSig");
    }

    proptest::proptest! {
        // Thousands of generated inputs per run, not proptest's default 256.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Whatever the user types (any script, any punctuation, requests
        /// half-formed), the offline model answers without panicking.
        #[test]
        fn the_offline_model_never_panics_on_a_message(
            message in "\\PC{0,300}",
            lead in proptest::sample::select(vec!["", "draft an email to a@b.com about ", "remind me ", "add ", "cancel the reminder about ", "mark ", "what "]),
            after_tools in proptest::prelude::any::<bool>(),
        ) {
            let r = ask(&format!("{lead}{message}"), after_tools);
            proptest::prop_assert!(!r.message.content.is_empty());
        }
    }

    /// Characters whose lower case has another length in UTF-8 (the Kelvin
    /// and Ångström signs, dotted capital I, capital sharp s, Ohm…).
    const CASE_CHANGES_LENGTH: &str =
        "\u{212A}\u{212B}\u{0130}\u{1E9E}\u{2126}\u{023A}\u{2C6F}\u{0345}ΣßKk";

    #[test]
    fn requests_with_letters_whose_case_changes_length_are_read_not_panicked_on() {
        // Both panicked before: offsets from a lowercased copy sliced the original.
        let r = ask("remind me to \u{212A}m tomorrow at 9am", false);
        let input = &r.message.content[0]["toolUse"]["input"];
        assert_eq!(input["text"], "\u{212A}m");
        let r = ask("add a task to \u{212A}\u{212A} by friday", false);
        let input = &r.message.content[0]["toolUse"]["input"];
        assert_eq!(input["title"], "\u{212A}\u{212A}");
        assert_eq!(input["due"], "friday");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any mix of all of Unicode and of the characters whose case changes
        /// their length, inside the requests that slice text by time words.
        #[test]
        fn requests_over_all_of_unicode_never_panic(
            what in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(CASE_CHANGES_LENGTH.chars().collect::<Vec<_>>()),
                    proptest::char::any(),
                    proptest::sample::select(vec![' ', 'a', 'T', 'o']),
                ],
                0..24,
            ),
            lead in proptest::sample::select(vec!["remind me to ", "remind me ", "add a task to ", "add ", "remind me tomorrow at 9am to ", "mark ", "delete the task "]),
            tail in proptest::sample::select(vec!["", " tomorrow at 9am", " by friday", " due next monday", " every weekday at 8", " before 2026-12-01", " done"]),
        ) {
            let what: String = what.into_iter().collect();
            let r = ask(&format!("{lead}{what}{tail}"), false);
            proptest::prop_assert!(!r.message.content.is_empty());
        }
    }

    #[test]
    fn answers_come_only_from_sources_with_markers() {
        let sources = vec![
            Source {
                n: 1,
                title: "lease.pdf".into(),
                text: "Pets are allowed with a deposit of 300 euros. The rent is due on the first."
                    .into(),
            },
            Source {
                n: 2,
                title: "trip.md".into(),
                text: "We fly to Lisbon on Friday.".into(),
            },
        ];
        let a = answer_from("What does the lease say about pets?", &sources);
        assert_eq!(a, "Pets are allowed with a deposit of 300 euros [1].");
        let none = answer_from("Who won the football?", &sources);
        assert!(none.contains("could not find"), "{none}");
    }
}
