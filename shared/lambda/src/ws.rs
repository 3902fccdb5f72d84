//! API Gateway WebSocket requests (`$connect`, `$disconnect`, message routes),
//! as `chat-stream` sees them.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use jarvis_core::ports::Connection;
use jarvis_core::{ApiError, TenantId};

/// The context key `ws-authorizer` puts the verified tenant under.
pub const TENANT_KEY: &str = "tenant";

/// The caller's tenant, as the `$connect` authorizer verified it (API Gateway
/// repeats the authorizer's context on every message of the connection).
pub fn tenant(req: &ApiGatewayWebsocketProxyRequest) -> Result<TenantId, ApiError> {
    let tenant = req
        .request_context
        .authorizer
        .fields
        .get(TENANT_KEY)
        .and_then(|v| v.as_str())
        .ok_or(ApiError::Unauthorized)?;
    TenantId::parse(tenant).map_err(|_| ApiError::Unauthorized)
}

/// `$connect`, `$disconnect`, `sendMessage`, `$default`.
pub fn route(req: &ApiGatewayWebsocketProxyRequest) -> &str {
    req.request_context.route_key.as_deref().unwrap_or("")
}

/// Where messages to this client are posted: `https://{domain}/{stage}`.
pub fn connection(req: &ApiGatewayWebsocketProxyRequest) -> Option<Connection> {
    let c = &req.request_context;
    Some(Connection {
        endpoint: format!(
            "https://{}/{}",
            c.domain_name.as_deref()?,
            c.stage.as_deref()?
        ),
        id: c.connection_id.clone()?,
    })
}

/// The message's text (binary frames arrive base64-encoded).
pub fn body(req: &ApiGatewayWebsocketProxyRequest) -> String {
    let raw = req.body.as_deref().unwrap_or("");
    if req.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else {
        raw.to_owned()
    }
}

/// The route's answer: its status decides whether `$connect` is accepted.
pub fn status(code: i64, message: Option<&str>) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = code;
    r.body = message.map(|m| Body::Text(serde_json::json!({ "message": m }).to_string()));
    r
}
