//! Editing what the assistant keeps: a task's title and due time, an upcoming
//! reminder's text and time (it fires at the new time, once, and never at the
//! old one), and an unsent draft (the token shown before the edit no longer
//! sends; a sent mail cannot change). Each only for its owner.

use crate::helpers::spawn_app_with;
use chrono::{DateTime, Duration, Utc};
use jarvis_core::config::vars;
use reqwest::Method;
use serde_json::{json, Value};

async fn quiet(notes: &mut tokio::sync::broadcast::Receiver<(jarvis_core::TenantId, Value)>) {
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(notes.try_recv().is_err(), "nothing fires");
}

#[tokio::test]
async fn a_task_is_retitled_and_rescheduled_and_only_by_its_owner() {
    let app = spawn_app_with(&[(vars::TIME_ZONE, "UTC")]).await;
    app.clock.set("2026-11-22T10:00:00Z".parse().unwrap());
    let (status, task) = app
        .send(
            Method::POST,
            "/tasks",
            Some(json!({"title": "pack", "due": "tomorrow at 9am"})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());

    let (status, changed) = app
        .send(
            Method::PATCH,
            &path,
            Some(json!({"title": "pack the bags", "due": "friday 5pm"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["title"], "pack the bags");
    assert_eq!(changed["due"], "2026-11-27T17:00:00Z");
    let (_, cleared) = app
        .send(Method::PATCH, &path, Some(json!({"due": ""})))
        .await;
    assert!(cleared["due"].is_null(), "{cleared}");
    assert_eq!(
        cleared["title"], "pack the bags",
        "what was not named stays"
    );

    for (body, want) in [
        // Shapes the schema refuses are 400s; a time that cannot be read, 422.
        (json!({}), 400),
        (json!({"title": "  "}), 400),
        (json!({"due": "when pigs fly"}), 422),
        (json!({"title": "x", "colour": "red"}), 400),
    ] {
        let (status, err) = app.send(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(status, want, "{body} → {err}");
    }
    let bob = app.token_for("bob");
    let r = app
        .client
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&bob)
        .json(&json!({"title": "mine now"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "another tenant's task is not there");
    let (_, listed) = app.send(Method::GET, "/tasks", None).await;
    assert_eq!(listed["tasks"][0]["title"], "pack the bags");
}

#[tokio::test]
async fn a_reminder_moved_fires_at_its_new_time_once_and_never_at_the_old_one() {
    let app = spawn_app_with(&[(vars::TIME_ZONE, "UTC")]).await;
    let start: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
    app.clock.set(start);
    let stack = &app.running.as_ref().unwrap().stack;
    let mut notes = stack.notifier.subscribe();

    // Later: 11:00 → 13:00, and a new text.
    let (_, later) = app
        .send(
            Method::POST,
            "/reminders",
            Some(json!({"text": "call Ana", "when": "in 1 hour"})),
        )
        .await;
    let later_path = format!("/reminders/{}", later["id"].as_str().unwrap());
    let (status, moved) = app
        .send(
            Method::PATCH,
            &later_path,
            Some(json!({"text": "call Ana back", "when": "in 3 hours"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["schedule"]["at"], "2026-11-22T13:00:00Z");
    // Earlier: 15:00 → 12:00.
    let (_, earlier) = app
        .send(
            Method::POST,
            "/reminders",
            Some(json!({"text": "water the plants", "when": "in 5 hours"})),
        )
        .await;
    let earlier_path = format!("/reminders/{}", earlier["id"].as_str().unwrap());
    let (status, _) = app
        .send(
            Method::PATCH,
            &earlier_path,
            Some(json!({"when": "in 2 hours"})),
        )
        .await;
    assert_eq!(status, 200);

    app.clock
        .set(start + Duration::hours(1) + Duration::seconds(5));
    quiet(&mut notes).await;

    app.clock
        .set(start + Duration::hours(2) + Duration::seconds(5));
    let (_, note) = tokio::time::timeout(std::time::Duration::from_secs(10), notes.recv())
        .await
        .expect("the reminder moved earlier fires at its new time")
        .unwrap();
    assert_eq!(note["body"], "water the plants");

    app.clock
        .set(start + Duration::hours(3) + Duration::seconds(5));
    let (_, note) = tokio::time::timeout(std::time::Duration::from_secs(10), notes.recv())
        .await
        .expect("the reminder moved later fires at its new time")
        .unwrap();
    assert_eq!(note["body"], "call Ana back", "with its new text");

    app.clock.set(start + Duration::hours(6));
    quiet(&mut notes).await;

    // Fired: it cannot be moved any more.
    let (status, err) = app
        .send(
            Method::PATCH,
            &later_path,
            Some(json!({"when": "tomorrow at 9am"})),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    let (status, _) = app
        .send(
            Method::PATCH,
            &later_path,
            Some(json!({"when": "yesterday at 9am"})),
        )
        .await;
    assert_eq!(
        status, 422,
        "a time in the past is refused before anything changes"
    );
}

#[tokio::test]
async fn an_edited_draft_sends_what_it_says_now_and_only_with_its_new_token() {
    let app = spawn_app_with(&[]).await;
    let (_, draft) = app
        .send(
            Method::POST,
            "/emails/drafts",
            Some(json!({"to": ["ana@example.com"], "subject": "Lisbon", "body": "See you there."})),
        )
        .await;
    let id = draft["id"].as_str().unwrap();
    let old_token = draft["confirm_token"].as_str().unwrap().to_owned();
    let path = format!("/emails/drafts/{id}");
    let (status, edited) = app
        .send(
            Method::PATCH,
            &path,
            Some(json!({"to": ["bob@example.com"], "body": "See you in May."})),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["to"], json!(["bob@example.com"]));
    assert_eq!(edited["subject"], "Lisbon");
    let new_token = edited["confirm_token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, old_token, "the token is of what the mail says");

    let send = format!("{path}/send");
    let (status, _) = app
        .send(
            Method::POST,
            &send,
            Some(json!({"confirm_token": old_token})),
        )
        .await;
    assert_eq!(status, 409, "the token shown before the edit does not send");
    assert!(app.outbox("local").is_empty());
    let (status, _) = app
        .send(
            Method::PATCH,
            &path,
            Some(json!({"to": ["not an address"]})),
        )
        .await;
    assert_eq!(status, 400);

    let (status, sent) = app
        .send(
            Method::POST,
            &send,
            Some(json!({"confirm_token": new_token})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let outbox = app.outbox("local");
    assert_eq!(outbox.len(), 1);
    assert!(
        outbox[0].contains("bob@example.com") && outbox[0].contains("See you in May."),
        "{}",
        outbox[0]
    );
    let (status, _) = app
        .send(Method::PATCH, &path, Some(json!({"body": "too late"})))
        .await;
    assert_eq!(status, 409, "a sent mail cannot change");
}
