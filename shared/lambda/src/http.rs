//! The HTTP functions' edge, a thin layer over `lambda_http`: a handler takes a
//! [`Request`] (an `http::Request` whose extensions carry API Gateway's request
//! context, path and query parameters) and returns a [`Response`]. On Lambda,
//! `lambda_http` builds the request from API Gateway's payload format 2.0 event;
//! the local runtime builds the same `http::Request` from axum's, with the
//! caller's claims attached as the request context ([`local_request`]).
//!
//! What this adds over `http`: the caller's tenant from the verified claims
//! ([`tenant`]), the route from the route table ([`route`]), bodies read with a
//! size limit and a content-type check, and JSON answers — every error the
//! `{"error": {"code", "message"}}` body of an [`ApiError`].

use crate::routes::{self, Route};
use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::query_map::QueryMap;
use jarvis_core::contract::{self, Contract};
use jarvis_core::{ApiError, TenantId};
use lambda_http::http::header::{CONTENT_TYPE, LOCATION};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use lambda_http::{Body, Request};

/// What an HTTP handler answers.
pub type Response = lambda_http::Response<Body>;

/// API Gateway's request context, when the request came through an HTTP API
/// (or the local runtime, which attaches the same).
fn context(req: &Request) -> Option<&ApiGatewayV2httpRequestContext> {
    #[allow(unreachable_patterns)] // other origins exist when lambda_http's features grow
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => Some(ctx),
        _ => None,
    }
}

/// The caller's tenant: the `sub` claim the JWT authorizer verified. There is no
/// other source — a tenant named in the body, query or a header is never trusted.
/// No request context, no JWT claims, or a `sub` that is not a tenant id: 401.
pub fn tenant(req: &Request) -> Result<TenantId, ApiError> {
    let sub = context(req)
        .and_then(|ctx| ctx.authorizer.as_ref())
        .and_then(|a| a.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"))
        .ok_or(ApiError::Unauthorized)?;
    TenantId::parse(sub).map_err(|_| ApiError::Unauthorized)
}

/// The route API Gateway matched (the request context's route key), from the
/// route table; a request for no route of the table is a 404. Its path and
/// query parameters are checked here against the schemas the OpenAPI document
/// prints ([`routes::parameters`]): one that does not fit is a 400 before any
/// handler runs.
pub fn route(req: &Request) -> Result<&'static Route, ApiError> {
    let key = context(req)
        .and_then(|ctx| ctx.route_key.as_deref())
        .unwrap_or_default();
    let route = routes::find(key).ok_or_else(|| ApiError::NotFound(format!("no route {key:?}")))?;
    for param in routes::parameters(route) {
        let raw = match param.location {
            routes::In::Path => path_param(req, param.name),
            routes::In::Query => query(req, param.name),
            routes::In::Header => match req.headers().get(param.name) {
                Some(v) => Some(v.to_str().map_err(|_| {
                    ApiError::BadRequest(format!("{} must be visible ASCII", param.name))
                })?),
                None => None,
            },
        };
        param.check(raw).map_err(ApiError::BadRequest)?;
    }
    Ok(route)
}

/// The 404 of a function asked for a route of the table it does not answer
/// (API Gateway never sends one; a miswired integration shows up as this).
pub fn not_here(function: &str, route: &Route) -> ApiError {
    ApiError::NotFound(format!("{function} has no route {}", route.key()))
}

/// A query-string parameter (percent-decoded; the first when repeated).
pub fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()?.first(name)
}

/// A path parameter from the route (`/documents/{id}`).
pub fn path_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.path_parameters_ref()?.first(name)
}

/// A request header's value (names are case-insensitive).
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The request body (API Gateway's base64 already decoded), at most `max` bytes.
pub fn body_bytes(req: &Request, max: u64) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() as u64 > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "the body is {} bytes; the limit is {max}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The body parsed as JSON into `T`, after it was checked against `T`'s schema
/// (the one the OpenAPI document prints, [`Contract`]): a request that is not
/// JSON, or not that shape, is a 400/415 saying why (never a panic).
pub fn json_body<T: DeserializeOwned + Contract + 'static>(
    req: &Request,
    max: u64,
) -> Result<T, ApiError> {
    let value = checked_object::<T>(req, max)?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// The body as JSON, checked against `T`'s schema, for handlers that read it
/// as a [`serde_json::Value`] (the tools behind the REST routes).
pub fn checked_object<T: Contract + 'static>(
    req: &Request,
    max: u64,
) -> Result<serde_json::Value, ApiError> {
    let mut value: serde_json::Value = any_json(req, max)?;
    contract::integral_numbers(&mut value);
    contract::schemas::<T>()
        .check(&value)
        .map_err(ApiError::BadRequest)?;
    Ok(value)
}

/// The body parsed as JSON, of any shape.
fn any_json<T: DeserializeOwned>(req: &Request, max: u64) -> Result<T, ApiError> {
    if let Some(ct) = header(req, CONTENT_TYPE.as_str()) {
        if !ct
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected application/json, got {ct}"
            )));
        }
    }
    let bytes = body_bytes(req, max)?;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("the request needs a JSON body".into()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// The answer to `GET /healthz` (no token needed): the deployment is up and
/// this function starts.
pub fn healthz() -> Response {
    json(
        200,
        &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
    )
}

/// A JSON response.
pub fn json<T: Serialize>(status: u16, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => respond(status, body),
        Err(e) => {
            tracing::error!(error = %e, "response did not serialize");
            error(&ApiError::BadRequest(
                "the response could not be encoded".into(),
            ))
        }
    }
}

/// A handler's result as the response: the status and JSON body, or the error.
pub fn reply<T: Serialize>(result: Result<(u16, T), ApiError>) -> Response {
    match result {
        Ok((status, body)) => json(status, &body),
        Err(e) => error(&e),
    }
}

/// The `{"error": {"code", "message"}}` response of an API error. Internal errors
/// are logged with their source here; the body never carries it.
pub fn error(err: &ApiError) -> Response {
    if let ApiError::Internal(source) = err {
        tracing::error!(error = %source, "request failed");
    }
    respond(err.status(), err.body())
}

/// A binary download (`lambda_http` base64-encodes it for API Gateway).
pub fn download(content_type: &'static str, file_name: &str, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::Binary(bytes));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file_name.replace(['"', '\r', '\n'], "_")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert("content-disposition", v);
    }
    response
}

/// 303 See Other to `url` (a pre-signed download), with the URL in a JSON body too.
pub fn see_other(url: &str) -> Response {
    let mut response = respond(303, serde_json::json!({ "url": url }).to_string());
    if let Ok(v) = HeaderValue::from_str(url) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

fn respond(status: u16, body: String) -> Response {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A create (`POST`) that runs at most once per `Idempotency-Key` header
/// ([`jarvis_core::idempotency`]): a retry with the same key and body gets the
/// first answer; the same key with another body is a 422; with no key the
/// create just runs. Keys are scoped to the tenant and the route. A retry
/// after the created `T` was deleted is a 409 rather than the first answer
/// again: it would name something that no longer exists.
pub async fn create_once<T: jarvis_core::records::Record, F, Fut>(
    records: &dyn jarvis_core::ports::RecordStore,
    req: &Request,
    tenant: &jarvis_core::TenantId,
    now: chrono::DateTime<chrono::Utc>,
    work: F,
) -> Result<(u16, serde_json::Value), ApiError>
where
    F: FnOnce(jarvis_core::idempotency::ItemId) -> Fut,
    Fut: std::future::Future<Output = Result<(u16, serde_json::Value), ApiError>>,
{
    let route = route(req)?.key();
    let body: &[u8] = req.body().as_ref();
    let key = header(req, jarvis_core::idempotency::HEADER);
    let (status, answer, replayed) =
        jarvis_core::idempotency::once(records, tenant, &route, key, body, now, work).await?;
    if replayed {
        let id = answer["id"].as_str().unwrap_or_default();
        if jarvis_core::records::get::<T>(records, tenant, id)
            .await?
            .is_none()
        {
            return Err(ApiError::Conflict(format!(
                "what this Idempotency-Key created ({id}) was deleted since; send a new key to create it again"
            )));
        }
    }
    Ok((status, answer))
}

/// The request the local runtime hands a function: `request` as it arrived
/// (method, URI, headers but `Authorization`, the body read within its limit),
/// with what API Gateway's HTTP API would attach — the request context of
/// `route` carrying `tenant` as the verified `sub` claim, the path parameters
/// and the query-string parameters.
pub fn local_request(
    request: lambda_http::http::Request<Body>,
    route: &Route,
    tenant: &TenantId,
    path_params: impl IntoIterator<Item = (String, String)>,
) -> Request {
    let (mut parts, body) = request.into_parts();
    parts
        .headers
        .remove(lambda_http::http::header::AUTHORIZATION);
    let query: QueryMap = parts
        .uri
        .query()
        .unwrap_or("")
        .parse()
        .unwrap_or_else(|e: std::convert::Infallible| match e {});
    let params: std::collections::HashMap<String, String> = path_params.into_iter().collect();
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims.insert("sub".into(), tenant.as_str().into());
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method.clone();
    http.path = Some(parts.uri.path().to_owned());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some("127.0.0.1".into());
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.route_key = Some(route.key());
    ctx.account_id = Some("local".into());
    ctx.stage = Some("$default".into());
    ctx.http = http;
    ctx.authorizer = Some(authorizer);
    ctx.time_epoch = chrono::Utc::now().timestamp_millis();
    lambda_http::http::Request::from_parts(parts, body)
        .with_request_context(RequestContext::ApiGatewayV2(ctx))
        .with_path_parameters(QueryMap::from(params))
        .with_query_string_parameters(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Request {
        lambda_http::request::from_str(&json.to_string()).unwrap()
    }

    fn event(route_key: &str, extra: serde_json::Value) -> serde_json::Value {
        let (method, path) = route_key.split_once(' ').unwrap();
        let mut event = serde_json::json!({
            "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": "",
            "headers": {},
            "requestContext": {"routeKey": route_key, "stage": "$default", "http": {"method": method, "path": path}}
        });
        for (k, v) in extra.as_object().unwrap() {
            if k == "authorizer" {
                event["requestContext"]["authorizer"] = v.clone();
            } else {
                event[k] = v.clone();
            }
        }
        event
    }

    fn error_json(response: &Response) -> (u16, serde_json::Value) {
        let body: &[u8] = response.body().as_ref();
        (
            response.status().as_u16(),
            serde_json::from_slice(body).unwrap(),
        )
    }

    #[test]
    fn the_route_comes_from_the_table() {
        let health = request(event("GET /healthz", serde_json::json!({})));
        assert_eq!(route(&health).unwrap().op, routes::Op::Healthz);
        let (status, body) = error_json(&healthz());
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
        let unknown = request(event("GET /elsewhere", serde_json::json!({})));
        assert_eq!(route(&unknown).unwrap_err().status(), 404);
        let bare: Request = lambda_http::http::Request::new(Body::Empty);
        assert_eq!(route(&bare).unwrap_err().status(), 404);
    }

    #[test]
    fn the_tenant_comes_only_from_verified_claims() {
        let with = request(event(
            "POST /search",
            serde_json::json!({
                "authorizer": {"jwt": {"claims": {"sub": "alice"}, "scopes": null}},
                "rawQueryString": "tenant=bob",
                "headers": {"x-tenant": "bob"}
            }),
        ));
        assert_eq!(tenant(&with).unwrap().as_str(), "alice");
    }

    /// The extractor: a request without claims, with claims but no `sub`, with
    /// a `sub` that is no tenant id, or with no request context at all (not
    /// from API Gateway) is a 401 with the JSON error body.
    #[test]
    fn missing_or_invalid_claims_are_401_json() {
        let cases = [
            (
                "no authorizer",
                event("POST /search", serde_json::json!({})),
            ),
            (
                "claims without sub",
                event(
                    "POST /search",
                    serde_json::json!({"authorizer": {"jwt": {"claims": {"email": "a@example.com"}, "scopes": null}}}),
                ),
            ),
            (
                "a sub that is no tenant id",
                event(
                    "POST /search",
                    serde_json::json!({"authorizer": {"jwt": {"claims": {"sub": "../bob"}, "scopes": null}}}),
                ),
            ),
            (
                "an empty sub",
                event(
                    "POST /search",
                    serde_json::json!({"authorizer": {"jwt": {"claims": {"sub": ""}, "scopes": null}}}),
                ),
            ),
        ];
        let mut requests: Vec<(&str, Request)> =
            cases.into_iter().map(|(n, e)| (n, request(e))).collect();
        requests.push(("no request context", Request::new(Body::Empty)));
        for (name, req) in requests {
            let err = tenant(&req).expect_err(name);
            let response = error(&err);
            assert_eq!(
                response.headers()[CONTENT_TYPE],
                "application/json",
                "{name}"
            );
            let (status, body) = error_json(&response);
            assert_eq!(status, 401, "{name}");
            assert_eq!(body["error"]["code"], "unauthorized", "{name}: {body}");
        }
    }

    #[test]
    fn bodies_are_checked_for_size_encoding_and_type() {
        let big = request(event(
            "POST /search",
            serde_json::json!({"body": "x".repeat(11)}),
        ));
        assert_eq!(body_bytes(&big, 10).unwrap_err().status(), 413);
        let b64 = request(event(
            "POST /search",
            serde_json::json!({"body": "aGk=", "isBase64Encoded": true}),
        ));
        assert_eq!(body_bytes(&b64, 10).unwrap(), b"hi");
        let form = request(event(
            "POST /search",
            serde_json::json!({"body": "a=b", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
        ));
        assert_eq!(
            json_body::<jarvis_core::search::SearchRequest>(&form, 100)
                .unwrap_err()
                .status(),
            415
        );
        let broken = request(event(
            "POST /search",
            serde_json::json!({"body": "{\"query\":"}),
        ));
        assert_eq!(
            json_body::<jarvis_core::search::SearchRequest>(&broken, 100)
                .unwrap_err()
                .status(),
            400
        );
        let array = request(event("POST /search", serde_json::json!({"body": "[1]"})));
        let e = json_body::<jarvis_core::search::SearchRequest>(&array, 100).unwrap_err();
        assert_eq!(
            (e.status(), e.to_string()),
            (400, "the body must be object".into())
        );
        // The schema's rules, before serde: a blank query, a limit past 50.
        for (body, says) in [
            (r#"{"query": "  "}"#, "query must not be blank"),
            (r#"{"query": "x", "limit": 51}"#, "limit must be at most 50"),
            (r#"{"query": "x", "mode": "fast"}"#, "mode"),
            (
                r#"{"query": "x", "extra": 1}"#,
                "extra is not a field of the body",
            ),
        ] {
            let req = request(event("POST /search", serde_json::json!({ "body": body })));
            let e = json_body::<jarvis_core::search::SearchRequest>(&req, 1000).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert!(e.to_string().contains(says), "{body}: {e}");
        }
        // 43.0 is the integer 43, as JSON Schema counts.
        let req = request(event(
            "POST /search",
            serde_json::json!({"body": r#"{"query": "x", "limit": 43.0}"#}),
        ));
        assert_eq!(
            json_body::<jarvis_core::search::SearchRequest>(&req, 1000)
                .unwrap()
                .limit,
            Some(43)
        );
    }

    #[test]
    fn a_local_request_reads_like_an_api_gateway_one() {
        let route = routes::find("GET /documents/{id}").unwrap();
        let incoming = lambda_http::http::Request::builder()
            .method("GET")
            .uri("http://localhost/documents/doc_0123456789abcdef01234567?status=indexed&name=my%20notes.md")
            .header("authorization", "Bearer secret")
            .body(Body::Empty)
            .unwrap();
        let alice = TenantId::parse("alice").unwrap();
        let id = "doc_0123456789abcdef01234567";
        let req = local_request(incoming, route, &alice, [("id".into(), id.into())]);
        assert_eq!(tenant(&req).unwrap(), alice);
        assert_eq!(self::route(&req).unwrap(), route);
        assert_eq!(path_param(&req, "id"), Some(id));
        assert_eq!(query(&req, "status"), Some("indexed"));
        assert_eq!(query(&req, "name"), Some("my notes.md"));
        assert!(
            header(&req, "authorization").is_none(),
            "the token stops at the edge"
        );
    }
}
