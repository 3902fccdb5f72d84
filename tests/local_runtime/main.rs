//! The local runtime end to end: files dropped into the inbox (or uploaded)
//! go through the real handlers and the real embedding model, and come back
//! out of `POST /search` with their citations.

mod assistant;
mod aws_websocket;
mod edits;
mod helpers;
mod inbox_paths;
mod stages;
mod web;

use helpers::{mail_with_attachment, spawn_app, spawn_app_with};
use jarvis_extract::fixtures::make_pdf;
use serde_json::{json, Value};

const TRIP_MD: &str = "# Trip plan\n\n## Lisbon\n\nWe land in Lisbon on 12 May and stay at the Alfama guesthouse near the castle.\n\n## Porto\n\nThe train to Porto leaves Santa Apolónia at 09:00 on 15 May.\n";

const RECIPE_HTML: &str =
    "<html><head><title>Grandma's soup</title></head><body><h1>Grandma's soup</h1>\
<h2>Ingredients</h2><p>Two leeks, four potatoes and a litre of vegetable stock.</p>\
<h2>Method</h2><p>Simmer the leeks slowly in butter before adding the stock.</p></body></html>";

fn hit_for<'a>(hits: &'a [Value], doc: &Value) -> Option<&'a Value> {
    hits.iter().find(|h| h["document_id"] == doc["id"])
}

#[tokio::test]
async fn markdown_html_pdf_and_mail_with_an_attachment_become_searchable_with_citations() {
    let app = spawn_app().await;
    let pdf = make_pdf(&[
        &["Annual insurance statement"],
        &[
            "Policy number 88-431.",
            "The deductible for windscreen damage is 150 euros.",
        ],
    ]);
    let attachment = make_pdf(&[&[
        "Invoice 2041 from Ferreira Plumbing",
        "Replacing the boiler valve: 320 euros.",
    ]]);
    app.drop_file("trip.md", TRIP_MD.as_bytes());
    app.drop_file("soup.html", RECIPE_HTML.as_bytes());
    app.drop_file("insurance.pdf", &pdf);
    app.drop_file(
        "plumber.eml",
        &mail_with_attachment(
            "Boiler repair",
            "Hi, the invoice for the boiler is attached. Ana",
            "invoice.pdf",
            "application/pdf",
            &attachment,
        ),
    );

    let md = app.settled("trip.md").await;
    let html = app.settled("soup.html").await;
    let pdf_doc = app.settled("insurance.pdf").await;
    let mail = app.settled("plumber.eml").await;
    for d in [&md, &html, &pdf_doc, &mail] {
        assert_eq!(d["status"], "indexed", "{d:#}");
    }
    let invoice = app
        .wait_for(
            |docs| {
                docs.iter()
                    .find(|d| d["parent_id"] == mail["id"] && helpers::is_final(d))
                    .cloned()
            },
            "the attachment",
        )
        .await;
    assert_eq!(invoice["status"], "indexed", "{invoice:#}");
    assert_eq!(invoice["content_type"], "application/pdf");
    assert_eq!(md["title"], "Trip plan");
    assert_eq!(html["title"], "Grandma's soup");

    let hits = app.search("Alfama guesthouse").await;
    let top = &hits[0];
    assert_eq!(top["document_id"], md["id"]);
    // The heading under the title; the title itself is not repeated as the section.
    assert_eq!(top["section"], "Lisbon");
    assert!(
        top["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>Alfama</mark>"),
        "{top}"
    );

    let hits = app.search("leeks simmer butter").await;
    let soup = hit_for(&hits, &html).expect("the recipe is found");
    assert_eq!(soup["section"], "Method");

    let hits = app.search("windscreen deductible").await;
    assert_eq!(hits[0]["document_id"], pdf_doc["id"]);
    assert_eq!(hits[0]["page"], 2, "the citation names the page");

    let hits = app.search("boiler valve invoice").await;
    assert!(
        hit_for(&hits, &invoice).is_some_and(|h| h["source"] == "attachment" && h["page"] == 1),
        "{hits:#?}"
    );
    assert!(
        hit_for(&hits, &mail).is_some(),
        "the mail body is searchable too"
    );
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let mut app = spawn_app().await;
    app.drop_file("trip.md", TRIP_MD.as_bytes());
    let before = app.settled("trip.md").await;
    app.restart().await;
    let (status, after) = app
        .get(&format!("/documents/{}", before["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(after["status"], "indexed");
    let hits = app.search("train to Porto").await;
    assert_eq!(hits[0]["document_id"], before["id"]);
    // The inbox is not re-announced: still one document, no new run.
    app.idle().await;
    assert_eq!(app.documents().await.len(), 1);
}

#[tokio::test]
async fn bad_inputs_end_failed_with_a_reason_and_the_runtime_keeps_going() {
    let app = spawn_app_with(&[("JARVIS_MAX_FILE_BYTES", "4096")]).await;
    let garbage = |seed: u32| -> Vec<u8> {
        (0..2000u32)
            .map(|i| ((i ^ seed).wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    };
    let mut corrupt = make_pdf(&[&["hello"]]);
    corrupt.truncate(corrupt.len() / 2);
    corrupt[20..60].fill(b'#');
    app.drop_file("empty.txt", b"");
    app.drop_file("noise.bin", &garbage(1));
    app.drop_file("noise.txt", &garbage(2));
    app.drop_file("broken.pdf", &corrupt);
    app.drop_file("huge.md", "big words ".repeat(1000).as_bytes());
    app.drop_file("fine.md", b"# Fine\n\nThis one is perfectly readable.");

    let expectations = [
        ("empty.txt", "empty"),
        ("noise.bin", "not supported"),
        ("noise.txt", "binary"),
        ("broken.pdf", "PDF"),
        ("huge.md", "limit"),
    ];
    for (key, says) in expectations {
        let doc = app.settled(key).await;
        assert_eq!(doc["status"], "failed", "{doc:#}");
        let reason = doc["status_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(says),
            "{key}: reason {reason:?} should mention {says:?}"
        );
    }
    assert_eq!(app.settled("fine.md").await["status"], "indexed");
    let (_, health) = app.get("/healthz").await;
    assert_eq!(health["status"], "ok");
    // Failed documents have nothing in the index.
    let huge = app.settled("huge.md").await;
    assert!(app
        .search("big words")
        .await
        .iter()
        .all(|h| h["document_id"] != huge["id"]));
}

/// The parsers run in a child process whose memory is capped: every
/// compression shape the guard counts is refused with its reason, and a file
/// that passes the guard but needs more memory than the child has (here 128
/// MB, for a page that inflates to 200 MB of zeros) ends `failed` because the
/// child could not hold it (its allocation failed, or it died of it) — with
/// room, it would have read the page and found no text — while the runtime
/// goes on indexing the rest.
#[tokio::test]
async fn a_parser_blow_up_fails_its_document_and_the_runtime_keeps_going() {
    use jarvis_extract::fixtures::{pdf_with_object_stream, pdf_with_stream, zlib_zeros};
    let app = spawn_app_with(&[("JARVIS_PARSER_MEMORY_MB", "128")]).await;
    let big = 300u64 << 20;
    let mut bad_header = zlib_zeros(big);
    bad_header[0] = 0;
    let hex: Vec<u8> = zlib_zeros(big)
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .chain(*b">")
        .collect();
    let chain = lopdf::Object::Array(vec![
        lopdf::Object::Name(b"ASCIIHexDecode".to_vec()),
        lopdf::Object::Name(b"FlateDecode".to_vec()),
    ]);
    let shapes = [
        ("objstm.pdf", pdf_with_object_stream(&zlib_zeros(big))),
        (
            "header.pdf",
            pdf_with_stream(lopdf::dictionary! {"Filter" => "FlateDecode"}, bad_header),
        ),
        (
            "chain.pdf",
            pdf_with_stream(lopdf::dictionary! {"Filter" => chain}, hex),
        ),
        (
            "inflates.pdf",
            pdf_with_stream(
                lopdf::dictionary! {"Filter" => "FlateDecode"},
                zlib_zeros(200 << 20),
            ),
        ),
    ];
    for (name, pdf) in &shapes {
        app.drop_file(name, pdf);
    }
    app.drop_file("fine.md", b"# Fine\n\nThe weir is by the old mill.");
    for (name, says) in [
        ("objstm.pdf", &["expand past"][..]),
        ("header.pdf", &["expand past"]),
        ("chain.pdf", &["expand past"]),
        (
            "inflates.pdf",
            &["128 MB of memory", "corrupt or unreadable"],
        ),
    ] {
        let doc = app.settled(name).await;
        assert_eq!(doc["status"], "failed", "{doc:#}");
        let reason = doc["status_reason"].as_str().unwrap_or_default();
        assert!(
            says.iter().any(|s| reason.contains(s)),
            "{name}: {reason:?} should say one of {says:?}"
        );
    }
    assert_eq!(app.settled("fine.md").await["status"], "indexed");
    assert!(!app.search("weir mill").await.is_empty());
    let (_, health) = app.get("/healthz").await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn a_second_tenant_never_sees_the_first_tenants_chunks() {
    let app = spawn_app().await;
    app.drop_file("trip.md", TRIP_MD.as_bytes());
    app.drop_file(
        "@bob/bob-notes.md",
        b"# Bob\n\nBob keeps his bicycle in the Alfama garage.",
    );
    let mine = app.settled("trip.md").await;
    let bob = app.token_for("bob");

    // Bob's own note is ingested on its own schedule; wait until he finds it.
    let mut hits = Vec::new();
    for _ in 0..600 {
        let (status, body) = app
            .search_as(&bob, json!({ "query": "Alfama guesthouse Lisbon" }))
            .await;
        assert_eq!(status, 200);
        hits = body["hits"].as_array().unwrap().clone();
        if !hits.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!hits.is_empty(), "bob finds his own note");
    assert!(
        hits.iter().all(|h| h["document_id"] != mine["id"]),
        "bob saw another tenant's chunk: {hits:#?}"
    );
    for mode in ["keyword", "semantic"] {
        let (_, body) = app
            .search_as(
                &bob,
                json!({ "query": "stay at the guesthouse near the castle", "mode": mode }),
            )
            .await;
        assert!(body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["document_id"] != mine["id"]));
    }
    // Nor can bob read, list or delete it.
    let r = app
        .client
        .get(format!(
            "{}/documents/{}",
            app.base,
            mine["id"].as_str().unwrap()
        ))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .delete(format!(
            "{}/documents/{}",
            app.base,
            mine["id"].as_str().unwrap()
        ))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let listed: Value = app
        .client
        .get(format!("{}/documents", app.base))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["documents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["tenant_id"] == "bob"));
    assert_eq!(
        app.search("Alfama").await[0]["document_id"],
        mine["id"],
        "the owner still finds it"
    );
}

#[tokio::test]
async fn semantic_search_finds_a_paraphrase_that_shares_no_keyword() {
    let app = spawn_app().await;
    app.drop_file(
        "vet.md",
        b"# Pets\n\nThe dog must see the veterinarian for its annual vaccination in March.",
    );
    app.drop_file(
        "car.md",
        b"# Car\n\nThe car needs new tyres and an oil change before winter.",
    );
    app.drop_file(
        "tax.md",
        b"# Taxes\n\nFile the income tax return before the end of June.",
    );
    let vet = app.settled("vet.md").await;
    app.settled("car.md").await;
    app.settled("tax.md").await;

    let query = "when is my puppy's yearly shot at the animal doctor";
    let (status, body) = app
        .search_as(&app.token, json!({ "query": query, "mode": "keyword" }))
        .await;
    assert_eq!(status, 200);
    assert!(
        body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["document_id"] != vet["id"]),
        "no keyword is shared: {body:#}"
    );
    let (_, body) = app
        .search_as(&app.token, json!({ "query": query, "mode": "semantic" }))
        .await;
    assert_eq!(body["hits"][0]["document_id"], vet["id"], "{body:#}");
    let hybrid = app.search(query).await;
    assert_eq!(hybrid[0]["document_id"], vet["id"]);
}

#[tokio::test]
async fn the_same_content_twice_is_one_document_and_a_changed_file_replaces_its_chunks() {
    let app = spawn_app().await;
    app.drop_file("a.md", b"# Wifi\n\nThe wifi password is marmalade-42.");
    let a = app.settled("a.md").await;
    app.drop_file(
        "copy-of-a.md",
        b"# Wifi\n\nThe wifi password is marmalade-42.",
    );
    let aliased = app
        .wait_for(
            |docs| {
                docs.iter()
                    .find(|d| d["aliases"].as_array().is_some_and(|x| !x.is_empty()))
                    .cloned()
            },
            "the alias",
        )
        .await;
    assert_eq!(aliased["id"], a["id"]);
    assert_eq!(app.documents().await.len(), 1);

    app.drop_file("a.md", b"# Wifi\n\nThe wifi password is now pomegranate-7.");
    let changed = app
        .wait_for(
            |docs| {
                docs.iter()
                    .find(|d| {
                        d["id"] == a["id"]
                            && d["source"]["etag"] != a["source"]["etag"]
                            && helpers::is_final(d)
                    })
                    .cloned()
            },
            "the new version",
        )
        .await;
    assert_eq!(changed["status"], "indexed");
    assert!(
        app.search("marmalade")
            .await
            .iter()
            .all(|h| !h["text"].as_str().unwrap().contains("marmalade")),
        "old chunks are gone"
    );
    assert!(app.search("pomegranate").await[0]["text"]
        .as_str()
        .unwrap()
        .contains("pomegranate-7"));

    // Edited back to the first content: that version ran before, yet it runs again.
    app.drop_file("a.md", b"# Wifi\n\nThe wifi password is marmalade-42.");
    let reverted = app
        .wait_for(
            |docs| {
                docs.iter()
                    .find(|d| {
                        d["id"] == a["id"]
                            && d["source"]["etag"] == a["source"]["etag"]
                            && helpers::is_final(d)
                    })
                    .cloned()
            },
            "the reverted version",
        )
        .await;
    assert_eq!(reverted["status"], "indexed", "{reverted:#}");
    assert!(app.search("marmalade").await[0]["text"]
        .as_str()
        .unwrap()
        .contains("marmalade-42"));
}

#[tokio::test]
async fn images_and_audio_without_a_local_engine_are_kept_with_a_status_naming_what_is_missing() {
    let app = spawn_app_with(&[("JARVIS_TESSERACT", "/nonexistent/tesseract")]).await;
    app.drop_file(
        "scan.png",
        b"\x89PNG\r\n\x1a\n not really an image, but no engine will look",
    );
    app.drop_file("memo.mp3", b"ID3 not really audio either");
    let image = app.settled("scan.png").await;
    assert_eq!(image["status"], "skipped", "{image:#}");
    assert!(
        image["status_reason"]
            .as_str()
            .unwrap()
            .contains("tesseract"),
        "{image:#}"
    );
    let audio = app.settled("memo.mp3").await;
    assert_eq!(audio["status"], "skipped");
    assert!(
        audio["status_reason"]
            .as_str()
            .unwrap()
            .contains("transcri"),
        "{audio:#}"
    );
}

#[tokio::test]
async fn upload_get_list_and_delete_through_the_api() {
    let app = spawn_app().await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(TRIP_MD.as_bytes().to_vec()).file_name("trip notes.md"),
    );
    let r = app
        .client
        .post(format!("{}/documents", app.base))
        .bearer_auth(&app.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    let id = accepted["document_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted["key"], "local/uploads/trip notes.md");
    let doc = app.settled("local/uploads/trip notes.md").await;
    assert_eq!(doc["id"], id.as_str());
    assert_eq!(doc["status"], "indexed");
    assert_eq!(app.search("Alfama").await[0]["source"], "upload");

    // Raw body with ?name= works too, and a duplicate upload points at the original.
    let r = app
        .client
        .post(format!("{}/documents?name=again.md", app.base))
        .bearer_auth(&app.token)
        .body(TRIP_MD)
        .send()
        .await
        .unwrap();
    let dup: Value = r.json().await.unwrap();
    assert_eq!(dup["duplicate_of"], id.as_str(), "{dup:#}");

    let r = app
        .client
        .delete(format!("{}/documents/{id}", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.get(&format!("/documents/{id}")).await.0, 404);
    assert!(app.search("Alfama guesthouse").await.is_empty());
    assert!(!app
        .data
        .join("blobs/raw/local/uploads/trip notes.md")
        .exists());
}

/// Two uploads of one name keep both files (the second becomes `name (2)`),
/// unless the caller asks to replace; a pre-signed URL never replaces a file
/// either; the export then holds every file once, under a name of its own.
#[tokio::test]
async fn an_upload_never_replaces_another_unless_asked_and_the_export_keeps_every_file() {
    let app = spawn_app().await;
    let upload = |query: &'static str, body: &'static str| {
        app.client
            .post(format!("{}/documents?{query}", app.base))
            .bearer_auth(&app.token)
            .body(body)
            .send()
    };
    let first: Value = upload(
        "name=notes.txt",
        "The otters swim in the river by the mill.",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(first["key"], "local/uploads/notes.txt", "{first}");
    let second: Value = upload("name=notes.txt", "The badgers dig under the old oak tree.")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["key"], "local/uploads/notes (2).txt", "{second}");
    assert_ne!(first["document_id"], second["document_id"]);
    assert_eq!(
        app.settled("local/uploads/notes.txt").await["status"],
        "indexed"
    );
    assert_eq!(
        app.settled("local/uploads/notes (2).txt").await["status"],
        "indexed"
    );
    assert!(
        !app.search("otters river").await.is_empty(),
        "the first text stays"
    );
    assert!(!app.search("badgers oak").await.is_empty());
    // The same content under a third name: an alias of the first, exported once.
    let alias: Value = upload("name=copy.txt", "The otters swim in the river by the mill.")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alias["duplicate_of"], first["document_id"], "{alias}");

    // Asked for: the file of that name is replaced.
    let replaced: Value = upload(
        "name=notes.txt&replace=true",
        "The gulls circle over the harbour.",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(replaced["key"], "local/uploads/notes.txt", "{replaced}");
    assert_eq!(replaced["document_id"], first["document_id"]);
    app.wait_for(
        |docs| {
            docs.iter()
                .find(|d| d["id"] == first["document_id"] && d["status"] == "indexed")
                .map(|_| ())
        },
        "the replaced file indexed",
    )
    .await;
    let r = upload("name=notes.txt&replace=maybe", "x").await.unwrap();
    assert_eq!(r.status(), 400);

    // A pre-signed URL takes the next free name, and never replaces a file.
    let ticket: Value = app
        .client
        .post(format!("{}/uploads", app.base))
        .bearer_auth(&app.token)
        .json(&json!({"name": "notes.txt", "content_type": "text/plain", "size": 11}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ticket["key"], "local/uploads/notes (3).txt", "{ticket}");
    let url = ticket["upload"]["url"].as_str().unwrap().to_owned();
    assert!(url.contains("new=1"), "{url}");
    let put = || {
        app.client
            .put(&url)
            .header("content-type", "text/plain")
            .body("hello world")
            .send()
    };
    assert_eq!(put().await.unwrap().status(), 200);
    let again = put().await.unwrap();
    assert_eq!(again.status(), 409, "the URL's file is there now and stays");
    app.settled("local/uploads/notes (3).txt").await;

    // The export: every file once, each under its own name, no error.
    let (status, archive) = app
        .send_bytes_as(&app.token, reqwest::Method::GET, "/me/export", Vec::new())
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&archive));
    let zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    for expected in [
        "files/raw/local/uploads/notes.txt",
        "files/raw/local/uploads/notes (2).txt",
        "files/raw/local/uploads/notes (3).txt",
        "files/raw/local/uploads/copy.txt",
        "records/memories.json",
    ] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} not in {names:?}"
        );
    }
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
}

/// A file past what one request carries goes up through a pre-signed URL:
/// `POST /uploads` signs a PUT of exactly its size and type under the caller's
/// folder, and the file then flows through the pipeline like any other.
#[tokio::test]
async fn a_presigned_upload_lands_under_the_callers_folder_and_is_indexed() {
    let app = spawn_app_with(&[("JARVIS_MAX_FILE_BYTES", "100000")]).await;
    let ask = |body: Value| {
        app.client
            .post(format!("{}/uploads", app.base))
            .bearer_auth(&app.token)
            .json(&body)
            .send()
    };
    let r =
        ask(json!({"name": "big trip.md", "content_type": "text/markdown", "size": TRIP_MD.len()}))
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    let ticket: Value = r.json().await.unwrap();
    assert_eq!(ticket["key"], "local/uploads/big trip.md");
    assert_eq!(ticket["upload"]["method"], "PUT");
    let url = ticket["upload"]["url"].as_str().unwrap().to_owned();
    let put = |url: String, content_type: &'static str, body: &'static str| {
        app.client
            .put(url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // Another type, another size, a forged signature, another key: refused.
    let refused = [
        put(url.clone(), "text/html", TRIP_MD).await.unwrap(),
        put(url.clone(), "text/markdown", "short").await.unwrap(),
        put(
            url.replace("signature=", "signature=00"),
            "text/markdown",
            TRIP_MD,
        )
        .await
        .unwrap(),
        put(
            url.replace("/local/uploads/", "/someone/uploads/"),
            "text/markdown",
            TRIP_MD,
        )
        .await
        .unwrap(),
    ];
    for r in refused {
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert!([400, 403].contains(&status), "{status} {body}");
    }
    assert_eq!(
        app.get(&format!(
            "/documents/{}",
            ticket["document_id"].as_str().unwrap()
        ))
        .await
        .0,
        404,
        "nothing arrived yet"
    );

    let r = put(url, "text/markdown", TRIP_MD).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("etag"));
    let doc = app.settled("local/uploads/big trip.md").await;
    assert_eq!(doc["id"], ticket["document_id"]);
    assert_eq!(doc["status"], "indexed");
    assert_eq!(app.search("Alfama").await[0]["source"], "upload");

    // What the request declares is checked before anything is signed.
    for (body, status, code) in [
        (
            json!({"name": "a.exe", "content_type": "application/x-msdownload", "size": 10}),
            400,
            "bad_request",
        ),
        (
            json!({"name": "a.md", "content_type": "text/markdown", "size": 100001}),
            413,
            "payload_too_large",
        ),
        (
            json!({"name": "a.md", "content_type": "text/markdown", "size": 0}),
            400,
            "bad_request",
        ),
        (
            json!({"name": "../", "content_type": "text/markdown", "size": 10}),
            400,
            "bad_request",
        ),
        (
            json!({"name": "a.md", "content_type": "text/markdown"}),
            400,
            "bad_request",
        ),
    ] {
        let r = ask(body.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    let r = app
        .client
        .post(format!("{}/uploads", app.base))
        .json(&json!({"name": "a.md", "content_type": "text/markdown", "size": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a URL is only signed for a signed-in caller"
    );
}

#[tokio::test]
async fn the_api_answers_bad_requests_with_json_errors() {
    let app = spawn_app_with(&[("JARVIS_MAX_UPLOAD_BYTES", "1000")]).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let expect = |status: u16, code: &'static str| {
        move |(s, body): (u16, Value)| {
            assert_eq!(s, status, "{body}");
            assert_eq!(body["error"]["code"], code, "{body}");
            assert!(body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    };
    let send = |rb: reqwest::RequestBuilder| async move {
        let r = rb.send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    let c = &app.client;
    expect(401, "unauthorized")(send(c.post(url("/search")).json(&json!({"query": "x"}))).await);
    expect(401, "unauthorized")(
        send(
            c.post(url("/search"))
                .bearer_auth("jv_wrong")
                .json(&json!({"query": "x"})),
        )
        .await,
    );
    let t = &app.token;
    expect(400, "bad_request")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .header("content-type", "application/json")
                .body("{\"query\":"),
        )
        .await,
    );
    expect(400, "bad_request")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .json(&json!({"query": ""})),
        )
        .await,
    );
    expect(400, "bad_request")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .json(&json!({"query": "x", "limit": 500})),
        )
        .await,
    );
    expect(400, "bad_request")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .json(&json!({"query": "x", "tenant": "bob"})),
        )
        .await,
    );
    expect(400, "bad_request")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .json(&json!({"query": 42})),
        )
        .await,
    );
    expect(415, "unsupported_media_type")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .header("content-type", "text/plain")
                .body("query"),
        )
        .await,
    );
    expect(413, "payload_too_large")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .json(&json!({"query": "x".repeat(70_000)})),
        )
        .await,
    );
    expect(400, "bad_request")(
        send(
            c.post(url("/search"))
                .bearer_auth(t)
                .json(&json!({"query": "x".repeat(2_049)})),
        )
        .await,
    );
    expect(413, "payload_too_large")(
        send(
            c.post(url("/documents?name=big.md"))
                .bearer_auth(t)
                .body(vec![b'a'; 5000]),
        )
        .await,
    );
    expect(400, "bad_request")(
        send(
            c.post(url("/documents?name=empty.md"))
                .bearer_auth(t)
                .body(Vec::<u8>::new()),
        )
        .await,
    );
    expect(400, "bad_request")(send(c.post(url("/documents")).bearer_auth(t).body("hello")).await);
    expect(400, "bad_request")(send(c.get(url("/documents/not-an-id")).bearer_auth(t)).await);
    expect(400, "bad_request")(send(c.get(url("/documents?status=lost")).bearer_auth(t)).await);
    expect(404, "not_found")(
        send(
            c.get(url("/documents/doc_000000000000000000000000"))
                .bearer_auth(t),
        )
        .await,
    );
    expect(404, "not_found")(send(c.get(url("/nowhere")).bearer_auth(t)).await);
}

/// A file that exhausts memory in a parser kills the process; its run is
/// under way at every start. After three, the runtime fails the document with
/// the reason instead of replaying it forever.
#[tokio::test]
async fn a_run_the_runtime_keeps_stopping_in_is_failed_with_a_reason_after_three_starts() {
    use jarvis_core::ports::{MetadataStore, StatusChange};
    let mut app = spawn_app().await;
    app.drop_file("trip.md", TRIP_MD.as_bytes());
    let doc = app.settled("trip.md").await;
    app.running.take().unwrap().shutdown().await;
    // As the data folder is after the third crash in that run.
    let db = jarvis_local::Db::open(&app.data.join("jarvis.sqlite3")).unwrap();
    db.lock()
        .execute(
            "UPDATE executions SET status = 'running', finished_at = NULL, starts = 3",
            [],
        )
        .unwrap();
    let tenant = jarvis_core::TenantId::parse("local").unwrap();
    let id = jarvis_core::domain::DocumentId::parse(doc["id"].as_str().unwrap()).unwrap();
    jarvis_local::metadata::SqliteMetadataStore::new(db)
        .change_status(
            &tenant,
            &id,
            &StatusChange {
                to: jarvis_core::domain::DocumentStatus::Processing,
                reason: None,
                chunk_count: None,
                title: None,
                from: vec![],
                version: None,
                stage: None,
            },
        )
        .await
        .unwrap();
    app.restart_stopped().await;
    let failed = app
        .wait_for(
            |docs| {
                docs.iter()
                    .find(|d| d["id"] == doc["id"] && d["status"] == "failed")
                    .cloned()
            },
            "the document failed",
        )
        .await;
    let reason = failed["status_reason"].as_str().unwrap();
    assert!(reason.contains("stopped Jarvis 3 times"), "{reason}");
    app.idle().await;
    assert_eq!(
        app.documents().await[0]["status"],
        "failed",
        "not tried again"
    );
}

/// The local runtime serves every route of the table the deployed API is built
/// from (`jarvis_lambda::routes::ROUTES`): none answers its "no such route"
/// fallback or a 405.
#[tokio::test]
async fn the_local_runtime_serves_every_route_of_the_route_table() {
    let app = spawn_app().await;
    for route in jarvis_lambda::routes::ROUTES {
        let path = route.path.replace("{id}", "doc_000000000000000000000000");
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        let r = app
            .client
            .request(method, format!("{}{path}", app.base))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{}: {body}", route.key());
        assert!(
            !body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no such route")),
            "{} is not served locally: {body}",
            route.key()
        );
    }
}
