//! `Notifier` on SNS: one topic; the tenant and any extra attributes travel as
//! message attributes. Every subscription to it is filtered to one tenant
//! ([`SnsSubscriptions`], [`filter_policy`]), so a reminder reaches its owner
//! and nobody else.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use jarvis_core::ports::{Notification, NotificationTargets, Notifier, PortResult};
use jarvis_core::{PortError, TenantId};

const SERVICE: &str = "sns";
/// SNS subjects: at most 100 printable ASCII characters, no line breaks.
const MAX_SUBJECT: usize = 100;

#[derive(Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: &str) -> Self {
        Self {
            client,
            topic_arn: topic_arn.to_owned(),
        }
    }
}

/// The subject SNS accepts: printable ASCII, one line, at most 100 characters.
pub fn sns_subject(subject: &str) -> String {
    let clean: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let trimmed = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = trimmed.chars().take(MAX_SUBJECT).collect();
    if out.is_empty() {
        out = "Jarvis".into();
    }
    out
}

fn attribute(value: &str) -> PortResult<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PortError::Invalid(e.to_string()))
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn notify(&self, n: &Notification) -> PortResult<()> {
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(&n.subject))
            .message(&n.body)
            .message_attributes(TENANT_ATTRIBUTE, attribute(n.tenant_id.as_str())?);
        for (k, v) in &n.attributes {
            if !v.is_empty() {
                req = req.message_attributes(k, attribute(v)?);
            }
        }
        req.send()
            .await
            .map_err(|e| sdk_error(SERVICE, "Publish", e))?;
        Ok(())
    }
}

/// The message attribute that names a notification's tenant.
pub const TENANT_ATTRIBUTE: &str = "tenant_id";

/// The filter policy of a subscription that admits only `tenant`'s messages
/// (matched on the message attribute, `FilterPolicyScope = MessageAttributes`).
pub fn filter_policy(tenant: &TenantId) -> String {
    serde_json::json!({ TENANT_ATTRIBUTE: [tenant.as_str()] }).to_string()
}

/// Subscriptions to the reminder topic, each filtered to its tenant.
#[derive(Clone)]
pub struct SnsSubscriptions {
    client: Client,
    topic_arn: String,
}

impl SnsSubscriptions {
    pub fn new(client: Client, topic_arn: &str) -> Self {
        Self {
            client,
            topic_arn: topic_arn.to_owned(),
        }
    }

    /// Subscribes `endpoint` over `protocol` (`email`; tests use `sqs`) to
    /// `tenant`'s messages only; answers the subscription ARN (SNS gives the
    /// real ARN at once, even while the subscription awaits confirmation).
    pub async fn subscribe(
        &self,
        tenant: &TenantId,
        protocol: &str,
        endpoint: &str,
    ) -> PortResult<String> {
        let out = self
            .client
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .attributes("FilterPolicy", filter_policy(tenant))
            .attributes("FilterPolicyScope", "MessageAttributes")
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "Subscribe", e))?;
        out.subscription_arn()
            .map(str::to_owned)
            .ok_or_else(|| PortError::Backend {
                backend: SERVICE,
                message: "Subscribe answered no subscription ARN".into(),
                source: None,
            })
    }
}

#[async_trait]
impl NotificationTargets for SnsSubscriptions {
    async fn subscribe_email(&self, tenant: &TenantId, email: &str) -> PortResult<String> {
        self.subscribe(tenant, "email", email).await
    }

    async fn unsubscribe(&self, id: &str) -> PortResult<()> {
        match self.client.unsubscribe().subscription_arn(id).send().await {
            Ok(_) => Ok(()),
            Err(e) => match sdk_error(SERVICE, "Unsubscribe", e) {
                PortError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_admits_its_tenant_only() {
        let t = TenantId::parse("3f1c-ana").unwrap();
        assert_eq!(filter_policy(&t), r#"{"tenant_id":["3f1c-ana"]}"#);
    }

    #[test]
    fn subjects_are_what_sns_accepts() {
        assert_eq!(sns_subject("Call Ana\nnow ☎"), "Call Ana now");
        assert_eq!(sns_subject(&"x".repeat(300)).len(), 100);
        assert_eq!(sns_subject("☎"), "Jarvis");
    }
}
