//! Loopback HTTP servers for wire-level tests.
//! - [`WireServer`]: answers each request with what a responder says and keeps
//!   every request, so a test can check what an adapter sent (recorded
//!   exchanges for Bedrock and OpenSearch, which have no emulator).
//! - [`FaultProxy`]: forwards to the emulator, but answers the next N matching
//!   requests with an injected error (throttling, 5xx, a permanent 400).

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What to answer: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);
type Responder = Arc<dyn Fn(Seen) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

pub struct WireServer {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl WireServer {
    /// Starts on a free loopback port.
    pub async fn start<F, Fut>(responder: F) -> Self
    where
        F: Fn(Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer> + Send + 'static,
    {
        let responder: Responder = Arc::new(move |s| Box::pin(responder(s)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let (responder, log) = (responder.clone(), log.clone());
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
                    .await
                    .unwrap_or_default()
                    .to_vec();
                let s = Seen {
                    method: parts.method.to_string(),
                    path: parts
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                        .collect(),
                    body,
                };
                log.lock().unwrap().push(s.clone());
                let (status, headers, body) = responder(s).await;
                let mut resp = Response::builder().status(StatusCode::from_u16(status).unwrap());
                for (k, v) in headers {
                    resp = resp.header(k, v);
                }
                resp.body(Body::from(body)).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, seen }
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A JSON answer.
pub fn json_answer(status: u16, body: &serde_json::Value) -> Answer {
    (
        status,
        vec![("content-type".into(), "application/json".into())],
        body.to_string().into_bytes(),
    )
}

/// An AWS JSON-protocol error answer (`__type` plus `x-amzn-errortype`).
pub fn aws_json_error(status: u16, code: &str, message: &str) -> Answer {
    let (mut s, mut h, b) = json_answer(
        status,
        &serde_json::json!({"__type": code, "message": message}),
    );
    h.push(("x-amzn-errortype".into(), code.into()));
    s = s.max(400);
    (s, h, b)
}

/// Forwards to `upstream` (not for S3 HEAD: the answer's content-length does not
/// survive the proxy's HTTP server), except that requests whose `X-Amz-Target` ends with
/// one of the queued faults' operation (or, for REST protocols, whose path starts
/// with a fault's `/path`) get that fault instead, once each.
pub struct FaultProxy {
    pub server: WireServer,
    faults: Arc<Mutex<VecDeque<(String, Answer)>>>,
}

impl FaultProxy {
    pub async fn start(upstream: String) -> Self {
        let faults: Arc<Mutex<VecDeque<(String, Answer)>>> = Arc::default();
        let queued = faults.clone();
        let http = reqwest::Client::new();
        let server = WireServer::start(move |s: Seen| {
            let (queued, http, upstream) = (queued.clone(), http.clone(), upstream.clone());
            async move {
                let target = s.header("x-amz-target").unwrap_or_default().to_owned();
                let fault = {
                    let mut q = queued.lock().unwrap();
                    let hit = q.iter().position(|(op, _)| {
                        target.ends_with(op.as_str())
                            || (op.starts_with('/') && s.path.starts_with(op.as_str()))
                    });
                    hit.and_then(|i| q.remove(i))
                };
                if let Some((_, answer)) = fault {
                    return answer;
                }
                let mut req =
                    http.request(s.method.parse().unwrap(), format!("{upstream}{}", s.path));
                for (k, v) in &s.headers {
                    if !matches!(k.as_str(), "host" | "content-length") {
                        req = req.header(k, v);
                    }
                }
                let resp = req.body(s.body).send().await.expect("the emulator answers");
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .filter(|(k, _)| {
                        !matches!(
                            k.as_str(),
                            "content-length" | "transfer-encoding" | "connection"
                        )
                    })
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                (
                    status,
                    headers,
                    resp.bytes().await.unwrap_or_default().to_vec(),
                )
            }
        })
        .await;
        Self { server, faults }
    }

    /// The next `times` calls of `operation` (e.g. "PutItem") answer `answer`.
    pub fn fail(&self, operation: &str, times: usize, answer: Answer) {
        let mut q = self.faults.lock().unwrap();
        for _ in 0..times {
            q.push_back((operation.to_owned(), answer.clone()));
        }
    }

    /// Faults not yet served.
    pub fn pending(&self) -> usize {
        self.faults.lock().unwrap().len()
    }
}
