//! Contract tests of the local adapters: what every adapter of these ports must
//! do beyond the shared contracts in `tests/contracts` (events on put, resuming
//! runs, the index, the inbox watcher).

use chrono::Utc;
use jarvis_core::domain::{Chunk, DocumentId, ObjectRef, TenantId};
use jarvis_core::fusion::FusionConfig;
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{
    BlobStore, IndexedChunk, Queue, SearchIndex, StartOutcome, WorkflowStarter,
};
use jarvis_core::search::{SearchFilters, SearchMode, SearchQuery};
use jarvis_core::PortError;
use jarvis_local::blobs::FsBlobStore;
use jarvis_local::inbox::InboxWatcher;
use jarvis_local::index::LocalSearchIndex;
use jarvis_local::queue::SqliteQueue;
use jarvis_local::testing::HashingEmbedder;
use jarvis_local::workflow::LocalWorkflows;
use jarvis_local::Db;
use std::sync::Arc;

fn tenant(t: &str) -> TenantId {
    TenantId::parse(t).unwrap()
}

fn db(dir: &tempfile::TempDir) -> Db {
    Db::open(&dir.path().join("t.sqlite3")).unwrap()
}

#[tokio::test]
async fn blobs_round_trip_refuse_escapes_and_announce_puts_in_the_watched_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(SqliteQueue::new(db(&dir)));
    let blobs = FsBlobStore::new([
        ("raw".to_owned(), dir.path().join("raw")),
        ("curated".to_owned(), dir.path().join("cur")),
    ])
    .unwrap()
    .with_events("raw", queue.clone());
    let put = blobs
        .put("raw", "a/b/c.txt", b"abc".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!(put.size, 3);
    assert_eq!(blobs.head("raw", "a/b/c.txt").await.unwrap().etag, put.etag);
    assert_eq!(blobs.get("raw", "a/b/c.txt").await.unwrap(), b"abc");
    assert_eq!(
        queue.depth().unwrap(),
        1,
        "a put into raw emits Object Created"
    );
    blobs
        .put("curated", "a/x.json", b"{}".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(queue.depth().unwrap(), 1, "curated puts are not announced");
    for bad in ["../escape", "/abs", "a/../../b", ""] {
        assert!(
            matches!(
                blobs.put("raw", bad, vec![1], "x").await,
                Err(PortError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        blobs.get("raw", "missing").await,
        Err(PortError::NotFound(_))
    ));
    blobs
        .put("curated", "a/y.json", b"{}".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(blobs.delete_prefix("curated", "a/").await.unwrap(), 2);
    blobs.delete("raw", "a/b/c.txt").await.unwrap();
    blobs.delete("raw", "a/b/c.txt").await.unwrap();
}

#[tokio::test]
async fn workflow_names_are_unique_and_unfinished_runs_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (flows, mut runs) = LocalWorkflows::new(db(&dir));
    let t = tenant("alice");
    let state = PipelineState {
        document_id: DocumentId::for_object(&t, "raw", "alice/a.md"),
        tenant_id: t,
        source: ObjectRef {
            bucket: "raw".into(),
            key: "alice/a.md".into(),
            etag: "e".into(),
            size: 1,
        },
        content_type: "text/markdown".into(),
        origin: "upload".into(),
        extracted: None,
        chunks: None,
        embeddings: None,
        chunk_count: None,
        run: 0,
    };
    assert_eq!(
        flows.start("run-1", &state).await.unwrap(),
        StartOutcome::Started
    );
    assert_eq!(
        flows.start("run-1", &state).await.unwrap(),
        StartOutcome::AlreadyExists
    );
    assert_eq!(runs.recv().await.unwrap().name, "run-1");
    let (after_restart, mut resumed) = LocalWorkflows::new(db(&dir));
    assert_eq!(after_restart.resume_unfinished().unwrap().dispatched, 1);
    assert_eq!(resumed.recv().await.unwrap().input, state);
    // A run the process keeps dying in is started at most MAX_STARTS times.
    let (third, _runs) = LocalWorkflows::new(db(&dir));
    let again = third.resume_unfinished().unwrap();
    assert_eq!(
        (again.dispatched, again.given_up.len()),
        (1, 0),
        "the third start"
    );
    let (fourth, _runs) = LocalWorkflows::new(db(&dir));
    let given_up = fourth.resume_unfinished().unwrap();
    assert_eq!(given_up.dispatched, 0);
    assert_eq!(given_up.given_up[0].name, "run-1");
    after_restart.finish("run-1", "succeeded").unwrap();
    assert_eq!(after_restart.running().unwrap(), 0);
}

fn chunk(t: &TenantId, doc: &DocumentId, i: u32, text: &str, content_type: &str) -> IndexedChunk {
    let chunk = Chunk {
        id: Chunk::id_for(doc, i),
        tenant_id: t.clone(),
        document_id: doc.clone(),
        ordinal: i,
        title: "T".into(),
        text: text.into(),
        section: Some("S".into()),
        page: Some(1),
        token_count: 5,
        pii: vec![],
        source: "inbox".into(),
        content_type: content_type.into(),
        created_at: Utc::now(),
    };
    IndexedChunk {
        vector: HashingEmbedder { dims: 64 }.embed_one(text),
        chunk,
    }
}

/// The index as one task writes to it, as the runtime opens it for one
/// pipeline worker: each change is committed at once, since no other writer
/// could join its commit (with more, a commit waits up to 250 ms for them).
fn one_writer(path: &std::path::Path, db: Db) -> LocalSearchIndex {
    LocalSearchIndex::open_for_writers(path, db, 64, 1).unwrap()
}

fn query(t: &TenantId, text: &str, filters: SearchFilters) -> SearchQuery {
    SearchQuery {
        tenant_id: t.clone(),
        text: text.into(),
        vector: Some(HashingEmbedder { dims: 64 }.embed_one(text)),
        filters,
        limit: 10,
        mode: SearchMode::Hybrid,
        fusion: FusionConfig::parse("rrf", 1.0, 1.0, 60.0).unwrap(),
    }
}

#[tokio::test]
async fn the_index_filters_by_tenant_and_type_and_replaces_a_documents_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let index = one_writer(&dir.path().join("idx"), db(&dir));
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let a = DocumentId::for_object(&alice, "raw", "alice/a");
    let b = DocumentId::for_object(&bob, "raw", "bob/b");
    index
        .replace_document(
            &alice,
            &a,
            vec![chunk(
                &alice,
                &a,
                0,
                "the blue heron nests by the river",
                "text/markdown",
            )],
        )
        .await
        .unwrap();
    index
        .replace_document(
            &bob,
            &b,
            vec![chunk(
                &bob,
                &b,
                0,
                "the blue heron nests by the river",
                "application/pdf",
            )],
        )
        .await
        .unwrap();

    let hits = index
        .search(&query(&alice, "blue heron", SearchFilters::default()))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].document_id, a);
    assert!(hits[0].snippet.contains("<mark>heron</mark>"));
    let pdf_only = SearchFilters {
        content_type: Some("application/".into()),
        ..Default::default()
    };
    assert!(index
        .search(&query(&alice, "blue heron", pdf_only))
        .await
        .unwrap()
        .is_empty());

    let stolen = index
        .replace_document(&alice, &a, vec![chunk(&bob, &a, 0, "x", "text/plain")])
        .await;
    assert!(
        matches!(stolen, Err(PortError::Invalid(_))),
        "chunks must belong to the tenant and document written"
    );

    index
        .replace_document(
            &alice,
            &a,
            vec![chunk(
                &alice,
                &a,
                0,
                "a grey owl in the barn",
                "text/markdown",
            )],
        )
        .await
        .unwrap();
    let hits = index
        .search(&query(&alice, "heron", SearchFilters::default()))
        .await
        .unwrap();
    assert!(
        hits.iter().all(|h| !h.text.contains("heron")),
        "old chunks are gone"
    );
    index.delete_tenant(&alice).await.unwrap();
    assert!(index
        .search(&query(&alice, "owl", SearchFilters::default()))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        index
            .search(&query(&bob, "heron", SearchFilters::default()))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_inbox_announces_a_file_once_it_holds_still_and_again_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(inbox.join("@bob")).unwrap();
    let database = db(&dir);
    let queue = Arc::new(SqliteQueue::new(database.clone()));
    let mut watcher = InboxWatcher::new(inbox.clone(), "inbox", database.clone(), queue.clone());
    std::fs::write(inbox.join("a.md"), "one").unwrap();
    std::fs::write(inbox.join("@bob/b.md"), "two").unwrap();
    std::fs::write(inbox.join(".hidden"), "x").unwrap();
    std::fs::write(inbox.join("c.md.part"), "x").unwrap();
    assert_eq!(
        watcher.scan().unwrap(),
        0,
        "first sight: not yet known to be complete"
    );
    assert_eq!(watcher.scan().unwrap(), 2);
    assert_eq!(watcher.scan().unwrap(), 0);
    let mut fresh = InboxWatcher::new(inbox.clone(), "inbox", database, queue.clone());
    fresh.scan().unwrap();
    assert_eq!(fresh.scan().unwrap(), 0, "a restart does not re-announce");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(inbox.join("a.md"), "one, edited").unwrap();
    fresh.scan().unwrap();
    assert_eq!(fresh.scan().unwrap(), 1);
    let bodies: Vec<String> = queue
        .receive(10, 60)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    let keys: Vec<String> = bodies
        .iter()
        .map(|b| {
            jarvis_lambda::s3_events::parse_object_created(b)
                .unwrap()
                .key
        })
        .collect();
    assert_eq!(keys.iter().filter(|k| *k == "a.md").count(), 2);
    assert!(keys.contains(&"@bob/b.md".to_owned()));
}

/// Ticks until `want` files more have been announced (the notifications
/// arrive from another thread), then checks that nothing more is.
fn tick_until_announced(watcher: &mut InboxWatcher, want: usize) {
    let mut announced = 0;
    for _ in 0..400 {
        announced += watcher.tick().unwrap();
        if announced >= want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert_eq!(announced, want);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(watcher.tick().unwrap(), 0, "announced once");
}

#[tokio::test]
async fn the_notified_inbox_looks_only_at_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for i in 0..50 {
        std::fs::write(inbox.join(format!("note-{i}.md")), format!("note {i}")).unwrap();
    }
    let database = db(&dir);
    let queue = Arc::new(SqliteQueue::new(database.clone()));
    let mut watcher =
        InboxWatcher::watching(inbox.clone(), "inbox", database.clone(), queue.clone());
    assert!(watcher.notified(), "inotify is available on Linux");
    assert_eq!(
        watcher.tick().unwrap(),
        0,
        "first walk: not yet known complete"
    );
    assert_eq!(watcher.tick().unwrap(), 50);
    let settled = watcher.looked_at();
    for _ in 0..3 {
        assert_eq!(watcher.tick().unwrap(), 0);
    }
    assert_eq!(
        watcher.looked_at(),
        settled,
        "nothing changed, nothing looked at"
    );

    std::fs::write(inbox.join("new.md"), "fresh").unwrap();
    tick_until_announced(&mut watcher, 1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(inbox.join("note-3.md"), "note 3, edited").unwrap();
    tick_until_announced(&mut watcher, 1);
    // A folder moved in whole is walked.
    let outside = dir.path().join("elsewhere");
    std::fs::create_dir_all(outside.join("deep")).unwrap();
    std::fs::write(outside.join("a.md"), "a").unwrap();
    std::fs::write(outside.join("deep/b.md"), "b").unwrap();
    std::fs::write(outside.join("deep/.hidden"), "x").unwrap();
    std::fs::rename(&outside, inbox.join("@bob")).unwrap();
    tick_until_announced(&mut watcher, 2);
    // Temporaries are never announced; renamed to their final name, they are.
    std::fs::write(inbox.join("c.md.part"), "c").unwrap();
    tick_until_announced(&mut watcher, 0);
    std::fs::rename(inbox.join("c.md.part"), inbox.join("c.md")).unwrap();
    tick_until_announced(&mut watcher, 1);
    assert!(
        watcher.looked_at() - settled < 20,
        "each change looked at its own files, not the folder's 50 ({} looks)",
        watcher.looked_at() - settled
    );
    // A name that is not UTF-8 has no object key: neither the notified look
    // nor the full walk announces it.
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = std::ffi::OsStr::from_bytes(b"odd-\xff.md");
        std::fs::write(inbox.join(odd), "odd").unwrap();
        let mut announced = 0;
        for _ in 0..6 {
            announced += watcher.tick().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert_eq!(announced, 0, "notified look");
        assert_eq!(
            watcher.scan().unwrap() + watcher.scan().unwrap(),
            0,
            "full walk"
        );
    }

    let keys: Vec<String> = queue
        .receive(100, 60)
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            jarvis_lambda::s3_events::parse_object_created(&m.body)
                .unwrap()
                .key
        })
        .collect();
    assert_eq!(keys.len(), 50 + 5);
    for key in ["new.md", "note-3.md", "@bob/a.md", "@bob/deep/b.md", "c.md"] {
        assert!(keys.contains(&key.to_owned()), "{key} announced");
    }
    assert_eq!(keys.iter().filter(|k| *k == "note-3.md").count(), 2);
}

fn keyword(t: &TenantId, text: &str) -> SearchQuery {
    SearchQuery {
        mode: SearchMode::Keyword,
        vector: None,
        ..query(t, text, SearchFilters::default())
    }
}

#[tokio::test]
async fn words_find_their_inflections_in_english_and_in_a_detected_language() {
    let dir = tempfile::tempdir().unwrap();
    let index = one_writer(&dir.path().join("idx"), db(&dir));
    let alice = tenant("alice");
    let en = DocumentId::for_object(&alice, "raw", "alice/en.md");
    let de = DocumentId::for_object(&alice, "raw", "alice/de.md");
    let en_text = "Our invoices were indexed and archived by the accountant last spring.";
    let de_text =
        "Die Rechnungen für die Häuser wurden gestern bezahlt, und der Vermieter hat sich \
                   bei uns für die pünktliche Zahlung bedankt.";
    for (doc, text) in [(&en, en_text), (&de, de_text)] {
        index
            .replace_document(
                &alice,
                doc,
                vec![chunk(&alice, doc, 0, text, "text/markdown")],
            )
            .await
            .unwrap();
    }
    let first =
        |hits: Vec<jarvis_core::search::SearchHit>| hits.first().map(|h| h.document_id.clone());
    for (q, want) in [
        ("invoice", &en),
        ("archiving indexes", &en),
        ("Rechnung", &de),
        // Folded after stemming: typed without the umlaut, still the German "Häuser".
        ("Hauser", &de),
        ("Zahlungen", &de),
    ] {
        let hits = index.search(&keyword(&alice, q)).await.unwrap();
        assert_eq!(first(hits), Some(want.clone()), "{q:?}");
    }
    // The German stemmer runs on German text only: an English query for
    // "bezahlt" as typed still finds it through the English field.
    let hits = index.search(&keyword(&alice, "bezahlt")).await.unwrap();
    assert_eq!(first(hits), Some(de.clone()));
    assert!(index
        .search(&keyword(&tenant("bob"), "Rechnung"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_rebuild_interrupted_between_its_renames_is_recovered_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let alice = tenant("alice");
    let a = DocumentId::for_object(&alice, "raw", "alice/a");
    {
        let index = one_writer(&path, db(&dir));
        index
            .replace_document(
                &alice,
                &a,
                vec![chunk(&alice, &a, 0, "the heron", "text/plain")],
            )
            .await
            .unwrap();
    }
    // A crash after `idx` → `idx.old`, before `idx.new` → `idx`.
    std::fs::rename(&path, dir.path().join("idx.old")).unwrap();
    std::fs::create_dir_all(dir.path().join("idx.new")).unwrap();
    std::fs::write(dir.path().join("idx.new").join("junk"), b"half").unwrap();
    let index = one_writer(&path, db(&dir));
    let hits = index.search(&keyword(&alice, "herons")).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!(!dir.path().join("idx.old").exists() && !dir.path().join("idx.new").exists());
}

/// Deterministic unit vectors (xorshift), not a model's.
fn random_unit(seed: &mut u64, dims: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn vector_chunk(t: &TenantId, doc: &DocumentId, i: u32, source: &str, v: Vec<f32>) -> IndexedChunk {
    let mut c = chunk(t, doc, i, &format!("chunk {i}"), "text/plain");
    c.chunk.source = source.into();
    c.vector = v;
    c
}

#[tokio::test]
async fn the_graph_gives_a_small_tenant_its_k_results_beside_a_large_one() {
    let dir = tempfile::tempdir().unwrap();
    let index = one_writer(&dir.path().join("idx"), db(&dir));
    let (big, small) = (tenant("big"), tenant("small"));
    let mut seed = 7u64;
    for d in 0..30 {
        let doc = DocumentId::for_object(&big, "raw", &format!("big/{d}"));
        let source = if d == 0 { "email" } else { "inbox" };
        let items = (0..100)
            .map(|i| vector_chunk(&big, &doc, i, source, random_unit(&mut seed, 64)))
            .collect();
        index.replace_document(&big, &doc, items).await.unwrap();
    }
    let small_doc = DocumentId::for_object(&small, "raw", "small/0");
    let items = (0..15)
        .map(|i| vector_chunk(&small, &small_doc, i, "inbox", random_unit(&mut seed, 64)))
        .collect();
    index
        .replace_document(&small, &small_doc, items)
        .await
        .unwrap();

    let q = random_unit(&mut seed, 64);
    let none = SearchFilters::default();
    let hits = index.nearest(&small, &q, &none, 10).unwrap();
    assert_eq!(hits.len(), 10, "k results for the small tenant");
    let small_ids: Vec<String> = (0..15).map(|i| Chunk::id_for(&small_doc, i)).collect();
    assert!(hits.iter().all(|h| small_ids.contains(&h.id)));
    // A filter matching one document of the large tenant: k of that document only.
    let email = SearchFilters {
        source: Some("email".into()),
        ..Default::default()
    };
    let hits = index.nearest(&big, &q, &email, 10).unwrap();
    let first_doc = DocumentId::for_object(&big, "raw", "big/0");
    assert_eq!(hits.len(), 10);
    assert!(
        hits.iter().all(|h| h.id.starts_with(first_doc.as_str())),
        "{hits:?}"
    );
    let one_doc = SearchFilters {
        document_id: Some(first_doc.clone()),
        ..Default::default()
    };
    assert_eq!(index.nearest(&big, &q, &one_doc, 500).unwrap().len(), 100);
    assert!(index.nearest(&small, &q, &one_doc, 10).unwrap().is_empty());
    // Best first, with the exact scores of the exact search.
    let exact = index.exact_neighbours(&small, &q, 10).unwrap();
    let ann = index.nearest(&small, &q, &none, 10).unwrap();
    assert_eq!(
        ann.iter().map(|r| &r.id).collect::<Vec<_>>(),
        exact.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    assert!((ann[0].score - exact[0].score).abs() < 1e-4);
}

/// Fusion by scores looks up each candidate's score on the side whose list
/// lacks it: the hits are exactly the fusion of the two lists with every
/// missing score taken from an exhaustive ranking of that side.
#[tokio::test]
async fn fusion_by_scores_scores_every_candidate_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let index = one_writer(&dir.path().join("idx"), db(&dir));
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let words = [
        "harbour", "ledger", "violin", "orchard", "lantern", "glacier", "pepper", "compass",
        "meadow", "anchor", "saddle", "thimble", "quarry", "falcon", "walnut", "ribbon",
    ];
    let mut seed = 11u64;
    for t in [&alice, &bob] {
        for d in 0..4 {
            let doc = DocumentId::for_object(t, "raw", &format!("{t}/notes-{d}"));
            let items = (0..20)
                .map(|i| {
                    let n = 3 + (seed % 9) as usize;
                    let text: Vec<&str> = (0..n)
                        .map(|_| {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            words[(seed % words.len() as u64) as usize]
                        })
                        .collect();
                    let mut c = chunk(t, &doc, i, &text.join(" "), "text/plain");
                    c.vector = random_unit(&mut seed, 64);
                    c
                })
                .collect();
            index.replace_document(t, &doc, items).await.unwrap();
        }
    }
    let text = "harbour lantern falcon";
    let vector = random_unit(&mut seed, 64);
    let fusion = FusionConfig::default();
    assert!(fusion.completes_scores());
    let q = SearchQuery {
        tenant_id: alice.clone(),
        text: text.into(),
        vector: Some(vector.clone()),
        filters: SearchFilters::default(),
        limit: 5,
        mode: SearchMode::Hybrid,
        fusion,
    };
    let hits = index.search(&q).await.unwrap();

    // The reference: the same two lists, every missing score from a full ranking.
    let k = jarvis_core::search::candidates(5);
    let none = SearchFilters::default();
    let bm25 = index.text().search(&alice, text, &none, k).unwrap();
    let knn = index.nearest(&alice, &vector, &none, k).unwrap();
    let all_bm25 = index.text().search(&alice, text, &none, 1000).unwrap();
    let all_vec = index.exact_neighbours(&alice, &vector, 1000).unwrap();
    let (for_bm25, for_vector) = jarvis_core::fusion::missing(&bm25, &knn);
    assert!(
        !for_bm25.is_empty() && !for_vector.is_empty(),
        "each list lacks candidates of the other, so both sides are looked up"
    );
    let score_in = |all: &[jarvis_core::fusion::Ranked], id: &String| {
        all.iter().find(|r| r.id == *id).map_or(0.0, |r| r.score)
    };
    let completion = jarvis_core::fusion::Completion {
        bm25: for_bm25
            .iter()
            .map(|id| (id.clone(), score_in(&all_bm25, id)))
            .collect(),
        vector: for_vector
            .iter()
            .map(|id| (id.clone(), score_in(&all_vec, id)))
            .collect(),
    };
    let expected = jarvis_core::fusion::fuse(&bm25, &knn, &completion, &fusion);
    let alices: Vec<DocumentId> = (0..4)
        .map(|d| DocumentId::for_object(&alice, "raw", &format!("alice/notes-{d}")))
        .collect();
    assert_eq!(hits.len(), 5);
    for (hit, want) in hits.iter().zip(&expected) {
        assert_eq!(hit.chunk_id, want.id);
        assert!(
            (hit.score - want.score).abs() < 1e-5,
            "{} vs {}",
            hit.score,
            want.score
        );
        assert!(alices.contains(&hit.document_id), "only alice's chunks");
    }
    // A lookup is scoped to the tenant: bob's chunk ids score nothing for alice.
    let bobs: Vec<String> = (0..20)
        .map(|i| Chunk::id_for(&DocumentId::for_object(&bob, "raw", "bob/notes-0"), i))
        .collect();
    assert!(index
        .text()
        .score_chunks(&alice, text, &bobs)
        .unwrap()
        .is_empty());
    assert!(index
        .vectors()
        .score_chunks(&alice, &vector, &bobs)
        .unwrap()
        .is_empty());
    assert_eq!(
        index
            .vectors()
            .score_chunks(&bob, &vector, &bobs)
            .unwrap()
            .len(),
        20
    );
}

#[tokio::test]
async fn the_graph_finds_nearly_all_of_the_exact_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let index = one_writer(&dir.path().join("idx"), db(&dir));
    let t = tenant("alice");
    let mut seed = 11u64;
    for d in 0..50 {
        let doc = DocumentId::for_object(&t, "raw", &format!("alice/{d}"));
        let items = (0..100)
            .map(|i| vector_chunk(&t, &doc, i, "inbox", random_unit(&mut seed, 64)))
            .collect();
        index.replace_document(&t, &doc, items).await.unwrap();
    }
    let (mut found, mut wanted) = (0, 0);
    for _ in 0..50 {
        let q = random_unit(&mut seed, 64);
        let exact: std::collections::HashSet<String> = index
            .exact_neighbours(&t, &q, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        let ann = index
            .nearest(&t, &q, &SearchFilters::default(), 10)
            .unwrap();
        found += ann.iter().filter(|r| exact.contains(&r.id)).count();
        wanted += exact.len();
    }
    let recall = found as f64 / wanted as f64;
    assert!(recall >= 0.95, "recall@10 {recall} on 5,000 random vectors");
}

#[tokio::test]
async fn the_graph_reopens_from_its_snapshot_and_catches_up_with_what_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let t = tenant("alice");
    let mut seed = 3u64;
    let doc = |n: u32| DocumentId::for_object(&t, "raw", &format!("alice/{n}"));
    let q = random_unit(&mut seed, 64);
    {
        let index = one_writer(&path, db(&dir));
        for n in 0..3 {
            let items = (0..20)
                .map(|i| vector_chunk(&t, &doc(n), i, "inbox", random_unit(&mut seed, 64)))
                .collect();
            index.replace_document(&t, &doc(n), items).await.unwrap();
        }
        index.flush().unwrap();
        let snap = dir.path().join("idx-vectors");
        let saved = dir.path().join("saved");
        std::fs::create_dir_all(&saved).unwrap();
        for f in ["alice.usearch", "alice.keys"] {
            std::fs::copy(snap.join(f), saved.join(f)).unwrap();
        }
        // After the snapshot: one document replaced, one deleted, one added…
        let items = (0..5)
            .map(|i| vector_chunk(&t, &doc(0), i, "inbox", random_unit(&mut seed, 64)))
            .collect();
        index.replace_document(&t, &doc(0), items).await.unwrap();
        index.delete_document(&t, &doc(1)).await.unwrap();
        let items = vec![vector_chunk(&t, &doc(9), 0, "inbox", q.clone())];
        index.replace_document(&t, &doc(9), items).await.unwrap();
        // …and the process dies before the next snapshot: the snapshot on disk
        // is the one from before the changes.
        drop(index);
        for f in ["alice.usearch", "alice.keys"] {
            std::fs::copy(saved.join(f), snap.join(f)).unwrap();
        }
    }
    assert!(dir
        .path()
        .join("idx-vectors")
        .join("alice.usearch")
        .is_file());
    let index = one_writer(&path, db(&dir));
    assert_eq!(index.vector_count(&t), 5 + 20 + 1);
    let hits = index
        .nearest(&t, &q, &SearchFilters::default(), 50)
        .unwrap();
    assert_eq!(hits.len(), 26, "no deleted or replaced vector comes back");
    assert_eq!(
        hits[0].id,
        Chunk::id_for(&doc(9), 0),
        "the vector added after the snapshot"
    );
    assert!(hits.iter().all(|h| !h.id.starts_with(doc(1).as_str())));
    // Erasing the tenant removes its snapshot too.
    index.delete_tenant(&t).await.unwrap();
    assert!(!dir
        .path()
        .join("idx-vectors")
        .join("alice.usearch")
        .exists());
    assert!(index
        .nearest(&t, &q, &SearchFilters::default(), 5)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_snapshot_of_another_scalar_kind_is_rebuilt_from_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let t = tenant("alice");
    let mut seed = 5u64;
    let doc = DocumentId::for_object(&t, "raw", "alice/0");
    let vectors: Vec<Vec<f32>> = (0..20).map(|_| random_unit(&mut seed, 64)).collect();
    {
        let index = one_writer(&path, db(&dir));
        let items = (0..20)
            .map(|i| vector_chunk(&t, &doc, i, "inbox", vectors[i as usize].clone()))
            .collect();
        index.replace_document(&t, &doc, items).await.unwrap();
        index.flush().unwrap();
    }
    // A snapshot of another scalar kind (f16: the graph is f32) with the same
    // keys, whose vectors (here: all the same) do not describe the table's.
    let snap = dir.path().join("idx-vectors");
    let keys: Vec<u64> = std::fs::read(snap.join("alice.keys"))
        .unwrap()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(keys.len(), 20);
    let options = |quantization| usearch::IndexOptions {
        dimensions: 64,
        metric: usearch::MetricKind::IP,
        quantization,
        connectivity: 16,
        ..Default::default()
    };
    let old = usearch::Index::new(&options(usearch::ScalarKind::F16)).unwrap();
    old.reserve(keys.len()).unwrap();
    for key in &keys {
        old.add(*key, &vectors[0]).unwrap();
    }
    let graph = snap.join("alice.usearch");
    old.save(graph.to_str().unwrap()).unwrap();

    let index = one_writer(&path, db(&dir));
    for (i, v) in vectors.iter().enumerate() {
        let hits = index.nearest(&t, v, &SearchFilters::default(), 1).unwrap();
        assert_eq!(hits[0].id, Chunk::id_for(&doc, i as u32), "vector {i}");
    }
    // The rewritten snapshot holds f32 vectors.
    let reread = usearch::Index::new(&options(usearch::ScalarKind::F32)).unwrap();
    reread.load(graph.to_str().unwrap()).unwrap();
    assert_eq!(reread.scalar_kind(), usearch::ScalarKind::F32);
    assert_eq!(reread.size(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replaces_of_one_document_leave_the_graph_as_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let t = tenant("alice");
    let doc = DocumentId::for_object(&t, "raw", "alice/racy");
    let index = Arc::new(LocalSearchIndex::open_for_writers(&path, db(&dir), 64, 4).unwrap());
    let mut tasks = Vec::new();
    for writer in 0..4u64 {
        let (index, t, doc) = (index.clone(), t.clone(), doc.clone());
        tasks.push(tokio::spawn(async move {
            let mut seed = 100 + writer;
            for round in 0..25 {
                // Each writer writes a different number of chunks.
                let n = 1 + (writer as u32 + round) % 7;
                let items = (0..n)
                    .map(|i| vector_chunk(&t, &doc, i, "inbox", random_unit(&mut seed, 64)))
                    .collect();
                index.replace_document(&t, &doc, items).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let in_graph = index.vector_count(&t);
    let q = random_unit(&mut 5, 64);
    let found = index
        .nearest(&t, &q, &SearchFilters::default(), 50)
        .unwrap()
        .len();
    drop(index);
    let in_table: i64 = db(&dir)
        .lock()
        .query_row(
            "SELECT count(*) FROM vectors WHERE tenant = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        in_graph as i64, in_table,
        "the graph holds exactly the table's vectors"
    );
    assert_eq!(found as i64, in_table);
    let reopened = one_writer(&path, db(&dir));
    assert_eq!(reopened.vector_count(&t) as i64, in_table);
}

/// usearch hands each search one of the thread contexts reserved with the
/// graph (by default, one per core) and fails a search that finds none free:
/// more concurrent searches than cores must wait for one, never fail.
#[test]
fn more_concurrent_searches_than_cores_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(LocalSearchIndex::open(&dir.path().join("idx"), db(&dir), 64).unwrap());
    let t = tenant("alice");
    let doc = DocumentId::for_object(&t, "raw", "alice/0");
    let mut seed = 11u64;
    let items = (0..2000)
        .map(|i| vector_chunk(&t, &doc, i, "inbox", random_unit(&mut seed, 64)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(index.replace_document(&t, &doc, items))
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..cores * 4 + 4)
        .map(|n| {
            let (index, t) = (index.clone(), t.clone());
            std::thread::spawn(move || {
                let mut seed = 100 + n as u64;
                for _ in 0..200 {
                    let q = random_unit(&mut seed, 64);
                    let hits = index
                        .nearest(&t, &q, &SearchFilters::default(), 10)
                        .unwrap();
                    assert_eq!(hits.len(), 10);
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
}
