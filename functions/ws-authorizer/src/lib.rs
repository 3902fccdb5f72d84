//! `ws-authorizer`: the Lambda REQUEST authorizer of the WebSocket API's
//! `$connect`. Browsers cannot set headers on a WebSocket, so the user pool
//! token comes in the query string (`wss://…/live?token=<JWT>`); API Gateway
//! refuses a connection without one before calling this function.
//!
//! A valid token (see `jarvis_aws::auth`) gets an Allow policy for this API
//! and the tenant (`sub`) in the context, which API Gateway hands to every
//! route of the connection (`jarvis_lambda::ws::tenant`). Anything else gets a
//! Deny (403), with the reason logged, never echoed. If the issuer's keys
//! cannot be read the invocation fails (500) and the client may retry.

use jarvis_aws::auth::TokenVerifier;
use jarvis_core::ports::PortResult;
use jarvis_core::PortError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Deps {
    pub verifier: Arc<TokenVerifier>,
}

impl Deps {
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        Ok(Deps {
            verifier: stack.token_verifier()?,
        })
    }
}

/// What API Gateway sends a REQUEST authorizer of a WebSocket API.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerRequest {
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/$connect`.
    pub method_arn: String,
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
}

/// The policy API Gateway enforces, cached for the connection.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

impl AuthorizerResponse {
    fn policy(principal: &str, effect: &str, method_arn: &str) -> Self {
        Self {
            principal_id: principal.to_owned(),
            policy_document: json!({
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
            }),
            context: None,
        }
    }

    pub fn allowed(&self) -> bool {
        self.policy_document["Statement"][0]["Effect"] == "Allow"
    }
}

/// Allow with the tenant, or Deny; `Err` only when the keys are unreachable.
pub async fn handle(deps: &Deps, req: AuthorizerRequest) -> PortResult<AuthorizerResponse> {
    let token = req
        .query_string_parameters
        .as_ref()
        .and_then(|q| q.get("token"))
        .map(String::as_str)
        .unwrap_or("");
    match deps.verifier.verify(token).await {
        Ok(tenant) => {
            let mut allow = AuthorizerResponse::policy(tenant.as_str(), "Allow", &req.method_arn);
            allow.context = Some(json!({ jarvis_lambda::ws::TENANT_KEY: tenant.as_str() }));
            Ok(allow)
        }
        Err(PortError::Invalid(reason)) => {
            tracing::info!(%reason, "WebSocket connection refused");
            Ok(AuthorizerResponse::policy(
                "anonymous",
                "Deny",
                &req.method_arn,
            ))
        }
        Err(e) => Err(e),
    }
}
