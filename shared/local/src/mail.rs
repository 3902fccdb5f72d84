//! Local mail: every sent message is written as an RFC 5322 `.eml` file under
//! `outbox/<tenant>/`, where any mail client can open it. With `JARVIS_SMTP_URL`
//! it is also delivered through that SMTP server ([`SmtpMailer`]); without it,
//! nothing leaves the machine.

use async_trait::async_trait;
use chrono::Utc;
use jarvis_core::clock::new_id;
use jarvis_core::ports::{Mailer, OutgoingEmail, SendError};
use jarvis_core::PortError;
use std::path::PathBuf;

#[derive(Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: &str) -> Self {
        Self {
            dir,
            from: from.to_owned(),
        }
    }

    /// The tenant's outbox folder.
    pub fn folder(&self, tenant: &jarvis_core::TenantId) -> PathBuf {
        self.dir.join(tenant.as_str())
    }
}

/// A header value on one line (no header injection through CR/LF).
fn header(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// The message as `.eml` text.
pub fn render(from: &str, email: &OutgoingEmail, message_id: &str) -> String {
    let body = email.body_text.replace("\r\n", "\n").replace('\n', "\r\n");
    format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}@jarvis.local>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        header(from),
        header(&email.to.join(", ")),
        header(&email.subject),
        Utc::now().to_rfc2822(),
        message_id,
        body
    )
}

#[async_trait]
impl Mailer for OutboxMailer {
    /// Writing the outbox file is the whole send: a failure leaves nothing
    /// sent (a half-written file is removed).
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if email.to.is_empty() {
            return Err(SendError::NotSent(PortError::Invalid(
                "an e-mail needs a recipient".into(),
            )));
        }
        let id = new_id("msg", Utc::now());
        self.write(email, &id)
            .await
            .map_err(|e| SendError::NotSent(PortError::backend("outbox", e)))?;
        Ok(id)
    }
}

impl OutboxMailer {
    /// Writes the `.eml` of `email` as `id` (to a temporary name, then renamed).
    async fn write(&self, email: &OutgoingEmail, id: &str) -> std::io::Result<()> {
        let folder = self.folder(&email.tenant_id);
        tokio::fs::create_dir_all(&folder).await?;
        let path = folder.join(format!("{id}.eml"));
        let part = folder.join(format!(".{id}.eml.part"));
        if let Err(e) = tokio::fs::write(&part, render(&self.from, email, id)).await {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        tokio::fs::rename(&part, &path).await?;
        tracing::info!(path = %path.display(), "mail written to the outbox");
        Ok(())
    }
}

/// Delivery through an SMTP server (lettre), keeping the `.eml` copy in the outbox.
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    outbox: OutboxMailer,
}

impl SmtpMailer {
    /// `url`: `smtp://[user:pass@]host[:port][?tls=required|opportunistic]` or `smtps://…`.
    pub fn new(url: &str, from: &str, outbox: OutboxMailer) -> Result<Self, String> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("From address {from:?}: {e}"))?;
        Ok(Self {
            transport,
            from,
            outbox,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        use lettre::AsyncTransport as _;
        let mut message = lettre::Message::builder()
            .from(self.from.clone())
            .subject(header(&email.subject));
        for to in &email.to {
            let mailbox = to.parse().map_err(|e| {
                SendError::NotSent(PortError::Invalid(format!("{to:?} is not an address: {e}")))
            })?;
            message = message.to(mailbox);
        }
        let message = message
            .body(email.body_text.clone())
            .map_err(|e| SendError::NotSent(PortError::Invalid(e.to_string())))?;
        let id = new_id("msg", Utc::now());
        self.transport.send(message).await.map_err(|e| {
            if e.is_permanent() {
                SendError::NotSent(PortError::Invalid(format!(
                    "the SMTP server refused the message: {e}"
                )))
            } else if e.is_transient() {
                // A 4xx reply: the server did not take it.
                SendError::NotSent(PortError::transient("smtp", e))
            } else {
                // A timeout or a broken connection: the server may have taken it.
                SendError::Unknown(PortError::backend("smtp", e))
            }
        })?;
        // Delivered: the outbox copy is a record, its failure is not the send's.
        if let Err(e) = self.outbox.write(email, &id).await {
            tracing::warn!(error = %e, "a delivered mail has no copy in the outbox");
        }
        Ok(id)
    }
}
