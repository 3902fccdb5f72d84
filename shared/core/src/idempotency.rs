//! `Idempotency-Key` on the REST creates (`POST /tasks`, `/reminders`,
//! `/emails/drafts`): a client that retries a create it never heard back from
//! sends the same key, and gets the first answer again instead of a second
//! task, reminder or draft.
//!
//! The key is remembered per tenant and route for [`KEEP`], with a fingerprint
//! of the request body, in an [`IdempotencyRecord`] written by compare-and-set:
//! - first use: the record is claimed (`in_progress`) before the work runs, so
//!   of two concurrent requests with one key exactly one runs; the other is
//!   told 409, try again shortly;
//! - the work succeeds: its status and body are stored, and every later request
//!   with the key gets them back;
//! - the work fails: the claim is removed, so a retry runs it again;
//! - the same key with another body: 422, nothing runs;
//! - a claim older than [`LEASE`] belongs to a request that died: the next
//!   request with the key takes it over.
//!
//! The work itself is idempotent too: [`once`] hands it the id the created
//! item takes, derived from the tenant's key ([`ItemId`]), and the
//! create is a create-if-absent. So when the write that finishes the key
//! fails after the item was made, the retry that takes the key over after the
//! lease finds the item, and answers it instead of making a second one.

use crate::domain::TenantId;
use crate::error::ApiError;
use crate::ports::{RecordKind, RecordStore, RecordVersion};
use crate::records::{self, Record};
use crate::PortError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long a key is remembered.
pub const KEEP: Duration = Duration::hours(24);
/// How long a claim holds before a request with the same key may take it over
/// (the API functions time out after at most 29 s).
pub const LEASE: Duration = Duration::seconds(60);
/// Longest key accepted.
pub const MAX_KEY: usize = 255;

/// A remembered key: what the first request with it answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub tenant_id: TenantId,
    pub id: String,
    /// SHA-256 of the route and the request body.
    pub fingerprint: String,
    pub state: Stored,
    pub created_at: DateTime<Utc>,
    /// When the key is forgotten (epoch seconds; the table's TTL attribute).
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Stored {
    InProgress {
        since: DateTime<Utc>,
    },
    Done {
        status: u16,
        body: serde_json::Value,
    },
}

impl Record for IdempotencyRecord {
    const KIND: RecordKind = RecordKind::Idempotency;
    fn tenant(&self) -> &TenantId {
        &self.tenant_id
    }
    fn id(&self) -> &str {
        &self.id
    }
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Begun {
    /// The key answered before: answer the same.
    Replay {
        status: u16,
        body: serde_json::Value,
    },
    /// This request holds the key: run it, then [`finish`] or [`abandon`].
    Run(Claim),
}

/// A held key.
#[derive(Debug)]
pub struct Claim {
    record: IdempotencyRecord,
    version: RecordVersion,
}

impl Claim {
    /// The suffix of the id an item created under this key takes (`task_k…`):
    /// the same for every request with the key, so that a create-if-absent
    /// makes it once.
    fn item_suffix(&self) -> String {
        let r = &self.record;
        let digest = hex_digest(&[r.tenant_id.as_str().as_bytes(), r.id.as_bytes()]);
        format!("_k{}", &digest[..26])
    }
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// Checks the key: 1 to [`MAX_KEY`] visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key is 1 to {MAX_KEY} visible ASCII characters"
        )));
    }
    Ok(())
}

/// The record id of `key` on `route`.
fn record_id(route: &str, key: &str) -> String {
    format!(
        "idem_{}",
        &hex_digest(&[route.as_bytes(), key.as_bytes()])[..40]
    )
}

/// Forgets `key` on `route` (what it answered goes with it).
pub async fn forget(
    store: &dyn RecordStore,
    tenant: &TenantId,
    route: &str,
    key: &str,
) -> Result<(), PortError> {
    store
        .delete(tenant, RecordKind::Idempotency, &record_id(route, key))
        .await
        .map(|_| ())
}

/// Claims `key` for this request, or says what it answered before.
pub async fn begin(
    store: &dyn RecordStore,
    tenant: &TenantId,
    route: &str,
    key: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Begun, ApiError> {
    check_key(key)?;
    let id = record_id(route, key);
    let fingerprint = hex_digest(&[route.as_bytes(), body]);
    let fresh = IdempotencyRecord {
        tenant_id: tenant.clone(),
        id: id.clone(),
        fingerprint: fingerprint.clone(),
        state: Stored::InProgress { since: now },
        created_at: now,
        expires_at: (now + KEEP).timestamp(),
    };
    for _ in 0..records::UPDATE_ATTEMPTS {
        let found = records::get_versioned::<IdempotencyRecord>(store, tenant, &id).await?;
        let expected = match found {
            None => None,
            Some(read) => {
                let r = read.record;
                let expired = now.timestamp() >= r.expires_at;
                let stale_claim =
                    matches!(r.state, Stored::InProgress { since } if now - since >= LEASE);
                if !expired && r.fingerprint != fingerprint {
                    return Err(ApiError::Unprocessable(
                        "this Idempotency-Key was used with a different request; use a new key for a new request".into(),
                    ));
                }
                match r.state {
                    _ if expired || stale_claim => Some(read.version),
                    Stored::Done { status, body } => return Ok(Begun::Replay { status, body }),
                    Stored::InProgress { .. } => {
                        return Err(ApiError::Conflict(
                            "a request with this Idempotency-Key is still being handled; try again in a few seconds".into(),
                        ))
                    }
                }
            }
        };
        match records::put_if(store, &fresh, expected.as_ref()).await {
            Ok(version) => {
                return Ok(Begun::Run(Claim {
                    record: fresh,
                    version,
                }))
            }
            // Another request got there first: look again.
            Err(PortError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "a request with this Idempotency-Key is still being handled; try again in a few seconds"
            .into(),
    ))
}

/// Stores the answer of the work the claim ran.
pub async fn finish(
    store: &dyn RecordStore,
    claim: Claim,
    status: u16,
    body: &serde_json::Value,
) -> Result<(), PortError> {
    let done = IdempotencyRecord {
        state: Stored::Done {
            status,
            body: body.clone(),
        },
        ..claim.record
    };
    match records::put_if(store, &done, Some(&claim.version)).await {
        Ok(_) => Ok(()),
        // Taken over after the lease: the other request's answer stands.
        Err(PortError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Gives the key back after the work failed, so a retry runs it again.
pub async fn abandon(store: &dyn RecordStore, claim: Claim) {
    let r = &claim.record;
    if let Err(e) = store
        .delete(&r.tenant_id, RecordKind::Idempotency, &r.id)
        .await
    {
        tracing::warn!(error = %e, "could not release an idempotency key; it frees itself after its lease");
    }
}

/// Runs `work` at most once per `key` (see the module documentation); with no
/// key, just runs it. `work` is given the [`ItemId`] its item takes.
pub async fn once<F, Fut>(
    store: &dyn RecordStore,
    tenant: &TenantId,
    route: &str,
    key: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    work: F,
) -> Result<(u16, serde_json::Value, bool), ApiError>
where
    F: FnOnce(ItemId) -> Fut,
    Fut: std::future::Future<Output = Result<(u16, serde_json::Value), ApiError>>,
{
    let Some(key) = key else {
        let (status, body) = work(ItemId::Fresh).await?;
        return Ok((status, body, false));
    };
    match begin(store, tenant, route, key, body, now).await? {
        Begun::Replay { status, body } => Ok((status, body, true)),
        Begun::Run(claim) => match work(ItemId::Keyed(claim.item_suffix())).await {
            Ok((status, answer)) => {
                if let Err(e) = finish(store, claim, status, &answer).await {
                    tracing::warn!(error = %e, "could not remember the answer of an idempotent request");
                }
                Ok((status, answer, false))
            }
            Err(e) => {
                abandon(store, claim).await;
                Err(e)
            }
        },
    }
}

/// The id a created item takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemId {
    /// A new one (no idempotency key).
    Fresh,
    /// Derived from the request's key (the suffix after the item's prefix):
    /// create it only if absent, and answer the one that exists otherwise.
    Keyed(String),
}

impl ItemId {
    /// The item's id: `prefix` and the key's suffix, or a new id.
    pub fn id(&self, prefix: &str, now: DateTime<Utc>) -> String {
        match self {
            Self::Fresh => crate::clock::new_id(prefix, now),
            Self::Keyed(suffix) => format!("{prefix}{suffix}"),
        }
    }
}
