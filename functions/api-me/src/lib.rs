//! `api-me`: the caller's data rights.
//!
//! - `DELETE /me/data` starts erasing everything of the caller's tenant and
//!   answers 202 at once: it writes the tenant's erasure record (`running`)
//!   and starts `erase-tenant` as a job (an asynchronous invoke on AWS, so it is
//!   not bound by API Gateway's 29 s). `GET /me/data/erasure` answers where it
//!   stands, and what it removed once `done`. Asking again while one runs
//!   starts nothing new, unless the running one has not been heard from for
//!   [`STALE_ERASURE`] (its job died): then it starts again. Other tenants are
//!   never touched: every call names this tenant, and files go by the tenant's
//!   key prefix.
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

use chrono::{DateTime, Utc};
use jarvis_core::clock::Clock;
use jarvis_core::domain::{Erasure, ErasureState, Settings};
use jarvis_core::ports::{
    BlobStore, Jobs, MetadataStore, NotificationTargets, PortResult, RecordKind, RecordStore,
    UrlSigner,
};
use jarvis_core::{records, ApiError, PortError, TenantId};
use jarvis_lambda::http::{self, Request, Response};
use jarvis_lambda::routes::Op;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

pub struct Deps {
    pub blobs: Arc<dyn BlobStore>,
    pub metadata: Arc<dyn MetadataStore>,
    pub records: Arc<dyn RecordStore>,
    /// Starts the erasure job.
    pub jobs: Arc<dyn Jobs>,
    pub clock: Arc<dyn Clock>,
    pub curated_bucket: String,
    /// Where larger exports go by pre-signed URL (S3); `None` answers inline always.
    pub signer: Option<Arc<dyn UrlSigner>>,
    pub inline_limit: usize,
    /// The deployment's zone (`JARVIS_TIME_ZONE`), for tenants without their own.
    pub zone: jarvis_core::when::Zone,
    /// Where reminders are mailed to their owner (SNS); `None` where the
    /// deployment has no such channel (the local runtime).
    pub targets: Option<Arc<dyn NotificationTargets>>,
    /// Whether each tenant may name a webhook (the local runtime POSTs to it).
    pub webhooks: bool,
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
                .read(Bucket::Curated)
                .write(Bucket::Curated),
        )?;
        Ok(Deps {
            signer: Some(blobs.clone()),
            blobs,
            metadata: stack.metadata(Rows::Read)?,
            records: stack.records(Rows::ReadWrite)?,
            jobs: stack.jobs()?,
            clock: Arc::new(jarvis_core::clock::SystemClock),
            curated_bucket: stack.curated_bucket()?,
            inline_limit: AWS_INLINE_LIMIT,
            zone: stack.zone(),
            targets: Some(stack.notification_targets()?),
            webhooks: false,
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            blobs: stack.blobs.clone(),
            metadata: stack.metadata.clone(),
            records: stack.records.clone(),
            jobs: stack.jobs.clone(),
            clock: stack.clock.clone(),
            curated_bucket: jarvis_local::stack::CURATED_BUCKET.into(),
            signer: None,
            inline_limit: 512 * 1024 * 1024,
            zone: stack.zone(),
            targets: None,
            webhooks: true,
        }
    }
}

/// How long a running erasure may go unheard from before `DELETE /me/data`
/// starts it again: longer than the job's 15-minute limit.
pub const STALE_ERASURE: chrono::Duration = chrono::Duration::minutes(20);

/// `DELETE /me/data`: records the request and starts the job, unless one is
/// under way. Answers the erasure record.
pub async fn request_erasure(deps: &Deps, tenant: &TenantId) -> PortResult<Erasure> {
    let now = deps.clock.now();
    let alive = |e: &Erasure| {
        let heard: DateTime<Utc> = e.started_at.unwrap_or(e.requested_at);
        e.state == ErasureState::Running && now - heard < STALE_ERASURE
    };
    let (erasure, start) = records::update::<Erasure, (Erasure, bool)>(
        deps.records.as_ref(),
        tenant,
        Erasure::ID,
        |e| {
            Ok(match e {
                Some(e) if alive(&e) => records::Change::Keep((e, false)),
                _ => {
                    let fresh = erase_tenant::requested(tenant, now);
                    records::Change::Write(fresh.clone(), (fresh, true))
                }
            })
        },
    )
    .await?;
    if start {
        deps.jobs.start_erasure(tenant).await?;
        tracing::info!("erasure started");
    }
    Ok(erasure)
}

/// The erasure as the API shows it.
fn erasure_view(e: &Erasure) -> rest::ErasureView {
    rest::ErasureView {
        state: e.state,
        requested_at: e.requested_at,
        started_at: e.started_at,
        finished_at: e.finished_at,
        removed: e.removed.clone(),
        last_error: e.last_error.clone(),
        status_url: "/me/data/erasure".into(),
    }
}

fn zip_err(e: impl std::fmt::Display) -> PortError {
    PortError::Backend {
        backend: "export",
        message: e.to_string(),
        source: None,
    }
}

/// One file of the archive, added to the zip off the async threads.
async fn add_entry(
    zip: zip::ZipWriter<std::fs::File>,
    name: String,
    bytes: Vec<u8>,
) -> PortResult<zip::ZipWriter<std::fs::File>> {
    tokio::task::spawn_blocking(move || {
        let mut zip = zip;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        zip.start_file(name, options).map_err(zip_err)?;
        zip.write_all(&bytes).map_err(zip_err)?;
        Ok(zip)
    })
    .await
    .map_err(zip_err)?
}

/// The names of an archive's entries: each a safe relative path (no `..`, no
/// absolute or empty parts, no control characters or backslashes), and each
/// used once — a name taken already gets ` (2)`, ` (3)`… before its extension.
#[derive(Default)]
pub struct ArchiveNames(std::collections::HashSet<String>);

impl ArchiveNames {
    pub fn unique(&mut self, path: &str) -> String {
        let safe: Vec<String> = path
            .split(['/', '\\'])
            .filter(|part| !part.is_empty())
            .map(|part| {
                let part: String = part
                    .chars()
                    .map(|c| if c.is_control() || c == ':' { '_' } else { c })
                    .collect();
                match part.as_str() {
                    "." | ".." => "_".repeat(part.len()),
                    _ => part,
                }
            })
            .collect();
        let name = if safe.is_empty() {
            "_".to_owned()
        } else {
            safe.join("/")
        };
        if self.0.insert(name.clone()) {
            return name;
        }
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !stem.ends_with('/') && !ext.contains('/') => {
                (stem.to_owned(), format!(".{ext}"))
            }
            _ => (name.clone(), String::new()),
        };
        (2..)
            .map(|n| format!("{stem} ({n}){ext}"))
            .find(|candidate| self.0.insert(candidate.clone()))
            .expect("an unused name")
    }
}

/// The tenant's archive, written to a temporary file one entry at a time: no
/// more than one original is in memory at once, whatever the tenant holds.
/// Answers the file (deleted when dropped) and its size.
pub async fn export(deps: &Deps, tenant: &TenantId) -> PortResult<(tempfile::NamedTempFile, u64)> {
    let file = tempfile::NamedTempFile::new().map_err(zip_err)?;
    let mut zip = zip::ZipWriter::new(file.reopen().map_err(zip_err)?);
    let docs = erase_tenant::all_documents(deps.metadata.as_ref(), tenant).await?;
    zip = add_entry(
        zip,
        "documents.json".into(),
        serde_json::to_vec_pretty(&docs).map_err(zip_err)?,
    )
    .await?;
    let mut names = ArchiveNames::default();
    let mut exported = std::collections::HashSet::new();
    for doc in &docs {
        for key in std::iter::once(&doc.source.key).chain(&doc.aliases) {
            // A file two records name (an alias of another's key) goes in once.
            if !exported.insert((doc.source.bucket.clone(), key.clone())) {
                continue;
            }
            match deps.blobs.get(&doc.source.bucket, key).await {
                Ok(bytes) => {
                    let name = names.unique(&format!("files/{}/{key}", doc.source.bucket));
                    zip = add_entry(zip, name, bytes).await?;
                }
                Err(PortError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    // Open connections and remembered request keys are plumbing, not the tenant's data.
    for kind in RecordKind::ALL
        .into_iter()
        .filter(|k| !matches!(k, RecordKind::Connection | RecordKind::Idempotency))
    {
        let all = deps.records.list(tenant, kind).await?;
        let name = match kind {
            RecordKind::Settings => "settings".to_owned(),
            RecordKind::Memory => "memories".to_owned(),
            RecordKind::Allowance => "allowances".to_owned(),
            other => format!("{}s", other.as_str()),
        };
        zip = add_entry(
            zip,
            format!("records/{name}.json"),
            serde_json::to_vec_pretty(&all).map_err(zip_err)?,
        )
        .await?;
    }
    let readme = format!(
        "Everything Jarvis keeps for tenant {tenant}: documents.json (document records), files/ (the original files), records/ (tasks, reminders, drafts, conversations, memories, settings).\n"
    );
    zip = add_entry(zip, "README.txt".into(), readme.into_bytes()).await?;
    let size = tokio::task::spawn_blocking(move || -> PortResult<u64> {
        let out = zip.finish().map_err(zip_err)?;
        out.sync_all().map_err(zip_err)?;
        Ok(out.metadata().map_err(zip_err)?.len())
    })
    .await
    .map_err(zip_err)??;
    Ok((file, size))
}

/// Largest `PUT /me/settings` body.
pub const MAX_SETTINGS_BYTES: u64 = 32 * 1024;

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
async fn settings_view(deps: &Deps, tenant: &TenantId) -> Result<rest::SettingsView, ApiError> {
    let stored = settings(deps, tenant).await?;
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    Ok(rest::SettingsView {
        time_zone: zone.name().to_owned(),
        own_time_zone: stored.time_zone,
        notify_email: stored.notify_email,
        webhook_url: stored.webhook_url,
    })
}

/// `PUT /me/settings {"time_zone": "America/New_York"}` (null: the deployment's).
async fn put_settings(
    deps: &Deps,
    tenant: &TenantId,
    req: &Request,
) -> Result<rest::SettingsView, ApiError> {
    let body: rest::SettingsChange = http::json_body(req, MAX_SETTINGS_BYTES)?;
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
    req: &Request,
) -> Result<rest::NotificationsView, ApiError> {
    let body: rest::NotificationsChange = http::json_body(req, MAX_SETTINGS_BYTES)?;
    match (body.email, body.webhook_url) {
        (None, None) => Err(ApiError::BadRequest(
            "give an email or a webhook_url".into(),
        )),
        (Some(_), Some(_)) => Err(ApiError::BadRequest(
            "set one channel per request: an email or a webhook_url".into(),
        )),
        (Some(email), None) => subscribe_email(deps, tenant, email.trim().to_owned()).await,
        (None, Some(url)) => set_webhook(deps, tenant, url.trim().to_owned()).await,
    }
}

/// A webhook URL: `http(s)://`, a host name or IPv4 address (letters,
/// digits, `.`, `-`), an optional port, then anything but spaces and control
/// characters. The `pattern` the API prints, and what [`is_webhook_url`]
/// checks. (No IPv6 literals: a bracketed host must be an exact address to
/// parse, which a pattern cannot promise.)
pub const WEBHOOK_URL_PATTERN: &str =
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][^\s\x00-\x1f\x7f-\x9f]*)?$";

static WEBHOOK_URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(WEBHOOK_URL_PATTERN).expect("the webhook URL pattern")
});

/// Whether `url` is a webhook Jarvis can POST to ([`WEBHOOK_URL_PATTERN`]),
/// at most 2,000 characters.
pub fn is_webhook_url(url: &str) -> bool {
    url.chars().count() <= 2000 && WEBHOOK_URL.is_match(url)
}

/// The caller's webhook (the local runtime POSTs their notifications there).
async fn set_webhook(
    deps: &Deps,
    tenant: &TenantId,
    url: String,
) -> Result<rest::NotificationsView, ApiError> {
    if !deps.webhooks {
        return Err(ApiError::Conflict(
            "this deployment posts no webhooks; give an email to have reminders mailed".into(),
        ));
    }
    if !is_webhook_url(&url) {
        return Err(ApiError::Unprocessable(format!(
            "{url:?} is not an http(s) URL"
        )));
    }
    edit_settings(deps, tenant, |s| s.webhook_url = Some(url.clone())).await?;
    let stored = settings(deps, tenant).await?;
    Ok(rest::NotificationsView {
        notify_email: stored.notify_email,
        webhook_url: stored.webhook_url,
        status: None,
        message: Some("Reminders are POSTed there as JSON when they fire.".into()),
        removed: None,
    })
}

/// The caller's address, as an SNS e-mail subscription filtered to them.
async fn subscribe_email(
    deps: &Deps,
    tenant: &TenantId,
    email: String,
) -> Result<rest::NotificationsView, ApiError> {
    if !jarvis_core::tools::is_email_address(&email) {
        return Err(ApiError::Unprocessable(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    let targets = deps.targets.as_ref().ok_or_else(no_mail_channel)?;
    // The new subscription first, then the settings by compare-and-set; the
    // one that loses a race takes back the subscription it made, and the one
    // that wins ends the subscription it replaced: however many requests race,
    // one subscription stays, and it is the one the settings name.
    for _ in 0..records::UPDATE_ATTEMPTS {
        let read =
            records::get_versioned::<Settings>(deps.records.as_ref(), tenant, Settings::ID).await?;
        let (stored, version) = match read {
            Some(r) => (r.record, Some(r.version)),
            None => (Settings::empty(tenant), None),
        };
        let id = targets.subscribe_email(tenant, &email).await?;
        let changed = Settings {
            notify_email: Some(email.clone()),
            notify_subscription: Some(id.clone()),
            ..stored.clone()
        };
        match records::put_if(deps.records.as_ref(), &changed, version.as_ref()).await {
            Ok(_) => {
                if let Some(old) = stored.notify_subscription.filter(|old| *old != id) {
                    targets.unsubscribe(&old).await?;
                }
                return Ok(notifications_set(email, stored.webhook_url));
            }
            Err(PortError::Conflict(_)) => {
                // SNS answers one subscription for one address: the winner may
                // hold this very one.
                let now = settings(deps, tenant).await?;
                if now.notify_subscription.as_deref() != Some(id.as_str()) {
                    targets.unsubscribe(&id).await?;
                }
            }
            Err(e) => {
                if stored.notify_subscription.as_deref() != Some(id.as_str()) {
                    if let Err(undo) = targets.unsubscribe(&id).await {
                        tracing::error!(error = %undo, "a subscription the settings do not name stays");
                    }
                }
                return Err(e.into());
            }
        }
    }
    Err(ApiError::Conflict(
        "the notification settings kept changing; try again".into(),
    ))
}

fn notifications_set(email: String, webhook_url: Option<String>) -> rest::NotificationsView {
    rest::NotificationsView {
        notify_email: Some(email),
        webhook_url,
        status: Some("pending_confirmation".into()),
        message: Some(
            "A confirmation link was mailed to that address; reminders arrive there once it is followed."
                .into(),
        ),
        removed: None,
    }
}

/// `DELETE /me/notifications`: reminders are no longer mailed, nor posted.
async fn delete_notifications(
    deps: &Deps,
    tenant: &TenantId,
) -> Result<rest::NotificationsView, ApiError> {
    // The settings first (compare-and-set), then the subscription they named:
    // a change racing this one keeps its own subscription.
    let mut removed = None;
    records::update::<Settings, ()>(deps.records.as_ref(), tenant, Settings::ID, |stored| {
        let mut s = stored.unwrap_or_else(|| Settings::empty(tenant));
        removed = Some((
            s.notify_subscription.take(),
            s.notify_email.take(),
            s.webhook_url.take(),
        ));
        Ok(records::Change::Write(s, ()))
    })
    .await?;
    let (subscription, email, webhook) = removed.unwrap_or_default();
    if let Some(id) = subscription {
        deps.targets
            .as_ref()
            .ok_or_else(no_mail_channel)?
            .unsubscribe(&id)
            .await?;
    }
    Ok(rest::NotificationsView {
        notify_email: None,
        webhook_url: None,
        status: None,
        message: None,
        removed: email.or(webhook),
    })
}

fn no_mail_channel() -> ApiError {
    ApiError::Conflict(
        "this deployment mails no notifications: the local runtime delivers them to WebSocket clients and to your webhook (PUT /me/notifications {\"webhook_url\"})".into(),
    )
}

async fn route(deps: &Deps, req: &Request) -> Result<Response, ApiError> {
    let tenant = http::tenant(req)?;
    let route = http::route(req)?;
    match route.op {
        Op::EraseData => Ok(http::json(
            202,
            &erasure_view(&request_erasure(deps, &tenant).await?),
        )),
        Op::ErasureStatus => {
            match records::get::<Erasure>(deps.records.as_ref(), &tenant, Erasure::ID).await? {
                Some(e) => Ok(http::json(200, &erasure_view(&e))),
                None => Err(ApiError::NotFound(
                    "no erasure was asked for; DELETE /me/data starts one".into(),
                )),
            }
        }
        Op::Export => {
            let (archive, size) = export(deps, &tenant).await?;
            let name = format!(
                "jarvis-export-{}.zip",
                chrono::Utc::now().format("%Y%m%d-%H%M%S")
            );
            match &deps.signer {
                // Too large for an API Gateway answer: streamed from the file to S3.
                Some(signer) if size > deps.inline_limit as u64 => {
                    let key = format!("{tenant}/exports/{name}");
                    deps.blobs
                        .put_file(
                            &deps.curated_bucket,
                            &key,
                            archive.path(),
                            "application/zip",
                        )
                        .await?;
                    let url = signer
                        .download_url(&deps.curated_bucket, &key, Duration::from_secs(3600))
                        .await?;
                    // `?link=true`: the link itself, for a page whose fetch
                    // may not follow a redirect to another origin (the web
                    // app navigates to it instead).
                    if http::query(req, "link") == Some("true") {
                        Ok(http::json(
                            200,
                            &serde_json::json!({"url": url.url, "expires_at": url.expires_at}),
                        ))
                    } else {
                        Ok(http::see_other(&url.url))
                    }
                }
                _ => {
                    let bytes = tokio::fs::read(archive.path()).await.map_err(zip_err)?;
                    Ok(http::download("application/zip", &name, bytes))
                }
            }
        }
        Op::GetSettings => Ok(http::json(200, &settings_view(deps, &tenant).await?)),
        Op::PutSettings => Ok(http::json(200, &put_settings(deps, &tenant, req).await?)),
        Op::PutNotifications => Ok(http::json(
            202,
            &put_notifications(deps, &tenant, req).await?,
        )),
        Op::DeleteNotifications => Ok(http::json(200, &delete_notifications(deps, &tenant).await?)),
        _ => Err(http::not_here("api-me", route)),
    }
}

pub async fn handle(deps: &Deps, req: Request) -> Response {
    match route(deps, &req).await {
        Ok(r) => r,
        Err(e) => http::error(&e),
    }
}

/// The REST bodies and answers (the OpenAPI document's schemas).
pub mod rest {
    use chrono::{DateTime, Utc};
    use jarvis_core::domain::{ErasedCounts, ErasureState};
    use serde::{Deserialize, Serialize};

    /// `DELETE /me/data` and `GET /me/data/erasure`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct ErasureView {
        pub state: ErasureState,
        pub requested_at: DateTime<Utc>,
        pub started_at: Option<DateTime<Utc>>,
        pub finished_at: Option<DateTime<Utc>>,
        /// What was removed (counts), once done.
        pub removed: ErasedCounts,
        /// Why the last attempt failed, while it is retried.
        pub last_error: Option<String>,
        /// Where to follow it: `/me/data/erasure`.
        pub status_url: String,
    }

    /// `GET` and `PUT /me/settings`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct SettingsView {
        /// The zone the caller's times are read and shown in.
        pub time_zone: String,
        /// The caller's own zone, if set (else the deployment's applies).
        pub own_time_zone: Option<String>,
        /// Where reminders are mailed (AWS), if anywhere.
        pub notify_email: Option<String>,
        /// Where the local runtime POSTs the caller's notifications, if anywhere.
        pub webhook_url: Option<String>,
    }

    /// `PUT /me/settings`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct SettingsChange {
        /// An IANA zone ("America/New_York"); `null`: the deployment's.
        #[schema(value_type = Option<jarvis_core::contract::TimeZoneName>)]
        pub time_zone: Option<String>,
    }

    impl jarvis_core::contract::Contract for SettingsChange {}

    /// `PUT /me/notifications`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct NotificationsChange {
        /// Reminders are mailed here (AWS: an SNS e-mail subscription).
        #[serde(default)]
        pub email: Option<String>,
        /// Reminders are POSTed here as JSON (the local runtime).
        #[serde(default)]
        #[schema(max_length = 2000)]
        pub webhook_url: Option<String>,
    }

    impl jarvis_core::contract::Contract for NotificationsChange {
        /// One channel: an address, or an http(s) URL with a host.
        fn refine(schema: &mut serde_json::Value) {
            use serde_json::json;
            schema["properties"]["email"] = json!({"oneOf": [
                {"type": "null"}, jarvis_core::tools::address_schema()]});
            schema["properties"]["webhook_url"]["pattern"] = super::WEBHOOK_URL_PATTERN.into();
            schema["properties"]["webhook_url"]["x-message"] = "is not an http(s) URL".into();
            let one = |given: &str, other: &str| {
                json!({
                    "required": [given],
                    "properties": {given: {"not": {"type": "null"}}, other: {"type": "null"}},
                })
            };
            schema["oneOf"] = json!([one("email", "webhook_url"), one("webhook_url", "email")]);
            schema["x-message"] = "give one channel: an email or a webhook_url".into();
        }
    }

    /// `PUT` and `DELETE /me/notifications`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct NotificationsView {
        pub notify_email: Option<String>,
        /// Where the local runtime POSTs the caller's notifications.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webhook_url: Option<String>,
        /// `pending_confirmation` until the address confirms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
        /// The address no longer mailed (DELETE).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub removed: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::{is_webhook_url, WEBHOOK_URL_PATTERN};
    use proptest::prelude::*;

    proptest! {
        /// Every URL the schema's pattern admits, the handler takes.
        #[test]
        fn webhook_urls_the_schema_admits_are_taken(url in proptest::string::string_regex(
            jarvis_core::contract::unanchored(&jarvis_core::contract::portable(WEBHOOK_URL_PATTERN))).unwrap()
            .prop_filter("within the length", |u| u.chars().count() <= 2000)) {
            prop_assert!(is_webhook_url(&url), "{url:?}");
        }
    }

    use super::ArchiveNames;

    #[test]
    fn archive_names_are_safe_relative_paths_each_used_once() {
        let mut names = ArchiveNames::default();
        assert_eq!(
            names.unique("files/raw/alice/notes.txt"),
            "files/raw/alice/notes.txt"
        );
        assert_eq!(
            names.unique("files/raw/alice/notes.txt"),
            "files/raw/alice/notes (2).txt"
        );
        assert_eq!(
            names.unique("files/raw/alice//notes.txt"),
            "files/raw/alice/notes (3).txt"
        );
        assert_eq!(
            names.unique("files/raw/alice/../../etc/passwd"),
            "files/raw/alice/__/__/etc/passwd"
        );
        assert_eq!(names.unique("/abs\\olute/x"), "abs/olute/x");
        assert_eq!(
            names.unique("files/raw/a/\u{7}bell\nnew:line"),
            "files/raw/a/_bell_new_line"
        );
        assert_eq!(names.unique("files/raw/a/.hidden"), "files/raw/a/.hidden");
        assert_eq!(
            names.unique("files/raw/a/.hidden"),
            "files/raw/a/.hidden (2)"
        );
        assert_eq!(names.unique("files/raw/ü/ß ☃.md"), "files/raw/ü/ß ☃.md");
        assert_eq!(names.unique(""), "_");
    }

    proptest::proptest! {
        #[test]
        fn any_names_come_out_distinct_and_relative(paths in proptest::collection::vec("\\PC{0,20}", 1..30)) {
            let mut names = ArchiveNames::default();
            let mut seen = std::collections::HashSet::new();
            for p in &paths {
                let n = names.unique(p);
                proptest::prop_assert!(seen.insert(n.clone()), "{n} twice");
                proptest::prop_assert!(!n.starts_with('/') && !n.split('/').any(|c| c == ".." || c == "." || c.is_empty()), "{n}");
                proptest::prop_assert!(!n.chars().any(|c| c.is_control() || c == '\\'), "{n}");
            }
        }
    }
}
