//! Local delivery of notifications: printed on the runtime's stdout, pushed to
//! every connected WebSocket client of the tenant (through [`LocalNotifier::subscribe`]),
//! and POSTed as JSON to a webhook when one is configured (`JARVIS_WEBHOOK_URL`).

use async_trait::async_trait;
use jarvis_core::ports::{Notification, Notifier, PortResult};
use jarvis_core::PortError;
use tokio::sync::broadcast;

/// A notification as clients receive it ([`Notification::event`]).
pub fn event(n: &Notification) -> serde_json::Value {
    n.event()
}

#[derive(Clone)]
pub struct LocalNotifier {
    sender: broadcast::Sender<(jarvis_core::TenantId, serde_json::Value)>,
    webhook: Option<(reqwest::Client, String)>,
}

impl LocalNotifier {
    pub fn new(webhook_url: Option<String>) -> Self {
        let (sender, _) = broadcast::channel(256);
        let webhook = webhook_url.map(|url| {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            (client, url)
        });
        Self { sender, webhook }
    }

    /// Every notification from now on, with its tenant (WebSocket clients filter on it).
    pub fn subscribe(&self) -> broadcast::Receiver<(jarvis_core::TenantId, serde_json::Value)> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl Notifier for LocalNotifier {
    async fn notify(&self, n: &Notification) -> PortResult<()> {
        let body = event(n);
        println!("[jarvis] {}: {} — {}", n.tenant_id, n.subject, n.body);
        tracing::info!(tenant = %n.tenant_id, subject = %n.subject, "notification");
        // No connected client is fine: the notification was printed.
        let _ = self.sender.send((n.tenant_id.clone(), body.clone()));
        // The user was told (printed, pushed): a failing webhook is retried on
        // its own with backoff, never by firing the reminder again.
        if let Some((client, url)) = &self.webhook {
            if let Err(first) = post(client, url, &body).await {
                tracing::warn!(error = %first, "webhook failed; retrying with backoff");
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    for delay in WEBHOOK_BACKOFF {
                        tokio::time::sleep(delay).await;
                        match post(&client, &url, &body).await {
                            Ok(()) => return,
                            Err(e) => tracing::warn!(error = %e, "webhook retry failed"),
                        }
                    }
                    tracing::error!(url = %url, "webhook gave up; the notification was printed and pushed");
                });
            }
        }
        Ok(())
    }
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
