//! The AWS adapters: every port of `jarvis-core` on an AWS service.
//!
//! | port | adapter | service |
//! |---|---|---|
//! | `BlobStore` (+ pre-signed URLs) | [`s3::S3BlobStore`] | S3 |
//! | `MetadataStore` | [`dynamo::DynamoMetadataStore`] | DynamoDB (one tenant-keyed table) |
//! | `Queue` | [`sqs::SqsQueue`] | SQS |
//! | `WorkflowStarter` | [`sfn::StepFunctions`] | Step Functions |
//! | `Notifier` | [`sns::SnsNotifier`] | SNS |
//! | `Mailer` | [`ses::SesMailer`] | SESv2 |
//! | `Scheduler` | [`scheduler::EventBridgeScheduler`] | EventBridge Scheduler |
//! | `ImageAnalyzer` | [`vision::AwsVision`] | Textract + Rekognition |
//! | `Transcriber` | [`transcribe::AwsTranscriber`] | Transcribe |
//! | `PiiDetector` | [`comprehend::ComprehendPii`] | Comprehend |
//! | `Embedder`, `ChatModel` | [`bedrock`] | Bedrock Runtime |
//! | `SearchIndex` | [`opensearch::OpenSearchIndex`] | OpenSearch (Serverless or a domain), SigV4 |
//! | `RecordStore` | [`records::DynamoRecordStore`] | DynamoDB (the same table) |
//! | `ToolRunner` | [`lambda::LambdaTools`] | Lambda (each tool's own function) |
//! | `Connections` | [`connections::ApiGatewayConnections`] | API Gateway WebSocket `@connections` |
//!
//! [`auth::TokenVerifier`] checks the user pool's tokens where API Gateway
//! cannot (a WebSocket's `$connect`).
//!
//! [`AwsStack`] builds them from typed settings ([`jarvis_core::config::AwsSettings`]);
//! a function's `main.rs` asks it only for the adapters that function uses.
//! Every call retries throttling and transient faults with exponential backoff
//! (the SDK's standard retry mode, `JARVIS_AWS_MAX_ATTEMPTS` attempts); what is left
//! is mapped by [`error`] to a `PortError` with the service, operation and AWS code.
//! Services used for a handful of operations (Lambda, Step Functions, Textract,
//! Rekognition, Transcribe, Comprehend, SESv2) are called through [`signed`]: SigV4-signed
//! requests of the services' published protocols, with the same credentials,
//! region, endpoint override, retries and error mapping, and without compiling
//! an SDK crate for each.

pub mod auth;
pub mod bedrock;
pub mod comprehend;
pub mod connections;
pub mod dynamo;
pub mod error;
pub mod iam;
pub mod lambda;
pub mod metrics;
pub mod opensearch;
pub mod push;
pub mod records;
pub mod s3;
pub mod scheduler;
pub mod ses;
pub mod sfn;
pub mod signed;
pub mod sns;
pub mod sqs;
pub mod transcribe;
pub mod vision;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use iam::{Bucket, Usage};
use jarvis_core::config::{vars, AwsSettings, Config, ConfigError};
use jarvis_core::TenantId;
use s3::BlobOp;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shared SDK configuration plus where Jarvis's resources are.
#[derive(Clone)]
pub struct AwsStack {
    pub sdk: SdkConfig,
    pub settings: AwsSettings,
    pub config: Config,
    /// What the adapters built so far can call ([`AwsStack::usage`]).
    usage: Arc<Mutex<Usage>>,
    /// Where model usage metrics go (stdout as EMF; tests capture them).
    pub metrics: metrics::Emf,
    /// The signed client of the services called without their SDK crates,
    /// built once from `sdk` when an adapter first needs it.
    signed: Arc<std::sync::OnceLock<signed::AwsClient>>,
}

/// What a function does with which bucket: its S3 store allows exactly this,
/// and its IAM role grants exactly this (checked against Terraform in `make test`).
#[derive(Debug, Clone, Default)]
pub struct BlobAccess(BTreeSet<(Bucket, BlobOp)>);

impl BlobAccess {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn read(mut self, bucket: Bucket) -> Self {
        self.0.insert((bucket, BlobOp::Read));
        self
    }
    pub fn write(mut self, bucket: Bucket) -> Self {
        self.0.insert((bucket, BlobOp::Write));
        self
    }
    /// Every version of objects under a prefix, for good (erasure).
    pub fn purge(mut self, bucket: Bucket) -> Self {
        self.0.insert((bucket, BlobOp::Purge));
        self
    }

    pub fn delete(mut self, bucket: Bucket) -> Self {
        self.0.insert((bucket, BlobOp::Delete));
        self
    }
}

/// Which table operations a function performs (documents or records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Get, list, look up by ETag.
    Read,
    /// Also create and update (status changes, aliases).
    ReadWrite,
    /// Also delete.
    All,
}

impl Rows {
    fn rank(self) -> u8 {
        match self {
            Self::Read => 0,
            Self::ReadWrite => 1,
            Self::All => 2,
        }
    }

    /// AccessDenied unless `self` includes `needed` (the role grants the same).
    pub(crate) fn check(
        self,
        needed: Rows,
        operation: &str,
        service: &'static str,
    ) -> jarvis_core::ports::PortResult<()> {
        if self.rank() >= needed.rank() {
            return Ok(());
        }
        Err(jarvis_core::PortError::Backend {
            backend: service,
            message: format!(
                "AccessDenied: this function is not granted {operation} on the table (it has {self:?})"
            ),
            source: None,
        })
    }

    fn operations(self) -> &'static [&'static str] {
        match self {
            Rows::Read => &["GetItem", "Query"],
            Rows::ReadWrite => &["GetItem", "Query", "PutItem"],
            Rows::All => &["GetItem", "Query", "PutItem", "DeleteItem"],
        }
    }
}

/// The HTTPS client every SDK client shares: hyper + rustls on ring (no aws-lc
/// build, so cross-compiling for arm64 Lambda needs only zig).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads region and credentials the standard way (Lambda's environment, profile,
/// web identity), with Jarvis's retry and timeout policy and any endpoint override.
pub async fn load_sdk_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config(
            settings.max_attempts,
            Duration::from_millis(200),
        ))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Standard retry mode: exponential backoff with jitter on throttling, 5xx and
/// connection faults.
pub fn retry_config(max_attempts: u32, initial_backoff: Duration) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_attempts)
        .with_initial_backoff(initial_backoff)
        .with_max_backoff(Duration::from_secs(10))
}

impl AwsStack {
    /// Reads the environment (Lambda) and loads the SDK configuration.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let settings = AwsSettings::from_env()?;
        let sdk = load_sdk_config(&settings).await;
        Ok(Self::new(sdk, settings, config))
    }

    /// What every Lambda `main` does first: JSON logs, then [`AwsStack::from_env`].
    pub async fn boot() -> Result<Self, ConfigError> {
        jarvis_core::telemetry::init();
        Self::from_env().await
    }

    /// From parts (tests build their own SDK configuration for an emulator).
    pub fn new(sdk: SdkConfig, settings: AwsSettings, config: Config) -> Self {
        Self {
            sdk,
            settings,
            config,
            usage: Arc::default(),
            metrics: metrics::Emf::stdout(),
            signed: Arc::default(),
        }
    }

    /// The client for Lambda, Step Functions, Textract, Rekognition,
    /// Transcribe, Comprehend and SESv2 ([`signed`]).
    pub fn signed_client(&self) -> signed::AwsClient {
        self.signed
            .get_or_init(|| signed::AwsClient::new(&self.sdk))
            .clone()
    }

    /// The AWS operations and settings the adapters built so far can reach: what
    /// the function's IAM role and environment must provide, no more, no less.
    pub fn usage(&self) -> Usage {
        self.usage.lock().expect("usage lock").clone()
    }

    fn uses(&self, service: &'static str, ops: &[&'static str], env: &[&'static str]) {
        let mut u = self.usage.lock().expect("usage lock");
        for op in ops {
            u.call(service, op, None);
        }
        u.env.extend(env);
    }

    /// Records that the adapters read `var` (Terraform must set it).
    fn reads(&self, var: &'static str) {
        self.usage.lock().expect("usage lock").env.insert(var);
    }

    /// A required setting, recorded as read.
    fn need<'a>(
        &self,
        value: &'a Option<String>,
        var: &'static str,
    ) -> Result<&'a str, ConfigError> {
        self.reads(var);
        AwsSettings::require(value, var)
    }

    pub fn raw_bucket(&self) -> Result<String, ConfigError> {
        self.need(&self.settings.raw_bucket, vars::RAW_BUCKET)
            .map(str::to_owned)
    }

    pub fn curated_bucket(&self) -> Result<String, ConfigError> {
        self.need(&self.settings.curated_bucket, vars::CURATED_BUCKET)
            .map(str::to_owned)
    }

    fn bucket_name(&self, bucket: Bucket) -> Result<String, ConfigError> {
        match bucket {
            Bucket::Raw => self.raw_bucket(),
            Bucket::Curated => self.curated_bucket(),
        }
    }

    /// S3 clients use path-style addressing when an endpoint override is set
    /// (an emulator on 127.0.0.1 has no per-bucket host names).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.settings.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An S3 store limited to `access` (the buckets' names must be set).
    pub fn blobs(&self, access: BlobAccess) -> Result<Arc<s3::S3BlobStore>, ConfigError> {
        let mut grants = BTreeSet::new();
        for (bucket, op) in access.0 {
            grants.insert((self.bucket_name(bucket)?, op));
            let calls: &[&str] = match op {
                BlobOp::Read => &["GetObject", "HeadObject"],
                BlobOp::Write => &["PutObject"],
                BlobOp::Delete => &["DeleteObject", "DeleteObjects", "ListObjectsV2"],
                BlobOp::Purge => &["ListObjectVersions", "DeleteObjectVersion"],
            };
            let mut u = self.usage.lock().expect("usage lock");
            for call in calls {
                u.call("s3", call, Some(bucket));
            }
        }
        Ok(Arc::new(s3::S3BlobStore::limited(self.s3_client(), grants)))
    }

    pub fn metadata(&self, rows: Rows) -> Result<Arc<dynamo::DynamoMetadataStore>, ConfigError> {
        let table = self.need(&self.settings.table, vars::TABLE)?;
        self.uses("dynamodb", rows.operations(), &[]);
        Ok(Arc::new(dynamo::DynamoMetadataStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            table,
            rows,
        )))
    }

    /// Tasks, reminders, drafts, conversations and memories in the same table.
    pub fn records(&self, rows: Rows) -> Result<Arc<records::DynamoRecordStore>, ConfigError> {
        let table = self.need(&self.settings.table, vars::TABLE)?;
        self.uses("dynamodb", rows.operations(), &[]);
        Ok(Arc::new(records::DynamoRecordStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            table,
            rows,
        )))
    }

    /// Records, plus listing which tenants have some (a Scan; nightly jobs only).
    pub fn records_across_tenants(
        &self,
        rows: Rows,
    ) -> Result<Arc<records::DynamoRecordStore>, ConfigError> {
        let store = self.records(rows)?;
        self.uses("dynamodb", &["Scan"], &[]);
        Ok(Arc::new(Arc::unwrap_or_clone(store).across_tenants()))
    }

    /// The tool functions, invoked on Lambda.
    pub fn tools(&self) -> Result<Arc<lambda::LambdaTools>, ConfigError> {
        let prefix = self.need(
            &self.settings.tool_function_prefix,
            vars::TOOL_FUNCTION_PREFIX,
        )?;
        self.uses("lambda", &["Invoke"], &[vars::FUNCTION_ALIAS]);
        Ok(Arc::new(lambda::LambdaTools::new(
            self.signed_client(),
            prefix,
            self.settings.function_alias.clone(),
        )))
    }

    /// The owner of files dropped into the raw bucket by hand, if this
    /// deployment has one (`JARVIS_OWNER_TENANT`; the error names a bad id).
    pub fn owner_tenant(&self) -> Result<Option<TenantId>, ConfigError> {
        self.reads(vars::OWNER_TENANT);
        self.settings
            .owner_tenant
            .as_deref()
            .map(|t| {
                TenantId::parse(t).map_err(|e| ConfigError {
                    var: vars::OWNER_TENANT,
                    value: t.to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Background jobs: the erase function, invoked asynchronously.
    pub fn jobs(&self) -> Result<Arc<lambda::LambdaJobs>, ConfigError> {
        let function = self.need(&self.settings.erase_function, vars::ERASE_FUNCTION)?;
        self.uses("lambda", &["InvokeJob"], &[vars::FUNCTION_ALIAS]);
        Ok(Arc::new(lambda::LambdaJobs::new(
            self.signed_client(),
            function,
            self.settings.function_alias.clone(),
        )))
    }

    /// WebSocket clients, through API Gateway's management API.
    pub fn connections(&self) -> Arc<connections::ApiGatewayConnections> {
        self.uses("execute-api", &["PostToConnection"], &[]);
        Arc::new(connections::ApiGatewayConnections::new(
            self.sdk.clone(),
            self.settings.endpoint_url.clone(),
        ))
    }

    /// The user pool's tokens (`JARVIS_AUTH_ISSUER`, `JARVIS_AUTH_AUDIENCE`).
    pub fn token_verifier(&self) -> Result<Arc<auth::TokenVerifier>, ConfigError> {
        let issuer = self.need(&self.settings.auth_issuer, vars::AUTH_ISSUER)?;
        let audience = self.need(&self.settings.auth_audience, vars::AUTH_AUDIENCE)?;
        let audiences = audience
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Arc::new(auth::TokenVerifier::new(issuer, audiences)))
    }

    /// The users' time zone (`JARVIS_TIME_ZONE`, checked when the config loaded).
    pub fn zone(&self) -> jarvis_core::when::Zone {
        self.reads(vars::TIME_ZONE);
        jarvis_core::when::zone(&self.config.time_zone).unwrap_or(jarvis_core::when::Zone::UTC)
    }

    pub fn ingest_queue(&self) -> Result<Arc<sqs::SqsQueue>, ConfigError> {
        let url = self.need(&self.settings.ingest_queue_url, vars::INGEST_QUEUE_URL)?;
        self.uses(
            "sqs",
            &["SendMessage", "ReceiveMessage", "DeleteMessage"],
            &[],
        );
        Ok(Arc::new(sqs::SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            url,
        )))
    }

    pub fn workflows(&self) -> Result<Arc<sfn::StepFunctions>, ConfigError> {
        let arn = self.need(&self.settings.state_machine_arn, vars::STATE_MACHINE_ARN)?;
        self.uses("states", &["StartExecution"], &[]);
        Ok(Arc::new(sfn::StepFunctions::new(self.signed_client(), arn)))
    }

    /// Stopping pipeline runs only (StopExecution): what erasure needs.
    pub fn workflow_stopper(&self) -> Result<Arc<sfn::StepFunctions>, ConfigError> {
        let arn = self.need(&self.settings.state_machine_arn, vars::STATE_MACHINE_ARN)?;
        self.uses("states", &["StopExecution"], &[]);
        Ok(Arc::new(sfn::StepFunctions::new(self.signed_client(), arn)))
    }

    pub fn index(&self) -> Result<Arc<opensearch::OpenSearchIndex>, ConfigError> {
        let endpoint = self.need(
            &self.settings.opensearch_endpoint,
            vars::OPENSEARCH_ENDPOINT,
        )?;
        self.uses(
            "opensearch",
            &["HTTP"],
            &[
                vars::OPENSEARCH_INDEX,
                vars::OPENSEARCH_SERVICE,
                vars::EMBED_DIMENSIONS,
            ],
        );
        opensearch::OpenSearchIndex::new(
            opensearch::OpenSearchSettings {
                endpoint: endpoint.to_owned(),
                index: self.settings.opensearch_index.clone(),
                service: self.settings.opensearch_service.clone(),
                dimensions: self.settings.embed_dimensions,
            },
            &self.sdk,
        )
        .map(Arc::new)
        .map_err(|reason| ConfigError {
            var: vars::OPENSEARCH_ENDPOINT,
            value: endpoint.to_owned(),
            reason,
        })
    }

    /// The embedder behind the query embedding cache, which lives as long as
    /// the warm Lambda environment.
    pub fn query_embedder(&self) -> Arc<jarvis_core::query_cache::QueryEmbeddingCache> {
        Arc::new(jarvis_core::query_cache::QueryEmbeddingCache::new(
            self.embedder(),
            jarvis_core::query_cache::DEFAULT_CAPACITY,
        ))
    }

    pub fn embedder(&self) -> Arc<bedrock::TitanEmbedder> {
        self.uses(
            "bedrock",
            &["InvokeModel"],
            &[vars::EMBED_MODEL_ID, vars::EMBED_DIMENSIONS],
        );
        Arc::new(bedrock::TitanEmbedder::new(
            aws_sdk_bedrockruntime::Client::new(&self.sdk),
            &self.settings.embed_model_id,
            self.settings.embed_dimensions,
            self.metrics.clone(),
        ))
    }

    pub fn chat_model(&self) -> Arc<bedrock::BedrockChat> {
        self.uses(
            "bedrock",
            &["Converse", "ConverseStream"],
            &[vars::CHAT_MODEL_ID],
        );
        Arc::new(bedrock::BedrockChat::new(
            aws_sdk_bedrockruntime::Client::new(&self.sdk),
            &self.settings.chat_model_id,
            self.metrics.clone(),
        ))
    }

    /// The Textract operations both vision adapters call.
    const TEXTRACT: [&'static str; 3] = [
        "DetectDocumentText",
        "StartDocumentTextDetection",
        "GetDocumentTextDetection",
    ];

    /// Text of scanned documents only (Textract; no Rekognition labels).
    pub fn document_ocr(&self) -> Arc<vision::AwsVision> {
        self.uses("textract", &Self::TEXTRACT, &[]);
        Arc::new(vision::AwsVision::text_only(self.signed_client()))
    }

    /// Text and labels of images (Textract and Rekognition).
    pub fn vision(&self) -> Arc<vision::AwsVision> {
        self.uses("textract", &Self::TEXTRACT, &[]);
        self.uses("rekognition", &["DetectLabels"], &[]);
        Arc::new(vision::AwsVision::new(self.signed_client()))
    }

    /// Transcribe writes its result to the curated bucket, where this reads it back.
    pub fn transcriber(&self) -> Result<Arc<transcribe::AwsTranscriber>, ConfigError> {
        self.uses(
            "transcribe",
            &["StartTranscriptionJob", "GetTranscriptionJob"],
            &[],
        );
        Ok(Arc::new(transcribe::AwsTranscriber::new(
            self.signed_client(),
            self.blobs(BlobAccess::new().read(Bucket::Curated))?,
            &self.curated_bucket()?,
        )))
    }

    /// The tenant's Transcribe jobs, for deleting them (erasure).
    pub fn transcription_jobs(&self) -> Arc<transcribe::AwsTranscriptionJobs> {
        self.uses(
            "transcribe",
            &["ListTranscriptionJobs", "DeleteTranscriptionJob"],
            &[],
        );
        Arc::new(transcribe::AwsTranscriptionJobs::new(self.signed_client()))
    }

    /// PII, plus language, entities and key phrases when `JARVIS_TEXT_INSIGHTS` is on.
    pub fn pii(&self) -> Arc<comprehend::ComprehendPii> {
        self.uses("comprehend", &["DetectPiiEntities"], &[]);
        if self.config.text_insights {
            self.uses(
                "comprehend",
                &[
                    "DetectDominantLanguage",
                    "DetectEntities",
                    "DetectKeyPhrases",
                ],
                &[],
            );
        }
        Arc::new(comprehend::ComprehendPii::new(self.signed_client()))
    }

    pub fn notifier(&self) -> Result<Arc<sns::SnsNotifier>, ConfigError> {
        let topic = self.need(&self.settings.reminder_topic_arn, vars::REMINDER_TOPIC_ARN)?;
        self.uses("sns", &["Publish"], &[]);
        Ok(Arc::new(sns::SnsNotifier::new(
            aws_sdk_sns::Client::new(&self.sdk),
            topic,
        )))
    }

    /// Tenant-filtered subscriptions to the reminder topic (api-me's `/me/notifications`).
    /// The reminder topic's subscriptions, for ending them only (erasure): the
    /// role grants `sns:Unsubscribe` and nothing else on the topic.
    pub fn notification_unsubscriber(&self) -> Result<Arc<sns::SnsSubscriptions>, ConfigError> {
        let topic = self.need(&self.settings.reminder_topic_arn, vars::REMINDER_TOPIC_ARN)?;
        self.uses("sns", &["Unsubscribe"], &[]);
        Ok(Arc::new(sns::SnsSubscriptions::new(
            aws_sdk_sns::Client::new(&self.sdk),
            topic,
        )))
    }

    pub fn notification_targets(&self) -> Result<Arc<sns::SnsSubscriptions>, ConfigError> {
        let topic = self.need(&self.settings.reminder_topic_arn, vars::REMINDER_TOPIC_ARN)?;
        self.uses("sns", &["Subscribe", "Unsubscribe"], &[]);
        Ok(Arc::new(sns::SnsSubscriptions::new(
            aws_sdk_sns::Client::new(&self.sdk),
            topic,
        )))
    }

    pub fn mailer(&self) -> Result<Arc<ses::SesMailer>, ConfigError> {
        let from = self.need(&self.settings.mail_from, vars::MAIL_FROM)?;
        self.uses("ses", &["SendEmail"], &[]);
        Ok(Arc::new(ses::SesMailer::new(self.signed_client(), from)))
    }

    /// Cancelling schedules only (DeleteSchedule in the group): what erasure needs.
    pub fn schedule_canceller(&self) -> Arc<scheduler::EventBridgeScheduler> {
        self.uses("scheduler", &["DeleteSchedule"], &[vars::SCHEDULE_GROUP]);
        Arc::new(scheduler::EventBridgeScheduler::cancel_only(
            aws_sdk_scheduler::Client::new(&self.sdk),
            &self.settings.schedule_group,
        ))
    }

    pub fn scheduler(&self) -> Result<Arc<scheduler::EventBridgeScheduler>, ConfigError> {
        let target = self.need(
            &self.settings.reminder_target_arn,
            vars::REMINDER_TARGET_ARN,
        )?;
        let role = self.need(&self.settings.scheduler_role_arn, vars::SCHEDULER_ROLE_ARN)?;
        let dlq = self.need(&self.settings.reminder_dlq_arn, vars::REMINDER_DLQ_ARN)?;
        self.uses(
            "scheduler",
            &[
                "CreateSchedule",
                "UpdateSchedule",
                "GetSchedule",
                "DeleteSchedule",
                "ListSchedules",
            ],
            &[vars::SCHEDULE_GROUP],
        );
        Ok(Arc::new(scheduler::EventBridgeScheduler::new(
            aws_sdk_scheduler::Client::new(&self.sdk),
            scheduler::Target {
                group: self.settings.schedule_group.clone(),
                function_arn: target.to_owned(),
                role_arn: role.to_owned(),
                dead_letter_arn: dlq.to_owned(),
            },
        )))
    }
}
