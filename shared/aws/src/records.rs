//! `RecordStore` on the same DynamoDB table as the documents: tasks, reminders,
//! drafts, conversations and memories are items in the tenant's partition.
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | record | `TENANT#{tenant}` | `{KIND}#{id}` (`TASK#…`, `REMINDER#…`, `DRAFT#…`, `CONVERSATION#…`, `MEMORY#…`) | `body` (the record as JSON), `kind`, `ver` (the version, for compare-and-set) |

use crate::dynamo::tenant_pk;
use crate::error::{sdk_error, service_code};
use crate::Rows;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use jarvis_core::ports::{PortResult, RecordKind, RecordStore, RecordVersion};
use jarvis_core::{PortError, TenantId};
use std::collections::HashMap;

const SERVICE: &str = "dynamodb";

/// The largest record body written: DynamoDB's item limit is 400 KB (names and
/// values together); the key, kind and version take well under the rest.
pub const MAX_BODY_BYTES: usize = 396 * 1024;

#[derive(Clone)]
pub struct DynamoRecordStore {
    client: Client,
    table: String,
    rows: Rows,
    /// May list tenants (a Scan): only nightly jobs.
    scan: bool,
}

fn prefix(kind: RecordKind) -> String {
    format!("{}#", kind.as_str().to_uppercase())
}

fn key(tenant: &TenantId, kind: RecordKind, id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".into(), AttributeValue::S(tenant_pk(tenant))),
        (
            "sk".into(),
            AttributeValue::S(format!("{}{id}", prefix(kind))),
        ),
    ])
}

/// The whole item of a record at `version`. DynamoDB refuses items over 400 KB;
/// this says so before the call, with the record's name.
fn item(
    tenant: &TenantId,
    kind: RecordKind,
    id: &str,
    value: &serde_json::Value,
    version: &RecordVersion,
) -> PortResult<HashMap<String, AttributeValue>> {
    let text = value.to_string();
    if text.len() > MAX_BODY_BYTES {
        return Err(PortError::Invalid(format!(
            "the {} {id} is {} bytes; a DynamoDB item holds at most 400 KB",
            kind.as_str(),
            text.len()
        )));
    }
    let mut item = key(tenant, kind, id);
    item.insert("body".into(), AttributeValue::S(text));
    item.insert("kind".into(), AttributeValue::S(kind.as_str().into()));
    item.insert("ver".into(), AttributeValue::S(version.0.clone()));
    // A record that says when it expires (an idempotency key) gets the
    // table's TTL attribute, so DynamoDB removes it then.
    if let Some(at) = value
        .get(crate::dynamo::TTL_ATTRIBUTE)
        .and_then(|v| v.as_i64())
    {
        item.insert(
            crate::dynamo::TTL_ATTRIBUTE.into(),
            AttributeValue::N(at.to_string()),
        );
    }
    Ok(item)
}

fn body(item: &HashMap<String, AttributeValue>) -> PortResult<serde_json::Value> {
    let text = item
        .get("body")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| PortError::Backend {
            backend: SERVICE,
            message: "record item without a string body".into(),
            source: None,
        })?;
    serde_json::from_str(text).map_err(|e| PortError::backend(SERVICE, e))
}

impl DynamoRecordStore {
    pub fn new(client: Client, table: &str, rows: Rows) -> Self {
        Self {
            client,
            table: table.to_owned(),
            rows,
            scan: false,
        }
    }

    /// Also allowed to list the tenants (a table Scan).
    pub fn across_tenants(mut self) -> Self {
        self.scan = true;
        self
    }

    /// Every `(sk)` of the tenant's items whose sort key starts with `begins`.
    async fn keys(
        &self,
        tenant: &TenantId,
        begins: &str,
    ) -> PortResult<Vec<HashMap<String, AttributeValue>>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", AttributeValue::S(tenant_pk(tenant)))
                .expression_attribute_values(":p", AttributeValue::S(begins.to_owned()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "Query", e))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl RecordStore for DynamoRecordStore {
    async fn put(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        value: &serde_json::Value,
    ) -> PortResult<()> {
        self.rows.check(Rows::ReadWrite, "PutItem", SERVICE)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(
                tenant,
                kind,
                id,
                value,
                &RecordVersion::fresh(),
            )?))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutItem", e))?;
        Ok(())
    }

    /// A conditional `PutItem`: `attribute_not_exists(pk)` to create, else the
    /// version read (items written before versions existed have none, and match
    /// the empty version).
    async fn put_if(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
        value: &serde_json::Value,
        expected: Option<&RecordVersion>,
    ) -> PortResult<RecordVersion> {
        self.rows.check(Rows::ReadWrite, "PutItem", SERVICE)?;
        let version = RecordVersion::fresh();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(tenant, kind, id, value, &version)?));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(seen) if seen.0.is_empty() => put
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(#v)")
                .expression_attribute_names("#v", "ver"),
            Some(seen) => put
                .condition_expression("#v = :seen")
                .expression_attribute_names("#v", "ver")
                .expression_attribute_values(":seen", AttributeValue::S(seen.0.clone())),
        };
        match put.send().await {
            Ok(_) => Ok(version),
            Err(e) if service_code(&e) == Some("ConditionalCheckFailedException") => {
                Err(PortError::Conflict(format!(
                    "the {} {id} changed since it was read",
                    kind.as_str()
                )))
            }
            Err(e) => Err(sdk_error(SERVICE, "PutItem", e)),
        }
    }

    async fn get_versioned(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
        id: &str,
    ) -> PortResult<Option<(serde_json::Value, RecordVersion)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant, kind, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "GetItem", e))?;
        out.item()
            .map(|item| {
                let version = item
                    .get("ver")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                Ok((body(item)?, RecordVersion(version)))
            })
            .transpose()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: RecordKind,
    ) -> PortResult<Vec<serde_json::Value>> {
        self.keys(tenant, &prefix(kind))
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn delete(&self, tenant: &TenantId, kind: RecordKind, id: &str) -> PortResult<bool> {
        self.rows.check(Rows::All, "DeleteItem", SERVICE)?;
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant, kind, id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "DeleteItem", e))?;
        Ok(out.attributes().is_some())
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> PortResult<usize> {
        let mut n = 0;
        for kind in RecordKind::ALL {
            for item in self.keys(tenant, &prefix(kind)).await? {
                let id = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|sk| sk.strip_prefix(&prefix(kind)))
                    .unwrap_or_default()
                    .to_owned();
                n += usize::from(self.delete(tenant, kind, &id).await?);
            }
        }
        Ok(n)
    }

    /// A Scan of the table for the kind's items (a nightly job's cost, not a request's).
    async fn tenants(&self, kind: RecordKind) -> PortResult<Vec<TenantId>> {
        if !self.scan {
            return Err(PortError::Backend {
                backend: SERVICE,
                message: "AccessDenied: this function is not granted Scan on the table".into(),
                source: None,
            });
        }
        let mut tenants = std::collections::BTreeSet::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#k = :k")
                .expression_attribute_names("#k", "kind")
                .expression_attribute_values(":k", AttributeValue::S(kind.as_str().into()))
                .projection_expression("pk")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error(SERVICE, "Scan", e))?;
            for item in page.items() {
                if let Some(t) = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("TENANT#"))
                    .and_then(|t| TenantId::parse(t).ok())
                {
                    tenants.insert(t);
                }
            }
            match page.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return Ok(tenants.into_iter().collect()),
            }
        }
    }
}
