//! Top-k BM25 inside a scope (a tenant and its filters) without giving up
//! block-max WAND.
//!
//! Tantivy prunes a top-k search only when the query is a plain union of
//! terms. A `Must` clause for the tenant turns it into an intersection, which
//! scores every matching chunk of the tenant: at 100k chunks that was most of
//! a search's time. Here the words run as the plain union, pruned, and the
//! scope is a bitset per segment that each candidate is checked against: a
//! candidate outside the scope never raises the threshold, so the result is
//! exactly the top k of the scope.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{EnableScoring, Query, TermQuery, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocAddress, DocId, DocSet, Score, Searcher, SegmentOrdinal, SegmentReader, Term, TERMINATED,
};

/// The `limit` best-scoring documents that `scope` matches.
pub struct ScopedTopDocs<'a> {
    /// The scope's weight, built without scoring.
    pub scope: &'a dyn Weight,
    pub limit: usize,
}

/// A candidate, ordered best first: higher score, then lower address.
#[derive(Clone, Copy, PartialEq)]
struct Candidate {
    score: Score,
    doc: DocId,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed, so that the heap's top is the worst candidate kept.
        other
            .score
            .total_cmp(&self.score)
            .then(self.doc.cmp(&other.doc))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub struct ScopedSegment {
    segment: SegmentOrdinal,
    /// One bit per document of the segment: in scope and not deleted.
    in_scope: Vec<u64>,
    limit: usize,
    kept: BinaryHeap<Candidate>,
}

impl ScopedSegment {
    fn contains(&self, doc: DocId) -> bool {
        self.in_scope
            .get(doc as usize / 64)
            .is_some_and(|w| w & (1 << (doc % 64)) != 0)
    }

    /// Keeps `doc` if it is in scope and among the best so far; returns the
    /// score a document must now beat.
    fn offer(&mut self, doc: DocId, score: Score) -> Score {
        if self.limit > 0 && self.contains(doc) {
            let c = Candidate { score, doc };
            if self.kept.len() < self.limit {
                self.kept.push(c);
            } else if self.kept.peek().is_some_and(|worst| c < *worst) {
                self.kept.pop();
                self.kept.push(c);
            }
        }
        self.threshold()
    }

    fn threshold(&self) -> Score {
        match self.kept.peek() {
            Some(worst) if self.kept.len() >= self.limit => worst.score,
            _ => Score::MIN,
        }
    }
}

impl SegmentCollector for ScopedSegment {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.offer(doc, score);
    }

    fn harvest(self) -> Self::Fruit {
        let segment = self.segment;
        self.kept
            .into_sorted_vec()
            .into_iter()
            .map(|c| (c.score, DocAddress::new(segment, c.doc)))
            .collect()
    }
}

impl Collector for ScopedTopDocs<'_> {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = ScopedSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<ScopedSegment> {
        let mut in_scope = vec![0u64; (reader.max_doc() as usize).div_ceil(64)];
        let alive = reader.alive_bitset();
        self.scope.for_each_no_score(reader, &mut |docs| {
            for &d in docs {
                if alive.is_none_or(|a| a.is_alive(d)) {
                    in_scope[d as usize / 64] |= 1 << (d % 64);
                }
            }
        })?;
        Ok(ScopedSegment {
            segment,
            in_scope,
            limit: self.limit,
            kept: BinaryHeap::with_capacity(self.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(self.limit);
        Ok(all)
    }

    /// The words' weight runs pruned: only documents that could enter the top
    /// k are scored, and only those in scope are kept.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let mut child = self.for_segment(segment, reader)?;
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            child.offer(doc, score)
        })?;
        Ok(child.harvest())
    }
}

/// The BM25 score the words give each live document whose `id_field` holds
/// one of `ids` and whose tenant field holds `tenant`, as (index into `ids`,
/// score), looked up rather than searched. `words` are the flat union's terms
/// with their boosts; the union's score is the sum of its matching terms'
/// scores, so each term's own scorer seeks to each document and adds its
/// part (a union scorer would score a whole window of documents per seek).
/// A document none of the words matches is absent. Scores are the ones a
/// search gives (same statistics, same per-term scorers).
pub fn score_by_id(
    searcher: &Searcher,
    words: &[(Term, Score)],
    id_field: Field,
    ids: &[String],
    tenant: &Term,
) -> tantivy::Result<Vec<(usize, Score)>> {
    let scoring = EnableScoring::enabled_from_searcher(searcher);
    let weights = words
        .iter()
        .map(|(term, boost)| {
            let query = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
            Ok((query.weight(scoring)?, *boost))
        })
        .collect::<tantivy::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for reader in searcher.segment_readers() {
        let alive = reader.alive_bitset();
        let by_id = reader.inverted_index(id_field)?;
        let mut docs: Vec<(DocId, usize)> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let term = Term::from_field_text(id_field, id);
            if let Some(mut postings) = by_id.read_postings(&term, IndexRecordOption::Basic)? {
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        docs.push((doc, i));
                    }
                    doc = postings.advance();
                }
            }
        }
        let Some(mut of_tenant) = reader
            .inverted_index(tenant.field())?
            .read_postings(tenant, IndexRecordOption::Basic)?
        else {
            continue;
        };
        docs.sort_unstable();
        docs.retain(|(doc, _)| seek(&mut of_tenant, *doc) == *doc);
        if docs.is_empty() {
            continue;
        }
        let mut sums: Vec<Option<Score>> = vec![None; docs.len()];
        for (weight, boost) in &weights {
            let mut scorer = weight.scorer(reader, *boost)?;
            for ((doc, _), sum) in docs.iter().zip(sums.iter_mut()) {
                if seek(&mut *scorer, *doc) == *doc {
                    *sum = Some(sum.unwrap_or(0.0) + scorer.score());
                }
            }
        }
        out.extend(
            docs.iter()
                .zip(sums)
                .filter_map(|((_, i), sum)| Some((*i, sum?))),
        );
    }
    Ok(out)
}

/// Moves `docs` to the first document at or after `target` (never back).
fn seek(docs: &mut dyn DocSet, target: DocId) -> DocId {
    if docs.doc() < target {
        docs.seek(target)
    } else {
        docs.doc()
    }
}
