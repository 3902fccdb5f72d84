//! Lambda entrypoint of `api-me`: the caller's data rights, `DELETE /me/data`
//! and `GET /me/export`, on the AWS adapters.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = api_me::Deps::aws(&stack)?;
    jarvis_lambda::run::api(|event| api_me::handle(&deps, event)).await
}
