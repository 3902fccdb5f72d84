//! The local HTTP API. Every route of the route table
//! (`jarvis_lambda::routes::ROUTES`) is served here by the function the table
//! names: the request's bearer token is checked, its body read within the
//! route's limit, and axum's `http::Request` handed to the same handler the
//! Lambda runs — with what API Gateway's HTTP API would attach (the route's
//! request context carrying the token's tenant as the verified `sub` claim,
//! the path and query parameters; `jarvis_lambda::http::local_request`).
//!
//! Besides the table: `GET /healthz` answers with the local queue and models
//! (no token), `GET /openapi.json` (the API described, no token),
//! `POST /documents` also takes a `multipart/form-data` file field, and the
//! `PUT /uploads/{key}` a pre-signed upload URL points at (no token: the URL's
//! signature is the credential, as S3's is); the WebSocket and local-only
//! assistant routes are in [`crate::server_assistant`]; the web app (its
//! files at `/`, `config.json`, the sign-in link's `POST /auth/local`) in
//! [`crate::web`].

use crate::App;
use axum::body::{to_bytes, Body};
use axum::extract::rejection::{QueryRejection, RawPathParamsRejection};
use axum::extract::{FromRequest, Multipart, Path, Query, RawPathParams, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, put, MethodFilter, MethodRouter};
use axum::Router;
use jarvis_core::ports::BlobStore as _;
use jarvis_core::{ApiError, TenantId};
use jarvis_lambda::http as edge;
use jarvis_lambda::routes::{Function, Op, Route, ROUTES};
use jarvis_local::uploads::percent_encode;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/uploads/{*key}", put(put_upload))
        .route("/config.json", get(crate::web::config))
        .route("/files/{bucket}/{*key}", get(get_file))
        .route("/auth/local", axum::routing::post(crate::web::sign_in))
        .merge(crate::server_assistant::routes());
    let mut paths: BTreeMap<&str, MethodRouter<Arc<App>>> = BTreeMap::new();
    for route in ROUTES.iter().filter(|r| r.op != Op::Healthz) {
        let Some(filter) = method_filter(route.method) else {
            tracing::error!(route = %route.key(), "the route table names a method axum cannot route");
            continue;
        };
        let handler = move |State(app): State<Arc<App>>,
                            params: Result<RawPathParams, RawPathParamsRejection>,
                            req: Request| serve(app, route, params, req);
        let methods = paths.remove(route.path).unwrap_or_default();
        paths.insert(route.path, methods.merge(on(filter, handler)));
    }
    for (path, methods) in paths {
        router = router.route(path, methods);
    }
    router
        // The web app's files, for what no route above takes.
        .fallback(crate::web::file)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read (and limited) by hand below, so the limit error is JSON too.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(app)
}

fn method_filter(method: &str) -> Option<MethodFilter> {
    Some(match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        "PATCH" => MethodFilter::PATCH,
        _ => return None,
    })
}

pub(crate) fn error_response(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        err.body(),
    )
        .into_response()
}

pub(crate) async fn not_found() -> Response {
    error_response(&ApiError::NotFound(
        "no such route; see docs/api.md, or GET /openapi.json".into(),
    ))
}

async fn method_not_allowed() -> Response {
    let mut r = error_response(&ApiError::BadRequest(
        "method not allowed on this route".into(),
    ));
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// The tenant of the bearer token, or 401.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<TenantId, ApiError> {
    authenticate_token(app, headers, None)
}

/// The tenant of the bearer token (or of `fallback`, a `?token=`), or 401.
pub(crate) fn authenticate_token(
    app: &App,
    headers: &HeaderMap,
    fallback: Option<&str>,
) -> Result<TenantId, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(fallback)
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    app.stack
        .tokens
        .tenant_for(token)
        .map_err(ApiError::Internal)?
        .ok_or(ApiError::Unauthorized)
}

/// The largest body a route's function reads (a larger one is a JSON 413
/// before the function runs, as API Gateway refuses one over its own limit).
fn body_limit(app: &App, route: &Route) -> u64 {
    match route.function {
        Function::ApiSearch => api_search::MAX_BODY_BYTES,
        Function::ApiDocuments => match route.op {
            Op::UploadDocument => app.stack.config.max_upload_bytes,
            Op::PresignUpload => api_documents::MAX_UPLOAD_REQUEST_BYTES,
            _ => 0,
        },
        Function::ApiChat => api_chat::MAX_BODY_BYTES,
        Function::ToolTasks => tool_tasks::MAX_BODY_BYTES,
        Function::ToolReminders => tool_reminders::MAX_BODY_BYTES,
        Function::ToolEmail => tool_email::MAX_BODY_BYTES,
        Function::ApiMe => api_me::MAX_SETTINGS_BYTES,
    }
}

/// The function the route table names, called with the request.
async fn call(app: &App, route: &Route, req: edge::Request) -> edge::Response {
    match route.function {
        Function::ApiSearch => api_search::handle(&app.search, req).await,
        Function::ApiDocuments => api_documents::handle(&app.documents, req).await,
        Function::ApiChat => api_chat::handle(&app.chat, req).await,
        Function::ToolTasks => tool_tasks::handle(&app.tools.tasks, req).await,
        Function::ToolReminders => tool_reminders::handle(&app.tools.reminders, req).await,
        Function::ToolEmail => tool_email::handle(&app.tools.email, req).await,
        Function::ApiMe => api_me::handle(&app.me, req).await,
    }
}

/// One request of the route table: authenticated, its body read within the
/// route's limit, handed to the route's function as the request API Gateway
/// would deliver, and the function's response sent back as it is.
async fn serve(
    app: Arc<App>,
    route: &'static Route,
    params: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
) -> Response {
    let request = async {
        let tenant = authenticate(&app, req.headers())?;
        let params: Vec<(String, String)> = params
            .map_err(|e| ApiError::BadRequest(e.body_text()))?
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let limit = body_limit(&app, route);
        let req = if route.op == Op::UploadDocument && is_multipart(req.headers()) {
            multipart_upload(req, limit).await?
        } else {
            let (parts, body) = req.into_parts();
            let bytes = read_body(body, limit).await?;
            axum::http::Request::from_parts(parts, lambda_body(bytes))
        };
        Ok::<_, ApiError>(edge::local_request(req, route, &tenant, params))
    }
    .await;
    match request {
        Ok(req) => from_lambda(call(&app, route, req).await),
        Err(e) => error_response(&e),
    }
}

/// The body as API Gateway passes it: text when it is UTF-8, else binary.
fn lambda_body(bytes: Vec<u8>) -> edge::Body {
    if bytes.is_empty() {
        return edge::Body::Empty;
    }
    match String::from_utf8(bytes) {
        Ok(text) => edge::Body::Text(text),
        Err(e) => edge::Body::Binary(e.into_bytes()),
    }
}

fn from_lambda(response: edge::Response) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        edge::Body::Text(t) => Body::from(t),
        edge::Body::Binary(b) => Body::from(b),
        _ => Body::empty(),
    };
    Response::from_parts(parts, body)
}

/// Reads the body up to `limit` bytes; beyond it, a JSON 413.
async fn read_body(body: Body, limit: u64) -> Result<Vec<u8>, ApiError> {
    to_bytes(body, limit as usize)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            ApiError::PayloadTooLarge(format!(
                "the body is larger than the limit of {limit} bytes"
            ))
        })
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"))
}

/// `POST /documents` as a `multipart/form-data` form (what a browser's file
/// input sends): the first file field becomes the raw body with `?name=`, the
/// request api-documents takes.
async fn multipart_upload(
    req: Request,
    limit: u64,
) -> Result<axum::http::Request<edge::Body>, ApiError> {
    let (mut parts, body) = req.into_parts();
    let query = parts.uri.query().unwrap_or("").to_owned();
    // The form's own framing adds a little to the file; allow for it.
    let bytes = read_body(body, limit + MULTIPART_OVERHEAD).await?;
    let form_req = Request::from_parts(parts.clone(), Body::from(bytes));
    let mut form = Multipart::from_request(form_req, &())
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let Some(name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        // Its size is api-documents' to check, as for a raw body.
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        let query = format!(
            "{}{}name={}",
            query,
            if query.is_empty() { "" } else { "&" },
            percent_encode(&name)
        );
        parts.uri = format!("{}?{query}", parts.uri.path())
            .parse()
            .map_err(|_| ApiError::BadRequest("the file name makes no URL".into()))?;
        parts.headers.remove(header::CONTENT_TYPE);
        return Ok(axum::http::Request::from_parts(
            parts,
            lambda_body(bytes.to_vec()),
        ));
    }
    Err(ApiError::BadRequest("the form has no file field".into()))
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let body = json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "queue_depth": app.stack.queue.depth().ok(),
        "runs_in_flight": app.stack.workflows.running().ok(),
        "embedder": app.stack.embedder.model_id(),
        "ocr": app.stack.ocr.version(),
        "transcriber": null,
    });
    axum::Json(body).into_response()
}

/// `GET /openapi.json` (no token): the HTTP API as an OpenAPI 3.1 document.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(crate::openapi::document);
    axum::Json(DOCUMENT.clone()).into_response()
}

/// `PUT /uploads/{key}?expires=…&size=…[&new=1]&signature=…`: what S3 does
/// with a pre-signed PUT. The signature must match the key, the request's
/// content type and its size; the body must be exactly that size; with
/// `new=1` a file of that key is never replaced (409). The object then
/// lands in the raw bucket, whose store queues it for the pipeline like any
/// other arrival.
async fn put_upload(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    req: Request,
) -> Response {
    let result = async {
        let (parts, body) = req.into_parts();
        let Query(query) = query.map_err(|e| ApiError::Forbidden(e.body_text()))?;
        let field = |name: &str| {
            query.get(name).cloned().ok_or_else(|| {
                ApiError::Forbidden(format!(
                    "the upload URL lacks its {name}; use the URL POST /uploads gave"
                ))
            })
        };
        let signature = field("signature")?;
        let expires: i64 = field("expires")?
            .parse()
            .map_err(|_| ApiError::Forbidden("the upload URL's expiry is not a time".into()))?;
        let size: u64 = field("size")?
            .parse()
            .map_err(|_| ApiError::Forbidden("the upload URL's size is not a number".into()))?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let only_new = query.get("new").is_some_and(|v| v == "1");
        app.stack
            .uploads
            .verify(
                &key,
                &content_type,
                size,
                only_new,
                expires,
                &signature,
                chrono::Utc::now(),
            )
            .map_err(|e| ApiError::Forbidden(e.to_string()))?;
        let bytes = read_body(body, size).await?;
        if bytes.len() as u64 != size {
            return Err(ApiError::BadRequest(format!(
                "the body is {} bytes; this URL takes exactly {size}",
                bytes.len()
            )));
        }
        let blobs = &app.stack.blobs;
        let bucket = &app.documents.raw_bucket;
        let stored = if only_new {
            // S3 answers 412 to an If-None-Match PUT of a key that exists; 409 here.
            blobs
                .put_new(bucket, &key, bytes, &content_type)
                .await
                .map_err(|e| match e {
                    jarvis_core::PortError::Conflict(_) => ApiError::Conflict(
                        "a file with this name arrived meanwhile, and it is not replaced; ask POST /uploads for a new URL".into(),
                    ),
                    e => e.into(),
                })?
        } else {
            blobs.put(bucket, &key, bytes, &content_type).await?
        };
        Ok(stored.etag)
    }
    .await;
    match result {
        Ok(etag) => (StatusCode::OK, [(header::ETAG, format!("\"{etag}\""))]).into_response(),
        Err(e) => error_response(&e),
    }
}

/// `GET /files/{bucket}/{key}?expires=…&signature=…`: what a pre-signed S3
/// GET is, for `GET /documents/{id}/original`'s link. Served so that the file
/// cannot act as this origin: a PDF as itself (the browser's viewer, `#page=`
/// works), text as plain text, anything else sandboxed (no scripts, an opaque
/// origin) — an uploaded HTML page never runs in the app's origin.
async fn get_file(
    State(app): State<Arc<App>>,
    Path((bucket, key)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let result = async {
        let Query(query) = query.map_err(|e| ApiError::Forbidden(e.body_text()))?;
        let field = |name: &str| {
            query.get(name).cloned().ok_or_else(|| {
                ApiError::Forbidden(format!(
                    "the link lacks its {name}; ask GET /documents/{{id}}/original for one"
                ))
            })
        };
        let signature = field("signature")?;
        let expires: i64 = field("expires")?
            .parse()
            .map_err(|_| ApiError::Forbidden("the link's expiry is not a time".into()))?;
        app.stack
            .uploads
            .verify_download(&bucket, &key, expires, &signature, chrono::Utc::now())
            .map_err(|e| ApiError::Forbidden(e.to_string().replace("upload URL", "link")))?;
        let bytes = app.stack.blobs.get(&bucket, &key).await?;
        let content_type =
            jarvis_core::pipeline::content_type_by_name(&key).unwrap_or("application/octet-stream");
        Ok::<_, ApiError>((bytes, content_type))
    }
    .await;
    match result {
        Ok((bytes, content_type)) => {
            let (shown_as, sandbox) = match content_type {
                "application/pdf" => ("application/pdf", false),
                t if t.starts_with("text/") && t != "text/html" => {
                    ("text/plain; charset=utf-8", false)
                }
                "application/json" => ("text/plain; charset=utf-8", false),
                t => (t, true),
            };
            let mut r = (StatusCode::OK, bytes).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                shown_as.parse().expect("a content type"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                "inline".parse().expect("a header"),
            );
            h.insert(
                "x-content-type-options",
                "nosniff".parse().expect("a header"),
            );
            h.insert(
                header::CACHE_CONTROL,
                "private, no-store".parse().expect("a header"),
            );
            if sandbox {
                h.insert(
                    "content-security-policy",
                    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
                        .parse()
                        .expect("a header"),
                );
            }
            r
        }
        Err(e) => error_response(&e),
    }
}

/// Allowance for multipart boundaries and part headers over the file size limit.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!(
            "the file is larger than the limit of {limit} bytes"
        ))
    } else {
        ApiError::BadRequest(format!(
            "the multipart form could not be read: {}",
            e.body_text()
        ))
    }
}
