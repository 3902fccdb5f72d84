//! `ToolRunner` on Lambda: api-chat invokes each tool's own function
//! (`{prefix}tool-tasks`, …) synchronously with the `ToolCall`, and reads back
//! the `ToolReply`. Each tool function keeps its own narrow role; api-chat's
//! role may only invoke them.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::Client;
use jarvis_core::ports::PortResult;
use jarvis_core::tools::{self, ToolCall, ToolReply, ToolRunner};
use jarvis_core::PortError;

const SERVICE: &str = "lambda";

#[derive(Clone)]
pub struct LambdaTools {
    client: Client,
    prefix: String,
}

impl LambdaTools {
    pub fn new(client: Client, prefix: &str) -> Self {
        Self {
            client,
            prefix: prefix.to_owned(),
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
        let out = self
            .client
            .invoke()
            .function_name(&function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "Invoke", e))?;
        let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
        if let Some(kind) = out.function_error() {
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
