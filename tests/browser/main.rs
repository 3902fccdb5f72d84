//! The web app in a real headless Chromium, against the local runtime, as a
//! person uses it: sign in through the printed link, add files and watch them
//! index, search and open a citation at its page, chat (streamed, cited, Esc
//! stops it), set a reminder and see it fire, send a draft with the card's
//! button (and see a typed "yes" to an address never named send nothing),
//! change the time zone, export and delete everything. Every page is checked
//! with axe-core in light and dark mode, and photographed at desktop and
//! phone width into `target/artifacts/web/`.

mod cognito;
mod driver;
#[allow(dead_code)]
#[path = "../local_runtime/helpers.rs"]
mod helpers;

use chrono::Duration;
use driver::Browser;
use helpers::{mail_with_attachment, spawn_app_with, TestApp};
use jarvis_core::config::vars;
use serde_json::{json, Value};

const PAGES: [&str; 7] = [
    "chat",
    "documents",
    "search",
    "reminders",
    "tasks",
    "drafts",
    "settings",
];

/// A runtime for the browser, signed in through the link it prints.
async fn signed_in(extra: &[(&'static str, &str)]) -> (TestApp, Browser) {
    let app = spawn_app_with(extra).await;
    let b = Browser::start().await;
    let link = app.running.as_ref().unwrap().sign_in_link().unwrap();
    b.goto(&link).await;
    b.until("signed in", "document.querySelector('nav.nav')", 30)
        .await;
    assert!(
        !b.js("return location.hash")
            .await
            .as_str()
            .unwrap()
            .contains("signin"),
        "the one-time code leaves the address bar"
    );
    (app, b)
}

async fn page(b: &Browser, base: &str, id: &str) {
    b.goto(&format!("{base}/#/{id}")).await;
    b.until(
        &format!("{id} shown"),
        "document.querySelector('main.page') && !document.querySelector('[aria-busy=true]')",
        20,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_in_adds_a_pdf_and_a_mail_watches_them_index_and_opens_a_citation_at_its_page(
) {
    let (app, b) = signed_in(&[(vars::TIME_ZONE, "UTC")]).await;

    // The first page: what it costs, and when it answers.
    let first = b
        .js("const n = performance.getEntriesByType('navigation')[0]; const r = performance.getEntriesByType('resource'); return {bytes: n.decodedBodySize + r.reduce((s, e) => s + e.decodedBodySize, 0), transferred: n.transferSize + r.reduce((s, e) => s + e.transferSize, 0), files: r.length + 1, interactive_ms: window.jarvisReadyAt || null}")
        .await;
    println!("first page: {first}");
    assert!(
        first["bytes"].as_u64().unwrap() < 300 * 1024,
        "the first page is under 300 KB uncompressed: {first}"
    );

    // A new link, used twice: the second time it signs nobody in.
    let used = app.running.as_ref().unwrap().sign_in_link().unwrap();
    let code = used.split("signin=").nth(1).unwrap();
    let first_use = reqwest::Client::new()
        .post(format!("{}/auth/local", app.base))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(first_use.status(), 200);
    let again = reqwest::Client::new()
        .post(format!("{}/auth/local", app.base))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401, "a sign-in link works once");

    // Drop a PDF (the budget on page 2) and a mail with an attachment.
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("budget-review.pdf");
    std::fs::write(
        &pdf,
        jarvis_extract::fixtures::make_pdf(&[
            &["Quarterly review", "Agenda for the meeting."],
            &["The marketing budget grows by twelve percent in March."],
        ]),
    )
    .unwrap();
    let eml = dir.path().join("boiler.eml");
    std::fs::write(
        &eml,
        mail_with_attachment(
            "The boiler",
            "The plumber comes on Monday to service the boiler.",
            "invoice.txt",
            "text/plain",
            b"Invoice for the boiler service: 180 euros.",
        ),
    )
    .unwrap();
    page(&b, &app.base, "documents").await;
    // Every stage each upload shows, as it shows it.
    b.js("window.seen = {}; new MutationObserver(() => document.querySelectorAll('li[data-file]').forEach(li => { const f = li.dataset.file; const s = (li.querySelector('.stages .on') || li.querySelector('.badge') || {}).textContent; if (s) { const l = (window.seen[f] = window.seen[f] || []); if (l[l.length - 1] !== s) l.push(s); } })).observe(document.body, {subtree: true, childList: true, characterData: true}); return true;").await;
    b.send_keys("#files", &format!("{}\n{}", pdf.display(), eml.display()))
        .await;
    b.until(
        "both files indexed",
        "[...document.querySelectorAll('li[data-file]')].filter(li => /Indexed/.test(li.textContent)).length === 2",
        120,
    )
    .await;
    let seen = b.js("return window.seen").await;
    println!("stages seen: {seen}");
    for file in ["budget-review.pdf", "boiler.eml"] {
        let stages: Vec<&str> = seen[file]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(stages.last(), Some(&"Indexed"), "{file}: {stages:?}");
        let order = ["uploading", "queued", "extracting", "indexing", "Indexed"];
        let positions: Vec<usize> = stages
            .iter()
            .map(|s| {
                order
                    .iter()
                    .position(|o| o == s)
                    .unwrap_or_else(|| panic!("{file}: {s}"))
            })
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{file}: stages in order: {stages:?}"
        );
    }
    // The mail's attachment is a document of its own, listed.
    b.until(
        "the attachment listed",
        "/invoice\\.txt/.test(document.body.innerText)",
        60,
    )
    .await;
    b.shot("documents-after-upload").await;

    // Search, and open the hit's original at its page.
    page(&b, &app.base, "search").await;
    b.type_into("#q", "marketing budget").await;
    b.click("form[role=search] button[type=submit]").await;
    b.until(
        "a hit",
        "document.querySelectorAll('li.hit').length > 0",
        20,
    )
    .await;
    assert!(b.text().await.contains("page 2"), "{}", b.text().await);
    assert_eq!(
        b.js("return document.querySelector('li.hit mark') !== null")
            .await,
        json!(true),
        "the matching words are highlighted"
    );
    b.shot("search-results").await;
    b.click("li.hit button.title").await;
    b.until(
        "the source beside its link",
        "document.querySelector('dialog[open] blockquote')",
        10,
    )
    .await;
    assert!(b.text().await.contains("marketing budget"));
    let before = b.windows().await;
    b.press("Open the original at page 2").await;
    let mut opened = None;
    for _ in 0..50 {
        let now = b.windows().await;
        if let Some(w) = now.iter().find(|w| !before.contains(w)) {
            opened = Some(w.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let original = opened.expect("the original opens in a new tab");
    b.switch_to_window(&original).await;
    let mut url = String::new();
    for _ in 0..50 {
        url = b.current_url().await;
        if url.contains("/files/") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(url.contains("/files/") && url.ends_with("#page=2"), "{url}");
    let served = reqwest::get(url.split('#').next().unwrap()).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/pdf");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_streams_a_cited_answer_esc_stops_one_and_a_reminder_set_in_chat_fires_in_the_app() {
    let (app, b) = signed_in(&[(vars::TIME_ZONE, "UTC"), (vars::CHAT_PACE_MS, "60")]).await;
    app.drop_file(
        "trip.md",
        b"# Trip plan\n\nWe land in Lisbon on 12 May and stay at the Alfama guesthouse near the castle.\n\nThe train to Porto leaves at nine on 15 May.\n",
    );
    assert_eq!(app.settled("trip.md").await["status"], "indexed");
    page(&b, &app.base, "chat").await;
    b.type_into("#message", "Where do we stay in Lisbon?").await;
    b.click(".composer button[type=submit]").await;
    // Streamed: the answer grows while "Writing…" shows.
    b.until("writing", "/Writing/.test(document.body.innerText)", 20)
        .await;
    b.until(
        "a cited answer",
        "document.querySelector('.turn.assistant .chip')",
        60,
    )
    .await;
    let answer = b
        .js("return document.querySelector('.turn.assistant .bubble').innerText")
        .await;
    assert!(answer.as_str().unwrap().contains("Alfama"), "{answer}");
    b.shot("chat-answer").await;
    // The citation chip opens its source.
    b.click(".turn.assistant .chip").await;
    b.until(
        "the source",
        "document.querySelector('dialog[open] blockquote')",
        10,
    )
    .await;
    assert!(b.text().await.contains("Trip plan"));
    b.press("Close").await;

    // Esc stops an answer while it is written.
    b.type_into("#message", "Summarize my trip plan").await;
    b.click(".composer button[type=submit]").await;
    b.until(
        "writing again",
        "/Writing/.test(document.body.innerText)",
        20,
    )
    .await;
    b.key(driver::ESCAPE).await;
    b.until("stopped", "/Stopped/.test(document.body.innerText)", 10)
        .await;
    b.until(
        "the whole answer offered",
        "/show the whole answer/.test(document.body.innerText)",
        60,
    )
    .await;
    let stopped = b.js("const t = document.querySelectorAll('.turn.assistant .bubble'); return t[t.length - 1].innerText").await;
    b.press("show the whole answer").await;
    let whole = b.js("const t = document.querySelectorAll('.turn.assistant .bubble'); return t[t.length - 1].innerText").await;
    assert!(
        whole.as_str().unwrap().len() > stopped.as_str().unwrap().len(),
        "stopped part-way: {stopped} / {whole}"
    );

    // A reminder set in chat: listed, and when the runtime's clock reaches it,
    // shown in the open app.
    b.type_into("#message", "remind me in 1 hour to stretch")
        .await;
    b.click(".composer button[type=submit]").await;
    b.until(
        "reminder card",
        "/Reminder set: stretch/.test(document.body.innerText)",
        30,
    )
    .await;
    page(&b, &app.base, "reminders").await;
    b.until("listed", "/stretch/.test(document.body.innerText)", 10)
        .await;
    // Edited in the list: new words, two hours later. Nothing at the old time.
    b.press("Edit").await;
    b.until(
        "the edit dialog",
        "document.querySelector('dialog[open] #edit-text')",
        10,
    )
    .await;
    b.shot("reminder-edit").await;
    b.type_into("#edit-text", "stretch and breathe").await;
    b.type_into("#edit-when", "in 3 hours").await;
    b.press("Save").await;
    b.until(
        "changed",
        "/stretch and breathe/.test(document.querySelector('ul.list').innerText) && !document.querySelector('dialog[open]')",
        10,
    )
    .await;
    app.clock.advance(Duration::hours(1) + Duration::seconds(5));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let toasts = b
        .js("return [...document.querySelectorAll('.toast')].map(t => t.textContent).join(' | ')")
        .await;
    assert!(
        !toasts.as_str().unwrap().contains("stretch"),
        "nothing at the old time: {toasts}"
    );
    app.clock.advance(Duration::hours(2));
    b.until(
        "the notification",
        "[...document.querySelectorAll('.toast')].some(t => /stretch and breathe/.test(t.textContent))",
        30,
    )
    .await;
    b.shot("reminder-notification").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_sent_with_the_cards_button_and_a_typed_yes_to_an_address_never_named_sends_nothing(
) {
    let (app, b) = signed_in(&[(vars::TIME_ZONE, "UTC")]).await;
    page(&b, &app.base, "chat").await;
    b.type_into(
        "#message",
        "draft an email to bob@example.com about the trip",
    )
    .await;
    b.click(".composer button[type=submit]").await;
    b.until(
        "drafted",
        "/Drafted an e-mail/.test(document.body.innerText)",
        30,
    )
    .await;
    b.type_into("#message", "send it").await;
    b.click(".composer button[type=submit]").await;
    b.until("the card", "document.querySelector('.pending-card')", 30)
        .await;
    let card = b
        .js("return document.querySelector('.pending-card').innerText")
        .await;
    assert!(card.as_str().unwrap().contains("bob@example.com"), "{card}");
    b.shot("chat-pending-send").await;
    assert!(
        app.outbox("local").is_empty(),
        "nothing sent before the button"
    );
    b.click(".pending-card .btn.primary").await;
    b.until(
        "sent",
        "/Sent the e-mail/.test(document.body.innerText)",
        30,
    )
    .await;
    assert_eq!(app.outbox("local").len(), 1);

    // A draft to an address this conversation never named (made elsewhere):
    // the card warns, and a typed "yes" is not consent.
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/emails/drafts",
            Some(json!({"to": ["exfil@attacker-mail.test"], "subject": "files", "body": "everything"})),
        )
        .await;
    assert_eq!(status, 201);
    b.press("New conversation").await;
    b.type_into("#message", "send it").await;
    b.click(".composer button[type=submit]").await;
    b.until(
        "the warning",
        "/never asked to write to exfil@attacker-mail.test/.test(document.body.innerText)",
        30,
    )
    .await;
    b.type_into("#message", "yes").await;
    b.click(".composer button[type=submit]").await;
    b.until(
        "refused",
        "/Nothing was done/.test(document.body.innerText)",
        30,
    )
    .await;
    assert_eq!(app.outbox("local").len(), 1, "a typed yes sent nothing");
    // Cancel with the card's button: nothing pending, nothing sent.
    b.click(".pending-card .btn:not(.primary)").await;
    b.until(
        "cancelled",
        "/won't do it/.test(document.body.innerText)",
        30,
    )
    .await;
    assert_eq!(app.outbox("local").len(), 1);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_zone_is_changed_and_my_data_is_exported_then_deleted() {
    let (app, b) = signed_in(&[(vars::TIME_ZONE, "UTC")]).await;
    app.drop_file("notes.md", b"# Notes\n\nThe weir is by the old mill.\n");
    app.settled("notes.md").await;
    page(&b, &app.base, "settings").await;
    b.until("settings", "document.querySelector('#zone')", 10)
        .await;
    b.js("const s = document.querySelector('#zone'); s.value = 'America/New_York'; s.dispatchEvent(new Event('change', {bubbles: true})); return true;").await;
    b.click("form[aria-labelledby=zone-h] button[type=submit]")
        .await;
    b.until(
        "saved",
        "/Times are read and shown in America\\/New_York/.test(document.body.innerText)",
        10,
    )
    .await;
    let (_, settings) = app.get("/me/settings").await;
    assert_eq!(settings["own_time_zone"], "America/New_York", "{settings}");

    // Export: the archive lands where the browser downloads.
    let downloads = tempfile::tempdir().unwrap();
    b.cdp(
        "Browser.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": downloads.path().display().to_string()}),
    )
    .await;
    b.press("Export my data").await;
    let mut archive = None;
    for _ in 0..100 {
        archive = std::fs::read_dir(downloads.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "zip"));
        if archive.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let archive = archive.expect("the export downloaded");
    let zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert!(names.iter().any(|n| n.ends_with("notes.md")), "{names:?}");

    // Delete: the confirmation says what goes, then everything goes.
    b.press("Delete my data").await;
    b.until(
        "the confirmation",
        "document.querySelector('dialog[open]')",
        10,
    )
    .await;
    let said = b
        .js("return document.querySelector('dialog[open]').innerText")
        .await;
    for what in [
        "every document",
        "conversations",
        "reminders",
        "settings",
        "receipt",
    ] {
        assert!(said.as_str().unwrap().contains(what), "{what}: {said}");
    }
    b.shot("settings-delete-confirmation").await;
    b.press("Delete everything").await;
    b.until(
        "done",
        "/Removed 1 documents/.test(document.body.innerText)",
        60,
    )
    .await;
    assert!(app.documents().await.is_empty());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_in_light_and_dark_and_is_photographed_at_desktop_and_phone_width() {
    let (app, b) = signed_in(&[(vars::TIME_ZONE, "UTC")]).await;
    app.drop_file(
        "trip.md",
        b"# Trip plan\n\nWe stay at the Alfama guesthouse.\n",
    );
    app.settled("trip.md").await;
    // Every page with something on it, so its items and buttons are checked too.
    let said = app.chat("Where do we stay?", None).await;
    let conversation = said["conversation_id"].as_str().unwrap().to_owned();
    for (path, body) in [
        (
            "/tasks",
            json!({"title": "renew the passport", "due": "friday 5pm"}),
        ),
        (
            "/reminders",
            json!({"text": "call Ana", "when": "tomorrow at 9am"}),
        ),
        (
            "/emails/drafts",
            json!({"to": ["ana@example.com"], "subject": "The trip", "body": "Hello Ana,\n\nWe land on 12 May.\n"}),
        ),
    ] {
        let (status, out) = app.send(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, 201, "{path}: {out}");
    }
    let mut problems = Vec::new();
    for id in PAGES {
        let route = if id == "chat" {
            format!("chat/{conversation}")
        } else {
            id.to_owned()
        };
        page(&b, &app.base, &route).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        for dark in [false, true] {
            b.dark(dark).await;
            let theme = if dark { "dark" } else { "light" };
            for p in b.accessibility_problems().await {
                problems.push(format!("{id} ({theme}): {p}"));
            }
            b.shot(&format!("{id}-desktop-{theme}")).await;
            b.phone(true).await;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            for p in b.accessibility_problems().await {
                problems.push(format!("{id} (phone, {theme}): {p}"));
            }
            b.shot(&format!("{id}-phone-{theme}")).await;
            b.phone(false).await;
        }
        b.dark(false).await;
    }
    // The sign-in page too.
    let b2 = Browser::start().await;
    b2.goto(&app.base).await;
    b2.until("sign-in", "document.querySelector('#token')", 20)
        .await;
    for p in b2.accessibility_problems().await {
        problems.push(format!("sign-in: {p}"));
    }
    b2.shot("signin-desktop-light").await;
    b2.close().await;
    assert!(
        problems.is_empty(),
        "serious or critical axe violations:\n{}",
        problems.join("\n")
    );
    b.close().await;
}

/// The deployed sign-in: managed login's authorization code + PKCE, the
/// tokens in memory only (nothing in storage, a reload asks again), the API
/// called with the access token, a silent refresh before it expires, and
/// sign-out ending the Cognito session and going back to the sign-in page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_the_app_signs_in_with_managed_login_refreshes_silently_and_signs_out() {
    let app = helpers::spawn_app().await;
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    let idp = cognito::Cognito::start(&app.base, &app.token, web).await;
    // Tokens that expire within the app's one-minute margin: the next call refreshes.
    idp.seen.lock().unwrap().expires_in = 61;
    let b = Browser::start().await;
    b.goto(&format!("{}/", idp.base)).await;
    b.until(
        "the sign-in page",
        "document.querySelector('main.signin button')",
        20,
    )
    .await;
    b.press("Sign in").await;
    b.until(
        "signed in through managed login",
        "document.querySelector('nav.nav')",
        20,
    )
    .await;
    let href = b.js("return location.href").await;
    assert!(
        !href.as_str().unwrap().contains("code="),
        "the code leaves the address bar: {href}"
    );
    let stored = b
        .js("return JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")
        .await;
    assert!(
        !stored.as_str().unwrap().contains("access-")
            && !stored.as_str().unwrap().contains("refresh-"),
        "tokens stay in memory: {stored}"
    );
    let first = idp.seen.lock().unwrap().issued[0].clone();
    b.until(
        "the API called with the access token",
        "document.querySelector('main.page')",
        20,
    )
    .await;
    page(&b, &idp.base, "documents").await;
    {
        let seen = idp.seen.lock().unwrap();
        assert!(
            seen.let_through
                .iter()
                .any(|a| a == &format!("Bearer {first}")),
            "{:?}",
            seen.let_through
        );
        assert_eq!(seen.grants[0], "authorization_code");
    }

    // Past the margin, the next call refreshes first and carries the new token.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    page(&b, &idp.base, "reminders").await;
    b.until(
        "reminders listed",
        "document.body.innerText.includes('No upcoming reminders')",
        20,
    )
    .await;
    {
        let seen = idp.seen.lock().unwrap();
        assert!(
            seen.grants.iter().any(|g| g == "refresh_token"),
            "{:?}",
            seen.grants
        );
        let newest = seen.issued.last().unwrap();
        assert_ne!(newest, &first);
        assert_eq!(
            seen.let_through.last().unwrap(),
            &format!("Bearer {newest}")
        );
        assert_eq!(seen.refused, 0, "no call went out with an expired token");
        assert_eq!(
            seen.grants.iter().filter(|g| *g == "refresh_token").count(),
            1,
            "one refresh for the page's several calls: {:?}",
            seen.grants
        );
    }

    // A reload forgets the tokens (memory only): signing in again is one click
    // while the managed-login session lasts.
    b.goto(&format!("{}/", idp.base)).await;
    b.until(
        "asked to sign in again",
        "document.querySelector('main.signin button')",
        20,
    )
    .await;
    b.press("Sign in").await;
    b.until("signed in again", "document.querySelector('nav.nav')", 20)
        .await;

    b.press("Sign out").await;
    b.until(
        "signed out",
        "document.querySelector('main.signin button')",
        20,
    )
    .await;
    {
        let seen = idp.seen.lock().unwrap();
        assert_eq!(
            seen.logouts,
            [cognito::CLIENT_ID],
            "sign-out ends the managed-login session"
        );
        assert_eq!(seen.revoked.len(), 1, "and revokes the refresh token");
    }
    b.close().await;
}
