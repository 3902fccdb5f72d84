//! HTML: rendered to Markdown-flavoured text by html2text (scripts and styles
//! dropped, headings kept as `#`), then split into blocks like Markdown.

use crate::{markdown, text, ExtractError, ExtractedDocument};

/// Rendering width; wide so paragraphs are not hard-wrapped mid-sentence.
const WIDTH: usize = 400;

pub fn extract(bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let source = text::decode(bytes, "HTML")?;
    let rendered =
        html2text::from_read(source.as_bytes(), WIDTH).map_err(|e| ExtractError::Corrupt {
            format: "HTML page",
            detail: e.to_string(),
        })?;
    Ok(ExtractedDocument {
        title: title_of(&source),
        blocks: markdown::blocks(&rendered),
        ..Default::default()
    })
}

/// The text of the first `<title>` element, whitespace-collapsed.
fn title_of(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let Some(open) = lower.find("<title") else {
        return String::new();
    };
    let Some(start) = lower[open..].find('>').map(|i| open + i + 1) else {
        return String::new();
    };
    let Some(end) = lower[start..].find("</title").map(|i| start + i) else {
        return String::new();
    };
    html[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jarvis_core::content::BlockKind;

    #[test]
    fn html_keeps_title_headings_and_drops_scripts() {
        let page = br#"<html><head><title>Garden  log</title><script>var secret = 1;</script></head>
            <body><h1>Tomatoes</h1><p>Planted on the south bed.</p><h2>Watering</h2><p>Every other day.</p></body></html>"#;
        let doc = extract(page).unwrap();
        assert_eq!(doc.title, "Garden log");
        let headings: Vec<&str> = doc
            .blocks
            .iter()
            .filter(|b| matches!(b.kind, BlockKind::Heading { .. }))
            .map(|b| b.text.as_str())
            .collect();
        assert_eq!(headings, ["Tomatoes", "Watering"]);
        assert!(doc.blocks.iter().any(|b| b.text.contains("south bed")));
        assert!(!doc.blocks.iter().any(|b| b.text.contains("secret")));
    }
}
