//! `Mailer` on SESv2 (`SendEmail`, simple content). Inbound mail arrives the
//! other way: an SES receipt rule writes the raw message into the raw bucket,
//! where it is an `.eml` object like any other and `parse-email` reads it from S3.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;
use jarvis_core::ports::{Mailer, OutgoingEmail, PortResult};
use jarvis_core::PortError;

const SERVICE: &str = "ses";
/// SES accepts at most 50 recipients per message.
const MAX_RECIPIENTS: usize = 50;

#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: &str) -> Self {
        Self {
            client,
            from: from.to_owned(),
        }
    }
}

fn content(data: &str) -> PortResult<Content> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| PortError::Invalid(e.to_string()))
}

/// SES tag values allow letters, digits, `_` and `-` only.
fn tag_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> PortResult<String> {
        if email.to.is_empty() || email.to.len() > MAX_RECIPIENTS {
            return Err(PortError::Invalid(format!(
                "a message needs 1 to {MAX_RECIPIENTS} recipients"
            )));
        }
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.body_text)?).build())
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .email_tags(
                aws_sdk_sesv2::types::MessageTag::builder()
                    .name("tenant")
                    .value(tag_value(email.tenant_id.as_str()))
                    .build()
                    .map_err(|e| PortError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "SendEmail", e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
