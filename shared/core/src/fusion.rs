//! Fusing a keyword (BM25) ranking with a vector (k-NN) ranking into one list:
//! reciprocal rank fusion by default, or min-max normalised weighted scores.

use std::collections::HashMap;

/// How the two rankings are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FusionMode {
    /// `score = Σ weight / (k + rank)`; robust to the lists' different score scales.
    ReciprocalRank { k: f32 },
    /// Each list's scores min-max normalised to 0..1, then weighted and summed.
    NormalizedScores,
}

/// Fusion settings; weights apply in both modes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionConfig {
    pub mode: FusionMode,
    pub bm25_weight: f32,
    pub vector_weight: f32,
}

/// RRF's k, chosen on `make eval` (CISI: the fusion grid's best on the odd
/// queries, nDCG@10 0.455, and as good on the even ones it was not chosen on).
pub const DEFAULT_RRF_K: f32 = 40.0;
/// The keyword list's weight against the vector list's 1.0 (same grid).
pub const DEFAULT_BM25_WEIGHT: f32 = 0.75;
pub const DEFAULT_VECTOR_WEIGHT: f32 = 1.0;

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            mode: FusionMode::ReciprocalRank { k: DEFAULT_RRF_K },
            bm25_weight: DEFAULT_BM25_WEIGHT,
            vector_weight: DEFAULT_VECTOR_WEIGHT,
        }
    }
}

impl FusionConfig {
    /// From configuration words: mode `rrf` or `weighted`.
    pub fn parse(
        mode: &str,
        bm25_weight: f32,
        vector_weight: f32,
        rrf_k: f32,
    ) -> Result<Self, String> {
        let mode = match mode {
            "rrf" => FusionMode::ReciprocalRank { k: rrf_k },
            "weighted" => FusionMode::NormalizedScores,
            other => {
                return Err(format!(
                    "unknown fusion mode {other:?}; use \"rrf\" or \"weighted\""
                ))
            }
        };
        let ok = |w: f32| w.is_finite() && w >= 0.0;
        if !ok(bm25_weight) || !ok(vector_weight) || bm25_weight + vector_weight <= 0.0 {
            return Err("weights must be non-negative and not both zero".into());
        }
        if !(rrf_k.is_finite() && rrf_k > 0.0) {
            return Err("the RRF k must be positive".into());
        }
        Ok(Self {
            mode,
            bm25_weight,
            vector_weight,
        })
    }
}

/// One entry of a ranking, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub id: String,
    pub score: f32,
}

/// One fused result.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub id: String,
    pub score: f32,
    /// 1-based rank in the keyword list, if present there.
    pub bm25_rank: Option<usize>,
    /// 1-based rank in the vector list, if present there.
    pub vector_rank: Option<usize>,
}

/// Fuses two rankings (each best first) into one, best first; ties broken by id
/// so the order is deterministic.
pub fn fuse(bm25: &[Ranked], vector: &[Ranked], config: &FusionConfig) -> Vec<Fused> {
    let mut by_id: HashMap<String, Fused> = HashMap::new();
    let mut add = |list: &[Ranked], weight: f32, is_bm25: bool| {
        let (min, max) = list
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), r| {
                (lo.min(r.score), hi.max(r.score))
            });
        for (i, r) in list.iter().enumerate() {
            let rank = i + 1;
            let contribution = match config.mode {
                FusionMode::ReciprocalRank { k } => weight / (k + rank as f32),
                FusionMode::NormalizedScores => {
                    let norm = if max > min {
                        (r.score - min) / (max - min)
                    } else {
                        1.0
                    };
                    weight * norm
                }
            };
            let entry = by_id.entry(r.id.clone()).or_insert_with(|| Fused {
                id: r.id.clone(),
                score: 0.0,
                bm25_rank: None,
                vector_rank: None,
            });
            entry.score += contribution;
            if is_bm25 {
                entry.bm25_rank.get_or_insert(rank);
            } else {
                entry.vector_rank.get_or_insert(rank);
            }
        }
    };
    add(bm25, config.bm25_weight, true);
    add(vector, config.vector_weight, false);
    let mut out: Vec<Fused> = by_id.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&str]) -> Vec<Ranked> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| Ranked {
                id: id.to_string(),
                score: 10.0 - i as f32,
            })
            .collect()
    }

    #[test]
    fn rrf_rewards_agreement_between_lists() {
        let fused = fuse(
            &list(&["a", "b", "c"]),
            &list(&["c", "b", "d"]),
            &FusionConfig::default(),
        );
        // b is 2nd in both; c is 3rd and 1st; a is 1st in one list only.
        assert_eq!(fused[0].id, "c");
        assert_eq!(fused[1].id, "b");
        assert_eq!(fused.len(), 4);
        assert_eq!(fused[0].bm25_rank, Some(3));
        assert_eq!(fused[0].vector_rank, Some(1));
    }

    #[test]
    fn weights_can_silence_a_list() {
        let cfg = FusionConfig::parse("rrf", 0.0, 1.0, 60.0).unwrap();
        let fused = fuse(&list(&["a"]), &list(&["z"]), &cfg);
        assert_eq!(fused[0].id, "z");
        assert_eq!(fused[1].score, 0.0);
    }

    #[test]
    fn normalized_mode_uses_scores() {
        let cfg = FusionConfig::parse("weighted", 1.0, 1.0, 60.0).unwrap();
        let bm25 = vec![
            Ranked {
                id: "a".into(),
                score: 100.0,
            },
            Ranked {
                id: "b".into(),
                score: 95.0,
            },
            Ranked {
                id: "c".into(),
                score: 0.0,
            },
        ];
        let vec = vec![
            Ranked {
                id: "b".into(),
                score: 0.9,
            },
            Ranked {
                id: "a".into(),
                score: 0.1,
            },
        ];
        let fused = fuse(&bm25, &vec, &cfg);
        assert_eq!(fused[0].id, "b");
        assert!((fused[0].score - 1.95).abs() < 1e-5);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(FusionConfig::parse("rrf", -1.0, 1.0, 60.0).is_err());
        assert!(FusionConfig::parse("rrf", 0.0, 0.0, 60.0).is_err());
        assert!(FusionConfig::parse("rrf", 1.0, 1.0, 0.0).is_err());
    }
}
