//! Typed access to the [`RecordStore`]: each assistant record type knows its
//! kind, tenant and id.

use crate::domain::{Conversation, Draft, Memory, Reminder, Settings, Task, TenantId};
use crate::ports::{PortResult, RecordKind, RecordStore, RecordVersion};
use crate::when::Zone;
use crate::PortError;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub trait Record: Serialize + DeserializeOwned + Send + Sync {
    const KIND: RecordKind;
    fn tenant(&self) -> &TenantId;
    fn id(&self) -> &str;
}

macro_rules! record {
    ($t:ty, $kind:expr) => {
        impl Record for $t {
            const KIND: RecordKind = $kind;
            fn tenant(&self) -> &TenantId {
                &self.tenant_id
            }
            fn id(&self) -> &str {
                &self.id
            }
        }
    };
}

record!(Task, RecordKind::Task);
record!(Reminder, RecordKind::Reminder);
record!(Draft, RecordKind::Draft);
record!(Conversation, RecordKind::Conversation);
record!(Memory, RecordKind::Memory);
record!(Settings, RecordKind::Settings);
record!(crate::domain::Erasure, RecordKind::Erasure);
record!(crate::domain::LiveConnection, RecordKind::Connection);
record!(crate::domain::Allowance, RecordKind::Allowance);

/// Whether `tenant`'s data is being erased right now (`DELETE /me/data`):
/// while it is, nothing new of theirs is stored.
pub async fn erasing(store: &dyn RecordStore, tenant: &TenantId) -> PortResult<bool> {
    Ok(
        get::<crate::domain::Erasure>(store, tenant, crate::domain::Erasure::ID)
            .await?
            .is_some_and(|e| e.state == crate::domain::ErasureState::Running),
    )
}

/// Whether an erasure of `tenant` was asked for after `since` (running,
/// done or failed): work that began before it must not store what it made,
/// or that would outlive the erasure.
pub async fn erased_since(
    store: &dyn RecordStore,
    tenant: &TenantId,
    since: chrono::DateTime<chrono::Utc>,
) -> PortResult<bool> {
    Ok(
        get::<crate::domain::Erasure>(store, tenant, crate::domain::Erasure::ID)
            .await?
            .is_some_and(|e| e.requested_at >= since),
    )
}

/// Creates `record` (as [`create_or_get`]) for work that began at `since`,
/// unless the tenant's data is being erased: `Ok(None)` then, and nothing is
/// kept. Checked before the write, and again after it (an erasure asked for
/// in between takes the record back), so a create racing an erasure never
/// outlives it.
pub async fn create_unless_erased<T: Record>(
    store: &dyn RecordStore,
    record: T,
    since: chrono::DateTime<chrono::Utc>,
) -> PortResult<Option<(T, bool)>> {
    let tenant = record.tenant().clone();
    if erasing(store, &tenant).await? || erased_since(store, &tenant, since).await? {
        return Ok(None);
    }
    let (stored, created) = create_or_get(store, record).await?;
    if erased_since(store, &tenant, since).await? {
        delete::<T>(store, &tenant, stored.id()).await?;
        return Ok(None);
    }
    Ok(Some((stored, created)))
}

/// The refusal of a write while the tenant's data is being erased.
pub const ERASING: &str =
    "your data is being erased; nothing new is stored until that is done (GET /me/data/erasure)";

/// The zone `tenant` reads times in: their own setting, else `fallback` (the
/// deployment's `JARVIS_TIME_ZONE`).
pub async fn zone_of(
    store: &dyn RecordStore,
    tenant: &TenantId,
    fallback: Zone,
) -> PortResult<Zone> {
    let own = get::<Settings>(store, tenant, Settings::ID)
        .await?
        .and_then(|s| s.time_zone)
        .and_then(|z| crate::when::zone(&z).ok());
    Ok(own.unwrap_or(fallback))
}

fn decode<T: Record>(value: serde_json::Value) -> PortResult<T> {
    serde_json::from_value(value).map_err(|e| PortError::Backend {
        backend: "records",
        message: format!("a stored {} does not decode: {e}", T::KIND.as_str()),
        source: None,
    })
}

pub async fn put<T: Record>(store: &dyn RecordStore, record: &T) -> PortResult<()> {
    let body = serde_json::to_value(record).map_err(|e| PortError::backend("records", e))?;
    store
        .put(record.tenant(), T::KIND, record.id(), &body)
        .await
}

pub async fn get<T: Record>(
    store: &dyn RecordStore,
    tenant: &TenantId,
    id: &str,
) -> PortResult<Option<T>> {
    store
        .get(tenant, T::KIND, id)
        .await?
        .map(decode)
        .transpose()
}

/// All of the tenant's records of this type, oldest first.
pub async fn list<T: Record>(store: &dyn RecordStore, tenant: &TenantId) -> PortResult<Vec<T>> {
    store
        .list(tenant, T::KIND)
        .await?
        .into_iter()
        .map(decode)
        .collect()
}

pub async fn delete<T: Record>(
    store: &dyn RecordStore,
    tenant: &TenantId,
    id: &str,
) -> PortResult<bool> {
    store.delete(tenant, T::KIND, id).await
}

/// A record and the version it was read at.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub record: T,
    pub version: RecordVersion,
}

pub async fn get_versioned<T: Record>(
    store: &dyn RecordStore,
    tenant: &TenantId,
    id: &str,
) -> PortResult<Option<Versioned<T>>> {
    match store.get_versioned(tenant, T::KIND, id).await? {
        Some((value, version)) => Ok(Some(Versioned {
            record: decode(value)?,
            version,
        })),
        None => Ok(None),
    }
}

/// Compare-and-set: writes `record` only if it is still at `expected` (`None`:
/// only if it does not exist). A lost race is `Conflict`.
pub async fn put_if<T: Record>(
    store: &dyn RecordStore,
    record: &T,
    expected: Option<&RecordVersion>,
) -> PortResult<RecordVersion> {
    let body = serde_json::to_value(record).map_err(|e| PortError::backend("records", e))?;
    store
        .put_if(record.tenant(), T::KIND, record.id(), &body, expected)
        .await
}

/// Creates `record` if no record has its id yet; otherwise answers the one
/// stored (`false`: nothing was written). How a create keyed by an
/// idempotency key ([`crate::idempotency::ItemId`]) happens once.
pub async fn create_or_get<T: Record>(store: &dyn RecordStore, record: T) -> PortResult<(T, bool)> {
    match put_if(store, &record, None).await {
        Ok(_) => Ok((record, true)),
        Err(PortError::Conflict(_)) => match get::<T>(store, record.tenant(), record.id()).await? {
            Some(stored) => Ok((stored, false)),
            // Gone again between the two calls (erased): nothing to answer.
            None => Err(PortError::Conflict(format!(
                "the {} {} changed meanwhile; try again",
                T::KIND.as_str(),
                record.id()
            ))),
        },
        Err(e) => Err(e),
    }
}

/// What an [`update`] edit decided.
pub enum Change<T, R> {
    /// Write this record, then answer `R`.
    Write(T, R),
    /// Write nothing; answer `R`.
    Keep(R),
}

/// How many times [`update`] re-reads after losing a race before it gives up:
/// every round has a winner, so this many writers at once all get through.
pub const UPDATE_ATTEMPTS: usize = 64;

/// Read, edit, compare-and-set; on a lost race read again and edit the fresh
/// record. `edit` sees `None` when the record does not exist (and may create
/// it); it must be safe to run more than once.
pub async fn update<T: Record, R>(
    store: &dyn RecordStore,
    tenant: &TenantId,
    id: &str,
    mut edit: impl FnMut(Option<T>) -> Result<Change<T, R>, PortError>,
) -> PortResult<R> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = get_versioned::<T>(store, tenant, id).await?;
        let version = current.as_ref().map(|c| c.version.clone());
        match edit(current.map(|c| c.record))? {
            Change::Keep(r) => return Ok(r),
            Change::Write(record, r) => match put_if(store, &record, version.as_ref()).await {
                Ok(_) => return Ok(r),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            },
        }
    }
    Err(PortError::Conflict(format!(
        "the {} {id} kept changing; try again",
        T::KIND.as_str()
    )))
}
