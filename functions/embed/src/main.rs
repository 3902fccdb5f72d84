//! Lambda entrypoint of `embed`: the AWS adapters, wired from the environment
//! Terraform sets (variable names in `jarvis_core::config::vars`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = embed::Deps::aws(&stack)?;
    jarvis_lambda::run::step(|event| embed::handle(&deps, event)).await
}
