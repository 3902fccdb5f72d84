//! `jarvis` — the local runtime.
//!
//! ```text
//! jarvis                      serve the API on JARVIS_BIND and watch ./data/inbox
//! jarvis token <tenant>       issue another API token (for a second tenant, a script…)
//! jarvis reflect [<tenant>]   turn new conversations into memories now (it also runs nightly)
//! ```

use jarvis_core::config::Config;
use jarvis_core::TenantId;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    jarvis_core::telemetry::init();
    let config = Config::from_env()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve(config).await,
        ["token", tenant] => {
            let tenant = TenantId::parse(tenant).map_err(anyhow::Error::msg)?;
            let (stack, _runs) = jarvis_local::stack::LocalStack::open(&config)?;
            println!(
                "{}",
                jarvis::issue_token(&stack, &tenant, "issued by `jarvis token`")?
            );
            Ok(())
        }
        ["reflect", rest @ ..] if rest.len() <= 1 => {
            let tenant = rest
                .first()
                .map(|t| TenantId::parse(t))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let (stack, _runs) = jarvis_local::stack::LocalStack::open(&config)?;
            let deps = jarvis::assistant::reflector(&stack)?;
            let out =
                memory_reflector::handle(&deps, memory_reflector::Reflect { tenant_id: tenant })
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&out)?);
            Ok(())
        }
        _ => anyhow::bail!(
            "usage: jarvis [serve] | jarvis token <tenant> | jarvis reflect [<tenant>]"
        ),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let inbox = config.data_dir.join("inbox");
    let running = jarvis::start(config).await?;
    println!("Jarvis is listening on http://{}", running.addr);
    println!(
        "Drop files into {} (or @tenant/ subfolders) to ingest them.",
        inbox.display()
    );
    if let Some(token) = &running.first_token {
        println!(
            "API token for tenant {:?} (shown once, keep it):\n\n    {token}\n",
            running.stack.config.default_tenant.as_str()
        );
        println!("    export JARVIS_TOKEN={token}\n");
    }
    tokio::signal::ctrl_c().await?;
    println!("Stopping: letting pipeline runs in flight finish…");
    running.shutdown().await;
    Ok(())
}
