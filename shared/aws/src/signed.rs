//! Signed calls to the services Jarvis uses for a handful of operations
//! (Lambda, Step Functions, Textract, Rekognition, Transcribe, Comprehend, SESv2),
//! without their SDK crates: each of those is a large crate to compile for one
//! to four operations. A call is one HTTPS request, SigV4-signed with the SDK
//! configuration's credentials and region, to the service's regional endpoint
//! (or the configuration's endpoint override: an emulator). Like the SDK's
//! standard retry mode, throttling, 5xx and connection faults are retried up to
//! the configuration's attempts, with exponential backoff and full jitter; what
//! is left becomes a [`CallError`] and then, through [`crate::error`]'s
//! classification, the same `PortError` an SDK failure would have.
//!
//! The wire formats are the services' published protocols: `awsJson1_0` /
//! `awsJson1_1` (POST `/`, `X-Amz-Target: <prefix>.<Operation>`, the error's
//! code in `__type`) and `restJson1` (Lambda's Invoke, SESv2's SendEmail).

use crate::error::{answered, classify, port_error, Class};
use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use jarvis_core::PortError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How one service is reached and signed.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// The name in the signature's scope, and Jarvis's name for the service in errors.
    pub signing_name: &'static str,
    /// `<prefix>.<region>.amazonaws.com`.
    pub endpoint_prefix: &'static str,
    /// `X-Amz-Target`'s part before the operation (JSON protocols).
    pub target_prefix: &'static str,
    /// `application/x-amz-json-<version>`.
    pub json_version: &'static str,
}

impl Service {
    /// A JSON-protocol service (`awsJson<version>`, operations in `X-Amz-Target`).
    const fn json(
        signing_name: &'static str,
        endpoint_prefix: &'static str,
        target_prefix: &'static str,
        json_version: &'static str,
    ) -> Self {
        Self {
            signing_name,
            endpoint_prefix,
            target_prefix,
            json_version,
        }
    }

    /// A REST service: no target, no JSON version; see [`AwsClient::rest`].
    const fn rest(signing_name: &'static str, endpoint_prefix: &'static str) -> Self {
        Self::json(signing_name, endpoint_prefix, "", "")
    }
}

pub const STEP_FUNCTIONS: Service = Service::json("states", "states", "AWSStepFunctions", "1.0");
pub const TEXTRACT: Service = Service::json("textract", "textract", "Textract", "1.1");
pub const REKOGNITION: Service =
    Service::json("rekognition", "rekognition", "RekognitionService", "1.1");
pub const TRANSCRIBE: Service = Service::json("transcribe", "transcribe", "Transcribe", "1.1");
pub const COMPREHEND: Service =
    Service::json("comprehend", "comprehend", "Comprehend_20171127", "1.1");
pub const LAMBDA: Service = Service::rest("lambda", "lambda");
/// SESv2: signed as `ses`, served at `email.<region>`.
pub const SES: Service = Service::rest("ses", "email");

/// A failed call: the AWS error code and HTTP status when the service
/// answered, and how it classifies.
#[derive(Debug, Clone)]
pub struct CallError {
    pub code: Option<String>,
    pub status: Option<u16>,
    pub class: Class,
    /// What went wrong, with the operation's name first.
    pub message: String,
    /// Whether the request may have reached the service: false when it was
    /// never built or signed, or its connection was never made.
    pub sent: bool,
}

impl CallError {
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The `PortError` for `service` (the same mapping as SDK failures).
    pub fn into_port(self, service: &'static str) -> PortError {
        port_error(service, self.class, self.message)
    }

    /// Whether the service certainly did not act on the request: it was never
    /// sent, or the service refused it (4xx: rejected, throttled, not allowed).
    /// A timeout, a broken connection or a 5xx may come after it acted.
    pub fn certainly_not_done(&self) -> bool {
        !self.sent || self.status.is_some_and(|s| (400..500).contains(&s))
    }

    /// A failure on this side before anything was sent.
    fn local(op: &str, class: Class, what: impl std::fmt::Display) -> Self {
        Self {
            code: None,
            status: None,
            class,
            message: format!("{op}: {what}"),
            sent: false,
        }
    }
}

/// A successful answer of a REST call.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One client per stack: an HTTPS connection pool, the credentials (kept until
/// five minutes before they expire), the region and the retry policy.
#[derive(Clone)]
pub struct AwsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    credentials: Option<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    region: String,
    endpoint: Option<String>,
    max_attempts: u32,
    initial_backoff: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Credentials this close to their expiry are fetched again.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

impl AwsClient {
    /// From the SDK configuration: its credentials, region (us-east-1 when it
    /// names none, where the SDK's clients would refuse the call; Lambda always
    /// sets one), endpoint override (the global one: per-service
    /// `AWS_ENDPOINT_URL_<SERVICE>` variables are not read), retry attempts
    /// and timeouts.
    pub fn new(sdk: &SdkConfig) -> Self {
        let timeouts = sdk.timeout_config();
        let mut http = reqwest::Client::builder().use_rustls_tls();
        if let Some(t) = timeouts.and_then(|t| t.connect_timeout()) {
            http = http.connect_timeout(t);
        }
        if let Some(t) = timeouts.and_then(|t| t.operation_attempt_timeout()) {
            http = http.timeout(t);
        }
        let (max_attempts, initial_backoff) = sdk
            .retry_config()
            .map(|r| (r.max_attempts(), r.initial_backoff()))
            .unwrap_or((3, Duration::from_secs(1)));
        Self {
            inner: Arc::new(Inner {
                http: http.build().expect("the TLS configuration is built in"),
                credentials: sdk.credentials_provider(),
                cached: Mutex::new(None),
                region: sdk
                    .region()
                    .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
                endpoint: sdk
                    .endpoint_url()
                    .map(|u| u.trim_end_matches('/').to_owned()),
                max_attempts: max_attempts.max(1),
                initial_backoff,
            }),
        }
    }

    /// The same client, sending each request once: for operations that are
    /// not idempotent (SendEmail), where a retry could act twice.
    pub fn without_retries(&self) -> Self {
        let i = &self.inner;
        Self {
            inner: Arc::new(Inner {
                http: i.http.clone(),
                credentials: i.credentials.clone(),
                cached: Mutex::new(i.cached.lock().expect("credentials lock").clone()),
                region: i.region.clone(),
                endpoint: i.endpoint.clone(),
                max_attempts: 1,
                initial_backoff: i.initial_backoff,
            }),
        }
    }

    /// The base URL of `service`: the override, or its regional endpoint.
    pub fn endpoint(&self, service: &Service) -> String {
        if let Some(url) = &self.inner.endpoint {
            return url.clone();
        }
        let region = &self.inner.region;
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://{}.{region}.{domain}", service.endpoint_prefix)
    }

    /// One JSON-protocol operation: `input` serialized, the answer read as `O`.
    pub async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        service: &Service,
        op: &str,
        input: &I,
    ) -> Result<O, CallError> {
        let body = serde_json::to_vec(input)
            .map_err(|e| CallError::local(op, Class::Invalid, format!("unwritable input: {e}")))?;
        let target = format!("{}.{op}", service.target_prefix);
        let content_type = format!("application/x-amz-json-{}", service.json_version);
        let reply = self
            .rest(
                service,
                op,
                "POST",
                "/",
                &[
                    ("content-type", content_type.as_str()),
                    ("x-amz-target", target.as_str()),
                ],
                body,
            )
            .await?;
        parse_answer(op, &reply.body)
    }

    /// [`AwsClient::call`] with its failure as the `PortError` of `service`.
    pub async fn call_port<I: Serialize, O: DeserializeOwned>(
        &self,
        service: &Service,
        op: &str,
        input: I,
    ) -> jarvis_core::ports::PortResult<O> {
        self.call(service, op, &input)
            .await
            .map_err(|e| e.into_port(service.signing_name))
    }

    /// One REST operation with a JSON body and a JSON answer.
    pub async fn rest_json<I: Serialize, O: DeserializeOwned>(
        &self,
        service: &Service,
        op: &str,
        method: &str,
        path_and_query: &str,
        input: &I,
    ) -> Result<O, CallError> {
        let body = serde_json::to_vec(input)
            .map_err(|e| CallError::local(op, Class::Invalid, format!("unwritable input: {e}")))?;
        let reply = self
            .rest(
                service,
                op,
                method,
                path_and_query,
                &[("content-type", "application/json")],
                body,
            )
            .await?;
        parse_answer(op, &reply.body)
    }

    /// One request, retried while its failure is transient:
    /// `path_and_query` already percent-encoded (a REST operation, or `/`
    /// for the JSON protocols).
    pub async fn rest(
        &self,
        service: &Service,
        op: &str,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, CallError> {
        let url = format!("{}{path_and_query}", self.endpoint(service));
        let mut attempt = 1;
        loop {
            let result = self
                .attempt(service, op, method, &url, headers, &body)
                .await;
            match result {
                Err(e) if e.class == Class::Transient && attempt < self.inner.max_attempts => {
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Full jitter: a random wait below `initial × 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .inner
            .initial_backoff
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(MAX_BACKOFF);
        ceiling.mul_f64(fastrand::f64())
    }

    async fn attempt(
        &self,
        service: &Service,
        op: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, CallError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            CallError::local(op, Class::Invalid, format!("bad endpoint {url}: {e}"))
        })?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(CallError::local(
                    op,
                    Class::Invalid,
                    "endpoint without a host",
                ))
            }
        };
        let credentials = self.credentials(op).await?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.inner.region)
            .name(service.signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CallError::local(op, Class::Other, format!("cannot sign: {e}")))?
            .into();
        let mut to_sign: Vec<(&str, &str)> = vec![("host", host.as_str())];
        to_sign.extend(headers.iter().copied());
        let signable =
            SignableRequest::new(method, url, to_sign.into_iter(), SignableBody::Bytes(body))
                .and_then(|r| sign(r, &params))
                .map_err(|e| CallError::local(op, Class::Other, format!("cannot sign: {e}")))?;
        let (instructions, _) = signable.into_parts();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| CallError::local(op, Class::Invalid, e))?;
        let mut request = self.inner.http.request(method, parsed);
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let response = request.body(body.to_vec()).send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out".to_owned()
            } else {
                format!("could not reach the service: {e}")
            };
            CallError {
                sent: !e.is_connect(),
                ..CallError::local(op, Class::Transient, what)
            }
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| {
                CallError::local(op, Class::Transient, format!("unreadable response: {e}"))
            })?
            .to_vec();
        if (200..300).contains(&status) {
            return Ok(Reply {
                status,
                headers,
                body,
            });
        }
        Err(service_error(op, status, &headers, &body))
    }

    async fn credentials(&self, op: &str) -> Result<Credentials, CallError> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE)
        };
        if let Some(c) = self
            .inner
            .cached
            .lock()
            .expect("credentials lock")
            .as_ref()
            .filter(|c| fresh(c))
        {
            return Ok(c.clone());
        }
        let provider = self.inner.credentials.as_ref().ok_or_else(|| {
            CallError::local(op, Class::Other, "no AWS credentials are configured")
        })?;
        let c = provider.provide_credentials().await.map_err(|e| {
            CallError::local(
                op,
                Class::Transient,
                format!("could not load AWS credentials: {e}"),
            )
        })?;
        *self.inner.cached.lock().expect("credentials lock") = Some(c.clone());
        Ok(c)
    }
}

/// A successful answer read as `O` (an empty body as `{}`). The request was
/// done, so a failure here is `sent`.
fn parse_answer<O: DeserializeOwned>(op: &str, body: &[u8]) -> Result<O, CallError> {
    let body = if body.is_empty() { &b"{}"[..] } else { body };
    serde_json::from_slice(body).map_err(|e| CallError {
        sent: true,
        ..CallError::local(
            op,
            Class::Other,
            format!("an answer that is not the documented shape: {e}"),
        )
    })
}

/// The error a service answered: its code from `X-Amzn-ErrorType` or the
/// body's `__type` / `code` / `Type` (with any `namespace#` before it and
/// `:url` after it removed), its message from `message` / `Message`.
pub fn service_error(
    op: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> CallError {
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| doc.get(*n).and_then(|v| v.as_str()).map(str::to_owned))
    };
    let code = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| field(&["__type", "code", "Code"]))
        .map(|c| sanitize_code(&c).to_owned())
        .filter(|c| !c.is_empty());
    let detail = field(&["message", "Message", "errorMessage"]).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        if text.trim().is_empty() {
            "no details".into()
        } else {
            text
        }
    });
    CallError {
        class: classify(code.as_deref(), Some(status)),
        message: answered(op, code.as_deref(), &detail, status),
        code,
        status: Some(status),
        sent: true,
    }
}

/// `aws.protocoltests#FooError:http://internal/` → `FooError`.
fn sanitize_code(raw: &str) -> &str {
    let after_hash = raw.rsplit_once('#').map_or(raw, |(_, c)| c);
    after_hash
        .split_once(':')
        .map_or(after_hash, |(c, _)| c)
        .trim()
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved kept).
pub fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn error_codes_come_from_the_header_or_the_body_without_namespace_or_url() {
        let none = HeaderMap::new();
        let e = service_error(
            "StartExecution",
            400,
            &none,
            br#"{"__type":"com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists","message":"exists"}"#,
        );
        assert_eq!(e.code(), Some("ExecutionAlreadyExists"));
        assert_eq!(e.class, Class::Conflict);
        assert_eq!(
            e.message,
            "StartExecution failed: ExecutionAlreadyExists: exists (HTTP 400)"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("TooManyRequestsException:http://internal.amazon.com/"),
        );
        let e = service_error(
            "Invoke",
            429,
            &h,
            br#"{"Type":"User","message":"Rate exceeded"}"#,
        );
        assert_eq!(e.code(), Some("TooManyRequestsException"));
        assert_eq!(e.class, Class::Transient);
        let e = service_error("Invoke", 502, &none, b"<html>bad gateway</html>");
        assert_eq!((e.code(), e.class), (None, Class::Transient));
        assert!(e.message.contains("bad gateway"), "{}", e.message);
        let e = service_error("X", 403, &none, b"");
        assert_eq!(e.class, Class::Other);
        assert!(
            e.message.ends_with("error: no details (HTTP 403)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn encoding_keeps_unreserved_characters_only() {
        assert_eq!(encode("jarvis-dev-tool_x.1~"), "jarvis-dev-tool_x.1~");
        assert_eq!(encode("a b/c:ã"), "a%20b%2Fc%3A%C3%A3");
    }

    #[tokio::test]
    async fn regional_endpoints_unless_overridden_and_backoff_stays_under_its_ceiling() {
        let sdk = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let c = AwsClient::new(&sdk);
        assert_eq!(
            c.endpoint(&STEP_FUNCTIONS),
            "https://states.eu-west-1.amazonaws.com"
        );
        let cn = AwsClient::new(
            &SdkConfig::builder()
                .region(aws_config::Region::new("cn-north-1"))
                .build(),
        );
        assert_eq!(
            cn.endpoint(&LAMBDA),
            "https://lambda.cn-north-1.amazonaws.com.cn"
        );
        let local = AwsClient::new(
            &SdkConfig::builder()
                .endpoint_url("http://127.0.0.1:5000/")
                .build(),
        );
        assert_eq!(local.endpoint(&TEXTRACT), "http://127.0.0.1:5000");
        for attempt in 1..40 {
            let wait = c.backoff(attempt);
            assert!(wait <= MAX_BACKOFF, "{wait:?}");
            assert!(
                wait <= Duration::from_secs(1).saturating_mul(1 << (attempt - 1).min(16)),
                "{wait:?}"
            );
        }
        let unsigned = local.credentials("Op").await.unwrap_err();
        assert!(
            unsigned.message.contains("no AWS credentials"),
            "{unsigned:?}"
        );
        assert!(unsigned.certainly_not_done());
    }

    /// A connection never made sent nothing (SendEmail may say "not sent"); it
    /// is still transient, and retried up to the attempts configured.
    #[tokio::test]
    async fn a_refused_connection_sent_nothing() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let sdk = SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKID", "secret", None, None, "test",
            )))
            .build();
        let client = AwsClient::new(&sdk).without_retries();
        let e = client
            .call::<_, serde_json::Value>(&STEP_FUNCTIONS, "StartExecution", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(e.class, Class::Transient, "{e:?}");
        assert!(!e.sent && e.certainly_not_done(), "{e:?}");
        assert!(
            e.message.starts_with("StartExecution: could not reach"),
            "{e:?}"
        );
    }
}
