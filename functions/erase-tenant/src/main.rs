//! Lambda entrypoint of `erase-tenant`: invoked asynchronously by api-me
//! (`DELETE /me/data`) with `{"tenant_id"}`; an error fails the invocation and
//! Lambda runs it again (twice), which is safe: every phase is idempotent.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = erase_tenant::Deps::aws(&stack)?;
    jarvis_lambda::run::job(|job| erase_tenant::handle(&deps, job)).await
}
