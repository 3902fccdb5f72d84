//! Lambda entrypoint of `api-chat`: `POST /chat` through the HTTP API, on
//! Bedrock Converse, OpenSearch retrieval and the tool functions.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = api_chat::Deps::aws(&stack)?;
    jarvis_lambda::run::api(|event| api_chat::handle(&deps, event)).await
}
