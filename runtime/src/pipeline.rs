//! The local state machine: the same steps, in the same order, with the same
//! retry and catch rules as the Step Functions definition.
//!
//! ```text
//! Route (by content type) ─┬─ extract-document ─┐
//!                          ├─ extract-image ────┤
//!                          ├─ extract-audio ────┼─ detect-pii ─ chunk ─ embed ─ index
//!                          └─ parse-email ──────┘
//! Retry: each step's `Jarvis.Transient` rule, read from the ASL definition
//!        (`jarvis_core::asl`): MaxAttempts, IntervalSeconds, BackoffRate
//!        (without the jitter).
//! Catch: anything else (and retries exhausted) ─ mark-failed
//! ```
//! Also here: the ingest-queue consumer that feeds `pipeline-router` SQS batches.

use aws_lambda_events::event::sqs::SqsEvent;
use jarvis_core::asl::{self, RetryPolicy};
use jarvis_core::pipeline::{FailedState, PipelineState, Route, StepFailure};
use jarvis_core::ports::Queue;
use jarvis_core::{PortError, StepError};
use jarvis_local::stack::LocalStack;
use jarvis_local::workflow::Run;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{error, info, warn};

/// Each step's retry rule for `Jarvis.Transient`, from the state machine's definition.
static RETRY: LazyLock<HashMap<&'static str, RetryPolicy>> = LazyLock::new(|| {
    let asl = asl::parse(asl::TEMPLATE).expect("the shipped state machine definition is JSON");
    asl::TASK_FUNCTIONS
        .iter()
        .filter_map(|f| Some((*f, asl::retry_policy(&asl, f, "Jarvis.Transient")?)))
        .collect()
});

/// What a step without a rule in the definition gets: no retry.
const NO_RETRY: RetryPolicy = RetryPolicy {
    attempts: 1,
    interval: Duration::ZERO,
    backoff_rate: 1.0,
};
/// Receives after which a message the router cannot handle is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;
/// How long a received message stays hidden (the SQS visibility timeout).
const VISIBILITY_SECS: u64 = 60;

/// Every step's dependencies, wired to the local stack.
pub struct Steps {
    pub router: pipeline_router::Deps,
    pub extract_document: extract_document::Deps,
    pub extract_image: extract_image::Deps,
    pub extract_audio: extract_audio::Deps,
    pub parse_email: parse_email::Deps,
    pub detect_pii: detect_pii::Deps,
    pub chunk: chunk::Deps,
    pub embed: embed::Deps,
    pub index: index::Deps,
    pub mark_failed: mark_failed::Deps,
}

impl Steps {
    pub fn local(stack: &LocalStack) -> Self {
        Self {
            router: pipeline_router::Deps::local(stack),
            extract_document: extract_document::Deps::local(stack),
            extract_image: extract_image::Deps::local(stack),
            extract_audio: extract_audio::Deps::local(stack),
            parse_email: parse_email::Deps::local(stack),
            detect_pii: detect_pii::Deps::local(stack),
            chunk: chunk::Deps::local(stack),
            embed: embed::Deps::local(stack),
            index: index::Deps::local(stack),
            mark_failed: mark_failed::Deps::local(stack),
        }
    }
}

/// Runs one step with the `Retry` policy.
async fn with_retry<F, Fut>(
    name: &str,
    state: &PipelineState,
    step: F,
) -> Result<PipelineState, StepError>
where
    F: Fn(PipelineState) -> Fut,
    Fut: Future<Output = Result<PipelineState, StepError>>,
{
    let policy = RETRY.get(name).copied().unwrap_or(NO_RETRY);
    let mut attempt = 1;
    loop {
        match step(state.clone()).await {
            Err(e) if e.is_retryable() && attempt < policy.attempts => {
                warn!(step = name, attempt, error = %e, "retrying");
                tokio::time::sleep(policy.wait(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Where a run stopped: the last good state and the step's error.
pub type RunFailure = Box<(PipelineState, StepError)>;

/// How many runs each part of the pipeline takes at once. The steps up to
/// `embed` hold a file in memory and feed the embedder; `index` waits for
/// its keyword-index commit, which gathers the writers that can join it. A
/// run leaves the first part's place when it moves on to `index`, so that
/// commits gathering never leave the embedder without text.
#[derive(Clone)]
pub struct Stages {
    /// Runs in the steps before `index`.
    pub before_index: Arc<Semaphore>,
    /// Runs in `index`.
    pub index: Arc<Semaphore>,
}

impl Stages {
    /// `workers` runs before `index`, and as many in it.
    pub fn new(workers: usize) -> Self {
        Self {
            before_index: Arc::new(Semaphore::new(workers)),
            index: Arc::new(Semaphore::new(workers)),
        }
    }
}

/// Executes the steps in order; on failure returns the last good state and
/// the error. `admitted`, the run's place before `index` in `stages`, is held
/// until `index`, where a place of `index` is taken instead.
pub async fn execute(
    steps: &Steps,
    input: PipelineState,
    stages: &Stages,
    admitted: OwnedSemaphorePermit,
) -> Result<PipelineState, RunFailure> {
    let mut state = input;
    let route = Route::for_content_type(&state.content_type);
    macro_rules! step {
        ($name:literal, $deps:expr, $module:ident) => {
            match with_retry($name, &state, |s| $module::handle(&$deps, s)).await {
                Ok(next) => state = next,
                Err(e) => return Err(Box::new((state, e))),
            }
        };
    }
    match route {
        Route::Document => step!("extract-document", steps.extract_document, extract_document),
        Route::Image => step!("extract-image", steps.extract_image, extract_image),
        Route::Audio => step!("extract-audio", steps.extract_audio, extract_audio),
        Route::Email => step!("parse-email", steps.parse_email, parse_email),
    }
    step!("detect-pii", steps.detect_pii, detect_pii);
    step!("chunk", steps.chunk, chunk);
    step!("embed", steps.embed, embed);
    drop(admitted);
    // The semaphore is never closed.
    let _indexing = stages.index.acquire().await.ok();
    step!("index", steps.index, index);
    Ok(state)
}

/// Runs a workflow to its end (success or the `Catch`), and records that it finished.
/// `admitted` is the run's place before `index` in `stages` (see [`Stages`]).
pub async fn run_to_end(
    steps: Arc<Steps>,
    stack: &LocalStack,
    run: Run,
    stages: &Stages,
    admitted: OwnedSemaphorePermit,
) {
    let input = run.input.clone();
    let inner = steps.clone();
    let stages = stages.clone();
    // A panic in a third-party parser must fail this document, not the runtime.
    let outcome = tokio::spawn(async move { execute(&inner, run.input, &stages, admitted).await })
        .await
        .unwrap_or_else(|join| {
            error!(error = %join, "pipeline step panicked");
            Err(Box::new((
                input,
                StepError::Port(PortError::Backend {
                    backend: "pipeline",
                    message: "the file crashed the extractor; it may be malformed".into(),
                    source: None,
                }),
            )))
        });
    let status = match outcome {
        Ok(state) => {
            info!(document = %state.document_id, chunks = state.chunk_count, "indexed");
            "succeeded"
        }
        Err(failure) => {
            let (state, e) = *failure;
            warn!(document = %state.document_id, error = %e, kind = e.error_name(), "run failed");
            let failed = FailedState {
                state,
                error: StepFailure {
                    error: e.error_name().into(),
                    cause: e.to_string(),
                },
            };
            if let Err(e) = mark_failed::handle(&steps.mark_failed, failed).await {
                error!(error = %e, "mark-failed failed; the run resumes on the next start");
                return;
            }
            "failed"
        }
    };
    if let Err(e) = stack.workflows.finish(&run.name, status) {
        error!(error = %e, "could not record the end of a run");
    }
}

/// Ends a run the runtime kept stopping in (see `MAX_STARTS`): its document is
/// marked failed through the same Catch, with the reason, instead of being
/// started again at every start.
pub async fn give_up(steps: &Steps, stack: &LocalStack, run: Run) {
    warn!(run = %run.name, document = %run.input.document_id, "a run stopped the runtime repeatedly; giving up");
    let failed = FailedState {
        state: run.input,
        error: StepFailure {
            error: "Jarvis.Crashed".into(),
            cause: format!(
                "processing this file stopped Jarvis {} times (it may be malformed, or too large to parse); it is not tried again",
                jarvis_local::workflow::MAX_STARTS
            ),
        },
    };
    if let Err(e) = mark_failed::handle(&steps.mark_failed, failed).await {
        error!(error = %e, "mark-failed failed for a run given up");
        return;
    }
    if let Err(e) = stack.workflows.finish(&run.name, "failed") {
        error!(error = %e, "could not record the end of a run");
    }
}

/// Takes one batch off the ingest queue and hands it to `pipeline-router`;
/// returns how many messages there were.
pub async fn consume_queue_once(steps: &Steps, stack: &LocalStack) -> Result<usize, PortError> {
    let messages = stack.queue.receive(10, VISIBILITY_SECS).await?;
    if messages.is_empty() {
        return Ok(0);
    }
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": { "ApproximateReceiveCount": m.receive_count.to_string() },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:local:000000000000:jarvis-ingest",
                "awsRegion": "local"
            })
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(serde_json::json!({ "Records": records }))
        .map_err(|e| PortError::backend("queue", e))?;
    let response = pipeline_router::handle(&steps.router, event).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for m in &messages {
        let retry = failed.contains(&m.id.as_str());
        if retry && m.receive_count < MAX_RECEIVES {
            continue; // visible again after the timeout
        }
        if retry {
            error!(
                message = m.id,
                body = m.body,
                "dead-lettered after {MAX_RECEIVES} receives"
            );
        }
        stack.queue.ack(&m.receipt).await?;
    }
    Ok(messages.len())
}
