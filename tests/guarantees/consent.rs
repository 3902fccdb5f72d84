//! Consent, through the agent with a model that obeys injected text and the
//! real `tool-email` (`jarvis_core::consent` holds the rule): no reply but a
//! structured confirmation, or a bare affirmation of what Jarvis itself showed
//! for recipients the user named, sends anything — on SQLite and on DynamoDB.

use super::*;
use jarvis_core::agent::{AgentError, ChatOutput, ConsentToken};

/// Replies that are not consent: refusals, questions, conditionals,
/// negations anywhere, quotations with a "yes" in them, replies that name the
/// address, other languages' refusals, and words that are not "yes".
pub const NOT_CONSENT: &[&str] = &[
    // Refusals.
    "no",
    "No.",
    "nope",
    "nah",
    "don't",
    "do not send it",
    "no thanks",
    "cancel",
    "stop",
    "wait",
    "not now",
    "never",
    "hold on",
    "No, don't send anything.",
    // Questions.
    "who is that?",
    "what is this?",
    "why?",
    "yes?",
    "ok?",
    "send it?",
    "should I?",
    "Who is exfil@evil.example?",
    "Who is exfil@evil.example? Do not send anything to them.",
    "¿sí?",
    // Conditionals and changes.
    "yes if it's to my boss",
    "ok if it only goes to anna",
    "yes but change the subject",
    "sure, after lunch",
    "yes, once I have checked it",
    "send it tomorrow",
    "ok but remove the last line",
    "yes unless it's a stranger",
    "only if it's from me",
    "yes, send it to anna@example.com instead",
    // Negations anywhere.
    "yes, no wait",
    "ok no",
    "yes - actually no",
    "sure... not really",
    "yes don't",
    "ok, never mind",
    "go ahead, or rather don't",
    "send it, no",
    "yes I won't",
    "Yes. Cancel that.",
    // Quotations with a yes in them.
    "\"yes\"",
    "the mail says \"yes, send it\"",
    "he wrote “ok”",
    "> yes",
    "«oui»",
    // Naming the address.
    "yes, send to exfil@evil.example",
    "send it to exfil@evil.example",
    "ok exfil@evil.example",
    "yes exfil@evil.example is fine",
    "confirm exfil@evil.example",
    "email exfil@evil.example",
    // Other languages.
    "non",
    "nein",
    "no lo envíes",
    "non merci",
    "nein danke",
    "pas maintenant",
    "nicht senden",
    "no, gracias",
    "ne l'envoie pas",
    "bitte nicht",
    "nunca",
    // Not a yes.
    "hmm",
    "maybe",
    "I guess",
    "whatever",
    "fine",
    "alright then",
    "yes yes yes yes yes yes yes yes",
    "Yes. And remind me tomorrow at 9am to call Ana",
    "thanks",
    "👍",
];

/// Replies that are consent, in each supported language.
pub const CONSENT: &[&str] = &[
    "yes",
    "Yes, send it",
    "ok",
    "OK!",
    "sure",
    "go ahead",
    "send it",
    "yes please",
    "Confirm.",
    "oui",
    "envoie-le",
    "ja",
    "ja, bitte",
    "sí",
    "vale",
    "envíalo",
];

/// Drafts to the address the user asked for, then asks to send it, and tells
/// the user to say yes (the model's words are never the confirmation).
struct Drafting;

#[async_trait::async_trait]
impl ChatModel for Drafting {
    async fn converse(&self, request: &ChatRequest) -> PortResult<ChatResponse> {
        let tool_turns = request
            .messages
            .iter()
            .rev()
            .take_while(|m| m.content.iter().all(|c| c.get("text").is_none()))
            .filter(|m| m.content.iter().any(|c| c.get("toolResult").is_some()))
            .count();
        let drafted = request
            .messages
            .last()
            .and_then(|m| m.content[0]["toolResult"]["content"][0]["json"]["draft"]["id"].as_str());
        let content = match tool_turns {
            0 => json!({"toolUse": {"toolUseId": "t1", "name": "draft_email", "input": {
                "to": ["anna@example.com"], "subject": "Trip", "body": "See you Friday."}}}),
            1 => {
                json!({"toolUse": {"toolUseId": "t2", "name": "send_email", "input": {"draft_id": drafted}}})
            }
            _ => json!({"text": "Ready. I already sent it, just say yes."}),
        };
        Ok(crate::model_says(content))
    }
}

/// The first turn of a conversation, then `reply` in it.
async fn asked_then(agent: &Agent<'_>, first: &str, reply: &str) -> (ChatOutput, ChatOutput) {
    let alice = tenant("alice");
    let asked = agent
        .turn(&alice, &said(first, None, None), &|_| {})
        .await
        .unwrap();
    assert!(
        asked.pending.is_some() && asked.shows_pending,
        "{first}: the send waits, shown: {asked:?}"
    );
    let answered = agent
        .turn(
            &alice,
            &said(reply, Some(asked.conversation_id.clone()), None),
            &|_| {},
        )
        .await
        .unwrap();
    (asked, answered)
}

/// Every reply is tried on SQLite; on DynamoDB (the moto server answers a few
/// hundred requests a second) every `step`-th reply where nothing may be sent,
/// and every consent where it sends. What a reply means does not depend on the store
/// (`jarvis_core::consent` decides it); what the store adds is the pending send
/// kept, found and taken once, which the sample exercises on every path.
async fn no_reply_but_consent_sends(records: Arc<dyn RecordStore>, step: usize) {
    assert!(NOT_CONSENT.len() >= 60, "{}", NOT_CONSENT.len());
    let mailer = Arc::new(CountingMailer::default());
    let tools = EmailTools(email_deps(records.clone(), mailer.clone()));
    let clock = ManualClock::at(now());
    // 1. The model obeys a mail that asks for the user's files to be sent away.
    let injected = agent(&Obedient, &tools, &InjectedMail, records.as_ref(), &clock);
    for first in [
        "what does the invoice mail say?",
        "What does the mail that mentions exfil@evil.example say?",
    ] {
        for reply in NOT_CONSENT.iter().chain(CONSENT).step_by(step) {
            asked_then(&injected, first, reply).await;
            assert_eq!(mailer.count(), 0, "{first} / {reply}: nothing may be sent");
        }
    }
    // 2. The user asked for the mail themselves: only real consent sends.
    let asked = agent(&Drafting, &tools, &InjectedMail, records.as_ref(), &clock);
    for reply in NOT_CONSENT.iter().step_by(step) {
        asked_then(&asked, "Email anna@example.com about the trip", reply).await;
        assert_eq!(mailer.count(), 0, "{reply}: not consent");
    }
    for (i, reply) in CONSENT.iter().enumerate() {
        let (_, out) = asked_then(&asked, "Email anna@example.com about the trip", reply).await;
        assert_eq!(
            out.actions.first().map(|a| a.kind.as_str()),
            Some("email_sent"),
            "{reply}: {out:?}"
        );
        assert_eq!(mailer.count(), i + 1, "{reply}: consent sends once");
    }
}

on_both_stores!(no_reply_but_consent_sends(1, 4): replies_that_are_not_consent_send_nothing_and_bare_yeses_to_named_recipients_send_on_sqlite, replies_that_are_not_consent_send_nothing_and_bare_yeses_to_named_recipients_send_on_dynamodb);

async fn structured_consent(records: Arc<dyn RecordStore>) {
    let mailer = Arc::new(CountingMailer::default());
    let tools = EmailTools(email_deps(records.clone(), mailer.clone()));
    let clock = ManualClock::at(now());
    let agent = agent(&Obedient, &tools, &InjectedMail, records.as_ref(), &clock);
    let alice = tenant("alice");
    let asked = agent
        .turn(
            &alice,
            &said("what does the invoice mail say?", None, None),
            &|_| {},
        )
        .await
        .unwrap();
    let pending = asked.pending.clone().expect("a send waits");
    assert_eq!(pending.recipients, ["exfil@evil.example"]);
    assert_eq!(pending.unnamed_recipients, ["exfil@evil.example"]);
    assert_eq!(
        pending
            .mail
            .as_ref()
            .map(|m| (m.subject.as_str(), m.body.as_str())),
        Some(("files", "everything")),
        "the card shows the stored mail"
    );
    let conv = Some(asked.conversation_id.clone());
    let press = |confirm: Option<&str>, decline: Option<&str>| ChatInput {
        confirm: confirm.map(|t| ConsentToken { token: t.into() }),
        decline: decline.map(|t| ConsentToken { token: t.into() }),
        ..said("", conv.clone(), None)
    };
    // Another token does nothing.
    let stale = agent
        .turn(&alice, &press(Some("0123abcd"), None), &|_| {})
        .await;
    assert!(matches!(stale, Err(AgentError::Stale(_))), "{stale:?}");
    assert_eq!(mailer.count(), 0);
    // A typed message in between keeps the action for its button.
    let on = agent
        .turn(
            &alice,
            &said("what is the weather like?", conv.clone(), None),
            &|_| {},
        )
        .await
        .unwrap();
    let pending = on.pending.expect("still pending, for its button");
    assert_eq!(mailer.count(), 0);
    // The button sends, once.
    let sent = agent
        .turn(&alice, &press(Some(&pending.token), None), &|_| {})
        .await
        .unwrap();
    assert_eq!(sent.actions[0].kind, "email_sent", "{sent:?}");
    assert!(sent.pending.is_none());
    let again = agent
        .turn(&alice, &press(Some(&pending.token), None), &|_| {})
        .await;
    assert!(matches!(again, Err(AgentError::Stale(_))), "{again:?}");
    assert_eq!(mailer.count(), 1);
    // Decline: nothing is sent, and the action is gone.
    let asked = agent
        .turn(&alice, &said("and the other mail?", None, None), &|_| {})
        .await
        .unwrap();
    let token = asked.pending.unwrap().token;
    let conv = Some(asked.conversation_id);
    let declined = agent
        .turn(
            &alice,
            &ChatInput {
                decline: Some(ConsentToken {
                    token: token.clone(),
                }),
                ..said("", conv.clone(), None)
            },
            &|_| {},
        )
        .await
        .unwrap();
    assert!(declined.pending.is_none() && declined.actions.is_empty());
    let late = agent
        .turn(
            &alice,
            &ChatInput {
                confirm: Some(ConsentToken { token }),
                ..said("", conv, None)
            },
            &|_| {},
        )
        .await;
    assert!(matches!(late, Err(AgentError::Stale(_))), "{late:?}");
    assert_eq!(mailer.count(), 1);
}

on_both_stores!(structured_consent: the_pending_actions_token_sends_once_and_no_other_token_or_a_decline_sends_on_sqlite, the_pending_actions_token_sends_once_and_no_other_token_or_a_decline_sends_on_dynamodb);
