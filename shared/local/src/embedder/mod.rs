//! The local sentence embedder: all-MiniLM-L6-v2 (384 dimensions), on one of
//! two engines chosen by `JARVIS_EMBEDDER`:
//!
//! - [`onnx`]: int8 weights under ONNX Runtime, batched across callers on one
//!   thread: the default when `make model` installed it;
//! - [`fp32`]: fp32 weights in pure Rust (jarvis-minilm): the fallback where
//!   ONNX Runtime has no wheel for the platform.
//!
//! Both produce unit vectors of the same model; `make bench` times them side
//! by side. With `auto` (the default) documents are embedded by the int8
//! engine and search queries by the fp32 one ([`LocalEmbedder::load_for_queries`]):
//! on `make eval` int8 alone lost 1.8% of hybrid nDCG@10 against fp32 alone,
//! fp32 queries over int8 documents 0.8%, for a few milliseconds per query.

pub mod fp32;
pub mod onnx;

pub use self::fp32::Fp32MiniLm;
pub use self::onnx::OnnxMiniLm;

use async_trait::async_trait;
use jarvis_core::config::EmbedEngine;
use jarvis_core::ports::{Embedder, PortResult};
use jarvis_core::PortError;
use std::path::Path;
use std::sync::Arc;

/// The local embedder, on whichever engine was chosen.
#[derive(Clone)]
pub enum LocalEmbedder {
    Onnx(OnnxMiniLm),
    Fp32(Fp32MiniLm),
}

impl LocalEmbedder {
    /// Loads the model in `dir` on `engine` (`Auto`: onnx when installed).
    pub fn load(dir: &Path, engine: EmbedEngine) -> PortResult<Self> {
        let embedder = match engine {
            EmbedEngine::Onnx => Self::Onnx(OnnxMiniLm::load(dir)?),
            EmbedEngine::Fp32 => Self::Fp32(Fp32MiniLm::load(dir)?),
            EmbedEngine::Auto if onnx::installed(dir) => Self::Onnx(OnnxMiniLm::load(dir)?),
            EmbedEngine::Auto => {
                tracing::warn!(
                    model_dir = %dir.display(),
                    "the int8 model or ONNX Runtime is not installed (run `make model`): embedding with the fp32 engine, about half as fast"
                );
                Self::Fp32(Fp32MiniLm::load(dir)?)
            }
        };
        tracing::info!(
            engine = embedder.engine(),
            model = embedder.model_id(),
            "embedding model loaded"
        );
        Ok(embedder)
    }

    /// The embedders for documents and for search queries, as the runtime
    /// loads them: one engine for both, except with `Auto` and int8 documents,
    /// where queries get the fp32 weights (see [`Self::load_for_queries`]).
    pub fn load_pair(dir: &Path, engine: EmbedEngine) -> PortResult<(Arc<Self>, Arc<Self>)> {
        let documents = Arc::new(Self::load(dir, engine)?);
        let queries = match Self::load_for_queries(dir, engine, &documents)? {
            Some(q) => Arc::new(q),
            None => documents.clone(),
        };
        Ok((documents, queries))
    }

    /// The engine for search queries beside `documents`, when it differs: with
    /// `Auto` and int8 documents, the fp32 weights (a query is one short text,
    /// so the precision costs little time and buys back most of what int8
    /// loses in ranking). `None`: queries go to `documents` as well.
    fn load_for_queries(
        dir: &Path,
        engine: EmbedEngine,
        documents: &LocalEmbedder,
    ) -> PortResult<Option<Self>> {
        if engine != EmbedEngine::Auto || !matches!(documents, Self::Onnx(_)) {
            return Ok(None);
        }
        match Fp32MiniLm::load(dir) {
            Ok(fp32) => Ok(Some(Self::Fp32(fp32))),
            Err(e) => {
                tracing::warn!(error = %e, "queries are embedded with the int8 model too");
                Ok(None)
            }
        }
    }

    /// `onnxruntime (int8)` or `rust (fp32)`.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Onnx(_) => "onnxruntime (int8)",
            Self::Fp32(_) => "rust (fp32)",
        }
    }

    /// Embeds synchronously (call from a blocking thread).
    pub fn embed_blocking(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        match self {
            Self::Onnx(m) => m.embed_blocking(texts),
            Self::Fp32(m) => m.embed_blocking(texts),
        }
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (this, texts) = (self.clone(), texts.to_vec());
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|e| PortError::backend("embedder", e))?
    }

    fn dimensions(&self) -> usize {
        match self {
            Self::Onnx(m) => m.dimensions(),
            Self::Fp32(m) => m.dimensions(),
        }
    }

    fn model_id(&self) -> &str {
        match self {
            Self::Onnx(m) => m.model_id(),
            Self::Fp32(m) => m.model_id(),
        }
    }
}
