//! Fusing a keyword (BM25) ranking with a vector (k-NN) ranking into one list:
//! a weighted sum of standardised scores by default (every candidate scored on
//! both sides), or reciprocal rank fusion.

use std::collections::HashMap;

/// How the two rankings are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FusionMode {
    /// `score = Σ weight / (k + rank)`; ranks only, robust to the lists' scales.
    ReciprocalRank { k: f32 },
    /// Each side's scores standardised over the candidates (the union of both
    /// lists: minus their mean, over their standard deviation), weighted,
    /// summed and squashed into 0..1 by the logistic function. A candidate one
    /// list lacks is scored on that side too when the index can (see
    /// [`Completion`]): its true BM25 score (0 when no word matches) or its true
    /// similarity, not a guess.
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
/// queries, and as good on the even ones it was not chosen on).
pub const DEFAULT_RRF_K: f32 = 40.0;
/// The keyword list's weight against the vector list's 1.0 under RRF (same grid).
pub const DEFAULT_RRF_BM25_WEIGHT: f32 = 0.75;
/// The keyword side's weight against the vector side's 1.0 under normalised
/// scores: the middle of the plateau of `make eval`'s grid (0.5–0.75 within
/// 0.002 nDCG@10 on CISI; see docs/testing.md, "Search quality").
pub const DEFAULT_WEIGHTED_BM25_WEIGHT: f32 = 0.6;
pub const DEFAULT_VECTOR_WEIGHT: f32 = 1.0;

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            mode: FusionMode::NormalizedScores,
            bm25_weight: DEFAULT_WEIGHTED_BM25_WEIGHT,
            vector_weight: DEFAULT_VECTOR_WEIGHT,
        }
    }
}

impl FusionConfig {
    /// The keyword weight a mode word takes when none is set.
    pub fn default_bm25_weight(mode: &str) -> f32 {
        match mode {
            "rrf" => DEFAULT_RRF_BM25_WEIGHT,
            _ => DEFAULT_WEIGHTED_BM25_WEIGHT,
        }
    }

    /// From configuration words: mode `weighted` or `rrf`.
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
                    "unknown fusion mode {other:?}; use \"weighted\" or \"rrf\""
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

    /// Whether fusion uses a candidate's score on the side whose list lacks
    /// it, so the index should look those scores up ([`missing`]).
    pub fn completes_scores(&self) -> bool {
        self.mode == FusionMode::NormalizedScores
    }
}

/// Scores of candidates one list lacks, looked up on that side by the index
/// (chunk id → score, on the same scale as that side's list). A candidate
/// asked for on the keyword side and matching none of the words scores 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub bm25: HashMap<String, f32>,
    pub vector: HashMap<String, f32>,
}

impl Completion {
    /// From an index's lookups: `asked_bm25`, the ids looked up on the keyword
    /// side (one not `found_bm25` matches no word: a BM25 score of 0), and the
    /// similarities `found_vector` looked up on the vector side.
    pub fn from_lookups(
        asked_bm25: Vec<String>,
        found_bm25: Vec<Ranked>,
        found_vector: Vec<Ranked>,
    ) -> Self {
        let mut bm25: HashMap<String, f32> = asked_bm25.into_iter().map(|id| (id, 0.0)).collect();
        bm25.extend(found_bm25.into_iter().map(|r| (r.id, r.score)));
        let vector = found_vector.into_iter().map(|r| (r.id, r.score)).collect();
        Self { bm25, vector }
    }
}

/// The candidates each list lacks: (to score on the keyword side, to score on
/// the vector side), each in the other list's order.
pub fn missing(bm25: &[Ranked], vector: &[Ranked]) -> (Vec<String>, Vec<String>) {
    let in_bm25: std::collections::HashSet<&str> = bm25.iter().map(|r| r.id.as_str()).collect();
    let in_vector: std::collections::HashSet<&str> = vector.iter().map(|r| r.id.as_str()).collect();
    let lacking = |list: &[Ranked], other: &std::collections::HashSet<&str>| -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        list.iter()
            .filter(|r| !other.contains(r.id.as_str()) && seen.insert(r.id.as_str()))
            .map(|r| r.id.clone())
            .collect()
    };
    (lacking(vector, &in_bm25), lacking(bm25, &in_vector))
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

fn mean_and_sd(xs: &[f32]) -> (f32, f32) {
    let n = xs.len().max(1) as f32;
    let mean = xs.iter().sum::<f32>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    (mean, var.sqrt())
}

/// Fuses two rankings (each best first) into one, best first; ties broken by id
/// so the order is deterministic. `completion` holds the scores of candidates
/// a list lacks (normalised-scores mode; RRF ignores it). Under normalised
/// scores a fused score lies in 0..1.
pub fn fuse(
    bm25: &[Ranked],
    vector: &[Ranked],
    completion: &Completion,
    config: &FusionConfig,
) -> Vec<Fused> {
    let mut by_id: HashMap<&str, Fused> = HashMap::new();
    for (list, is_bm25) in [(bm25, true), (vector, false)] {
        for (i, r) in list.iter().enumerate() {
            let entry = by_id.entry(r.id.as_str()).or_insert_with(|| Fused {
                id: r.id.clone(),
                score: 0.0,
                bm25_rank: None,
                vector_rank: None,
            });
            let rank = if is_bm25 {
                &mut entry.bm25_rank
            } else {
                &mut entry.vector_rank
            };
            if rank.is_none() {
                *rank = Some(i + 1);
                entry.score += match config.mode {
                    FusionMode::ReciprocalRank { k } => {
                        let weight = if is_bm25 {
                            config.bm25_weight
                        } else {
                            config.vector_weight
                        };
                        weight / (k + (i + 1) as f32)
                    }
                    FusionMode::NormalizedScores => 0.0,
                };
            }
        }
    }
    if config.mode == FusionMode::NormalizedScores {
        let sides = [
            (bm25, &completion.bm25, config.bm25_weight),
            (vector, &completion.vector, config.vector_weight),
        ];
        // A side that ran (a list or looked-up scores) counts; the other does not.
        let total: f32 = sides
            .iter()
            .filter(|(list, extra, _)| !list.is_empty() || !extra.is_empty())
            .map(|(_, _, w)| w)
            .sum();
        for (list, extra, weight) in sides {
            if (list.is_empty() && extra.is_empty()) || total <= 0.0 {
                continue;
            }
            let listed: HashMap<&str, f32> = list
                .iter()
                .rev()
                .map(|r| (r.id.as_str(), r.score))
                .collect();
            let known = |id: &str| listed.get(id).or_else(|| extra.get(id)).copied();
            // Not looked up: as low as the lowest candidate on this side.
            let floor = by_id
                .keys()
                .filter_map(|id| known(id))
                .fold(f32::INFINITY, f32::min);
            if !floor.is_finite() {
                continue;
            }
            let side: Vec<f32> = by_id.keys().map(|id| known(id).unwrap_or(floor)).collect();
            let (mean, sd) = mean_and_sd(&side);
            for (id, entry) in by_id.iter_mut() {
                let s = known(id).unwrap_or(floor);
                let z = if sd > 0.0 { (s - mean) / sd } else { 0.0 };
                entry.score += weight / total * z;
            }
        }
        // The weighted standard scores, squashed into 0..1 (order unchanged).
        for entry in by_id.values_mut() {
            entry.score = 1.0 / (1.0 + (-entry.score).exp());
        }
    }
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
        let cfg = FusionConfig::parse("rrf", DEFAULT_RRF_BM25_WEIGHT, 1.0, DEFAULT_RRF_K).unwrap();
        let fused = fuse(
            &list(&["a", "b", "c"]),
            &list(&["c", "b", "d"]),
            &Completion::default(),
            &cfg,
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
        let fused = fuse(&list(&["a"]), &list(&["z"]), &Completion::default(), &cfg);
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
        let fused = fuse(&bm25, &vec, &Completion::default(), &cfg);
        // Standard scores: keywords a 0.75, b 0.66, c −1.41; vectors b 1.41 and
        // a, c −0.71 (c, not looked up, counts as the lowest seen, 0.1).
        let ids: Vec<_> = fused.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        let logistic = |x: f32| 1.0 / (1.0 + (-x).exp());
        let z = |x: f32, xs: [f32; 3]| {
            let m = xs.iter().sum::<f32>() / 3.0;
            let sd = (xs.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / 3.0).sqrt();
            (x - m) / sd
        };
        let (kw, vecs) = ([100.0, 95.0, 0.0], [0.1, 0.9, 0.1]);
        let b = logistic((z(95.0, kw) + z(0.9, vecs)) / 2.0);
        assert!(
            (fused[0].score - b).abs() < 1e-5,
            "{} vs {b}",
            fused[0].score
        );
        assert_eq!(fused[2].vector_rank, None);
    }

    fn scored(pairs: &[(&str, f32)]) -> Vec<Ranked> {
        pairs
            .iter()
            .map(|(id, score)| Ranked {
                id: id.to_string(),
                score: *score,
            })
            .collect()
    }

    #[test]
    fn looked_up_scores_replace_the_guess_for_a_candidate_one_list_lacks() {
        let cfg = FusionConfig::parse("weighted", 1.0, 1.0, 60.0).unwrap();
        // a: first on keywords, not among the nearest vectors, yet close (0.85).
        // c: first among the vectors, matching no word at all.
        let bm25 = scored(&[("a", 10.0), ("b", 9.0), ("d", 1.0)]);
        let vector = scored(&[("c", 0.9), ("b", 0.8), ("d", 0.1)]);
        assert_eq!(
            missing(&bm25, &vector),
            (vec!["c".to_string()], vec!["a".to_string()])
        );
        let guessed = fuse(&bm25, &vector, &Completion::default(), &cfg);
        let completion = Completion {
            bm25: [("c".to_string(), 0.0)].into(),
            vector: [("a".to_string(), 0.85)].into(),
        };
        let completed = fuse(&bm25, &vector, &completion, &cfg);
        let order = |f: &[Fused]| f.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
        // Guessed, a's similarity is the lowest seen (0.1), so b, good on both, leads.
        assert_eq!(order(&guessed)[0], "b");
        // Looked up, a is close to the query as well and comes first.
        assert_eq!(order(&completed), ["a", "b", "c", "d"]);
        // Ranks are positions in the lists, never in the looked-up scores.
        assert_eq!(
            (completed[0].bm25_rank, completed[0].vector_rank),
            (Some(1), None)
        );
        for f in &completed {
            assert!(f.score > 0.0 && f.score < 1.0, "{f:?}");
        }
    }

    #[test]
    fn one_side_alone_keeps_its_order() {
        let cfg = FusionConfig::default();
        let only = scored(&[("x", 3.0), ("y", 2.0), ("z", 1.0)]);
        for (bm25, vector) in [(&only[..], &[][..]), (&[][..], &only[..])] {
            let fused = fuse(bm25, vector, &Completion::default(), &cfg);
            let ids: Vec<_> = fused.iter().map(|f| f.id.as_str()).collect();
            assert_eq!(ids, ["x", "y", "z"]);
            // y is the mean: a standard score of 0, ½ once squashed.
            assert_eq!(fused[1].score, 0.5);
        }
    }

    #[test]
    fn the_default_is_normalised_scores_and_rrf_keeps_its_own_weight() {
        assert!(FusionConfig::default().completes_scores());
        assert_eq!(
            FusionConfig::default_bm25_weight("rrf"),
            DEFAULT_RRF_BM25_WEIGHT
        );
        assert_eq!(
            FusionConfig::default_bm25_weight("weighted"),
            FusionConfig::default().bm25_weight
        );
        let rrf = FusionConfig::parse("rrf", 0.75, 1.0, 40.0).unwrap();
        assert!(!rrf.completes_scores());
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(FusionConfig::parse("rrf", -1.0, 1.0, 60.0).is_err());
        assert!(FusionConfig::parse("rrf", 0.0, 0.0, 60.0).is_err());
        assert!(FusionConfig::parse("rrf", 1.0, 1.0, 0.0).is_err());
    }
}
