//! Memories: what is worth keeping from conversations, for chat to retrieve
//! alongside documents. [`distill`] is the offline way — the user's own
//! statements about themselves and the topics they asked about; with a real
//! model, memory-reflector asks it instead. [`as_chunk`] indexes a memory like a
//! document chunk (source `memory`), so hybrid search finds it.

use crate::domain::{Chunk, Conversation, DocumentId, Memory, Role};
use chrono::{DateTime, Utc};
use regex::Regex;
use std::sync::LazyLock;

static FIRST_PERSON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(i am|i'm|i live|i work|i like|i love|i prefer|i hate|i have|i've got|i usually|my|we are|we're|our)\b")
        .expect("first person pattern")
});
static SENTENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^.!?\n]+[.!?]?").expect("sentence pattern"));

/// The parts of `conv` said after `since`, distilled: statements the user made
/// about themselves, and what they asked about. Empty when there is nothing.
pub fn distill(conv: &Conversation, since: Option<DateTime<Utc>>) -> Vec<String> {
    let mut facts = Vec::new();
    let mut asked = Vec::new();
    for turn in conv
        .turns
        .iter()
        .filter(|t| t.role == Role::User && since.is_none_or(|s| t.at > s))
    {
        for m in SENTENCE.find_iter(&turn.text) {
            let s = m.as_str().trim();
            if s.split_whitespace().count() < 3 {
                continue;
            }
            if s.ends_with('?') {
                asked.push(s.trim_end_matches('?').to_owned());
            } else if FIRST_PERSON.is_match(s) && !s.to_lowercase().starts_with("remind") {
                facts.push(format!("The user said: {}", s.trim_end_matches('.')));
            }
        }
    }
    if !asked.is_empty() {
        facts.push(format!("The user asked about: {}", asked.join("; ")));
    }
    facts
}

/// A memory as an indexable chunk (its own pseudo-document, source `memory`).
pub fn as_chunk(memory: &Memory) -> Chunk {
    let document_id = DocumentId::for_object(&memory.tenant_id, "memory", &memory.id);
    Chunk {
        id: Chunk::id_for(&document_id, 0),
        tenant_id: memory.tenant_id.clone(),
        document_id,
        ordinal: 0,
        title: format!(
            "Memory from {}",
            memory.created_at.format("%e %b %Y").to_string().trim()
        ),
        text: memory.text.clone(),
        section: None,
        page: None,
        token_count: (memory.text.len() / 4) as u32 + 1,
        pii: Vec::new(),
        source: "memory".into(),
        content_type: "text/x-jarvis-memory".into(),
        created_at: memory.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TenantId, Turn};

    fn turn(role: Role, text: &str, at: &str) -> Turn {
        Turn {
            role,
            text: text.into(),
            at: at.parse().unwrap(),
            citations: Vec::new(),
            turn_id: None,
            actions: Vec::new(),
            shown: None,
        }
    }

    #[test]
    fn statements_about_the_user_and_questions_are_kept_since_the_last_reflection() {
        let conv = Conversation {
            id: "conv_1".into(),
            tenant_id: TenantId::parse("alice").unwrap(),
            turns: vec![
                turn(
                    Role::User,
                    "My sister Ana lives in Porto.",
                    "2026-11-20T10:00:00Z",
                ),
                turn(
                    Role::User,
                    "I prefer trains to planes. Where do we stay in Lisbon?",
                    "2026-11-23T10:00:00Z",
                ),
                turn(
                    Role::Assistant,
                    "At the Alfama guesthouse [1].",
                    "2026-11-23T10:00:01Z",
                ),
                turn(Role::User, "remind me at 9 to pack", "2026-11-23T10:01:00Z"),
            ],
            updated_at: "2026-11-23T10:01:00Z".parse().unwrap(),
            pending: None,
            reflected_at: None,
        };
        let all = distill(&conv, None);
        assert_eq!(all[0], "The user said: My sister Ana lives in Porto");
        assert_eq!(all[1], "The user said: I prefer trains to planes");
        assert_eq!(all[2], "The user asked about: Where do we stay in Lisbon");
        let since = distill(&conv, Some("2026-11-21T00:00:00Z".parse().unwrap()));
        assert_eq!(since.len(), 2, "{since:?}");
    }
}
