//! `BlobStore` and `UrlSigner` on S3. ETags are stored without their quotes, so
//! they compare equal to what S3 puts in `Object Created` events.

use crate::error::{sdk_error, service_code};
use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use chrono::Utc;
use jarvis_core::domain::ObjectRef;
use jarvis_core::pipeline::keys;
use jarvis_core::ports::{BlobStore, PortResult, PresignedUrl, UrlSigner};
use jarvis_core::PortError;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const SERVICE: &str = "s3";
/// S3 refuses pre-signed URLs valid for longer than seven days.
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a store may do with a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlobOp {
    /// `get`, `head`, download URLs.
    Read,
    /// `put`, upload URLs.
    Write,
    /// `delete`, `delete_prefix`.
    Delete,
    /// `purge_prefix`: every version and delete marker.
    Purge,
}

#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    /// `(bucket name, op)` pairs this store may use; `None` allows everything.
    /// A function's store allows exactly what its IAM role grants, so a call
    /// its role would refuse fails the same way in tests on the emulator.
    grants: Option<Arc<BTreeSet<(String, BlobOp)>>>,
}

impl S3BlobStore {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            grants: None,
        }
    }

    /// A store limited to `grants` (bucket name, op).
    pub fn limited(client: Client, grants: BTreeSet<(String, BlobOp)>) -> Self {
        Self {
            client,
            grants: Some(Arc::new(grants)),
        }
    }

    /// One `PutObject` of `body` (`size` bytes).
    /// `only_new`: `If-None-Match: *`, so an existing key is a `Conflict`
    /// (S3 answers 412 PreconditionFailed, or 409 while another conditional
    /// write of the key is in flight) and the stored object stays.
    async fn put_body(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        size: u64,
        content_type: &str,
        only_new: bool,
    ) -> PortResult<ObjectRef> {
        checked(key)?;
        self.allowed(bucket, BlobOp::Write)?;
        let mut put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body);
        if only_new {
            put = put.if_none_match("*");
        }
        let out = put.send().await.map_err(|e| {
            if matches!(
                service_code(&e),
                Some("PreconditionFailed" | "ConditionalRequestConflict")
            ) {
                PortError::Conflict(format!("s3://{bucket}/{key} exists already"))
            } else {
                sdk_error(SERVICE, "PutObject", e)
            }
        })?;
        Ok(ObjectRef {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag: unquote(out.e_tag()),
            size,
        })
    }

    /// One `DeleteObjects` call (at most 1,000 keys or versions); with
    /// `versions` the ids name versions, which IAM checks as
    /// `DeleteObjectVersion`. Answers how many went; a partial failure is transient.
    async fn delete_batch(
        &self,
        bucket: &str,
        ids: Vec<ObjectIdentifier>,
        versions: bool,
    ) -> PortResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let n = ids.len();
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        let out = self
            .client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| match versions {
                true => sdk_error(SERVICE, "DeleteObjectVersion", e),
                false => sdk_error(SERVICE, "DeleteObjects", e),
            })?;
        if let Some(err) = out.errors().first() {
            return Err(PortError::Transient {
                backend: SERVICE,
                message: format!(
                    "DeleteObjects left {} of {n}: {}: {}",
                    out.errors().len(),
                    err.code().unwrap_or("error"),
                    err.message().unwrap_or_default()
                ),
                source: None,
            });
        }
        Ok(n)
    }

    fn allowed(&self, bucket: &str, op: BlobOp) -> PortResult<()> {
        match &self.grants {
            Some(g) if !g.contains(&(bucket.to_owned(), op)) => Err(PortError::Backend {
                backend: SERVICE,
                message: format!(
                    "AccessDenied: this function is not granted {op:?} on bucket {bucket:?} \
                     (its Deps::aws and its IAM role say what it may do)"
                ),
                source: None,
            }),
            _ => Ok(()),
        }
    }
}

fn unquote(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

fn checked(key: &str) -> PortResult<()> {
    keys::check_object_key(key).map_err(PortError::Invalid)
}

fn presign_config(expires_in: Duration) -> PortResult<PresigningConfig> {
    if expires_in.is_zero() || expires_in > MAX_PRESIGN {
        return Err(PortError::Invalid(
            "a pre-signed URL lasts between 1 second and 7 days".into(),
        ));
    }
    PresigningConfig::expires_in(expires_in).map_err(|e| PortError::Invalid(e.to_string()))
}

fn presigned(req: aws_sdk_s3::presigning::PresignedRequest, expires_in: Duration) -> PresignedUrl {
    PresignedUrl {
        url: req.uri().to_owned(),
        method: req.method().to_owned(),
        headers: req
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        expires_at: Utc::now()
            + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::zero()),
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> PortResult<ObjectRef> {
        let size = bytes.len() as u64;
        self.put_body(
            bucket,
            key,
            ByteStream::from(bytes),
            size,
            content_type,
            false,
        )
        .await
    }

    async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> PortResult<ObjectRef> {
        let size = bytes.len() as u64;
        self.put_body(
            bucket,
            key,
            ByteStream::from(bytes),
            size,
            content_type,
            true,
        )
        .await
    }

    async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> PortResult<ObjectRef> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| PortError::backend(SERVICE, e))?;
        let size = body.size_hint().1.unwrap_or_default();
        self.put_body(bucket, key, body, size, content_type, false)
            .await
    }

    async fn get(&self, bucket: &str, key: &str) -> PortResult<Vec<u8>> {
        checked(key)?;
        self.allowed(bucket, BlobOp::Read)?;
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "GetObject", e))?;
        let body = out.body.collect().await.map_err(|e| PortError::Transient {
            backend: SERVICE,
            message: format!("GetObject: reading s3://{bucket}/{key} broke off: {e}"),
            source: None,
        })?;
        Ok(body.into_bytes().to_vec())
    }

    async fn head(&self, bucket: &str, key: &str) -> PortResult<ObjectRef> {
        checked(key)?;
        self.allowed(bucket, BlobOp::Read)?;
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match sdk_error(SERVICE, "HeadObject", e) {
                PortError::NotFound(_) => PortError::NotFound(format!("s3://{bucket}/{key}")),
                other => other,
            })?;
        Ok(ObjectRef {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag: unquote(out.e_tag()),
            size: out.content_length().unwrap_or(0).max(0) as u64,
        })
    }

    async fn delete(&self, bucket: &str, key: &str) -> PortResult<()> {
        checked(key)?;
        self.allowed(bucket, BlobOp::Delete)?;
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "DeleteObject", e))?;
        Ok(())
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> PortResult<usize> {
        self.allowed(bucket, BlobOp::Delete)?;
        if prefix.is_empty() {
            return Err(PortError::Invalid(
                "refusing to delete a whole bucket by an empty prefix".into(),
            ));
        }
        let mut deleted = 0;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "ListObjectsV2", e))?;
            let ids: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            deleted += self.delete_batch(bucket, ids, false).await?;
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(deleted),
            }
        }
    }

    async fn purge_prefix(&self, bucket: &str, prefix: &str) -> PortResult<usize> {
        self.allowed(bucket, BlobOp::Purge)?;
        if prefix.is_empty() {
            return Err(PortError::Invalid(
                "refusing to purge a whole bucket by an empty prefix".into(),
            ));
        }
        let mut deleted = 0;
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "ListObjectVersions", e))?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            let ids: Vec<ObjectIdentifier> = versions
                .chain(markers)
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key?)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .ok()
                })
                .collect();
            for batch in ids.chunks(1000) {
                deleted += self.delete_batch(bucket, batch.to_vec(), true).await?;
            }
            if page.is_truncated() != Some(true) {
                return Ok(deleted);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
    }
}

#[async_trait]
impl UrlSigner for S3BlobStore {
    async fn upload_url(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        size: u64,
        only_new: bool,
        expires_in: Duration,
    ) -> PortResult<PresignedUrl> {
        checked(key)?;
        self.allowed(bucket, BlobOp::Write)?;
        let length = i64::try_from(size)
            .map_err(|_| PortError::Invalid(format!("{size} bytes is not an object size")))?;
        // Content-Length and Content-Type are signed headers: S3 answers 403
        // SignatureDoesNotMatch to a PUT of another size or type. So is
        // If-None-Match: a PUT without it is refused, one with it never
        // replaces an object (412).
        let mut put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length);
        if only_new {
            put = put.if_none_match("*");
        }
        let req = put
            .presigned(presign_config(expires_in)?)
            .await
            .map_err(|e| sdk_error(SERVICE, "PutObject (presign)", e))?;
        Ok(presigned(req, expires_in))
    }

    async fn download_url(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> PortResult<PresignedUrl> {
        checked(key)?;
        self.allowed(bucket, BlobOp::Read)?;
        let req = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(presign_config(expires_in)?)
            .await
            .map_err(|e| sdk_error(SERVICE, "GetObject (presign)", e))?;
        Ok(presigned(req, expires_in))
    }
}
