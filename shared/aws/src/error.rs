//! From SDK errors to [`PortError`]: what is worth retrying (throttling, 5xx,
//! timeouts, connection faults — already retried with backoff by the SDK), what
//! is missing, what lost a conditional write, what can never succeed. Every
//! message names the service, the operation and the AWS error code.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use jarvis_core::PortError;
use std::error::Error as StdError;

/// Error codes that mean "slow down" or "try again" whatever the HTTP status.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "LimitExceededException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "ModelNotReadyException",
    "ProvisionedThroughputExceeded",
];

/// `GoneException`: a WebSocket client that has disconnected.
const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchKey",
    "NotFound",
    "ResourceNotFoundException",
    "GoneException",
];

const CONFLICT_CODES: &[&str] = &[
    "ConditionalCheckFailedException",
    "ExecutionAlreadyExists",
    "ConflictException",
];

/// Input that can never succeed as sent (retrying will not help).
const INVALID_CODES: &[&str] = &[
    "ValidationException",
    "InvalidParameterException",
    "InvalidParameterValueException",
    "InvalidRequestException",
    "InvalidInput",
    "TextSizeLimitExceededException",
    "UnsupportedDocumentException",
    "BadDocumentException",
    "DocumentTooLargeException",
    "InvalidImageFormatException",
    "ImageTooLargeException",
    "InvalidS3ObjectException",
    "MessageRejected",
    "EntityTooLarge",
];

/// How an AWS error code and HTTP status classify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Transient,
    NotFound,
    Conflict,
    Invalid,
    Other,
}

/// Classifies by code first (services disagree on statuses), then by status.
pub fn classify(code: Option<&str>, status: Option<u16>) -> Class {
    if let Some(code) = code {
        if TRANSIENT_CODES.contains(&code) {
            return Class::Transient;
        }
        if NOT_FOUND_CODES.contains(&code) {
            return Class::NotFound;
        }
        if CONFLICT_CODES.contains(&code) {
            return Class::Conflict;
        }
        if INVALID_CODES.contains(&code) {
            return Class::Invalid;
        }
    }
    match status {
        Some(429) => Class::Transient,
        Some(s) if s >= 500 => Class::Transient,
        Some(404) => Class::NotFound,
        _ => Class::Other,
    }
}

/// Builds the `PortError` for a classified failure.
pub fn port_error(service: &'static str, class: Class, message: String) -> PortError {
    match class {
        Class::Transient => PortError::Transient {
            backend: service,
            message,
            source: None,
        },
        Class::NotFound => PortError::NotFound(message),
        Class::Conflict => PortError::Conflict(message),
        Class::Invalid => PortError::Invalid(message),
        Class::Other => PortError::Backend {
            backend: service,
            message,
            source: None,
        },
    }
}

/// The message of an operation the service answered with an error, whether
/// through the SDK or [`crate::signed`]: operation, AWS code, detail, status.
pub fn answered(op: &str, code: Option<&str>, detail: &str, status: u16) -> String {
    format!(
        "{op} failed: {}: {detail} (HTTP {status})",
        code.unwrap_or("error")
    )
}

/// Maps a failed SDK call of `service`'s operation `op`.
pub fn sdk_error<E>(service: &'static str, op: &str, err: SdkError<E, Response>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let e = ctx.err();
            let code = e.code().map(str::to_owned);
            let detail = e
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string());
            let message = answered(op, code.as_deref(), &detail, status);
            port_error(service, classify(code.as_deref(), Some(status)), message)
        }
        SdkError::TimeoutError(_) => {
            port_error(service, Class::Transient, format!("{op} timed out"))
        }
        SdkError::DispatchFailure(d) => port_error(
            service,
            Class::Transient,
            format!(
                "{op}: could not reach the service: {:?}",
                d.as_connector_error()
            ),
        ),
        SdkError::ResponseError(_) => port_error(
            service,
            Class::Transient,
            format!("{op}: unreadable response"),
        ),
        other => port_error(
            service,
            Class::Other,
            format!(
                "{op} failed: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&other)
            ),
        ),
    }
}

/// A code's AWS name when the call failed with a service error.
pub fn service_code<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> Option<&str> {
    match err {
        SdkError::ServiceError(ctx) => ctx.err().code(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classify_before_statuses() {
        assert_eq!(
            classify(Some("ThrottlingException"), Some(400)),
            Class::Transient
        );
        assert_eq!(
            classify(Some("ConditionalCheckFailedException"), Some(400)),
            Class::Conflict
        );
        assert_eq!(classify(Some("NoSuchKey"), Some(404)), Class::NotFound);
        assert_eq!(
            classify(Some("ValidationException"), Some(400)),
            Class::Invalid
        );
        assert_eq!(classify(Some("AccessDenied"), Some(403)), Class::Other);
        assert_eq!(classify(None, Some(503)), Class::Transient);
        assert_eq!(classify(None, Some(429)), Class::Transient);
        assert!(port_error("s3", Class::Transient, "x".into()).is_retryable());
        assert!(!port_error("s3", Class::Invalid, "x".into()).is_retryable());
    }
}
