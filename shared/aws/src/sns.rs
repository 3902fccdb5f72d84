//! `Notifier` on SNS: one topic; the tenant and any extra attributes travel as
//! message attributes, so subscriptions can filter by tenant.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use jarvis_core::ports::{Notification, Notifier, PortResult};
use jarvis_core::PortError;

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
            .message_attributes("tenant_id", attribute(n.tenant_id.as_str())?);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_what_sns_accepts() {
        assert_eq!(sns_subject("Call Ana\nnow ☎"), "Call Ana now");
        assert_eq!(sns_subject(&"x".repeat(300)).len(), 100);
        assert_eq!(sns_subject("☎"), "Jarvis");
    }
}
