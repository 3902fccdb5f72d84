//! Local delivery of notifications. The durable channel ([`Notifier`]) is the
//! runtime's stdout: every notification is printed. Once its delivery is
//! recorded, [`Push`] sends it to where the tenant is: every connected
//! WebSocket client of the tenant (through [`LocalNotifier::subscribe`]) and the
//! tenant's own webhook — the `webhook_url` of their settings (`PUT
//! /me/notifications {"webhook_url"}`), or `JARVIS_WEBHOOK_URL` for the
//! runtime's own tenant. Never another tenant's.
//!
//! A webhook is POSTed JSON in the background, retried with backoff, with at
//! most [`WEBHOOK_IN_FLIGHT`] deliveries at once: a slow or dead endpoint
//! cannot pile up work, or hold up a reminder.

use async_trait::async_trait;
use jarvis_core::domain::{Settings, TenantId};
use jarvis_core::ports::{Notification, Notifier, PortResult, Push, RecordStore};
use jarvis_core::{records, PortError};
use std::sync::Arc;
use tokio::sync::{broadcast, Semaphore};

/// Webhook deliveries (with their retries) in flight at once; past that a
/// notification is not posted (it was printed and pushed), with a warning.
pub const WEBHOOK_IN_FLIGHT: usize = 16;

/// A notification as clients receive it ([`Notification::event`]).
pub fn event(n: &Notification) -> serde_json::Value {
    n.event()
}

#[derive(Clone)]
pub struct LocalNotifier {
    sender: broadcast::Sender<(TenantId, serde_json::Value)>,
    client: reqwest::Client,
    /// The runtime's own tenant and `JARVIS_WEBHOOK_URL`.
    default_webhook: Option<(TenantId, String)>,
    records: Arc<dyn RecordStore>,
    in_flight: Arc<Semaphore>,
}

impl LocalNotifier {
    /// `default_webhook`: the webhook of the runtime's own tenant when their
    /// settings name none (`JARVIS_WEBHOOK_URL`); `records`: where each
    /// tenant's settings are.
    pub fn new(default_webhook: Option<(TenantId, String)>, records: Arc<dyn RecordStore>) -> Self {
        let (sender, _) = broadcast::channel(256);
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            sender,
            client,
            default_webhook,
            records,
            in_flight: Arc::new(Semaphore::new(WEBHOOK_IN_FLIGHT)),
        }
    }

    /// Every notification from now on, with its tenant (WebSocket clients filter on it).
    pub fn subscribe(&self) -> broadcast::Receiver<(TenantId, serde_json::Value)> {
        self.sender.subscribe()
    }

    /// The webhook `tenant`'s notifications go to, if any.
    pub async fn webhook_of(&self, tenant: &TenantId) -> PortResult<Option<String>> {
        let own = records::get::<Settings>(self.records.as_ref(), tenant, Settings::ID)
            .await?
            .and_then(|s| s.webhook_url);
        Ok(own.or_else(|| {
            self.default_webhook
                .as_ref()
                .filter(|(t, _)| t == tenant)
                .map(|(_, url)| url.clone())
        }))
    }
}

#[async_trait]
impl Notifier for LocalNotifier {
    async fn notify(&self, n: &Notification) -> PortResult<()> {
        println!("[jarvis] {}: {} — {}", n.tenant_id, n.subject, n.body);
        tracing::info!(tenant = %n.tenant_id, subject = %n.subject, "notification");
        Ok(())
    }
}

#[async_trait]
impl Push for LocalNotifier {
    async fn push(&self, n: &Notification) {
        let body = event(n);
        // No connected client is fine: the notification was printed.
        let _ = self.sender.send((n.tenant_id.clone(), body.clone()));
        let url = match self.webhook_of(&n.tenant_id).await {
            Ok(Some(url)) => url,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the tenant's webhook; not posted");
                return;
            }
        };
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            tracing::warn!(tenant = %n.tenant_id, "{WEBHOOK_IN_FLIGHT} webhook deliveries are in flight; this one is not posted");
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let _permit = permit;
            deliver(&client, &url, &body).await;
        });
    }
}

/// Posts `body` to `url`, then retries with [`WEBHOOK_BACKOFF`].
async fn deliver(client: &reqwest::Client, url: &str, body: &serde_json::Value) {
    let Err(first) = post(client, url, body).await else {
        return;
    };
    tracing::warn!(error = %first, "webhook failed; retrying with backoff");
    for delay in WEBHOOK_BACKOFF {
        tokio::time::sleep(delay).await;
        match post(client, url, body).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "webhook retry failed"),
        }
    }
    tracing::error!(url = %url, "webhook gave up; the notification was printed and pushed");
}

/// Waits between webhook attempts after the first failed: about 5 minutes in all.
pub const WEBHOOK_BACKOFF: [std::time::Duration; 5] = [
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(8),
    std::time::Duration::from_secs(30),
    std::time::Duration::from_secs(90),
    std::time::Duration::from_secs(180),
];

async fn post(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> PortResult<()> {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| PortError::transient("webhook", e))?;
    if !response.status().is_success() {
        return Err(PortError::Transient {
            backend: "webhook",
            message: format!("{url} answered {}", response.status()),
            source: None,
        });
    }
    Ok(())
}
