//! `api-documents`: the caller's documents.
//!
//! - `POST /documents?name=report.pdf` with the file as the body: stores it in the
//!   raw bucket under `{tenant}/uploads/{name}` and routes it at once (the same
//!   router the bucket event reaches, so the event that follows is a no-op).
//!   An upload never replaces another file: a name taken already becomes
//!   `report (2).pdf`, `report (3).pdf`… (written create-only, so two uploads
//!   racing for one name both keep their file), unless `&replace=true` asks
//!   for the file of that name to be replaced.
//! - `POST /uploads {"name", "content_type", "size", "replace"?}`: for files
//!   past what an API request carries (API Gateway takes 10 MB, Lambda 6 MB): a
//!   pre-signed PUT of exactly that size and type to `{tenant}/uploads/{name}`
//!   (the first free name, as above) in the raw bucket, valid for 15 minutes;
//!   unless `replace` is true the PUT carries `If-None-Match: *`, so it never
//!   replaces a file that arrived under that name meanwhile. The object's arrival starts the normal pipeline (the
//!   bucket's event on AWS, the runtime's own store locally); the answer's
//!   `document_id` is the one `GET /documents/{id}` then shows (404 until the
//!   file has arrived).
//! - `GET /documents?status=indexed&limit=50&after=doc_…`: a page of documents.
//! - `GET /documents/{id}`: one document and its status (`queued`, `processing`,
//!   `indexed`, `failed` or `skipped`, with the reason).
//! - `GET /documents/{id}/original`: a link to the original file, valid for
//!   [`ORIGINAL_URL_LIFETIME`] (a pre-signed GET on AWS; locally the runtime's
//!   own signed `/files/…` URL), to open it — a PDF at a page with `#page=`.
//! - `DELETE /documents/{id}`: its chunks, stored files, derived artifacts and record.

use jarvis_core::domain::{Document, DocumentId, DocumentStatus, TenantId};
use jarvis_core::ingest_event::object_created_body;
use jarvis_core::pipeline::keys;
use jarvis_core::ports::{
    BlobStore, DocumentFilter, MetadataStore, PresignedUrl, SearchIndex, UrlSigner,
};
use jarvis_core::ApiError;
use jarvis_lambda::http::{self, Request, Response};
use jarvis_lambda::routes::Op;
#[cfg(feature = "local")]
use jarvis_local::stack::{LocalStack, CURATED_BUCKET, RAW_BUCKET};
use pipeline_router::Outcome;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Largest page of a listing.
pub const MAX_PAGE: usize = 200;
const DEFAULT_PAGE: usize = 50;
/// How long a pre-signed upload URL lasts.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How long a link to an original file lasts.
pub const ORIGINAL_URL_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Largest `POST /uploads` request body (it only describes the file).
pub const MAX_UPLOAD_REQUEST_BYTES: u64 = 16 * 1024;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub index: Arc<dyn SearchIndex>,
    /// Routes uploads (its buckets must include `raw_bucket` with prefixed keys).
    pub router: Arc<pipeline_router::Deps>,
    pub raw_bucket: String,
    pub curated_bucket: String,
    pub max_upload_bytes: u64,
    /// Signs `POST /uploads` URLs (S3, or the local runtime's own).
    pub signer: Arc<dyn UrlSigner>,
    /// Largest file the pipeline takes (larger ones would end `failed`).
    pub max_file_bytes: u64,
}

impl Deps {
    /// Wired to the AWS adapters; the error names a missing setting.
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        let blobs = stack.blobs(
            BlobAccess::new()
                .read(Bucket::Raw)
                .write(Bucket::Raw)
                .delete(Bucket::Raw)
                .delete(Bucket::Curated),
        )?;
        Ok(Deps {
            blobs: blobs.clone(),
            signer: blobs,
            metadata: stack.metadata(Rows::All)?,
            index: stack.index()?,
            router: Arc::new(pipeline_router::Deps::aws(stack)?),
            raw_bucket: stack.raw_bucket()?,
            curated_bucket: stack.curated_bucket()?,
            max_upload_bytes: stack.config.max_upload_bytes,
            max_file_bytes: stack.config.max_file_bytes,
        })
    }

    /// Wired to the embedded local adapters.
    #[cfg(feature = "local")]
    pub fn local(stack: &LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            index: stack.index.clone(),
            router: Arc::new(pipeline_router::Deps::local(stack)),
            raw_bucket: RAW_BUCKET.into(),
            curated_bucket: CURATED_BUCKET.into(),
            max_upload_bytes: stack.config.max_upload_bytes,
            signer: stack.uploads.clone(),
            max_file_bytes: stack.config.max_file_bytes,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub document_id: DocumentId,
    pub status: DocumentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set when the same content was already a document: this upload became its alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<DocumentId>,
    pub key: String,
}

/// `POST /uploads`: the file about to be uploaded.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// The file's name (its last segment is kept).
    #[schema(max_length = 1000)]
    pub name: String,
    /// One of the types Jarvis reads.
    pub content_type: String,
    /// Bytes, at least 1 (the deployment's file limit answers 413 above it).
    #[schema(minimum = 1)]
    pub size: u64,
    /// Replace the file of this name, if there is one. Without it a taken
    /// name becomes `name (2).ext`, and the URL never replaces a file.
    #[serde(default)]
    pub replace: bool,
}

impl jarvis_core::contract::Contract for UploadRequest {
    /// The name needs something usable, and the type is one the pipeline
    /// reads (its extension table).
    fn refine(schema: &mut serde_json::Value) {
        let mut types: Vec<&str> = jarvis_core::pipeline::supported_content_types().collect();
        types.sort_unstable();
        types.dedup();
        schema["properties"]["name"]["pattern"] =
            jarvis_core::pipeline::keys::FILE_NAME_PATTERN.into();
        schema["properties"]["name"]["x-message"] = "is not a usable file name".into();
        schema["properties"]["content_type"]["enum"] = serde_json::json!(types);
        schema["properties"]["content_type"]["x-message"] =
            format!("is not a type Jarvis reads; it reads {}", types.join(", ")).into();
    }
}

/// How many numbered names (`notes (2).txt`…) an upload tries before giving up.
const MAX_NAME_TRIES: usize = 200;

/// `name`, then `stem (2).ext`, `stem (3).ext`…: the names an upload may take.
pub fn numbered_names(name: &str) -> impl Iterator<Item = String> + '_ {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    std::iter::once(name.to_owned())
        .chain((2..).map(move |n| format!("{stem} ({n}){ext}")))
        .take(MAX_NAME_TRIES)
}

fn replace_flag(req: &Request) -> Result<bool, ApiError> {
    match http::query(req, "replace") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "replace is true or false, not {other:?}"
        ))),
    }
}

fn names_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "{MAX_NAME_TRIES} files are named like {name:?} already; pick another name"
    ))
}

/// `GET /documents/{id}/original`: where the original file can be read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Original {
    pub document_id: DocumentId,
    pub title: String,
    pub content_type: String,
    /// A GET of the file, no token needed, until `expires_at`.
    pub url: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Where to PUT the file, and the document it becomes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadTicket {
    pub document_id: DocumentId,
    pub key: String,
    pub upload: PresignedUrl,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listing {
    pub documents: Vec<Document>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<DocumentId>,
}

pub async fn handle(deps: &Deps, req: Request) -> Response {
    let result = async {
        let tenant = http::tenant(&req)?;
        let id = || parse_id(http::path_param(&req, "id").unwrap_or_default());
        let route = http::route(&req)?;
        match route.op {
            Op::PresignUpload => presign_upload(deps, &tenant, &req)
                .await
                .map(|t| http::json(201, &t)),
            Op::UploadDocument => upload(deps, &tenant, &req)
                .await
                .map(|a| http::json(202, &a)),
            Op::ListDocuments => list(deps, &tenant, &req).await.map(|l| http::json(200, &l)),
            Op::GetDocument => get(deps, &tenant, &id()?)
                .await
                .map(|d| http::json(200, &d)),
            Op::DocumentOriginal => original(deps, &tenant, &id()?)
                .await
                .map(|o| http::json(200, &o)),
            Op::DeleteDocument => delete(deps, &tenant, &id()?)
                .await
                .map(|d| http::json(200, &d)),
            _ => Err(http::not_here("api-documents", route)),
        }
    }
    .await;
    result.unwrap_or_else(|e| http::error(&e))
}

fn parse_id(raw: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse(raw).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{raw:?} is not a document id (doc_ + 24 hex digits)"
        ))
    })
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
async fn upload(deps: &Deps, tenant: &TenantId, req: &Request) -> Result<Accepted, ApiError> {
    let raw_name = http::query(req, "name")
        .ok_or_else(|| ApiError::BadRequest("give the file name as ?name=…".into()))?;
    let name = keys::sanitize_file_name(raw_name)
        .ok_or_else(|| ApiError::BadRequest(format!("{raw_name:?} is not a usable file name")))?;
    refuse_while_erasing(deps, tenant).await?;
    let bytes = http::body_bytes(req, deps.max_upload_bytes)?;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("the file is empty (0 bytes)".into()));
    }
    let replace = replace_flag(req)?;
    let content_type =
        jarvis_core::pipeline::content_type_for(&name, &bytes[..bytes.len().min(512)]);
    let (key, stored) = if replace {
        let key = keys::upload(tenant, &name);
        let stored = deps
            .blobs
            .put(&deps.raw_bucket, &key, bytes.to_vec(), &content_type)
            .await?;
        (key, stored)
    } else {
        let mut stored = None;
        for candidate in numbered_names(&name) {
            let key = keys::upload(tenant, &candidate);
            match deps
                .blobs
                .put_new(&deps.raw_bucket, &key, bytes.to_vec(), &content_type)
                .await
            {
                Ok(object) => {
                    stored = Some((key, object));
                    break;
                }
                Err(jarvis_core::PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        stored.ok_or_else(|| names_taken(&name))?
    };
    let event = object_created_body(
        &deps.raw_bucket,
        &key,
        &stored.etag,
        stored.size,
        chrono::Utc::now(),
    );
    let outcome = pipeline_router::route_one(&deps.router, &event).await?;
    let id = DocumentId::for_object(tenant, &deps.raw_bucket, &key);
    Ok(match outcome {
        Outcome::Duplicate { of } => Accepted {
            document_id: of.clone(),
            status: status_of(deps, tenant, &of).await?,
            reason: None,
            duplicate_of: Some(of),
            key,
        },
        Outcome::Refused { document, reason } => Accepted {
            document_id: document,
            status: DocumentStatus::Failed,
            reason: Some(reason),
            duplicate_of: None,
            key,
        },
        Outcome::Started(_) | Outcome::Redelivered(_) => Accepted {
            status: status_of(deps, tenant, &id).await?,
            document_id: id,
            reason: None,
            duplicate_of: None,
            key,
        },
        Outcome::Ignored(why) => return Err(ApiError::BadRequest(why)),
    })
}

/// `POST /uploads`: checks what the file will be, then signs a PUT for it.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
async fn presign_upload(
    deps: &Deps,
    tenant: &TenantId,
    req: &Request,
) -> Result<UploadTicket, ApiError> {
    let asked: UploadRequest = http::json_body(req, MAX_UPLOAD_REQUEST_BYTES)?;
    refuse_while_erasing(deps, tenant).await?;
    let name = keys::sanitize_file_name(&asked.name).ok_or_else(|| {
        ApiError::BadRequest(format!("{:?} is not a usable file name", asked.name))
    })?;
    let content_type = asked.content_type.trim().to_ascii_lowercase();
    if !jarvis_core::pipeline::is_supported_content_type(&content_type) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "{:?} is not a type Jarvis reads; it reads {}",
            asked.content_type,
            jarvis_core::pipeline::supported_content_types()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if asked.size == 0 {
        return Err(ApiError::BadRequest("the file is empty (0 bytes)".into()));
    }
    if asked.size > deps.max_file_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "the file is {} bytes; the largest Jarvis reads is {} bytes",
            asked.size, deps.max_file_bytes
        )));
    }
    let key = if asked.replace {
        keys::upload(tenant, &name)
    } else {
        free_key(deps, tenant, &name).await?
    };
    let upload = deps
        .signer
        .upload_url(
            &deps.raw_bucket,
            &key,
            &content_type,
            asked.size,
            !asked.replace,
            UPLOAD_URL_LIFETIME,
        )
        .await?;
    Ok(UploadTicket {
        document_id: DocumentId::for_object(tenant, &deps.raw_bucket, &key),
        key,
        upload,
    })
}

/// A link to the document's original file.
async fn original(deps: &Deps, tenant: &TenantId, id: &DocumentId) -> Result<Original, ApiError> {
    let doc = get(deps, tenant, id).await?;
    let url = deps
        .signer
        .download_url(&doc.source.bucket, &doc.source.key, ORIGINAL_URL_LIFETIME)
        .await?;
    Ok(Original {
        document_id: doc.id,
        title: doc.title,
        content_type: doc.content_type,
        url: url.url,
        expires_at: url.expires_at,
    })
}

/// 409 while the tenant's data is being erased: the file would be removed as
/// it arrived (and a 2xx would say it was kept).
async fn refuse_while_erasing(deps: &Deps, tenant: &TenantId) -> Result<(), ApiError> {
    if jarvis_core::records::erasing(deps.router.records.as_ref(), tenant).await? {
        return Err(ApiError::Conflict(jarvis_core::records::ERASING.into()));
    }
    Ok(())
}

/// The first of the numbered names no file has now (the URL's own
/// `If-None-Match` keeps a file that arrives meanwhile).
async fn free_key(deps: &Deps, tenant: &TenantId, name: &str) -> Result<String, ApiError> {
    for candidate in numbered_names(name) {
        let key = keys::upload(tenant, &candidate);
        match deps.blobs.head(&deps.raw_bucket, &key).await {
            Err(jarvis_core::PortError::NotFound(_)) => return Ok(key),
            Ok(_) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(names_taken(name))
}

async fn status_of(
    deps: &Deps,
    tenant: &TenantId,
    id: &DocumentId,
) -> Result<DocumentStatus, ApiError> {
    Ok(deps
        .metadata
        .get_document(tenant, id)
        .await?
        .map_or(DocumentStatus::Queued, |d| d.status))
}

async fn list(deps: &Deps, tenant: &TenantId, req: &Request) -> Result<Listing, ApiError> {
    let status = http::query(req, "status")
        .map(|s| {
            DocumentStatus::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "status {s:?} is not one of queued, processing, indexed, failed, skipped"
                ))
            })
        })
        .transpose()?;
    let limit = match http::query(req, "limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("limit must be a number from 1 to {MAX_PAGE}"))
            })?,
    };
    let after = http::query(req, "after").map(parse_id).transpose()?;
    // One extra tells whether there is a next page.
    let mut documents = deps
        .metadata
        .list_documents(
            tenant,
            &DocumentFilter {
                status,
                limit: limit + 1,
                after,
            },
        )
        .await?;
    let next = (documents.len() > limit).then(|| {
        documents.truncate(limit);
        documents.last().map(|d| d.id.clone())
    });
    Ok(Listing {
        documents,
        next: next.flatten(),
    })
}

async fn get(deps: &Deps, tenant: &TenantId, id: &DocumentId) -> Result<Document, ApiError> {
    deps.metadata
        .get_document(tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no document {id}")))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: DocumentId,
    pub files_removed: usize,
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, document = %id))]
/// `DELETE /documents/{id}`.
pub async fn delete(deps: &Deps, tenant: &TenantId, id: &DocumentId) -> Result<Deleted, ApiError> {
    let doc = get(deps, tenant, id).await?;
    // Index first: from this moment search no longer returns it.
    deps.index.delete_document(tenant, id).await?;
    deps.blobs
        .delete(&doc.source.bucket, &doc.source.key)
        .await?;
    let mut files_removed = 1;
    // An alias is another file that held the same bytes when it arrived. One
    // edited since is no longer a copy (it may be a document of its own now):
    // it stays.
    for key in &doc.aliases {
        match deps.blobs.head(&doc.source.bucket, key).await {
            Ok(now) if now.etag == doc.source.etag => {
                deps.blobs.delete(&doc.source.bucket, key).await?;
                files_removed += 1;
            }
            Ok(_) | Err(jarvis_core::PortError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    files_removed += deps
        .blobs
        .delete_prefix(&deps.curated_bucket, &keys::curated_prefix(tenant, id))
        .await?;
    deps.metadata.delete_document(tenant, id).await?;
    Ok(Deleted {
        deleted: id.clone(),
        files_removed,
    })
}
