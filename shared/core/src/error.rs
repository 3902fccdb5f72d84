//! Error types, one per layer: [`PortError`] from adapters, [`StepError`] from
//! pipeline steps, [`ApiError`] at the HTTP edge (mapped to a status and a JSON body).

use serde::Serialize;
use std::error::Error as StdError;

type Source = Box<dyn StdError + Send + Sync>;

/// What an adapter (a port implementation) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional write lost (status transition, execution name taken, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request itself is unacceptable; retrying will not help.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A capability this deployment lacks (e.g. no OCR engine installed).
    #[error("{what} is not available: {hint}")]
    Unavailable { what: String, hint: String },
    /// Started elsewhere and not finished yet (an async Transcribe or Textract
    /// job); ask again later. The state machine's poll loop retries on it.
    #[error("pending: {0}")]
    Pending(String),
    /// Worth retrying (throttling, timeouts, a busy database).
    #[error("{backend}: temporary failure: {message}")]
    Transient {
        backend: &'static str,
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// Anything else from the backend.
    #[error("{backend}: {message}")]
    Backend {
        backend: &'static str,
        message: String,
        #[source]
        source: Option<Source>,
    },
}

impl PortError {
    pub fn backend(backend: &'static str, err: impl StdError + Send + Sync + 'static) -> Self {
        Self::Backend {
            backend,
            message: err.to_string(),
            source: Some(Box::new(err)),
        }
    }

    pub fn transient(backend: &'static str, err: impl StdError + Send + Sync + 'static) -> Self {
        Self::Transient {
            backend,
            message: err.to_string(),
            source: Some(Box::new(err)),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::Pending(_))
    }
}

/// What a pipeline step can fail with. The step's `Catch` turns every error into
/// a document status (`skipped` for a missing extractor, `PortError::Unavailable`);
/// `Port` errors that are transient are retried first.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The input can never succeed (empty, too large, corrupt, unsupported).
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl StepError {
    /// The Step Functions error name this maps to (`Catch`/`Retry` match on it).
    pub fn error_name(&self) -> &'static str {
        match self {
            Self::Rejected(_) => "Jarvis.Rejected",
            Self::Port(PortError::Unavailable { .. }) => "Jarvis.ExtractorUnavailable",
            Self::Port(PortError::Pending(_)) => "Jarvis.Pending",
            Self::Port(p) if p.is_retryable() => "Jarvis.Transient",
            Self::Port(_) => "Jarvis.Failed",
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Port(p) if p.is_retryable())
    }
}

/// The JSON error body every API answers with: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `payload_too_large`, `unsupported_media_type`, `conflict`,
    /// `unprocessable` or `internal`.
    pub code: &'a str,
    pub message: String,
}

/// An API failure, mapped to an HTTP status at the edge.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Credentials were given but do not allow this (a pre-signed URL's
    /// signature that does not match, or has expired).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request conflicts with the current state (a draft already sent).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but cannot be done: a time in the past, an agent bound reached.
    #[error("{0}")]
    Unprocessable(String),
    /// Not the caller's fault; the body says only that, the log says more.
    #[error("internal error")]
    Internal(#[source] PortError),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Conflict(_) => 409,
            Self::Unprocessable(_) => 422,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Conflict(_) => "conflict",
            Self::Unprocessable(_) => "unprocessable",
            Self::Internal(_) => "internal",
        }
    }

    /// The response body. Internal errors never leak their source.
    pub fn body(&self) -> String {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        };
        serde_json::to_string(&body).unwrap_or_else(|_| {
            r#"{"error":{"code":"internal","message":"internal error"}}"#.into()
        })
    }
}

impl From<crate::tools::ToolRefusal> for ApiError {
    fn from(r: crate::tools::ToolRefusal) -> Self {
        use crate::tools::RefusalKind;
        match r.kind {
            RefusalKind::Invalid => Self::Unprocessable(r.reason),
            RefusalKind::NotFound => Self::NotFound(r.reason),
            RefusalKind::Conflict => Self::Conflict(r.reason),
        }
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::NotFound(what) => Self::NotFound(what),
            PortError::Invalid(msg) => Self::BadRequest(msg),
            PortError::Conflict(msg) => Self::Conflict(msg),
            other => Self::Internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_source_into_the_body() {
        let e = ApiError::from(PortError::Backend {
            backend: "sqlite",
            message: "disk I/O error at /secret/path".into(),
            source: None,
        });
        assert_eq!(e.status(), 500);
        assert!(!e.body().contains("secret"));
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "internal");
    }

    #[test]
    fn step_errors_name_their_retry_class() {
        let t = StepError::Port(PortError::Transient {
            backend: "x",
            message: "busy".into(),
            source: None,
        });
        assert!(t.is_retryable());
        assert_eq!(t.error_name(), "Jarvis.Transient");
        assert!(!StepError::Rejected("empty".into()).is_retryable());
        let missing = StepError::from(PortError::Unavailable {
            what: "OCR".into(),
            hint: "install tesseract".into(),
        });
        assert_eq!(missing.error_name(), "Jarvis.ExtractorUnavailable");
        assert_eq!(
            missing.to_string(),
            "OCR is not available: install tesseract"
        );
    }
}
