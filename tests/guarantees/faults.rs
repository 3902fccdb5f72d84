//! Ports that count what they did and fail when told to: faults injected at the
//! port layer, between a side effect and the record write that guards it.

use async_trait::async_trait;
use jarvis_core::ports::{
    Mailer, Notification, Notifier, OutgoingEmail, PortResult, Push, RecordKind, RecordStore,
    RecordVersion, SendError,
};
use jarvis_core::{PortError, TenantId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn injected(what: &str) -> PortError {
    PortError::Transient {
        backend: "fault",
        message: format!("injected fault: {what}"),
        source: None,
    }
}

/// Takes `n` from a fault budget; true when this call is to fail.
fn take(budget: &AtomicUsize) -> bool {
    budget
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// Mail that is counted, never sent; `fail_next(n)` fails the next n sends
/// before anything leaves; `deliver_then_fail_next(n)` delivers the next n and
/// then answers as a timeout after acceptance would (the outcome unknown).
#[derive(Default)]
pub struct CountingMailer {
    sent: Mutex<Vec<OutgoingEmail>>,
    failures: AtomicUsize,
    lost_answers: AtomicUsize,
}

impl CountingMailer {
    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    pub fn deliver_then_fail_next(&self, n: usize) {
        self.lost_answers.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if take(&self.failures) {
            return Err(SendError::NotSent(injected("the mail server")));
        }
        // A real send takes a while: let racing confirmations interleave.
        tokio::task::yield_now().await;
        let n = {
            let mut sent = self.sent.lock().unwrap();
            sent.push(email.clone());
            sent.len()
        };
        if take(&self.lost_answers) {
            return Err(SendError::Unknown(injected(
                "the mail service's answer (it took the mail)",
            )));
        }
        Ok(format!("msg-{n}"))
    }
}

/// Notifications that are counted as (tenant, reminder id).
#[derive(Default)]
pub struct CountingNotifier {
    delivered: Mutex<Vec<(String, String)>>,
    failures: AtomicUsize,
}

impl CountingNotifier {
    /// What was delivered, sorted.
    pub fn delivered(&self) -> Vec<(String, String)> {
        let mut d = self.delivered.lock().unwrap().clone();
        d.sort();
        d
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl Notifier for CountingNotifier {
    async fn notify(&self, n: &Notification) -> PortResult<()> {
        if take(&self.failures) {
            return Err(injected("the notification service"));
        }
        tokio::task::yield_now().await;
        let id = n
            .attributes
            .iter()
            .find(|(k, _)| k == "reminder_id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.delivered
            .lock()
            .unwrap()
            .push((n.tenant_id.as_str().to_owned(), id));
        Ok(())
    }
}

/// Pushes (to open connections) are not deliveries: counted apart.
#[derive(Default)]
pub struct CountingPush(pub Mutex<Vec<String>>);

#[async_trait]
impl Push for CountingPush {
    async fn push(&self, n: &Notification) {
        self.0.lock().unwrap().push(n.tenant_id.as_str().to_owned());
    }
}

/// A record store whose conditional writes fail on command: after `skip` more
/// succeed, the next `fail` fail (nothing is written), as a lost connection would.
pub struct FaultyRecords {
    inner: Arc<dyn RecordStore>,
    skip: AtomicUsize,
    fail: AtomicUsize,
    /// Conditional writes of one kind to fail next, whatever `skip` says.
    fail_kind: Mutex<Option<(RecordKind, usize)>>,
}

impl FaultyRecords {
    pub fn new(inner: Arc<dyn RecordStore>) -> Self {
        Self {
            inner,
            skip: AtomicUsize::new(0),
            fail: AtomicUsize::new(0),
            fail_kind: Mutex::new(None),
        }
    }

    /// The next `n` conditional writes of `kind` fail (nothing is written).
    pub fn fail_writes_of(&self, kind: RecordKind, n: usize) {
        *self.fail_kind.lock().unwrap() = Some((kind, n));
    }

    /// Whether this write of `kind` is one to fail.
    fn kind_fails(&self, kind: RecordKind) -> bool {
        let mut f = self.fail_kind.lock().unwrap();
        match f.as_mut() {
            Some((k, n)) if *k == kind && *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    pub fn fail_put_if_after(&self, skip: usize, fail: usize) {
        self.skip.store(skip, Ordering::SeqCst);
        self.fail.store(fail, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.fail.store(0, Ordering::SeqCst);
        *self.fail_kind.lock().unwrap() = None;
    }
}

#[async_trait]
impl RecordStore for FaultyRecords {
    async fn put(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
    ) -> PortResult<()> {
        self.inner.put(tenant, kind, id, body).await
    }

    async fn put_if(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
        expected: Option<&RecordVersion>,
    ) -> PortResult<RecordVersion> {
        if self.kind_fails(kind) || (!take(&self.skip) && take(&self.fail)) {
            return Err(injected("the record write"));
        }
        self.inner.put_if(tenant, kind, id, body, expected).await
    }

    async fn get_versioned(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> PortResult<Option<(serde_json::Value, RecordVersion)>> {
        self.inner.get_versioned(tenant, kind, id).await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
    ) -> PortResult<Vec<serde_json::Value>> {
        self.inner.list(tenant, kind).await
    }

    async fn delete(&self, tenant: &TenantId, kind: RecordKind, id: &str) -> PortResult<bool> {
        self.inner.delete(tenant, kind, id).await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<usize> {
        self.inner.delete_tenant(tenant).await
    }

    async fn tenants(&self, kind: RecordKind) -> PortResult<Vec<TenantId>> {
        self.inner.tenants(kind).await
    }
}

/// A scheduler whose next `n` schedule calls fail before anything is scheduled.
pub struct FaultyScheduler {
    pub inner: Arc<dyn jarvis_core::ports::Scheduler>,
    failures: AtomicUsize,
}

impl FaultyScheduler {
    pub fn new(inner: Arc<dyn jarvis_core::ports::Scheduler>) -> Self {
        Self {
            inner,
            failures: AtomicUsize::new(0),
        }
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl jarvis_core::ports::Scheduler for FaultyScheduler {
    async fn schedule(&self, reminder: &jarvis_core::domain::Reminder) -> PortResult<()> {
        if take(&self.failures) {
            return Err(injected("the scheduler"));
        }
        self.inner.schedule(reminder).await
    }

    async fn cancel(&self, tenant: &TenantId, reminder_id: &str) -> PortResult<()> {
        self.inner.cancel(tenant, reminder_id).await
    }

    async fn due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> PortResult<Vec<jarvis_core::domain::ReminderRef>> {
        self.inner.due(now).await
    }
}

/// Document records whose next `n` status changes fail before anything is written.
pub struct FaultyMetadata {
    inner: Arc<dyn jarvis_core::ports::MetadataStore>,
    failures: AtomicUsize,
}

impl FaultyMetadata {
    pub fn new(inner: Arc<dyn jarvis_core::ports::MetadataStore>) -> Self {
        Self {
            inner,
            failures: AtomicUsize::new(0),
        }
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl jarvis_core::ports::MetadataStore for FaultyMetadata {
    async fn put_document(&self, doc: &jarvis_core::domain::Document) -> PortResult<()> {
        self.inner.put_document(doc).await
    }

    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::domain::DocumentId,
    ) -> PortResult<Option<jarvis_core::domain::Document>> {
        self.inner.get_document(tenant, id).await
    }

    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &jarvis_core::ports::DocumentFilter,
    ) -> PortResult<Vec<jarvis_core::domain::Document>> {
        self.inner.list_documents(tenant, filter).await
    }

    async fn find_by_etag(
        &self,
        tenant: &TenantId,
        etag: &str,
    ) -> PortResult<Option<jarvis_core::domain::Document>> {
        self.inner.find_by_etag(tenant, etag).await
    }

    async fn change_status(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::domain::DocumentId,
        change: &jarvis_core::ports::StatusChange,
    ) -> PortResult<jarvis_core::domain::Document> {
        if take(&self.failures) {
            return Err(injected("the status write"));
        }
        self.inner.change_status(tenant, id, change).await
    }

    async fn add_alias(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::domain::DocumentId,
        key: &str,
    ) -> PortResult<()> {
        self.inner.add_alias(tenant, id, key).await
    }

    async fn delete_document(
        &self,
        tenant: &TenantId,
        id: &jarvis_core::domain::DocumentId,
    ) -> PortResult<()> {
        self.inner.delete_document(tenant, id).await
    }
}

/// The SQLite record store as concurrent requests meet it: several
/// connections on one database file, taken in turn, and every call gives way
/// first, so that one request's read and its conditional write are never one
/// unit — other requests' writes land between them, as they do on DynamoDB.
/// (The store's own calls do not await: raced through `join_all` on one
/// connection, each read-modify-write would run whole, and a race test would
/// pass with an unconditional write.)
pub struct RacingRecords {
    connections: Vec<Arc<dyn RecordStore>>,
    next: AtomicUsize,
}

impl RacingRecords {
    /// `n` connections on the database at `path`.
    pub fn open(path: &std::path::Path, n: usize) -> Self {
        Self {
            connections: (0..n)
                .map(|_| {
                    let db = jarvis_local::Db::open(path).unwrap();
                    Arc::new(jarvis_local::records::SqliteRecordStore::new(db))
                        as Arc<dyn RecordStore>
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    async fn connection(&self) -> &dyn RecordStore {
        tokio::task::yield_now().await;
        let i = self.next.fetch_add(1, Ordering::SeqCst) % self.connections.len();
        self.connections[i].as_ref()
    }
}

#[async_trait]
impl RecordStore for RacingRecords {
    async fn put(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
    ) -> PortResult<()> {
        self.connection().await.put(tenant, kind, id, body).await
    }

    async fn put_if(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        body: &serde_json::Value,
        expected: Option<&RecordVersion>,
    ) -> PortResult<RecordVersion> {
        self.connection()
            .await
            .put_if(tenant, kind, id, body, expected)
            .await
    }

    async fn get_versioned(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> PortResult<Option<(serde_json::Value, RecordVersion)>> {
        self.connection()
            .await
            .get_versioned(tenant, kind, id)
            .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
    ) -> PortResult<Vec<serde_json::Value>> {
        self.connection().await.list(tenant, kind).await
    }

    async fn delete(&self, tenant: &TenantId, kind: RecordKind, id: &str) -> PortResult<bool> {
        self.connection().await.delete(tenant, kind, id).await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<usize> {
        self.connection().await.delete_tenant(tenant).await
    }

    async fn tenants(&self, kind: RecordKind) -> PortResult<Vec<TenantId>> {
        self.connection().await.tenants(kind).await
    }
}
