//! Lambda entrypoint of `extract-document`. Wired to the local adapters over
//! `JARVIS_DATA_DIR` until the AWS adapter crate lands; the handler is the same.

use jarvis_lambda::step::StepDiagnostic;
use jarvis_local::stack::LocalStack;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    jarvis_core::telemetry::init();
    let config = jarvis_core::config::Config::from_env()?;
    let (stack, _runs) = LocalStack::open(&config)?;
    let deps = extract_document::Deps::local(&stack);
    lambda_runtime::run(service_fn(
        |e: LambdaEvent<jarvis_core::pipeline::PipelineState>| async {
            extract_document::handle(&deps, e.payload)
                .await
                .map_err(StepDiagnostic)
        },
    ))
    .await
}
