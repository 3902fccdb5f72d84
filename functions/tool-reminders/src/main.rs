//! Lambda entrypoint of `tool-reminders`: REST calls through API Gateway and
//! tool calls from api-chat, on the AWS adapters (reminders are EventBridge
//! Scheduler schedules targeting `reminder-fire`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = tool_reminders::Deps::aws(&stack)?;
    jarvis_lambda::run::tool(
        |call| tool_reminders::call(&deps, call),
        |event| tool_reminders::handle(&deps, event),
    )
    .await
}
