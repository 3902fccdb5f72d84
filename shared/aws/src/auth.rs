//! The user pool's tokens, verified where API Gateway cannot: a WebSocket
//! `$connect` carries its token in the query string (browsers cannot set
//! headers on a WebSocket), and `ws-authorizer` checks it here, as the HTTP
//! API's JWT authorizer does for every REST route:
//! - RS256 only, signed by a key of the issuer's JWKS
//!   (`<issuer>/.well-known/jwks.json`);
//! - `iss` is the configured issuer, `exp`/`nbf` hold (60 s leeway);
//! - an ID token's `aud`, or an access token's `client_id`, is one of the
//!   configured app clients;
//! - `sub` names the tenant, as it does for the HTTP API.
//!
//! The keys are cached for the function's lifetime and fetched again when a
//! token names a key that is not cached (the pool rotated its keys), at most
//! once a minute, so forged `kid`s cannot make it hammer the issuer. When the
//! issuer cannot be reached, fetches back off (1 s, doubling, up to a minute).

use jarvis_core::ports::PortResult;
use jarvis_core::{PortError, TenantId};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const BACKEND: &str = "jwks";
const REFETCH_AFTER: Duration = Duration::from_secs(60);

pub struct TokenVerifier {
    issuer: String,
    audiences: Vec<String>,
    jwks_url: String,
    http: reqwest::Client,
    keys: Mutex<Keys>,
    /// The wait after a first failed fetch; it doubles per failure, up to [`MAX_BACKOFF`].
    backoff: Duration,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
    /// Failed fetches in a row, and when the last one failed.
    failures: u32,
    failed_at: Option<Instant>,
}

/// The longest wait between fetches of an unreachable issuer's keys.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    aud: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
}

fn refused(reason: impl Into<String>) -> PortError {
    PortError::Invalid(reason.into())
}

impl TokenVerifier {
    /// `audiences`: the app client ids tokens may be issued to.
    pub fn new(issuer: &str, audiences: Vec<String>) -> Self {
        let issuer = issuer.trim_end_matches('/').to_owned();
        Self {
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            issuer,
            audiences,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a TLS client"),
            keys: Mutex::default(),
            backoff: Duration::from_secs(1),
        }
    }

    /// The wait after a first failed fetch of the keys (1 s unless set).
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// The tenant a valid token names. `Invalid` (with the reason) for a token
    /// that must be refused; `Transient` when the issuer's keys cannot be read.
    pub async fn verify(&self, token: &str) -> PortResult<TenantId> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| refused(format!("not a JWT: {e}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(refused(format!(
                "tokens are signed with RS256, not {:?}",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| refused("the token names no signing key (kid)"))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // `aud` is checked below: access tokens carry `client_id` instead.
        validation.validate_aud = false;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| refused(format!("the token is not valid: {e}")))?
            .claims;
        let client = match claims.token_use.as_deref() {
            Some("id") => claims.aud,
            Some("access") => claims.client_id,
            other => {
                return Err(refused(format!(
                    "token_use must be id or access, not {other:?}"
                )))
            }
        };
        if !client.is_some_and(|c| self.audiences.contains(&c)) {
            return Err(refused("the token was issued to another app client"));
        }
        TenantId::parse(&claims.sub).map_err(|e| refused(format!("sub: {e}")))
    }

    async fn key(&self, kid: &str) -> PortResult<DecodingKey> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = keys.by_kid.get(kid) {
            return Ok(key.clone());
        }
        if keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
            return Err(refused(format!("unknown signing key {kid}")));
        }
        // An unreachable issuer is not asked again at every connect: each
        // failure doubles the wait, and meanwhile the answer is a retryable error.
        if let Some(at) = keys.failed_at {
            let wait = self
                .backoff
                .saturating_mul(1 << keys.failures.saturating_sub(1).min(16))
                .min(MAX_BACKOFF);
            if at.elapsed() < wait {
                return Err(PortError::Transient {
                    backend: BACKEND,
                    message: format!(
                        "the issuer's keys could not be read; next try in {:?}",
                        wait - at.elapsed()
                    ),
                    source: None,
                });
            }
        }
        match self.fetch().await {
            Ok(fetched) => {
                keys.by_kid = fetched;
                keys.failures = 0;
                keys.failed_at = None;
            }
            Err(e) => {
                keys.failures = keys.failures.saturating_add(1);
                keys.failed_at = Some(Instant::now());
                return Err(e);
            }
        }
        keys.fetched = Some(Instant::now());
        keys.by_kid
            .get(kid)
            .cloned()
            .ok_or_else(|| refused(format!("unknown signing key {kid}")))
    }

    async fn fetch(&self) -> PortResult<HashMap<String, DecodingKey>> {
        let transient = |message: String| PortError::Transient {
            backend: BACKEND,
            message,
            source: None,
        };
        let response = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| transient(format!("GET {}: {e}", self.jwks_url)))?;
        if !response.status().is_success() {
            return Err(transient(format!(
                "GET {} answered {}",
                self.jwks_url,
                response.status()
            )));
        }
        let jwks: Jwks = response.json().await.map_err(|e| PortError::Backend {
            backend: BACKEND,
            message: format!("{} is not a JWKS: {e}", self.jwks_url),
            source: None,
        })?;
        let mut out = HashMap::new();
        for k in jwks.keys {
            let usable = k.kty == "RSA"
                && k.alg.as_deref().is_none_or(|a| a == "RS256")
                && k.usage.as_deref().is_none_or(|u| u == "sig");
            if let (true, Some(kid), Some(n), Some(e)) = (usable, k.kid, k.n, k.e) {
                if let Ok(key) = DecodingKey::from_rsa_components(&n, &e) {
                    out.insert(kid, key);
                }
            }
        }
        Ok(out)
    }
}
