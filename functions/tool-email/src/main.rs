//! Lambda entrypoint of `tool-email`: REST calls through API Gateway and tool
//! calls from api-chat; mail goes out through SESv2.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = tool_email::Deps::aws(&stack)?;
    jarvis_lambda::run::tool(
        |call| tool_email::call(&deps, call),
        |event| tool_email::handle(&deps, event),
    )
    .await
}
