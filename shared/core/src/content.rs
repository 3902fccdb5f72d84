//! The structured form of an extracted document: an ordered list of blocks
//! (headings, paragraphs) with page numbers where the format has pages. Extractors
//! write it to the curated store; the PII step annotates it; the chunker reads it.

use crate::domain::PiiKind;
use serde::{Deserialize, Serialize};

/// What a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockKind {
    /// A heading; level 1 is the top.
    Heading { level: u8 },
    /// Running text: a paragraph, list item, table row or mail body part.
    Text,
}

/// One block of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    #[serde(flatten)]
    pub kind: BlockKind,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// PII kinds found in this block (set by the PII step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<PiiKind>,
}

impl Block {
    pub fn heading(level: u8, text: impl Into<String>) -> Self {
        Self {
            kind: BlockKind::Heading { level },
            text: text.into(),
            page: None,
            pii: Vec::new(),
        }
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: BlockKind::Text,
            text: text.into(),
            page: None,
            pii: Vec::new(),
        }
    }

    pub fn on_page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }
}

/// A document as extractors hand it on.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExtractedDocument {
    /// Best title found (document title, mail subject, first heading, file name).
    pub title: String,
    pub blocks: Vec<Block>,
    /// Extra facts worth keeping: mail headers, image labels, page count.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl ExtractedDocument {
    /// Whether any block holds non-whitespace text.
    pub fn has_text(&self) -> bool {
        self.blocks.iter().any(|b| !b.text.trim().is_empty())
    }

    /// Splits plain text into paragraph blocks at blank lines.
    pub fn paragraphs_of(text: &str, page: Option<u32>) -> Vec<Block> {
        let mut out = Vec::new();
        let mut current = String::new();
        let mut flush = |current: &mut String| {
            let t = current.trim();
            if !t.is_empty() {
                let mut b = Block::text(t);
                b.page = page;
                out.push(b);
            }
            current.clear();
        };
        for line in text.lines() {
            if line.trim().is_empty() {
                flush(&mut current);
            } else {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(line.trim());
            }
        }
        flush(&mut current);
        out
    }
}
