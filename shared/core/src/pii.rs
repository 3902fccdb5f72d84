//! Local PII detection and redaction: e-mail addresses, phone numbers, payment
//! card numbers (Luhn-checked), IBANs (mod-97-checked) and national-id patterns
//! (US SSN, UK National Insurance number, Spanish DNI with its check letter).

use crate::domain::PiiKind;
use regex::Regex;
use std::sync::OnceLock;

/// A detected value: byte range in the text and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiiEntity {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

struct Patterns {
    email: Regex,
    card: Regex,
    iban: Regex,
    ssn: Regex,
    nino: Regex,
    dni: Regex,
    phone: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        email: Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b").expect("regex"),
        card: Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").expect("regex"),
        iban: Regex::new(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b").expect("regex"),
        ssn: Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").expect("regex"),
        nino: Regex::new(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b").expect("regex"),
        dni: Regex::new(r"\b\d{8}-?[A-Z]\b").expect("regex"),
        phone: Regex::new(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}\b|\+\d{8,14}\b").expect("regex"),
    })
}

/// Finds PII in `text`. Overlaps resolve to the first, most specific match
/// (cards and IBANs before phone numbers).
pub fn detect(text: &str) -> Vec<PiiEntity> {
    let p = patterns();
    let mut found: Vec<PiiEntity> = Vec::new();
    let mut push = |kind, m: regex::Match<'_>| {
        if !found.iter().any(|e| m.start() < e.end && e.start < m.end()) {
            found.push(PiiEntity {
                kind,
                start: m.start(),
                end: m.end(),
            });
        }
    };
    for m in p.email.find_iter(text) {
        push(PiiKind::Email, m);
    }
    for m in p.iban.find_iter(text) {
        if iban_valid(m.as_str()) {
            push(PiiKind::Iban, m);
        }
    }
    for m in p.card.find_iter(text) {
        if luhn_valid(m.as_str()) {
            push(PiiKind::CardNumber, m);
        }
    }
    for m in p.ssn.find_iter(text) {
        push(PiiKind::NationalId, m);
    }
    for m in p.nino.find_iter(text) {
        push(PiiKind::NationalId, m);
    }
    for m in p.dni.find_iter(text) {
        if dni_valid(m.as_str()) {
            push(PiiKind::NationalId, m);
        }
    }
    for m in p.phone.find_iter(text) {
        let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
        if (7..=15).contains(&digits) && !looks_like_date(m.as_str()) {
            push(PiiKind::Phone, m);
        }
    }
    found.sort_by_key(|e| e.start);
    found
}

/// The distinct kinds in `entities`, sorted.
pub fn kinds(entities: &[PiiEntity]) -> Vec<PiiKind> {
    let mut k: Vec<PiiKind> = entities.iter().map(|e| e.kind).collect();
    k.sort();
    k.dedup();
    k
}

/// `text` with every entity replaced by its kind's placeholder.
pub fn redact(text: &str, entities: &[PiiEntity]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in entities {
        if e.start < at {
            continue;
        }
        out.push_str(&text[at..e.start]);
        out.push_str(e.kind.placeholder());
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The Luhn checksum over the digits of `s` (13 to 19 digits).
pub fn luhn_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ISO 13616 mod-97 check of an IBAN (spaces allowed).
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn dni_valid(s: &str) -> bool {
    const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let letter = s.chars().last().unwrap_or(' ') as u8;
    digits
        .parse::<u32>()
        .is_ok_and(|n| LETTERS[(n % 23) as usize] == letter)
}

fn looks_like_date(s: &str) -> bool {
    static DATE: OnceLock<Regex> = OnceLock::new();
    DATE.get_or_init(|| {
        Regex::new(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")
            .expect("regex")
    })
    .is_match(s.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_in(text: &str) -> Vec<PiiKind> {
        kinds(&detect(text))
    }

    #[test]
    fn finds_each_kind() {
        assert_eq!(
            kinds_in("write to ana.lopez@example.com today"),
            vec![PiiKind::Email]
        );
        assert_eq!(
            kinds_in("card 4111 1111 1111 1111 exp 12/29"),
            vec![PiiKind::CardNumber]
        );
        assert_eq!(
            kinds_in("IBAN GB82 WEST 1234 5698 7654 32 please"),
            vec![PiiKind::Iban]
        );
        assert_eq!(kinds_in("SSN 123-45-6789"), vec![PiiKind::NationalId]);
        assert_eq!(
            kinds_in("NI number AB 12 34 56 C"),
            vec![PiiKind::NationalId]
        );
        assert_eq!(kinds_in("DNI 12345678Z"), vec![PiiKind::NationalId]);
        assert_eq!(
            kinds_in("call +34 612 345 678 after 5"),
            vec![PiiKind::Phone]
        );
        assert_eq!(kinds_in("call (555) 123-4567"), vec![PiiKind::Phone]);
    }

    #[test]
    fn checksums_reject_lookalikes() {
        assert!(kinds_in("order 4111 1111 1111 1112")
            .iter()
            .all(|k| *k != PiiKind::CardNumber));
        assert!(!iban_valid("GB82 WEST 1234 5698 7654 33"));
        assert!(kinds_in("DNI 12345678A").is_empty());
        assert!(kinds_in("meeting on 2026-11-23 in room 4").is_empty());
    }

    #[test]
    fn redaction_replaces_values_and_keeps_the_rest() {
        let text = "Mail bob@example.org or call +1 415 555 0100.";
        let out = redact(text, &detect(text));
        assert_eq!(out, "Mail [EMAIL] or call [PHONE].");
    }
}
