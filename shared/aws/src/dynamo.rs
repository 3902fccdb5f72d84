//! `MetadataStore` on one DynamoDB table, keyed by tenant.
//!
//! Table design (Terraform creates it; see docs/architecture.md):
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | document | `TENANT#{tenant}` | `DOC#{document id}` | `status`, `etag`, `version`, `doc` (the record as JSON), `gsi1pk`, `gsi1sk` |
//!
//! - Every read and write names the tenant's partition, so one tenant's query can
//!   never reach another's items.
//! - GSI `gsi1` (`gsi1pk` = `TENANT#{tenant}#ETAG#{etag}`, `gsi1sk` = `DOC#{id}`)
//!   finds a tenant's document by content fingerprint (duplicate detection).
//! - Status changes and alias additions are optimistic: read, check, and write
//!   with `ConditionExpression: version = :seen`; a lost race re-reads and
//!   re-checks, so an out-of-order retry can never move a status backwards.
//! - The table's TTL attribute is `expires_at` (epoch seconds); document items
//!   never set it, short-lived records do.

use crate::error::{sdk_error, service_code};
use crate::Rows;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use jarvis_core::domain::{Document, DocumentId, TenantId};
use jarvis_core::ports::{add_alias_to, DocumentFilter, MetadataStore, PortResult, StatusChange};
use jarvis_core::PortError;
use std::collections::HashMap;

const SERVICE: &str = "dynamodb";
/// Attempts at an optimistic update before giving up as transient.
const CAS_ATTEMPTS: usize = 8;
pub const GSI_ETAG: &str = "gsi1";
pub const TTL_ATTRIBUTE: &str = "expires_at";

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoMetadataStore {
    client: Client,
    table: String,
    rows: Rows,
}

pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

fn doc_sk(id: &DocumentId) -> String {
    format!("DOC#{id}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A fresh version token: any write changes it, so compare-and-set cannot be fooled
/// by a value that went away and came back.
/// A document item's version token: the same kind the records use.
fn new_version() -> String {
    jarvis_core::ports::RecordVersion::fresh().0
}

fn to_item(doc: &Document, version: &str) -> PortResult<Item> {
    let json = serde_json::to_string(doc).map_err(|e| PortError::backend(SERVICE, e))?;
    let mut item = Item::from([
        ("pk".into(), s(tenant_pk(&doc.tenant_id))),
        ("sk".into(), s(doc_sk(&doc.id))),
        ("kind".into(), s("document")),
        ("status".into(), s(doc.status.as_str())),
        ("version".into(), s(version)),
        ("doc".into(), s(json)),
    ]);
    if !doc.source.etag.is_empty() {
        item.insert("etag".into(), s(&doc.source.etag));
        item.insert(
            "gsi1pk".into(),
            s(format!(
                "{}#ETAG#{}",
                tenant_pk(&doc.tenant_id),
                doc.source.etag
            )),
        );
        item.insert("gsi1sk".into(), s(doc_sk(&doc.id)));
    }
    Ok(item)
}

fn from_item(item: &Item) -> PortResult<(Document, String)> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.as_str()),
        _ => Err(PortError::Backend {
            backend: SERVICE,
            message: format!("document item without a string {name:?} attribute"),
            source: None,
        }),
    };
    let doc: Document =
        serde_json::from_str(text("doc")?).map_err(|e| PortError::backend(SERVICE, e))?;
    Ok((doc, text("version")?.to_owned()))
}

impl DynamoMetadataStore {
    /// A store on `table` that performs only what `rows` allows (the function's
    /// IAM role grants the same, so tests on the emulator fail where AWS would).
    pub fn new(client: Client, table: &str, rows: Rows) -> Self {
        Self {
            client,
            table: table.to_owned(),
            rows,
        }
    }

    async fn read(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> PortResult<Option<(Document, String)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(tenant_pk(tenant)))
            .key("sk", s(doc_sk(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "GetItem", e))?;
        out.item().map(from_item).transpose()
    }

    /// Writes `doc` if its item still has version `seen`; `Ok(false)` when it lost the race.
    async fn write_if(&self, doc: &Document, seen: &str) -> PortResult<bool> {
        self.rows.check(Rows::ReadWrite, "PutItem", SERVICE)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(doc, &new_version())?))
            .condition_expression("#v = :seen")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":seen", s(seen))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if service_code(&e) == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk_error(SERVICE, "PutItem", e)),
        }
    }

    /// Read, apply `edit`, write back if nothing changed meanwhile; retried on a lost race.
    /// `edit` returns `Ok(false)` when there is nothing to write.
    async fn update(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        mut edit: impl FnMut(&mut Document) -> PortResult<bool>,
    ) -> PortResult<Document> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut doc, seen) = self
                .read(tenant, id)
                .await?
                .ok_or_else(|| PortError::NotFound(format!("document {id}")))?;
            if !edit(&mut doc)? || self.write_if(&doc, &seen).await? {
                return Ok(doc);
            }
        }
        Err(PortError::Transient {
            backend: SERVICE,
            message: format!(
                "document {id} kept changing under {CAS_ATTEMPTS} attempts to update it"
            ),
            source: None,
        })
    }
}

#[async_trait]
impl MetadataStore for DynamoMetadataStore {
    async fn put_document(&self, doc: &Document) -> PortResult<()> {
        self.rows.check(Rows::ReadWrite, "PutItem", SERVICE)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(doc, &new_version())?))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", e))?;
        Ok(())
    }

    async fn get_document(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
    ) -> PortResult<Option<Document>> {
        Ok(self.read(tenant, id).await?.map(|(d, _)| d))
    }

    async fn list_documents(
        &self,
        tenant: &TenantId,
        filter: &DocumentFilter,
    ) -> PortResult<Vec<Document>> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        let mut docs = Vec::with_capacity(limit.min(100));
        let mut start: Option<Item> = filter.after.as_ref().map(|after| {
            Item::from([
                ("pk".into(), s(tenant_pk(tenant))),
                ("sk".into(), s(doc_sk(after))),
            ])
        });
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :doc)")
                .expression_attribute_values(":pk", s(tenant_pk(tenant)))
                .expression_attribute_values(":doc", s("DOC#"))
                .set_exclusive_start_key(start.take())
                .limit((limit - docs.len()).max(25) as i32);
            if let Some(status) = filter.status {
                q = q
                    .filter_expression("#s = :s")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":s", s(status.as_str()));
            }
            let page = q.send().await.map_err(|e| sdk_error(SERVICE, "Query", e))?;
            for item in page.items() {
                if docs.len() == limit {
                    return Ok(docs);
                }
                docs.push(from_item(item)?.0);
            }
            match page.last_evaluated_key() {
                Some(key) if docs.len() < limit => start = Some(key.clone()),
                _ => return Ok(docs),
            }
        }
    }

    async fn find_by_etag(&self, tenant: &TenantId, etag: &str) -> PortResult<Option<Document>> {
        if etag.is_empty() {
            return Ok(None);
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_ETAG)
            .key_condition_expression("gsi1pk = :k")
            .expression_attribute_values(":k", s(format!("{}#ETAG#{etag}", tenant_pk(tenant))))
            .limit(1)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "Query", e))?;
        match out.items().first() {
            // The index is eventually consistent: confirm against the table.
            Some(item) => {
                let (doc, _) = from_item(item)?;
                Ok(self
                    .get_document(tenant, &doc.id)
                    .await?
                    .filter(|d| d.source.etag == etag))
            }
            None => Ok(None),
        }
    }

    async fn change_status(
        &self,
        tenant: &TenantId,
        id: &DocumentId,
        change: &StatusChange,
    ) -> PortResult<Document> {
        self.update(tenant, id, |doc| change.apply(doc).map(|()| true))
            .await
    }

    async fn add_alias(&self, tenant: &TenantId, id: &DocumentId, key: &str) -> PortResult<()> {
        self.update(tenant, id, |doc| Ok(add_alias_to(doc, key)))
            .await
            .map(|_| ())
    }

    async fn delete_document(&self, tenant: &TenantId, id: &DocumentId) -> PortResult<()> {
        self.rows.check(Rows::All, "DeleteItem", SERVICE)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(tenant_pk(tenant)))
            .key("sk", s(doc_sk(id)))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "DeleteItem", e))?;
        Ok(())
    }
}
