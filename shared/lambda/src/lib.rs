//! The edge between Lambda's event types and Jarvis' handlers, shared by every
//! function crate and by the local runtime:
//! - [`http`]: reading an API Gateway HTTP API (v2) request — the caller's tenant
//!   from the JWT claims, the body, path and query parameters — and answering JSON
//!   or the `{"error": …}` body of an [`jarvis_core::ApiError`].
//! - [`step`]: a pipeline step's [`jarvis_core::StepError`] as the Lambda error
//!   type the state machine's `Retry`/`Catch` match on.
//! - [`sqs`]: SQS batch events and partial batch responses.
//! - [`ws`]: API Gateway WebSocket requests: the tenant the `$connect`
//!   authorizer verified, the route, where to post to the client.
//! - [`routes`]: the HTTP API's routes, declared once.
//! - [`s3_events`]: the ingest queue's S3 `Object Created` events, read.
//! - [`run`]: a handler under the Lambda Runtime API, per function kind.

pub mod http;
pub mod routes;
pub mod run;
pub mod s3_events;
pub mod sqs;
pub mod step;
pub mod ws;
