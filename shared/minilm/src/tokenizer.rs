//! BERT's WordPiece tokenizer, as all-MiniLM-L6-v2's `tokenizer.json` sets it
//! up: special tokens matched in the raw text first; then, for the text in
//! between, the BERT normaliser (drop control characters, every kind of
//! whitespace to a space, spaces around CJK ideographs, strip accents,
//! lowercase), the BERT pre-tokeniser (split on whitespace, punctuation on its
//! own), and greedy longest-match word pieces (`##` continues a word; a word
//! with no split, or over 100 characters, is `[UNK]`). `[CLS]` and `[SEP]`
//! wrap the result, truncated to the length asked for.
//!
//! A `tokenizer.json` that asks for anything else (another normaliser, a
//! lowercase-free model, added tokens that are normalised) is refused at load
//! rather than tokenised differently from the model's training.

use crate::Error;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

const FILE: &str = "tokenizer.json";

/// The WordPiece tokenizer of a BERT model.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    /// Added tokens matched in the raw text, longest first.
    specials: Vec<(String, u32)>,
    prefix: String,
    max_word_chars: usize,
}

/// A piece of the raw text: an added token, or text to normalise.
enum Segment<'a> {
    Special(u32),
    Text(&'a str),
}

impl Tokenizer {
    /// Reads `tokenizer.json` (Hugging Face's format).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            file: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses the contents of a `tokenizer.json`.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| Error::format(FILE, e.to_string()))?;
        let expect = |pointer: &str, want: Value| -> Result<(), Error> {
            match json.pointer(pointer) {
                Some(v) if *v == want => Ok(()),
                other => Err(Error::format(
                    FILE,
                    format!("{pointer} is {other:?}; only {want} is supported"),
                )),
            }
        };
        expect("/normalizer/type", "BertNormalizer".into())?;
        expect("/normalizer/clean_text", true.into())?;
        expect("/normalizer/handle_chinese_chars", true.into())?;
        expect("/normalizer/lowercase", true.into())?;
        // `null` means "as lowercase", which is true.
        if !matches!(
            json.pointer("/normalizer/strip_accents"),
            None | Some(Value::Null) | Some(Value::Bool(true))
        ) {
            return Err(Error::format(
                FILE,
                "only strip_accents null or true is supported",
            ));
        }
        expect("/pre_tokenizer/type", "BertPreTokenizer".into())?;
        expect("/model/type", "WordPiece".into())?;

        let vocab: HashMap<String, u32> = json
            .pointer("/model/vocab")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::format(FILE, "no model.vocab"))?
            .iter()
            .map(|(piece, id)| {
                id.as_u64()
                    .and_then(|id| u32::try_from(id).ok())
                    .map(|id| (piece.clone(), id))
                    .ok_or_else(|| Error::format(FILE, format!("vocab id of {piece:?}")))
            })
            .collect::<Result<_, _>>()?;
        let string = |pointer: &str| {
            json.pointer(pointer)
                .and_then(Value::as_str)
                .ok_or_else(|| Error::format(FILE, format!("no {pointer}")))
        };
        let id_of = |token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| Error::format(FILE, format!("{token} is not in the vocabulary")))
        };
        let unk = id_of(string("/model/unk_token")?)?;
        let prefix = string("/model/continuing_subword_prefix")?.to_string();
        let max_word_chars = json
            .pointer("/model/max_input_chars_per_word")
            .and_then(Value::as_u64)
            .unwrap_or(100) as usize;

        // The post-processor must be `[CLS] $A [SEP]`.
        let single = json
            .pointer("/post_processor/single")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::format(FILE, "no post_processor.single template"))?;
        let template: Vec<&str> = single
            .iter()
            .map(|step| {
                step.pointer("/SpecialToken/id")
                    .or_else(|| step.pointer("/Sequence/id"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            })
            .collect();
        if template != ["[CLS]", "A", "[SEP]"] {
            return Err(Error::format(
                FILE,
                format!("post_processor {template:?}; only [CLS] A [SEP] is supported"),
            ));
        }

        let mut specials = Vec::new();
        for token in json
            .get("added_tokens")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let content = token
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::format(FILE, "an added token without content"))?;
            let flag = |name: &str| token.get(name).and_then(Value::as_bool).unwrap_or(false);
            if flag("normalized") || flag("single_word") || flag("lstrip") || flag("rstrip") {
                return Err(Error::format(
                    FILE,
                    format!("added token {content:?}: only plain, unnormalised ones are supported"),
                ));
            }
            let id = token
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| Error::format(FILE, format!("added token {content:?} has no id")))?;
            if !content.is_empty() {
                specials.push((content.to_string(), id));
            }
        }
        specials.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));

        Ok(Self {
            unk,
            cls: id_of("[CLS]")?,
            sep: id_of("[SEP]")?,
            vocab,
            specials,
            prefix,
            max_word_chars,
        })
    }

    /// How many pieces the vocabulary has (every id is below it).
    pub fn vocab_size(&self) -> usize {
        self.vocab
            .values()
            .map(|&id| id as usize + 1)
            .max()
            .unwrap_or(0)
    }

    /// The ids of `text`: `[CLS]`, its word pieces, `[SEP]`; at most
    /// `max_len` ids in all (the word pieces past it are dropped).
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let budget = max_len.saturating_sub(2);
        let mut ids = Vec::with_capacity(budget.min(text.len() / 3 + 2) + 2);
        ids.push(self.cls);
        let full = |ids: &Vec<u32>| ids.len() > budget;
        let mut word = String::new();
        'text: for segment in self.segments(text) {
            match segment {
                Segment::Special(id) => ids.push(id),
                Segment::Text(raw) => {
                    for c in normalize(raw) {
                        if c.is_whitespace() || is_punctuation(c) {
                            if !word.is_empty() {
                                self.word_pieces(&word, &mut ids);
                                word.clear();
                                if full(&ids) {
                                    break 'text;
                                }
                            }
                            if !c.is_whitespace() {
                                word.push(c);
                                self.word_pieces(&word, &mut ids);
                                word.clear();
                            }
                        } else {
                            word.push(c);
                        }
                        if full(&ids) {
                            break 'text;
                        }
                    }
                    if !word.is_empty() {
                        self.word_pieces(&word, &mut ids);
                        word.clear();
                    }
                }
            }
            if full(&ids) {
                break;
            }
        }
        ids.truncate(budget + 1);
        ids.push(self.sep);
        ids
    }

    /// The raw text cut at the added tokens (leftmost, then longest, match).
    fn segments<'a>(&self, text: &'a str) -> Vec<Segment<'a>> {
        let mut out = Vec::new();
        let (mut start, mut at) = (0, 0);
        while at < text.len() {
            let rest = &text[at..];
            match self
                .specials
                .iter()
                .find(|(s, _)| rest.starts_with(s.as_str()))
            {
                Some((s, id)) => {
                    if start < at {
                        out.push(Segment::Text(&text[start..at]));
                    }
                    out.push(Segment::Special(*id));
                    at += s.len();
                    start = at;
                }
                None => at += rest.chars().next().map_or(1, char::len_utf8),
            }
        }
        if start < text.len() {
            out.push(Segment::Text(&text[start..]));
        }
        out
    }

    /// Greedy longest-match word pieces of one word, onto `ids`.
    fn word_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > self.max_word_chars {
            ids.push(self.unk);
            return;
        }
        let before = ids.len();
        let mut candidate = String::with_capacity(word.len() + self.prefix.len());
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                candidate.clear();
                if start > 0 {
                    candidate.push_str(&self.prefix);
                }
                candidate.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(&candidate) {
                    break Some(id);
                }
                // Back off by one character.
                end = word[..end]
                    .char_indices()
                    .next_back()
                    .map_or(start, |(i, _)| i);
                if end <= start {
                    break None;
                }
            };
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(before);
                    ids.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// The BERT normaliser over one piece of text, as characters.
fn normalize(raw: &str) -> impl Iterator<Item = char> + '_ {
    raw.chars()
        .filter(|&c| !(c == '\0' || c == '\u{fffd}' || is_control(c)))
        .map(|c| if is_whitespace(c) { ' ' } else { c })
        .flat_map(|c| {
            let cjk = is_chinese(c);
            [cjk.then_some(' '), Some(c), cjk.then_some(' ')]
                .into_iter()
                .flatten()
        })
        .nfd()
        .filter(|c| !c.is_mark_nonspacing())
        .flat_map(char::to_lowercase)
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Control, format, unassigned and private-use characters (tab, newline and
/// carriage return count as whitespace instead).
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// The CJK ideograph blocks BERT splits into one token per character.
fn is_chinese(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Tokenizer {
        let vocab: Vec<&str> = vec![
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", ",",
            "!", "cafe", "野", "a",
        ];
        let vocab: serde_json::Map<String, Value> = vocab
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_string(), Value::from(i)))
            .collect();
        let json = serde_json::json!({
            "added_tokens": [
                {"id": 0, "content": "[PAD]", "normalized": false},
                {"id": 2, "content": "[CLS]", "normalized": false},
                {"id": 3, "content": "[SEP]", "normalized": false},
            ],
            "normalizer": {"type": "BertNormalizer", "clean_text": true,
                "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "TemplateProcessing", "single": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}}]},
            "model": {"type": "WordPiece", "unk_token": "[UNK]",
                "continuing_subword_prefix": "##", "max_input_chars_per_word": 10,
                "vocab": vocab},
        });
        Tokenizer::from_json(&json.to_string()).unwrap()
    }

    #[test]
    fn words_split_into_the_longest_pieces_and_unknown_words_are_one_unk() {
        let t = tiny();
        assert_eq!(t.encode("unaffable", 16), [2, 5, 6, 7, 3]);
        assert_eq!(
            t.encode("Hello, CAFÉ!野a", 16),
            [2, 8, 9, 11, 10, 12, 13, 3]
        );
        assert_eq!(
            t.encode("unaffablex hello", 16),
            [2, 1, 8, 3],
            "no split: one [UNK]"
        );
        assert_eq!(t.encode("aaaaaaaaaaa", 16), [2, 1, 3], "over 10 characters");
        // "[cls]" is not the added token: "[", "cls" and "]", none in this vocabulary.
        assert_eq!(t.encode("[CLS]a[SEP] [cls]", 16), [2, 2, 13, 3, 1, 1, 1, 3]);
    }

    #[test]
    fn truncation_keeps_the_first_pieces_and_the_closing_sep() {
        let t = tiny();
        assert_eq!(t.encode("a a a a a a", 5), [2, 13, 13, 13, 3]);
        assert_eq!(t.encode("unaffable", 4), [2, 5, 6, 3]);
        assert_eq!(t.encode("", 4), [2, 3]);
    }

    #[test]
    fn settings_the_tokenizer_does_not_implement_are_refused() {
        let mut json: Value =
            serde_json::from_str(&serde_json::json!({"normalizer": {"type": "NFC"}}).to_string())
                .unwrap();
        let e = Tokenizer::from_json(&json.to_string()).unwrap_err();
        assert!(e.to_string().contains("/normalizer/type"), "{e}");
        json["normalizer"] = serde_json::json!({"type": "BertNormalizer", "clean_text": true,
            "handle_chinese_chars": true, "lowercase": false});
        let e = Tokenizer::from_json(&json.to_string()).unwrap_err();
        assert!(e.to_string().contains("lowercase"), "{e}");
        assert!(Tokenizer::from_json("{not json").is_err());
    }
}
