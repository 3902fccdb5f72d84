//! Lambda entrypoint of `detect-pii`: the AWS adapters, wired from the environment
//! Terraform sets (variable names in `jarvis_core::config::vars`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = detect_pii::Deps::aws(&stack)?;
    jarvis_lambda::run::step(|event| detect_pii::handle(&deps, event)).await
}
