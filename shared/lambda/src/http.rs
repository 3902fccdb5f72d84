//! API Gateway HTTP API (payload v2) requests and responses, as the API handlers
//! see them on Lambda and in the local runtime alike.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{header::CONTENT_TYPE, HeaderValue};
use base64::Engine as _;
use jarvis_core::{ApiError, TenantId};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The caller's tenant: the `sub` claim the JWT authorizer verified. There is no
/// other source — a tenant named in the body or query is never trusted.
pub fn tenant(req: &ApiGatewayV2httpRequest) -> Result<TenantId, ApiError> {
    let sub = req
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"))
        .ok_or(ApiError::Unauthorized)?;
    TenantId::parse(sub).map_err(|_| ApiError::Unauthorized)
}

/// The HTTP method, upper case.
pub fn method(req: &ApiGatewayV2httpRequest) -> &str {
    req.request_context.http.method.as_str()
}

/// A query-string parameter.
pub fn query<'a>(req: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    req.query_string_parameters.first(name)
}

/// A path parameter from the route (`/documents/{id}`).
pub fn path_param<'a>(req: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    req.path_parameters.get(name).map(String::as_str)
}

/// The raw request body (API Gateway base64-encodes binary bodies), at most `max` bytes.
pub fn body_bytes(req: &ApiGatewayV2httpRequest, max: u64) -> Result<Vec<u8>, ApiError> {
    let raw = req.body.as_deref().unwrap_or("");
    let bytes = if req.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| {
                ApiError::BadRequest("the body is marked base64 but is not valid base64".into())
            })?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() as u64 > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "the body is {} bytes; the limit is {max}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The body parsed as JSON into `T`; a request that is not JSON, or not the
/// expected shape, is a 400/415 with serde's explanation (never a panic).
/// A JSON object body (`shape` tells the caller what it holds when it is not one).
pub fn json_object(
    req: &ApiGatewayV2httpRequest,
    max: u64,
    shape: &str,
) -> Result<serde_json::Value, ApiError> {
    let body: serde_json::Value = json_body(req, max)?;
    if !body.is_object() {
        return Err(ApiError::BadRequest(format!(
            "the body is a JSON object: {shape}"
        )));
    }
    Ok(body)
}

pub fn json_body<T: DeserializeOwned>(
    req: &ApiGatewayV2httpRequest,
    max: u64,
) -> Result<T, ApiError> {
    if let Some(ct) = req.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
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
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// The route API Gateway sends liveness checks to (no authorizer on it).
pub const HEALTHZ_ROUTE: &str = "GET /healthz";

/// The answer to `GET /healthz`, which any API function gives before its own
/// routing: the deployment is up and this function starts. `None` for other routes.
pub fn healthz(req: &ApiGatewayV2httpRequest) -> Option<ApiGatewayV2httpResponse> {
    (req.route_key.as_deref() == Some(HEALTHZ_ROUTE)).then(|| {
        json(
            200,
            &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
        )
    })
}

/// A JSON response.
pub fn json<T: Serialize>(status: u16, value: &T) -> ApiGatewayV2httpResponse {
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
pub fn reply<T: Serialize>(result: Result<(u16, T), ApiError>) -> ApiGatewayV2httpResponse {
    match result {
        Ok((status, body)) => json(status, &body),
        Err(e) => error(&e),
    }
}

/// The `{"error": {"code", "message"}}` response of an API error. Internal errors
/// are logged with their source here; the body never carries it.
pub fn error(err: &ApiError) -> ApiGatewayV2httpResponse {
    if let ApiError::Internal(source) = err {
        tracing::error!(error = %source, "request failed");
    }
    respond(err.status(), err.body())
}

/// A binary download (API Gateway carries it base64-encoded).
pub fn download(
    content_type: &'static str,
    file_name: &str,
    bytes: Vec<u8>,
) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = 200;
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file_name.replace(['"', '\r', '\n'], "_")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response.headers.insert("content-disposition", v);
    }
    response.is_base64_encoded = true;
    response.body = Some(Body::Binary(bytes));
    response
}

/// 303 See Other to `url` (a pre-signed download), with the URL in a JSON body too.
pub fn see_other(url: &str) -> ApiGatewayV2httpResponse {
    let mut response = respond(303, serde_json::json!({ "url": url }).to_string());
    if let Ok(v) = HeaderValue::from_str(url) {
        response.headers.insert("location", v);
    }
    response
}

fn respond(status: u16, body: String) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body));
    response
}

/// A request header's value (names are case-insensitive).
pub fn header<'a>(req: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A create (`POST`) that runs at most once per `Idempotency-Key` header
/// ([`jarvis_core::idempotency`]): a retry with the same key and body gets the
/// first answer; the same key with another body is a 422; with no key the
/// create just runs.
pub async fn create_once<F, Fut>(
    records: &dyn jarvis_core::ports::RecordStore,
    req: &ApiGatewayV2httpRequest,
    tenant: &jarvis_core::TenantId,
    now: chrono::DateTime<chrono::Utc>,
    work: F,
) -> Result<(u16, serde_json::Value), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(u16, serde_json::Value), ApiError>>,
{
    let route = req.route_key.as_deref().unwrap_or_default();
    let body = req.body.as_deref().unwrap_or_default().as_bytes();
    let key = header(req, jarvis_core::idempotency::HEADER);
    let (status, answer, _replayed) =
        jarvis_core::idempotency::once(records, tenant, route, key, body, now, work).await?;
    Ok((status, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn healthz_answers_only_its_route_and_needs_no_claims() {
        let health = request(serde_json::json!({
            "routeKey": "GET /healthz", "requestContext": {"http": {"method": "GET"}}
        }));
        let ok = healthz(&health).expect("answered");
        assert_eq!(ok.status_code, 200);
        let other = request(serde_json::json!({
            "routeKey": "POST /search", "requestContext": {"http": {"method": "POST"}}
        }));
        assert!(healthz(&other).is_none());
    }

    #[test]
    fn the_tenant_comes_only_from_verified_claims() {
        let with = request(serde_json::json!({
            "requestContext": {"http": {"method": "POST"}, "authorizer": {"jwt": {"claims": {"sub": "alice"}, "scopes": null}}},
            "queryStringParameters": {"tenant": "bob"}
        }));
        assert_eq!(tenant(&with).unwrap().as_str(), "alice");
        let without = request(serde_json::json!({"requestContext": {"http": {"method": "POST"}}}));
        assert_eq!(tenant(&without).unwrap_err().status(), 401);
    }

    #[test]
    fn bodies_are_checked_for_size_encoding_and_type() {
        let big = request(
            serde_json::json!({"requestContext": {"http": {"method": "POST"}}, "body": "x".repeat(11)}),
        );
        assert_eq!(body_bytes(&big, 10).unwrap_err().status(), 413);
        let b64 = request(
            serde_json::json!({"requestContext": {"http": {"method": "POST"}}, "body": "aGk=", "isBase64Encoded": true}),
        );
        assert_eq!(body_bytes(&b64, 10).unwrap(), b"hi");
        let form = request(serde_json::json!({
            "requestContext": {"http": {"method": "POST"}}, "body": "a=b", "headers": {"content-type": "application/x-www-form-urlencoded"}
        }));
        assert_eq!(
            json_body::<serde_json::Value>(&form, 100)
                .unwrap_err()
                .status(),
            415
        );
        let broken = request(
            serde_json::json!({"requestContext": {"http": {"method": "POST"}}, "body": "{\"query\":"}),
        );
        assert_eq!(
            json_body::<serde_json::Value>(&broken, 100)
                .unwrap_err()
                .status(),
            400
        );
    }
}
