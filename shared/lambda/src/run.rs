//! Running a handler under the Lambda Runtime API: one call per function kind,
//! so every `main.rs` is the same three lines (load settings, wire, run).

use crate::http;
use crate::routes::Op;
use crate::step::StepDiagnostic;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use jarvis_core::StepError;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::convert::Infallible;
use std::future::Future;

/// A pipeline step: its error becomes a named Lambda error for `Retry`/`Catch`.
pub async fn step<I, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
{
    lambda_runtime::run(service_fn(|e: LambdaEvent<I>| {
        let fut = handler(e.payload);
        async move { fut.await.map_err(StepDiagnostic) }
    }))
    .await
}

/// An HTTP API function on `lambda_http`: `handler` takes the request and
/// answers; errors are already JSON responses. `GET /healthz` is answered
/// here, for every API function.
pub async fn api<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(http::Request) -> Fut,
    Fut: Future<Output = http::Response> + Send,
{
    lambda_http::run(service_fn(|req: http::Request| {
        let next = answer(&handler, req);
        async move { Ok::<_, lambda_runtime::Error>(next.await) }
    }))
    .await
}

/// `GET /healthz` without calling the handler; any other request, the handler.
fn answer<F, Fut>(handler: &F, req: http::Request) -> impl Future<Output = http::Response>
where
    F: Fn(http::Request) -> Fut,
    Fut: Future<Output = http::Response>,
{
    let health = http::route(&req).is_ok_and(|r| r.op == Op::Healthz);
    let fut = (!health).then(|| handler(req));
    async move {
        match fut {
            Some(fut) => fut.await,
            None => http::healthz(),
        }
    }
}

/// An SQS event source with partial batch responses.
pub async fn sqs<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    lambda_runtime::run(service_fn(|e: LambdaEvent<SqsEvent>| {
        let fut = handler(e.payload);
        async move { Ok::<_, Infallible>(fut.await) }
    }))
    .await
}

/// A WebSocket API route (`$connect`, `$disconnect`, a message route): the
/// status answers `$connect` (anything but 2xx refuses the connection); what
/// the client hears is posted to its connection by the handler.
pub async fn websocket<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(ApiGatewayWebsocketProxyRequest) -> Fut,
    Fut: Future<Output = ApiGatewayProxyResponse>,
{
    lambda_runtime::run(service_fn(
        |e: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let fut = handler(e.payload);
            async move { Ok::<_, Infallible>(fut.await) }
        },
    ))
    .await
}

/// A Lambda authorizer: the handler answers with a policy (allow or deny); a
/// port failure (the issuer's keys unreachable) fails the invocation, which
/// API Gateway answers with a 500 the client may retry.
pub async fn authorizer<I, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize,
    F: Fn(I) -> Fut,
    Fut: Future<Output = jarvis_core::ports::PortResult<O>>,
{
    lambda_runtime::run(service_fn(|e: LambdaEvent<I>| {
        let fut = handler(e.payload);
        async move { fut.await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}

/// A tool function: REST calls through API Gateway (events with a `routeKey`,
/// on `lambda_http` like [`api`]) and tool calls invoked directly by api-chat
/// (a `ToolCall`, answered with the `ToolReply`). An infrastructure failure
/// fails the invocation, so the caller sees a function error and may retry.
pub async fn tool<C, CFut, A, AFut>(call: C, api: A) -> Result<(), lambda_runtime::Error>
where
    C: Fn(jarvis_core::tools::ToolCall) -> CFut,
    CFut: Future<Output = jarvis_core::ports::PortResult<jarvis_core::tools::ToolReply>>,
    A: Fn(http::Request) -> AFut,
    AFut: Future<Output = http::Response> + Send,
{
    let api = &api;
    // lambda_http's adapter turns the API Gateway event into the request and the
    // response back into API Gateway's answer, exactly as `lambda_http::run` does.
    let mut rest = lambda_http::Adapter::from(service_fn(move |req: http::Request| {
        let next = answer(api, req);
        async move { Ok::<_, lambda_runtime::Error>(next.await) }
    }));
    let rest = &mut rest;
    lambda_runtime::run(service_fn(|e: LambdaEvent<serde_json::Value>| {
        let LambdaEvent { payload, context } = e;
        let invocation = if payload.get("routeKey").is_some() {
            serde_json::from_value::<lambda_http::request::LambdaRequest>(payload).map(|req| {
                Invocation::Http(lambda_runtime::Service::call(
                    rest,
                    LambdaEvent::new(req, context),
                ))
            })
        } else {
            serde_json::from_value(payload).map(|c| Invocation::Tool(call(c)))
        };
        async move {
            let reply = match invocation? {
                Invocation::Http(fut) => serde_json::to_value(fut.await?)?,
                Invocation::Tool(fut) => serde_json::to_value(fut.await?)?,
            };
            Ok::<_, lambda_runtime::Error>(reply)
        }
    }))
    .await
}

enum Invocation<H, T> {
    Http(H),
    Tool(T),
}

/// A target of EventBridge Scheduler (a reminder, a nightly job): the event is
/// the schedule's input; an error fails the invocation, and Scheduler retries
/// it by the schedule's retry policy.
pub async fn scheduled<I, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
{
    step(handler).await
}

/// A job started by an asynchronous invoke (`erase-tenant`): the event is the
/// job; an error fails the invocation, and Lambda retries it twice.
pub async fn job<I, O, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
{
    step(handler).await
}

/// A Scheduler target that also drains its schedules' dead-letter queue: a
/// direct invoke (the schedule's input) runs `direct`, whose error fails the
/// invocation so Scheduler retries it; an SQS batch (deliveries Scheduler gave
/// up on) runs `dead_letters`, which answers the records to redeliver.
pub async fn scheduled_or_dead_letters<I, O, F, Fut, G, GFut>(
    direct: F,
    dead_letters: G,
) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
    G: Fn(SqsEvent) -> GFut,
    GFut: Future<Output = SqsBatchResponse>,
{
    fn unreadable(e: serde_json::Error) -> lambda_runtime::Diagnostic {
        StepDiagnostic(StepError::Rejected(format!(
            "the event is not readable: {e}"
        )))
        .into()
    }
    let (direct, dead_letters) = (&direct, &dead_letters);
    lambda_runtime::run(service_fn(|e: LambdaEvent<serde_json::Value>| async move {
        let payload = e.payload;
        if payload.get("Records").is_some() {
            let batch = serde_json::from_value::<SqsEvent>(payload).map_err(unreadable)?;
            serde_json::to_value(dead_letters(batch).await).map_err(unreadable)
        } else {
            let input = serde_json::from_value::<I>(payload).map_err(unreadable)?;
            let out = direct(input)
                .await
                .map_err(|e| lambda_runtime::Diagnostic::from(StepDiagnostic(e)))?;
            serde_json::to_value(out).map_err(unreadable)
        }
    }))
    .await
}
