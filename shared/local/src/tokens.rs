//! Bearer tokens for the local API. Only a SHA-256 of each token is stored; the
//! token itself is shown once, when it is created.

use crate::{sqlite_err, Db};
use chrono::Utc;
use jarvis_core::domain::TenantId;
use jarvis_core::ports::PortResult;
use jarvis_core::PortError;
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct TokenStore {
    db: Db,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Issues a new random token for `tenant` and returns it.
    pub fn issue(&self, tenant: &TenantId, label: &str, random: [u8; 32]) -> PortResult<String> {
        let token = format!("jv_{}", hex::encode(random));
        self.db
            .lock()
            .execute(
                "INSERT INTO tokens (token_sha256, tenant, label, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![digest(&token), tenant.as_str(), label, Utc::now().to_rfc3339()],
            )
            .map_err(sqlite_err)?;
        Ok(token)
    }

    /// The tenant a token belongs to.
    pub fn tenant_for(&self, token: &str) -> PortResult<Option<TenantId>> {
        let tenant: Option<String> = self
            .db
            .lock()
            .query_row(
                "SELECT tenant FROM tokens WHERE token_sha256 = ?1",
                params![digest(token)],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite_err)?;
        tenant
            .map(|t| TenantId::parse(&t).map_err(PortError::Invalid))
            .transpose()
    }

    /// Withdraws a token; false when it was not there.
    pub fn revoke(&self, token: &str) -> PortResult<bool> {
        self.db
            .lock()
            .execute(
                "DELETE FROM tokens WHERE token_sha256 = ?1",
                params![digest(token)],
            )
            .map(|n| n > 0)
            .map_err(sqlite_err)
    }

    pub fn count(&self) -> PortResult<u64> {
        self.db
            .lock()
            .query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sqlite_err)
    }
}
