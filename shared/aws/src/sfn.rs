//! `WorkflowStarter` on Step Functions. The execution name comes from
//! bucket+key+ETag (`jarvis_core::pipeline::execution_name`), and Step Functions
//! refuses a second execution of the same name, so a redelivered message cannot
//! start a second run.

use crate::error::{sdk_error, service_code};
use async_trait::async_trait;
use aws_sdk_sfn::Client;
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{PortResult, StartOutcome, WorkflowStarter, WorkflowStopper};
use jarvis_core::PortError;
use tracing::info;

const SERVICE: &str = "states";

#[derive(Clone)]
pub struct StepFunctions {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: Client, state_machine_arn: &str) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.to_owned(),
        }
    }
}

#[async_trait]
impl WorkflowStarter for StepFunctions {
    /// AWS refuses names over 80 characters or outside `[0-9A-Za-z_-]`
    /// (InvalidName); moto does not, so the rule is checked here first.
    async fn start(&self, name: &str, input: &PipelineState) -> PortResult<StartOutcome> {
        jarvis_core::pipeline::check_execution_name(name).map_err(PortError::Invalid)?;
        let input = serde_json::to_string(input).map_err(|e| PortError::backend(SERVICE, e))?;
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(out) => {
                info!(execution = out.execution_arn(), "pipeline run started");
                Ok(StartOutcome::Started)
            }
            // Same name, different input or a closed run: a redelivery of a run we started.
            Err(e) if service_code(&e) == Some("ExecutionAlreadyExists") => {
                Ok(StartOutcome::AlreadyExists)
            }
            Err(e) => Err(sdk_error(SERVICE, "StartExecution", e)),
        }
    }
}

impl StepFunctions {
    /// The ARN of this state machine's execution `name`
    /// (`arn:…:states:…:execution:<machine>:<name>`).
    pub fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

#[async_trait]
impl WorkflowStopper for StepFunctions {
    async fn stop(&self, name: &str) -> PortResult<bool> {
        jarvis_core::pipeline::check_execution_name(name).map_err(PortError::Invalid)?;
        let result = self
            .client
            .stop_execution()
            .execution_arn(self.execution_arn(name))
            .cause("the tenant's data was erased")
            .send()
            .await;
        match result {
            Ok(_) => {
                info!(execution = name, "pipeline run stopped");
                Ok(true)
            }
            Err(e) if service_code(&e) == Some("ExecutionDoesNotExist") => Ok(false),
            Err(e) => Err(sdk_error(SERVICE, "StopExecution", e)),
        }
    }
}
