//! The watched inbox folder: the local stand-in for "a file lands in the raw
//! bucket and S3 tells EventBridge". A file whose size and modification time
//! held still between two looks (so it is not half-written) and whose content
//! differs from what was last announced gets an `Object Created` event on the
//! ingest queue. Announcements are remembered in SQLite, so a restart does not
//! re-announce unchanged files.
//!
//! How it looks: [`InboxWatcher::watching`] asks the operating system (inotify
//! on Linux, FSEvents on macOS, through `notify`) which paths changed, and each
//! [`InboxWatcher::tick`] looks only at those and at files still settling; a
//! folder of thousands of ingested files then costs nothing between changes.
//! The whole folder is still walked at the first tick, every
//! [`FULL_SCAN_EVERY`], and whenever the notifications say they lost events
//! (a full kernel queue). Where notifications cannot be had (a filesystem
//! without them, the watch limit reached), every tick walks the folder.
//!
//! Skipped: dot-files, editor and download temporaries (`~`, `.tmp`, `.part`,
//! `.crdownload`, `.swp`), symbolic links, and anything outside the folder.

use crate::blobs::file_etag;
use crate::queue::SqliteQueue;
use crate::{sqlite_err, Db};
use chrono::Utc;
use jarvis_core::ingest_event::object_created_body;
use jarvis_core::ports::PortResult;
use notify::Watcher;
use rusqlite::params;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Deepest folder nesting walked.
const MAX_DEPTH: usize = 8;

/// How often a watcher told of changes still walks the whole folder: the net
/// under events a notification mechanism can drop without saying so.
pub const FULL_SCAN_EVERY: Duration = Duration::from_secs(60);

pub struct InboxWatcher {
    root: PathBuf,
    bucket: String,
    db: Db,
    queue: Arc<SqliteQueue>,
    /// (size, mtime) at the last look at each file, for the stability check.
    last_scan: HashMap<String, (u64, i64)>,
    /// `inbox_seen`, read once at the first look and kept in step with it: a
    /// scan of a folder of thousands of files then costs a stat per file, not
    /// also a query each (this watcher is the table's only writer).
    announced: Option<HashMap<String, (u64, i64, String)>>,
    /// Files the last look found changing (or could not read): looked at
    /// again at the next tick, whether or not an event names them.
    unsettled: HashSet<String>,
    /// Changes the operating system reports; `None` when polling.
    events: Option<Events>,
    /// Files looked at (stat'ed) so far, for tests and diagnostics.
    looked_at: u64,
}

struct Events {
    /// Kept alive: dropping it stops the notifications.
    _watcher: notify::RecommendedWatcher,
    /// The inbox as notifications may name it: as configured, made absolute
    /// (inotify reports a relative root's paths from `/`), and with its
    /// symbolic links resolved (FSEvents reports real paths).
    roots: Vec<PathBuf>,
    changes: mpsc::Receiver<notify::Result<notify::Event>>,
    /// When the folder was last walked whole; `None` before the first walk.
    last_full_scan: Option<Instant>,
}

/// A file as a look found it.
struct Seen {
    key: String,
    path: PathBuf,
    size: u64,
    mtime: i64,
}

impl InboxWatcher {
    /// A watcher that walks the whole folder at every [`tick`](Self::tick).
    pub fn new(root: PathBuf, bucket: &str, db: Db, queue: Arc<SqliteQueue>) -> Self {
        Self {
            root,
            bucket: bucket.to_owned(),
            db,
            queue,
            last_scan: HashMap::new(),
            announced: None,
            unsettled: HashSet::new(),
            events: None,
            looked_at: 0,
        }
    }

    /// A watcher told of changes by the operating system (see the module
    /// documentation); one that polls, with a warning, where it cannot be.
    pub fn watching(root: PathBuf, bucket: &str, db: Db, queue: Arc<SqliteQueue>) -> Self {
        let mut watcher = Self::new(root, bucket, db, queue);
        match watcher.subscribe() {
            Ok(events) => {
                tracing::info!(
                    root = %watcher.root.display(),
                    "inbox: change notifications on (and a full walk every {} s)",
                    FULL_SCAN_EVERY.as_secs()
                );
                watcher.events = Some(events);
            }
            Err(e) => tracing::warn!(
                root = %watcher.root.display(),
                error = %e,
                "no change notifications for the inbox; walking it at every poll instead"
            ),
        }
        watcher
    }

    fn subscribe(&self) -> notify::Result<Events> {
        std::fs::create_dir_all(&self.root)?;
        let (tx, changes) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(tx)?;
        watcher.watch(&self.root, notify::RecursiveMode::Recursive)?;
        let mut roots = vec![self.root.clone()];
        for other in [std::path::absolute(&self.root), self.root.canonicalize()]
            .into_iter()
            .flatten()
        {
            if !roots.contains(&other) {
                roots.push(other);
            }
        }
        Ok(Events {
            _watcher: watcher,
            roots,
            changes,
            last_full_scan: None,
        })
    }

    /// Whether the operating system tells this watcher of changes.
    pub fn notified(&self) -> bool {
        self.events.is_some()
    }

    /// How many times a file has been looked at (stat'ed) so far.
    pub fn looked_at(&self) -> u64 {
        self.looked_at
    }

    /// One look at the inbox: the paths reported changed and the files still
    /// settling, or the whole folder when it is due (see the module
    /// documentation). Returns how many files were announced. Blocking
    /// (filesystem and SQLite).
    pub fn tick(&mut self) -> PortResult<usize> {
        let Some(events) = &mut self.events else {
            return self.scan();
        };
        let mut changed = HashSet::new();
        let mut full = events
            .last_full_scan
            .is_none_or(|at| at.elapsed() >= FULL_SCAN_EVERY);
        loop {
            match events.changes.try_recv() {
                Ok(Ok(event)) => {
                    full |= event.need_rescan();
                    if changes_content(&event.kind) {
                        changed.extend(event.paths);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "inbox notifications; walking the folder");
                    full = true;
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    tracing::warn!("inbox notifications stopped; walking the folder at every poll");
                    self.events = None;
                    return self.scan();
                }
            }
        }
        if full {
            events.last_full_scan = Some(Instant::now());
            return self.scan();
        }
        self.scan_changed(changed)
    }

    /// Walks the whole folder; returns how many files were announced.
    /// Blocking (filesystem and SQLite).
    pub fn scan(&mut self) -> PortResult<usize> {
        let mut files = Vec::new();
        walk(&self.root, &self.root, 0, &mut files);
        let current: HashMap<String, (u64, i64)> = files
            .iter()
            .map(|f| (f.key.clone(), (f.size, f.mtime)))
            .collect();
        self.unsettled.retain(|k| current.contains_key(k));
        let mut count = 0;
        for file in files {
            count += usize::from(self.consider(file)?);
        }
        self.last_scan = current;
        Ok(count)
    }

    /// Looks at the `changed` paths (files, or folders moved in whole) and at
    /// the files still settling.
    fn scan_changed(&mut self, changed: HashSet<PathBuf>) -> PortResult<usize> {
        let mut keys: HashSet<String> = self.unsettled.clone();
        let roots = self
            .events
            .as_ref()
            .map_or_else(|| vec![self.root.clone()], |e| e.roots.clone());
        for path in changed {
            if roots.contains(&path) {
                // The folder itself changed (moved, replaced): walk it.
                return self.scan();
            }
            if let Some(key) = roots.iter().find_map(|root| key_of(root, &path)) {
                if key.split('/').count() <= MAX_DEPTH + 1 {
                    keys.insert(key);
                }
            }
        }
        let mut files = Vec::new();
        for key in keys {
            let path = self.root.join(&key);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => files.push(Seen {
                    size: meta.len(),
                    mtime: mtime_ms(&meta),
                    key,
                    path,
                }),
                Ok(meta) if meta.is_dir() => {
                    let depth = key.split('/').count();
                    if depth <= MAX_DEPTH {
                        walk(&self.root, &path, depth, &mut files);
                    }
                }
                // Gone, or a symbolic link: forgotten until it is back as a file.
                _ => {
                    self.last_scan.remove(&key);
                    self.unsettled.remove(&key);
                }
            }
        }
        let mut count = 0;
        for file in files {
            let (key, size, mtime) = (file.key.clone(), file.size, file.mtime);
            count += usize::from(self.consider(file)?);
            self.last_scan.insert(key, (size, mtime));
        }
        Ok(count)
    }

    /// One file as a look found it: announced if it held still since the
    /// last look and its content is not what was last announced. Returns
    /// whether it was announced; a file not yet settled is marked to be
    /// looked at again.
    fn consider(&mut self, file: Seen) -> PortResult<bool> {
        let Seen {
            key,
            path,
            size,
            mtime,
        } = file;
        self.looked_at += 1;
        let stable = self.last_scan.get(&key) == Some(&(size, mtime));
        if !stable {
            self.unsettled.insert(key);
            return Ok(false);
        }
        let seen = self.seen(&key)?;
        if seen
            .as_ref()
            .is_some_and(|(s, m, _)| (*s, *m) == (size, mtime))
        {
            self.unsettled.remove(&key);
            return Ok(false);
        }
        let etag = match file_etag(&path) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(key, error = %e, "inbox file unreadable; will try again");
                self.unsettled.insert(key);
                return Ok(false);
            }
        };
        let mut announced = false;
        if seen.as_ref().is_none_or(|(_, _, old)| *old != etag) {
            let body = object_created_body(&self.bucket, &key, &etag, size, Utc::now());
            self.queue.send_now(&body)?;
            announced = true;
            tracing::info!(key, size, "inbox file announced");
        }
        self.remember(&key, size, mtime, &etag)?;
        self.unsettled.remove(&key);
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

/// Whether an event can mean new content: not a mere open or read (this
/// watcher reads each file it announces, and hears of that too).
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

fn mtime_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".part", ".crdownload", ".swp"]
            .iter()
            .any(|s| name.to_ascii_lowercase().ends_with(s))
}

/// The key of `path` under `root`: its parts joined by `/`. `None` when it is
/// not under `root` or a part is not UTF-8 or is ignored: the full walk and
/// the notified look must agree on what the inbox holds.
fn key_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for part in rel.components() {
        let part = part.as_os_str().to_str()?;
        if ignored(part) {
            return None;
        }
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Regular files under `dir` (`depth` folders below the root), keys `/`-separated.
fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<Seen>) {
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
            let Some(key) = key_of(root, &path) else {
                continue;
            };
            out.push(Seen {
                key,
                path,
                size: meta.len(),
                mtime: mtime_ms(&meta),
            });
        }
    }
}
