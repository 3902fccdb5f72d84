//! Markdown into heading and text blocks.

use crate::ExtractedDocument;
use jarvis_core::content::Block;
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

pub fn extract(text: impl AsRef<str>) -> ExtractedDocument {
    ExtractedDocument {
        title: String::new(),
        blocks: blocks(text.as_ref()),
        ..Default::default()
    }
}

/// The blocks of a Markdown text: headings, paragraphs, list items, code, table rows.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut heading: Option<u8> = None;
    let flush = |buf: &mut String, heading: Option<u8>, out: &mut Vec<Block>| {
        let t = buf.split_whitespace().collect::<Vec<_>>().join(" ");
        if !t.is_empty() {
            out.push(match heading {
                Some(level) => Block::heading(level, t),
                None => Block::text(t),
            });
        }
        buf.clear();
    };
    for event in Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut buf, None, &mut out);
                heading = Some(level_number(level));
            }
            Event::End(TagEnd::Heading(_)) => {
                flush(&mut buf, heading.take(), &mut out);
            }
            Event::Start(Tag::Item) => flush(&mut buf, None, &mut out),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableRow
                | TagEnd::TableHead,
            ) => {
                flush(&mut buf, heading, &mut out);
            }
            Event::End(TagEnd::TableCell) => buf.push_str(" | "),
            Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) | Event::Html(t) => {
                buf.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak => buf.push(' '),
            _ => {}
        }
    }
    flush(&mut buf, heading, &mut out);
    out
}

fn level_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jarvis_core::content::BlockKind;

    #[test]
    fn headings_paragraphs_and_items_become_blocks() {
        let b = blocks("# Title\n\nFirst *para*\ncontinues.\n\n## Sub\n\n- one\n- two\n\n```\ncode here\n```\n");
        let summary: Vec<(BlockKind, &str)> = b.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            summary,
            vec![
                (BlockKind::Heading { level: 1 }, "Title"),
                (BlockKind::Text, "First para continues."),
                (BlockKind::Heading { level: 2 }, "Sub"),
                (BlockKind::Text, "one"),
                (BlockKind::Text, "two"),
                (BlockKind::Text, "code here"),
            ]
        );
    }
}
