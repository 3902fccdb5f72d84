//! The HTTP functions as API Gateway drives them: an event (payload format
//! 2.0, as in `events/`) becomes the `lambda_http::Request` a handler takes,
//! and the handler's `http::Response` becomes what API Gateway receives back —
//! the same conversions `lambda_http::run` makes on Lambda.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::Body;

/// The request `lambda_http` hands a handler for this API Gateway event.
pub fn request(event: serde_json::Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway HTTP API event")
}

/// A handler's response as API Gateway receives it: the status, the headers,
/// the body as text or base64-encoded binary.
pub fn gateway(response: lambda_http::Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    (out.is_base64_encoded, out.body) = match body {
        Body::Empty => (false, None),
        b @ Body::Text(_) => (false, Some(b)),
        b @ Body::Binary(_) => (true, Some(b)),
        _ => (false, None),
    };
    out
}
