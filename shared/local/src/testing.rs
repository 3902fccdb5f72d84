//! Test doubles. Not wired anywhere in the product: the local runtime always
//! uses the real model. Tests of handler logic and the benchmarks' index-only
//! figures use this to stay independent of model speed.

use async_trait::async_trait;
use jarvis_core::ports::{Embedder, PortResult};
use sha2::{Digest, Sha256};

/// Feature-hashing bag-of-words embedder: texts sharing words get similar
/// vectors. Deterministic; no semantics beyond shared words.
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    pub dims: usize,
}

impl HashingEmbedder {
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dims];
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let h = Sha256::digest(word.to_lowercase().as_bytes());
            let i = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize % self.dims;
            v[i] += if h[4] & 1 == 0 { 1.0 } else { -1.0 };
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

#[async_trait]
impl Embedder for HashingEmbedder {
    async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    fn model_id(&self) -> &str {
        "test/hashing"
    }
}
