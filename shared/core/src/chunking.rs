//! Structure-following chunking: chunks never straddle a heading or a page
//! boundary, are bounded by an estimated token count, and consecutive chunks of
//! one section overlap so a passage cut in two is still found whole.

use crate::content::{Block, BlockKind};
use crate::domain::PiiKind;

/// Size bounds, in estimated tokens.
#[derive(Debug, Clone, Copy)]
pub struct ChunkingConfig {
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

/// A chunk before it gets its ids.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkDraft {
    pub text: String,
    /// Heading path, outermost first, joined with " > ".
    pub section: Option<String>,
    pub page: Option<u32>,
    pub token_count: usize,
    pub pii: Vec<PiiKind>,
}

/// Estimated model tokens in a word: word-piece vocabularies split long words,
/// so a word counts one token per five characters, at least one.
fn word_tokens(word: &str) -> usize {
    word.chars().count().div_ceil(5).max(1)
}

/// Estimated tokens in `text`.
pub fn estimate_tokens(text: &str) -> usize {
    text.split_whitespace().map(word_tokens).sum()
}

struct Builder<'a> {
    config: &'a ChunkingConfig,
    out: Vec<ChunkDraft>,
    words: Vec<&'a str>,
    tokens: usize,
    pii: Vec<PiiKind>,
    section: Option<String>,
    page: Option<u32>,
}

impl<'a> Builder<'a> {
    fn flush(&mut self, keep_overlap: bool) {
        if self.words.is_empty() {
            return;
        }
        let mut pii = std::mem::take(&mut self.pii);
        pii.sort();
        pii.dedup();
        self.out.push(ChunkDraft {
            text: self.words.join(" "),
            section: self.section.clone(),
            page: self.page,
            token_count: self.tokens,
            pii: pii.clone(),
        });
        if keep_overlap && self.config.overlap_tokens > 0 {
            let mut kept = 0;
            let mut start = self.words.len();
            while start > 0
                && kept + word_tokens(self.words[start - 1]) <= self.config.overlap_tokens
            {
                start -= 1;
                kept += word_tokens(self.words[start]);
            }
            self.words.drain(..start);
            self.tokens = kept;
            if !self.words.is_empty() {
                self.pii = pii;
            }
        } else {
            self.words.clear();
            self.tokens = 0;
        }
    }

    fn push_words(&mut self, text: &'a str, pii: &[PiiKind]) {
        for word in text.split_whitespace() {
            let t = word_tokens(word);
            if self.tokens + t > self.config.max_tokens && !self.words.is_empty() {
                self.flush(true);
            }
            self.words.push(word);
            self.tokens += t;
            for k in pii {
                if !self.pii.contains(k) {
                    self.pii.push(*k);
                }
            }
        }
    }
}

/// Splits blocks into chunks.
pub fn chunk_blocks(blocks: &[Block], config: &ChunkingConfig) -> Vec<ChunkDraft> {
    let mut b = Builder {
        config,
        out: Vec::new(),
        words: Vec::new(),
        tokens: 0,
        pii: Vec::new(),
        section: None,
        page: None,
    };
    let mut headings: Vec<(u8, &str)> = Vec::new();
    for block in blocks {
        let text = block.text.trim();
        if text.is_empty() {
            continue;
        }
        match block.kind {
            BlockKind::Heading { level } => {
                b.flush(false);
                while headings.last().is_some_and(|(l, _)| *l >= level) {
                    headings.pop();
                }
                headings.push((level, text));
                b.section = Some(
                    headings
                        .iter()
                        .map(|(_, t)| *t)
                        .collect::<Vec<_>>()
                        .join(" > "),
                );
                if block.page.is_some() {
                    b.page = block.page;
                }
            }
            BlockKind::Text => {
                if block.page != b.page {
                    b.flush(false);
                    b.page = block.page;
                }
                // A paragraph that would not fit whole starts a fresh chunk (with overlap)
                // rather than being split mid-way, unless it is too long for any chunk.
                let t = estimate_tokens(text);
                if b.tokens + t > config.max_tokens && t <= config.max_tokens && !b.words.is_empty()
                {
                    b.flush(true);
                }
                b.push_words(text, &block.pii);
            }
        }
    }
    b.flush(false);
    b.out
}

/// A chunk's section as it is kept: without the document's title at its head.
/// A Markdown file's top heading is usually its title, and keeping it as the
/// section too would count the title's words twice in the keyword index (and
/// show it twice in a citation).
pub fn section_under_title(title: &str, section: Option<String>) -> Option<String> {
    let section = section?;
    let title = title.trim();
    if title.is_empty() {
        return Some(section);
    }
    if section.trim() == title {
        return None;
    }
    match section
        .strip_prefix(title)
        .and_then(|rest| rest.strip_prefix(" > "))
    {
        Some(rest) if !rest.trim().is_empty() => Some(rest.to_owned()),
        _ => Some(section),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_title_is_not_kept_again_as_the_section() {
        let t = "Trip plan";
        assert_eq!(section_under_title(t, Some("Trip plan".into())), None);
        assert_eq!(
            section_under_title(t, Some("Trip plan > Lisbon".into())),
            Some("Lisbon".into())
        );
        assert_eq!(
            section_under_title(t, Some("Trip planning".into())),
            Some("Trip planning".into())
        );
        assert_eq!(section_under_title("", Some("A".into())), Some("A".into()));
        assert_eq!(section_under_title(t, None), None);
    }
    use super::*;

    const CFG: ChunkingConfig = ChunkingConfig {
        max_tokens: 50,
        overlap_tokens: 10,
    };

    #[test]
    fn sections_carry_the_heading_path_and_do_not_mix() {
        let blocks = vec![
            Block::heading(1, "Guide"),
            Block::text("Intro words."),
            Block::heading(2, "Install"),
            Block::text("Run make."),
            Block::heading(2, "Use"),
            Block::text("Ask things."),
        ];
        let chunks = chunk_blocks(&blocks, &CFG);
        let sections: Vec<_> = chunks
            .iter()
            .map(|c| c.section.as_deref().unwrap())
            .collect();
        assert_eq!(sections, ["Guide", "Guide > Install", "Guide > Use"]);
        assert_eq!(chunks[1].text, "Run make.");
    }

    #[test]
    fn pages_split_chunks_and_are_kept() {
        let blocks = vec![Block::text("one").on_page(1), Block::text("two").on_page(2)];
        let chunks = chunk_blocks(&blocks, &CFG);
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[0].page, chunks[1].page), (Some(1), Some(2)));
    }

    #[test]
    fn long_text_is_bounded_and_overlaps() {
        let words: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
        let chunks = chunk_blocks(&[Block::text(words.join(" "))], &CFG);
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(c.token_count <= CFG.max_tokens, "{} tokens", c.token_count);
        }
        // The last words of one chunk open the next.
        let first_tail = chunks[0].text.split(' ').next_back().unwrap();
        assert!(chunks[1].text.split(' ').take(12).any(|w| w == first_tail));
        // Nothing is lost.
        let all: std::collections::HashSet<&str> =
            chunks.iter().flat_map(|c| c.text.split(' ')).collect();
        assert_eq!(all.len(), 300);
    }

    #[test]
    fn pii_flags_follow_their_block() {
        let mut flagged = Block::text("mail me");
        flagged.pii = vec![PiiKind::Email];
        let chunks = chunk_blocks(
            &[
                Block::heading(1, "A"),
                flagged,
                Block::heading(1, "B"),
                Block::text("clean"),
            ],
            &CFG,
        );
        assert_eq!(chunks[0].pii, vec![PiiKind::Email]);
        assert!(chunks[1].pii.is_empty());
    }

    #[test]
    fn empty_documents_give_no_chunks() {
        assert!(chunk_blocks(
            &[Block::text("   "), Block::heading(1, "Only a heading")],
            &CFG
        )
        .is_empty());
    }

    proptest::proptest! {
        // Thousands of generated inputs per run, not proptest's default 256.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Generated documents: every chunk is within the bound (a single word
        /// longer than it aside), non-empty, and no text is dropped.
        #[test]
        fn the_chunker_bounds_every_chunk_and_keeps_every_word(
            blocks in proptest::collection::vec(
                (proptest::option::of(1u8..7), "\\PC{0,400}", proptest::option::of(1u32..50)),
                0..40,
            ),
        ) {
            let blocks: Vec<Block> = blocks
                .into_iter()
                .map(|(level, text, page)| {
                    let mut b = match level {
                        Some(l) => Block::heading(l, text),
                        None => Block::text(text),
                    };
                    b.page = page;
                    b
                })
                .collect();
            let chunks = chunk_blocks(&blocks, &CFG);
            for c in &chunks {
                proptest::prop_assert!(!c.text.trim().is_empty());
            }
            let all: String = chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ");
            for b in blocks.iter().filter(|b| matches!(b.kind, crate::content::BlockKind::Text)) {
                for word in b.text.split_whitespace().take(3) {
                    proptest::prop_assert!(all.contains(word), "{word:?} was dropped");
                }
            }
        }
    }
}
