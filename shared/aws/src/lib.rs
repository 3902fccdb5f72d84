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
//!
//! [`AwsStack`] builds them from typed settings ([`jarvis_core::config::AwsSettings`]);
//! a function's `main.rs` asks it only for the adapters that function uses.
//! Every SDK call retries throttling and transient faults with exponential backoff
//! (the SDK's standard retry mode, `JARVIS_AWS_MAX_ATTEMPTS` attempts); what is left
//! is mapped by [`error`] to a `PortError` with the service, operation and AWS code.

pub mod bedrock;
pub mod comprehend;
pub mod dynamo;
pub mod error;
pub mod opensearch;
pub mod s3;
pub mod scheduler;
pub mod ses;
pub mod sfn;
pub mod sns;
pub mod sqs;
pub mod transcribe;
pub mod vision;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use jarvis_core::config::{vars, AwsSettings, Config, ConfigError};
use std::sync::Arc;
use std::time::Duration;

/// The shared SDK configuration plus where Jarvis's resources are.
#[derive(Clone)]
pub struct AwsStack {
    pub sdk: SdkConfig,
    pub settings: AwsSettings,
    pub config: Config,
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
        Ok(Self {
            sdk,
            settings,
            config,
        })
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
        }
    }

    pub fn raw_bucket(&self) -> Result<String, ConfigError> {
        AwsSettings::require(&self.settings.raw_bucket, vars::RAW_BUCKET).map(str::to_owned)
    }

    pub fn curated_bucket(&self) -> Result<String, ConfigError> {
        AwsSettings::require(&self.settings.curated_bucket, vars::CURATED_BUCKET).map(str::to_owned)
    }

    /// S3 clients use path-style addressing when an endpoint override is set
    /// (an emulator on 127.0.0.1 has no per-bucket host names).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.settings.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn blobs(&self) -> Arc<s3::S3BlobStore> {
        Arc::new(s3::S3BlobStore::new(self.s3_client()))
    }

    pub fn metadata(&self) -> Result<Arc<dynamo::DynamoMetadataStore>, ConfigError> {
        let table = AwsSettings::require(&self.settings.table, vars::TABLE)?;
        Ok(Arc::new(dynamo::DynamoMetadataStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            table,
        )))
    }

    pub fn ingest_queue(&self) -> Result<Arc<sqs::SqsQueue>, ConfigError> {
        let url = AwsSettings::require(&self.settings.ingest_queue_url, vars::INGEST_QUEUE_URL)?;
        Ok(Arc::new(sqs::SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            url,
        )))
    }

    pub fn workflows(&self) -> Result<Arc<sfn::StepFunctions>, ConfigError> {
        let arn = AwsSettings::require(&self.settings.state_machine_arn, vars::STATE_MACHINE_ARN)?;
        Ok(Arc::new(sfn::StepFunctions::new(
            aws_sdk_sfn::Client::new(&self.sdk),
            arn,
        )))
    }

    pub fn index(&self) -> Result<Arc<opensearch::OpenSearchIndex>, ConfigError> {
        let endpoint = AwsSettings::require(
            &self.settings.opensearch_endpoint,
            vars::OPENSEARCH_ENDPOINT,
        )?;
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

    pub fn embedder(&self) -> Arc<bedrock::TitanEmbedder> {
        Arc::new(bedrock::TitanEmbedder::new(
            aws_sdk_bedrockruntime::Client::new(&self.sdk),
            &self.settings.embed_model_id,
            self.settings.embed_dimensions,
        ))
    }

    pub fn chat_model(&self) -> Arc<bedrock::BedrockChat> {
        Arc::new(bedrock::BedrockChat::new(
            aws_sdk_bedrockruntime::Client::new(&self.sdk),
            &self.settings.chat_model_id,
        ))
    }

    pub fn vision(&self) -> Arc<vision::AwsVision> {
        Arc::new(vision::AwsVision::new(
            aws_sdk_textract::Client::new(&self.sdk),
            aws_sdk_rekognition::Client::new(&self.sdk),
        ))
    }

    pub fn transcriber(&self) -> Result<Arc<transcribe::AwsTranscriber>, ConfigError> {
        Ok(Arc::new(transcribe::AwsTranscriber::new(
            aws_sdk_transcribe::Client::new(&self.sdk),
            self.blobs(),
            &self.curated_bucket()?,
        )))
    }

    pub fn pii(&self) -> Arc<comprehend::ComprehendPii> {
        Arc::new(comprehend::ComprehendPii::new(
            aws_sdk_comprehend::Client::new(&self.sdk),
        ))
    }

    pub fn notifier(&self) -> Result<Arc<sns::SnsNotifier>, ConfigError> {
        let topic =
            AwsSettings::require(&self.settings.reminder_topic_arn, vars::REMINDER_TOPIC_ARN)?;
        Ok(Arc::new(sns::SnsNotifier::new(
            aws_sdk_sns::Client::new(&self.sdk),
            topic,
        )))
    }

    pub fn mailer(&self) -> Result<Arc<ses::SesMailer>, ConfigError> {
        let from = AwsSettings::require(&self.settings.mail_from, vars::MAIL_FROM)?;
        Ok(Arc::new(ses::SesMailer::new(
            aws_sdk_sesv2::Client::new(&self.sdk),
            from,
        )))
    }

    pub fn scheduler(&self) -> Result<Arc<scheduler::EventBridgeScheduler>, ConfigError> {
        let target = AwsSettings::require(
            &self.settings.reminder_target_arn,
            vars::REMINDER_TARGET_ARN,
        )?;
        let role =
            AwsSettings::require(&self.settings.scheduler_role_arn, vars::SCHEDULER_ROLE_ARN)?;
        Ok(Arc::new(scheduler::EventBridgeScheduler::new(
            aws_sdk_scheduler::Client::new(&self.sdk),
            scheduler::Target {
                group: self.settings.schedule_group.clone(),
                function_arn: target.to_owned(),
                role_arn: role.to_owned(),
            },
        )))
    }
}
