//! Adapters whose service has no usable emulator, against recorded exchanges:
//! the response bodies are the shapes the AWS and OpenSearch API references
//! document, the requests are checked for what the service needs.
//! Bedrock Runtime and OpenSearch have no emulator; moto's Textract answers a
//! malformed `DocumentMetadata`, so Textract is here too.

use chrono::Utc;
use jarvis_core::domain::{Chunk, DocumentId, ObjectRef, TenantId};
use jarvis_core::fusion::FusionConfig;
use jarvis_core::ports::{
    ChatMessage, ChatModel, ChatRequest, Embedder, ImageAnalyzer, IndexedChunk, SearchIndex,
};
use jarvis_core::search::{SearchFilters, SearchMode, SearchQuery};
use jarvis_core::PortError;
use jarvis_tests::emulator::{sdk_config_for, stack};
use jarvis_tests::wire::{json_answer, Seen, WireServer};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn resources() -> jarvis_tests::emulator::Resources {
    jarvis_tests::emulator::Resources {
        raw_bucket: "raw".into(),
        curated_bucket: "curated".into(),
        table: "t".into(),
        queue_url: "q".into(),
        state_machine_arn: "arn:sm".into(),
        topic_arn: "arn:topic".into(),
        schedule_group: "g".into(),
    }
}

async fn stack_at(url: &str, opensearch: bool) -> jarvis_aws::AwsStack {
    let mut s = stack(sdk_config_for(url, 2).await, &resources(), url);
    s.settings.embed_dimensions = 256;
    if opensearch {
        s.settings.opensearch_endpoint = Some(url.to_owned());
    }
    s
}

/// A stack whose model usage metrics are kept (as EMF lines) for the test.
async fn metered_stack_at(url: &str) -> (jarvis_aws::AwsStack, Arc<std::sync::Mutex<Vec<String>>>) {
    let mut stack = stack_at(url, false).await;
    let (emf, lines) = jarvis_aws::metrics::Emf::capture("jarvis-dev-api-chat");
    stack.metrics = emf;
    (stack, lines)
}

/// The EMF lines written, parsed, each checked for the directive CloudWatch
/// needs to make metrics of it: namespace `Jarvis`, dimensions Function and
/// Model present as members, every named metric present.
fn emf_lines(lines: &std::sync::Mutex<Vec<String>>) -> Vec<Value> {
    lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| {
            let doc: Value = serde_json::from_str(l).expect("an EMF line is one JSON object");
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], "Jarvis", "{doc}");
            assert_eq!(directive["Dimensions"], json!([["Function", "Model"]]));
            for m in directive["Metrics"].as_array().unwrap() {
                assert!(!doc[m["Name"].as_str().unwrap()].is_null(), "{doc}");
            }
            assert!(doc["_aws"]["Timestamp"].is_i64());
            doc
        })
        .collect()
}

fn signed_for(seen: &Seen, service: &str) -> bool {
    seen.header("authorization").is_some_and(|a| {
        a.starts_with("AWS4-HMAC-SHA256") && a.contains(&format!("/{service}/aws4_request"))
    })
}

#[tokio::test]
async fn titan_embeddings_request_and_response() {
    let server = WireServer::start(|s: Seen| async move {
        let text = s.json()["inputText"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let v: Vec<f32> = (0..256)
            .map(|i| if i == text.len() % 256 { 1.0 } else { 0.0 })
            .collect();
        json_answer(200, &json!({"embedding": v, "inputTextTokenCount": 4}))
    })
    .await;
    let (stack, metered) = metered_stack_at(&server.url).await;
    let embedder = stack.embedder();
    let texts = vec!["one".to_string(), "three".into(), "a longer text".into()];
    let out = embedder.embed(&texts).await.unwrap();
    assert_eq!(out.len(), 3);
    // One EMF line for the batch: the three calls' tokens, and their latencies.
    let emf = emf_lines(&metered);
    assert_eq!(emf.len(), 1, "{emf:?}");
    assert_eq!(emf[0]["Model"], "amazon.titan-embed-text-v2:0");
    assert_eq!(emf[0]["InputTokens"], 12);
    assert_eq!(emf[0]["ModelCalls"], 3);
    assert_eq!(emf[0]["ModelLatency"].as_array().unwrap().len(), 3);
    for (t, v) in texts.iter().zip(&out) {
        assert_eq!(v[t.len()], 1.0, "vectors come back in input order");
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
        assert!(signed_for(s, "bedrock"), "{:?}", s.header("authorization"));
        let body = s.json();
        assert_eq!(
            (body["dimensions"].as_u64(), body["normalize"].as_bool()),
            (Some(256), Some(true))
        );
    }
}

fn converse_request() -> ChatRequest {
    ChatRequest {
        system: "You are Jarvis.".into(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: vec![json!({"text": "Remind me at 9 to call Ana"})],
        }],
        tools: vec![
            json!({"toolSpec": {"name": "create_reminder", "description": "Sets a reminder.",
            "inputSchema": {"json": {"type": "object", "properties": {"text": {"type": "string"}, "at": {"type": "string"}}, "required": ["text", "at"]}}}}),
        ],
        max_tokens: 512,
    }
}

#[tokio::test]
async fn converse_sends_tools_and_reads_a_tool_use_turn() {
    // The response shape of the Converse API reference, asking for a tool.
    let server = WireServer::start(|_s: Seen| async move {
        json_answer(200, &json!({
            "output": {"message": {"role": "assistant", "content": [
                {"text": "I'll set that reminder."},
                {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "create_reminder",
                 "input": {"text": "call Ana", "at": "2026-11-24T09:00:00Z"}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 412, "outputTokens": 61, "totalTokens": 473},
            "metrics": {"latencyMs": 870}
        }))
    })
    .await;
    let (stack, metered) = metered_stack_at(&server.url).await;
    let chat = stack.chat_model();
    let turn = chat.converse(&converse_request()).await.unwrap();
    assert_eq!(turn.stop_reason, "tool_use");
    // The response's usage and Bedrock's own latency, as metrics.
    let emf = emf_lines(&metered);
    assert_eq!(emf.len(), 1);
    assert_eq!(
        (
            &emf[0]["InputTokens"],
            &emf[0]["OutputTokens"],
            &emf[0]["ModelLatency"]
        ),
        (&json!(412), &json!(61), &json!(870))
    );
    assert_eq!(emf[0]["Function"], "jarvis-dev-api-chat");
    assert_eq!(emf[0]["Operation"], "Converse");
    assert_eq!(
        turn.message.content[1]["toolUse"]["input"]["text"],
        "call Ana"
    );
    let sent = &server.seen()[0];
    assert!(
        sent.path.starts_with("/model/anthropic.claude"),
        "{}",
        sent.path
    );
    assert!(sent.path.ends_with("/converse"));
    assert!(signed_for(sent, "bedrock"));
    let body = sent.json();
    assert_eq!(body["system"][0]["text"], "You are Jarvis.");
    assert_eq!(
        body["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "create_reminder"
    );
    assert_eq!(
        body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["required"][1],
        "at"
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 512);
    assert_eq!(
        body["messages"][0]["content"][0]["text"],
        "Remind me at 9 to call Ana"
    );
}

#[tokio::test]
async fn bedrock_errors_are_classified() {
    let server = WireServer::start(|_s: Seen| async move {
        let mut a = json_answer(400, &json!({"message": "Malformed input request"}));
        a.1.push(("x-amzn-errortype".into(), "ValidationException".into()));
        a
    })
    .await;
    let chat = stack_at(&server.url, false).await.chat_model();
    let err = chat.converse(&converse_request()).await.unwrap_err();
    assert!(
        matches!(err, PortError::Invalid(ref m) if m.contains("Malformed input")),
        "{err}"
    );
    assert_eq!(server.seen().len(), 1, "a validation error is not retried");
}

#[tokio::test]
async fn textract_sync_text_rekognition_labels_and_an_async_multi_page_job() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let server = WireServer::start(move |s: Seen| {
        let p = p.clone();
        async move {
            let line = |text: &str, page: u32| json!({"BlockType": "LINE", "Text": text, "Page": page, "Confidence": 99.1, "Id": text});
            match s.header("x-amz-target").unwrap_or_default() {
                "Textract.DetectDocumentText" => json_answer(200, &json!({
                    "DocumentMetadata": {"Pages": 1}, "DetectDocumentTextModelVersion": "1.0",
                    "Blocks": [{"BlockType": "PAGE", "Id": "p"}, line("TOTAL 12.40 EUR", 1), line("Thank you", 1)]})),
                "RekognitionService.DetectLabels" => json_answer(200, &json!({
                    "Labels": [{"Name": "Receipt", "Confidence": 97.2}, {"Name": "Text", "Confidence": 95.0}],
                    "LabelModelVersion": "3.0"})),
                "Textract.StartDocumentTextDetection" => json_answer(200, &json!({"JobId": "job-1"})),
                "Textract.GetDocumentTextDetection" => {
                    let body = s.json();
                    if p.fetch_add(1, Ordering::SeqCst) == 0 {
                        json_answer(200, &json!({"JobStatus": "IN_PROGRESS"}))
                    } else if body.get("NextToken").is_none() {
                        json_answer(200, &json!({"JobStatus": "SUCCEEDED", "DocumentMetadata": {"Pages": 2},
                            "Blocks": [line("Page one text", 1)], "NextToken": "t2"}))
                    } else {
                        json_answer(200, &json!({"JobStatus": "SUCCEEDED", "DocumentMetadata": {"Pages": 2},
                            "Blocks": [line("Page two text", 2)]}))
                    }
                }
                other => json_answer(400, &json!({"__type": "UnknownOperation", "message": other})),
            }
        }
    })
    .await;
    let vision = stack_at(&server.url, false).await.vision();
    let png = ObjectRef {
        bucket: "raw".into(),
        key: "alice/r.png".into(),
        etag: "e1".into(),
        size: 9,
    };
    let image = vision
        .analyze(&png, b"\x89PNG....", "image/png")
        .await
        .unwrap();
    assert_eq!(image.text, "TOTAL 12.40 EUR\nThank you");
    assert_eq!(image.labels, vec!["Receipt", "Text"]);
    let pdf = ObjectRef {
        key: "alice/scan.pdf".into(),
        ..png
    };
    let pending = vision.analyze(&pdf, b"", "application/pdf").await;
    assert!(matches!(pending, Err(PortError::Pending(_))), "{pending:?}");
    let doc = vision.analyze(&pdf, b"", "application/pdf").await.unwrap();
    assert_eq!(doc.pages, vec!["Page one text", "Page two text"]);
    let starts: Vec<Value> = server
        .seen()
        .iter()
        .filter(|s| s.header("x-amz-target") == Some("Textract.StartDocumentTextDetection"))
        .map(Seen::json)
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        starts[0]["ClientRequestToken"], starts[1]["ClientRequestToken"],
        "asking again finds the same job"
    );
    assert_eq!(
        starts[0]["DocumentLocation"]["S3Object"]["Name"],
        "alice/scan.pdf"
    );
}

fn chunk(tenant: &TenantId, doc: &DocumentId, ordinal: u32, text: &str) -> IndexedChunk {
    IndexedChunk {
        chunk: Chunk {
            id: Chunk::id_for(doc, ordinal),
            tenant_id: tenant.clone(),
            document_id: doc.clone(),
            ordinal,
            title: "Trip plan".into(),
            text: text.into(),
            section: Some("Lisbon".into()),
            page: None,
            token_count: 12,
            pii: vec![],
            source: "upload".into(),
            content_type: "text/markdown".into(),
            created_at: Utc::now(),
        },
        vector: vec![0.0625; 256],
    }
}

#[tokio::test]
async fn opensearch_index_bulk_search_and_fusion_on_the_wire() {
    let alice = TenantId::parse("alice").unwrap();
    let doc = DocumentId::for_object(&alice, "raw", "alice/trip.md");
    let (d, c0, c1) = (
        doc.to_string(),
        Chunk::id_for(&doc, 0),
        Chunk::id_for(&doc, 1),
    );
    let (d2, c0b, c1b) = (d.clone(), c0.clone(), c1.clone());
    let lookups = Arc::new(AtomicUsize::new(0));
    let lookups_seen = lookups.clone();
    let server = WireServer::start(move |s: Seen| {
        let (d, c0, c1, lookups) = (d2.clone(), c0b.clone(), c1b.clone(), lookups_seen.clone());
        async move {
            let src = |c: &str, text: &str| json!({"chunk_id": c, "document_id": d, "title": "Trip plan", "text": text,
                "section": "Lisbon", "source": "upload", "content_type": "text/markdown", "created_at": "2026-11-23T10:00:00Z"});
            let generation = |id: &str, g: &str| json!({"_id": id, "_score": 0.0, "_source": {"generation": g}});
            match (s.method.as_str(), s.path.as_str()) {
                ("PUT", p) if p.starts_with("/_index_template/") => json_answer(200, &json!({"acknowledged": true})),
                ("PUT", "/jarvis-chunks") => json_answer(400, &json!({"error": {"type": "resource_already_exists_exception", "reason": "index [jarvis-chunks] already exists"}, "status": 400})),
                ("POST", "/_bulk") => json_answer(200, &json!({"took": 30, "errors": false, "items": [
                    {"index": {"_index": "jarvis-chunks", "_id": "new-0", "status": 201, "result": "created"}},
                    {"index": {"_index": "jarvis-chunks", "_id": "new-1", "status": 201, "result": "created"}}]})),
                ("POST", "/jarvis-chunks/_search") => {
                    let body = s.json();
                    if body["_source"] == json!(["generation"]) {
                        // The first lookup comes before the refresh: one of the two new chunks shows.
                        let first = lookups.fetch_add(1, Ordering::SeqCst) == 0;
                        let mut found = vec![
                            generation("old-1", "00000000000000000001"),
                            json!({"_id": "before-generations", "_score": 0.0, "_source": {}}),
                            generation("new-0", "ignored"),
                            // A replace racing this one, and later: it stays.
                            generation("racer", "99999999999999999999"),
                        ];
                        if !first {
                            found.push(generation("new-1", "ignored"));
                        }
                        json_answer(200, &json!({"hits": {"hits": found}}))
                    } else if body["query"].get("knn").is_some() {
                        json_answer(200, &json!({"took": 5, "hits": {"total": {"value": 3}, "hits": [
                            {"_id": "x1", "_score": 0.91, "_source": src(&c1, "The castle is near the guesthouse.")},
                            // The same chunk twice (a retry within the refresh window): one hit.
                            {"_id": "x1-copy", "_score": 0.91, "_source": src(&c1, "The castle is near the guesthouse.")},
                            {"_id": "x0", "_score": 0.55, "_source": src(&c0, "We land in Lisbon on 12 May.")}]}}))
                    } else {
                        json_answer(200, &json!({"took": 3, "hits": {"total": {"value": 1}, "hits": [
                            {"_id": "x0", "_score": 7.2, "_source": src(&c0, "We land in Lisbon on 12 May."),
                             "highlight": {"text": ["We land in <mark>Lisbon</mark> on 12 May."]}}]}}))
                    }
                }
                _ => json_answer(404, &json!({"error": {"type": "not_found", "reason": s.path}})),
            }
        }
    })
    .await;
    let index = stack_at(&server.url, true).await.index().unwrap();
    index
        .replace_document(
            &alice,
            &doc,
            vec![
                chunk(&alice, &doc, 0, "We land in Lisbon on 12 May."),
                chunk(&alice, &doc, 1, "The castle is near the guesthouse."),
            ],
        )
        .await
        .unwrap();
    let other = TenantId::parse("bob").unwrap();
    assert!(
        matches!(
            index
                .replace_document(&other, &doc, vec![chunk(&alice, &doc, 0, "x")])
                .await,
            Err(PortError::Invalid(_))
        ),
        "chunks of another tenant are refused"
    );

    let q = SearchQuery {
        tenant_id: alice.clone(),
        text: "Lisbon".into(),
        vector: Some(vec![0.0625; 256]),
        filters: SearchFilters {
            content_type: Some("text/".into()),
            ..Default::default()
        },
        limit: 5,
        mode: SearchMode::Hybrid,
        // Ranks only: one round of two queries (fusion by scores: the next test).
        fusion: FusionConfig::parse("rrf", 0.75, 1.0, 40.0).unwrap(),
    };
    let hits = index.search(&q).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].chunk_id, c0, "in both lists, so first after fusion");
    assert_eq!((hits[0].bm25_rank, hits[0].vector_rank), (Some(1), Some(2)));
    assert_eq!(hits[0].snippet, "We land in <mark>Lisbon</mark> on 12 May.");
    assert_eq!(hits[1].chunk_id, c1);
    assert_eq!(hits[0].document_id.as_str(), d);

    let seen = server.seen();
    for s in &seen {
        assert!(signed_for(s, "aoss"), "{} {} unsigned", s.method, s.path);
        assert!(
            s.header("x-amz-content-sha256").is_some(),
            "Serverless needs the payload hash"
        );
    }
    let template = seen
        .iter()
        .find(|s| s.path.starts_with("/_index_template/"))
        .unwrap()
        .json();
    assert_eq!(
        template["template"]["mappings"]["properties"]["vector"]["dimension"],
        256
    );
    let bulks: Vec<&Seen> = seen.iter().filter(|s| s.path == "/_bulk").collect();
    assert_eq!(
        bulks.len(),
        2,
        "index the new chunks, then delete the old ids"
    );
    assert_eq!(
        bulks[0].header("content-type"),
        Some("application/x-ndjson")
    );
    let lines: Vec<Value> = String::from_utf8(bulks[0].body.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["tenant_id"], "alice");
    assert_eq!(lines[1]["vector"].as_array().unwrap().len(), 256);
    assert_eq!(
        lines[1]["generation"], lines[3]["generation"],
        "one generation per replace"
    );
    let deleted: Vec<String> = String::from_utf8(bulks[1].body.clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["delete"]["_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        deleted,
        vec!["old-1", "before-generations"],
        "older chunks go; this replace's own and a later replace's stay"
    );
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        2,
        "the delete waited until search showed both new chunks"
    );
    let searches: Vec<Value> = seen
        .iter()
        .filter(|s| s.path.ends_with("/_search"))
        .map(Seen::json)
        .collect();
    for body in &searches {
        let text = body.to_string();
        assert!(
            text.contains(r#"{"term":{"tenant_id":"alice"}}"#),
            "every query is tenant-filtered: {text}"
        );
    }
    let knn = searches
        .iter()
        .find(|b| b["query"].get("knn").is_some())
        .unwrap();
    assert_eq!(
        knn["query"]["knn"]["vector"]["filter"]["bool"]["filter"][1],
        json!({"prefix": {"content_type": "text/"}})
    );
}

/// Fusion by scores (the default) scores every candidate on both sides: a
/// second round asks OpenSearch for the BM25 scores of the chunks only the
/// k-NN query found and the similarities of those only the BM25 query found.
#[tokio::test]
async fn opensearch_fusion_by_scores_looks_up_what_each_list_lacks_on_the_wire() {
    let alice = TenantId::parse("alice").unwrap();
    let doc = DocumentId::for_object(&alice, "raw", "alice/notes.md");
    let id = |n: u32| Chunk::id_for(&doc, n);
    let (a, b, c, d) = (id(0), id(1), id(2), id(3));
    let ids = [a.clone(), b.clone(), c.clone(), d.clone()];
    let doc_id = doc.to_string();
    let server = WireServer::start(move |s: Seen| {
        let (ids, doc_id) = (ids.clone(), doc_id.clone());
        async move {
            let hit = |n: usize, score: f64| json!({"_id": format!("os-{n}"), "_score": score,
                "_source": {"chunk_id": ids[n], "document_id": doc_id, "title": "Notes", "text": format!("chunk {n}"),
                    "source": "upload", "content_type": "text/markdown", "created_at": "2026-11-23T10:00:00Z"}});
            let body = s.json();
            let text = body.to_string();
            let asks_for = |n: usize| text.contains(&format!(r#"{{"terms":{{"chunk_id":["{}"]}}}}"#, ids[n]));
            let found = match (body["query"].get("knn").is_some(), asks_for(2), asks_for(0)) {
                // First round: a (keywords only), b and d (both), c (vectors only).
                (false, false, false) => vec![hit(0, 9.0), hit(1, 8.0), hit(3, 1.0)],
                (true, false, false) => vec![hit(2, 1.95), hit(1, 1.9), hit(3, 1.2)],
                // Second round: c matches no word; a is as close as c.
                (false, true, false) => vec![],
                (true, false, true) => vec![hit(0, 1.95)],
                _ => return json_answer(400, &json!({"error": {"type": "unexpected", "reason": text}})),
            };
            json_answer(200, &json!({"hits": {"hits": found}}))
        }
    })
    .await;
    let index = stack_at(&server.url, true).await.index().unwrap();
    let query = |fusion| SearchQuery {
        tenant_id: alice.clone(),
        text: "notes".into(),
        vector: Some(vec![0.0625; 256]),
        filters: SearchFilters::default(),
        limit: 4,
        mode: SearchMode::Hybrid,
        fusion,
    };
    let order = |hits: &[jarvis_core::search::SearchHit]| -> Vec<String> {
        hits.iter().map(|h| h.chunk_id.clone()).collect()
    };

    let by_scores = index.search(&query(FusionConfig::default())).await.unwrap();
    assert_eq!(
        order(&by_scores),
        [a.clone(), b.clone(), c.clone(), d.clone()],
        "a, first on keywords and as close as the nearest, leads once its similarity is known"
    );
    assert_eq!(
        (by_scores[0].bm25_rank, by_scores[0].vector_rank),
        (Some(1), None)
    );
    let searches: Vec<Value> = server.seen().iter().map(Seen::json).collect();
    assert_eq!(searches.len(), 4, "two rounds of two queries");
    let keyword_round2 = &searches
        .iter()
        .find(|b| b["query"].get("bool").is_some() && b.to_string().contains(r#""terms""#))
        .unwrap();
    assert_eq!(keyword_round2["size"], 1);
    assert!(keyword_round2.get("highlight").is_none());
    assert_eq!(
        keyword_round2["query"]["bool"]["filter"][0],
        json!({"term": {"tenant_id": "alice"}})
    );
    let vector_round2 = &searches
        .iter()
        .find(|b| b["query"].get("knn").is_some() && b.to_string().contains(r#""terms""#))
        .unwrap();
    // AWS rule the stand-in server cannot enforce: the k-NN plugin (faiss,
    // efficient filtering) scores exactly, without the graph, when the filter
    // lets through no more documents than k; k = the number of ids asked for
    // is what makes every asked-for chunk come back.
    assert_eq!(vector_round2["query"]["knn"]["vector"]["k"], 1);
    assert_eq!(
        vector_round2["query"]["knn"]["vector"]["filter"]["bool"]["filter"][0],
        json!({"term": {"tenant_id": "alice"}})
    );

    // Ranks only: b, in both lists, leads, and no second round is asked.
    let by_ranks = index
        .search(&query(FusionConfig::parse("rrf", 0.75, 1.0, 40.0).unwrap()))
        .await
        .unwrap();
    assert_eq!(order(&by_ranks)[0], b);
    assert_eq!(server.seen().len(), 6);
}

#[tokio::test]
async fn opensearch_throttling_is_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = WireServer::start(move |_s: Seen| {
        let c = c.clone();
        async move {
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                json_answer(
                    429,
                    &json!({"error": {"type": "too_many_requests", "reason": "slow down"}}),
                )
            } else {
                json_answer(200, &json!({"hits": {"hits": []}}))
            }
        }
    })
    .await;
    let index = stack_at(&server.url, true).await.index().unwrap();
    let q = SearchQuery {
        tenant_id: TenantId::parse("alice").unwrap(),
        text: "x".into(),
        vector: None,
        filters: SearchFilters::default(),
        limit: 3,
        mode: SearchMode::Keyword,
        fusion: FusionConfig::default(),
    };
    assert!(index.search(&q).await.unwrap().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// Live checks against real AWS: reported as ignored in `make test`; `make
/// test-live` runs them once the endpoint and credentials are set. Run without
/// them, they fail and say what is missing.
#[tokio::test]
#[ignore = "live: needs JARVIS_LIVE_OPENSEARCH_URL and AWS credentials"]
async fn live_opensearch_when_configured() {
    let url = std::env::var("JARVIS_LIVE_OPENSEARCH_URL").expect(
        "set JARVIS_LIVE_OPENSEARCH_URL (and AWS credentials) to run against a real OpenSearch",
    );
    let settings = jarvis_core::config::AwsSettings {
        opensearch_endpoint: Some(url),
        opensearch_index: jarvis_tests::emulator::unique("jarvis-live"),
        ..jarvis_core::config::AwsSettings::from_env().unwrap()
    };
    let sdk = jarvis_aws::load_sdk_config(&settings).await;
    let stack = jarvis_aws::AwsStack::new(
        sdk,
        settings,
        jarvis_core::config::Config::from_lookup(|_| None).unwrap(),
    );
    let index = stack.index().unwrap();
    let alice = TenantId::parse("live-alice").unwrap();
    let doc = DocumentId::for_object(&alice, "raw", "live/a.md");
    let mut c = chunk(&alice, &doc, 0, "The live castle test chunk.");
    c.vector = vec![
        1.0 / (stack.settings.embed_dimensions as f32).sqrt();
        stack.settings.embed_dimensions
    ];
    index.replace_document(&alice, &doc, vec![c]).await.unwrap();
    index.delete_tenant(&alice).await.unwrap();
}

#[tokio::test]
#[ignore = "live: needs JARVIS_LIVE_BEDROCK=1 and AWS credentials with Bedrock access"]
async fn live_bedrock_when_configured() {
    assert_eq!(
        std::env::var("JARVIS_LIVE_BEDROCK").as_deref(),
        Ok("1"),
        "set JARVIS_LIVE_BEDROCK=1 (and AWS credentials with Bedrock access) to call real Bedrock"
    );
    let stack = jarvis_aws::AwsStack::from_env().await.unwrap();
    let v = stack.embedder().embed(&["hello".into()]).await.unwrap();
    assert_eq!(v[0].len(), stack.settings.embed_dimensions);
    let turn = stack
        .chat_model()
        .converse(&converse_request())
        .await
        .unwrap();
    assert!(!turn.message.content.is_empty());
}

#[tokio::test]
async fn comprehend_insights_language_entities_and_key_phrases() {
    let server = WireServer::start(|s: Seen| async move {
        match s.header("x-amz-target").unwrap_or_default() {
            "Comprehend_20171127.DetectDominantLanguage" => json_answer(200, &json!({
                "Languages": [{"LanguageCode": "en", "Score": 0.98}, {"LanguageCode": "pt", "Score": 0.02}]})),
            "Comprehend_20171127.DetectEntities" => json_answer(200, &json!({"Entities": [
                {"Type": "LOCATION", "Text": "Lisbon", "Score": 0.97, "BeginOffset": 11, "EndOffset": 17},
                {"Type": "PERSON", "Text": "Ana Silva", "Score": 0.99, "BeginOffset": 30, "EndOffset": 39},
                {"Type": "LOCATION", "Text": "Lisbon", "Score": 0.91, "BeginOffset": 60, "EndOffset": 66}]})),
            "Comprehend_20171127.DetectKeyPhrases" => json_answer(200, &json!({"KeyPhrases": [
                {"Text": "the guesthouse", "Score": 0.9, "BeginOffset": 0, "EndOffset": 14},
                {"Text": "the castle", "Score": 0.95, "BeginOffset": 20, "EndOffset": 30}]})),
            other => json_answer(400, &json!({"__type": "UnknownOperation", "message": other})),
        }
    })
    .await;
    let pii = stack_at(&server.url, false).await.pii();
    use jarvis_core::ports::PiiDetector;
    let got = pii
        .insights("We land in Lisbon and meet Ana Silva at the guesthouse near the castle.")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.language.as_deref(), Some("en"));
    assert_eq!(
        got.entities,
        vec![
            ("PERSON".to_string(), "Ana Silva".to_string()),
            ("LOCATION".into(), "Lisbon".into())
        ],
        "most confident first, each once"
    );
    assert_eq!(got.key_phrases, vec!["the castle", "the guesthouse"]);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert!(signed_for(s, "comprehend"));
    }
    let entities_req = seen
        .iter()
        .find(|s| s.header("x-amz-target") == Some("Comprehend_20171127.DetectEntities"))
        .unwrap()
        .json();
    assert_eq!(entities_req["LanguageCode"], "en");
    assert!(
        pii.insights("   ").await.unwrap().is_none(),
        "nothing to read, no call"
    );
}

#[tokio::test]
async fn a_scanned_pdf_is_read_by_the_textract_job_page_by_page() {
    use jarvis_core::ports::{BlobStore, MetadataStore};
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let server = WireServer::start(move |s: Seen| {
        let p = p.clone();
        async move {
            let line = |text: &str, page: u32| json!({"BlockType": "LINE", "Text": text, "Page": page, "Id": text});
            match s.header("x-amz-target").unwrap_or_default() {
                "Textract.StartDocumentTextDetection" => json_answer(200, &json!({"JobId": "job-scan"})),
                "Textract.GetDocumentTextDetection" if p.fetch_add(1, Ordering::SeqCst) == 0 => {
                    json_answer(200, &json!({"JobStatus": "IN_PROGRESS"}))
                }
                "Textract.GetDocumentTextDetection" => json_answer(200, &json!({"JobStatus": "SUCCEEDED",
                    "DocumentMetadata": {"Pages": 2},
                    "Blocks": [line("Lease agreement", 1), line("Rent is due on the first day.", 1), line("Signed in Lisbon.", 2)]})),
                other => json_answer(400, &json!({"__type": "UnknownOperation", "message": other})),
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(
        jarvis_local::blobs::FsBlobStore::new([
            ("raw".to_owned(), dir.path().join("raw")),
            ("curated".to_owned(), dir.path().join("curated")),
        ])
        .unwrap(),
    );
    let metadata = Arc::new(jarvis_local::metadata::SqliteMetadataStore::new(
        jarvis_local::Db::open(&dir.path().join("m.sqlite3")).unwrap(),
    ));
    let alice = TenantId::parse("alice").unwrap();
    let scan = jarvis_extract::fixtures::make_pdf(&[&[], &[]]);
    let source = blobs
        .put("raw", "alice/lease.pdf", scan, "application/pdf")
        .await
        .unwrap();
    let mut doc = jarvis_tests::contract::document(&alice, "alice/lease.pdf", &source.etag);
    doc.source = source.clone();
    metadata.put_document(&doc).await.unwrap();
    let state: jarvis_core::pipeline::PipelineState = serde_json::from_value(json!({
        "tenant_id": "alice", "document_id": doc.id, "source": source,
        "content_type": "application/pdf", "origin": "upload"}))
    .unwrap();
    let deps = extract_document::Deps {
        blobs: blobs.clone(),
        metadata,
        curated_bucket: "curated".into(),
        max_file_bytes: 1 << 20,
        ocr: Some(stack_at(&server.url, false).await.vision()),
        // As the Lambda runs it: the parser in a child process.
        sandbox: Some(Arc::new(jarvis_extract::sandbox::Sandbox {
            program: env!("CARGO_BIN_EXE_jarvis-parse").into(),
            memory_bytes: 512 << 20,
            timeout: std::time::Duration::from_secs(60),
        })),
    };
    let pending = extract_document::handle(&deps, state.clone())
        .await
        .unwrap_err();
    assert_eq!(pending.error_name(), "Jarvis.Pending", "{pending}");
    let done = extract_document::handle(&deps, state).await.unwrap();
    let extracted: jarvis_core::content::ExtractedDocument = serde_json::from_slice(
        &blobs
            .get("curated", &done.extracted.unwrap().key)
            .await
            .unwrap(),
    )
    .unwrap();
    let pages: Vec<Option<u32>> = extracted.blocks.iter().map(|b| b.page).collect();
    assert_eq!(pages, vec![Some(1), Some(2)]);
    assert!(extracted.blocks[0].text.contains("Rent is due"));
    assert_eq!(extracted.metadata["ocr"], json!(true));

    let without_ocr = extract_document::Deps { ocr: None, ..deps };
    let again: jarvis_core::pipeline::PipelineState = serde_json::from_value(json!({
        "tenant_id": "alice", "document_id": doc.id, "source": source,
        "content_type": "application/pdf", "origin": "upload"}))
    .unwrap();
    let refused = extract_document::handle(&without_ocr, again)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("scan"), "{refused}");
}

/// One event-stream frame as Bedrock sends it.
fn frame(event_type: &str, payload: Value) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let message = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ))
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut buf = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut buf).unwrap();
    buf
}

#[tokio::test]
async fn converse_stream_reports_deltas_and_assembles_the_turn() {
    let server = WireServer::start(|_s: Seen| async move {
        let mut body = Vec::new();
        for (kind, payload) in [
            ("messageStart", json!({"role": "assistant"})),
            ("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "Setting "}})),
            ("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "it now."}})),
            ("contentBlockStop", json!({"contentBlockIndex": 0})),
            ("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "create_reminder"}}})),
            ("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"text\": \"call Ana\", "}}})),
            ("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"at\": \"2026-11-24T09:00:00Z\"}"}}})),
            ("contentBlockStop", json!({"contentBlockIndex": 1})),
            ("messageStop", json!({"stopReason": "tool_use"})),
            ("metadata", json!({"usage": {"inputTokens": 40, "outputTokens": 20, "totalTokens": 60}, "metrics": {"latencyMs": 420}})),
        ] {
            body.extend(frame(kind, payload));
        }
        (200, vec![("content-type".to_string(), "application/vnd.amazon.eventstream".to_string())], body)
    })
    .await;
    let (stack, metered) = metered_stack_at(&server.url).await;
    let chat = stack.chat_model();
    let deltas = std::sync::Mutex::new(Vec::new());
    let turn = chat
        .converse_stream(&converse_request(), &|d| deltas.lock().unwrap().push(d))
        .await
        .unwrap();
    assert_eq!(
        deltas.into_inner().unwrap(),
        vec![
            jarvis_core::ports::ChatDelta::Text {
                text: "Setting ".into()
            },
            jarvis_core::ports::ChatDelta::Text {
                text: "it now.".into()
            },
            jarvis_core::ports::ChatDelta::ToolUse {
                tool_use_id: "t1".into(),
                name: "create_reminder".into()
            },
        ]
    );
    let emf = emf_lines(&metered);
    assert_eq!(
        emf.len(),
        1,
        "the stream's metadata event is the turn's usage"
    );
    assert_eq!(
        (
            &emf[0]["InputTokens"],
            &emf[0]["OutputTokens"],
            &emf[0]["ModelLatency"]
        ),
        (&json!(40), &json!(20), &json!(420))
    );
    assert_eq!(emf[0]["Operation"], "ConverseStream");
    assert_eq!(turn.stop_reason, "tool_use");
    assert_eq!(turn.message.content[0], json!({"text": "Setting it now."}));
    assert_eq!(
        turn.message.content[1]["toolUse"]["input"],
        json!({"text": "call Ana", "at": "2026-11-24T09:00:00Z"})
    );
    assert!(server.seen()[0].path.ends_with("/converse-stream"));
}

/// api-chat's tool runner: a synchronous Lambda Invoke of the tool's own
/// function with the ToolCall; the ToolReply comes back; a function error is
/// transient for the agent. The call names the functions' `live` alias
/// (`?Qualifier=live`), so a rolled-back tool is the one that runs. (Answers as
/// in the Lambda Invoke API reference.)
#[tokio::test]
async fn tool_calls_invoke_the_tools_own_function_on_lambda() {
    use jarvis_core::tools::{ToolCall, ToolRunner};
    let server = WireServer::start(|s: Seen| async move {
        if s.path.contains("tool-email") {
            return (
                200,
                vec![("x-amz-function-error".into(), "Unhandled".into())],
                br#"{"errorType":"Jarvis.Transient","errorMessage":"ses throttled"}"#.to_vec(),
            );
        }
        json_answer(200, &json!({"Ok": {"result": {"summary": "Added the task: x"}, "action": {"kind": "task_created", "id": "task_1", "summary": "Added the task: x"}}}))
    })
    .await;
    let mut stack = stack_at(&server.url, false).await;
    stack.settings.tool_function_prefix = Some("jarvis-dev-".into());
    stack.settings.function_alias = Some("live".into());
    let tools = stack.tools().unwrap();
    let call = ToolCall {
        tenant_id: TenantId::parse("alice").unwrap(),
        name: "create_task".into(),
        input: json!({"title": "x"}),
        confirmed: false,
        confirm_token: None,
        since: None,
    };
    let reply = tools.call(&call).await.unwrap().unwrap();
    assert_eq!(reply.action.unwrap().kind, "task_created");
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].path,
        "/2015-03-31/functions/jarvis-dev-tool-tasks/invocations?Qualifier=live"
    );
    assert!(signed_for(&seen[0], "lambda"));
    assert_eq!(seen[0].json()["name"], "create_task");
    assert_eq!(seen[0].json()["confirmed"], false);
    let failed = tools
        .call(&ToolCall {
            name: "send_email".into(),
            ..call.clone()
        })
        .await
        .unwrap_err();
    assert!(failed.is_retryable(), "{failed}");
    assert!(
        failed.to_string().contains("jarvis-dev-tool-email"),
        "{failed}"
    );
    let unknown = tools
        .call(&ToolCall {
            name: "format_disk".into(),
            ..call
        })
        .await;
    assert!(matches!(unknown, Err(PortError::Invalid(_))));
}

/// Erasure is queued as an asynchronous invoke (`X-Amz-Invocation-Type: Event`,
/// 202), signed for Lambda; a missing function (404, its code in
/// `X-Amzn-ErrorType`) is `NotFound`.
#[tokio::test]
async fn an_erasure_job_is_an_asynchronous_invoke_of_the_erase_function() {
    use jarvis_core::ports::Jobs;
    let server = WireServer::start(|s: Seen| async move {
        if s.path.contains("jarvis-dev-missing") {
            return (
                404,
                vec![(
                    "x-amzn-errortype".into(),
                    "ResourceNotFoundException:http://internal.amazon.com/coral/".into(),
                )],
                br#"{"Type":"User","message":"Function not found"}"#.to_vec(),
            );
        }
        let status = if s.header("x-amz-invocation-type") == Some("Event") {
            202
        } else {
            200
        };
        (status, Vec::new(), Vec::new())
    })
    .await;
    let mut stack = stack_at(&server.url, false).await;
    stack.settings.erase_function = Some("jarvis-dev-erase-tenant".into());
    stack.settings.function_alias = Some("live".into());
    let alice = TenantId::parse("alice").unwrap();
    stack.jobs().unwrap().start_erasure(&alice).await.unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].path,
        "/2015-03-31/functions/jarvis-dev-erase-tenant/invocations?Qualifier=live"
    );
    assert!(signed_for(&seen[0], "lambda"));
    assert_eq!(seen[0].header("x-amz-invocation-type"), Some("Event"));
    assert_eq!(seen[0].json(), json!({"tenant_id": "alice"}));

    stack.settings.erase_function = Some("jarvis-dev-missing".into());
    let missing = stack.jobs().unwrap().start_erasure(&alice).await;
    assert!(
        matches!(&missing, Err(PortError::NotFound(m)) if m.contains("ResourceNotFoundException: Function not found (HTTP 404)")),
        "{missing:?}"
    );
}

/// The OpenAI-compatible chat model on the wire: `/v1/chat/completions` with
/// function tools; tool calls come back as Converse toolUse; 429 is transient.
#[tokio::test]
async fn an_openai_compatible_server_speaks_for_the_agent() {
    use jarvis_core::ports::ChatModel;
    let server = WireServer::start(|s: Seen| async move {
        if s.json()["messages"].as_array().is_some_and(|m| m.len() > 3) {
            return json_answer(429, &json!({"error": {"message": "slow down"}}));
        }
        json_answer(200, &json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "llama3.1",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "create_reminder", "arguments": "{\"text\":\"call Ana\",\"when\":\"at 9\"}"}}]
            }}],
            "usage": {"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110}
        }))
    })
    .await;
    let model = jarvis_local::openai::OpenAiChat::new(
        &format!("{}/v1", server.url),
        "llama3.1",
        Some("sk-local".into()),
    )
    .unwrap();
    let out = model.converse(&converse_request()).await.unwrap();
    assert_eq!(out.stop_reason, "tool_use");
    assert_eq!(out.message.content[0]["toolUse"]["name"], "create_reminder");
    assert_eq!(out.message.content[0]["toolUse"]["input"]["when"], "at 9");
    let seen = server.seen();
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-local"));
    let body = seen[0].json();
    assert_eq!(body["model"], "llama3.1");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["tools"][0]["type"], "function");
    // A longer conversation gets the 429: transient, so the agent can retry later.
    let mut long = converse_request();
    for _ in 0..3 {
        long.messages.push(long.messages[0].clone());
    }
    let err = model.converse(&long).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

/// The analysis on AWS is the local one: the template declares Jarvis's
/// analyzers (tantivy's chain, `jarvis_core::analysis`), a German chunk's text
/// is also written to `text_de`, and a keyword query sums every field's score
/// with the local boosts. (The tokens each chain makes are checked against
/// hand-derived Snowball output in jarvis-local's analyzer test.)
#[tokio::test]
async fn opensearch_analyzes_text_like_the_local_index_on_the_wire() {
    let server = WireServer::start(|s: Seen| async move {
        match (s.method.as_str(), s.path.as_str()) {
            ("PUT", p) if p.starts_with("/_index_template/") => {
                json_answer(200, &json!({"acknowledged": true}))
            }
            ("PUT", "/jarvis-chunks") => json_answer(200, &json!({"acknowledged": true})),
            ("POST", "/_bulk") => json_answer(
                200,
                &json!({"errors": false, "items": [
                {"index": {"_index": "jarvis-chunks", "_id": "n0", "status": 201}},
                {"index": {"_index": "jarvis-chunks", "_id": "n1", "status": 201}}]}),
            ),
            ("POST", "/jarvis-chunks/_search") => json_answer(
                200,
                &json!({"hits": {"hits": [
                {"_id": "n0", "_score": 0.0, "_source": {"generation": "x"}},
                {"_id": "n1", "_score": 0.0, "_source": {"generation": "x"}}]}}),
            ),
            _ => json_answer(
                404,
                &json!({"error": {"type": "not_found", "reason": s.path}}),
            ),
        }
    })
    .await;
    let index = stack_at(&server.url, true).await.index().unwrap();
    let alice = TenantId::parse("alice").unwrap();
    let doc = DocumentId::for_object(&alice, "raw", "alice/letters.md");
    index
        .replace_document(
            &alice,
            &doc,
            vec![
                chunk(&alice, &doc, 0, "Die Rechnungen für die Häuser wurden gestern bezahlt, und der Vermieter hat sich bedankt."),
                chunk(&alice, &doc, 1, "The invoices for the houses were paid yesterday and the landlord said thanks."),
            ],
        )
        .await
        .unwrap();
    let q = SearchQuery {
        tenant_id: alice.clone(),
        text: "Rechnung".into(),
        vector: None,
        filters: SearchFilters::default(),
        limit: 5,
        mode: SearchMode::Keyword,
        fusion: FusionConfig::default(),
    };
    index.search(&q).await.unwrap();

    let seen = server.seen();
    let template = seen
        .iter()
        .find(|s| s.path.starts_with("/_index_template/"))
        .unwrap()
        .json();
    let settings = &template["template"]["settings"];
    assert_eq!(
        settings["analysis"],
        jarvis_core::analysis::opensearch_analysis()
    );
    let de = &settings["analysis"]["analyzer"]["jarvis_de"];
    assert_eq!(
        de["filter"],
        json!([
            "jarvis_length",
            "lowercase",
            "jarvis_de_stop",
            "jarvis_de_stem",
            "asciifolding"
        ])
    );
    assert_eq!(
        settings["analysis"]["filter"]["jarvis_de_stem"],
        json!({"type": "snowball", "language": "German"})
    );
    let props = &template["template"]["mappings"]["properties"];
    for field in ["title", "section", "text"] {
        assert_eq!(props[field]["analyzer"], "jarvis_en", "{field}");
    }
    assert_eq!(props["text_de"]["analyzer"], "jarvis_de");
    assert_eq!(props["text_fr"]["analyzer"], "jarvis_fr");
    let method = &props["vector"]["method"];
    assert_eq!(
        method["engine"], "faiss",
        "faiss filters inside the graph search"
    );
    assert_eq!(
        method["parameters"],
        json!({"m": 16, "ef_construction": 128, "ef_search": 100})
    );

    let bulk = seen.iter().find(|s| s.path == "/_bulk").unwrap();
    let lines: Vec<Value> = String::from_utf8(bulk.body.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[1]["language"], "de");
    assert_eq!(lines[1]["text_de"], lines[1]["text"]);
    assert_eq!(lines[3]["language"], "en");
    assert!(
        lines[3]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("text_")),
        "English text has no second field: {}",
        lines[3]
    );

    let keyword = seen
        .iter()
        .filter(|s| s.path.ends_with("/_search"))
        .map(Seen::json)
        .find(|b| b["query"]["bool"]["must"][0].get("multi_match").is_some())
        .unwrap();
    let mm = &keyword["query"]["bool"]["must"][0]["multi_match"];
    assert_eq!(mm["type"], "most_fields");
    let fields: Vec<&str> = mm["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(&fields[..3], ["text", "title^0.5", "section^0.5"]);
    assert!(fields.contains(&"text_de") && fields.contains(&"text_ru"));
}

/// OpenSearch with many chunks of one tenant and a lagging refresh, as
/// OpenSearch Serverless is: a search answers at most 10,000 hits (the index's
/// `max_result_window`), and deletes show only at the next refresh, which
/// here comes after two more searches. 15,000 chunks: every one is deleted,
/// and the delete ends only once a search finds none.
#[tokio::test]
async fn opensearch_erasure_of_15000_chunks_outlasts_full_pages_and_a_lagging_refresh() {
    use std::collections::BTreeSet;
    #[derive(Default)]
    struct Index {
        /// What is stored.
        live: BTreeSet<String>,
        /// What search shows: `live` as of the last refresh.
        visible: BTreeSet<String>,
        /// Searches left before the next refresh.
        until_refresh: usize,
    }
    let state = Arc::new(std::sync::Mutex::new(Index {
        live: (0..15_000).map(|i| format!("chunk-{i:05}")).collect(),
        ..Index::default()
    }));
    {
        let mut s = state.lock().unwrap();
        s.visible = s.live.clone();
    }
    let searches = Arc::new(AtomicUsize::new(0));
    let (st, n) = (state.clone(), searches.clone());
    let server = WireServer::start(move |s: Seen| {
        let (state, searches) = (st.clone(), n.clone());
        async move {
            match (s.method.as_str(), s.path.as_str()) {
                ("PUT", p) if p.starts_with("/_index_template/") => {
                    json_answer(200, &json!({"acknowledged": true}))
                }
                ("PUT", "/jarvis-chunks") => json_answer(200, &json!({"acknowledged": true})),
                ("POST", "/_bulk") => {
                    let mut index = state.lock().unwrap();
                    let mut items = Vec::new();
                    for line in String::from_utf8_lossy(&s.body).lines() {
                        let op: Value = serde_json::from_str(line).unwrap();
                        let id = op["delete"]["_id"].as_str().unwrap().to_owned();
                        let found = index.live.remove(&id);
                        items.push(json!({"delete": {"_id": id, "status": if found { 200 } else { 404 },
                            "result": if found { "deleted" } else { "not_found" }}}));
                    }
                    index.until_refresh = 2;
                    json_answer(200, &json!({"errors": false, "items": items}))
                }
                ("POST", "/jarvis-chunks/_search") => {
                    searches.fetch_add(1, Ordering::SeqCst);
                    let body = s.json();
                    assert_eq!(body["query"]["bool"]["filter"][0], json!({"term": {"tenant_id": "alice"}}));
                    let size = body["size"].as_u64().unwrap() as usize;
                    assert!(size <= 10_000, "max_result_window is 10,000");
                    let mut index = state.lock().unwrap();
                    if index.until_refresh == 0 {
                        index.visible = index.live.clone();
                    } else {
                        index.until_refresh -= 1;
                    }
                    let hits: Vec<Value> = index
                        .visible
                        .iter()
                        .take(size)
                        .map(|id| json!({"_id": id, "_score": 0.0, "_source": {"generation": "g1"}}))
                        .collect();
                    json_answer(200, &json!({"hits": {"total": {"value": index.visible.len(), "relation": "eq"}, "hits": hits}}))
                }
                (m, p) => panic!("unexpected {m} {p}"),
            }
        }
    })
    .await;
    let index = stack_at(&server.url, true).await.index().unwrap();
    index
        .delete_tenant(&TenantId::parse("alice").unwrap())
        .await
        .unwrap();
    let left = state.lock().unwrap().live.len();
    assert_eq!(left, 0, "every chunk is deleted");
    assert!(
        state.lock().unwrap().visible.is_empty(),
        "it ended on a search that found none"
    );
    assert!(
        searches.load(Ordering::SeqCst) >= 4,
        "pages and refreshes were waited for"
    );
}
