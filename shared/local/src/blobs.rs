//! Buckets as folders. Writes are atomic (temp file + rename); the ETag is the
//! SHA-256 of the bytes. Puts into a watched bucket emit an S3-shaped
//! `Object Created` event, as S3 does through EventBridge.

use async_trait::async_trait;
use jarvis_core::domain::ObjectRef;
use jarvis_core::pipeline::keys;
use jarvis_core::ports::{BlobStore, PortResult};
use jarvis_core::PortError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Receives `Object Created` notifications.
pub trait ObjectEvents: Send + Sync {
    fn object_created(&self, object: &ObjectRef) -> PortResult<()>;
}

/// Buckets mapped to folders.
#[derive(Clone)]
pub struct FsBlobStore {
    buckets: Arc<HashMap<String, PathBuf>>,
    events: Option<(String, Arc<dyn ObjectEvents>)>,
}

impl FsBlobStore {
    pub fn new(buckets: impl IntoIterator<Item = (String, PathBuf)>) -> PortResult<Self> {
        let buckets: HashMap<String, PathBuf> = buckets.into_iter().collect();
        for dir in buckets.values() {
            std::fs::create_dir_all(dir).map_err(|e| PortError::backend("filesystem", e))?;
        }
        Ok(Self {
            buckets: Arc::new(buckets),
            events: None,
        })
    }

    /// Sends an event for every put into `bucket`.
    pub fn with_events(mut self, bucket: &str, events: Arc<dyn ObjectEvents>) -> Self {
        self.events = Some((bucket.to_owned(), events));
        self
    }

    /// The file behind `bucket`/`key`; keys may not escape the bucket.
    pub fn path_of(&self, bucket: &str, key: &str) -> PortResult<PathBuf> {
        let root = self
            .buckets
            .get(bucket)
            .ok_or_else(|| PortError::NotFound(format!("bucket {bucket}")))?;
        keys::check_object_key(key).map_err(PortError::Invalid)?;
        let rel = Path::new(key);
        Ok(root.join(rel))
    }
}

/// SHA-256 of a file, streamed.
pub fn file_etag(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn io_err(e: std::io::Error, what: &str) -> PortError {
    if e.kind() == std::io::ErrorKind::NotFound {
        PortError::NotFound(what.to_owned())
    } else {
        PortError::backend("filesystem", e)
    }
}

impl FsBlobStore {
    /// Writes `bytes` at `key`, aside first and then moved in: renamed over
    /// what is there (`replace`), or linked, which fails when the name exists
    /// (so of two create-only writers one wins and the other changes nothing).
    /// A new object in the watched bucket is announced.
    async fn write(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        replace: bool,
    ) -> PortResult<ObjectRef> {
        let path = self.path_of(bucket, key)?;
        let etag = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        let tmp = path.with_file_name(format!(
            ".{}.{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("blob"),
            std::process::id(),
            jarvis_core::clock::new_id("t", chrono::Utc::now())
        ));
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&tmp, &bytes)?;
            if replace {
                return std::fs::rename(&tmp, &path).map(|()| true);
            }
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| PortError::backend("filesystem", e))?
        .map_err(|e| PortError::backend("filesystem", e))?;
        if !written {
            return Err(PortError::Conflict(format!(
                "{bucket}/{key} exists already"
            )));
        }
        let object = ObjectRef {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag,
            size,
        };
        if let Some((watched, events)) = &self.events {
            if watched == bucket {
                events.object_created(&object)?;
            }
        }
        Ok(object)
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> PortResult<ObjectRef> {
        self.write(bucket, key, bytes, true).await
    }

    async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> PortResult<ObjectRef> {
        self.write(bucket, key, bytes, false).await
    }

    async fn get(&self, bucket: &str, key: &str) -> PortResult<Vec<u8>> {
        let path = self.path_of(bucket, key)?;
        tokio::fs::read(&path)
            .await
            .map_err(|e| io_err(e, &format!("{bucket}/{key}")))
    }

    async fn head(&self, bucket: &str, key: &str) -> PortResult<ObjectRef> {
        let path = self.path_of(bucket, key)?;
        let what = format!("{bucket}/{key}");
        let (size, etag) =
            tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
                let meta = std::fs::metadata(&path)?;
                Ok((meta.len(), file_etag(&path)?))
            })
            .await
            .map_err(|e| PortError::backend("filesystem", e))?
            .map_err(|e| io_err(e, &what))?;
        Ok(ObjectRef {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag,
            size,
        })
    }

    async fn delete(&self, bucket: &str, key: &str) -> PortResult<()> {
        let path = self.path_of(bucket, key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PortError::backend("filesystem", e)),
        }
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> PortResult<usize> {
        let root = self
            .buckets
            .get(bucket)
            .ok_or_else(|| PortError::NotFound(format!("bucket {bucket}")))?
            .clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if let Ok(rel) = path.strip_prefix(&root) {
                        let key = rel.to_string_lossy().replace('\\', "/");
                        if key.starts_with(&prefix) && std::fs::remove_file(&path).is_ok() {
                            removed += 1;
                        }
                    }
                }
            }
            Ok(removed)
        })
        .await
        .map_err(|e| PortError::backend("filesystem", e))?
    }
}
