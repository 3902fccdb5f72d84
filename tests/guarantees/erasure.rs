//! Erasure against work in flight: a chat turn and a reflection that were
//! running when `DELETE /me/data` came keep nothing of what they make after
//! it; a failed erasure ends `failed`, holds nothing back, and runs again.

use super::*;
use jarvis_core::domain::{Erasure, ErasureState, Memory};
use jarvis_core::ports::{BlobStore, Embedder, RecordKind, SearchIndex};

/// Every record the tenant has, of every kind (the erasure's own receipt aside).
/// The tenant's erasure ended `failed`, its reason saying `why`.
async fn ends_failed(records: &dyn RecordStore, who: &TenantId, why: &str) {
    let failed: Erasure = records::get(records, who, Erasure::ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.state, ErasureState::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains(why)),
        "{failed:?}"
    );
}

async fn everything_of(records: &dyn RecordStore, who: &TenantId) -> Vec<(RecordKind, Value)> {
    let mut all = Vec::new();
    for kind in RecordKind::ALL {
        for r in records.list(who, kind).await.unwrap() {
            all.push((kind, r));
        }
    }
    all
}

/// A model that, while the turn runs, sees the tenant's erasure asked for
/// (before its first answer) and carried out (before its second): neither
/// task it asks for may be stored, nor the turn.
struct ErasedMidTurn {
    erase: erase_tenant::Deps,
    tenant: TenantId,
    calls: std::sync::atomic::AtomicUsize,
    /// Every part of the test reads this clock; each model call moves it on.
    clock: ManualClock,
}

#[async_trait::async_trait]
impl ChatModel for ErasedMidTurn {
    async fn converse(&self, _: &ChatRequest) -> PortResult<ChatResponse> {
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.clock.advance(Duration::seconds(1));
        let store = self.erase.records.as_ref();
        let task = |n: usize| json!({"toolUse": {"toolUseId": format!("t{n}"), "name": "create_task", "input": {"title": format!("call Ana ({n})")}}});
        let (stop, content) = match call {
            0 => {
                // DELETE /me/data: the record says running, the job has not run yet.
                records::put(
                    store,
                    &erase_tenant::requested(&self.tenant, self.erase.clock.now()),
                )
                .await?;
                ("tool_use", task(0))
            }
            1 => {
                // The job runs to its end: what the turn asks for now arrives after it.
                erase_tenant::handle(
                    &self.erase,
                    erase_tenant::Job {
                        tenant_id: self.tenant.clone(),
                    },
                )
                .await
                .map_err(|e| PortError::Invalid(e.to_string()))?;
                ("tool_use", task(1))
            }
            _ => (
                "end_turn",
                json!({"text": "Added them, and I will remember you like Lisbon."}),
            ),
        };
        Ok(ChatResponse {
            stop_reason: stop.into(),
            message: ChatMessage {
                role: "assistant".into(),
                content: vec![content],
            },
        })
    }
}

struct TaskTools(tool_tasks::Deps);

#[async_trait::async_trait]
impl ToolRunner for TaskTools {
    async fn call(&self, call: &ToolCall) -> PortResult<ToolReply> {
        tool_tasks::call(&self.0, call.clone()).await
    }
}

#[tokio::test]
async fn an_erasure_during_a_chat_turn_keeps_nothing_the_turn_makes() {
    let (local, _runs, _dir) = local_stack();
    let alice = tenant("alice");
    // One clock for the turn, the tools and the erasure, moving on as the
    // turn goes: the tasks are asked for after the erasure was.
    let clock = ManualClock::at(now());
    let tools = TaskTools(tool_tasks::Deps {
        records: local.records.clone(),
        clock: Arc::new(clock.clone()),
        zone: jarvis_core::when::Zone::UTC,
    });
    let model = ErasedMidTurn {
        erase: erase_tenant::Deps {
            clock: Arc::new(clock.clone()),
            ..erase_tenant::Deps::local(&local)
        },
        tenant: alice.clone(),
        calls: Default::default(),
        clock: clock.clone(),
    };
    let records = local.records.clone() as Arc<dyn RecordStore>;
    let agent = agent(&model, &tools, &Nothing, records.as_ref(), &clock);
    let out = agent
        .turn(
            &alice,
            &said("add a task to call Ana", None, Some("turn-erased".into())),
            &|_| {},
        )
        .await;
    assert!(
        matches!(out, Err(jarvis_core::agent::AgentError::Erasing)),
        "{out:?}"
    );
    assert_eq!(
        everything_of(records.as_ref(), &alice).await,
        [],
        "no conversation, task or remembered answer outlives the erasure"
    );
    let receipt: Erasure = records::get(records.as_ref(), &alice, Erasure::ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.state, ErasureState::Done);
    // While an erasure runs, a turn does not start at all.
    records::put(records.as_ref(), &erase_tenant::requested(&alice, now()))
        .await
        .unwrap();
    let refused = agent
        .turn(&alice, &said("hello", None, None), &|_| {})
        .await;
    assert!(
        matches!(refused, Err(jarvis_core::agent::AgentError::Erasing)),
        "{refused:?}"
    );
}

/// An embedder during whose work the tenant's data is erased.
struct ErasedWhileEmbedding {
    inner: Arc<dyn Embedder>,
    erase: erase_tenant::Deps,
    tenant: TenantId,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Embedder for ErasedWhileEmbedding {
    async fn embed(&self, texts: &[String]) -> PortResult<Vec<Vec<f32>>> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            erase_tenant::handle(
                &self.erase,
                erase_tenant::Job {
                    tenant_id: self.tenant.clone(),
                },
            )
            .await
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        }
        self.inner.embed(texts).await
    }
    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
}

#[tokio::test]
async fn an_erasure_during_reflection_keeps_no_memory() {
    let (local, _runs, _dir) = local_stack();
    let alice = tenant("alice");
    let conv = Conversation {
        id: "conv_reflect1".into(),
        tenant_id: alice.clone(),
        turns: vec![jarvis_core::domain::Turn {
            role: jarvis_core::domain::Role::User,
            text: "I live in Lisbon and I love the sea.".into(),
            at: now(),
            citations: Vec::new(),
            turn_id: None,
            actions: Vec::new(),
            shown: None,
        }],
        updated_at: now(),
        pending: None,
        reflected_at: None,
    };
    records::put(local.records.as_ref(), &conv).await.unwrap();
    let deps = memory_reflector::Deps {
        embedder: Arc::new(ErasedWhileEmbedding {
            inner: local.embedder.clone(),
            erase: erase_tenant::Deps::local(&local),
            tenant: alice.clone(),
            armed: true.into(),
        }),
        ..memory_reflector::Deps::local(&local, None)
    };
    memory_reflector::handle(
        &deps,
        memory_reflector::Reflect {
            tenant_id: Some(alice.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(everything_of(local.records.as_ref(), &alice).await, []);
    let memories: Vec<Memory> = records::list(local.records.as_ref(), &alice).await.unwrap();
    assert!(memories.is_empty());
    let hits = local
        .index
        .search(&jarvis_core::search::SearchQuery {
            tenant_id: alice.clone(),
            text: "Lisbon sea".into(),
            vector: None,
            filters: Default::default(),
            limit: 10,
            mode: jarvis_core::search::SearchMode::Keyword,
            fusion: Default::default(),
        })
        .await
        .unwrap();
    assert!(hits.is_empty(), "{hits:?}");
}

/// A search index whose tenant-wide delete fails, as an unreachable
/// OpenSearch would.
struct Unreachable(Arc<dyn jarvis_core::ports::SearchIndex>);

#[async_trait::async_trait]
impl jarvis_core::ports::SearchIndex for Unreachable {
    async fn replace_document(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::DocumentId,
        chunks: Vec<jarvis_core::ports::IndexedChunk>,
    ) -> PortResult<()> {
        self.0.replace_document(tenant, id, chunks).await
    }
    async fn delete_document(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::DocumentId,
    ) -> PortResult<()> {
        self.0.delete_document(tenant, id).await
    }
    async fn delete_tenant(&self, _: &TenantId) -> PortResult<()> {
        Err(PortError::Transient {
            backend: "opensearch",
            message: "connection refused".into(),
            source: None,
        })
    }
    async fn search(&self, q: &jarvis_core::search::SearchQuery) -> PortResult<Vec<SearchHit>> {
        self.0.search(q).await
    }
}

#[tokio::test]
async fn a_failed_erasure_ends_failed_with_its_reason_holds_nothing_back_and_runs_again() {
    let (local, _runs, _dir) = local_stack();
    let alice = tenant("alice");
    let broken = erase_tenant::Deps {
        index: Arc::new(Unreachable(local.index.clone())),
        ..erase_tenant::Deps::local(&local)
    };
    let job = || erase_tenant::Job {
        tenant_id: alice.clone(),
    };
    assert!(erase_tenant::handle(&broken, job()).await.is_err());
    ends_failed(local.records.as_ref(), &alice, "connection refused").await;
    // Nothing is held back while it is failed: an upload is routed, not purged.
    assert!(!records::erasing(local.records.as_ref(), &alice)
        .await
        .unwrap());
    // And it runs again, to the end.
    let done = erase_tenant::handle(&erase_tenant::Deps::local(&local), job())
        .await
        .unwrap();
    assert_eq!(done.state, ErasureState::Done);
    assert_eq!(done.last_error, None);
}

/// Transcription jobs as AWS keeps them: a running job cannot be deleted
/// (BadRequestException, "a non-terminal state"; moto deletes it anyway), and
/// when it ends it writes its transcript under the tenant's curated prefix.
struct Transcriptions {
    blobs: Arc<dyn jarvis_core::ports::BlobStore>,
    tenant: TenantId,
    /// Polls left before the running job ends (`None`: it never does).
    ends_after: std::sync::Mutex<Option<usize>>,
    finished: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl jarvis_core::ports::TranscriptionJobs for Transcriptions {
    async fn forget_tenant(&self, _: &TenantId) -> PortResult<jarvis_core::ports::Forgotten> {
        let ended = {
            let mut left = self.ends_after.lock().unwrap();
            match left.as_mut() {
                Some(0) => true,
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => false,
            }
        };
        if ended
            && !self
                .finished
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            // It ends now, after the sweep: its transcript lands.
            self.blobs
                .put(
                    jarvis_local::stack::CURATED_BUCKET,
                    &format!("{}/transcripts/memo.json", self.tenant),
                    b"{\"transcript\": \"call Ana\"}".to_vec(),
                    "application/json",
                )
                .await?;
            return Ok(jarvis_core::ports::Forgotten {
                deleted: 0,
                running: 0,
            });
        }
        Ok(jarvis_core::ports::Forgotten {
            deleted: usize::from(ended),
            running: usize::from(!ended),
        })
    }
    async fn forget_unowned(&self) -> PortResult<usize> {
        Ok(0)
    }
}

#[tokio::test]
async fn a_transcription_that_ends_after_the_sweep_leaves_nothing_and_one_that_never_ends_fails_the_erasure(
) {
    let (local, _runs, _dir) = local_stack();
    let alice = tenant("alice");
    let transcript = format!("{alice}/transcripts/memo.json");
    let jobs = |ends_after| {
        Arc::new(Transcriptions {
            blobs: local.blobs.clone(),
            tenant: alice.clone(),
            ends_after: std::sync::Mutex::new(ends_after),
            finished: false.into(),
        })
    };
    let deps = |jobs: Arc<Transcriptions>| erase_tenant::Deps {
        transcriptions: Some(jobs),
        transcription_wait: std::time::Duration::from_millis(500),
        ..erase_tenant::Deps::local(&local)
    };
    let job = || erase_tenant::Job {
        tenant_id: alice.clone(),
    };
    // Ends after three polls: the erasure waits, and sweeps what it wrote.
    let done = erase_tenant::handle(&deps(jobs(Some(3))), job())
        .await
        .unwrap();
    assert_eq!(done.state, ErasureState::Done);
    assert!(
        local
            .blobs
            .head(jarvis_local::stack::CURATED_BUCKET, &transcript)
            .await
            .is_err(),
        "the late transcript is gone"
    );
    // Never ends: the erasure (asked for again) ends failed, saying why.
    records::put(
        local.records.as_ref(),
        &erase_tenant::requested(&alice, now()),
    )
    .await
    .unwrap();
    let never = erase_tenant::handle(&deps(jobs(None)), job()).await;
    assert!(never.is_err());
    ends_failed(
        local.records.as_ref(),
        &alice,
        "transcription jobs were still running",
    )
    .await;
}
