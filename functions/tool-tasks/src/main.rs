//! Lambda entrypoint of `tool-tasks`: REST calls through API Gateway and tool
//! calls from api-chat, on the AWS adapters.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = tool_tasks::Deps::aws(&stack)?;
    jarvis_lambda::run::tool(
        |call| tool_tasks::call(&deps, call),
        |event| tool_tasks::handle(&deps, event),
    )
    .await
}
