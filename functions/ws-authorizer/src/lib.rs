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

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use jarvis_aws::auth::TokenVerifier;
use jarvis_core::ports::PortResult;
use jarvis_core::PortError;
use serde_json::{json, Value};
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

/// What API Gateway sends a REQUEST authorizer of a WebSocket API
/// (`methodArn` is `arn:aws:execute-api:{region}:{account}:{api}/{stage}/$connect`).
pub type AuthorizerRequest = ApiGatewayCustomAuthorizerRequestTypeRequest;

/// The policy API Gateway enforces, cached for the connection, and the
/// context it hands to every route of it.
pub type AuthorizerResponse = ApiGatewayCustomAuthorizerResponse<Value>;

/// An IAM policy of one statement: `effect` on invoking `method_arn`.
fn policy(principal: &str, effect: IamPolicyEffect, method_arn: &str) -> AuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = effect;
    statement.resource = vec![method_arn.to_owned()];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".into());
    document.statement = vec![statement];
    let mut response = AuthorizerResponse::default();
    response.principal_id = Some(principal.to_owned());
    response.policy_document = document;
    response
}

/// Whether `response` lets the connection through.
pub fn allowed(response: &AuthorizerResponse) -> bool {
    response
        .policy_document
        .statement
        .first()
        .is_some_and(|s| s.effect == IamPolicyEffect::Allow)
}

/// Allow with the tenant, or Deny; `Err` only when the keys are unreachable.
pub async fn handle(deps: &Deps, req: AuthorizerRequest) -> PortResult<AuthorizerResponse> {
    let method_arn = req.method_arn.clone().unwrap_or_default();
    let token = req.query_string_parameters.first("token").unwrap_or("");
    match deps.verifier.verify(token).await {
        Ok(tenant) => {
            let mut allow = policy(tenant.as_str(), IamPolicyEffect::Allow, &method_arn);
            allow.context = json!({ jarvis_lambda::ws::TENANT_KEY: tenant.as_str() });
            Ok(allow)
        }
        Err(PortError::Invalid(reason)) => {
            tracing::info!(%reason, "WebSocket connection refused");
            let mut deny = policy("anonymous", IamPolicyEffect::Deny, &method_arn);
            deny.context = json!({});
            Ok(deny)
        }
        Err(e) => Err(e),
    }
}
