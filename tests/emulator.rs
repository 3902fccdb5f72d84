//! The AWS emulator for tests. `make test` starts one moto server for the whole
//! run (`scripts/emulator.py -- …`) and passes its endpoint in
//! `JARVIS_TEST_AWS_ENDPOINT`; without it, the first test in a process starts a
//! private one that stops when the process exits (its stdin closes).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use jarvis_aws::{signed, AwsStack};
use jarvis_core::config::{AwsSettings, Config};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const ENDPOINT_VAR: &str = "JARVIS_TEST_AWS_ENDPOINT";
pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

static PRIVATE: OnceLock<(String, Mutex<Child>)> = OnceLock::new();

/// The emulator's endpoint, starting a private emulator if the run has none.
pub fn endpoint() -> String {
    if let Ok(e) = std::env::var(ENDPOINT_VAR) {
        if !e.is_empty() {
            return e;
        }
    }
    PRIVATE
        .get_or_init(|| {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/emulator.py");
            let mut child = Command::new("python3")
                .arg(script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 runs scripts/emulator.py");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("piped"))
                .read_line(&mut line)
                .expect("the emulator prints its endpoint");
            assert!(
                line.starts_with("http://"),
                "the AWS emulator did not start (pip install 'moto[server]'): {line:?}"
            );
            (line.trim().to_owned(), Mutex::new(child))
        })
        .0
        .clone()
}

/// SDK configuration for `endpoint`: fixed test credentials, short backoff.
pub async fn sdk_config_for(endpoint: &str, max_attempts: u32) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(jarvis_aws::https_client())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .retry_config(jarvis_aws::retry_config(
            max_attempts,
            Duration::from_millis(20),
        ))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

/// A short random suffix, so tests sharing one emulator never share a resource.
pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).expect("entropy");
    format!("{prefix}-{}", hex::encode(b))
}

/// A stack's resources in the emulator: buckets, table, queue, state machine, topic.
#[derive(Debug, Clone)]
pub struct Resources {
    pub raw_bucket: String,
    pub curated_bucket: String,
    pub table: String,
    pub queue_url: String,
    pub state_machine_arn: String,
    pub topic_arn: String,
    pub schedule_group: String,
}

/// Creates a fresh set of resources, shaped as Terraform makes them.
pub async fn create_resources(sdk: &SdkConfig) -> Resources {
    let id = unique("j");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let (raw, curated) = (format!("{id}-raw"), format!("{id}-curated"));
    for b in [&raw, &curated] {
        s3.create_bucket().bucket(b).send().await.expect("bucket");
        // Versioned, as Terraform makes them: a plain delete leaves the old
        // versions behind a delete marker.
        s3.put_bucket_versioning()
            .bucket(b)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("versioning");
    }
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let table = format!("{id}-table");
    create_table(&ddb, &table).await;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{id}-ingest"))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let definition = r#"{"StartAt":"Route","States":{"Route":{"Type":"Pass","End":true}}}"#;
    let machine = call(
        sdk,
        &signed::STEP_FUNCTIONS,
        "CreateStateMachine",
        serde_json::json!({
            "name": format!("{id}-pipeline"),
            "definition": definition,
            "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{id}-sfn"),
        }),
    )
    .await;
    let state_machine_arn = machine["stateMachineArn"]
        .as_str()
        .expect("state machine")
        .to_owned();
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic_arn = sns
        .create_topic()
        .name(format!("{id}-reminders"))
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("arn");
    let scheduler = aws_sdk_scheduler::Client::new(sdk);
    let schedule_group = format!("{id}-reminders");
    scheduler
        .create_schedule_group()
        .name(&schedule_group)
        .send()
        .await
        .expect("schedule group");
    Resources {
        raw_bucket: raw,
        curated_bucket: curated,
        table,
        queue_url,
        state_machine_arn,
        topic_arn,
        schedule_group,
    }
}

/// One JSON-protocol operation on the emulator, through the adapters' own
/// signed client (tests read Step Functions runs and Transcribe jobs with it).
pub async fn call(
    sdk: &SdkConfig,
    service: &signed::Service,
    op: &str,
    input: serde_json::Value,
) -> serde_json::Value {
    signed::AwsClient::new(sdk)
        .call(service, op, &input)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message))
}

/// One REST operation with a JSON body on the emulator (tests create SES
/// identities with it).
pub async fn rest(
    sdk: &SdkConfig,
    service: &signed::Service,
    op: &str,
    path: &str,
    input: serde_json::Value,
) -> serde_json::Value {
    signed::AwsClient::new(sdk)
        .rest_json(service, op, "POST", path, &input)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message))
}

/// The table as Terraform declares it: `pk`/`sk`, GSI `gsi1` on `gsi1pk`/`gsi1sk`.
pub async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![
            attr("pk"),
            attr("sk"),
            attr("gsi1pk"),
            attr("gsi1sk"),
        ]))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(jarvis_aws::dynamo::GSI_ETAG)
                .key_schema(key("gsi1pk", KeyType::Hash))
                .key_schema(key("gsi1sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("table");
}

/// An `AwsStack` over the emulator's resources, as a function's `main` would build it.
pub fn stack(sdk: SdkConfig, r: &Resources, endpoint: &str) -> AwsStack {
    let settings = AwsSettings {
        raw_bucket: Some(r.raw_bucket.clone()),
        curated_bucket: Some(r.curated_bucket.clone()),
        table: Some(r.table.clone()),
        ingest_queue_url: Some(r.queue_url.clone()),
        state_machine_arn: Some(r.state_machine_arn.clone()),
        reminder_topic_arn: Some(r.topic_arn.clone()),
        schedule_group: r.schedule_group.clone(),
        scheduler_role_arn: Some(format!("arn:aws:iam::{ACCOUNT}:role/jarvis-scheduler")),
        reminder_target_arn: Some(format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:reminder-fire"
        )),
        reminder_dlq_arn: Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:reminders-dlq")),
        mail_from: Some("jarvis@example.com".into()),
        endpoint_url: Some(endpoint.to_owned()),
        ..AwsSettings::from_lookup(|_| None).expect("defaults")
    };
    let config = Config::from_lookup(|_| None).expect("defaults");
    AwsStack::new(sdk, settings, config)
}

/// Everything a test needs: the emulator, fresh resources and a stack over them.
pub async fn fresh_stack() -> (AwsStack, Resources) {
    let endpoint = endpoint();
    let sdk = sdk_config_for(&endpoint, 3).await;
    let resources = create_resources(&sdk).await;
    (stack(sdk, &resources, &endpoint), resources)
}

/// An S3 store with no access limits, for tests that set up or inspect buckets
/// (a function's own store allows only what its `Deps::aws` declares).
pub fn any_blobs(stack: &AwsStack) -> std::sync::Arc<jarvis_aws::s3::S3BlobStore> {
    std::sync::Arc::new(jarvis_aws::s3::S3BlobStore::new(stack.s3_client()))
}
