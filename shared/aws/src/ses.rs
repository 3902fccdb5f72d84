//! `Mailer` on SESv2 (`SendEmail`, simple content). Inbound mail arrives the
//! other way: an SES receipt rule writes the raw message into the raw bucket,
//! where it is an `.eml` object like any other and `parse-email` reads it from S3.
//!
//! SendEmail is not idempotent: this client sends each request once
//! ([`SesMailer::from_sdk`]), and an answer that never came (a timeout, a
//! broken connection, a 5xx) is [`SendError::Unknown`], never retried.

use crate::signed::{AwsClient, SES};
use async_trait::async_trait;
use jarvis_core::ports::{Mailer, OutgoingEmail, SendError};
use jarvis_core::PortError;
use serde::Deserialize;
use serde_json::json;

const SERVICE: &str = "ses";
/// SES accepts at most 50 recipients per message.
const MAX_RECIPIENTS: usize = 50;

#[derive(Clone)]
pub struct SesMailer {
    client: AwsClient,
    from: String,
}

impl SesMailer {
    /// The mailer on a client built from `sdk`: one SendEmail call is one attempt.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, from: &str) -> Self {
        Self::new(AwsClient::new(sdk), from)
    }

    /// The mailer on `client`, with its retries off.
    pub fn new(client: AwsClient, from: &str) -> Self {
        Self {
            client: client.without_retries(),
            from: from.to_owned(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Sent {
    #[serde(default)]
    message_id: String,
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
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if email.to.is_empty() || email.to.len() > MAX_RECIPIENTS {
            return Err(SendError::NotSent(PortError::Invalid(format!(
                "a message needs 1 to {MAX_RECIPIENTS} recipients"
            ))));
        }
        let text = |data: &str| json!({"Data": data, "Charset": "UTF-8"});
        let request = json!({
            "FromEmailAddress": self.from,
            "Destination": {"ToAddresses": email.to},
            "Content": {"Simple": {
                "Subject": text(&email.subject),
                "Body": {"Text": text(&email.body_text)},
            }},
            "EmailTags": [{"Name": "tenant", "Value": tag_value(email.tenant_id.as_str())}],
        });
        let out: Sent = self
            .client
            .rest_json(
                &SES,
                "SendEmail",
                "POST",
                "/v2/email/outbound-emails",
                &request,
            )
            .await
            .map_err(|e| {
                let refused = e.certainly_not_done();
                let port = e.into_port(SERVICE);
                if refused {
                    SendError::NotSent(port)
                } else {
                    SendError::Unknown(port)
                }
            })?;
        Ok(out.message_id)
    }
}
