//! Typed configuration, loaded once at start. Every environment variable Jarvis
//! reads is named in [`vars`]; a malformed value fails start-up naming the variable.

use crate::domain::TenantId;
use crate::fusion::FusionConfig;
use std::path::PathBuf;

/// The environment variables, in one place.
pub mod vars {
    pub const DATA_DIR: &str = "JARVIS_DATA_DIR";
    pub const BIND: &str = "JARVIS_BIND";
    pub const MODEL_DIR: &str = "JARVIS_MODEL_DIR";
    pub const MAX_FILE_BYTES: &str = "JARVIS_MAX_FILE_BYTES";
    pub const MAX_UPLOAD_BYTES: &str = "JARVIS_MAX_UPLOAD_BYTES";
    pub const CHUNK_MAX_TOKENS: &str = "JARVIS_CHUNK_MAX_TOKENS";
    pub const CHUNK_OVERLAP_TOKENS: &str = "JARVIS_CHUNK_OVERLAP_TOKENS";
    pub const FUSION: &str = "JARVIS_FUSION";
    pub const FUSION_BM25_WEIGHT: &str = "JARVIS_FUSION_BM25_WEIGHT";
    pub const FUSION_VECTOR_WEIGHT: &str = "JARVIS_FUSION_VECTOR_WEIGHT";
    pub const RRF_K: &str = "JARVIS_RRF_K";
    pub const PII_REDACT: &str = "JARVIS_PII_REDACT";
    pub const TESSERACT: &str = "JARVIS_TESSERACT";
    pub const DEFAULT_TENANT: &str = "JARVIS_DEFAULT_TENANT";
    pub const INBOX_POLL_MS: &str = "JARVIS_INBOX_POLL_MS";
    pub const PIPELINE_WORKERS: &str = "JARVIS_PIPELINE_WORKERS";
    pub const LOG_FORMAT: &str = "JARVIS_LOG_FORMAT";
    pub const LOG_FILTER: &str = "RUST_LOG";
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration {var}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
}

/// Everything tunable, with the embedded defaults `make run` uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// Root of local state: `inbox/`, `blobs/`, `index/`, `jarvis.db`.
    pub data_dir: PathBuf,
    /// Address of the local HTTP API.
    pub bind: String,
    /// Folder with the embedding model (config.json, tokenizer.json, model.safetensors).
    pub model_dir: PathBuf,
    /// Largest file the pipeline accepts.
    pub max_file_bytes: u64,
    /// Largest body `POST /documents` accepts.
    pub max_upload_bytes: u64,
    pub chunk_max_tokens: usize,
    pub chunk_overlap_tokens: usize,
    pub fusion: FusionConfig,
    /// Replace detected PII with placeholders before indexing.
    pub pii_redact: bool,
    /// The Tesseract executable used for image OCR.
    pub tesseract: String,
    /// Tenant that owns files dropped at the top of the inbox.
    pub default_tenant: TenantId,
    pub inbox_poll_ms: u64,
    /// Pipeline runs processed at once.
    pub pipeline_workers: usize,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(get(vars::DATA_DIR).unwrap_or_else(|| "data".into()));
        let fusion_mode = get(vars::FUSION).unwrap_or_else(|| "rrf".into());
        let bm25_weight = parse_or(&get, vars::FUSION_BM25_WEIGHT, 1.0f32)?;
        let vector_weight = parse_or(&get, vars::FUSION_VECTOR_WEIGHT, 1.0f32)?;
        let rrf_k = parse_or(&get, vars::RRF_K, 60.0f32)?;
        let fusion = FusionConfig::parse(&fusion_mode, bm25_weight, vector_weight, rrf_k).map_err(
            |reason| ConfigError {
                var: vars::FUSION,
                value: fusion_mode.clone(),
                reason,
            },
        )?;
        let default_tenant_raw = get(vars::DEFAULT_TENANT).unwrap_or_else(|| "local".into());
        let default_tenant =
            TenantId::parse(&default_tenant_raw).map_err(|reason| ConfigError {
                var: vars::DEFAULT_TENANT,
                value: default_tenant_raw.clone(),
                reason,
            })?;
        let chunk_max_tokens = parse_or(&get, vars::CHUNK_MAX_TOKENS, 200usize)?;
        let chunk_overlap_tokens = parse_or(&get, vars::CHUNK_OVERLAP_TOKENS, 40usize)?;
        if chunk_max_tokens < 16 || chunk_overlap_tokens * 2 > chunk_max_tokens {
            return Err(ConfigError {
                var: vars::CHUNK_OVERLAP_TOKENS,
                value: chunk_overlap_tokens.to_string(),
                reason: format!(
                    "need max tokens >= 16 and overlap <= half of it (max is {chunk_max_tokens})"
                ),
            });
        }
        Ok(Self {
            model_dir: get(vars::MODEL_DIR)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("models/all-MiniLM-L6-v2")),
            bind: get(vars::BIND).unwrap_or_else(|| "127.0.0.1:8080".into()),
            max_file_bytes: parse_or(&get, vars::MAX_FILE_BYTES, 50 * 1024 * 1024u64)?,
            max_upload_bytes: parse_or(&get, vars::MAX_UPLOAD_BYTES, 50 * 1024 * 1024u64)?,
            chunk_max_tokens,
            chunk_overlap_tokens,
            fusion,
            pii_redact: parse_bool(&get, vars::PII_REDACT, false)?,
            tesseract: get(vars::TESSERACT).unwrap_or_else(|| "tesseract".into()),
            default_tenant,
            inbox_poll_ms: parse_or(&get, vars::INBOX_POLL_MS, 500u64)?,
            pipeline_workers: parse_or(&get, vars::PIPELINE_WORKERS, 2usize)?.max(1),
            data_dir,
        })
    }
}

fn parse_or<T: std::str::FromStr>(
    get: &impl Fn(&'static str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(var) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError {
            var,
            value: v,
            reason: e.to_string(),
        }),
    }
}

fn parse_bool(
    get: &impl Fn(&'static str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError {
            var,
            value: other.into(),
            reason: "expected true or false".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_ones() {
        let c = from(&[]).unwrap();
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.default_tenant.as_str(), "local");
        assert_eq!(c.max_file_bytes, 50 * 1024 * 1024);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = from(&[(vars::MAX_FILE_BYTES, "lots")]).unwrap_err();
        assert_eq!(err.var, vars::MAX_FILE_BYTES);
        assert!(err.to_string().contains("JARVIS_MAX_FILE_BYTES"));
        assert!(from(&[(vars::FUSION, "magic")]).is_err());
        assert!(from(&[(vars::PII_REDACT, "maybe")]).is_err());
    }
}
