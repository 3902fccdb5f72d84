//! `Connections` on API Gateway: messages to WebSocket clients through the
//! management API (`POST https://{domain}/{stage}/@connections/{id}`), signed
//! as `execute-api`. A client that has gone answers 410 (`GoneException`),
//! which is `NotFound` here. One SDK client per endpoint, kept for the
//! function's lifetime.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use jarvis_core::ports::{Connection, Connections, PortResult};
use std::collections::HashMap;
use std::sync::Mutex;

const SERVICE: &str = "execute-api";

pub struct ApiGatewayConnections {
    sdk: SdkConfig,
    /// Every client talks to this endpoint instead (an emulator in tests).
    endpoint_override: Option<String>,
    clients: Mutex<HashMap<String, Client>>,
}

impl ApiGatewayConnections {
    pub fn new(sdk: SdkConfig, endpoint_override: Option<String>) -> Self {
        Self {
            sdk,
            endpoint_override,
            clients: Mutex::default(),
        }
    }

    fn client(&self, endpoint: &str) -> Client {
        let endpoint = self.endpoint_override.as_deref().unwrap_or(endpoint);
        let mut clients = self.clients.lock().expect("clients lock");
        clients
            .entry(endpoint.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_apigatewaymanagement::config::Builder::from(&self.sdk)
                    .endpoint_url(endpoint)
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }
}

#[async_trait]
impl Connections for ApiGatewayConnections {
    async fn post(&self, to: &Connection, data: &[u8]) -> PortResult<()> {
        self.client(&to.endpoint)
            .post_to_connection()
            .connection_id(&to.id)
            .data(Blob::new(data))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PostToConnection", e))?;
        Ok(())
    }
}
