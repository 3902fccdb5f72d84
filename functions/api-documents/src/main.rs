//! Lambda entrypoint of `api-documents`: the AWS adapters, wired from the environment
//! Terraform sets (variable names in `jarvis_core::config::vars`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = api_documents::Deps::aws(&stack)?;
    jarvis_lambda::run::api(|event| api_documents::handle(&deps, event)).await
}
