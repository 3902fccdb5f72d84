//! Typed configuration, loaded once at start. Every environment variable Jarvis
//! reads is named in [`vars`]; a malformed value fails start-up naming the variable.

use crate::domain::TenantId;
use crate::fusion::{self, FusionConfig};
use std::path::PathBuf;

/// The environment variables, in one place.
pub mod vars {
    pub const DATA_DIR: &str = "JARVIS_DATA_DIR";
    pub const BIND: &str = "JARVIS_BIND";
    pub const MODEL_DIR: &str = "JARVIS_MODEL_DIR";
    /// Locally: the embedding engine, `auto` (default: onnx when installed, else
    /// fp32), `onnx` (int8 under ONNX Runtime) or `fp32` (pure Rust; `candle`,
    /// its engine's name until December 2026, still means it).
    pub const EMBEDDER: &str = "JARVIS_EMBEDDER";
    pub const MAX_FILE_BYTES: &str = "JARVIS_MAX_FILE_BYTES";
    pub const MAX_UPLOAD_BYTES: &str = "JARVIS_MAX_UPLOAD_BYTES";
    pub const CHUNK_MAX_TOKENS: &str = "JARVIS_CHUNK_MAX_TOKENS";
    pub const CHUNK_OVERLAP_TOKENS: &str = "JARVIS_CHUNK_OVERLAP_TOKENS";
    pub const FUSION: &str = "JARVIS_FUSION";
    pub const FUSION_BM25_WEIGHT: &str = "JARVIS_FUSION_BM25_WEIGHT";
    pub const FUSION_VECTOR_WEIGHT: &str = "JARVIS_FUSION_VECTOR_WEIGHT";
    pub const RRF_K: &str = "JARVIS_RRF_K";
    pub const PII_REDACT: &str = "JARVIS_PII_REDACT";
    /// Ask the language service for language, entities and key phrases (Comprehend bills per call).
    pub const TEXT_INSIGHTS: &str = "JARVIS_TEXT_INSIGHTS";
    pub const TESSERACT: &str = "JARVIS_TESSERACT";
    pub const DEFAULT_TENANT: &str = "JARVIS_DEFAULT_TENANT";
    pub const INBOX_POLL_MS: &str = "JARVIS_INBOX_POLL_MS";
    pub const PIPELINE_WORKERS: &str = "JARVIS_PIPELINE_WORKERS";
    pub const LOG_FORMAT: &str = "JARVIS_LOG_FORMAT";
    /// The users' time zone (IANA), for reminders and due dates typed as words.
    pub const TIME_ZONE: &str = "JARVIS_TIME_ZONE";
    /// Locally: send mail through this SMTP server (`smtp://user:pass@host:587?tls=required`,
    /// `smtps://…`); without it mail goes to the outbox folder only.
    pub const SMTP_URL: &str = "JARVIS_SMTP_URL";
    /// Locally: POST each notification as JSON here too.
    pub const WEBHOOK_URL: &str = "JARVIS_WEBHOOK_URL";
    /// Locally: the executable started as the parser child (`<it> __parse`);
    /// `jarvis` uses itself when unset.
    pub const PARSER: &str = "JARVIS_PARSER";
    /// Locally: the web app's folder (default: this checkout's `web/`).
    pub const WEB_DIR: &str = "JARVIS_WEB_DIR";
    /// Locally: the parser child's address space, in MB (default 1024).
    pub const PARSER_MEMORY_MB: &str = "JARVIS_PARSER_MEMORY_MB";
    /// Locally: the chat model, `offline` (default) or `openai` (any OpenAI-compatible server).
    pub const CHAT_MODEL: &str = "JARVIS_CHAT_MODEL";
    /// Locally: the offline model's pause between streamed words, in ms.
    pub const CHAT_PACE_MS: &str = "JARVIS_CHAT_PACE_MS";
    pub const OPENAI_URL: &str = "JARVIS_OPENAI_URL";
    pub const OPENAI_MODEL: &str = "JARVIS_OPENAI_MODEL";
    pub const OPENAI_API_KEY: &str = "JARVIS_OPENAI_API_KEY";
    /// Model calls per chat turn before the turn fails.
    pub const CHAT_MAX_STEPS: &str = "JARVIS_CHAT_MAX_STEPS";
    /// Tokens one model call may generate.
    pub const CHAT_MAX_TOKENS: &str = "JARVIS_CHAT_MAX_TOKENS";
    /// Tokens (prompt and output, estimated) a whole chat turn may use.
    pub const CHAT_TURN_TOKENS: &str = "JARVIS_CHAT_TURN_TOKENS";
    pub const LOG_FILTER: &str = "RUST_LOG";

    // On AWS (set by Terraform on each function; read by `AwsSettings`).
    pub const RAW_BUCKET: &str = "JARVIS_RAW_BUCKET";
    pub const CURATED_BUCKET: &str = "JARVIS_CURATED_BUCKET";
    pub const TABLE: &str = "JARVIS_TABLE";
    pub const INGEST_QUEUE_URL: &str = "JARVIS_INGEST_QUEUE_URL";
    pub const STATE_MACHINE_ARN: &str = "JARVIS_STATE_MACHINE_ARN";
    pub const OPENSEARCH_ENDPOINT: &str = "JARVIS_OPENSEARCH_ENDPOINT";
    pub const OPENSEARCH_INDEX: &str = "JARVIS_OPENSEARCH_INDEX";
    /// SigV4 service name: `aoss` (Serverless, the default) or `es` (a domain).
    pub const OPENSEARCH_SERVICE: &str = "JARVIS_OPENSEARCH_SERVICE";
    pub const EMBED_MODEL_ID: &str = "JARVIS_EMBED_MODEL_ID";
    pub const EMBED_DIMENSIONS: &str = "JARVIS_EMBED_DIMENSIONS";
    pub const CHAT_MODEL_ID: &str = "JARVIS_CHAT_MODEL_ID";
    pub const REMINDER_TOPIC_ARN: &str = "JARVIS_REMINDER_TOPIC_ARN";
    pub const SCHEDULE_GROUP: &str = "JARVIS_SCHEDULE_GROUP";
    pub const SCHEDULER_ROLE_ARN: &str = "JARVIS_SCHEDULER_ROLE_ARN";
    pub const REMINDER_TARGET_ARN: &str = "JARVIS_REMINDER_TARGET_ARN";
    pub const REMINDER_DLQ_ARN: &str = "JARVIS_REMINDER_DLQ_ARN";
    pub const MAIL_FROM: &str = "JARVIS_MAIL_FROM";
    /// Name prefix of the tool functions api-chat invokes (`jarvis-dev-` → `jarvis-dev-tool-tasks`).
    pub const TOOL_FUNCTION_PREFIX: &str = "JARVIS_TOOL_FUNCTION_PREFIX";
    /// The function api-me starts asynchronously to erase a tenant (`erase-tenant`).
    pub const ERASE_FUNCTION: &str = "JARVIS_ERASE_FUNCTION";
    /// The alias of the Jarvis functions this one invokes (Terraform: `live`,
    /// the alias `make rollback-<env>` moves); unset: their latest version.
    pub const FUNCTION_ALIAS: &str = "JARVIS_FUNCTION_ALIAS";
    /// The tenant (Cognito sub) that owns files dropped into the raw bucket by
    /// hand (`inbox/…` or the bucket's root); empty: nobody does.
    pub const OWNER_TENANT: &str = "JARVIS_OWNER_TENANT";
    /// The OpenID issuer whose tokens open a WebSocket (the Cognito user pool's URL);
    /// its keys are read from `<issuer>/.well-known/jwks.json`.
    pub const AUTH_ISSUER: &str = "JARVIS_AUTH_ISSUER";
    /// The app client ids a token may be issued to, comma-separated.
    pub const AUTH_AUDIENCE: &str = "JARVIS_AUTH_AUDIENCE";
    /// Attempts per AWS call (first try included) before a transient error is returned.
    pub const AWS_MAX_ATTEMPTS: &str = "JARVIS_AWS_MAX_ATTEMPTS";
    /// The standard SDK override: every AWS client talks to this endpoint (an emulator).
    pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
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
    /// Which engine runs the local embedding model.
    pub embedder: EmbedEngine,
    /// Largest file the pipeline accepts.
    pub max_file_bytes: u64,
    /// Largest body `POST /documents` accepts.
    pub max_upload_bytes: u64,
    pub chunk_max_tokens: usize,
    pub chunk_overlap_tokens: usize,
    pub fusion: FusionConfig,
    /// Replace detected PII with placeholders before indexing.
    pub pii_redact: bool,
    /// Record language, entities and key phrases where the engine reads them.
    pub text_insights: bool,
    /// The Tesseract executable used for image OCR.
    pub tesseract: String,
    /// The executable the document parsers run in, as a child with capped
    /// memory and time (`jarvis_extract::sandbox`); `None` parses in process.
    pub parser: Option<std::path::PathBuf>,
    /// The parser child's address space, in bytes.
    pub parser_memory: u64,
    /// The web app's folder the local runtime serves at `/` (`None`: the
    /// runtime's own default).
    pub web_dir: Option<std::path::PathBuf>,
    /// Tenant that owns files dropped at the top of the inbox.
    pub default_tenant: TenantId,
    pub inbox_poll_ms: u64,
    /// Pipeline runs in the steps up to `embed` at once (eight by default: the
    /// embedder batches the chunks of the runs that reach it together), and
    /// as many more in `index`, where the text index holds a commit up to
    /// 250 ms for the others' documents (or until this many wait). A run
    /// waiting on its commit has left its place to the next file, so the
    /// embedder always has text.
    pub pipeline_workers: usize,
    /// IANA zone times like "tomorrow at 9am" are read in.
    pub time_zone: String,
    pub webhook_url: Option<String>,
    pub smtp_url: Option<String>,
    /// The From of sent mail (`JARVIS_MAIL_FROM`, also SES's identity on AWS).
    pub mail_from: Option<String>,
    pub chat: ChatSettings,
}

/// Which chat model, and the agent loop's bounds.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// `offline`, `openai` or `bedrock`.
    pub model: String,
    pub openai_url: Option<String>,
    pub openai_model: Option<String>,
    pub openai_api_key: Option<String>,
    pub max_steps: usize,
    pub max_tokens: u32,
    pub turn_tokens: u32,
    /// The offline model's pause between streamed words, in ms (0: none;
    /// `JARVIS_CHAT_PACE_MS`): answers then appear as a real model's do.
    pub pace_ms: u64,
}

impl Config {
    /// The chunker's settings.
    pub fn chunking(&self) -> crate::chunking::ChunkingConfig {
        crate::chunking::ChunkingConfig {
            max_tokens: self.chunk_max_tokens,
            overlap_tokens: self.chunk_overlap_tokens,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(get(vars::DATA_DIR).unwrap_or_else(|| "data".into()));
        let fusion_mode = get(vars::FUSION).unwrap_or_else(|| "weighted".into());
        let bm25_weight = parse_or(
            &get,
            vars::FUSION_BM25_WEIGHT,
            FusionConfig::default_bm25_weight(&fusion_mode),
        )?;
        let vector_weight = parse_or(
            &get,
            vars::FUSION_VECTOR_WEIGHT,
            fusion::DEFAULT_VECTOR_WEIGHT,
        )?;
        let rrf_k = parse_or(&get, vars::RRF_K, fusion::DEFAULT_RRF_K)?;
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
        let time_zone = get(vars::TIME_ZONE).unwrap_or_else(|| "UTC".into());
        crate::when::zone(&time_zone).map_err(|reason| ConfigError {
            var: vars::TIME_ZONE,
            value: time_zone.clone(),
            reason,
        })?;
        let chat = ChatSettings {
            model: get(vars::CHAT_MODEL).unwrap_or_else(|| "offline".into()),
            openai_url: get(vars::OPENAI_URL),
            openai_model: get(vars::OPENAI_MODEL),
            openai_api_key: get(vars::OPENAI_API_KEY),
            max_steps: parse_or(&get, vars::CHAT_MAX_STEPS, 6usize)?.clamp(1, 20),
            max_tokens: parse_or(&get, vars::CHAT_MAX_TOKENS, 1024u32)?.clamp(64, 8192),
            turn_tokens: parse_or(&get, vars::CHAT_TURN_TOKENS, 24_000u32)?.max(1000),
            pace_ms: parse_or(&get, vars::CHAT_PACE_MS, 0u64)?.min(2000),
        };
        if !["offline", "openai", "bedrock"].contains(&chat.model.as_str()) {
            return Err(ConfigError {
                var: vars::CHAT_MODEL,
                value: chat.model,
                reason: "use offline, openai or bedrock".into(),
            });
        }
        if chat.model == "openai" && (chat.openai_url.is_none() || chat.openai_model.is_none()) {
            return Err(ConfigError {
                var: vars::OPENAI_URL,
                value: chat.openai_url.unwrap_or_default(),
                reason: format!(
                    "the openai chat model needs {} and {}",
                    vars::OPENAI_URL,
                    vars::OPENAI_MODEL
                ),
            });
        }
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
            embedder: EmbedEngine::from_value(get(vars::EMBEDDER))?,
            bind: get(vars::BIND).unwrap_or_else(|| "127.0.0.1:8080".into()),
            max_file_bytes: parse_or(&get, vars::MAX_FILE_BYTES, 50 * 1024 * 1024u64)?,
            max_upload_bytes: parse_or(&get, vars::MAX_UPLOAD_BYTES, 50 * 1024 * 1024u64)?,
            chunk_max_tokens,
            chunk_overlap_tokens,
            fusion,
            pii_redact: parse_bool(&get, vars::PII_REDACT, false)?,
            text_insights: parse_bool(&get, vars::TEXT_INSIGHTS, true)?,
            tesseract: get(vars::TESSERACT).unwrap_or_else(|| "tesseract".into()),
            parser: get(vars::PARSER)
                .filter(|p| !p.trim().is_empty())
                .map(std::path::PathBuf::from),
            web_dir: get(vars::WEB_DIR)
                .filter(|p| !p.trim().is_empty())
                .map(std::path::PathBuf::from),
            parser_memory: parse_or(&get, vars::PARSER_MEMORY_MB, 1024u64)?.clamp(64, 65_536)
                * 1024
                * 1024,
            default_tenant,
            inbox_poll_ms: parse_or(&get, vars::INBOX_POLL_MS, 500u64)?,
            pipeline_workers: parse_or(&get, vars::PIPELINE_WORKERS, 8usize)?.max(1),
            time_zone,
            webhook_url: get(vars::WEBHOOK_URL),
            smtp_url: get(vars::SMTP_URL),
            mail_from: get(vars::MAIL_FROM),
            chat,
            data_dir,
        })
    }
}

/// Where the AWS resources are: names and ARNs Terraform sets on each function.
/// Only what a function uses must be set; [`AwsSettings::require`] names the
/// missing variable at start-up.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub raw_bucket: Option<String>,
    pub curated_bucket: Option<String>,
    pub table: Option<String>,
    pub ingest_queue_url: Option<String>,
    pub state_machine_arn: Option<String>,
    pub opensearch_endpoint: Option<String>,
    pub opensearch_index: String,
    pub opensearch_service: String,
    pub embed_model_id: String,
    pub embed_dimensions: usize,
    pub chat_model_id: String,
    pub reminder_topic_arn: Option<String>,
    pub schedule_group: String,
    pub scheduler_role_arn: Option<String>,
    /// The SQS queue Scheduler puts reminder deliveries it gave up on.
    pub reminder_dlq_arn: Option<String>,
    pub reminder_target_arn: Option<String>,
    pub mail_from: Option<String>,
    pub tool_function_prefix: Option<String>,
    pub erase_function: Option<String>,
    pub function_alias: Option<String>,
    pub owner_tenant: Option<String>,
    pub auth_issuer: Option<String>,
    pub auth_audience: Option<String>,
    pub max_attempts: u32,
    /// An endpoint override for every client (tests point it at an emulator).
    pub endpoint_url: Option<String>,
}

impl AwsSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let embed_dimensions = parse_or(&get, vars::EMBED_DIMENSIONS, 1024usize)?;
        if ![256, 512, 1024].contains(&embed_dimensions) {
            return Err(ConfigError {
                var: vars::EMBED_DIMENSIONS,
                value: embed_dimensions.to_string(),
                reason: "Titan text embeddings v2 gives 256, 512 or 1024 dimensions".into(),
            });
        }
        let opensearch_service = get(vars::OPENSEARCH_SERVICE).unwrap_or_else(|| "aoss".into());
        if !matches!(opensearch_service.as_str(), "aoss" | "es") {
            return Err(ConfigError {
                var: vars::OPENSEARCH_SERVICE,
                value: opensearch_service,
                reason: "expected aoss (Serverless) or es (a managed domain)".into(),
            });
        }
        let max_attempts = parse_or(&get, vars::AWS_MAX_ATTEMPTS, 4u32)?;
        if !(1..=10).contains(&max_attempts) {
            return Err(ConfigError {
                var: vars::AWS_MAX_ATTEMPTS,
                value: max_attempts.to_string(),
                reason: "expected 1 to 10".into(),
            });
        }
        Ok(Self {
            raw_bucket: get(vars::RAW_BUCKET),
            curated_bucket: get(vars::CURATED_BUCKET),
            table: get(vars::TABLE),
            ingest_queue_url: get(vars::INGEST_QUEUE_URL),
            state_machine_arn: get(vars::STATE_MACHINE_ARN),
            opensearch_endpoint: get(vars::OPENSEARCH_ENDPOINT),
            opensearch_index: get(vars::OPENSEARCH_INDEX).unwrap_or_else(|| "jarvis-chunks".into()),
            opensearch_service,
            embed_model_id: get(vars::EMBED_MODEL_ID)
                .unwrap_or_else(|| "amazon.titan-embed-text-v2:0".into()),
            embed_dimensions,
            // Terraform always sets the region's inference profile (docs/deploying.md's
            // model matrix); this is the model behind it.
            chat_model_id: get(vars::CHAT_MODEL_ID)
                .unwrap_or_else(|| "anthropic.claude-haiku-4-5-20251001-v1:0".into()),
            reminder_topic_arn: get(vars::REMINDER_TOPIC_ARN),
            schedule_group: get(vars::SCHEDULE_GROUP).unwrap_or_else(|| "jarvis-reminders".into()),
            scheduler_role_arn: get(vars::SCHEDULER_ROLE_ARN),
            reminder_target_arn: get(vars::REMINDER_TARGET_ARN),
            reminder_dlq_arn: get(vars::REMINDER_DLQ_ARN),
            mail_from: get(vars::MAIL_FROM),
            tool_function_prefix: get(vars::TOOL_FUNCTION_PREFIX),
            erase_function: get(vars::ERASE_FUNCTION),
            function_alias: get(vars::FUNCTION_ALIAS).filter(|a| !a.trim().is_empty()),
            owner_tenant: get(vars::OWNER_TENANT).filter(|t| !t.trim().is_empty()),
            auth_issuer: get(vars::AUTH_ISSUER),
            auth_audience: get(vars::AUTH_AUDIENCE),
            max_attempts,
            endpoint_url: get(vars::AWS_ENDPOINT_URL),
        })
    }

    /// A setting this function cannot run without; the error names the variable.
    pub fn require<'a>(
        value: &'a Option<String>,
        var: &'static str,
    ) -> Result<&'a str, ConfigError> {
        value.as_deref().ok_or_else(|| ConfigError {
            var,
            value: String::new(),
            reason: "is not set (Terraform sets it on the functions that need it)".into(),
        })
    }
}

/// The engine that runs the local embedding model ([`vars::EMBEDDER`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmbedEngine {
    /// ONNX Runtime when `make model` installed it, fp32 otherwise.
    #[default]
    Auto,
    /// all-MiniLM-L6-v2 with int8 weights under ONNX Runtime.
    Onnx,
    /// all-MiniLM-L6-v2 with fp32 weights, in pure Rust.
    Fp32,
}

impl EmbedEngine {
    /// The engine [`vars::EMBEDDER`] names (`Auto` when unset or blank); a
    /// value that names none is an error.
    pub fn from_value(value: Option<String>) -> Result<Self, ConfigError> {
        match value.filter(|v| !v.trim().is_empty()) {
            None => Ok(Self::Auto),
            Some(v) => Self::parse(&v).ok_or_else(|| ConfigError {
                var: vars::EMBEDDER,
                value: v,
                reason: "expected auto, onnx or fp32".into(),
            }),
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "onnx" | "onnxruntime" => Some(Self::Onnx),
            "fp32" | "candle" => Some(Self::Fp32),
            _ => None,
        }
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
    fn the_embedding_engine_is_named_or_auto_and_a_wrong_name_fails_start() {
        assert_eq!(from(&[]).unwrap().embedder, EmbedEngine::Auto);
        assert_eq!(
            from(&[(vars::EMBEDDER, " ")]).unwrap().embedder,
            EmbedEngine::Auto
        );
        assert_eq!(
            from(&[(vars::EMBEDDER, "ONNX")]).unwrap().embedder,
            EmbedEngine::Onnx
        );
        assert_eq!(
            from(&[(vars::EMBEDDER, "fp32")]).unwrap().embedder,
            EmbedEngine::Fp32
        );
        // The engine's old name, from settings written before it changed.
        assert_eq!(
            from(&[(vars::EMBEDDER, "candle")]).unwrap().embedder,
            EmbedEngine::Fp32
        );
        let e = from(&[(vars::EMBEDDER, "gpu")]).err().unwrap();
        assert_eq!(e.var, vars::EMBEDDER);
        assert_eq!(
            EmbedEngine::from_value(Some("gpu".into()))
                .err()
                .unwrap()
                .value,
            "gpu"
        );
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

    #[test]
    fn aws_settings_default_what_they_can_and_name_what_is_missing() {
        let s = AwsSettings::from_lookup(|_| None).unwrap();
        assert_eq!(s.embed_dimensions, 1024);
        assert_eq!(s.opensearch_service, "aoss");
        let err = AwsSettings::require(&s.table, vars::TABLE).unwrap_err();
        assert!(err.to_string().contains("JARVIS_TABLE"), "{err}");
        let bad = |k: &'static str, v: &'static str| {
            AwsSettings::from_lookup(move |n| (n == k).then(|| v.to_string())).is_err()
        };
        assert!(bad(vars::EMBED_DIMENSIONS, "300"));
        assert!(bad(vars::OPENSEARCH_SERVICE, "solr"));
        assert!(bad(vars::AWS_MAX_ATTEMPTS, "0"));
    }
}
