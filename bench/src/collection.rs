//! A test collection in the SMART format of the classic collections (CISI,
//! MED, CACM…): records start with `.I <id>`, fields with `.T` (title), `.A`
//! (authors), `.W` (text), `.X`/`.B`/`.K`… (others, ignored here); judgments are
//! `query doc [grade [score]]` lines.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::Path;

/// One document or query of a collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub id: u32,
    pub title: String,
    pub text: String,
}

/// Documents, queries and which documents are relevant to which query.
pub struct Collection {
    pub name: String,
    pub docs: Vec<Record>,
    pub queries: Vec<Record>,
    /// Query id → relevant document ids (binary judgments).
    pub qrels: HashMap<u32, HashSet<u32>>,
}

impl Collection {
    /// Reads `<NAME>.ALL.gz`, `<NAME>.QRY.gz` and `<NAME>.REL.gz` from `dir`.
    pub fn load(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let read = |suffix: &str| -> anyhow::Result<String> {
            let path = dir.join(format!("{name}.{suffix}.gz"));
            let file = std::fs::File::open(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let mut text = String::new();
            flate2::read::GzDecoder::new(file).read_to_string(&mut text)?;
            Ok(text)
        };
        let docs = parse_records(&read("ALL")?);
        let queries = parse_records(&read("QRY")?);
        let qrels = parse_qrels(&read("REL")?);
        anyhow::ensure!(
            !docs.is_empty() && !queries.is_empty() && !qrels.is_empty(),
            "{name}: the collection in {} is empty",
            dir.display()
        );
        Ok(Self {
            name: name.to_owned(),
            docs,
            queries,
            qrels,
        })
    }

    /// The queries that have at least one relevant document, in id order.
    pub fn judged_queries(&self) -> Vec<&Record> {
        self.queries
            .iter()
            .filter(|q| self.qrels.get(&q.id).is_some_and(|r| !r.is_empty()))
            .collect()
    }
}

/// Splits SMART-format text into records; unknown fields are skipped, text is
/// joined with single spaces.
pub fn parse_records(input: &str) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut field = ' ';
    for line in input.lines() {
        if let Some(rest) = line.strip_prefix(".I") {
            if rest.is_empty() || rest.starts_with(' ') {
                if let Ok(id) = rest.trim().parse() {
                    out.push(Record {
                        id,
                        ..Default::default()
                    });
                    field = ' ';
                    continue;
                }
            }
        }
        // A field tag alone on its line (some carry trailing blanks: ".W  ").
        let mut chars = line.trim_end().chars();
        if let (Some('.'), Some(tag), None) = (chars.next(), chars.next(), chars.next()) {
            if tag.is_ascii_uppercase() {
                field = tag;
                continue;
            }
        }
        let Some(record) = out.last_mut() else {
            continue;
        };
        let target = match field {
            'T' => &mut record.title,
            'W' => &mut record.text,
            _ => continue,
        };
        let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if words.is_empty() {
            continue;
        }
        if !target.is_empty() {
            target.push(' ');
        }
        target.push_str(&words);
    }
    out
}

/// `query doc ...` lines into query → relevant documents; lines that are not
/// two numbers first are skipped.
pub fn parse_qrels(input: &str) -> HashMap<u32, HashSet<u32>> {
    let mut out: BTreeMap<u32, HashSet<u32>> = BTreeMap::new();
    for line in input.lines() {
        let mut it = line.split_whitespace().map(str::parse::<u32>);
        if let (Some(Ok(q)), Some(Ok(d))) = (it.next(), it.next()) {
            out.entry(q).or_default().insert(d);
        }
    }
    out.into_iter().collect()
}

/// Normalised discounted cumulative gain at `k`, binary gains.
pub fn ndcg_at(ranking: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, d)| relevant.contains(d))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 {
        0.0
    } else {
        dcg / ideal
    }
}

/// Average precision of the ranking as far as it goes (divided by every relevant document).
pub fn average_precision(ranking: &[u32], relevant: &HashSet<u32>) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let mut hits = 0usize;
    let mut sum = 0.0;
    for (i, d) in ranking.iter().enumerate() {
        if relevant.contains(d) {
            hits += 1;
            sum += hits as f64 / (i + 1) as f64;
        }
    }
    sum / relevant.len() as f64
}

/// Share of the relevant documents found in the first `k`.
pub fn recall_at(ranking: &[u32], relevant: &HashSet<u32>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let found = ranking
        .iter()
        .take(k)
        .filter(|d| relevant.contains(d))
        .count();
    found as f64 / relevant.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_records_keep_title_and_text_only() {
        let input = ".I 1\n.T\nEditions of the\n  Dewey Classification\n.A\nComaromi, J.P.\n.W\n   The present study\nis a history.\n.X\n1\t5\t1\n.I 2\n.W  \nSecond.\n";
        let r = parse_records(input);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].title, "Editions of the Dewey Classification");
        assert_eq!(r[0].text, "The present study is a history.");
        assert_eq!(r[1].id, 2);
        assert_eq!(r[1].title, "");
        assert_eq!(r[1].text, "Second.");
    }

    #[test]
    fn judgments_are_query_then_document() {
        let q = parse_qrels("     1     28\t0\t0.000000\n 1 35 0 0\n2 7\nbad line\n");
        assert_eq!(q[&1], HashSet::from([28, 35]));
        assert_eq!(q[&2], HashSet::from([7]));
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let rel = HashSet::from([1, 3]);
        let ranking = [1, 2, 3];
        // DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3).
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((ndcg_at(&ranking, &rel, 10) - 1.5 / ideal).abs() < 1e-12);
        // AP = (1/1 + 2/3) / 2.
        assert!((average_precision(&ranking, &rel) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(recall_at(&ranking, &rel, 1), 0.5);
        assert_eq!(ndcg_at(&[2, 4], &rel, 10), 0.0);
        assert_eq!(ndcg_at(&[1, 3], &rel, 10), 1.0);
    }
}
