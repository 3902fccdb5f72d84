//! Times people type, resolved in their time zone: "tomorrow at 9am", "in 2
//! hours", "next Monday", "friday 17:30", "2026-12-01 08:00"; and recurring ones,
//! "every day at 9am", "every weekday at 7:30", "every monday and thursday at 8",
//! as EventBridge Scheduler cron expressions (`min hour day-of-month month
//! day-of-week year`), which the local scheduler evaluates too.
//!
//! Dates and weekdays are read by the `interim` crate; this module normalises the
//! phrase around it, defaults a date without a time to 09:00, and refuses times
//! that have passed.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use regex::Regex;
use std::str::FromStr;
use std::sync::LazyLock;

/// A time zone (IANA database, compiled in).
pub use chrono_tz::Tz as Zone;

/// A time zone by IANA name ("Europe/Berlin").
pub fn zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name.trim())
        .map_err(|_| format!("unknown time zone {name:?} (use an IANA name like Europe/Berlin)"))
}

/// The hour a date without a time means.
const DEFAULT_HOUR: u32 = 9;

static IN_DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:in\s+)?(an?|\d+|one|two|three|four|five|ten|fifteen|twenty|thirty|forty-five)\s*(minutes?|mins?|hours?|hrs?|days?|weeks?)(?:\s+from\s+now)?$")
        .expect("duration pattern")
});
static HAS_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{1,2}(:\d{2})?\s*(am|pm)\b|\b\d{1,2}:\d{2}\b|\bnoon\b|\bmidnight\b|\bmorning\b|\bafternoon\b|\bevening\b|\btonight\b")
        .expect("time pattern")
});
static TIME_OF_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$").expect("time of day pattern")
});

fn number(word: &str) -> Option<i64> {
    Some(match word {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "ten" => 10,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty-five" => 45,
        n => n.parse().ok()?,
    })
}

/// Lower-case, single spaces, without a leading "at"/"on" and trailing punctuation.
fn normalise(phrase: &str) -> String {
    let lower = phrase
        .trim()
        .trim_end_matches(['.', '!', '?', ','])
        .to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut s = words.join(" ");
    for prefix in ["at ", "on ", "by "] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
        }
    }
    // interim reads "tomorrow 9am", not "tomorrow at 9am".
    s = s.replace(" at ", " ");
    // Parts of the day.
    for (word, time) in [
        ("tonight", "today 8pm"),
        ("this evening", "today 6pm"),
        ("this afternoon", "today 3pm"),
        ("this morning", "today 9am"),
        (" morning", " 9am"),
        (" afternoon", " 3pm"),
        (" evening", " 6pm"),
        ("noon", "12pm"),
        ("midnight", "12am"),
    ] {
        s = s.replace(word, time);
    }
    s
}

/// Reads a time of day ("9", "9am", "17:30", "5:15 pm").
fn time_of_day(s: &str) -> Option<NaiveTime> {
    let c = TIME_OF_DAY.captures(s.trim())?;
    let mut hour: u32 = c[1].parse().ok()?;
    let minute: u32 = c.get(2).map_or(Some(0), |m| m.as_str().parse().ok())?;
    match c.get(3).map(|m| m.as_str()) {
        Some("pm") if hour < 12 => hour += 12,
        Some("am") if hour == 12 => hour = 0,
        Some(_) if hour > 12 => return None,
        _ => {}
    }
    NaiveTime::from_hms_opt(hour, minute, 0)
}

fn local(zone: Tz, date: chrono::NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&date.and_time(time)) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        // A time that occurs twice (clocks going back): the first.
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        // A time skipped by clocks going forward: an hour later.
        LocalResult::None => zone
            .from_local_datetime(&(date.and_time(time) + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// The instant `phrase` names, read at `now` in `zone`. A bare time ("9am",
/// "at 17:30") is its next occurrence; a date without a time is at 09:00.
/// A time that has already passed is refused.
pub fn resolve(phrase: &str, now: DateTime<Utc>, zone: Tz) -> Result<DateTime<Utc>, String> {
    let s = normalise(phrase);
    if s.is_empty() {
        return Err("no time given".into());
    }
    let resolved = resolve_normalised(&s, now, zone)
        .ok_or_else(|| format!("I could not read {phrase:?} as a time (try \"tomorrow at 9am\", \"in 2 hours\" or \"2026-12-01 08:00\")"))?;
    if resolved <= now {
        let local = resolved.with_timezone(&zone);
        return Err(format!(
            "{} ({}) is in the past",
            local.format("%a %e %b %Y %H:%M"),
            zone.name()
        ));
    }
    Ok(resolved)
}

fn resolve_normalised(s: &str, now: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
    if let Some(c) = IN_DURATION.captures(s) {
        let n = number(&c[1])?;
        let unit = &c[2];
        let d = if unit.starts_with("min") {
            Duration::minutes(n)
        } else if unit.starts_with('h') {
            Duration::hours(n)
        } else if unit.starts_with('d') {
            Duration::days(n)
        } else {
            Duration::weeks(n)
        };
        return Some(now + d);
    }
    let local_now = now.with_timezone(&zone);
    // A bare time of day: today if still ahead, else tomorrow.
    let bare = s.strip_prefix("today ").unwrap_or(s);
    if let Some(t) = time_of_day(bare).or_else(|| time_of_day(s)) {
        let today = local(zone, local_now.date_naive(), t)?;
        if today > now || s.starts_with("today") {
            return Some(today);
        }
        return local(zone, local_now.date_naive().succ_opt()?, t);
    }
    let (date_part, time) = split_trailing_time(s);
    // A weekday ("friday", "next monday", "this thursday"): its next date after today.
    let day_name = date_part
        .strip_prefix("next ")
        .or_else(|| date_part.strip_prefix("this "))
        .unwrap_or(&date_part);
    if let Some(index) = DAYS
        .iter()
        .position(|(d, _)| *d == day_name || d[..3] == *day_name)
    {
        let today = local_now.weekday().num_days_from_sunday() as i64;
        let ahead = (index as i64 - today).rem_euclid(7);
        let date = local_now.date_naive() + Duration::days(if ahead == 0 { 7 } else { ahead });
        let time = time.unwrap_or(NaiveTime::from_hms_opt(DEFAULT_HOUR, 0, 0)?);
        return local(zone, date, time);
    }
    // Everything else through interim, then the default hour for a bare date.
    let parsed = interim::parse_date_string(&date_part, local_now, interim::Dialect::Uk).ok()?;
    let time = match time {
        Some(t) => t,
        None if HAS_TIME.is_match(&date_part) => {
            NaiveTime::from_hms_opt(parsed.hour(), parsed.minute(), 0)?
        }
        None => NaiveTime::from_hms_opt(DEFAULT_HOUR, 0, 0)?,
    };
    local(zone, parsed.date_naive(), time)
}

/// "next monday 10" → ("next monday", 10:00); "friday 5pm" → ("friday", 17:00).
fn split_trailing_time(s: &str) -> (String, Option<NaiveTime>) {
    let words: Vec<&str> = s.split(' ').collect();
    for take in [2, 1] {
        if words.len() > take {
            let tail = words[words.len() - take..].join(" ");
            if let Some(t) = time_of_day(&tail) {
                return (words[..words.len() - take].join(" "), Some(t));
            }
        }
    }
    (s.to_owned(), None)
}

const DAYS: [(&str, &str); 7] = [
    ("sunday", "SUN"),
    ("monday", "MON"),
    ("tuesday", "TUE"),
    ("wednesday", "WED"),
    ("thursday", "THU"),
    ("friday", "FRI"),
    ("saturday", "SAT"),
];

/// A recurring phrase ("every day at 9am", "every weekday at 7:30", "every
/// monday and thursday at 8", "daily at 18:00") as a Scheduler cron expression;
/// `None` when the phrase is not recurring.
pub fn recurring(phrase: &str) -> Option<Result<String, String>> {
    let s = normalise(phrase);
    let rest = s
        .strip_prefix("every ")
        .or_else(|| s.strip_prefix("each "))
        .map(str::to_owned)
        .or_else(|| s.strip_prefix("daily").map(|r| format!("day{r}")))?;
    let (days, time) = match rest.split_once(' ') {
        Some((days, time)) => (days.to_owned(), Some(time.to_owned())),
        None => (rest.clone(), None),
    };
    // "every monday and thursday 8" has the days joined by "and"/","/"&".
    let (days, time) = if let Some(t) = &time {
        let mut day_words = vec![days.clone()];
        let mut time_words = Vec::new();
        for w in t.split(' ') {
            let w = w.trim_end_matches(',');
            if time_words.is_empty()
                && (["and", "&"].contains(&w) || DAYS.iter().any(|(d, _)| w.starts_with(&d[..3])))
            {
                day_words.push(w.to_owned());
            } else {
                time_words.push(w.to_owned());
            }
        }
        (day_words.join(" "), Some(time_words.join(" ")))
    } else {
        (days, time)
    };
    let at = match time.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => NaiveTime::from_hms_opt(DEFAULT_HOUR, 0, 0)?,
        Some(t) => match time_of_day(t) {
            Some(t) => t,
            None => return Some(Err(format!("I could not read {t:?} as a time of day"))),
        },
    };
    let (dom, dow) = match days.as_str() {
        "day" | "morning" => ("*".to_owned(), "?".to_owned()),
        "weekday" | "workday" => ("?".to_owned(), "MON-FRI".to_owned()),
        "weekend" => ("?".to_owned(), "SAT,SUN".to_owned()),
        named => {
            let mut list = Vec::new();
            for w in named
                .split([' ', ','])
                .filter(|w| !["and", "&", ""].contains(w))
            {
                match DAYS
                    .iter()
                    .find(|(d, _)| w.trim_end_matches('s').starts_with(&d[..3]))
                {
                    Some((_, code)) => list.push(*code),
                    None => {
                        return Some(Err(format!("I could not read {w:?} as a day of the week")))
                    }
                }
            }
            ("?".to_owned(), list.join(","))
        }
    };
    Some(Ok(format!("{} {} {dom} * {dow} *", at.minute(), at.hour())))
}

/// The next time a Scheduler cron expression fires after `after`, evaluated in
/// `zone`; an error names what is not supported.
pub fn next_cron(
    expression: &str,
    zone: Tz,
    after: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "cron {expression:?} needs 6 fields: minutes hours day-of-month month day-of-week year"
        ));
    }
    if fields.iter().any(|f| f.contains(['L', 'W', '#'])) {
        return Err(format!("cron {expression:?}: L, W and # are not supported"));
    }
    if fields[2] != "?" && fields[4] != "?" {
        return Err(format!(
            "cron {expression:?}: one of day-of-month and day-of-week must be ?"
        ));
    }
    // The cron crate's form: seconds first; `?` means any; numeric weekdays 1-7 = SUN-SAT as in Scheduler.
    let dow = fields[4]
        .split(',')
        .map(|part| {
            part.split('-')
                .map(|d| match d.parse::<usize>() {
                    Ok(n @ 1..=7) => DAYS[n - 1].1.to_owned(),
                    _ => d.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect::<Vec<_>>()
        .join(",");
    let spec = format!(
        "0 {} {} {} {} {} {}",
        fields[0],
        fields[1],
        fields[2].replace('?', "*"),
        fields[3],
        dow.replace('?', "*"),
        fields[5]
    );
    let schedule =
        cron::Schedule::from_str(&spec).map_err(|e| format!("cron {expression:?}: {e}"))?;
    schedule
        .after(&after.with_timezone(&zone))
        .next()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("cron {expression:?} never fires again"))
}

/// "Tue 24 Nov 09:00" in `zone`, for messages.
pub fn describe(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    let day = local.format("%a %e %b").to_string().replace("  ", " ");
    let year = if local.year() != Utc::now().with_timezone(&zone).year() {
        format!(" {}", local.year())
    } else {
        String::new()
    };
    format!("{day}{year} {}", local.format("%H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Tz {
        zone("Europe/Berlin").unwrap()
    }

    /// Monday 23 November 2026, 10:15 in Berlin (09:15 UTC).
    fn now() -> DateTime<Utc> {
        "2026-11-23T09:15:00Z".parse().unwrap()
    }

    fn at(phrase: &str) -> String {
        resolve(phrase, now(), berlin())
            .map(|t| {
                t.with_timezone(&berlin())
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn common_phrases_resolve_in_the_users_zone() {
        assert_eq!(at("tomorrow at 9am"), "2026-11-24 09:00");
        assert_eq!(at("tomorrow 9:30"), "2026-11-24 09:30");
        assert_eq!(at("in 2 hours"), "2026-11-23 12:15");
        assert_eq!(at("in 30 minutes"), "2026-11-23 10:45");
        assert_eq!(at("in an hour"), "2026-11-23 11:15");
        assert_eq!(at("next Monday"), "2026-11-30 09:00");
        assert_eq!(at("next monday at 10"), "2026-11-30 10:00");
        assert_eq!(at("friday 5pm"), "2026-11-27 17:00");
        assert_eq!(at("at 17:30"), "2026-11-23 17:30");
        assert_eq!(
            at("9am"),
            "2026-11-24 09:00",
            "a bare time already past today is tomorrow"
        );
        assert_eq!(at("tonight"), "2026-11-23 20:00");
        assert_eq!(at("tomorrow morning"), "2026-11-24 09:00");
        assert_eq!(at("2026-12-01 08:00"), "2026-12-01 08:00");
        assert_eq!(at("1 December"), "2026-12-01 09:00");
    }

    #[test]
    fn past_and_unreadable_times_are_refused_with_a_reason() {
        assert!(
            at("yesterday at 9am").contains("in the past"),
            "{}",
            at("yesterday at 9am")
        );
        assert!(at("today at 7am").contains("in the past"));
        assert!(at("2020-01-01").contains("in the past"));
        assert!(at("when pigs fly").contains("could not read"));
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn daylight_saving_is_the_zones() {
        // 29 March 2026: Berlin moves from UTC+1 to UTC+2.
        let before: DateTime<Utc> = "2026-03-27T12:00:00Z".parse().unwrap();
        let t = resolve("sunday 9am", before, berlin()).unwrap();
        assert_eq!(t, "2026-03-29T07:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn recurring_phrases_become_scheduler_cron() {
        let cron = |p: &str| recurring(p).map(|r| r.unwrap_or_else(|e| format!("error: {e}")));
        assert_eq!(cron("every day at 9am").as_deref(), Some("0 9 * * ? *"));
        assert_eq!(cron("daily at 18:30").as_deref(), Some("30 18 * * ? *"));
        assert_eq!(
            cron("every weekday at 7:30").as_deref(),
            Some("30 7 ? * MON-FRI *")
        );
        assert_eq!(
            cron("every monday and thursday at 8").as_deref(),
            Some("0 8 ? * MON,THU *")
        );
        assert_eq!(cron("every friday").as_deref(), Some("0 9 ? * FRI *"));
        assert_eq!(cron("tomorrow at 9"), None);
        assert!(cron("every blursday at 9").unwrap().starts_with("error"));
    }

    #[test]
    fn cron_expressions_fire_at_local_times() {
        let next = next_cron("0 9 ? * MON-FRI *", berlin(), now()).unwrap();
        assert_eq!(
            next,
            "2026-11-24T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let next = next_cron("30 18 * * ? *", berlin(), now()).unwrap();
        assert_eq!(
            next,
            "2026-11-23T17:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // Numeric weekdays follow Scheduler: 2 = Monday.
        let next = next_cron("0 8 ? * 2 *", berlin(), now()).unwrap();
        assert_eq!(
            next,
            "2026-11-30T07:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(next_cron("0 8 * * MON *", berlin(), now()).is_err());
        assert!(next_cron("0 8 L * ? *", berlin(), now()).is_err());
        assert!(next_cron("0 8 *", berlin(), now()).is_err());
    }

    proptest::proptest! {
        // Thousands of generated inputs per run, not proptest's default 256.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any phrase, in any script, at any moment: an answer or a reason, never a panic.
        #[test]
        fn time_phrases_never_panic(
            phrase in "\\PC{0,80}",
            lead in proptest::sample::select(vec!["", "tomorrow at ", "in ", "next ", "every ", "at ", "friday "]),
            secs in 0i64..4_000_000_000,
            zone_name in proptest::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"]),
        ) {
            let now = DateTime::from_timestamp(secs, 0).unwrap();
            let tz = zone(zone_name).unwrap();
            let text = format!("{lead}{phrase}");
            if let Ok(at) = resolve(&text, now, tz) {
                proptest::prop_assert!(at > now, "{text:?} resolved to the past");
                let _ = describe(at, tz);
            }
            if let Some(Ok(cron)) = recurring(&text) {
                let _ = next_cron(&cron, tz, now);
            }
        }
    }
}
