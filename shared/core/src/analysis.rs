//! The keyword side's text analysis, defined once for both indexes: tantivy
//! builds its analyzers from these tables, and the OpenSearch index template
//! declares the same chain as custom analyzers, so a word matches the same
//! words on a laptop and on AWS.
//!
//! The chain, per language: words (runs of letters and digits), tokens of
//! [`MAX_TOKEN_BYTES`] or more dropped, lower-cased, the language's stop words
//! dropped, the Snowball stemmer of the language, then accents folded to ASCII
//! (after stemming, so the stemmer sees the real word: "Häuser" → "haus").
//!
//! Every chunk is indexed under English analysis (`title`, `section`, `text`).
//! When its language is detected reliably as one of [`LANGUAGES`], its text is
//! also indexed under that language's analysis (`text_<code>`), and queries
//! search every field, each field analysing the query with its own analyzer —
//! so "Rechnungen" finds "Rechnung" in a German letter, and English queries
//! keep finding English documents.

use serde_json::{json, Map, Value};

/// One analysed language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language {
    /// ISO 639-1 code, the suffix of its text field.
    pub code: &'static str,
    /// Snowball stemmer name (OpenSearch's `snowball` filter `language`).
    pub snowball: &'static str,
    /// OpenSearch's predefined stop-word list for it.
    pub stopwords: &'static str,
}

pub const ENGLISH: Language = Language {
    code: "en",
    snowball: "English",
    stopwords: "_english_",
};

/// Languages that get a text field of their own besides English.
pub const LANGUAGES: &[Language] = &[
    Language {
        code: "da",
        snowball: "Danish",
        stopwords: "_danish_",
    },
    Language {
        code: "de",
        snowball: "German",
        stopwords: "_german_",
    },
    Language {
        code: "es",
        snowball: "Spanish",
        stopwords: "_spanish_",
    },
    Language {
        code: "fi",
        snowball: "Finnish",
        stopwords: "_finnish_",
    },
    Language {
        code: "fr",
        snowball: "French",
        stopwords: "_french_",
    },
    Language {
        code: "hu",
        snowball: "Hungarian",
        stopwords: "_hungarian_",
    },
    Language {
        code: "it",
        snowball: "Italian",
        stopwords: "_italian_",
    },
    Language {
        code: "nl",
        snowball: "Dutch",
        stopwords: "_dutch_",
    },
    Language {
        code: "no",
        snowball: "Norwegian",
        stopwords: "_norwegian_",
    },
    Language {
        code: "pt",
        snowball: "Portuguese",
        stopwords: "_portuguese_",
    },
    Language {
        code: "ru",
        snowball: "Russian",
        stopwords: "_russian_",
    },
    Language {
        code: "sv",
        snowball: "Swedish",
        stopwords: "_swedish_",
    },
];

/// Tokens this long or longer (in bytes) are dropped: they are hashes, not words.
pub const MAX_TOKEN_BYTES: usize = 40;
/// Weight of a match in the title against one in the text. Fields are scored
/// apart and summed, and a short field saturates at its first match, so a
/// title match already weighs about as much as several in the text. Chosen on
/// `make eval` (CISI, keyword nDCG@10 against the stemmed BM25 reference):
/// title 2.0 → 0.89×, 1.0 → 0.97×, 0.5 → 1.01×, 0.25 → 1.01×.
pub const TITLE_BOOST: f32 = 0.5;
/// Weight of a match in the section heading (the title is no longer repeated
/// there: `chunking::section_under_title`); like the title, a short field.
pub const SECTION_BOOST: f32 = 0.5;

/// The analyzer's name for a language, in both indexes.
pub fn analyzer_name(lang: &Language) -> String {
    format!("jarvis_{}", lang.code)
}

/// The extra text field of a language (`text_de`).
pub fn text_field(lang: &Language) -> String {
    format!("text_{}", lang.code)
}

/// The language of `text` among [`LANGUAGES`], when the detector is confident;
/// English and anything else give `None` (English analysis covers every chunk).
pub fn detect(text: &str) -> Option<&'static Language> {
    use whatlang::Lang;
    // Detection reads letters; a few hundred characters decide as well as a page.
    let sample = &text[..text.floor_char_boundary(2000)];
    let info = whatlang::detect(sample)?;
    if !info.is_reliable() {
        return None;
    }
    let code = match info.lang() {
        Lang::Dan => "da",
        Lang::Deu => "de",
        Lang::Spa => "es",
        Lang::Fin => "fi",
        Lang::Fra => "fr",
        Lang::Hun => "hu",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Nob => "no",
        Lang::Por => "pt",
        Lang::Rus => "ru",
        Lang::Swe => "sv",
        _ => return None,
    };
    LANGUAGES.iter().find(|l| l.code == code)
}

/// The OpenSearch index settings' `analysis` section: one custom analyzer per
/// language, the same chain as the local index. The tokenizer splits on
/// anything that is not a letter or a digit, as tantivy's simple tokenizer does.
pub fn opensearch_analysis() -> Value {
    let mut analyzers = Map::new();
    let mut filters = Map::new();
    filters.insert(
        "jarvis_length".into(),
        json!({"type": "length", "max": MAX_TOKEN_BYTES - 1}),
    );
    for lang in std::iter::once(&ENGLISH).chain(LANGUAGES) {
        let stop = format!("jarvis_{}_stop", lang.code);
        let stem = format!("jarvis_{}_stem", lang.code);
        filters.insert(
            stop.clone(),
            json!({"type": "stop", "stopwords": lang.stopwords}),
        );
        filters.insert(
            stem.clone(),
            json!({"type": "snowball", "language": lang.snowball}),
        );
        analyzers.insert(
            analyzer_name(lang),
            json!({
                "type": "custom",
                "tokenizer": "jarvis_words",
                "filter": ["jarvis_length", "lowercase", stop, stem, "asciifolding"]
            }),
        );
    }
    json!({
        "tokenizer": {"jarvis_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
        "filter": filters,
        "analyzer": analyzers
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_detected_only_when_sure() {
        let de = "Die Rechnung für die Reparatur der Heizung ist am Montag gekommen, \
                  bitte überweise den Betrag bis Ende des Monats auf das Konto.";
        assert_eq!(detect(de).map(|l| l.code), Some("de"));
        let fr = "La facture de la réparation du chauffage est arrivée lundi, \
                  merci de payer le montant avant la fin du mois.";
        assert_eq!(detect(fr).map(|l| l.code), Some("fr"));
        let en = "The invoice for the heating repair arrived on Monday; please pay it by the end of the month.";
        assert_eq!(
            detect(en),
            None,
            "English is every chunk's analysis already"
        );
        assert_eq!(detect("ok"), None);
        assert_eq!(detect(""), None);
    }

    #[test]
    fn every_language_has_an_opensearch_analyzer() {
        let a = opensearch_analysis();
        for lang in std::iter::once(&ENGLISH).chain(LANGUAGES) {
            let analyzer = &a["analyzer"][analyzer_name(lang)];
            assert_eq!(analyzer["tokenizer"], "jarvis_words");
            let chain: Vec<&str> = analyzer["filter"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            assert_eq!(chain[0], "jarvis_length");
            assert_eq!(chain[1], "lowercase");
            assert_eq!(a["filter"][chain[2]]["stopwords"], lang.stopwords);
            assert_eq!(a["filter"][chain[3]]["language"], lang.snowball);
            assert_eq!(chain[4], "asciifolding");
        }
    }
}
