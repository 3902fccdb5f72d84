//! The fp32 encoder on the real model (`make model` installs it) against the
//! vectors candle 0.11 gave for the same texts (embedding-fixture.json, from
//! the engine this crate replaced): the same sentence vectors, to float
//! rounding.

use jarvis_minilm::{MiniLm, Tokenizer, MAX_TOKENS};
use std::path::PathBuf;

fn model_dir() -> PathBuf {
    std::env::var_os("JARVIS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        })
}

#[test]
fn sentence_vectors_match_the_reference_engine() {
    let dir = model_dir();
    let model = MiniLm::load(&dir).unwrap_or_else(|e| panic!("{e} (run `make model`)"));
    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("embedding-fixture.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    let ids: Vec<Vec<u32>> = cases
        .iter()
        .map(|c| tokenizer.encode(c["text"].as_str().unwrap(), MAX_TOKENS))
        .collect();
    assert!(
        ids.iter().any(|i| i.len() == MAX_TOKENS),
        "one text is truncated"
    );
    let vectors = model.embed_many(&ids).unwrap();
    for (case, got) in cases.iter().zip(&vectors) {
        let want: Vec<f32> = serde_json::from_value(case["vector"].clone()).unwrap();
        assert_eq!(got.len(), 384);
        let cosine: f32 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
        let far = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            cosine > 0.99999 && far < 1e-4,
            "{case}: cosine {cosine}, largest difference {far}"
        );
        // One at a time gives the same vector as in a batch.
        let alone = model
            .embed(&tokenizer.encode(case["text"].as_str().unwrap(), MAX_TOKENS))
            .unwrap();
        assert_eq!(&alone, got);
    }
    // Texts of different meaning are apart.
    let c01: f32 = vectors[0].iter().zip(&vectors[5]).map(|(a, b)| a * b).sum();
    assert!(c01 < 0.5, "unrelated texts: {c01}");
}

#[test]
fn inputs_the_model_cannot_take_are_refused() {
    let model = MiniLm::load(&model_dir()).unwrap();
    assert!(model.embed(&[101, 40_000, 102]).is_err());
    assert!(model.embed(&vec![101; 513]).is_err());
    assert!(MiniLm::load(std::path::Path::new("/nonexistent")).is_err());
}
