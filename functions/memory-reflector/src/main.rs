//! Lambda entrypoint of `memory-reflector`: run nightly by EventBridge Scheduler
//! (every tenant), or on demand with `{"tenant_id": "…"}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = memory_reflector::Deps::aws(&stack)?;
    jarvis_lambda::run::scheduled(|event| memory_reflector::handle(&deps, event)).await
}
