//! Lambda entrypoint of `ws-authorizer`: the WebSocket API's `$connect`
//! authorizer, verifying user pool tokens.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = ws_authorizer::Deps::aws(&stack)?;
    jarvis_lambda::run::authorizer(|event| ws_authorizer::handle(&deps, event)).await
}
