//! `PiiDetector` on Comprehend `DetectPiiEntities`. Comprehend takes at most
//! 100 KB of UTF-8 per call, so long text is sent in pieces cut at line or word
//! boundaries, and the character offsets it answers are turned back into byte
//! offsets into the whole text. Entity types map onto Jarvis's PII kinds; types
//! Jarvis does not track (names, addresses, dates) are left out.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_sdk_comprehend::types::{LanguageCode, PiiEntityType};
use aws_sdk_comprehend::Client;
use jarvis_core::domain::PiiKind;
use jarvis_core::pii::PiiEntity;
use jarvis_core::ports::{PiiDetector, PortResult};

const SERVICE: &str = "comprehend";
/// Bytes per call, under Comprehend's 100 KB limit.
pub const MAX_PIECE_BYTES: usize = 90_000;

#[derive(Clone)]
pub struct ComprehendPii {
    client: Client,
}

impl ComprehendPii {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

pub fn kind_of(t: &PiiEntityType) -> Option<PiiKind> {
    Some(match t {
        PiiEntityType::Email => PiiKind::Email,
        PiiEntityType::Phone => PiiKind::Phone,
        PiiEntityType::CreditDebitNumber => PiiKind::CardNumber,
        PiiEntityType::InternationalBankAccountNumber | PiiEntityType::BankAccountNumber => {
            PiiKind::Iban
        }
        PiiEntityType::Ssn
        | PiiEntityType::PassportNumber
        | PiiEntityType::DriverId
        | PiiEntityType::InAadhaar
        | PiiEntityType::InPermanentAccountNumber
        | PiiEntityType::UkNationalInsuranceNumber
        | PiiEntityType::CaSocialInsuranceNumber
        | PiiEntityType::CaHealthNumber => PiiKind::NationalId,
        _ => return None,
    })
}

/// Splits `text` into pieces of at most `max` bytes, preferring to cut after a
/// newline, then after a space; returns each piece's byte offset.
pub fn pieces(text: &str, max: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + max).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if end < text.len() {
            let window = &text[start..end];
            if let Some(cut) = window.rfind('\n').or_else(|| window.rfind(' ')) {
                if cut > 0 {
                    end = start + cut + 1;
                }
            }
        }
        out.push((start, &text[start..end]));
        start = end;
    }
    out
}

/// Byte offset of the `chars`-th character of `text`.
fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

#[async_trait]
impl PiiDetector for ComprehendPii {
    async fn detect(&self, text: &str) -> PortResult<Vec<PiiEntity>> {
        let mut found = Vec::new();
        for (offset, piece) in pieces(text, MAX_PIECE_BYTES) {
            if piece.trim().is_empty() {
                continue;
            }
            let out = self
                .client
                .detect_pii_entities()
                .text(piece)
                .language_code(LanguageCode::En)
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "DetectPiiEntities", e))?;
            for e in out.entities() {
                let (Some(kind), Some(b), Some(end)) = (
                    e.r#type().and_then(kind_of),
                    e.begin_offset(),
                    e.end_offset(),
                ) else {
                    continue;
                };
                let (b, end) = (b.max(0) as usize, end.max(0) as usize);
                let (start, stop) = (byte_offset(piece, b), byte_offset(piece, end));
                if start < stop {
                    found.push(PiiEntity {
                        kind,
                        start: offset + start,
                        end: offset + stop,
                    });
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text_on_boundaries() {
        let text = "ação one\ntwo three four\nfive";
        let ps = pieces(text, 12);
        assert!(ps.iter().all(|(_, p)| p.len() <= 12));
        let joined: String = ps.iter().map(|(_, p)| *p).collect();
        assert_eq!(joined, text);
        for (o, p) in &ps {
            assert_eq!(&text[*o..*o + p.len()], *p);
        }
        assert_eq!(
            byte_offset("ação x", 5),
            7,
            "the 6th character, x, after two 2-byte ones"
        );
    }
}
