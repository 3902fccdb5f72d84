//! Lambda entrypoint of `extract-document`: the AWS adapters, wired from the environment
//! Terraform sets (variable names in `jarvis_core::config::vars`).

/// The parser child's address space: the function has 1,024 MB in all.
const PARSER_MEMORY: u64 = 640 * 1024 * 1024;

fn main() -> Result<(), lambda_runtime::Error> {
    // Started as its own parser child: parse, answer, exit.
    jarvis_extract::sandbox::serve_child_if_asked();
    lambda()
}

#[tokio::main]
async fn lambda() -> Result<(), lambda_runtime::Error> {
    let stack = jarvis_aws::AwsStack::boot().await?;
    let mut deps = extract_document::Deps::aws(&stack)?;
    deps.sandbox = Some(std::sync::Arc::new(
        jarvis_extract::sandbox::Sandbox::of_this_program(
            PARSER_MEMORY,
            std::time::Duration::from_secs(120),
        )?,
    ));
    jarvis_lambda::run::step(|event| extract_document::handle(&deps, event)).await
}
