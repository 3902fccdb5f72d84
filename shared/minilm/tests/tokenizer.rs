//! The WordPiece tokenizer against Hugging Face's tokenizers library on the
//! real vocabulary: tokenizer-fixture.json holds what the library gives for
//! 325 texts (edge cases and a seeded random mix of scripts, punctuation,
//! whitespace, control characters and the special tokens written out);
//! scripts/tokenizer-fixture.py wrote it. And no input makes it panic or
//! break its bounds.

use jarvis_minilm::Tokenizer;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

fn model_dir() -> PathBuf {
    std::env::var_os("JARVIS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        })
}

fn tokenizer() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        Tokenizer::from_file(&model_dir().join("tokenizer.json"))
            .unwrap_or_else(|e| panic!("{e} (run `make model`)"))
    })
}

#[test]
fn every_text_gets_the_ids_hugging_faces_tokenizer_gives() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("tokenizer-fixture.json")).unwrap();
    let max = fixture["max_seq"].as_u64().unwrap() as usize;
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() > 300);
    let mut wrong = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let got = tokenizer().encode(text, max);
        if got != want {
            wrong.push(format!("{text:?}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn any_text_gives_cls_pieces_sep_within_the_limit(text in "\\PC{0,300}|[\\x00-\\x7f]{0,300}", max in 2usize..64) {
        let t = tokenizer();
        let ids = t.encode(&text, max);
        prop_assert!(ids.len() >= 2 && ids.len() <= max);
        prop_assert_eq!(ids[0], 101);
        prop_assert_eq!(*ids.last().unwrap(), 102);
        prop_assert!(ids.iter().all(|&id| (id as usize) < t.vocab_size()));
        // A longer limit only adds pieces at the end.
        let longer = t.encode(&text, max + 16);
        prop_assert_eq!(&longer[..ids.len() - 1], &ids[..ids.len() - 1]);
    }
}
