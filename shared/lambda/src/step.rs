//! Pipeline steps fail with [`StepError`]; Step Functions sees the Lambda error
//! type (`Jarvis.Rejected`, `Jarvis.Transient`, …) and retries or catches by it.

use jarvis_core::StepError;
use lambda_runtime::Diagnostic;

/// A step error on its way out of a Lambda invocation.
#[derive(Debug)]
pub struct StepDiagnostic(pub StepError);

impl From<StepError> for StepDiagnostic {
    fn from(e: StepError) -> Self {
        Self(e)
    }
}

impl From<StepDiagnostic> for Diagnostic {
    fn from(e: StepDiagnostic) -> Self {
        Diagnostic {
            error_type: e.0.error_name().to_owned(),
            error_message: e.0.to_string(),
        }
    }
}

/// The readable reason inside a Step Functions `Cause`: Lambda wraps the error as
/// `{"errorType": …, "errorMessage": …}`; the local runtime passes the message as is.
pub fn reason_from_cause(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jarvis_core::PortError;

    #[test]
    fn step_errors_become_named_lambda_errors() {
        let d: Diagnostic = StepDiagnostic(StepError::Rejected("the file is empty".into())).into();
        assert_eq!(d.error_type, "Jarvis.Rejected");
        assert_eq!(d.error_message, "the file is empty");
        let t = StepError::Port(PortError::Transient {
            backend: "s3",
            message: "slow down".into(),
            source: None,
        });
        assert_eq!(
            Diagnostic::from(StepDiagnostic(t)).error_type,
            "Jarvis.Transient"
        );
    }

    #[test]
    fn causes_unwrap_the_lambda_error_json() {
        assert_eq!(
            reason_from_cause(r#"{"errorType":"Jarvis.Rejected","errorMessage":"corrupt PDF"}"#),
            "corrupt PDF"
        );
        assert_eq!(reason_from_cause("plain reason"), "plain reason");
    }
}
