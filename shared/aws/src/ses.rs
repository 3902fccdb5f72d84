//! `Mailer` on SESv2 (`SendEmail`, simple content). Inbound mail arrives the
//! other way: an SES receipt rule writes the raw message into the raw bucket,
//! where it is an `.eml` object like any other and `parse-email` reads it from S3.
//!
//! SendEmail is not idempotent: the SDK's own retries are off for this client
//! ([`SesMailer::from_sdk`]), and an answer that never came (a timeout, a
//! broken connection, a 5xx) is [`SendError::Unknown`], never retried.

use crate::error::sdk_error;
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;
use jarvis_core::ports::{Mailer, OutgoingEmail, PortResult, SendError};
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
    /// The mailer on a client built from `sdk` with the SDK's retries off:
    /// one SendEmail call is one attempt.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, from: &str) -> Self {
        let config = aws_sdk_sesv2::config::Builder::from(sdk)
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build();
        Self::new(Client::from_conf(config), from)
    }

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

/// Whether SES certainly did not take the mail: the request was never built,
/// or SES answered with a client error (4xx: rejected, throttled, not
/// verified). A timeout, a broken connection or a 5xx may come after SES
/// accepted it.
fn refused_before_sending<E>(
    err: &aws_sdk_sesv2::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    use aws_sdk_sesv2::error::SdkError;
    match err {
        SdkError::ConstructionFailure(_) => true,
        SdkError::ServiceError(ctx) => ctx.raw().status().is_client_error(),
        _ => false,
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if email.to.is_empty() || email.to.len() > MAX_RECIPIENTS {
            return Err(SendError::NotSent(PortError::Invalid(format!(
                "a message needs 1 to {MAX_RECIPIENTS} recipients"
            ))));
        }
        let message = Message::builder()
            .subject(content(&email.subject).map_err(SendError::NotSent)?)
            .body(
                Body::builder()
                    .text(content(&email.body_text).map_err(SendError::NotSent)?)
                    .build(),
            )
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
                    .map_err(|e| SendError::NotSent(PortError::Invalid(e.to_string())))?,
            )
            .send()
            .await
            .map_err(|e| {
                let refused = refused_before_sending(&e);
                let port = sdk_error(SERVICE, "SendEmail", e);
                if refused {
                    SendError::NotSent(port)
                } else {
                    SendError::Unknown(port)
                }
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
