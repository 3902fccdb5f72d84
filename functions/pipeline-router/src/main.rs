//! Lambda entrypoint of `pipeline-router`: the AWS adapters, wired from the environment
//! Terraform sets (variable names in `jarvis_core::config::vars`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = pipeline_router::Deps::aws(&stack)?;
    jarvis_lambda::run::sqs(|event| pipeline_router::handle(&deps, event)).await
}
