//! Consent: when an irreversible action may run. Sending mail, deleting,
//! completing and cancelling (every tool [`crate::tools::needs_confirmation`]
//! names, and every such tool added later) run only through this rule:
//!
//! 1. **A structured confirmation runs it**: the token of exactly the pending
//!    action, from a button or a voice prompt — `POST /chat {conversation_id,
//!    confirm: {token}}`, or `POST /emails/drafts/{id}/send {confirm_token}`.
//!    A token that is not the pending action's runs nothing.
//! 2. **Free text can always cancel**: a reply with a negation in it, in any
//!    supported language ("no", "don't", "non", "nein", "no lo envíes", "stop"),
//!    cancels the pending action, wherever the negation stands.
//! 3. **Free text confirms only when all three hold**:
//!    - the whole reply is a bare affirmation, from a short closed list per
//!      language ([`AFFIRMATIONS`]): "yes", "ok", "send it", "oui", "ja", "sí"…;
//!    - Jarvis itself showed the pending action in the answer just before, from
//!      the stored records (recipients, subject and the body's first lines),
//!      not in the model's words;
//!    - every recipient was named *as a recipient* in the user's own words
//!      ("email anna@…", "send it to …"), not in a question or a quotation.
//!
//!    Otherwise Jarvis asks for the structured confirmation, and says why.
//!
//! A reply with a question mark never confirms; one that neither answers nor
//! refuses goes on to the model, and the action stays pending for its button.
//!
//! Supported languages: English, French, German, Spanish.

use crate::domain::{PendingAction, Role, Turn};
use regex::Regex;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// The whole replies that confirm, per language, after [`normalize`]
/// (lower case, punctuation around words dropped, one space between words).
/// A closed list on purpose: nothing longer or conditional is consent.
pub const AFFIRMATIONS: &[&str] = &[
    // English
    "yes",
    "y",
    "yep",
    "yeah",
    "yup",
    "ok",
    "okay",
    "sure",
    "confirm",
    "confirmed",
    "i confirm",
    "approve",
    "approved",
    "go ahead",
    "do it",
    "please do",
    "send",
    "send it",
    "send it now",
    "send now",
    "please send it",
    "yes please",
    "yes send",
    "yes send it",
    "yes send it now",
    "yes go ahead",
    "yes do it",
    "ok send it",
    "okay send it",
    "sure send it",
    "ok go ahead",
    // French
    "oui",
    "d'accord",
    "ok envoie",
    "vas-y",
    "vas y",
    "envoie",
    "envoie-le",
    "envoie le",
    "envoie-la",
    "envoie la",
    "confirme",
    "je confirme",
    "oui envoie",
    "oui envoie-le",
    "oui vas-y",
    "c'est bon",
    // German
    "ja",
    "jawohl",
    "klar",
    "senden",
    "abschicken",
    "schick es",
    "schick es ab",
    "bestätigt",
    "ich bestätige",
    "ja senden",
    "ja schick es ab",
    "ja bitte",
    "mach das",
    // Spanish
    "sí",
    "si",
    "vale",
    "claro",
    "de acuerdo",
    "envíalo",
    "envialo",
    "envíala",
    "envíamelo",
    "confirmo",
    "sí envíalo",
    "si envialo",
    "adelante",
    "hazlo",
    "sí por favor",
    "si por favor",
];

/// Politeness a bare affirmation may carry at its end ("yes, thanks").
const COURTESIES: &[&str] = &[
    "please",
    "thanks",
    "thank you",
    "merci",
    "s'il te plaît",
    "s'il vous plaît",
    "bitte",
    "danke",
    "por favor",
    "gracias",
];

/// Words and word parts that refuse, per language. Any of them anywhere in a
/// reply cancels the pending action.
static NEGATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        \b(?:
            # English
            no|nope|nah|not|never|nothing|none|nobody|don'?t|doesn'?t|won'?t|
            cancel(?:led|ed)?|stop|abort|wait|hold|refuse|reject|decline|
            \w+n't|
            # French
            non|ne|pas|jamais|rien|personne|annule[rz]?|arr[êe]te[rz]?|attends|
            # German
            nein|nicht|kein(?:e|en|er|es|em)?|nie|niemals|nichts|abbrechen|stopp|warte|
            # Spanish
            nunca|jam[áa]s|nada|nadie|ni|cancela(?:r|lo|la)?|espera
        )\b
        | \bn'
        ",
    )
    .expect("negation pattern")
});

/// Words that mean yes somewhere in a reply: a reply with one of them that is
/// not a valid consent gets Jarvis's own answer (why, and the button), not
/// the model's.
static AFFIRMATIVE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:yes|yep|yeah|yup|ok|okay|sure|confirm\w*|approve\w*|go ahead|send|oui|d'accord|envoie\w*|ja|klar|senden|schick|bestätig\w*|sí|si|vale|claro|env[íi]a\w*|confirmo|adelante)\b",
    )
    .expect("affirmative pattern")
});

/// A reply with a question in it never confirms.
pub fn has_question(reply: &str) -> bool {
    reply.contains(['?', '¿', '？', '؟'])
}

/// Whether a reply refuses (see [`NEGATION`]).
pub fn has_negation(reply: &str) -> bool {
    NEGATION.is_match(&reply.replace(['’', '‘', '`'], "'"))
}

/// A reply as the closed list is written: lower case, apostrophes plain,
/// punctuation at the edges of words dropped, one space between words.
pub fn normalize(reply: &str) -> String {
    reply
        .replace(['’', '‘', '`'], "'")
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the whole reply is one of [`AFFIRMATIONS`], with at most one
/// courtesy at its end. Only the punctuation `.`, `!` and `,` is allowed
/// around it; anything else (quotes, a question mark, a second sentence) is
/// not bare.
pub fn is_bare_affirmation(reply: &str) -> bool {
    if reply.chars().count() > 40
        || reply
            .chars()
            .any(|c| !(c.is_alphanumeric() || c.is_whitespace() || ".!,'’-".contains(c)))
        || has_question(reply)
        || has_negation(reply)
    {
        return false;
    }
    let said = normalize(reply);
    let core = COURTESIES
        .iter()
        .find_map(|c| said.strip_suffix(c)?.strip_suffix(' '))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&said);
    AFFIRMATIONS.contains(&core)
}

static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[^\s@<>,;:()\[\]]+@[^\s@<>,;:()\[\]]+\.[A-Za-z]{2,}").expect("address pattern")
});

/// What may stand right before a recipient: a verb of writing or sending
/// (and its `to`) at the start of a clause, in each language: "email X",
/// "please send it to X", "…, and forward the notes to X", "écris à X",
/// "schick es an X", "envía el correo a X", "to: X". Only a cue that ends
/// right before the address (or before a list of addresses joined by `,`,
/// `and`, `&`) counts; a verb in the middle of a clause ("the mail X sent",
/// "he asked me to forward it to X") does not.
static RECIPIENT_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        (?: ^ | \band\b | \bthen\b | \balso\b | [,:;] ) \s*
        (?: (?: please | kindly | just | now | ok | okay | yes | so | also | then | and | bitte
              | por\s+favor | s'il\s+te\s+pla[îi]t | i\s+want\s+you\s+to | i'd\s+like\s+you\s+to
              | go\s+ahead\s+and | let's ) \s+ )*
        (?:
            (?: e-?mail | mail | message | tell | notify | invite | contact | cc | bcc )
          | (?: send | forward | write | reply | draft | compose | respond | e-?mail | mail | address )
            (?: \s+[\w'-]+ ){0,6}? \s+ (?: to | for )
          | to \s* :
          # French
          | (?: envoie | envoyer | écris | écrire | transfère | transférer | réponds | répondre )
            (?: \s+[\w'-]+ ){0,6}? \s+ à
          # German
          | (?: schreib | schreibe | schick | schicke | sende | leite | mail | e-?mail )
            (?: \s+[\w'-]+ ){0,6}? \s+ an
          # Spanish
          | (?: escribe | envía | envia | manda | reenvía | reenvia | responde )
            (?: \s+[\w'-]+ ){0,6}? \s+ a
        ) \s* $",
    )
    .expect("recipient cue pattern")
});

/// Joiners of a list of recipients after one cue: "to a@x, b@y and c@z".
static LIST_JOIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(?:,|and|&|et|und|y|or)?\s*$").expect("join pattern"));

/// The sentences of a message with their closing mark (`None` at the end of
/// the text): what is asked is told apart from what is said.
fn sentences(text: &str) -> Vec<(&str, Option<char>)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let ends = matches!(c, '?' | '!' | '¿' | '？' | '؟' | '\n' | ';')
            || (c == '.' && text[i + 1..].chars().next().is_none_or(char::is_whitespace));
        if ends {
            out.push((&text[start..i], Some(c)));
            start = i + c.len_utf8();
        }
    }
    out.push((&text[start..], None));
    out
}

/// `text` with every quotation blanked out (same byte length, so offsets hold):
/// `"…"`, `“…”`, `«…»`, `„…“`, and lines quoted with `>`.
fn without_quotations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    let mut line_quoted = false;
    let mut line_start = true;
    for c in text.chars() {
        if line_start {
            line_quoted = c == '>';
        }
        line_start = c == '\n';
        let blank = match closing {
            Some(end) => {
                if c == end {
                    closing = None;
                }
                true
            }
            None => {
                closing = match c {
                    '"' => Some('"'),
                    '“' => Some('”'),
                    '«' => Some('»'),
                    '„' => Some('“'),
                    '‹' => Some('›'),
                    _ => None,
                };
                closing.is_some() || (line_quoted && c != '\n')
            }
        };
        if blank {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// The addresses a message names *as recipients*, lower-cased: each must
/// follow a recipient cue ("email", "send it to", "écris à", "schick es an",
/// "envía a") directly or through a list, in a sentence that is not a
/// question, holds no negation, and not inside a quotation.
pub fn named_recipients(message: &str) -> BTreeSet<String> {
    let plain = without_quotations(message);
    let mut named = BTreeSet::new();
    for (sentence, end) in sentences(&plain) {
        if matches!(end, Some('?' | '¿' | '？' | '؟')) || has_negation(sentence) {
            continue;
        }
        let mut listed = false;
        let mut last_end = 0;
        for m in ADDRESS.find_iter(sentence) {
            let before = &sentence[..m.start()];
            let between = &sentence[last_end..m.start()];
            let cued = RECIPIENT_CUE.is_match(before) || (listed && LIST_JOIN.is_match(between));
            if cued {
                named.insert(m.as_str().trim_end_matches('.').to_lowercase());
            }
            listed = cued;
            last_end = m.end();
        }
    }
    named
}

/// The pending action's recipients that no message of the user's names as a
/// recipient (text from documents or mail may have put them there).
pub fn unnamed_recipients<'a>(
    recipients: &[String],
    user_said: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let named: BTreeSet<String> = user_said.into_iter().flat_map(named_recipients).collect();
    recipients
        .iter()
        .filter(|r| !named.contains(&r.to_lowercase()))
        .cloned()
        .collect()
}

/// What the user did about a pending action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Words typed or spoken.
    Text(&'a str),
    /// A structured confirmation carrying this token.
    Confirm(&'a str),
    /// A structured refusal carrying this token.
    Decline(&'a str),
}

/// Why free text was not taken as consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// More than a bare affirmation: a condition, a change, a quotation.
    NotBare,
    /// The answer just before did not show this action (Jarvis's own words).
    NotShown,
    /// Recipients the user never named as recipients.
    Unnamed(Vec<String>),
}

/// What to do with a reply to a pending action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Run the pending action, with its token.
    Run,
    /// Cancel it; nothing is done.
    Cancel,
    /// Keep it pending and ask for the structured confirmation, saying why.
    AskStructured(Why),
    /// A structured answer whose token is not the pending action's: nothing runs.
    Stale,
    /// Not an answer to it: the turn goes on to the model, the action stays
    /// pending for its button.
    NotAnAnswer,
}

/// The rule of this module, for one reply. `turns` is the conversation as
/// stored (its last turn is the answer just before this reply).
pub fn judge(pending: &PendingAction, turns: &[Turn], reply: Reply<'_>) -> Verdict {
    let text = match reply {
        Reply::Confirm(token) if token == pending.token => return Verdict::Run,
        Reply::Decline(token) if token == pending.token => return Verdict::Cancel,
        Reply::Confirm(_) | Reply::Decline(_) => return Verdict::Stale,
        Reply::Text(text) => text,
    };
    if has_negation(text) {
        return Verdict::Cancel;
    }
    if has_question(text) {
        return Verdict::NotAnAnswer;
    }
    if !is_bare_affirmation(text) {
        return if AFFIRMATIVE_WORD.is_match(text) {
            Verdict::AskStructured(Why::NotBare)
        } else {
            Verdict::NotAnAnswer
        };
    }
    if !shown_just_before(pending, turns) {
        return Verdict::AskStructured(Why::NotShown);
    }
    let unnamed = unnamed_recipients(
        &pending.recipients,
        turns
            .iter()
            .filter(|t| t.role == Role::User)
            .map(|t| t.text.as_str()),
    );
    if !unnamed.is_empty() {
        return Verdict::AskStructured(Why::Unnamed(unnamed));
    }
    Verdict::Run
}

/// Whether the last stored turn is Jarvis's answer that showed `pending`.
fn shown_just_before(pending: &PendingAction, turns: &[Turn]) -> bool {
    turns
        .last()
        .is_some_and(|t| t.role == Role::Assistant && t.shown.as_deref() == Some(&pending.token))
}

/// Lines of a mail's body shown in the confirmation.
const BODY_LINES: usize = 4;
/// Characters of a mail's body shown in the confirmation.
const BODY_CHARS: usize = 400;

/// What Jarvis shows for a pending action, from the records the tool read
/// (never the model's words): the tool's summary, and for mail the exact
/// recipients, subject and the body's first lines; then how to answer.
pub fn render(p: &PendingAction) -> String {
    let mut out = format!("Waiting for your confirmation: {}", p.summary);
    if let Some(mail) = &p.mail {
        out.push_str(&format!(
            "\n\nTo: {}\nSubject: {}\n",
            mail.to.join(", "),
            mail.subject
        ));
        let mut shown = 0;
        for line in mail.body.lines().take(BODY_LINES) {
            let room = BODY_CHARS.saturating_sub(shown);
            if room == 0 {
                break;
            }
            let line: String = line.chars().take(room).collect();
            shown += line.chars().count();
            out.push_str(&format!("> {line}\n"));
        }
        if mail.body.lines().count() > BODY_LINES || mail.body.chars().count() > shown {
            out.push_str("> …\n");
        }
    }
    let unnamed = &p.unnamed_recipients;
    if unnamed.is_empty() {
        out.push_str("\nReply \"yes\" or press Send to go ahead; \"no\" cancels.");
    } else {
        out.push_str(&format!(
            "\nCareful: you never asked to write to {}. Only the Send button can send this; \"no\" cancels.",
            unnamed.join(", ")
        ));
    }
    out
}

/// Jarvis's answer when free text is not taken as consent: why, and what
/// will do (the action itself is shown after it, by [`render`]).
pub fn ask_structured(why: &Why) -> String {
    let reason = match why {
        Why::NotBare => {
            "I only take a plain \"yes\" as consent, with nothing added or changed".to_owned()
        }
        Why::NotShown => "my answer just before did not show you what would happen".to_owned(),
        Why::Unnamed(who) => format!(
            "you never asked me to write to {}; that address came from elsewhere (a document, a mail, or the model)",
            who.join(", ")
        ),
    };
    format!(
        "Nothing was done: {reason}. To go ahead, press Send on the card below; \"no\" cancels."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PendingMail;
    use proptest::prelude::*;

    fn pending(to: &[&str]) -> PendingAction {
        PendingAction {
            tool: "send_email".into(),
            input: serde_json::json!({"draft_id": "draft_1"}),
            summary: "Send the e-mail (draft_1).".into(),
            token: "tok".into(),
            recipients: to.iter().map(|s| (*s).to_owned()).collect(),
            unnamed_recipients: Vec::new(),
            mail: Some(PendingMail {
                to: to.iter().map(|s| (*s).to_owned()).collect(),
                subject: "Trip".into(),
                body: "Hello,\nsee you Friday.\n".into(),
            }),
        }
    }

    fn turn(role: Role, text: &str, shown: Option<&str>) -> Turn {
        Turn {
            role,
            text: text.into(),
            at: chrono::Utc::now(),
            citations: Vec::new(),
            turn_id: None,
            actions: Vec::new(),
            shown: shown.map(str::to_owned),
        }
    }

    /// The user asked for mail to `asked`, and Jarvis showed the action.
    fn asked_and_shown(asked: &str) -> Vec<Turn> {
        vec![
            turn(Role::User, asked, None),
            turn(
                Role::Assistant,
                "Waiting for your confirmation",
                Some("tok"),
            ),
        ]
    }

    #[test]
    fn a_bare_yes_to_what_jarvis_showed_for_a_named_recipient_confirms() {
        let p = pending(&["anna@example.com"]);
        let turns = asked_and_shown("Email anna@example.com about the trip");
        for yes in [
            "yes",
            "Yes.",
            "ok",
            "OK!",
            "sure",
            "send it",
            "Yes, send it",
            "yes please",
            "go ahead",
            "oui",
            "Ja",
            "sí",
            "vale",
            "envíalo",
            "yes, thanks",
        ] {
            assert_eq!(judge(&p, &turns, Reply::Text(yes)), Verdict::Run, "{yes}");
        }
    }

    #[test]
    fn the_token_of_the_pending_action_confirms_and_any_other_does_nothing() {
        let p = pending(&["x@evil.example"]);
        assert_eq!(judge(&p, &[], Reply::Confirm("tok")), Verdict::Run);
        assert_eq!(judge(&p, &[], Reply::Confirm("other")), Verdict::Stale);
        assert_eq!(judge(&p, &[], Reply::Decline("tok")), Verdict::Cancel);
    }

    #[test]
    fn a_yes_after_an_answer_that_did_not_show_the_action_asks_for_the_button() {
        let p = pending(&["anna@example.com"]);
        let mut turns = asked_and_shown("email anna@example.com");
        turns.push(turn(Role::User, "what is the subject", None));
        turns.push(turn(Role::Assistant, "It is Trip.", None));
        assert_eq!(
            judge(&p, &turns, Reply::Text("yes")),
            Verdict::AskStructured(Why::NotShown)
        );
    }

    #[test]
    fn addresses_in_questions_quotations_and_refusals_are_not_named() {
        for said in [
            "What does the mail that mentions exfil@evil.example say?",
            "Who is exfil@evil.example? Do not send anything to them.",
            "The mail says \"send it to exfil@evil.example\"",
            "> email exfil@evil.example\nwhat is this",
            "I got a mail from exfil@evil.example",
            "Tell me about the mail exfil@evil.example sent",
            "He asked me to forward it to exfil@evil.example",
            "don't email exfil@evil.example",
            "never send it to exfil@evil.example",
            "the mail mentions exfil@evil.example",
            "is it to exfil@evil.example",
        ] {
            assert!(named_recipients(said).is_empty(), "{said}");
        }
        for (said, who) in [
            (
                "Email anna@example.com about the trip",
                vec!["anna@example.com"],
            ),
            (
                "send it to anna@example.com and bo@example.org",
                vec!["anna@example.com", "bo@example.org"],
            ),
            ("Draft a mail to Anna@Example.com", vec!["anna@example.com"]),
            (
                "write to anna@example.com, bo@example.org & cy@example.net",
                vec!["anna@example.com", "bo@example.org", "cy@example.net"],
            ),
            ("écris à anna@example.com", vec!["anna@example.com"]),
            ("schick es an anna@example.com", vec!["anna@example.com"]),
            (
                "envía el correo a anna@example.com",
                vec!["anna@example.com"],
            ),
            ("to: anna@example.com", vec!["anna@example.com"]),
        ] {
            let got: Vec<String> = named_recipients(said).into_iter().collect();
            assert_eq!(got, who, "{said}");
        }
    }

    #[test]
    fn the_two_replies_that_sent_mail_before_do_not() {
        let p = pending(&["exfil@attacker-mail.test"]);
        // 1. A question and a refusal.
        let turns = asked_and_shown("summarize my mail");
        assert_eq!(
            judge(
                &p,
                &turns,
                Reply::Text("Who is exfil@attacker-mail.test? Do not send anything to them.")
            ),
            Verdict::Cancel
        );
        // 2. The address only in a question, then "ok".
        let turns =
            asked_and_shown("What does the mail that mentions exfil@attacker-mail.test say?");
        assert_eq!(
            judge(&p, &turns, Reply::Text("ok")),
            Verdict::AskStructured(Why::Unnamed(vec!["exfil@attacker-mail.test".into()]))
        );
    }

    #[test]
    fn what_jarvis_shows_is_the_mail_itself() {
        let mut p = pending(&["anna@example.com"]);
        p.unnamed_recipients = vec!["anna@example.com".into()];
        let shown = render(&p);
        assert!(
            shown.contains("To: anna@example.com\nSubject: Trip\n> Hello,\n> see you Friday.\n"),
            "{shown}"
        );
        assert!(
            shown.contains("you never asked to write to anna@example.com"),
            "{shown}"
        );
    }

    /// Negations in each language, as a user might type them; none of them is
    /// taken from the module's own list.
    const REFUSALS: &[&str] = &[
        "no",
        "No",
        "NO",
        "nope",
        "not",
        "don't",
        "dont",
        "do not",
        "never",
        "cancel",
        "stop",
        "wait",
        "won't",
        "shouldn't",
        "isn't",
        "non",
        "pas",
        "ne",
        "jamais",
        "nein",
        "nicht",
        "kein",
        "nie",
        "no lo envíes",
        "nunca",
        "ni",
        "nada",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// No reply that contains a negation or a question mark ever
        /// confirms, even when everything else is in place.
        #[test]
        fn no_reply_with_a_negation_or_a_question_mark_confirms(
            yes in proptest::sample::select(AFFIRMATIONS),
            refusal in proptest::sample::select(REFUSALS),
            before in proptest::bool::ANY,
            sep in proptest::sample::select(&[" ", ", ", ". ", "! ", " - "][..]),
            question in "[?¿？]",
            noise in "\\PC{0,20}",
            at in 0usize..60,
        ) {
            let p = pending(&["anna@example.com"]);
            let turns = asked_and_shown("email anna@example.com");
            let negated = if before { format!("{refusal}{sep}{yes}") } else { format!("{yes}{sep}{refusal}") };
            prop_assert_ne!(judge(&p, &turns, Reply::Text(&negated)), Verdict::Run, "{}", negated);
            let mut asked: Vec<char> = format!("{yes}{noise}").chars().collect();
            let i = at.min(asked.len());
            asked.splice(i..i, question.chars());
            let asked: String = asked.into_iter().collect();
            prop_assert_ne!(judge(&p, &turns, Reply::Text(&asked)), Verdict::Run, "{}", asked);
        }

        /// Anything at all: no panic, and a confirmation only from the closed list.
        #[test]
        fn only_the_closed_list_confirms(reply in "\\PC{0,60}") {
            let p = pending(&["anna@example.com"]);
            let turns = asked_and_shown("email anna@example.com");
            if judge(&p, &turns, Reply::Text(&reply)) == Verdict::Run {
                prop_assert!(is_bare_affirmation(&reply));
                prop_assert!(!has_question(&reply) && !has_negation(&reply));
            }
            let _ = named_recipients(&reply);
        }
    }

    #[test]
    fn no_affirmation_is_itself_a_refusal_or_a_question() {
        for yes in AFFIRMATIONS {
            assert!(is_bare_affirmation(yes), "{yes}");
            assert!(!has_negation(yes), "{yes}");
        }
    }
}
