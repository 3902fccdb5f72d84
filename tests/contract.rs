//! What every adapter of a port must do. Each suite takes the port as a trait
//! object; `tests/contracts` runs it against the local adapter and against the
//! AWS adapter on the emulator.

use chrono::Utc;
use jarvis_core::domain::{Document, DocumentId, DocumentStatus, ObjectRef, TenantId};
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{
    BlobStore, DocumentFilter, MetadataStore, Queue, StartOutcome, StatusChange, WorkflowStarter,
};
use jarvis_core::PortError;

pub fn tenant(t: &str) -> TenantId {
    TenantId::parse(t).unwrap()
}

pub fn document(t: &TenantId, key: &str, etag: &str) -> Document {
    let now = Utc::now();
    Document {
        id: DocumentId::for_object(t, "raw", key),
        tenant_id: t.clone(),
        title: key.into(),
        source: ObjectRef {
            bucket: "raw".into(),
            key: key.into(),
            etag: etag.into(),
            size: 3,
        },
        content_type: "text/plain".into(),
        status: DocumentStatus::Queued,
        status_reason: None,
        chunk_count: 0,
        parent_id: None,
        aliases: vec![],
        runs: 0,
        stage: None,
        created_at: now,
        updated_at: now,
    }
}

/// Objects round-trip with a stable ETag; odd keys are refused; missing objects
/// are `NotFound`; deletes are idempotent; prefix deletes count.
pub async fn blob_store(blobs: &dyn BlobStore, bucket: &str, other: &str) {
    let put = blobs
        .put(bucket, "a/b/c.txt", b"abc".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!((put.size, put.key.as_str()), (3, "a/b/c.txt"));
    assert!(
        !put.etag.is_empty() && !put.etag.contains('"'),
        "{:?}",
        put.etag
    );
    let head = blobs.head(bucket, "a/b/c.txt").await.unwrap();
    assert_eq!((head.etag.as_str(), head.size), (put.etag.as_str(), 3));
    assert_eq!(blobs.get(bucket, "a/b/c.txt").await.unwrap(), b"abc");
    let same = blobs
        .put(other, "copy.txt", b"abc".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!(same.etag, put.etag, "same bytes, same ETag");
    let changed = blobs
        .put(bucket, "a/b/c.txt", b"abd".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_ne!(changed.etag, put.etag, "new bytes, new ETag");
    // Create-only: the first write of a key lands, a second is a Conflict and
    // changes nothing; of ten racing to create one key, one lands.
    let fresh = blobs
        .put_new(bucket, "a/new.txt", b"first".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!(fresh.size, 5);
    assert!(matches!(
        blobs
            .put_new(bucket, "a/new.txt", b"second".to_vec(), "text/plain")
            .await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(blobs.get(bucket, "a/new.txt").await.unwrap(), b"first");
    let racers = (0..10).map(|i| {
        blobs.put_new(
            bucket,
            "a/raced.txt",
            format!("writer {i}").into_bytes(),
            "text/plain",
        )
    });
    let landed = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| {
            assert!(matches!(r, Ok(_) | Err(PortError::Conflict(_))), "{r:?}");
            r.is_ok()
        })
        .count();
    assert_eq!(landed, 1);
    for bad in ["../escape", "/abs", "a/../../b", "", "a//b", "dir/"] {
        assert!(
            matches!(
                blobs.put(bucket, bad, vec![1], "x").await,
                Err(PortError::Invalid(_))
            ),
            "{bad:?} accepted"
        );
    }
    assert!(matches!(
        blobs.get(bucket, "missing").await,
        Err(PortError::NotFound(_))
    ));
    assert!(matches!(
        blobs.head(bucket, "missing").await,
        Err(PortError::NotFound(_))
    ));
    for k in ["p/x.json", "p/y.json", "p/deep/z.json", "q/keep.json"] {
        blobs
            .put(other, k, b"{}".to_vec(), "application/json")
            .await
            .unwrap();
    }
    assert_eq!(blobs.delete_prefix(other, "p/").await.unwrap(), 3);
    assert!(blobs.head(other, "q/keep.json").await.is_ok());
    blobs.delete(bucket, "a/b/c.txt").await.unwrap();
    blobs.delete(bucket, "a/b/c.txt").await.unwrap();
    assert!(matches!(
        blobs.head(bucket, "a/b/c.txt").await,
        Err(PortError::NotFound(_))
    ));
}

/// Records are tenant-scoped; status changes are conditional; listing pages and filters.
pub async fn metadata_store(store: &dyn MetadataStore) {
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let doc = document(&alice, "alice/a.txt", "e1");
    store.put_document(&doc).await.unwrap();
    assert_eq!(
        store.get_document(&alice, &doc.id).await.unwrap().as_ref(),
        Some(&doc)
    );
    assert!(
        store.get_document(&bob, &doc.id).await.unwrap().is_none(),
        "bob cannot read alice's record"
    );
    assert!(store.find_by_etag(&bob, "e1").await.unwrap().is_none());
    assert_eq!(
        store.find_by_etag(&alice, "e1").await.unwrap().unwrap().id,
        doc.id
    );
    assert!(store.find_by_etag(&alice, "nope").await.unwrap().is_none());

    let to = |to, from: Vec<DocumentStatus>| StatusChange {
        to,
        reason: Some("why".into()),
        chunk_count: Some(2),
        title: None,
        from,
        version: None,
        stage: None,
    };
    // A run of another version of the file changes nothing, whatever the status.
    let stale = store
        .change_status(
            &alice,
            &doc.id,
            &StatusChange {
                version: Some(format!("{}-older", doc.source.etag)),
                ..to(DocumentStatus::Indexed, vec![])
            },
        )
        .await;
    assert!(
        matches!(stale, Err(PortError::Conflict(_))),
        "a run of another version cannot finish this one: {stale:?}"
    );
    // While processing, the stage is kept (extracting, then indexing) and
    // read back; a change that names none keeps it; leaving processing ends it.
    use jarvis_core::domain::Stage;
    for (stage, want) in [
        (Some(Stage::Extracting), Some(Stage::Extracting)),
        (Some(Stage::Indexing), Some(Stage::Indexing)),
        (None, Some(Stage::Indexing)),
    ] {
        store
            .change_status(
                &alice,
                &doc.id,
                &StatusChange {
                    stage,
                    ..to(DocumentStatus::Processing, vec![])
                },
            )
            .await
            .unwrap();
        let read = store.get_document(&alice, &doc.id).await.unwrap().unwrap();
        assert_eq!(read.stage, want);
    }
    let indexed = store
        .change_status(
            &alice,
            &doc.id,
            &StatusChange {
                version: Some(doc.source.etag.clone()),
                ..to(DocumentStatus::Indexed, vec![DocumentStatus::Processing])
            },
        )
        .await
        .unwrap();
    assert_eq!(indexed.stage, None, "an indexed document has no stage");
    assert_eq!(
        (indexed.status, indexed.chunk_count),
        (DocumentStatus::Indexed, 2)
    );
    let late = store
        .change_status(
            &alice,
            &doc.id,
            &to(
                DocumentStatus::Failed,
                vec![DocumentStatus::Queued, DocumentStatus::Processing],
            ),
        )
        .await;
    assert!(
        matches!(late, Err(PortError::Conflict(_))),
        "an out-of-order write cannot move indexed back: {late:?}"
    );
    assert!(matches!(
        store
            .change_status(&bob, &doc.id, &to(DocumentStatus::Failed, vec![]))
            .await,
        Err(PortError::NotFound(_))
    ));
    store
        .add_alias(&alice, &doc.id, "alice/copy.txt")
        .await
        .unwrap();
    store
        .add_alias(&alice, &doc.id, "alice/copy.txt")
        .await
        .unwrap();
    store
        .add_alias(&alice, &doc.id, "alice/a.txt")
        .await
        .unwrap();
    let got = store.get_document(&alice, &doc.id).await.unwrap().unwrap();
    assert_eq!(got.aliases, vec!["alice/copy.txt".to_string()]);
    assert_eq!(
        got.status,
        DocumentStatus::Indexed,
        "aliasing keeps the status"
    );

    for i in 0..5 {
        store
            .put_document(&document(
                &alice,
                &format!("alice/{i}.txt"),
                &format!("x{i}"),
            ))
            .await
            .unwrap();
    }
    store
        .put_document(&document(&bob, "bob/b.txt", "e1"))
        .await
        .unwrap();
    let page = |limit, after| DocumentFilter {
        status: None,
        limit,
        after,
    };
    let first = store.list_documents(&alice, &page(4, None)).await.unwrap();
    let rest = store
        .list_documents(&alice, &page(4, Some(first[3].id.clone())))
        .await
        .unwrap();
    assert_eq!((first.len(), rest.len()), (4, 2));
    let mut all: Vec<_> = first.iter().chain(&rest).map(|d| d.id.clone()).collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "listed in id order");
    all.dedup();
    assert_eq!(all.len(), 6);
    let only_indexed = store
        .list_documents(
            &alice,
            &DocumentFilter {
                status: Some(DocumentStatus::Indexed),
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(only_indexed.len(), 1);
    store.delete_document(&alice, &doc.id).await.unwrap();
    assert!(store.get_document(&alice, &doc.id).await.unwrap().is_none());
    assert!(store
        .get_document(&bob, &DocumentId::for_object(&bob, "raw", "bob/b.txt"))
        .await
        .unwrap()
        .is_some());
}

/// At-least-once delivery: hidden while being handled, back after the
/// visibility timeout with a higher receive count, gone once acknowledged.
pub async fn queue(queue: &dyn Queue) {
    queue.send("one").await.unwrap();
    let got = queue.receive(10, 0).await.unwrap();
    assert_eq!(
        (got.len(), got[0].body.as_str(), got[0].receive_count),
        (1, "one", 1)
    );
    let again = queue.receive(10, 60).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].receive_count, 2,
        "a zero visibility timeout redelivers"
    );
    assert!(
        queue.receive(10, 60).await.unwrap().is_empty(),
        "hidden while being handled"
    );
    queue.ack(&again[0].receipt).await.unwrap();
}

/// A run name starts at most one run.
pub async fn workflows(flows: &dyn WorkflowStarter, name: &str) {
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
        flows.start(name, &state).await.unwrap(),
        StartOutcome::Started
    );
    // A second start of the same name starts nothing. Step Functions answers an
    // identical request for a still-running execution with success (it is
    // idempotent), so either answer is right; the AWS end-to-end test counts the
    // executions to prove there is one.
    let again = flows.start(name, &state).await.unwrap();
    assert!(matches!(
        again,
        StartOutcome::AlreadyExists | StartOutcome::Started
    ));
    let mut changed = state.clone();
    changed.source.etag = "other".into();
    assert_eq!(
        flows.start(name, &changed).await.unwrap(),
        StartOutcome::AlreadyExists,
        "the same name with other input is refused"
    );
}

/// Records: put/get/list/delete per tenant and kind; a tenant's delete takes only
/// its own; the tenants listing names those with records of a kind.
/// `connect` opens another handle on the same store (a connection of its
/// own): the compare-and-set race runs one writer per handle, on threads.
pub async fn record_store(
    store: &dyn jarvis_core::ports::RecordStore,
    connect: &dyn Fn() -> std::sync::Arc<dyn jarvis_core::ports::RecordStore>,
) {
    use jarvis_core::ports::RecordKind;
    use serde_json::json;
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    store
        .put(&alice, RecordKind::Task, "task_2", &json!({"title": "b"}))
        .await
        .unwrap();
    store
        .put(&alice, RecordKind::Task, "task_1", &json!({"title": "a"}))
        .await
        .unwrap();
    store
        .put(&alice, RecordKind::Reminder, "rem_1", &json!({"text": "r"}))
        .await
        .unwrap();
    store
        .put(&bob, RecordKind::Task, "task_1", &json!({"title": "bob's"}))
        .await
        .unwrap();
    assert_eq!(
        store.get(&alice, RecordKind::Task, "task_1").await.unwrap(),
        Some(json!({"title": "a"}))
    );
    assert_eq!(
        store.get(&bob, RecordKind::Task, "task_1").await.unwrap(),
        Some(json!({"title": "bob's"})),
        "the same id in another tenant is another record"
    );
    assert!(
        store
            .get(&alice, RecordKind::Draft, "task_1")
            .await
            .unwrap()
            .is_none(),
        "kinds are apart"
    );
    // Replace, then list in id order.
    store
        .put(&alice, RecordKind::Task, "task_1", &json!({"title": "a2"}))
        .await
        .unwrap();
    assert_eq!(
        store.list(&alice, RecordKind::Task).await.unwrap(),
        vec![json!({"title": "a2"}), json!({"title": "b"})]
    );
    assert!(store
        .delete(&alice, RecordKind::Task, "task_2")
        .await
        .unwrap());
    assert!(
        !store
            .delete(&alice, RecordKind::Task, "task_2")
            .await
            .unwrap(),
        "already gone"
    );
    let mut tenants = store.tenants(RecordKind::Task).await.unwrap();
    tenants.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(tenants, vec![alice.clone(), bob.clone()]);
    store
        .put(
            &alice,
            RecordKind::Erasure,
            "erasure",
            &json!({"state": "running"}),
        )
        .await
        .unwrap();
    assert_eq!(
        store.delete_tenant(&alice).await.unwrap(),
        2,
        "a task and a reminder"
    );
    for kind in RecordKind::ALL {
        assert!(store.list(&alice, kind).await.unwrap().is_empty());
    }
    assert_eq!(
        store.list(&alice, RecordKind::Erasure).await.unwrap(),
        vec![json!({"state": "running"})],
        "the erasure record outlives the erasure"
    );
    assert_eq!(
        store.list(&bob, RecordKind::Task).await.unwrap().len(),
        1,
        "bob's stay"
    );
    record_compare_and_set(store, connect).await;
}

/// Compare-and-set: a create refuses an existing record, a write refuses a
/// version that is not the stored one, every write changes the version, and 20
/// concurrent read-modify-write loops lose none of their increments — each
/// writer on its own connection, spawned on the runtime's threads, and giving
/// way between its read and its write so that the others' writes land in
/// between (with an unconditional write, some of its increments are lost).
async fn record_compare_and_set(
    store: &dyn jarvis_core::ports::RecordStore,
    connect: &dyn Fn() -> std::sync::Arc<dyn jarvis_core::ports::RecordStore>,
) {
    use jarvis_core::ports::RecordKind;
    use serde_json::json;
    let carol = tenant("carol");
    let v1 = store
        .put_if(&carol, RecordKind::Draft, "d1", &json!({"n": 1}), None)
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .put_if(&carol, RecordKind::Draft, "d1", &json!({"n": 9}), None)
                .await,
            Err(PortError::Conflict(_))
        ),
        "a create must not replace an existing record"
    );
    let (body, read) = store
        .get_versioned(&carol, RecordKind::Draft, "d1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((body, &read), (json!({"n": 1}), &v1));
    let v2 = store
        .put_if(&carol, RecordKind::Draft, "d1", &json!({"n": 2}), Some(&v1))
        .await
        .unwrap();
    assert_ne!(v1, v2, "every write changes the version");
    assert!(
        matches!(
            store
                .put_if(&carol, RecordKind::Draft, "d1", &json!({"n": 3}), Some(&v1))
                .await,
            Err(PortError::Conflict(_))
        ),
        "a stale version loses"
    );
    // An unconditional put also moves the version on.
    store
        .put(&carol, RecordKind::Draft, "d1", &json!({"n": 4}))
        .await
        .unwrap();
    assert!(matches!(
        store
            .put_if(&carol, RecordKind::Draft, "d1", &json!({"n": 5}), Some(&v2))
            .await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(
        store.get(&carol, RecordKind::Draft, "d1").await.unwrap(),
        Some(json!({"n": 4}))
    );
    // 20 writers, each adding its own name to one record: none is lost.
    let writers: Vec<_> = (0..20)
        .map(|i| {
            let (carol, store) = (carol.clone(), connect());
            tokio::spawn(async move {
                for _ in 0..jarvis_core::records::UPDATE_ATTEMPTS {
                    let (mut body, v) = store
                        .get_versioned(&carol, RecordKind::Draft, "d1")
                        .await
                        .unwrap()
                        .unwrap();
                    body["writers"]
                        .as_array_mut()
                        .map(|w| w.push(json!(i)))
                        .unwrap_or_else(|| body["writers"] = json!([i]));
                    tokio::task::yield_now().await;
                    match store
                        .put_if(&carol, RecordKind::Draft, "d1", &body, Some(&v))
                        .await
                    {
                        Ok(_) => return,
                        Err(PortError::Conflict(_)) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
                panic!("writer {i} never got through");
            })
        })
        .collect();
    for w in futures_util::future::join_all(writers).await {
        w.expect("a writer panicked");
    }
    let body = store
        .get(&carol, RecordKind::Draft, "d1")
        .await
        .unwrap()
        .unwrap();
    let mut writers: Vec<i64> = body["writers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_i64().unwrap())
        .collect();
    writers.sort();
    assert_eq!(writers, (0..20).collect::<Vec<_>>(), "no write lost");
    store.delete_tenant(&carol).await.unwrap();
}
