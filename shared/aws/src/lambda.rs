//! `ToolRunner` on Lambda: api-chat invokes each tool's own function
//! (`{prefix}tool-tasks`, …) synchronously with the `ToolCall`, and reads back
//! the `ToolReply`. Each tool function keeps its own narrow role; api-chat's
//! role may only invoke them. Invocations name the functions' alias when one
//! is configured (`live` on AWS), so a rollback of a callee takes effect here.

use crate::signed::{encode, AwsClient, Reply, Service, LAMBDA};
use async_trait::async_trait;
use jarvis_core::ports::{Jobs, PortResult};
use jarvis_core::tools::{self, ToolCall, ToolReply, ToolRunner};
use jarvis_core::{PortError, TenantId};

const SERVICE: &str = "lambda";

/// Lambda's `Invoke` (restJson1): POST `/2015-03-31/functions/{name}/invocations`,
/// the alias as `Qualifier`, the invocation type as `X-Amz-Invocation-Type`.
async fn invoke(
    client: &AwsClient,
    service: &Service,
    op: &str,
    function: &str,
    alias: Option<&str>,
    invocation_type: &str,
    payload: Vec<u8>,
) -> PortResult<Reply> {
    let mut path = format!("/2015-03-31/functions/{}/invocations", encode(function));
    if let Some(alias) = alias {
        path.push_str(&format!("?Qualifier={}", encode(alias)));
    }
    client
        .rest(
            service,
            op,
            "POST",
            &path,
            &[("x-amz-invocation-type", invocation_type)],
            payload,
        )
        .await
        .map_err(|e| e.into_port(SERVICE))
}

#[derive(Clone)]
pub struct LambdaTools {
    client: AwsClient,
    prefix: String,
    alias: Option<String>,
}

impl LambdaTools {
    pub fn new(client: AwsClient, prefix: &str, alias: Option<String>) -> Self {
        Self {
            client,
            prefix: prefix.to_owned(),
            alias,
        }
    }

    /// The function serving `tool`.
    pub fn function_for(&self, tool: &str) -> Option<String> {
        tools::owner(tool).map(|owner| format!("{}{owner}", self.prefix))
    }
}

#[async_trait]
impl ToolRunner for LambdaTools {
    async fn call(&self, call: &ToolCall) -> PortResult<ToolReply> {
        let function = self
            .function_for(&call.name)
            .ok_or_else(|| PortError::Invalid(format!("there is no tool {}", call.name)))?;
        let payload = serde_json::to_vec(call).map_err(|e| PortError::backend(SERVICE, e))?;
        let out = invoke(
            &self.client,
            &LAMBDA,
            "Invoke",
            &function,
            self.alias.as_deref(),
            "RequestResponse",
            payload,
        )
        .await?;
        let body = &out.body;
        if let Some(kind) = out.header("x-amz-function-error") {
            // The tool function failed (its infrastructure): transient for the agent.
            return Err(PortError::Transient {
                backend: SERVICE,
                message: format!(
                    "{function} failed ({kind}): {}",
                    String::from_utf8_lossy(&body[..body.len().min(500)])
                ),
                source: None,
            });
        }
        serde_json::from_slice(body).map_err(|e| PortError::Backend {
            backend: SERVICE,
            message: format!("{function} answered something that is not a tool reply: {e}"),
            source: None,
        })
    }
}

/// `Jobs` on Lambda: each job is its function's asynchronous invoke
/// (`InvocationType=Event`). Lambda queues it, answers 202 at once, and retries
/// a failed run twice; the job itself is idempotent, so a duplicate does no harm.
#[derive(Clone)]
pub struct LambdaJobs {
    client: AwsClient,
    erase_function: String,
    alias: Option<String>,
}

impl LambdaJobs {
    pub fn new(client: AwsClient, erase_function: &str, alias: Option<String>) -> Self {
        Self {
            client,
            erase_function: erase_function.to_owned(),
            alias,
        }
    }
}

#[async_trait]
impl Jobs for LambdaJobs {
    async fn start_erasure(&self, tenant: &TenantId) -> PortResult<()> {
        let payload = serde_json::to_vec(&serde_json::json!({"tenant_id": tenant}))
            .map_err(|e| PortError::backend(SERVICE, e))?;
        let out = invoke(
            &self.client,
            &LAMBDA,
            "InvokeJob",
            &self.erase_function,
            self.alias.as_deref(),
            "Event",
            payload,
        )
        .await?;
        if out.status != 202 {
            return Err(PortError::Transient {
                backend: SERVICE,
                message: format!(
                    "{} did not queue the erasure (status {})",
                    self.erase_function, out.status
                ),
                source: None,
            });
        }
        Ok(())
    }
}
