//! Feeding a running `jarvis` through its inbox, as a user drops files, and
//! waiting until the pipeline has done with every one (both benchmarks do).

use jarvis_core::domain::{Document, DocumentStatus, TenantId};
use jarvis_core::ports::{DocumentFilter, MetadataStore};
use jarvis_local::stack::LocalStack;
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `name` into the inbox whole: under a `.part` name, then renamed, so
/// the watcher never reads half a file.
pub fn drop_file(inbox: &Path, name: &str, body: &str) -> std::io::Result<()> {
    let part = inbox.join(format!("{name}.part"));
    std::fs::write(&part, body)?;
    std::fs::rename(&part, inbox.join(name))
}

/// The tenant's documents once every one is `indexed` or `failed` and they
/// account for `expected` files (identical files fold into one document, as
/// its aliases); an error after an hour.
pub async fn wait_until_ingested(
    stack: &LocalStack,
    tenant: &TenantId,
    expected: usize,
    started: Instant,
) -> anyhow::Result<Vec<Document>> {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Counts by status first: listing thousands of documents every 250 ms
        // would take CPU from the very ingestion being measured.
        let (mut count, mut unfinished) = (0i64, 0i64);
        {
            let conn = stack.db.lock();
            let mut stmt = conn.prepare_cached(
                "SELECT status, count(*) FROM documents WHERE tenant = ?1 GROUP BY status",
            )?;
            let rows = stmt.query_map([tenant.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (status, n) = row?;
                count += n;
                if !DocumentStatus::parse(&status).is_some_and(DocumentStatus::is_terminal) {
                    unfinished += n;
                }
            }
        }
        if count == 0 || unfinished > 0 {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(3600),
                "ingestion did not finish within an hour ({} of {expected} done)",
                count - unfinished
            );
            continue;
        }
        let all = stack
            .metadata
            .list_documents(
                tenant,
                &DocumentFilter {
                    status: None,
                    limit: expected + 10,
                    after: None,
                },
            )
            .await?;
        let folded: usize = all.iter().map(|d| d.aliases.len()).sum();
        let done = all.iter().filter(|d| d.status.is_terminal()).count();
        if done == all.len() && all.len() + folded >= expected {
            return Ok(all);
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "ingestion did not finish within an hour ({done} of {expected} done)"
        );
    }
}
