//! Word (.docx): `word/document.xml` read with quick-xml; paragraph styles
//! `Title` and `HeadingN` become headings, everything else text.

use crate::{ExtractError, ExtractedDocument};
use jarvis_core::content::Block;
use quick_xml::events::Event;
use std::io::Read;

pub const CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// Largest `document.xml` read (a zip bomb guard).
const MAX_XML_BYTES: u64 = 64 * 1024 * 1024;

pub fn extract(bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let corrupt = |detail: String| ExtractError::Corrupt {
        format: "Word document",
        detail,
    };
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| corrupt(e.to_string()))?;
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .map_err(|e| corrupt(format!("word/document.xml: {e}")))?
        .take(MAX_XML_BYTES)
        .read_to_string(&mut xml)
        .map_err(|e| corrupt(e.to_string()))?;
    let blocks = paragraphs(&xml).map_err(corrupt)?;
    Ok(ExtractedDocument {
        title: String::new(),
        blocks,
        ..Default::default()
    })
}

fn paragraphs(xml: &str) -> Result<Vec<Block>, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut text = String::new();
    let mut heading: Option<u8> = None;
    let mut in_text = false;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"p" => {
                    text.clear();
                    heading = None;
                }
                b"pStyle" => {
                    for attr in e.attributes().flatten() {
                        if attr.key.local_name().as_ref() == b"val" {
                            heading = heading_level(&String::from_utf8_lossy(&attr.value));
                        }
                    }
                }
                b"t" => in_text = true,
                b"tab" | b"br" => text.push(' '),
                _ => {}
            },
            Event::Text(t) if in_text => {
                let raw = t.decode().map_err(|e| e.to_string())?;
                let unescaped = quick_xml::escape::unescape(&raw).map_err(|e| e.to_string())?;
                text.push_str(&unescaped);
            }
            Event::GeneralRef(r) if in_text => {
                let name = r.decode().map_err(|e| e.to_string())?;
                let entity = format!("&{name};");
                text.push_str(&quick_xml::escape::unescape(&entity).map_err(|e| e.to_string())?);
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !t.is_empty() {
                        out.push(match heading {
                            Some(level) => Block::heading(level, t),
                            None => Block::text(t),
                        });
                    }
                    text.clear();
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn heading_level(style: &str) -> Option<u8> {
    if style.eq_ignore_ascii_case("title") {
        return Some(1);
    }
    let digits = style
        .strip_prefix("Heading")
        .or_else(|| style.strip_prefix("heading"))?;
    digits
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|l| (1..=9).contains(l))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixtures::make_docx;
    use jarvis_core::content::BlockKind;

    #[test]
    fn styles_become_headings_and_entities_are_decoded() {
        let bytes = make_docx(&[
            (Some("Heading1"), "Budget"),
            (None, "Rent &amp; food: 900"),
            (Some("Heading2"), "Notes"),
        ]);
        let doc = extract(&bytes).unwrap();
        let summary: Vec<(BlockKind, &str)> = doc
            .blocks
            .iter()
            .map(|b| (b.kind, b.text.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (BlockKind::Heading { level: 1 }, "Budget"),
                (BlockKind::Text, "Rent & food: 900"),
                (BlockKind::Heading { level: 2 }, "Notes")
            ]
        );
    }

    #[test]
    fn a_zip_without_a_document_is_corrupt() {
        assert!(matches!(
            extract(b"PK\x03\x04 not really"),
            Err(ExtractError::Corrupt { .. })
        ));
    }
}
