//! The reference the evaluation compares against: Okapi BM25 (k1 1.2, b 0.75)
//! over title and text as one field, with lower-casing, Lucene's English stop
//! words and the Snowball English (Porter2) stemmer. Written here, apart from
//! the product's index, so that a change to the product cannot move it.

use crate::collection::Record;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap;

/// Lucene's default English stop set.
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

pub struct Bm25 {
    k1: f64,
    b: f64,
    stemmer: Stemmer,
    ids: Vec<u32>,
    lengths: Vec<f64>,
    avg_len: f64,
    /// term → (doc index, term frequency)
    postings: HashMap<String, Vec<(usize, u32)>>,
}

impl Bm25 {
    pub fn new(docs: &[Record]) -> Self {
        let mut this = Self {
            k1: 1.2,
            b: 0.75,
            stemmer: Stemmer::create(Algorithm::English),
            ids: Vec::new(),
            lengths: Vec::new(),
            avg_len: 0.0,
            postings: HashMap::new(),
        };
        for (i, d) in docs.iter().enumerate() {
            let terms = this.analyze(&format!("{} {}", d.title, d.text));
            let mut tf: HashMap<String, u32> = HashMap::new();
            for t in &terms {
                *tf.entry(t.clone()).or_default() += 1;
            }
            for (t, n) in tf {
                this.postings.entry(t).or_default().push((i, n));
            }
            this.ids.push(d.id);
            this.lengths.push(terms.len() as f64);
        }
        this.avg_len = this.lengths.iter().sum::<f64>() / this.lengths.len().max(1) as f64;
        this
    }

    fn analyze(&self, text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .filter(|w| !STOP.contains(&w.as_str()))
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }

    /// Document ids, best first, at most `k`.
    pub fn search(&self, query: &str, k: usize) -> Vec<u32> {
        let n = self.ids.len() as f64;
        let mut scores = vec![0.0f64; self.ids.len()];
        for term in self.analyze(query) {
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for &(doc, tf) in list {
                let tf = tf as f64;
                let norm = self.k1 * (1.0 - self.b + self.b * self.lengths[doc] / self.avg_len);
                scores[doc] += idf * tf * (self.k1 + 1.0) / (tf + norm);
            }
        }
        let mut ranked: Vec<(f64, usize)> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .map(|(i, s)| (s, i))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked
            .into_iter()
            .take(k)
            .map(|(_, i)| self.ids[i])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemmed_terms_match_and_rare_terms_weigh_more() {
        let docs = vec![
            Record {
                id: 1,
                title: "Indexing".into(),
                text: "indexes of libraries".into(),
            },
            Record {
                id: 2,
                title: "Catalogues".into(),
                text: "the library catalogue".into(),
            },
            Record {
                id: 3,
                title: "Other".into(),
                text: "nothing relevant".into(),
            },
        ];
        let bm25 = Bm25::new(&docs);
        assert_eq!(bm25.search("indexed", 10), vec![1]);
        assert_eq!(bm25.search("the catalogues", 10), vec![2]);
        assert_eq!(bm25.search("library", 10).len(), 2);
        assert!(bm25.search("the of", 10).is_empty());
    }
}
