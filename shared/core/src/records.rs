//! Typed access to the [`RecordStore`]: each assistant record type knows its
//! kind, tenant and id.

use crate::domain::{Conversation, Draft, Memory, Reminder, Settings, Task, TenantId};
use crate::ports::{PortResult, RecordKind, RecordStore};
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
