//! Plain text and JSON.

use crate::{ExtractError, ExtractedDocument};
use jarvis_core::content::Block;
use jarvis_core::pipeline::looks_like_text;

/// Decodes text bytes (UTF-8, with a BOM tolerated); binary data is refused.
pub fn decode<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<std::borrow::Cow<'a, str>, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let sample = &bytes[..bytes.len().min(8192)];
    if !looks_like_text(sample) {
        return Err(ExtractError::Binary(what));
    }
    Ok(String::from_utf8_lossy(bytes))
}

pub fn extract_plain(bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let text = decode(bytes, "text")?;
    Ok(ExtractedDocument {
        title: String::new(),
        blocks: ExtractedDocument::paragraphs_of(&text, None),
        ..Default::default()
    })
}

/// JSON becomes one line per scalar, `path.to.key: value`, grouped by top-level key.
pub fn extract_json(bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let text = decode(bytes, "JSON")?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ExtractError::Corrupt {
            format: "JSON",
            detail: e.to_string(),
        })?;
    let mut blocks = Vec::new();
    match &value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let mut lines = Vec::new();
                flatten(k, v, &mut lines);
                blocks.push(Block::text(lines.join("\n")));
            }
        }
        other => {
            let mut lines = Vec::new();
            flatten("", other, &mut lines);
            blocks.push(Block::text(lines.join("\n")));
        }
    }
    let title = value
        .get("title")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_owned();
    Ok(ExtractedDocument {
        title,
        blocks,
        ..Default::default()
    })
}

fn flatten(path: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten(&join(k), v, out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&join(&i.to_string()), v, out)),
        Value::String(s) => out.push(format!("{path}: {s}")),
        Value::Null => {}
        other => out.push(format!("{path}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_flattened_into_searchable_lines() {
        let doc = extract_json(br#"{"title":"Trip","stops":[{"city":"Porto"}],"days":3}"#).unwrap();
        assert_eq!(doc.title, "Trip");
        let all: Vec<&str> = doc.blocks.iter().map(|b| b.text.as_str()).collect();
        assert!(all.contains(&"stops.0.city: Porto"));
        assert!(all.contains(&"days: 3"));
        assert!(matches!(
            extract_json(b"{not json"),
            Err(ExtractError::Corrupt { .. })
        ));
    }
}
