//! `WorkflowStarter` on Step Functions. The execution name comes from
//! bucket+key+ETag (`jarvis_core::pipeline::execution_name`), and Step Functions
//! refuses a second execution of the same name, so a redelivered message cannot
//! start a second run.

use crate::signed::{AwsClient, STEP_FUNCTIONS};
use async_trait::async_trait;
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{PortResult, StartOutcome, WorkflowStarter, WorkflowStopper};
use jarvis_core::PortError;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::info;

const SERVICE: &str = "states";

#[derive(Clone)]
pub struct StepFunctions {
    client: AwsClient,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: AwsClient, state_machine_arn: &str) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.to_owned(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Started {
    #[serde(default)]
    execution_arn: String,
}

#[async_trait]
impl WorkflowStarter for StepFunctions {
    /// AWS refuses names over 80 characters or outside `[0-9A-Za-z_-]`
    /// (InvalidName); moto does not, so the rule is checked here first.
    async fn start(&self, name: &str, input: &PipelineState) -> PortResult<StartOutcome> {
        jarvis_core::pipeline::check_execution_name(name).map_err(PortError::Invalid)?;
        let input = serde_json::to_string(input).map_err(|e| PortError::backend(SERVICE, e))?;
        let request = json!({
            "stateMachineArn": self.state_machine_arn,
            "name": name,
            "input": input,
        });
        let result = self
            .client
            .call::<_, Started>(&STEP_FUNCTIONS, "StartExecution", &request)
            .await;
        match result {
            Ok(out) => {
                info!(execution = out.execution_arn, "pipeline run started");
                Ok(StartOutcome::Started)
            }
            // Same name, different input or a closed run: a redelivery of a run we started.
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => Ok(StartOutcome::AlreadyExists),
            Err(e) => Err(e.into_port(SERVICE)),
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
        let request = json!({
            "executionArn": self.execution_arn(name),
            "cause": "the tenant's data was erased",
        });
        let result = self
            .client
            .call::<_, Value>(&STEP_FUNCTIONS, "StopExecution", &request)
            .await;
        match result {
            Ok(_) => {
                info!(execution = name, "pipeline run stopped");
                Ok(true)
            }
            Err(e) if e.code() == Some("ExecutionDoesNotExist") => Ok(false),
            Err(e) => Err(e.into_port(SERVICE)),
        }
    }
}
