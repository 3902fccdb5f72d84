//! The local HTTP API. Each request is checked for a bearer token, turned into
//! the API Gateway HTTP API (v2) event the Lambda would receive — with the
//! token's tenant as the verified `sub` claim — and handed to the same handler.
//!
//! Routes: `POST /search`, `POST /documents` (raw body with `?name=`, or
//! `multipart/form-data` with a file field), `GET /documents`,
//! `GET|DELETE /documents/{id}`, `GET /openapi.json` (the API described, no
//! token), `POST /uploads` (a pre-signed upload URL) and
//! the `PUT /uploads/{key}` it points at (no token: the URL's signature is the
//! credential, as S3's is), and `GET /healthz` (no token needed); the
//! assistant's routes are in [`crate::server_assistant`].

use crate::App;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body as LambdaBody;
use axum::body::{to_bytes, Body};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine as _;
use jarvis_core::ports::BlobStore as _;
use jarvis_core::{ApiError, TenantId};
use jarvis_local::uploads::percent_encode;
use serde_json::json;
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/search", post(search))
        .route("/documents", post(upload).get(list))
        .route("/documents/{id}", get(document).delete(document))
        .route("/uploads", post(presign_upload))
        .route("/uploads/{*key}", put(put_upload))
        .merge(crate::server_assistant::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read (and limited) by hand below, so the limit error is JSON too.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(app)
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

async fn not_found() -> Response {
    error_response(&ApiError::NotFound(
        "no such route; see README.md for the API".into(),
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

/// What the bridge needs from an HTTP request to build the Lambda event.
struct Incoming {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    route_key: &'static str,
    path_params: serde_json::Value,
    body: Vec<u8>,
}

/// Builds the API Gateway event exactly as the HTTP API with a JWT authorizer sends it.
fn to_event(tenant: &TenantId, incoming: Incoming) -> Result<ApiGatewayV2httpRequest, ApiError> {
    let headers: serde_json::Map<String, serde_json::Value> = incoming
        .headers
        .iter()
        .filter(|(name, _)| *name != header::AUTHORIZATION)
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), json!(value.to_str().ok()?))))
        .collect();
    let query: serde_json::Map<String, serde_json::Value> = url_pairs(&incoming.query)
        .map(|(k, v)| (k, json!(v)))
        .collect();
    let (body, is_base64) = match std::str::from_utf8(&incoming.body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&incoming.body),
            true,
        ),
    };
    let event = json!({
        "version": "2.0",
        "routeKey": incoming.route_key,
        "rawPath": incoming.path,
        "rawQueryString": incoming.query,
        "headers": headers,
        "queryStringParameters": query,
        "pathParameters": incoming.path_params,
        "requestContext": {
            "routeKey": incoming.route_key,
            "accountId": "local",
            "stage": "$default",
            "requestId": format!("local-{}", uuid_like()),
            "http": { "method": incoming.method.as_str(), "path": incoming.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1" },
            "authorizer": { "jwt": { "claims": { "sub": tenant.as_str() }, "scopes": null } },
            "timeEpoch": chrono::Utc::now().timestamp_millis()
        },
        "body": body,
        "isBase64Encoded": is_base64
    });
    serde_json::from_value(event)
        .map_err(|e| ApiError::BadRequest(format!("request could not be read: {e}")))
}

fn uuid_like() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// Decoded `a=b&c=d` pairs (percent-decoding and `+` as space).
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

pub(crate) fn from_lambda(response: ApiGatewayV2httpResponse) -> Response {
    let status = StatusCode::from_u16(response.status_code as u16)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match response.body {
        Some(LambdaBody::Text(t)) => Body::from(t),
        Some(LambdaBody::Binary(b)) => Body::from(b),
        _ => Body::empty(),
    };
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = response.headers;
    out
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

pub(crate) async fn bridge(
    app: &App,
    req: Request,
    route_key: &'static str,
    path_params: serde_json::Value,
    limit: u64,
) -> Result<ApiGatewayV2httpRequest, ApiError> {
    let tenant = authenticate(app, req.headers())?;
    let (parts, body) = req.into_parts();
    let body = read_body(body, limit).await?;
    to_event(
        &tenant,
        Incoming {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            headers: parts.headers,
            route_key,
            path_params,
            body,
        },
    )
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

async fn search(State(app): State<Arc<App>>, req: Request) -> Response {
    match bridge(
        &app,
        req,
        "POST /search",
        json!({}),
        api_search::MAX_BODY_BYTES,
    )
    .await
    {
        Ok(event) => from_lambda(api_search::handle(&app.search, event).await),
        Err(e) => error_response(&e),
    }
}

async fn list(State(app): State<Arc<App>>, req: Request) -> Response {
    match bridge(&app, req, "GET /documents", json!({}), 0).await {
        Ok(event) => from_lambda(api_documents::handle(&app.documents, event).await),
        Err(e) => error_response(&e),
    }
}

async fn document(State(app): State<Arc<App>>, Path(id): Path<String>, req: Request) -> Response {
    let route = if req.method() == Method::DELETE {
        "DELETE /documents/{id}"
    } else {
        "GET /documents/{id}"
    };
    match bridge(&app, req, route, json!({ "id": id }), 0).await {
        Ok(event) => from_lambda(api_documents::handle(&app.documents, event).await),
        Err(e) => error_response(&e),
    }
}

/// `POST /documents`: a raw body with `?name=`, or a multipart form's first file field.
async fn upload(State(app): State<Arc<App>>, req: Request) -> Response {
    let limit = app.stack.config.max_upload_bytes;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let result = async {
        if !is_multipart {
            return bridge(&app, req, "POST /documents", json!({}), limit).await;
        }
        let tenant = authenticate(&app, req.headers())?;
        let (parts, body) = req.into_parts();
        let query = parts.uri.query().unwrap_or("").to_owned();
        // The form's own framing adds a little to the file; allow for it.
        let bytes = read_body(body, limit + MULTIPART_OVERHEAD).await?;
        let req = Request::from_parts(parts, Body::from(bytes));
        let mut form = Multipart::from_request(req, &())
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
            let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
            let query = format!(
                "{}{}name={}",
                query,
                if query.is_empty() { "" } else { "&" },
                percent_encode(&name)
            );
            return to_event(
                &tenant,
                Incoming {
                    method: Method::POST,
                    path: "/documents".into(),
                    query,
                    headers: HeaderMap::new(),
                    route_key: "POST /documents",
                    path_params: json!({}),
                    body: bytes.to_vec(),
                },
            );
        }
        Err(ApiError::BadRequest("the form has no file field".into()))
    }
    .await;
    match result {
        Ok(event) => from_lambda(api_documents::handle(&app.documents, event).await),
        Err(e) => error_response(&e),
    }
}

/// `POST /uploads`: a pre-signed URL for a file too large for one request.
async fn presign_upload(State(app): State<Arc<App>>, req: Request) -> Response {
    match bridge(
        &app,
        req,
        "POST /uploads",
        json!({}),
        api_documents::MAX_UPLOAD_REQUEST_BYTES,
    )
    .await
    {
        Ok(event) => from_lambda(api_documents::handle(&app.documents, event).await),
        Err(e) => error_response(&e),
    }
}

/// `PUT /uploads/{key}?expires=…&size=…&signature=…`: what S3 does with a
/// pre-signed PUT. The signature must match the key, the request's content
/// type and its size; the body must be exactly that size. The object then
/// lands in the raw bucket, whose store queues it for the pipeline like any
/// other arrival.
async fn put_upload(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let result = async {
        let (parts, body) = req.into_parts();
        let query: std::collections::HashMap<String, String> =
            url_pairs(parts.uri.query().unwrap_or("")).collect();
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
        app.stack
            .uploads
            .verify(
                &key,
                &content_type,
                size,
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
        let stored = app
            .stack
            .blobs
            .put(&app.documents.raw_bucket, &key, bytes, &content_type)
            .await?;
        Ok(stored.etag)
    }
    .await;
    match result {
        Ok(etag) => (StatusCode::OK, [(header::ETAG, format!("\"{etag}\""))]).into_response(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let pairs: Vec<_> = url_pairs("name=my%20notes.md&x=a+b&bad=%zz").collect();
        assert_eq!(pairs[0], ("name".into(), "my notes.md".into()));
        assert_eq!(pairs[1].1, "a b");
        assert_eq!(pairs[2].1, "%zz");
        assert_eq!(
            percent_decode(&percent_encode("résumé 1.pdf")),
            "résumé 1.pdf"
        );
    }
}
