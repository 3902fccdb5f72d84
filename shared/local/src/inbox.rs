//! The watched inbox folder: the local stand-in for "a file lands in the raw
//! bucket and S3 tells EventBridge". Each scan walks the folder; a file whose
//! size and modification time held still since the previous scan (so it is not
//! half-written) and whose content differs from what was last announced gets an
//! `Object Created` event on the ingest queue. Announcements are remembered in
//! SQLite, so a restart does not re-announce unchanged files.
//!
//! Skipped: dot-files, editor and download temporaries (`~`, `.tmp`, `.part`,
//! `.crdownload`, `.swp`), symbolic links, and anything outside the folder.

use crate::blobs::file_etag;
use crate::queue::SqliteQueue;
use crate::{sqlite_err, Db};
use chrono::Utc;
use jarvis_core::ingest_event::object_created_body;
use jarvis_core::ports::PortResult;
use rusqlite::params;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// Deepest folder nesting walked.
const MAX_DEPTH: usize = 8;

pub struct InboxWatcher {
    root: PathBuf,
    bucket: String,
    db: Db,
    queue: Arc<SqliteQueue>,
    /// (size, mtime) seen on the previous scan, for the stability check.
    last_scan: HashMap<String, (u64, i64)>,
    /// `inbox_seen`, read once at the first scan and kept in step with it: a
    /// scan of a folder of thousands of files then costs a stat per file, not
    /// also a query each (this watcher is the table's only writer).
    announced: Option<HashMap<String, (u64, i64, String)>>,
}

impl InboxWatcher {
    pub fn new(root: PathBuf, bucket: &str, db: Db, queue: Arc<SqliteQueue>) -> Self {
        Self {
            root,
            bucket: bucket.to_owned(),
            db,
            queue,
            last_scan: HashMap::new(),
            announced: None,
        }
    }

    /// One scan; returns how many files were announced. Blocking (filesystem and SQLite).
    pub fn scan(&mut self) -> PortResult<usize> {
        let mut files = Vec::new();
        walk(&self.root, &self.root, 0, &mut files);
        let mut current = HashMap::with_capacity(files.len());
        let mut announced = 0;
        for (key, path, size, mtime) in files {
            current.insert(key.clone(), (size, mtime));
            let stable = self.last_scan.get(&key) == Some(&(size, mtime));
            if !stable {
                continue;
            }
            let seen = self.seen(&key)?;
            if seen
                .as_ref()
                .is_some_and(|(s, m, _)| (*s, *m) == (size, mtime))
            {
                continue;
            }
            let etag = match file_etag(&path) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(key, error = %e, "inbox file unreadable; will try again");
                    continue;
                }
            };
            if seen.as_ref().is_none_or(|(_, _, old)| *old != etag) {
                let body = object_created_body(&self.bucket, &key, &etag, size, Utc::now());
                self.queue.send_now(&body)?;
                announced += 1;
                tracing::info!(key, size, "inbox file announced");
            }
            self.remember(&key, size, mtime, &etag)?;
        }
        self.last_scan = current;
        Ok(announced)
    }

    fn seen(&mut self, key: &str) -> PortResult<Option<(u64, i64, String)>> {
        if self.announced.is_none() {
            let conn = self.db.lock();
            let mut stmt = conn
                .prepare("SELECT key, size, mtime, etag FROM inbox_seen")
                .map_err(sqlite_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        (r.get::<_, i64>(1)? as u64, r.get(2)?, r.get(3)?),
                    ))
                })
                .map_err(sqlite_err)?;
            let all = rows
                .collect::<Result<HashMap<_, _>, _>>()
                .map_err(sqlite_err)?;
            self.announced = Some(all);
        }
        Ok(self.announced.as_ref().and_then(|a| a.get(key).cloned()))
    }

    fn remember(&mut self, key: &str, size: u64, mtime: i64, etag: &str) -> PortResult<()> {
        self.db
            .lock()
            .execute(
                "INSERT INTO inbox_seen (key, size, mtime, etag) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, etag = excluded.etag",
                params![key, size as i64, mtime, etag],
            )
            .map_err(sqlite_err)?;
        if let Some(announced) = &mut self.announced {
            announced.insert(key.to_owned(), (size, mtime, etag.to_owned()));
        }
        Ok(())
    }
}

fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".part", ".crdownload", ".swp"]
            .iter()
            .any(|s| name.to_ascii_lowercase().ends_with(s))
}

/// Regular files under `dir` as `(key, path, size, mtime_ms)`, keys `/`-separated.
fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, PathBuf, u64, i64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if ignored(name) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() && depth < MAX_DEPTH {
            walk(root, &path, depth + 1, out);
        } else if kind.is_file() {
            let Ok(meta) = entry.metadata() else { continue };
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as i64);
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((key, path, meta.len(), mtime));
        }
    }
}
