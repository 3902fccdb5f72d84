//! The query embedding cache: people ask the same thing again (paging, a
//! retried request, the chat's own searches), and a query's vector costs a
//! model call (~10 ms locally, a Bedrock request on AWS). An [`Embedder`] that
//! remembers the vectors of the last queries it embedded, by exact text.

use crate::ports::{Embedder, PortResult};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Queries remembered by default (384 floats each: ~1.6 MB for 1,024).
pub const DEFAULT_CAPACITY: usize = 1024;

struct Entry {
    vector: Vec<f32>,
    used: u64,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    tick: u64,
}

/// Wraps an embedder; only single-text calls (queries) are cached, batches
/// (ingestion) pass straight through.
pub struct QueryEmbeddingCache {
    inner: Arc<dyn Embedder>,
    capacity: usize,
    lru: Mutex<Lru>,
}

impl QueryEmbeddingCache {
    pub fn new(inner: Arc<dyn Embedder>, capacity: usize) -> Self {
        Self {
            inner,
            capacity: capacity.max(1),
            lru: Mutex::new(Lru::default()),
        }
    }

    fn get(&self, text: &str) -> Option<Vec<f32>> {
        let mut lru = self.lru.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let tick = lru.tick;
        let e = lru.entries.get_mut(text)?;
        e.used = tick;
        Some(e.vector.clone())
    }

    fn put(&self, text: String, vector: Vec<f32>) {
        let mut lru = self.lru.lock().unwrap_or_else(|p| p.into_inner());
        lru.tick += 1;
        let used = lru.tick;
        if lru.entries.len() >= self.capacity && !lru.entries.contains_key(&text) {
            // The least recently used goes; a scan, rare and over ~1k entries.
            if let Some(oldest) = lru
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                lru.entries.remove(&oldest);
            }
        }
        lru.entries.insert(text, Entry { vector, used });
    }

    /// Queries held now.
    pub fn len(&self) -> usize {
        self.lru
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Embedder for QueryEmbeddingCache {
    async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        let [text] = texts else {
            return self.inner.embed(texts).await;
        };
        if let Some(v) = self.get(text) {
            return Ok(vec![v]);
        }
        let out = self.inner.embed(texts).await?;
        if let [v] = out.as_slice() {
            self.put(text.clone(), v.clone());
        }
        Ok(out)
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);

    #[async_trait]
    impl Embedder for Counting {
        async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
        fn dimensions(&self) -> usize {
            1
        }
        fn model_id(&self) -> &str {
            "counting"
        }
    }

    #[tokio::test]
    async fn a_repeated_query_is_embedded_once_and_the_least_recent_goes_first() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = QueryEmbeddingCache::new(inner.clone(), 2);
        let q = |s: &str| vec![s.to_owned()];
        assert_eq!(cache.embed(&q("tax")).await.unwrap(), vec![vec![3.0]]);
        assert_eq!(cache.embed(&q("tax")).await.unwrap(), vec![vec![3.0]]);
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
        cache.embed(&q("garden")).await.unwrap();
        cache.embed(&q("tax")).await.unwrap(); // tax is now the most recent
        cache.embed(&q("roof")).await.unwrap(); // evicts garden
        assert_eq!(cache.len(), 2);
        cache.embed(&q("tax")).await.unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 3, "tax stayed cached");
        cache.embed(&q("garden")).await.unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 4, "garden had gone");
        // Batches are ingestion: never cached.
        cache
            .embed(&["a".to_owned(), "b".to_owned()])
            .await
            .unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 6);
        assert_eq!(cache.len(), 2);
    }
}
