//! Lambda entrypoint of `reminder-fire`, the target of every reminder schedule:
//! the schedule's input is the reminder.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = reminder_fire::Deps::aws(&stack)?;
    jarvis_lambda::run::scheduled(|reminder| reminder_fire::handle(&deps, reminder)).await
}
