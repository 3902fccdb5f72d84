//! The HTTP functions under the real Lambda Runtime API client: a stand-in
//! Runtime API hands `jarvis_lambda::run::{api, tool}` the events API Gateway
//! and api-chat send, and keeps what the function posts back — the answer
//! API Gateway (payload format 2.0) or the tool's caller receives.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Clone)]
struct RuntimeApi {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    answers: mpsc::UnboundedSender<(String, &'static str, Value)>,
}

async fn next(State(api): State<RuntimeApi>) -> (HeaderMap, String) {
    let Some((id, event)) = api.events.lock().unwrap().pop_front() else {
        // No more events: hold the request, as Lambda does between invocations.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        "4102444800000".parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:jarvis-test:live"
            .parse()
            .unwrap(),
    );
    (headers, event.to_string())
}

async fn answered(
    State(api): State<RuntimeApi>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) {
    let kind = if kind == "response" {
        "response"
    } else {
        "error"
    };
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = api.answers.send((id, kind, value));
}

/// Serves `events` in order to a function started by `start` under the Runtime
/// API client, and returns, per event, whether it was answered or failed, and with what.
pub async fn invoke<F, Fut>(events: Vec<Value>, start: F) -> Vec<(&'static str, Value)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), lambda_http::Error>>,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let n = events.len();
    let api = RuntimeApi {
        events: Arc::new(Mutex::new(
            events
                .into_iter()
                .enumerate()
                .map(|(i, e)| (format!("req-{i}"), e))
                .collect(),
        )),
        answers: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answered))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    // The variables Lambda sets for every function process (this test binary
    // runs each test in its own process, so they are this test's alone).
    std::env::set_var("AWS_LAMBDA_RUNTIME_API", addr.to_string());
    std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "jarvis-test");
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512");
    std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "1");
    let collect = async {
        let mut answers = Vec::with_capacity(n);
        for i in 0..n {
            let (id, kind, value) = rx.recv().await.expect("the function answers");
            assert_eq!(id, format!("req-{i}"), "answers come in order");
            answers.push((kind, value));
        }
        answers
    };
    // The function polls for events until it is dropped, once every event is answered.
    let answers = tokio::select! {
        answers = collect => answers,
        stopped = start() => panic!("the function stopped: {stopped:?}"),
    };
    server.abort();
    answers
}
