//! `PiiDetector` on Comprehend `DetectPiiEntities`. Comprehend takes at most
//! 100 KB of UTF-8 per call, so long text is sent in pieces cut at line or word
//! boundaries, and the character offsets it answers are turned back into byte
//! offsets into the whole text. Entity types map onto Jarvis's PII kinds; types
//! Jarvis does not track (names, addresses, dates) are left out.

use crate::signed::{AwsClient, COMPREHEND};
use async_trait::async_trait;
use jarvis_core::domain::PiiKind;
use jarvis_core::pii::PiiEntity;
use jarvis_core::ports::{PiiDetector, PortResult, TextInsights};
use serde::Deserialize;
use serde_json::json;

/// Entities and key phrases kept per document.
const MAX_INSIGHTS: usize = 20;
/// Languages `DetectEntities` and `DetectKeyPhrases` read.
const INSIGHT_LANGUAGES: &[&str] = &[
    "en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW",
];
/// Bytes per call, under Comprehend's 100 KB limit.
pub const MAX_PIECE_BYTES: usize = 90_000;

#[derive(Clone)]
pub struct ComprehendPii {
    client: AwsClient,
}

impl ComprehendPii {
    pub fn new(client: AwsClient) -> Self {
        Self { client }
    }
}

/// Jarvis's kind for a Comprehend PII entity type (`PiiEntityType`'s names).
pub fn kind_of(t: &str) -> Option<PiiKind> {
    Some(match t {
        "EMAIL" => PiiKind::Email,
        "PHONE" => PiiKind::Phone,
        "CREDIT_DEBIT_NUMBER" => PiiKind::CardNumber,
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER" | "BANK_ACCOUNT_NUMBER" => PiiKind::Iban,
        "SSN"
        | "PASSPORT_NUMBER"
        | "DRIVER_ID"
        | "IN_AADHAAR"
        | "IN_PERMANENT_ACCOUNT_NUMBER"
        | "UK_NATIONAL_INSURANCE_NUMBER"
        | "CA_SOCIAL_INSURANCE_NUMBER"
        | "CA_HEALTH_NUMBER" => PiiKind::NationalId,
        _ => return None,
    })
}

/// The fields Jarvis reads of Comprehend's answers (`DetectPiiEntities`,
/// `DetectEntities`, `DetectKeyPhrases`, `DetectDominantLanguage`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Found {
    entities: Vec<Entity>,
    key_phrases: Vec<Entity>,
    languages: Vec<Language>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Entity {
    r#type: Option<String>,
    text: Option<String>,
    score: Option<f32>,
    begin_offset: Option<i64>,
    end_offset: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Language {
    language_code: Option<String>,
    score: Option<f32>,
}

/// Splits `text` into pieces of at most `max` bytes, preferring to cut after a
/// newline, then after a space; returns each piece's byte offset.
pub fn pieces(text: &str, max: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = text.floor_char_boundary(start + max);
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
            let out: Found = self
                .client
                .call_port(
                    &COMPREHEND,
                    "DetectPiiEntities",
                    json!({"Text": piece, "LanguageCode": "en"}),
                )
                .await?;
            for e in &out.entities {
                let (Some(kind), Some(b), Some(end)) = (
                    e.r#type.as_deref().and_then(kind_of),
                    e.begin_offset,
                    e.end_offset,
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

    /// Reads the first 90 KB: the dominant language, then entities and key
    /// phrases when Comprehend reads that language.
    async fn insights(&self, text: &str) -> PortResult<Option<TextInsights>> {
        let Some((_, piece)) = pieces(text, MAX_PIECE_BYTES).into_iter().next() else {
            return Ok(None);
        };
        if piece.trim().is_empty() {
            return Ok(None);
        }
        let langs: Found = self
            .client
            .call_port(
                &COMPREHEND,
                "DetectDominantLanguage",
                json!({"Text": piece}),
            )
            .await?;
        let language = langs
            .languages
            .into_iter()
            .max_by(|a, b| a.score.unwrap_or(0.0).total_cmp(&b.score.unwrap_or(0.0)))
            .and_then(|l| l.language_code);
        let (entities, key_phrases) = match language.as_deref() {
            Some(l) if INSIGHT_LANGUAGES.contains(&l) => {
                self.entities_and_phrases(piece, l).await?
            }
            _ => (Vec::new(), Vec::new()),
        };
        Ok(Some(TextInsights {
            language,
            entities,
            key_phrases,
        }))
    }
}

impl ComprehendPii {
    /// Entities and key phrases for the first piece of `text`, in `language`.
    async fn entities_and_phrases(
        &self,
        piece: &str,
        language: &str,
    ) -> PortResult<(Vec<(String, String)>, Vec<String>)> {
        let input = json!({"Text": piece, "LanguageCode": language});
        let (entities, phrases): (Found, Found) = tokio::try_join!(
            self.client
                .call_port(&COMPREHEND, "DetectEntities", input.clone()),
            self.client
                .call_port(&COMPREHEND, "DetectKeyPhrases", input.clone()),
        )?;
        let most_confident_first =
            |a: &Entity, b: &Entity| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0));
        let mut ents = entities.entities;
        ents.sort_by(most_confident_first);
        let mut seen = std::collections::HashSet::new();
        let entities = ents
            .into_iter()
            .filter_map(|e| Some((e.r#type?, e.text?)))
            .filter(|pair| seen.insert(pair.clone()))
            .take(MAX_INSIGHTS)
            .collect();
        let mut kps = phrases.key_phrases;
        kps.sort_by(most_confident_first);
        let mut seen = std::collections::HashSet::new();
        let key_phrases = kps
            .into_iter()
            .filter_map(|k| k.text)
            .filter(|t| seen.insert(t.to_lowercase()))
            .take(MAX_INSIGHTS)
            .collect();
        Ok((entities, key_phrases))
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
