//! The local embedding engines on the real model (`make model` installs it):
//! the int8 ONNX Runtime engine agrees with the fp32 one, and its
//! batching across callers hands every caller its own vectors, in order.

use jarvis_core::config::EmbedEngine;
use jarvis_local::embedder::LocalEmbedder;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn model_dir() -> PathBuf {
    std::env::var_os("JARVIS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        })
}

fn engine(which: EmbedEngine) -> Arc<LocalEmbedder> {
    static ONNX: OnceLock<Arc<LocalEmbedder>> = OnceLock::new();
    static FP32: OnceLock<Arc<LocalEmbedder>> = OnceLock::new();
    let cell = if which == EmbedEngine::Fp32 {
        &FP32
    } else {
        &ONNX
    };
    cell.get_or_init(|| {
        Arc::new(
            LocalEmbedder::load(&model_dir(), which)
                .unwrap_or_else(|e| panic!("{e} (run `make model`)")),
        )
    })
    .clone()
}

fn texts() -> Vec<String> {
    [
        "The invoice for the boiler repair is due on Friday.",
        "Der Vertrag mit dem Vermieter endet im März.",
        "mortgage",
        "Our quarterly revenue report shows the customer numbers grew, while the supplier costs for energy and water stayed flat across the year.",
        "Passport renewal appointment at the town hall, bring two photos and the old passport.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_int8_engine_agrees_with_the_fp32_one() {
    let onnx = engine(EmbedEngine::Onnx);
    let fp32 = engine(EmbedEngine::Fp32);
    assert_eq!(onnx.engine(), "onnxruntime (int8)");
    let texts = texts();
    let a = onnx.embed_blocking(&texts).unwrap();
    let b = fp32.embed_blocking(&texts).unwrap();
    assert_eq!(a.len(), texts.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x.len(), 384);
        let norm = cosine(x, x).sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "text {i}: norm {norm}");
        let c = cosine(x, y);
        assert!(c > 0.97, "text {i}: cosine {c} between int8 and fp32");
    }
    // Unrelated texts stay apart, related ones close: the same model, not noise.
    let related = onnx
        .embed_blocking(&["The boiler repair invoice must be paid by Friday.".to_string()])
        .unwrap();
    assert!(cosine(&a[0], &related[0]) > cosine(&a[0], &a[4]) + 0.2);
}

#[test]
fn callers_embedding_at_once_each_get_their_own_vectors_in_order() {
    let onnx = engine(EmbedEngine::Onnx);
    let texts = texts();
    // Alone, one text at a time (each its own batch).
    let alone: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| {
            onnx.embed_blocking(std::slice::from_ref(t))
                .unwrap()
                .remove(0)
        })
        .collect();
    // Eight callers at once, each with the texts in its own rotation and some
    // twice, so their texts share batches with other callers'.
    let handles: Vec<_> = (0..8)
        .map(|caller| {
            let onnx = onnx.clone();
            let mut mine = texts.clone();
            mine.rotate_left(caller % texts.len());
            mine.extend(mine.clone().into_iter().take(caller % 3));
            std::thread::spawn(move || {
                let got = onnx.embed_blocking(&mine).unwrap();
                (mine, got)
            })
        })
        .collect();
    for h in handles {
        let (mine, got) = h.join().unwrap();
        assert_eq!(got.len(), mine.len());
        for (text, vector) in mine.iter().zip(&got) {
            let want = &alone[texts.iter().position(|t| t == text).unwrap()];
            let c = cosine(vector, want);
            assert!(
                c > 0.999,
                "{text:?}: cosine {c} to its vector embedded alone"
            );
        }
    }
}

#[test]
fn empty_input_and_overlong_text_are_handled() {
    let onnx = engine(EmbedEngine::Onnx);
    assert!(onnx.embed_blocking(&[]).unwrap().is_empty());
    // Far past the model's 256 word pieces: truncated, not an error.
    let long = "invoice garden meeting budget ".repeat(400);
    let got = onnx.embed_blocking(&[long, "short".into()]).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|v| v.len() == 384));
}

#[test]
fn a_missing_model_names_make_model() {
    let dir = tempfile::tempdir().unwrap();
    let e = LocalEmbedder::load(dir.path(), EmbedEngine::Onnx)
        .err()
        .expect("an empty folder has no model");
    assert!(e.to_string().contains("ONNX Runtime"), "{e}");
}

#[test]
fn by_default_documents_are_embedded_in_int8_and_queries_in_fp32() {
    use jarvis_core::config::{vars, Config};
    use jarvis_local::stack::LocalStack;
    let data = tempfile::tempdir().unwrap();
    let (data_dir, model) = (
        data.path().display().to_string(),
        model_dir().display().to_string(),
    );
    let config = Config::from_lookup(|k| match k {
        vars::DATA_DIR => Some(data_dir.clone()),
        vars::MODEL_DIR => Some(model.clone()),
        _ => None,
    })
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let (stack, _runs) = LocalStack::open(&config).unwrap();
    assert!(stack.embedder.model_id().ends_with("-int8"));
    assert!(!stack.query_embedder.model_id().ends_with("-int8"));
    let text = vec!["when is the boiler repair invoice due".to_string()];
    let d = rt.block_on(stack.embedder.embed(&text)).unwrap();
    let q = rt.block_on(stack.query_embedder.embed(&text)).unwrap();
    assert!(cosine(&d[0], &q[0]) > 0.97);
}
