//! `api-me`: the caller's data rights.
//!
//! - `DELETE /me/data` removes everything of the caller's tenant: the search
//!   index entries (first, so nothing is found any more), every reminder's
//!   schedule, the records (tasks, reminders, drafts, conversations, memories,
//!   settings),
//!   every document record, and every stored file — raw uploads and mail,
//!   inbox files, derived artifacts. It answers what it removed; running it
//!   again removes nothing more. Other tenants are never touched: every call
//!   names this tenant, and files go by the tenant's key prefix.
//! - `GET /me/export` answers a zip archive: `documents.json` (the document
//!   records), `files/<key>` (each document's original file), `records/*.json`
//!   (tasks, reminders, drafts, conversations, memories, settings) and `README.txt`.
//!   Archives larger than the inline limit (API Gateway carries about 6 MB) are
//!   written to the curated bucket and answered with a 303 to a pre-signed URL.
//! - `GET /me/settings`, `PUT /me/settings {"time_zone": "America/New_York"}`:
//!   the caller's own time zone (an IANA name; `null` goes back to the
//!   deployment's `JARVIS_TIME_ZONE`). Reminders, due dates and chat read and
//!   show times in it. An unknown zone is a 422.
//! - `PUT /me/notifications {"email": "ana@example.com"}`: reminders are also
//!   mailed there, to this tenant only (on AWS an SNS e-mail subscription whose
//!   filter policy admits only the caller's messages; SNS first mails the
//!   address a link to confirm). A new address replaces the old one;
//!   `DELETE /me/notifications` ends it. `GET /me/settings` shows it. The local
//!   runtime delivers to WebSocket clients and `JARVIS_WEBHOOK_URL` instead, and
//!   answers 409 here.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use jarvis_core::domain::{Document, Reminder, Settings};
use jarvis_core::ports::{
    BlobStore, DocumentFilter, MetadataStore, NotificationTargets, PortResult, RecordKind,
    RecordStore, Scheduler, SearchIndex, UrlSigner,
};
use jarvis_core::{records, ApiError, PortError, TenantId};
use jarvis_lambda::http;
use serde::Serialize;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub records: Arc<dyn RecordStore>,
    pub index: Arc<dyn SearchIndex>,
    pub scheduler: Arc<dyn Scheduler>,
    pub raw_bucket: String,
    pub curated_bucket: String,
    /// Where larger exports go by pre-signed URL (S3); `None` answers inline always.
    pub signer: Option<Arc<dyn UrlSigner>>,
    pub inline_limit: usize,
    /// The deployment's zone (`JARVIS_TIME_ZONE`), for tenants without their own.
    pub zone: jarvis_core::when::Zone,
    /// Where reminders are mailed to their owner (SNS); `None` where the
    /// deployment has no such channel (the local runtime).
    pub targets: Option<Arc<dyn NotificationTargets>>,
}

/// What a response body can carry through API Gateway, base64 included.
pub const AWS_INLINE_LIMIT: usize = 4_000_000;

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::{iam::Bucket, BlobAccess, Rows};
        let blobs = stack.blobs(
            BlobAccess::new()
                .read(Bucket::Raw)
                .delete(Bucket::Raw)
                .read(Bucket::Curated)
                .write(Bucket::Curated)
                .delete(Bucket::Curated),
        )?;
        Ok(Deps {
            signer: Some(blobs.clone()),
            blobs,
            metadata: stack.metadata(Rows::All)?,
            records: stack.records(Rows::All)?,
            index: stack.index()?,
            scheduler: stack.schedule_canceller(),
            raw_bucket: stack.raw_bucket()?,
            curated_bucket: stack.curated_bucket()?,
            inline_limit: AWS_INLINE_LIMIT,
            zone: stack.zone(),
            targets: Some(stack.notification_targets()?),
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            records: stack.records.clone(),
            index: stack.index.clone(),
            scheduler: stack.scheduler.clone(),
            raw_bucket: jarvis_local::stack::RAW_BUCKET.into(),
            curated_bucket: jarvis_local::stack::CURATED_BUCKET.into(),
            signer: None,
            inline_limit: 512 * 1024 * 1024,
            zone: stack.zone(),
            targets: None,
        }
    }
}

/// Every document record of the tenant, page by page.
async fn all_documents(deps: &Deps, tenant: &TenantId) -> PortResult<Vec<Document>> {
    let mut docs = Vec::new();
    loop {
        let page = deps
            .metadata
            .list_documents(
                tenant,
                &DocumentFilter {
                    status: None,
                    limit: 100,
                    after: docs.last().map(|d: &Document| d.id.clone()),
                },
            )
            .await?;
        let n = page.len();
        docs.extend(page);
        if n < 100 {
            return Ok(docs);
        }
    }
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Erased {
    pub documents: usize,
    pub files: usize,
    pub records: usize,
    pub schedules: usize,
}

/// Removes everything of `tenant`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn erase(deps: &Deps, tenant: &TenantId) -> PortResult<Erased> {
    let mut erased = Erased::default();
    deps.index.delete_tenant(tenant).await?;
    // Nothing more is mailed to the tenant's address.
    if let Some(id) = settings(deps, tenant).await?.notify_subscription {
        if let Some(targets) = &deps.targets {
            targets.unsubscribe(&id).await?;
        }
    }
    for reminder in records::list::<Reminder>(deps.records.as_ref(), tenant).await? {
        deps.scheduler.cancel(tenant, &reminder.id).await?;
        erased.schedules += 1;
    }
    erased.records = deps.records.delete_tenant(tenant).await?;
    let prefix = format!("{tenant}/");
    for doc in all_documents(deps, tenant).await? {
        // Files outside the tenant's prefix (the local inbox) go one by one.
        for key in std::iter::once(&doc.source.key).chain(&doc.aliases) {
            if !(doc.source.bucket == deps.raw_bucket && key.starts_with(&prefix)) {
                match deps.blobs.delete(&doc.source.bucket, key).await {
                    Ok(()) => erased.files += 1,
                    Err(PortError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        deps.metadata.delete_document(tenant, &doc.id).await?;
        erased.documents += 1;
    }
    erased.files += deps.blobs.delete_prefix(&deps.raw_bucket, &prefix).await?;
    erased.files += deps
        .blobs
        .delete_prefix(&deps.curated_bucket, &prefix)
        .await?;
    tracing::info!(?erased, "tenant data erased");
    Ok(erased)
}

fn zip_err(e: impl std::fmt::Display) -> PortError {
    PortError::Backend {
        backend: "export",
        message: e.to_string(),
        source: None,
    }
}

/// The tenant's archive (zip bytes).
pub async fn export(deps: &Deps, tenant: &TenantId) -> PortResult<Vec<u8>> {
    let docs = all_documents(deps, tenant).await?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    entries.push((
        "documents.json".into(),
        serde_json::to_vec_pretty(&docs).map_err(zip_err)?,
    ));
    for doc in &docs {
        for key in std::iter::once(&doc.source.key).chain(&doc.aliases) {
            match deps.blobs.get(&doc.source.bucket, key).await {
                Ok(bytes) => entries.push((format!("files/{}/{key}", doc.source.bucket), bytes)),
                Err(PortError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for kind in RecordKind::ALL {
        let all = deps.records.list(tenant, kind).await?;
        let file = match kind {
            RecordKind::Settings => "settings".to_owned(),
            other => format!("{}s", other.as_str()),
        };
        entries.push((
            format!("records/{file}.json"),
            serde_json::to_vec_pretty(&all).map_err(zip_err)?,
        ));
    }
    entries.push((
        "README.txt".into(),
        format!(
            "Everything Jarvis keeps for tenant {tenant}: documents.json (document records), files/ (the original files), records/ (tasks, reminders, drafts, conversations, memories, settings).\n"
        )
        .into_bytes(),
    ));
    tokio::task::spawn_blocking(move || {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(name, options).map_err(zip_err)?;
            zip.write_all(&bytes).map_err(zip_err)?;
        }
        Ok(zip.finish().map_err(zip_err)?.into_inner())
    })
    .await
    .map_err(zip_err)?
}

/// Largest `PUT /me/settings` body.
pub const MAX_SETTINGS_BYTES: u64 = 4 * 1024;

/// The tenant's settings record, or the empty one.
async fn settings(deps: &Deps, tenant: &TenantId) -> PortResult<Settings> {
    Ok(
        records::get::<Settings>(deps.records.as_ref(), tenant, Settings::ID)
            .await?
            .unwrap_or_else(|| Settings::empty(tenant)),
    )
}

/// Changes the tenant's settings as stored now (compare-and-set), so a time
/// zone and a notification address set at once both stay.
async fn edit_settings(
    deps: &Deps,
    tenant: &TenantId,
    edit: impl Fn(&mut Settings),
) -> PortResult<()> {
    records::update::<Settings, ()>(deps.records.as_ref(), tenant, Settings::ID, |stored| {
        let mut s = stored.unwrap_or_else(|| Settings::empty(tenant));
        edit(&mut s);
        Ok(records::Change::Write(s, ()))
    })
    .await
}

/// `{"time_zone": the zone in effect, "own_time_zone": the tenant's own or null,
/// "notify_email": where reminders are mailed, or null}`.
async fn settings_view(deps: &Deps, tenant: &TenantId) -> Result<serde_json::Value, ApiError> {
    let stored = settings(deps, tenant).await?;
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    Ok(serde_json::json!({
        "time_zone": zone.name(),
        "own_time_zone": stored.time_zone,
        "notify_email": stored.notify_email,
    }))
}

/// `PUT /me/settings {"time_zone": "America/New_York"}` (null: the deployment's).
async fn put_settings(
    deps: &Deps,
    tenant: &TenantId,
    req: &ApiGatewayV2httpRequest,
) -> Result<serde_json::Value, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        time_zone: Option<String>,
    }
    let body: Body = http::json_body(req, MAX_SETTINGS_BYTES)?;
    let time_zone = match body.time_zone {
        Some(name) => Some(
            jarvis_core::when::zone(&name)
                .map_err(ApiError::Unprocessable)?
                .name()
                .to_owned(),
        ),
        None => None,
    };
    edit_settings(deps, tenant, |s| s.time_zone = time_zone.clone()).await?;
    settings_view(deps, tenant).await
}

/// `PUT /me/notifications {"email"}`: reminders mailed to that address, this
/// tenant's only. A previous address's subscription ends first.
async fn put_notifications(
    deps: &Deps,
    tenant: &TenantId,
    req: &ApiGatewayV2httpRequest,
) -> Result<serde_json::Value, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        email: String,
    }
    let body: Body = http::json_body(req, MAX_SETTINGS_BYTES)?;
    let email = body.email.trim().to_owned();
    if !jarvis_core::tools::is_email_address(&email) {
        return Err(ApiError::Unprocessable(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    let targets = deps.targets.as_ref().ok_or_else(no_mail_channel)?;
    if let Some(old) = settings(deps, tenant).await?.notify_subscription {
        targets.unsubscribe(&old).await?;
    }
    let id = targets.subscribe_email(tenant, &email).await?;
    edit_settings(deps, tenant, |s| {
        s.notify_email = Some(email.clone());
        s.notify_subscription = Some(id.clone());
    })
    .await?;
    Ok(serde_json::json!({
        "notify_email": email,
        "status": "pending_confirmation",
        "message": "A confirmation link was mailed to that address; reminders arrive there once it is followed.",
    }))
}

/// `DELETE /me/notifications`: reminders are no longer mailed.
async fn delete_notifications(
    deps: &Deps,
    tenant: &TenantId,
) -> Result<serde_json::Value, ApiError> {
    let targets = deps.targets.as_ref().ok_or_else(no_mail_channel)?;
    let stored = settings(deps, tenant).await?;
    if let Some(id) = &stored.notify_subscription {
        targets.unsubscribe(id).await?;
    }
    edit_settings(deps, tenant, |s| {
        s.notify_email = None;
        s.notify_subscription = None;
    })
    .await?;
    Ok(serde_json::json!({"notify_email": null, "removed": stored.notify_email}))
}

fn no_mail_channel() -> ApiError {
    ApiError::Conflict(
        "this deployment mails no notifications: the local runtime delivers them to WebSocket clients and JARVIS_WEBHOOK_URL".into(),
    )
}

async fn route(
    deps: &Deps,
    req: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let tenant = http::tenant(req)?;
    match req.route_key.as_deref().unwrap_or_default() {
        "DELETE /me/data" => Ok(http::json(
            200,
            &serde_json::json!({"deleted": erase(deps, &tenant).await?}),
        )),
        "GET /me/export" => {
            let archive = export(deps, &tenant).await?;
            let name = format!(
                "jarvis-export-{}.zip",
                chrono::Utc::now().format("%Y%m%d-%H%M%S")
            );
            match &deps.signer {
                Some(signer) if archive.len() > deps.inline_limit => {
                    let key = format!("{tenant}/exports/{name}");
                    deps.blobs
                        .put(&deps.curated_bucket, &key, archive, "application/zip")
                        .await?;
                    let url = signer
                        .download_url(&deps.curated_bucket, &key, Duration::from_secs(3600))
                        .await?;
                    Ok(http::see_other(&url.url))
                }
                _ => Ok(http::download("application/zip", &name, archive)),
            }
        }
        "GET /me/settings" => Ok(http::json(200, &settings_view(deps, &tenant).await?)),
        "PUT /me/settings" => Ok(http::json(200, &put_settings(deps, &tenant, req).await?)),
        "PUT /me/notifications" => Ok(http::json(
            202,
            &put_notifications(deps, &tenant, req).await?,
        )),
        "DELETE /me/notifications" => {
            Ok(http::json(200, &delete_notifications(deps, &tenant).await?))
        }
        other => Err(ApiError::NotFound(format!("api-me has no route {other}"))),
    }
}

pub async fn handle(deps: &Deps, req: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    match route(deps, &req).await {
        Ok(r) => r,
        Err(e) => http::error(&e),
    }
}
