//! Pre-signed uploads on the local runtime: what S3's pre-signed PUT is on AWS.
//! `POST /uploads` answers a URL of the runtime itself,
//! `PUT {base}/uploads/{key}?expires=…&size=…&signature=…`, whose signature (an
//! HMAC-SHA256 under a key made at start) covers the method, the object key
//! (which holds the tenant), the content type, the size, the expiry and
//! whether the PUT may only create (`new=1`: it never replaces a file). The
//! runtime's `PUT /uploads/{key}` checks it with [`LocalUploads::verify`]; a URL
//! is the whole credential, as S3's is, and dies with the runtime.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jarvis_core::pipeline::keys;
use jarvis_core::ports::{PortResult, PresignedUrl, UrlSigner};
use jarvis_core::PortError;
use sha2::Sha256;
use std::sync::OnceLock;
use std::time::Duration;

/// The longest a URL lasts (S3's limit for pre-signed URLs).
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct LocalUploads {
    secret: [u8; 32],
    /// `http://host:port` of the running server, set once it listens.
    base: OnceLock<String>,
}

/// Why a local upload URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the upload URL has expired; ask POST /uploads for a new one")]
    Expired,
    #[error("the upload URL's signature does not match this key, content type and size")]
    BadSignature,
}

impl LocalUploads {
    /// A signer with a fresh random key.
    pub fn new() -> PortResult<Self> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| PortError::backend("getrandom", e))?;
        Ok(Self {
            secret,
            base: OnceLock::new(),
        })
    }

    /// What every signed URL starts from: a valid key, a lifetime within
    /// bounds, and the address the runtime listens at; the base and expiry.
    fn signing(
        &self,
        key: &str,
        expires_in: Duration,
        what: &str,
    ) -> PortResult<(&str, chrono::DateTime<Utc>)> {
        keys::check_object_key(key).map_err(PortError::Invalid)?;
        if expires_in.is_zero() || expires_in > MAX_EXPIRY {
            return Err(PortError::Invalid(
                "a pre-signed URL lasts between 1 second and 7 days".into(),
            ));
        }
        let base = self.base.get().ok_or_else(|| PortError::Unavailable {
            what: what.into(),
            hint: "the runtime is not listening yet".into(),
        })?;
        let expires_at = Utc::now()
            + chrono::Duration::from_std(expires_in)
                .map_err(|e| PortError::Invalid(e.to_string()))?;
        Ok((base, expires_at))
    }

    /// Where the server listens; URLs are made against it. Set once.
    pub fn listening_at(&self, base: String) {
        let _ = self.base.set(base);
    }

    fn mac(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        only_new: bool,
        expires: i64,
    ) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        // Each field is length-prefixed, so no two field lists sign alike.
        for field in [
            "PUT",
            key,
            content_type,
            &size.to_string(),
            if only_new { "new" } else { "any" },
            &expires.to_string(),
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    fn download_mac(&self, bucket: &str, key: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        for field in ["GET", bucket, key, &expires.to_string()] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    /// Checks a download URL's fields at `now` (see [`UrlSigner::download_url`]).
    pub fn verify_download(
        &self,
        bucket: &str,
        key: &str,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        let given = hex::decode(signature).map_err(|_| Refused::BadSignature)?;
        self.download_mac(bucket, key, expires)
            .verify_slice(&given)
            .map_err(|_| Refused::BadSignature)?;
        if now.timestamp() > expires {
            return Err(Refused::Expired);
        }
        Ok(())
    }

    /// Checks a URL's fields at `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        only_new: bool,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        let given = hex::decode(signature).map_err(|_| Refused::BadSignature)?;
        self.mac(key, content_type, size, only_new, expires)
            .verify_slice(&given)
            .map_err(|_| Refused::BadSignature)?;
        if now.timestamp() > expires {
            return Err(Refused::Expired);
        }
        Ok(())
    }
}

/// `s` percent-encoded for a URL: every byte but RFC 3986's unreserved
/// characters (letters, digits, `-._~`). Used for a path segment or a query value.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Each path segment of `key` percent-encoded.
fn encode_path(key: &str) -> String {
    key.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

#[async_trait]
impl UrlSigner for LocalUploads {
    async fn upload_url(
        &self,
        _bucket: &str,
        key: &str,
        content_type: &str,
        size: u64,
        only_new: bool,
        expires_in: Duration,
    ) -> PortResult<PresignedUrl> {
        let (base, expires_at) = self.signing(key, expires_in, "upload URLs")?;
        let expires = expires_at.timestamp();
        let signature = hex::encode(
            self.mac(key, content_type, size, only_new, expires)
                .finalize()
                .into_bytes(),
        );
        Ok(PresignedUrl {
            url: format!(
                "{base}/uploads/{}?expires={expires}&size={size}{}&signature={signature}",
                encode_path(key),
                if only_new { "&new=1" } else { "" }
            ),
            method: "PUT".into(),
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("content-length".into(), size.to_string()),
            ],
            expires_at,
        })
    }

    /// A GET of the file at the runtime's own `/files/{bucket}/{key}`, signed
    /// (bucket, key, expiry) as an upload URL is.
    async fn download_url(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> PortResult<PresignedUrl> {
        let (base, expires_at) = self.signing(key, expires_in, "download URLs")?;
        let expires = expires_at.timestamp();
        let signature = hex::encode(
            self.download_mac(bucket, key, expires)
                .finalize()
                .into_bytes(),
        );
        Ok(PresignedUrl {
            url: format!(
                "{base}/files/{}/{}?expires={expires}&signature={signature}",
                percent_encode(bucket),
                encode_path(key)
            ),
            method: "GET".into(),
            headers: Vec::new(),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(url: &str, name: &str) -> String {
        url.split(['?', '&'])
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn a_url_verifies_only_for_its_own_key_type_size_and_time() {
        let signer = LocalUploads::new().unwrap();
        signer.listening_at("http://127.0.0.1:9".into());
        let key = "alice/uploads/trip notes.md";
        let url = signer
            .upload_url(
                "raw",
                key,
                "text/markdown",
                12,
                true,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert!(
            url.url
                .starts_with("http://127.0.0.1:9/uploads/alice/uploads/trip%20notes.md?"),
            "{}",
            url.url
        );
        let (expires, sig) = (field(&url.url, "expires"), field(&url.url, "signature"));
        let expires: i64 = expires.parse().unwrap();
        let now = Utc::now();
        assert_eq!(
            signer.verify(key, "text/markdown", 12, true, expires, &sig, now),
            Ok(())
        );
        for (k, ct, size) in [
            ("bob/uploads/trip notes.md", "text/markdown", 12),
            (key, "text/html", 12),
            (key, "text/markdown", 13),
        ] {
            assert_eq!(
                signer.verify(k, ct, size, true, expires, &sig, now),
                Err(Refused::BadSignature),
                "{k} {ct} {size}"
            );
        }
        assert_eq!(
            signer.verify(key, "text/markdown", 12, false, expires, &sig, now),
            Err(Refused::BadSignature),
            "whether it may replace a file is signed too"
        );
        assert_eq!(
            signer.verify(key, "text/markdown", 12, true, expires + 3600, &sig, now),
            Err(Refused::BadSignature),
            "the expiry is signed too"
        );
        assert_eq!(
            signer.verify(
                key,
                "text/markdown",
                12,
                true,
                expires,
                &sig,
                now + chrono::Duration::minutes(2)
            ),
            Err(Refused::Expired)
        );
        let other = LocalUploads::new().unwrap();
        assert_eq!(
            other.verify(key, "text/markdown", 12, true, expires, &sig, now),
            Err(Refused::BadSignature),
            "a restarted runtime's key differs"
        );
    }
}
