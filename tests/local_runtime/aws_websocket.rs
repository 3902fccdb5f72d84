//! `chat-stream`, the AWS WebSocket handler, on the runtime's real stores and
//! model, with API Gateway's `@connections` management API on the wire: the
//! sample route events go in, and what the function posts to the connection
//! is checked as API Gateway would receive it (path, SigV4 as `execute-api`,
//! one JSON event per message).

use crate::helpers::spawn_app_with;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use jarvis_core::config::vars;
use jarvis_tests::wire::{Seen, WireServer};
use serde_json::{json, Value};
use std::sync::Arc;

const TRIP: &str = "# Trip plan\n\n## Lisbon\n\nWe land in Lisbon on 12 May and stay at the Alfama guesthouse near the castle.\n";

/// A sample route event for `tenant`, on connection `connection`.
fn event(
    file: &str,
    tenant: &str,
    connection: &str,
    body: Option<Value>,
) -> ApiGatewayWebsocketProxyRequest {
    let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["requestContext"]["authorizer"]["tenant"] = json!(tenant);
    v["requestContext"]["authorizer"]["principalId"] = json!(tenant);
    v["requestContext"]["connectionId"] = json!(connection);
    if let Some(body) = body {
        v["body"] = json!(body.to_string());
    }
    serde_json::from_value(v).unwrap()
}

/// The connection id a post went to (the SDK percent-encodes it).
fn connection_of(s: &Seen) -> String {
    s.path
        .strip_prefix("/live/@connections/")
        .unwrap_or_else(|| panic!("not a post to a connection: {}", s.path))
        .replace("%3D", "=")
}

/// API Gateway's management API: a client whose id starts with "gone" has left.
async fn management_api() -> WireServer {
    WireServer::start(|s: Seen| async move {
        if s.path.contains("/gone") {
            return (
                410,
                vec![("x-amzn-errortype".into(), "GoneException".into())],
                br#"{"message":"the connection is gone"}"#.to_vec(),
            );
        }
        (200, vec![], Vec::new())
    })
    .await
}

fn posts_to(seen: &[Seen], connection: &str) -> Vec<Value> {
    seen.iter()
        .filter(|s| connection_of(s) == connection)
        .map(|s| s.json())
        .collect()
}

#[tokio::test]
async fn chat_stream_posts_each_turn_event_to_the_connection_and_survives_a_client_that_left() {
    let app = spawn_app_with(&[(vars::TIME_ZONE, "UTC")]).await;
    app.drop_file("trip.md", TRIP.as_bytes());
    app.settled("trip.md").await;
    let server = management_api().await;
    let stack = app.running.as_ref().unwrap().stack.clone();
    let sdk = jarvis_tests::emulator::sdk_config_for(&server.url, 1).await;
    let deps = chat_stream::Deps {
        chat: api_chat::Deps::local(
            &stack,
            jarvis::assistant::chat_model(&stack).unwrap(),
            Arc::new(jarvis::assistant::LocalTools::new(&stack)),
        ),
        connections: Arc::new(jarvis_aws::connections::ApiGatewayConnections::new(
            sdk,
            Some(format!("{}/live", server.url)),
        )),
        records: stack.records.clone(),
    };

    // $connect: accepted with the authorizer's tenant, refused without one.
    let connect = chat_stream::handle(
        &deps,
        event("chat-stream.connect.json", "local", "c1=", None),
    )
    .await;
    assert_eq!(connect.status_code, 200);
    let mut anonymous = event("chat-stream.connect.json", "local", "c0=", None);
    anonymous.request_context.authorizer.fields.clear();
    assert_eq!(chat_stream::handle(&deps, anonymous).await.status_code, 401);

    // A turn: a question about the document and a reminder.
    let ask = json!({"action": "sendMessage", "message": "Where do we stay in Lisbon? Also remind me in 10 minutes to book the train"});
    let out = chat_stream::handle(
        &deps,
        event("chat-stream.send-message.json", "local", "c1=", Some(ask)),
    )
    .await;
    assert_eq!(out.status_code, 200);
    let seen = server.seen();
    for s in &seen {
        assert_eq!(s.method, "POST");
        let auth = s.header("authorization").unwrap_or_default();
        assert!(auth.contains("/execute-api/aws4_request"), "{auth}");
    }
    let events = posts_to(&seen, "c1=");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"started"), "{types:?}");
    assert_eq!(types.last(), Some(&"done"), "{types:?}");
    assert!(
        types.contains(&"tool_started") && types.contains(&"tool_finished"),
        "{types:?}"
    );
    let streamed: String = events
        .iter()
        .filter(|e| e["type"] == "delta")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    let done = events.last().unwrap();
    assert_eq!(
        streamed,
        done["answer"].as_str().unwrap(),
        "the deltas add up to the answer"
    );
    assert!(streamed.contains("Alfama"), "{streamed}");
    assert_eq!(done["citations"][0]["title"], "Trip plan");
    let (status, reminders) = app.get("/reminders").await;
    assert_eq!(status, 200);
    assert!(
        reminders.to_string().contains("book the train"),
        "{reminders}"
    );

    // A bad message: an error event, nothing else.
    let bad = chat_stream::handle(
        &deps,
        event(
            "chat-stream.send-message.json",
            "local",
            "c2=",
            Some(json!({"action": "sendMessage"})),
        ),
    )
    .await;
    assert_eq!(bad.status_code, 200);
    let errors = posts_to(&server.seen(), "c2=");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0]["type"].as_str(), errors[0]["code"].as_str()),
        (Some("error"), Some("bad_request"))
    );

    // A client that left after sending: one post finds it gone, no more are
    // tried, and the turn still completes (its conversation is stored).
    let before = server.seen().len();
    let ask = json!({"action": "sendMessage", "message": "Add a task to renew my passport"});
    let out = chat_stream::handle(
        &deps,
        event(
            "chat-stream.send-message.json",
            "local",
            "gone1=",
            Some(ask),
        ),
    )
    .await;
    assert_eq!(out.status_code, 200);
    let tried = server.seen().len() - before;
    assert_eq!(tried, 1, "posting stops at the first 410");
    let (_, tasks) = app.get("/tasks").await;
    assert!(tasks.to_string().contains("renew my passport"), "{tasks}");

    let bye = chat_stream::handle(
        &deps,
        event("chat-stream.disconnect.json", "local", "c1=", None),
    )
    .await;
    assert_eq!(bye.status_code, 200);
}

/// A reminder reaches its owner's open app on AWS: chat-stream keeps each
/// connection at `$connect`, and reminder-fire (SNS first) posts the
/// notification to every connection of the owner — not to another tenant's,
/// not to one that has gone (which is then forgotten), not after `$disconnect`.
#[tokio::test]
async fn a_fired_reminder_is_pushed_to_its_owners_open_connections_only() {
    use jarvis_core::domain::{LiveConnection, Reminder, ReminderSchedule};
    use jarvis_core::ports::{Notification, Notifier, RecordKind, RecordStore};
    let app = spawn_app_with(&[(vars::TIME_ZONE, "UTC")]).await;
    let server = management_api().await;
    let stack = app.running.as_ref().unwrap().stack.clone();
    let sdk = jarvis_tests::emulator::sdk_config_for(&server.url, 1).await;
    let connections = Arc::new(jarvis_aws::connections::ApiGatewayConnections::new(
        sdk,
        Some(format!("{}/live", server.url)),
    ));
    let deps = chat_stream::Deps {
        chat: api_chat::Deps::local(
            &stack,
            jarvis::assistant::chat_model(&stack).unwrap(),
            Arc::new(jarvis::assistant::LocalTools::new(&stack)),
        ),
        connections: connections.clone(),
        records: stack.records.clone(),
    };
    for (tenant, id) in [
        ("local", "phone="),
        ("local", "gone-laptop="),
        ("bob", "bobs="),
    ] {
        let out =
            chat_stream::handle(&deps, event("chat-stream.connect.json", tenant, id, None)).await;
        assert_eq!(out.status_code, 200);
    }
    let me = jarvis_core::TenantId::parse("local").unwrap();
    let kept: Vec<LiveConnection> = jarvis_core::records::list(stack.records.as_ref(), &me)
        .await
        .unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept[0].endpoint.starts_with("https://"), "{kept:?}");

    /// The durable channel (SNS on AWS), counted.
    #[derive(Default)]
    struct Sns(std::sync::Mutex<Vec<String>>);
    #[async_trait::async_trait]
    impl Notifier for Sns {
        async fn notify(&self, n: &Notification) -> jarvis_core::ports::PortResult<()> {
            self.0.lock().unwrap().push(n.tenant_id.to_string());
            Ok(())
        }
    }
    let sns = Arc::new(Sns::default());
    let fire = reminder_fire::Deps {
        notifier: sns.clone(),
        push: Arc::new(jarvis_aws::push::PushToConnections {
            records: stack.records.clone(),
            connections: connections.clone(),
            clock: stack.clock.clone(),
        }),
        ..reminder_fire::Deps::local(&stack)
    };
    let reminder = Reminder {
        id: "rem_push".into(),
        tenant_id: me.clone(),
        text: "Call Ana".into(),
        schedule: ReminderSchedule::At {
            at: stack.clock.now() - chrono::Duration::seconds(5),
        },
        fired_at: None,
        cancelled: false,
        created_at: stack.clock.now() - chrono::Duration::minutes(1),
        late: false,
        fired_count: 0,
        claimed: None,
        claimed_at: None,
        changed_at: None,
    };
    jarvis_core::records::put(stack.records.as_ref(), &reminder)
        .await
        .unwrap();
    let out = reminder_fire::handle(&fire, reminder.clone())
        .await
        .unwrap();
    assert!(matches!(out, reminder_fire::Fired::Sent { .. }), "{out:?}");
    assert_eq!(*sns.0.lock().unwrap(), ["local"], "SNS first, once");
    let seen = server.seen();
    let pushed = posts_to(&seen, "phone=");
    assert_eq!(pushed.len(), 1, "{seen:?}");
    assert_eq!(pushed[0]["type"], "notification");
    assert_eq!(pushed[0]["body"], "Call Ana");
    assert_eq!(pushed[0]["attributes"]["reminder_id"], "rem_push");
    assert!(
        posts_to(&seen, "bobs=").is_empty(),
        "bob's app hears nothing"
    );
    assert_eq!(posts_to(&seen, "gone-laptop=").len(), 1, "tried once");
    let kept: Vec<LiveConnection> = jarvis_core::records::list(stack.records.as_ref(), &me)
        .await
        .unwrap();
    assert_eq!(
        kept.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["phone="],
        "the gone one is forgotten"
    );

    // $disconnect forgets the phone; bob's connection stays his.
    let bye = chat_stream::handle(
        &deps,
        event("chat-stream.disconnect.json", "local", "phone=", None),
    )
    .await;
    assert_eq!(bye.status_code, 200);
    assert!(stack
        .records
        .list(&me, RecordKind::Connection)
        .await
        .unwrap()
        .is_empty());
    let bob = jarvis_core::TenantId::parse("bob").unwrap();
    assert_eq!(
        stack
            .records
            .list(&bob, RecordKind::Connection)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// `make smoke-<env>` streams a turn with its own standard-library WebSocket
/// client; the local runtime speaks the same protocol, so the client is
/// exercised here (a bad token refused, then started … done).
#[tokio::test]
async fn the_smoke_tests_websocket_client_streams_a_turn_from_the_local_runtime() {
    let app = crate::helpers::spawn_app().await;
    let url = format!("{}/chat/stream", app.base.replace("http://", "ws://"));
    let out = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/smoke.py"))
        .args(["--websocket", &url])
        .env("JARVIS_TOKEN", &app.token)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "WebSocket with a bad token → 401",
        "WebSocket connect → 101",
        "WebSocket sendMessage → started … done",
        "smoke: OK",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
}

/// `make smoke-<env>`'s whole round trip, run against the local runtime (the
/// same API): pre-signed upload → indexed → found → cited chat → a reminder a
/// minute ahead delivered to the user's WebSocket → a streamed turn → erasure
/// done and everything gone. The runtime's clock runs 25 times fast meanwhile,
/// so the reminder's minute passes in seconds.
#[tokio::test]
async fn the_smoke_tests_round_trip_passes_against_the_local_runtime() {
    let app = crate::helpers::spawn_app().await;
    let mut smoke = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/smoke.py"))
        .args(["--api", &app.base, "--wait", "60"])
        .env("JARVIS_TOKEN", &app.token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = smoke.stdout.take().unwrap();
    let stderr = smoke.stderr.take().unwrap();
    let read_all = |mut r: Box<dyn tokio::io::AsyncRead + Unpin + Send>| async move {
        let mut s = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut r, &mut s)
            .await
            .unwrap();
        s
    };
    let out = tokio::spawn(read_all(Box::new(stdout)));
    let err = tokio::spawn(read_all(Box::new(stderr)));
    let status = loop {
        tokio::select! {
            status = smoke.wait() => break status.unwrap(),
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                app.clock.advance(chrono::Duration::seconds(5));
            }
        }
    };
    let (stdout, stderr) = (out.await.unwrap(), err.await.unwrap());
    assert!(status.success(), "{stdout}{stderr}");
    for line in [
        "ok  POST /uploads",
        "indexed",
        "ok  POST /search finds it",
        "ok  POST /chat answers with the code word, citing the file",
        "ok  the reminder is delivered to the user's WebSocket",
        "WebSocket sendMessage → started … done",
        "ok  the erasure is done",
        "ok  its chunks are gone",
        "smoke: OK",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
}

/// The smoke test erases its user's data, so it refuses a user who has
/// documents it did not make.
#[tokio::test]
async fn the_smoke_test_refuses_a_user_with_real_data() {
    let app = crate::helpers::spawn_app().await;
    let r = app
        .client
        .post(format!("{}/documents?name=diary.md", app.base))
        .bearer_auth(&app.token)
        .body("# Diary\n\nDear diary.")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let out = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/smoke.py"))
        .args(["--api", &app.base])
        .env("JARVIS_TOKEN", &app.token)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("dedicated test user"), "{stdout}");
    let (status, listed) = app.get("/documents").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["documents"].as_array().unwrap().len(),
        1,
        "nothing erased"
    );
}
