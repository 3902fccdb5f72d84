//! The pipeline and the adapters without a local twin, on the emulator.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{Duration, Utc};
use jarvis_aws::iam::Bucket;
use jarvis_aws::signed::STEP_FUNCTIONS;
use jarvis_aws::{BlobAccess, Rows};
use jarvis_core::domain::{DocumentStatus, Reminder, ReminderSchedule, TenantId};
use jarvis_core::ingest_event::object_created_body;
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{
    BlobStore, Mailer, MetadataStore, Notification, Notifier, OutgoingEmail, PiiDetector, Queue,
    QueueMessage, Scheduler, SearchIndex, SendError, Transcriber,
};
use jarvis_core::{PortError, StepError};
use jarvis_local::index::LocalSearchIndex;
use jarvis_local::testing::HashingEmbedder;
use jarvis_tests::emulator::{self, fresh_stack, ACCOUNT, REGION};
use jarvis_tests::wire::{aws_json_error, FaultProxy};
use serde_json::{json, Value};
use std::sync::Arc;

const TRIP: &str = "# Trip plan\n\n## Lisbon\n\nWe land in Lisbon on 12 May and stay near the castle.\n\n## Porto\n\nThe train to Porto leaves at 09:00 on 15 May.\n";

fn alice() -> TenantId {
    TenantId::parse("alice").unwrap()
}

fn sqs_event(messages: &[QueueMessage], queue_arn: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    for m in messages {
        let mut record = SqsMessage::default();
        record.message_id = Some(m.id.clone());
        record.receipt_handle = Some(m.receipt.clone());
        record.body = Some(m.body.clone());
        record.event_source = Some("aws:sqs".into());
        record.event_source_arn = Some(queue_arn.into());
        record.aws_region = Some(REGION.into());
        event.records.push(record);
    }
    event
}

#[tokio::test]
async fn an_object_put_in_the_raw_bucket_starts_one_run_even_when_redelivered_and_ends_indexed_in_dynamodb(
) {
    let (stack, r) = fresh_stack().await;
    let put = emulator::any_blobs(&stack)
        .put(
            &r.raw_bucket,
            "alice/notes/trip.md",
            TRIP.into(),
            "text/markdown",
        )
        .await
        .unwrap();
    // EventBridge turns the S3 event into an SQS message; the queue delivers it twice.
    let queue = stack.ingest_queue().unwrap();
    queue
        .send(&object_created_body(
            &r.raw_bucket,
            &put.key,
            &put.etag,
            put.size,
            Utc::now(),
        ))
        .await
        .unwrap();
    let first = queue.receive(10, 0).await.unwrap();
    let second = queue.receive(10, 0).await.unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_eq!(second[0].receive_count, 2);
    let router = pipeline_router::Deps::aws(&stack).unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:ingest");
    for delivery in [&first, &second] {
        let resp = pipeline_router::handle(&router, sqs_event(delivery, &queue_arn)).await;
        assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    }

    let runs = executions(&stack, &r).await;
    assert_eq!(runs.len(), 1, "one run for one object version");
    let run = &runs[0];
    assert!(run["name"].as_str().unwrap().starts_with("ingest-"));
    let input = describe_execution(&stack, run["executionArn"].as_str().unwrap()).await["input"]
        .as_str()
        .unwrap()
        .to_owned();
    let state: PipelineState = serde_json::from_str(&input).unwrap();
    let metadata = stack.metadata(Rows::All).unwrap();
    let queued = metadata
        .get_document(&alice(), &state.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.status, DocumentStatus::Queued);

    let dir = tempfile::tempdir().unwrap();
    let state = run_steps(&stack, &local_index(&dir), state).await;

    let doc = metadata
        .get_document(&alice(), &state.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        doc.status,
        DocumentStatus::Indexed,
        "{:?}",
        doc.status_reason
    );
    assert!(
        doc.chunk_count >= 2,
        "two sections, {} chunks",
        doc.chunk_count
    );
    // And as DynamoDB holds it: the item's own status attribute.
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&r.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("TENANT#alice".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("DOC#{}", doc.id)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(item.item().unwrap()["status"].as_s().unwrap(), "indexed");
    // The curated artifacts are in the curated bucket, under the tenant.
    let curated = state.chunks.unwrap();
    assert_eq!(curated.bucket, r.curated_bucket);
    assert!(curated.key.starts_with("alice/"), "{}", curated.key);
}

#[tokio::test]
async fn sns_publishes_with_the_tenant_as_a_message_attribute() {
    let (stack, _) = fresh_stack().await;
    let sdk = &stack.sdk;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let name = emulator::unique("inbox");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    aws_sdk_sns::Client::new(sdk)
        .subscribe()
        .topic_arn(stack.settings.reminder_topic_arn.clone().unwrap())
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"))
        .send()
        .await
        .unwrap();
    stack
        .notifier()
        .unwrap()
        .notify(&Notification {
            tenant_id: alice(),
            subject: "Reminder: call Ana\n☎".into(),
            body: "Call Ana about the boiler.".into(),
            attributes: vec![("reminder_id".into(), "r1".into())],
        })
        .await
        .unwrap();
    let got = sqs.receive_message().queue_url(&url).send().await.unwrap();
    let envelope: serde_json::Value =
        serde_json::from_str(got.messages()[0].body().unwrap()).unwrap();
    assert_eq!(envelope["Message"], "Call Ana about the boiler.");
    assert_eq!(envelope["Subject"], "Reminder: call Ana");
    assert_eq!(envelope["MessageAttributes"]["tenant_id"]["Value"], "alice");
    assert_eq!(envelope["MessageAttributes"]["reminder_id"]["Value"], "r1");
}

#[tokio::test]
async fn ses_sends_from_a_verified_identity_and_refuses_bad_requests() {
    let (stack, _) = fresh_stack().await;
    let mailer = stack.mailer().unwrap();
    let email = OutgoingEmail {
        tenant_id: TenantId::parse("alice.v2").unwrap(),
        to: vec!["ana@example.com".into()],
        subject: "Boiler".into(),
        body_text: "The plumber comes on Monday.".into(),
    };
    let unverified = mailer.send(&email).await;
    assert!(
        matches!(unverified, Err(SendError::NotSent(PortError::Invalid(ref m))) if m.contains("MessageRejected")),
        "{unverified:?}"
    );
    create_email_identity(&stack, "jarvis@example.com").await;
    let id = mailer.send(&email).await.unwrap();
    assert!(!id.is_empty());
    let nobody = OutgoingEmail {
        to: vec![],
        ..email
    };
    assert!(matches!(
        mailer.send(&nobody).await,
        Err(SendError::NotSent(PortError::Invalid(_)))
    ));
}

/// A verified sender on the emulator (SESv2 `CreateEmailIdentity`).
async fn create_email_identity(stack: &jarvis_aws::AwsStack, address: &str) {
    emulator::rest(
        &stack.sdk,
        &jarvis_aws::signed::SES,
        "CreateEmailIdentity",
        "/v2/email/identities",
        json!({"EmailIdentity": address}),
    )
    .await;
}

/// SES SendEmail is not idempotent: one call is one attempt (retries are off
/// for its client), and an answer that never came is an unknown outcome, not
/// a failure to retry. The AWS rule: a 5xx or a timeout may come after SES
/// accepted the mail; moto never answers so, so the proxy does.
#[tokio::test]
async fn ses_send_email_is_tried_once_and_a_lost_answer_is_an_unknown_outcome() {
    let (stack, proxy) = stack_behind_proxy(4).await;
    // A sender of its own: the emulator's identities are shared by the run.
    let from = format!("{}@example.org", emulator::unique("sender"));
    create_email_identity(&stack, &from).await;
    let mailer = jarvis_aws::ses::SesMailer::from_sdk(&stack.sdk, &from);
    let email = OutgoingEmail {
        tenant_id: alice(),
        to: vec!["ana@example.com".into()],
        subject: "Boiler".into(),
        body_text: "Monday.".into(),
    };
    const SEND: &str = "/v2/email/outbound-emails";
    proxy.fail(SEND, 2, aws_json_error(500, "InternalFailure", "try again"));
    let lost = mailer.send(&email).await;
    assert!(matches!(lost, Err(SendError::Unknown(_))), "{lost:?}");
    assert_eq!(proxy.pending(), 1, "one attempt, not the configured four");
    let lost = mailer.send(&email).await;
    assert!(matches!(lost, Err(SendError::Unknown(_))), "{lost:?}");
    assert_eq!(proxy.pending(), 0);
    // Throttled: SES did not take it, and says so.
    proxy.fail(
        SEND,
        1,
        aws_json_error(400, "TooManyRequestsException", "slow down"),
    );
    let throttled = mailer.send(&email).await;
    assert!(
        matches!(throttled, Err(SendError::NotSent(_))),
        "{throttled:?}"
    );
    mailer
        .send(&email)
        .await
        .expect("sent once the faults are gone");
    // Every other client keeps its retries.
    proxy.fail(
        "PutItem",
        1,
        aws_json_error(503, "ServiceUnavailable", "later"),
    );
    stack
        .metadata(Rows::All)
        .unwrap()
        .put_document(&jarvis_tests::contract::document(
            &alice(),
            "alice/s.txt",
            "e9",
        ))
        .await
        .expect("retried");
}

/// The steps before `index`, in the state machine's order for Markdown,
/// through `last`. Bedrock has no emulator: embed uses a feature-hashing
/// model; everything else is the AWS adapters.
async fn prepare(
    stack: &jarvis_aws::AwsStack,
    mut state: PipelineState,
    last: &str,
) -> PipelineState {
    state = extract_document::handle(&extract_document::Deps::aws(stack).unwrap(), state)
        .await
        .unwrap();
    // moto has no DetectDominantLanguage/DetectEntities: insights are tested on recorded exchanges.
    let pii_deps = detect_pii::Deps {
        insights: false,
        ..detect_pii::Deps::aws(stack).unwrap()
    };
    state = detect_pii::handle(&pii_deps, state).await.unwrap();
    state = chunk::handle(&chunk::Deps::aws(stack).unwrap(), state)
        .await
        .unwrap();
    if last == "chunk" {
        return state;
    }
    embed(stack, state).await
}

/// embed on the AWS adapters, with a feature-hashing model for Bedrock.
fn embed_deps(stack: &jarvis_aws::AwsStack) -> embed::Deps {
    embed::Deps {
        embedder: Arc::new(HashingEmbedder { dims: 64 }),
        ..embed::Deps::aws(stack).unwrap()
    }
}

async fn embed(stack: &jarvis_aws::AwsStack, state: PipelineState) -> PipelineState {
    embed::handle(&embed_deps(stack), state).await.unwrap()
}

/// OpenSearch has no emulator: the local index (in `dir`) stands in for it.
fn local_index(dir: &tempfile::TempDir) -> Arc<dyn SearchIndex> {
    let db = jarvis_local::Db::open(&dir.path().join("i.sqlite3")).unwrap();
    Arc::new(LocalSearchIndex::open(&dir.path().join("index"), db, 64).unwrap())
}

async fn index_step(
    stack: &jarvis_aws::AwsStack,
    index: &Arc<dyn SearchIndex>,
    state: PipelineState,
) -> Result<PipelineState, StepError> {
    let index_deps = index::Deps {
        blobs: stack
            .blobs(BlobAccess::new().read(Bucket::Curated))
            .unwrap(),
        metadata: stack.metadata(Rows::All).unwrap(),
        index: index.clone(),
    };
    index::handle(&index_deps, state).await
}

/// Every step, in the state machine's order for Markdown.
async fn run_steps(
    stack: &jarvis_aws::AwsStack,
    index: &Arc<dyn SearchIndex>,
    state: PipelineState,
) -> PipelineState {
    let state = prepare(stack, state, "embed").await;
    index_step(stack, index, state).await.unwrap()
}

/// Puts `bytes` at `key` and routes its `Object Created` event; answers the
/// input of the run it started (the newest execution), or `None` when none started.
async fn drop_file(
    stack: &jarvis_aws::AwsStack,
    r: &emulator::Resources,
    key: &str,
    bytes: &str,
) -> Option<(String, PipelineState)> {
    let put = emulator::any_blobs(stack)
        .put(&r.raw_bucket, key, bytes.into(), "text/markdown")
        .await
        .unwrap();
    let before = executions(stack, r).await.len();
    let body = object_created_body(&r.raw_bucket, &put.key, &put.etag, put.size, Utc::now());
    let message = QueueMessage {
        id: emulator::unique("m"),
        receipt: emulator::unique("r"),
        body,
        receive_count: 1,
    };
    let router = pipeline_router::Deps::aws(stack).unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:ingest");
    let resp = pipeline_router::handle(&router, sqs_event(&[message], &queue_arn)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let runs = executions(stack, r).await;
    if runs.len() == before {
        return None;
    }
    // startDate: epoch seconds with a fraction (awsJson timestamps).
    let newest = runs
        .iter()
        .max_by(|a, b| {
            let at = |e: &Value| e["startDate"].as_f64().unwrap();
            at(a).total_cmp(&at(b))
        })
        .unwrap();
    let input = describe_execution(stack, newest["executionArn"].as_str().unwrap()).await["input"]
        .as_str()
        .unwrap()
        .to_owned();
    Some((
        newest["name"].as_str().unwrap().to_owned(),
        serde_json::from_str(&input).unwrap(),
    ))
}

/// The state machine's runs, as Step Functions lists them.
async fn executions(stack: &jarvis_aws::AwsStack, r: &emulator::Resources) -> Vec<Value> {
    let out = emulator::call(
        &stack.sdk,
        &STEP_FUNCTIONS,
        "ListExecutions",
        json!({"stateMachineArn": r.state_machine_arn}),
    )
    .await;
    out["executions"].as_array().cloned().unwrap_or_default()
}

/// One run, described (its `input` and `status`).
async fn describe_execution(stack: &jarvis_aws::AwsStack, arn: &str) -> Value {
    emulator::call(
        &stack.sdk,
        &STEP_FUNCTIONS,
        "DescribeExecution",
        json!({"executionArn": arn}),
    )
    .await
}

/// Ends the run named `name`. Here the steps run by hand, so moto's execution
/// stays RUNNING; on AWS it closed when its last state (Succeed, or Fail after
/// mark-failed) did, and a closed run's name cannot start another.
async fn end_run(stack: &jarvis_aws::AwsStack, r: &emulator::Resources, name: &str) {
    let arn = format!(
        "{}:{name}",
        r.state_machine_arn
            .replacen(":stateMachine:", ":execution:", 1)
    );
    emulator::call(
        &stack.sdk,
        &STEP_FUNCTIONS,
        "StopExecution",
        json!({"executionArn": arn}),
    )
    .await;
}

/// AWS rule (moto does not check it): an execution name has at most 80
/// characters of `[0-9A-Za-z_-]`. A re-drop after a failure, and a file edited
/// back to bytes it held before, each need a second run of a version that ran
/// already: both start one with a valid name and end `indexed`.
#[tokio::test]
async fn a_redrop_after_failure_and_an_edit_back_each_run_again_and_end_indexed() {
    let (stack, r) = fresh_stack().await;
    let metadata = stack.metadata(Rows::All).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = local_index(&dir);
    let key = "alice/notes/trip.md";
    let status = |state: &PipelineState| {
        let (metadata, state) = (metadata.clone(), state.clone());
        async move {
            metadata
                .get_document(&state.tenant_id, &state.document_id)
                .await
                .unwrap()
                .unwrap()
                .status
        }
    };
    let valid = |name: &str| {
        assert!(
            jarvis_core::pipeline::check_execution_name(name).is_ok() && name.len() <= 80,
            "{name} ({} characters)",
            name.len()
        )
    };

    // v1 runs and fails (the state machine's Catch runs mark-failed).
    let (name, v1) = drop_file(&stack, &r, key, TRIP).await.expect("a run");
    valid(&name);
    let failed = jarvis_core::pipeline::FailedState {
        state: v1.clone(),
        error: jarvis_core::pipeline::StepFailure {
            error: "Jarvis.Transient".into(),
            cause: "{\"errorMessage\":\"the model was throttled\"}".into(),
        },
    };
    let other = tempfile::tempdir().unwrap();
    let db = jarvis_local::Db::open(&other.path().join("i.sqlite3")).unwrap();
    let mark_failed_deps = mark_failed::Deps {
        blobs: emulator::any_blobs(&stack),
        curated_bucket: r.curated_bucket.clone(),
        metadata: metadata.clone(),
        index: Arc::new(LocalSearchIndex::open(&other.path().join("index"), db, 64).unwrap()),
    };
    mark_failed::handle(&mark_failed_deps, failed)
        .await
        .unwrap();
    end_run(&stack, &r, &name).await;
    assert_eq!(status(&v1).await, DocumentStatus::Failed);
    // The same bytes dropped again: a second run, with a valid name, to `indexed`.
    let (again, retry) = drop_file(&stack, &r, key, TRIP).await.expect("a rerun");
    valid(&again);
    assert_ne!(again, name);
    assert_eq!(status(&retry).await, DocumentStatus::Queued);
    let done = run_steps(&stack, &index, retry).await;
    end_run(&stack, &r, &again).await;
    assert_eq!(status(&done).await, DocumentStatus::Indexed);

    // v2, then back to v1's bytes: v1's name ran already, so a rerun starts.
    let v2_text = format!("{TRIP}\n## Braga\n\nA day trip by train.\n");
    let (v2_name, v2) = drop_file(&stack, &r, key, &v2_text)
        .await
        .expect("a v2 run");
    valid(&v2_name);
    run_steps(&stack, &index, v2).await;
    end_run(&stack, &r, &v2_name).await;
    let (back, v1_again) = drop_file(&stack, &r, key, TRIP)
        .await
        .expect("a run of v1 again");
    valid(&back);
    assert!(back.starts_with(&name), "{back} reruns {name}");
    let done = run_steps(&stack, &index, v1_again).await;
    assert_eq!(status(&done).await, DocumentStatus::Indexed);
}

const PLAN_V1: &str = "# Plan\n\n## Day one\n\nA walk up to Sintra and its palace.\n";
const PLAN_V2: &str =
    "# Plan\n\n## Day one\n\nA train north to Braga.\n\n## Day two\n\nThe Douro valley by boat.\n";

/// Chunk texts in the index for `word`, by keyword search.
async fn found(index: &Arc<dyn SearchIndex>, word: &str) -> Vec<String> {
    let q = jarvis_core::search::SearchQuery {
        tenant_id: alice(),
        text: word.into(),
        vector: None,
        filters: Default::default(),
        limit: 10,
        mode: jarvis_core::search::SearchMode::Keyword,
        fusion: Default::default(),
    };
    index
        .search(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.text)
        .collect()
}

/// A file edited while its first version is still in the pipeline: each run
/// reads and writes its own version's files, the old run can neither finish
/// nor fail the document, and only the new version ends up in the index.
#[tokio::test]
async fn two_versions_in_flight_at_once_never_mix_and_the_newer_wins() {
    let (stack, r) = fresh_stack().await;
    let metadata = stack.metadata(Rows::All).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = local_index(&dir);
    let key = "alice/notes/plan.md";
    let (v1_name, v1) = drop_file(&stack, &r, key, PLAN_V1).await.expect("a v1 run");
    let v1 = prepare(&stack, v1, "chunk").await;
    // The user saves again: v2 starts while v1 is between chunk and embed.
    let (_, v2) = drop_file(&stack, &r, key, PLAN_V2).await.expect("a v2 run");
    assert_eq!(v1.document_id, v2.document_id);
    let v2 = prepare(&stack, v2, "chunk").await;
    let (c1, c2) = (v1.chunks.clone().unwrap(), v2.chunks.clone().unwrap());
    assert_ne!(c1.key, c2.key, "each version has its own files");
    let blobs = emulator::any_blobs(&stack);
    // v2's arrival removed v1's files: v1's embed cannot read anything of v2's
    // (or its own), and fails for good, into its Catch.
    assert!(matches!(
        blobs.head(&r.curated_bucket, &c1.key).await,
        Err(PortError::NotFound(_))
    ));
    let stuck = embed::handle(&embed_deps(&stack), v1.clone()).await;
    assert!(matches!(&stuck, Err(e) if !e.is_retryable()), "{stuck:?}");
    // And a v1 run that got as far as index indexes nothing, and says why.
    let late = index_step(&stack, &index, v1.clone()).await;
    assert!(
        matches!(&late, Err(StepError::Rejected(m)) if m.contains("newer version")),
        "{late:?}"
    );
    assert!(found(&index, "Sintra").await.is_empty());
    // Its Catch runs mark-failed: the document is v2's, so nothing is marked,
    // and v1's own files go — here one a v1 step was still writing when v2
    // arrived.
    blobs
        .put(
            &r.curated_bucket,
            &c1.key,
            b"[]".to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    let failed = jarvis_core::pipeline::FailedState {
        state: v1.clone(),
        error: jarvis_core::pipeline::StepFailure {
            error: "Jarvis.Rejected".into(),
            cause: format!("{{\"errorMessage\":{:?}}}", late.unwrap_err().to_string()),
        },
    };
    let mark_failed_deps = mark_failed::Deps {
        blobs: blobs.clone(),
        curated_bucket: r.curated_bucket.clone(),
        metadata: metadata.clone(),
        index: index.clone(),
    };
    mark_failed::handle(&mark_failed_deps, failed)
        .await
        .unwrap();
    end_run(&stack, &r, &v1_name).await;
    let doc = metadata
        .get_document(&alice(), &v1.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (doc.status, doc.source.etag != v1.source.etag),
        (DocumentStatus::Processing, true),
        "v2's run is still at work: not failed by v1"
    );
    assert!(matches!(
        blobs.head(&r.curated_bucket, &c1.key).await,
        Err(PortError::NotFound(_))
    ));

    let v2 = embed(&stack, v2).await;
    let done = index_step(&stack, &index, v2).await.unwrap();
    let doc = metadata
        .get_document(&alice(), &done.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.status, DocumentStatus::Indexed);
    assert_eq!(doc.chunk_count, done.chunk_count.unwrap());
    assert_eq!(found(&index, "Braga").await.len(), 1);
    assert!(found(&index, "Sintra").await.is_empty());
}

/// A search index that runs `hook` just before its first replace: the moment
/// between the index step's version check and its write.
struct BeforeFirstReplace {
    inner: Arc<dyn SearchIndex>,
    hook:
        tokio::sync::Mutex<Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>>,
}

#[async_trait::async_trait]
impl SearchIndex for BeforeFirstReplace {
    async fn replace_document(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::domain::DocumentId,
        chunks: Vec<jarvis_core::ports::IndexedChunk>,
    ) -> jarvis_core::ports::PortResult<()> {
        if let Some(hook) = self.hook.lock().await.take() {
            hook.await;
        }
        self.inner.replace_document(tenant, id, chunks).await
    }
    async fn delete_document(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::domain::DocumentId,
    ) -> jarvis_core::ports::PortResult<()> {
        self.inner.delete_document(tenant, id).await
    }
    async fn delete_tenant(&self, tenant: &TenantId) -> jarvis_core::ports::PortResult<()> {
        self.inner.delete_tenant(tenant).await
    }
    async fn search(
        &self,
        q: &jarvis_core::search::SearchQuery,
    ) -> jarvis_core::ports::PortResult<Vec<jarvis_core::search::SearchHit>> {
        self.inner.search(q).await
    }
}

/// The worst moment: v2 arrives and is indexed completely after v1's run
/// checked its version but before v1's chunks went in, so v1 overwrites them.
/// v1's status change then fails on the version, and v1 puts v2's chunks back.
#[tokio::test]
async fn an_old_run_that_overwrites_a_newer_version_puts_the_newer_one_back() {
    let (stack, r) = fresh_stack().await;
    let metadata = stack.metadata(Rows::All).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inner = local_index(&dir);
    let key = "alice/notes/plan.md";
    let (_, v1) = drop_file(&stack, &r, key, PLAN_V1).await.expect("a v1 run");
    let v1 = prepare(&stack, v1, "embed").await;
    let (stack2, r2, inner2) = (stack.clone(), r.clone(), inner.clone());
    let racing = BeforeFirstReplace {
        inner: inner.clone(),
        hook: tokio::sync::Mutex::new(Some(Box::pin(async move {
            let (_, v2) = drop_file(&stack2, &r2, key, PLAN_V2)
                .await
                .expect("a v2 run");
            run_steps(&stack2, &inner2, v2).await;
        }))),
    };
    let racing: Arc<dyn SearchIndex> = Arc::new(racing);
    let late = index_step(&stack, &racing, v1.clone()).await;
    assert!(
        matches!(&late, Err(StepError::Rejected(m)) if m.contains("newer version")),
        "{late:?}"
    );
    let doc = metadata
        .get_document(&alice(), &v1.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.status, DocumentStatus::Indexed, "v2's run finished it");
    assert_ne!(doc.source.etag, v1.source.etag);
    assert_eq!(
        found(&inner, "Braga").await.len(),
        1,
        "v2's chunks are back"
    );
    assert!(found(&inner, "Sintra").await.is_empty(), "v1's are gone");
    let douro = found(&inner, "Douro").await;
    assert_eq!(douro.len(), 1, "{douro:?}");
}

/// erase-tenant on the AWS adapters (the index stands in for OpenSearch), with
/// no settle time.
fn erase_deps(
    stack: &jarvis_aws::AwsStack,
    r: &emulator::Resources,
    index: Arc<dyn SearchIndex>,
) -> erase_tenant::Deps {
    erase_tenant::Deps {
        blobs: stack
            .blobs(
                BlobAccess::new()
                    .delete(Bucket::Raw)
                    .purge(Bucket::Raw)
                    .purge(Bucket::Curated),
            )
            .unwrap(),
        metadata: stack.metadata(Rows::All).unwrap(),
        records: stack.records(Rows::All).unwrap(),
        index,
        scheduler: stack.schedule_canceller(),
        targets: Some(stack.notification_unsubscriber().unwrap()),
        transcriptions: Some(stack.transcription_jobs()),
        runs: Some(stack.workflow_stopper().unwrap()),
        transcription_wait: std::time::Duration::from_secs(20),
        raw_bucket: r.raw_bucket.clone(),
        curated_bucket: r.curated_bucket.clone(),
        owner: stack.owner_tenant().unwrap(),
        clock: Arc::new(jarvis_core::clock::SystemClock),
        settle: std::time::Duration::ZERO,
    }
}

/// Every version and delete marker under `prefix` in `bucket`.
async fn versions(stack: &jarvis_aws::AwsStack, bucket: &str, prefix: &str) -> Vec<String> {
    let out = stack
        .s3_client()
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.versions()
        .iter()
        .filter_map(|v| v.key())
        .chain(out.delete_markers().iter().filter_map(|m| m.key()))
        .map(str::to_owned)
        .collect()
}

/// AWS rule (the buckets are versioned): a plain DeleteObject only hides an
/// object behind a delete marker, and its bytes stay as an old version. The
/// erasure job removes every version of everything under the tenant's prefix,
/// and while it runs the router removes what arrives for that tenant.
#[tokio::test]
async fn erasure_removes_every_version_of_the_tenants_files_and_the_router_refuses_new_ones() {
    let (stack, r) = fresh_stack().await;
    let dir = tempfile::tempdir().unwrap();
    let index = local_index(&dir);
    let blobs = emulator::any_blobs(&stack);
    let records = stack.records(Rows::All).unwrap();
    // Two versions of alice's file, one deleted file, a derived file; bob's file.
    let (_, v1) = drop_file(&stack, &r, "alice/notes/plan.md", PLAN_V1)
        .await
        .expect("a run");
    run_steps(&stack, &index, v1).await;
    blobs
        .put(
            &r.raw_bucket,
            "alice/notes/plan.md",
            PLAN_V2.into(),
            "text/markdown",
        )
        .await
        .unwrap();
    blobs
        .put(
            &r.raw_bucket,
            "alice/old.md",
            b"# Old".to_vec(),
            "text/markdown",
        )
        .await
        .unwrap();
    blobs.delete(&r.raw_bucket, "alice/old.md").await.unwrap();
    blobs
        .put(
            &r.raw_bucket,
            "bob/keep.md",
            b"# Bob".to_vec(),
            "text/markdown",
        )
        .await
        .unwrap();
    assert!(versions(&stack, &r.raw_bucket, "alice/").await.len() >= 4);
    assert!(!versions(&stack, &r.curated_bucket, "alice/")
        .await
        .is_empty());

    let deps = erase_deps(&stack, &r, index.clone());
    // A voice memo each, transcribed: Transcribe keeps both jobs.
    let transcriber = stack.transcriber().unwrap();
    // (No other test transcribes for alice or bob: the emulator is shared.)
    for key in ["alice/memo.mp3", "bob/memo.mp3"] {
        let media = blobs
            .put(&r.raw_bucket, key, b"ID3 fake".to_vec(), "audio/mpeg")
            .await
            .unwrap();
        let started = transcriber.transcribe(&media, "audio/mpeg").await;
        assert!(matches!(started, Err(PortError::Pending(_))), "{started:?}");
    }
    let jobs_of = |tenant: &str| {
        let (sdk, start) = (
            stack.sdk.clone(),
            jarvis_aws::transcribe::tenant_jobs(Some(&TenantId::parse(tenant).unwrap())),
        );
        async move {
            let jobs = emulator::call(
                &sdk,
                &jarvis_aws::signed::TRANSCRIBE,
                "ListTranscriptionJobs",
                json!({}),
            )
            .await;
            jobs["TranscriptionJobSummaries"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|j| j["TranscriptionJobName"].as_str())
                .filter(|n| n.starts_with(&start))
                .count()
        }
    };
    assert_eq!((jobs_of("alice").await, jobs_of("bob").await), (1, 1));
    // Asked (as api-me records it), and a file arrives before the job runs.
    let asked = erase_tenant::requested(&alice(), Utc::now());
    jarvis_core::records::put(records.as_ref(), &asked)
        .await
        .unwrap();
    let late = drop_file(&stack, &r, "alice/late.md", PLAN_V1).await;
    assert!(late.is_none(), "no run for a tenant being erased");
    assert!(versions(&stack, &r.raw_bucket, "alice/late.md")
        .await
        .is_empty());

    let done = erase_tenant::handle(&deps, erase_tenant::Job { tenant_id: alice() })
        .await
        .unwrap();
    assert_eq!(done.state, jarvis_core::domain::ErasureState::Done);
    assert_eq!(done.removed.documents, 1);
    assert!(done.removed.files >= 4, "{:?}", done.removed);
    for bucket in [&r.raw_bucket, &r.curated_bucket] {
        let left = versions(&stack, bucket, "alice/").await;
        assert!(left.is_empty(), "{bucket}: {left:?}");
    }
    let mut bobs = versions(&stack, &r.raw_bucket, "bob/").await;
    bobs.sort();
    assert_eq!(bobs, ["bob/keep.md", "bob/memo.mp3"]);
    assert_eq!(done.removed.transcription_jobs, 1);
    assert_eq!(
        (jobs_of("alice").await, jobs_of("bob").await),
        (0, 1),
        "alice's transcription job is gone; bob's stays"
    );
    assert!(found(&index, "Sintra").await.is_empty());
    // A duplicated invoke finds it done and does nothing.
    let again = erase_tenant::handle(&deps, erase_tenant::Job { tenant_id: alice() })
        .await
        .unwrap();
    assert_eq!(again, done);
}

/// A run still under way when its tenant's data is erased is stopped
/// (StopExecution, on the execution named from the document's run), and a
/// run that no longer exists is no error.
#[tokio::test]
async fn erasure_stops_the_runs_of_the_tenants_documents_still_under_way() {
    let (stack, r) = fresh_stack().await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::parse("carol-runs").unwrap();
    use jarvis_core::ports::WorkflowStopper;
    let (name, _) = drop_file(&stack, &r, "carol-runs/notes/plan.md", PLAN_V1)
        .await
        .expect("a run");
    let stopper = stack.workflow_stopper().unwrap();
    let execution = stopper.execution_arn(&name);
    let status = |arn: String| {
        let stack = stack.clone();
        async move {
            describe_execution(&stack, &arn).await["status"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(status(execution.clone()).await, "RUNNING");
    assert!(!stopper.stop("ingest-not-a-run").await.unwrap());
    let deps = erase_deps(&stack, &r, local_index(&dir));
    let done = erase_tenant::handle(&deps, erase_tenant::Job { tenant_id: tenant })
        .await
        .unwrap();
    assert_eq!(done.removed.runs, 1, "{:?}", done.removed);
    assert_eq!(status(execution).await, "ABORTED");
}

/// An export too large for an API Gateway answer is written to a file, one
/// original at a time, streamed from it to S3, and answered with a 303 to a
/// pre-signed URL that serves the whole archive.
#[tokio::test]
async fn a_large_export_streams_to_s3_and_answers_a_presigned_url() {
    use std::io::Read;
    let (stack, r) = fresh_stack().await;
    let notes = "# Notes\n\n".to_owned() + &"A line about Lisbon and the castle.\n".repeat(400);
    drop_file(&stack, &r, "alice/notes/lisbon.md", &notes)
        .await
        .expect("a run");
    let blobs = stack
        .blobs(
            BlobAccess::new()
                .read(Bucket::Raw)
                .read(Bucket::Curated)
                .write(Bucket::Curated),
        )
        .unwrap();
    let deps = api_me::Deps {
        signer: Some(blobs.clone()),
        blobs,
        metadata: stack.metadata(Rows::Read).unwrap(),
        records: stack.records(Rows::ReadWrite).unwrap(),
        jobs: Arc::new(jarvis_local::jobs::LocalJobs::default()),
        clock: Arc::new(jarvis_core::clock::SystemClock),
        curated_bucket: r.curated_bucket.clone(),
        inline_limit: 1024,
        zone: jarvis_core::when::Zone::UTC,
        targets: None,
        webhooks: false,
    };
    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/api-me.export.json"
        ))
        .unwrap(),
    )
    .unwrap();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = serde_json::json!("alice");
    let out = jarvis_tests::lambda::gateway(
        api_me::handle(&deps, jarvis_tests::lambda::request(event.clone())).await,
    );
    assert_eq!(out.status_code, 303, "{:?}", out.body);
    let location = out.headers["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("alice/exports/jarvis-export-"),
        "{location}"
    );
    // What the web app asks for: the link, as JSON, to navigate to.
    let mut linked = event.clone();
    linked["queryStringParameters"] = serde_json::json!({"link": "true"});
    linked["rawQueryString"] = serde_json::json!("link=true");
    let out = jarvis_tests::lambda::gateway(
        api_me::handle(&deps, jarvis_tests::lambda::request(linked)).await,
    );
    assert_eq!(out.status_code, 200, "{:?}", out.body);
    let body: serde_json::Value = serde_json::from_slice(out.body.as_ref().unwrap()).unwrap();
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .contains("alice/exports/jarvis-export-"),
        "{body}"
    );
    let zip_bytes = reqwest::get(&location)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    let mut original = String::new();
    zip.by_name(&format!("files/{}/alice/notes/lisbon.md", r.raw_bucket))
        .unwrap()
        .read_to_string(&mut original)
        .unwrap();
    assert_eq!(original, notes);
    assert!(zip.by_name("records/settings.json").is_ok());
    assert!(
        zip.by_name("records/connections.json").is_err(),
        "plumbing is not exported"
    );
}

/// A single-owner deployment: files copied into the raw bucket by hand, with no
/// idea of the owner's Cognito `sub` (`aws s3 cp notes.md s3://<raw>/inbox/`,
/// or the bucket's root), are the owner's documents; without an owner they are
/// nobody's and the router says what to set. Erasing the owner removes them,
/// every version.
#[tokio::test]
async fn files_dropped_by_hand_into_the_raw_bucket_belong_to_the_owner() {
    let (plain, r) = fresh_stack().await;
    let mut settings = plain.settings.clone();
    settings.owner_tenant = Some("ana-owner".into());
    let stack = jarvis_aws::AwsStack::new(plain.sdk.clone(), settings, plain.config.clone());
    let ana = TenantId::parse("ana-owner").unwrap();
    let metadata = stack.metadata(Rows::All).unwrap();
    for (key, text) in [("inbox/notes.md", PLAN_V1), ("lisbon.md", PLAN_V2)] {
        let (_, state) = drop_file(&stack, &r, key, text)
            .await
            .unwrap_or_else(|| panic!("{key} starts a run"));
        assert_eq!(state.tenant_id, ana, "{key}");
        let doc = metadata
            .get_document(&ana, &state.document_id)
            .await
            .unwrap()
            .expect("the owner's document");
        assert_eq!(doc.source.key, key);
    }
    // No owner configured: the same drop starts nothing.
    assert!(drop_file(&plain, &r, "inbox/other.md", PLAN_V2)
        .await
        .is_none());
    // Erasing the owner takes what they dropped by hand, every version.
    let dir = tempfile::tempdir().unwrap();
    let deps = erase_deps(&stack, &r, local_index(&dir));
    erase_tenant::handle(
        &deps,
        erase_tenant::Job {
            tenant_id: ana.clone(),
        },
    )
    .await
    .unwrap();
    for key in ["inbox/", "lisbon.md"] {
        let left = versions(&stack, &r.raw_bucket, key).await;
        assert!(left.is_empty(), "{key}: {left:?}");
    }
}

fn reminder(id: &str, schedule: ReminderSchedule) -> Reminder {
    Reminder {
        id: id.into(),
        tenant_id: alice(),
        text: "call Ana".into(),
        schedule,
        fired_at: None,
        cancelled: false,
        created_at: Utc::now(),
        late: false,
        fired_count: 0,
        claimed: None,
        claimed_at: None,
        changed_at: None,
    }
}

#[tokio::test]
async fn scheduler_makes_self_deleting_schedules_that_invoke_reminder_fire() {
    let (stack, r) = fresh_stack().await;
    let scheduler = stack.scheduler().unwrap();
    let at = (Utc::now() + Duration::hours(1)).with_nanosecond_zero();
    let once = reminder("r-once", ReminderSchedule::At { at });
    let weekly = reminder(
        "r-weekly",
        ReminderSchedule::Cron {
            expression: "0 9 ? * MON *".into(),
            time_zone: "Europe/Lisbon".into(),
        },
    );
    scheduler.schedule(&once).await.unwrap();
    scheduler.schedule(&weekly).await.unwrap();
    scheduler.schedule(&once).await.unwrap(); // a retry updates, not fails
    let sdk = aws_sdk_scheduler::Client::new(&stack.sdk);
    let got = sdk
        .get_schedule()
        .group_name(&r.schedule_group)
        .name(jarvis_aws::scheduler::schedule_name(&alice(), "r-once"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.schedule_expression(),
        Some(format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")).as_str())
    );
    assert_eq!(
        got.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
    let target = got.target().unwrap();
    assert!(target.arn().ends_with(":function:reminder-fire"));
    // A delivery Scheduler gives up on lands in the dead-letter queue, not nowhere.
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:reminders-dlq").as_str())
    );
    // The input names the reminder and nothing more: its text never leaves
    // the table for Scheduler's storage.
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"tenant_id": "alice", "id": "r-once"})
    );
    assert!(!target.input().unwrap().contains("call Ana"));

    assert!(scheduler.due(Utc::now()).await.unwrap().is_empty());
    let late = scheduler.due(at + Duration::minutes(5)).await.unwrap();
    assert_eq!(
        late,
        vec![jarvis_core::domain::ReminderRef::from(&once)],
        "recurring schedules are never due"
    );
    scheduler.cancel(&alice(), "r-once").await.unwrap();
    scheduler.cancel(&alice(), "r-once").await.unwrap();
    assert!(scheduler
        .due(at + Duration::minutes(5))
        .await
        .unwrap()
        .is_empty());
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl NoNanos for chrono::DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap()
    }
}

#[tokio::test]
async fn transcribe_runs_an_async_job_and_reads_its_result_from_s3() {
    let (stack, r) = fresh_stack().await;
    let media = emulator::any_blobs(&stack)
        .put(
            &r.raw_bucket,
            "dora/memo.mp3",
            b"ID3 fake".to_vec(),
            "audio/mpeg",
        )
        .await
        .unwrap();
    let transcriber = stack.transcriber().unwrap();
    let first = transcriber.transcribe(&media, "audio/mpeg").await;
    assert!(matches!(first, Err(PortError::Pending(_))), "{first:?}");
    assert_eq!(
        StepError::from(first.unwrap_err()).error_name(),
        "Jarvis.Pending"
    );
    // Transcribe writes its result into the curated bucket; moto does not, so the test does.
    let job = jarvis_aws::transcribe::job_name(&media);
    let output = jarvis_aws::transcribe::output_key(&media, &job);
    assert!(
        output.starts_with("dora/transcripts/"),
        "under the tenant's prefix, so erasure takes it: {output}"
    );
    emulator::any_blobs(&stack)
        .put(
            &r.curated_bucket,
            &output,
            br#"{"results":{"transcripts":[{"transcript":"Call Ana at nine."}],"audio_segments":[]}}"#.to_vec(),
            "application/json",
        )
        .await
        .unwrap();
    let mut transcript = None;
    for _ in 0..10 {
        match transcriber.transcribe(&media, "audio/mpeg").await {
            Ok(t) => {
                transcript = Some(t);
                break;
            }
            Err(PortError::Pending(_)) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        transcript.expect("the job completes").text,
        "Call Ana at nine."
    );
    assert!(matches!(
        transcriber.transcribe(&media, "text/plain").await,
        Err(PortError::Invalid(_))
    ));
}

#[tokio::test]
async fn comprehend_finds_pii_inside_the_text() {
    let (stack, _) = fresh_stack().await;
    let text = "Dear Ana, ".repeat(40) + "write to ana.silva@example.com or call.";
    let found = stack.pii().detect(&text).await.unwrap();
    assert!(!found.is_empty());
    for e in &found {
        assert!(e.start < e.end && e.end <= text.len());
        assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end));
    }
}

/// A stack whose every call goes through a fault-injecting proxy to the emulator.
async fn stack_behind_proxy(max_attempts: u32) -> (jarvis_aws::AwsStack, FaultProxy) {
    let endpoint = emulator::endpoint();
    let direct = emulator::sdk_config_for(&endpoint, 1).await;
    let resources = emulator::create_resources(&direct).await;
    let proxy = FaultProxy::start(endpoint).await;
    let sdk = emulator::sdk_config_for(&proxy.server.url, max_attempts).await;
    (emulator::stack(sdk, &resources, &proxy.server.url), proxy)
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_and_a_permanent_error_fails_with_its_reason() {
    let (stack, proxy) = stack_behind_proxy(4).await;
    let metadata = stack.metadata(Rows::All).unwrap();
    let doc = jarvis_tests::contract::document(&alice(), "alice/a.txt", "e1");

    proxy.fail(
        "PutItem",
        2,
        aws_json_error(400, "ThrottlingException", "Rate exceeded"),
    );
    proxy.fail(
        "PutItem",
        1,
        aws_json_error(503, "ServiceUnavailable", "try later"),
    );
    metadata
        .put_document(&doc)
        .await
        .expect("retried past three faults");
    assert_eq!(proxy.pending(), 0);

    proxy.fail(
        "GetItem",
        6,
        aws_json_error(400, "ProvisionedThroughputExceededException", "slow down"),
    );
    let exhausted = metadata.get_document(&alice(), &doc.id).await.unwrap_err();
    assert!(exhausted.is_retryable(), "{exhausted}");
    assert_eq!(proxy.pending(), 2, "four attempts, then the error");
    let step = StepError::from(exhausted);
    assert_eq!(step.error_name(), "Jarvis.Transient");
    assert!(
        step.to_string()
            .contains("ProvisionedThroughputExceededException"),
        "{step}"
    );
    // The two faults left are absorbed by the next call's retries.
    assert_eq!(
        metadata.get_document(&alice(), &doc.id).await.unwrap(),
        Some(doc.clone())
    );
    assert_eq!(proxy.pending(), 0);

    proxy.fail(
        "SendMessage",
        1,
        aws_json_error(400, "InvalidParameterValue", "bad body"),
    );
    proxy.fail(
        "StartExecution",
        1,
        aws_json_error(400, "ValidationException", "input too large"),
    );
    let sent = stack.ingest_queue().unwrap().send("x").await;
    assert!(
        matches!(
            sent,
            Err(PortError::Backend { .. }) | Err(PortError::Invalid(_))
        ),
        "{sent:?}"
    );
    let state: PipelineState = serde_json::from_value(serde_json::json!({
        "tenant_id": "alice", "document_id": doc.id, "content_type": "text/plain",
        "origin": "upload", "source": {"bucket": "raw", "key": "alice/a.txt", "etag": "e1", "size": 3}
    }))
    .unwrap();
    use jarvis_core::ports::WorkflowStarter;
    let refused = stack
        .workflows()
        .unwrap()
        .start("ingest-x", &state)
        .await
        .unwrap_err();
    assert!(
        !refused.is_retryable(),
        "a validation error is not retried: {refused}"
    );
    let step = StepError::from(refused);
    assert_eq!(step.error_name(), "Jarvis.Failed");
    assert!(
        step.to_string()
            .contains("ValidationException: input too large"),
        "{step}"
    );
    assert_eq!(proxy.pending(), 0, "each permanent error was sent once");

    // The signed client (no SDK crate) retries the same way: three faults, then it starts.
    proxy.fail(
        "StartExecution",
        2,
        aws_json_error(400, "ThrottlingException", "Rate exceeded"),
    );
    proxy.fail(
        "StartExecution",
        1,
        aws_json_error(500, "InternalFailure", "oops"),
    );
    let started = stack.workflows().unwrap().start("ingest-y", &state).await;
    assert!(
        matches!(started, Ok(jarvis_core::ports::StartOutcome::Started)),
        "{started:?}"
    );
    assert_eq!(proxy.pending(), 0);
}

#[tokio::test]
async fn a_redelivered_router_message_with_throttled_step_functions_is_reported_for_retry() {
    let (stack, proxy) = stack_behind_proxy(2).await;
    let r_bucket = stack.raw_bucket().unwrap();
    let put = emulator::any_blobs(&stack)
        .put(&r_bucket, "alice/x.md", TRIP.into(), "text/markdown")
        .await
        .unwrap();
    let msg = QueueMessage {
        id: "m1".into(),
        receipt: "r1".into(),
        body: object_created_body(&r_bucket, &put.key, &put.etag, put.size, Utc::now()),
        receive_count: 1,
    };
    proxy.fail(
        "StartExecution",
        2,
        aws_json_error(400, "ThrottlingException", "Rate exceeded"),
    );
    // S3 HEAD goes direct: the proxy cannot pass a body-less answer's content-length.
    let direct = emulator::sdk_config_for(&emulator::endpoint(), 1).await;
    let direct = jarvis_aws::AwsStack::new(direct, stack.settings.clone(), stack.config.clone());
    let router = pipeline_router::Deps {
        blobs: direct.blobs(BlobAccess::new().read(Bucket::Raw)).unwrap(),
        ..pipeline_router::Deps::aws(&stack).unwrap()
    };
    let resp =
        pipeline_router::handle(&router, sqs_event(std::slice::from_ref(&msg), "arn:q")).await;
    assert_eq!(
        resp.batch_item_failures.len(),
        1,
        "a throttled start is returned to SQS for redelivery"
    );
    let resp = pipeline_router::handle(&router, sqs_event(&[msg], "arn:q")).await;
    assert!(resp.batch_item_failures.is_empty());
}

#[tokio::test]
async fn presigned_urls_upload_and_download_without_credentials() {
    use jarvis_core::ports::UrlSigner;
    let (stack, r) = fresh_stack().await;
    let s3 = emulator::any_blobs(&stack);
    let up = s3
        .upload_url(
            &r.raw_bucket,
            "alice/uploads/big.md",
            "text/markdown",
            TRIP.len() as u64,
            true,
            std::time::Duration::from_secs(300),
        )
        .await
        .unwrap();
    assert_eq!(up.method, "PUT");
    assert!(up.url.contains("X-Amz-Signature="), "{}", up.url);
    assert!(
        up.headers
            .iter()
            .any(|(k, v)| k == "if-none-match" && v == "*"),
        "{:?}",
        up.headers
    );
    // Exactly the headers the raw bucket's CORS rule lets a browser send
    // (terraform/modules/storage; tests/infra checks the rule), and the
    // length, which browsers set themselves.
    let mut names: Vec<&str> = up.headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort();
    assert_eq!(names, ["content-length", "content-type", "if-none-match"]);
    let http = reqwest::Client::new();
    let put_once = || {
        let mut put = http.put(&up.url).body(TRIP);
        for (k, v) in &up.headers {
            put = put.header(k, v);
        }
        put.send()
    };
    let status = put_once().await.unwrap().status();
    assert!(status.is_success(), "{status}");
    // The same URL again: the file is there now, and S3 keeps it (412).
    let status = put_once().await.unwrap().status();
    assert_eq!(
        status.as_u16(),
        412,
        "a create-only URL never replaces a file"
    );
    // And the adapter's own create-only write says Conflict.
    assert!(matches!(
        s3.put_new(
            &r.raw_bucket,
            "alice/uploads/big.md",
            b"other".to_vec(),
            "text/plain"
        )
        .await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(
        s3.head(&r.raw_bucket, "alice/uploads/big.md")
            .await
            .unwrap()
            .size,
        TRIP.len() as u64
    );
    let down = s3
        .download_url(
            &r.raw_bucket,
            "alice/uploads/big.md",
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        http.get(&down.url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        TRIP
    );
    assert!(matches!(
        s3.upload_url(
            &r.raw_bucket,
            "../x",
            "text/plain",
            1,
            false,
            std::time::Duration::from_secs(60)
        )
        .await,
        Err(PortError::Invalid(_))
    ));
    assert!(matches!(
        s3.download_url(
            &r.raw_bucket,
            "alice/x",
            std::time::Duration::from_secs(8 * 24 * 3600)
        )
        .await,
        Err(PortError::Invalid(_))
    ));
}

/// `POST /uploads` on AWS: api-documents signs a PUT under the caller's folder
/// in the raw bucket; the client PUTs without AWS credentials; the bucket's
/// event then starts a run for the very document the answer named.
///
/// AWS rule moto does not enforce: S3 checks a pre-signed URL's signature
/// against the request, so a PUT of another size or content type is refused
/// (403 SignatureDoesNotMatch) only because both are signed headers. moto
/// accepts any body; the signed-header list in the URL is checked instead.
#[tokio::test]
async fn a_presigned_upload_lands_under_the_callers_folder_and_starts_a_run() {
    let (stack, r) = fresh_stack().await;
    let dir = tempfile::tempdir().unwrap();
    let blobs = stack
        .blobs(
            BlobAccess::new()
                .read(Bucket::Raw)
                .write(Bucket::Raw)
                .delete(Bucket::Raw)
                .delete(Bucket::Curated),
        )
        .unwrap();
    let deps = api_documents::Deps {
        signer: blobs.clone(),
        blobs,
        metadata: stack.metadata(Rows::All).unwrap(),
        index: local_index(&dir),
        router: Arc::new(pipeline_router::Deps::aws(&stack).unwrap()),
        raw_bucket: r.raw_bucket.clone(),
        curated_bucket: r.curated_bucket.clone(),
        max_upload_bytes: 4 << 20,
        max_file_bytes: 50 << 20,
    };
    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/api-documents.presign-upload.json"
        ))
        .unwrap(),
    )
    .unwrap();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = serde_json::json!("alice");
    event["body"] = serde_json::json!(serde_json::json!({
        "name": "big trip.md", "content_type": "text/markdown", "size": TRIP.len()
    })
    .to_string());
    let out = jarvis_tests::lambda::gateway(
        api_documents::handle(&deps, jarvis_tests::lambda::request(event.clone())).await,
    );
    assert_eq!(out.status_code, 201, "{:?}", out.body);
    let ticket: serde_json::Value = match out.body.unwrap() {
        aws_lambda_events::encodings::Body::Text(t) => serde_json::from_str(&t).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ticket["key"], "alice/uploads/big trip.md");
    let url = ticket["upload"]["url"].as_str().unwrap();
    let signed = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap();
    for header in ["content-length", "content-type", "host"] {
        assert!(
            signed.split("%3B").any(|h| h == header),
            "{header} is not signed: {signed}"
        );
    }
    let mut put = reqwest::Client::new().put(url).body(TRIP);
    for (k, v) in ticket["upload"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
    {
        put = put.header(k, v);
    }
    let status = put.send().await.unwrap().status();
    assert!(status.is_success(), "{status}");
    let head = emulator::any_blobs(&stack)
        .head(&r.raw_bucket, "alice/uploads/big trip.md")
        .await
        .unwrap();
    assert_eq!(head.size, TRIP.len() as u64);

    // The bucket's event reaches the router as any arrival's does.
    let body = object_created_body(&r.raw_bucket, &head.key, &head.etag, head.size, Utc::now());
    let message = QueueMessage {
        id: emulator::unique("m"),
        receipt: emulator::unique("r"),
        body,
        receive_count: 1,
    };
    let router = pipeline_router::Deps::aws(&stack).unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:ingest");
    let resp = pipeline_router::handle(&router, sqs_event(&[message], &queue_arn)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let id =
        jarvis_core::domain::DocumentId::parse(ticket["document_id"].as_str().unwrap()).unwrap();
    let doc = stack
        .metadata(Rows::All)
        .unwrap()
        .get_document(&alice(), &id)
        .await
        .unwrap()
        .expect("the ticket's document is the run's");
    assert_eq!(doc.status, DocumentStatus::Queued);

    // Declared too large or of a type Jarvis does not read: nothing is signed.
    for (body, status) in [
        (
            serde_json::json!({"name": "a.md", "content_type": "text/markdown", "size": 1u64 << 40}),
            413,
        ),
        (
            serde_json::json!({"name": "a.bin", "content_type": "application/octet-stream", "size": 10}),
            400,
        ),
    ] {
        event["body"] = serde_json::json!(body.to_string());
        let out = jarvis_tests::lambda::gateway(
            api_documents::handle(&deps, jarvis_tests::lambda::request(event.clone())).await,
        );
        assert_eq!(out.status_code, status, "{body}");
    }
}
