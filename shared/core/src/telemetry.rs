//! Tracing setup: JSON logs (or human-readable with `JARVIS_LOG_FORMAT=pretty`),
//! filtered by `RUST_LOG` (default `info`).

use crate::config::vars;
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; a second call is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_env(vars::LOG_FILTER)
        .unwrap_or_else(|_| EnvFilter::new("info,tantivy=warn"));
    let pretty = std::env::var(vars::LOG_FORMAT).is_ok_and(|v| v == "pretty");
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if pretty {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
}
