//! Lambda entrypoint of `chat-stream`: the WebSocket API's routes, streaming
//! chat turns to the client through `@connections`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let deps = chat_stream::Deps::aws(&stack)?;
    jarvis_lambda::run::websocket(|event| chat_stream::handle(&deps, event)).await
}
