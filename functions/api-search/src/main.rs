//! Lambda entrypoint of `api-search`: the AWS adapters, wired from the environment
//! Terraform sets (variable names in `jarvis_core::config::vars`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = api_search::Deps::aws(&stack)?;
    jarvis_lambda::run::api(|event| api_search::handle(&deps, event)).await
}
