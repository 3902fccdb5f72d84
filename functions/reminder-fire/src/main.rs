//! Lambda entrypoint of `reminder-fire`, the target of every reminder schedule
//! (the schedule's input names the reminder: `{"tenant_id", "id"}`) and the consumer of the schedules'
//! dead-letter queue (deliveries Scheduler gave up on, fired late).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = reminder_fire::Deps::aws(&stack)?;
    jarvis_lambda::run::scheduled_or_dead_letters(
        |reminder: jarvis_core::domain::ReminderRef| reminder_fire::handle(&deps, reminder),
        |batch| reminder_fire::handle_dead_letters(&deps, batch),
    )
    .await
}
