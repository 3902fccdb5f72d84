//! Lambda entrypoint of `api-search`. Wired to the local adapters over
//! `JARVIS_DATA_DIR` until the AWS adapter crate lands; the handler is the same.

use jarvis_local::stack::LocalStack;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    jarvis_core::telemetry::init();
    let config = jarvis_core::config::Config::from_env()?;
    let (stack, _runs) = LocalStack::open(&config)?;
    let deps = api_search::Deps::local(&stack);
    lambda_runtime::run(service_fn(
        |e: LambdaEvent<aws_lambda_events::apigw::ApiGatewayV2httpRequest>| async {
            Ok::<_, std::convert::Infallible>(api_search::handle(&deps, e.payload).await)
        },
    ))
    .await
}
