//! RFC 5322 mail (.eml) with mail-parser: headers and body become the mail's own
//! document; attachments are returned so the caller can ingest each as a document.

use crate::{html, markdown, ExtractError, ExtractedDocument};
use jarvis_core::content::Block;
use mail_parser::{MessageParser, MimeHeaders};

/// An attachment to ingest separately.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A parsed mail.
#[derive(Debug, Clone)]
pub struct ParsedEmail {
    pub document: ExtractedDocument,
    pub attachments: Vec<Attachment>,
}

pub fn parse(bytes: &[u8]) -> Result<ParsedEmail, ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| ExtractError::Corrupt {
            format: "mail",
            detail: "no RFC 5322 message found".into(),
        })?;
    let has_headers =
        message.from().is_some() || message.subject().is_some() || message.date().is_some();
    if !has_headers {
        return Err(ExtractError::Corrupt {
            format: "mail",
            detail: "it has no From, Subject or Date header".into(),
        });
    }
    let address_list = |a: Option<&mail_parser::Address<'_>>| {
        a.map(|a| {
            a.iter()
                .map(|addr| match (addr.name(), addr.address()) {
                    (Some(n), Some(e)) => format!("{n} <{e}>"),
                    (None, Some(e)) => e.to_owned(),
                    (Some(n), None) => n.to_owned(),
                    (None, None) => String::new(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
    };
    let subject = message.subject().unwrap_or("(no subject)").to_owned();
    let from = address_list(message.from());
    let to = address_list(message.to());
    let date = message.date().map(|d| d.to_rfc3339()).unwrap_or_default();

    let mut blocks = vec![
        Block::heading(1, subject.clone()),
        Block::text(format!("From: {from}. To: {to}. Date: {date}.")),
    ];
    let mut body_blocks = Vec::new();
    for i in 0..message.text_body_count() {
        if let Some(part) = message.text_part(i as u32) {
            if part.is_text_html() {
                if let Ok(doc) = html::extract(part.contents()) {
                    body_blocks.extend(doc.blocks);
                }
            } else if let Some(text) = part.text_contents() {
                body_blocks.extend(markdown::blocks(text));
            }
        }
    }
    if body_blocks.is_empty() {
        for i in 0..message.html_body_count() {
            if let Some(part) = message.html_part(i as u32) {
                if let Ok(doc) = html::extract(part.contents()) {
                    body_blocks.extend(doc.blocks);
                }
            }
        }
    }
    blocks.extend(body_blocks);

    let attachments = message
        .attachments()
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                    None => ct.ctype().to_ascii_lowercase(),
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            let file_name = part
                .attachment_name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            Attachment {
                file_name,
                content_type,
                bytes: part.contents().to_vec(),
            }
        })
        .collect();

    let mut document = ExtractedDocument {
        title: subject,
        blocks,
        ..Default::default()
    };
    document.metadata.insert("from".into(), from.into());
    document.metadata.insert("to".into(), to.into());
    document.metadata.insert("date".into(), date.into());
    if let Some(id) = message.message_id() {
        document.metadata.insert("message_id".into(), id.into());
    }
    Ok(ParsedEmail {
        document,
        attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "From: Ana Lopez <ana@example.com>\r\nTo: me@example.com\r\nSubject: Lease renewal\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe landlord agreed to renew the lease.\r\n--b1\r\nContent-Type: text/markdown; name=\"terms.md\"\r\nContent-Disposition: attachment; filename=\"terms.md\"\r\n\r\n# Terms\r\n\r\nRent rises by two percent.\r\n--b1--\r\n";

    #[test]
    fn body_and_attachments_are_separated() {
        let parsed = parse(MAIL.as_bytes()).unwrap();
        assert_eq!(parsed.document.title, "Lease renewal");
        assert!(parsed
            .document
            .blocks
            .iter()
            .any(|b| b.text.contains("agreed to renew")));
        assert!(parsed
            .document
            .blocks
            .iter()
            .any(|b| b.text.contains("ana@example.com")));
        assert_eq!(parsed.attachments.len(), 1);
        assert_eq!(parsed.attachments[0].file_name, "terms.md");
        assert!(String::from_utf8_lossy(&parsed.attachments[0].bytes).contains("two percent"));
    }

    #[test]
    fn garbage_is_not_mail() {
        assert!(parse(b"\x00\x01\x02 definitely not mail").is_err());
        assert!(matches!(parse(b""), Err(ExtractError::Empty)));
    }

    proptest::proptest! {
        // Thousands of generated inputs per run, not proptest's default 256.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Generated mail, well-formed or not: parsed or refused, never a panic.
        #[test]
        fn any_mail_is_parsed_or_refused_without_a_panic(
            headers in proptest::collection::vec(("[A-Za-z-]{1,20}", "\\PC{0,120}"), 0..12),
            boundary in "[A-Za-z0-9'()+_,./:=?-]{1,40}",
            parts in proptest::collection::vec(("\\PC{0,60}", "\\PC{0,400}"), 0..5),
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
        ) {
            let mut mail = String::new();
            for (name, value) in &headers {
                mail.push_str(&format!("{name}: {value}\r\n"));
            }
            mail.push_str(&format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"));
            for (head, body) in &parts {
                mail.push_str(&format!("--{boundary}\r\nContent-Type: {head}\r\nContent-Disposition: attachment; filename=\"{head}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}\r\n"));
            }
            mail.push_str(&format!("--{boundary}--\r\n"));
            let _ = parse(mail.as_bytes());
            let _ = parse(&raw);
        }
    }
}
