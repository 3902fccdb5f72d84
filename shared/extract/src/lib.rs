//! Format parsers: bytes in, [`ExtractedDocument`] (headings, paragraphs, pages)
//! out. Used by `extract-document` and `parse-email` on every deployment — these
//! formats need no cloud service.
//!
//! - [`text`]: plain text and JSON
//! - [`markdown`]: Markdown (pulldown-cmark), also the second half of HTML
//! - [`html`]: HTML via html2text
//! - [`pdf`]: PDF text layer via pdf-extract, page by page
//! - [`docx`]: Word documents (zip + quick-xml), headings from paragraph styles
//! - [`email`]: RFC 5322 mail (mail-parser): headers, body, attachments
//! - [`sandbox`]: the parsers in a child process with bounded memory and time

pub mod docx;
pub mod email;
pub mod fixtures;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod pdf_streams;
pub mod sandbox;
pub mod text;

pub use jarvis_core::content::{Block, ExtractedDocument};

/// Why a file could not be turned into text. Messages are written for users.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is binary data, not readable {0}")]
    Binary(&'static str),
    #[error("the {format} is corrupt or unreadable: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },
    #[error("no text found in the {format}: {hint}")]
    NoText {
        format: &'static str,
        hint: &'static str,
    },
    #[error("content type {0} is not supported; supported are text, Markdown, HTML, JSON, PDF, DOCX, .eml mail, images and audio")]
    Unsupported(String),
    /// What a parser child ([`sandbox`]) answered, or why it gave no answer.
    #[error("{message}")]
    Reported { message: String, no_text: bool },
}

impl ExtractError {
    /// The file was read, and holds no text (a scan: OCR may read it).
    pub fn is_no_text(&self) -> bool {
        matches!(
            self,
            Self::NoText { .. } | Self::Reported { no_text: true, .. }
        )
    }
}

/// Extracts a document of `content_type`; `file_name` is the fallback title.
pub fn extract_document(
    bytes: &[u8],
    content_type: &str,
    file_name: &str,
) -> Result<ExtractedDocument, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut doc = match ct.as_str() {
        "text/plain" | "text/csv" => text::extract_plain(bytes)?,
        "text/markdown" | "text/x-markdown" => markdown::extract(text::decode(bytes, "text")?),
        "text/html" | "application/xhtml+xml" => html::extract(bytes)?,
        "application/json" => text::extract_json(bytes)?,
        "application/pdf" => pdf::extract(bytes)?,
        docx::CONTENT_TYPE => docx::extract(bytes)?,
        other if other.starts_with("text/") => text::extract_plain(bytes)?,
        other => return Err(ExtractError::Unsupported(other.to_owned())),
    };
    if !doc.has_text() {
        return Err(ExtractError::NoText {
            format: "document",
            hint: "it holds no readable text",
        });
    }
    if doc.title.trim().is_empty() {
        doc.title = default_title(&doc, file_name);
    }
    Ok(doc)
}

/// The first heading, else the file name.
fn default_title(doc: &ExtractedDocument, file_name: &str) -> String {
    doc.blocks
        .iter()
        .find(|b| matches!(b.kind, jarvis_core::content::BlockKind::Heading { .. }))
        .map(|b| b.text.clone())
        .unwrap_or_else(|| file_name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_unknown_inputs_are_refused_with_reasons() {
        assert!(matches!(
            extract_document(b"", "text/plain", "a"),
            Err(ExtractError::Empty)
        ));
        let err = extract_document(b"\x00\x01\x02\xff\xfe\x00\x00garbage", "text/plain", "a")
            .unwrap_err();
        assert!(err.to_string().contains("binary"), "{err}");
        let err = extract_document(b"abc", "application/x-msdownload", "a.exe").unwrap_err();
        assert!(err.to_string().contains("not supported"));
    }

    #[test]
    fn titles_fall_back_to_heading_then_file_name() {
        let doc = extract_document(b"# Plans\n\nText.", "text/markdown", "p.md").unwrap();
        assert_eq!(doc.title, "Plans");
        let doc = extract_document(b"just text", "text/plain", "note.txt").unwrap();
        assert_eq!(doc.title, "note.txt");
    }
}
