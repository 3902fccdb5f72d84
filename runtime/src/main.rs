//! `jarvis` — the local runtime.
//!
//! ```text
//! jarvis                      serve the API on JARVIS_BIND and watch ./data/inbox
//! jarvis token <tenant>       issue another API token (for a second tenant, a script…)
//! jarvis reflect [<tenant>]   turn new conversations into memories now (it also runs nightly)
//! jarvis openapi              print the HTTP API's OpenAPI 3.1 document
//! ```

use jarvis_core::config::Config;
use jarvis_core::TenantId;

const USAGE: &str = "\
usage: jarvis [serve]            serve the API on JARVIS_BIND (default 127.0.0.1:8080)
                                 and ingest what is dropped into $JARVIS_DATA_DIR/inbox
       jarvis token <tenant>     issue another API token (works while jarvis runs)
       jarvis reflect [<tenant>] turn new conversations into memories now
                                 (works while jarvis runs)
       jarvis openapi            print the HTTP API's OpenAPI 3.1 document
       jarvis help               this text

Settings are environment variables; docs/configuration.md lists them all.";

fn main() -> anyhow::Result<()> {
    // Started as its own document parser (a child with capped memory and time).
    jarvis_extract::sandbox::serve_child_if_asked();
    jarvis::run_main(run())
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), ["help" | "--help" | "-h", ..]) {
        println!("{USAGE}");
        return Ok(());
    }
    if args.as_slice() == ["openapi"] {
        println!("{:#}", jarvis::openapi::document());
        return Ok(());
    }
    jarvis_core::telemetry::init();
    let mut config = Config::from_env()?;
    if config.parser.is_none() {
        // Documents are parsed in a child of this very program.
        config.parser = std::env::current_exe().ok();
    }
    match args.as_slice() {
        [] | ["serve"] => serve(config).await,
        ["token", tenant] => {
            let tenant = TenantId::parse(tenant).map_err(anyhow::Error::msg)?;
            // Only the database: the running server holds the search index's lock.
            let db = jarvis_local::Db::open(&config.data_dir.join("jarvis.sqlite3"))?;
            let tokens = jarvis_local::tokens::TokenStore::new(db);
            println!(
                "{}",
                jarvis::issue_token_in(&tokens, &tenant, "issued by `jarvis token`")?
            );
            Ok(())
        }
        ["reflect", rest @ ..] if rest.len() <= 1 => {
            let tenant = rest
                .first()
                .map(|t| TenantId::parse(t))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            match jarvis_local::stack::LocalStack::open(&config) {
                Ok((stack, _runs)) => {
                    let deps = jarvis::assistant::reflector(&stack)?;
                    let out = memory_reflector::handle(
                        &deps,
                        memory_reflector::Reflect { tenant_id: tenant },
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("{}", serde_json::to_string(&out)?);
                    Ok(())
                }
                // The running runtime holds the search index: ask it instead.
                Err(e) if e.to_string().to_lowercase().contains("lock") => {
                    let out = jarvis::reflect_in_running(&config, tenant).await?;
                    println!("{out}");
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
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
    println!(
        "Open the app (this link signs you in, once): {}",
        running.sign_in_link()?
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
