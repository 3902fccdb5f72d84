//! What a function's code calls on AWS, and the IAM actions that allows — the one
//! place that maps SDK operations to IAM actions.
//!
//! Every adapter call site names its operation (`sdk_error(SERVICE, "GetObject", e)`);
//! [`OPERATIONS`] says which IAM actions, on which resource, each one needs —
//! including what the call needs besides its own action (S3 `ListBucket` so a
//! missing key reads as 404 rather than 403, KMS for encrypted objects, queues and
//! topics, `iam:PassRole` for a schedule's role, the raw-object read Textract and
//! Transcribe do with the caller's credentials).
//!
//! [`crate::AwsStack`] records, as a function's `Deps::aws` builds adapters, which
//! operations and settings that function can reach ([`Usage`]). The Terraform
//! consistency test compares that with each function's role and environment, so
//! a role that grants more or less than the code calls fails `make test`.

use std::collections::BTreeSet;

/// A resource an action is granted on; Terraform names each one as a local
/// (`local.<name>` in `terraform/modules/functions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// Objects in the raw bucket (`arn:aws:s3:::raw/*`).
    RawObjects,
    /// The raw bucket itself (listing).
    RawBucket,
    CuratedObjects,
    CuratedBucket,
    /// The metadata table and its indexes.
    Table,
    IngestQueue,
    StateMachine,
    /// The state machine's executions (`…:execution:<machine>:*`).
    Executions,
    /// The OpenSearch Serverless collection.
    Collection,
    /// The Bedrock foundation models Jarvis is configured with.
    Models,
    ReminderTopic,
    /// Schedules in Jarvis's schedule group.
    Schedules,
    /// The role EventBridge Scheduler assumes to invoke `reminder-fire`.
    SchedulerRole,
    /// The stack's KMS key.
    Key,
    /// Transcription jobs in the account and region.
    TranscriptionJobs,
    /// The SES identity mail is sent from.
    MailIdentity,
    /// The tool functions api-chat invokes.
    ToolFunctions,
    /// The job functions started asynchronously (`erase-tenant`).
    JobFunctions,
    /// The reminder schedules' dead-letter queue (reminder-fire drains it).
    ReminderDlq,
    /// Connections of the WebSocket API (`POST @connections/*`).
    Connections,
    /// Actions that have no resource-level permissions (`"*"`).
    Any,
}

impl Resource {
    /// The Terraform local naming this resource in the functions module.
    pub fn terraform_local(self) -> &'static str {
        match self {
            Self::RawObjects => "raw_objects",
            Self::RawBucket => "raw_bucket",
            Self::CuratedObjects => "curated_objects",
            Self::CuratedBucket => "curated_bucket",
            Self::Table => "table",
            Self::IngestQueue => "ingest_queue",
            Self::StateMachine => "state_machine",
            Self::Executions => "executions",
            Self::Collection => "collection",
            Self::Models => "models",
            Self::ReminderTopic => "reminder_topic",
            Self::Schedules => "schedules",
            Self::SchedulerRole => "scheduler_role",
            Self::Key => "kms_key",
            Self::TranscriptionJobs => "transcription_jobs",
            Self::MailIdentity => "mail_identity",
            Self::ToolFunctions => "tool_functions",
            Self::JobFunctions => "job_functions",
            Self::ReminderDlq => "reminder_dlq",
            Self::Connections => "connections",
            Self::Any => "any",
        }
    }

    pub const ALL: [Resource; 21] = [
        Self::RawObjects,
        Self::RawBucket,
        Self::CuratedObjects,
        Self::CuratedBucket,
        Self::Table,
        Self::IngestQueue,
        Self::StateMachine,
        Self::Executions,
        Self::Collection,
        Self::Models,
        Self::ReminderTopic,
        Self::Schedules,
        Self::SchedulerRole,
        Self::Key,
        Self::TranscriptionJobs,
        Self::MailIdentity,
        Self::ToolFunctions,
        Self::JobFunctions,
        Self::ReminderDlq,
        Self::Connections,
        Self::Any,
    ];
}

/// Which bucket an S3 operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    Raw,
    Curated,
}

impl Bucket {
    fn objects(self) -> Resource {
        match self {
            Self::Raw => Resource::RawObjects,
            Self::Curated => Resource::CuratedObjects,
        }
    }
    fn bucket(self) -> Resource {
        match self {
            Self::Raw => Resource::RawBucket,
            Self::Curated => Resource::CuratedBucket,
        }
    }
}

/// One IAM action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub action: &'static str,
    pub resource: Resource,
}

/// Where an operation's S3 grants point: at the bucket the caller names, or
/// at a fixed one (Textract and Transcribe read the source from the raw bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Fixed(Resource),
    Objects,
    BucketItself,
}

/// An SDK operation and what it needs.
pub struct Operation {
    /// The service name the adapter gives `sdk_error` (`"s3"`, `"dynamodb"`, …).
    pub service: &'static str,
    /// The operation name as the adapter gives it (`"GetObject"`).
    pub name: &'static str,
    needs: &'static [(&'static str, On)],
}

use On::{BucketItself, Fixed, Objects};
use Resource as R;

const S3_READ_KEY: (&str, On) = ("kms:Decrypt", Fixed(R::Key));
const KMS_WRITE: [(&str, On); 2] = [
    ("kms:GenerateDataKey", Fixed(R::Key)),
    ("kms:Decrypt", Fixed(R::Key)),
];

const MARKETPLACE: [(&str, On); 3] = [
    ("aws-marketplace:Subscribe", Fixed(R::Any)),
    ("aws-marketplace:Unsubscribe", Fixed(R::Any)),
    ("aws-marketplace:ViewSubscriptions", Fixed(R::Any)),
];

/// Every SDK (and OpenSearch HTTP) operation an adapter calls.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    // S3: reading a key that is gone answers 403 unless ListBucket is granted.
    op("s3", "GetObject", &[("s3:GetObject", Objects), ("s3:ListBucket", BucketItself), S3_READ_KEY]),
    op("s3", "HeadObject", &[("s3:GetObject", Objects), ("s3:ListBucket", BucketItself), S3_READ_KEY]),
    op("s3", "PutObject", &[("s3:PutObject", Objects), KMS_WRITE[0], KMS_WRITE[1]]),
    op("s3", "DeleteObject", &[("s3:DeleteObject", Objects)]),
    op("s3", "DeleteObjects", &[("s3:DeleteObject", Objects)]),
    op("s3", "ListObjectsV2", &[("s3:ListBucket", BucketItself)]),
    op("s3", "ListObjectVersions", &[("s3:ListBucketVersions", BucketItself)]),
    // DeleteObjects naming version ids: each needs s3:DeleteObjectVersion.
    op("s3", "DeleteObjectVersion", &[("s3:DeleteObjectVersion", Objects)]),
    op("dynamodb", "GetItem", &[("dynamodb:GetItem", Fixed(R::Table))]),
    op("dynamodb", "Query", &[("dynamodb:Query", Fixed(R::Table))]),
    op("dynamodb", "PutItem", &[("dynamodb:PutItem", Fixed(R::Table))]),
    op("dynamodb", "DeleteItem", &[("dynamodb:DeleteItem", Fixed(R::Table))]),
    op("dynamodb", "Scan", &[("dynamodb:Scan", Fixed(R::Table))]),
    op("sqs", "SendMessage", &[("sqs:SendMessage", Fixed(R::IngestQueue)), KMS_WRITE[0], KMS_WRITE[1]]),
    op("sqs", "ReceiveMessage", &[("sqs:ReceiveMessage", Fixed(R::IngestQueue)), S3_READ_KEY]),
    op("sqs", "DeleteMessage", &[("sqs:DeleteMessage", Fixed(R::IngestQueue))]),
    op("states", "StartExecution", &[("states:StartExecution", Fixed(R::StateMachine))]),
    op("states", "StopExecution", &[("states:StopExecution", Fixed(R::Executions))]),
    op("sns", "Publish", &[("sns:Publish", Fixed(R::ReminderTopic)), KMS_WRITE[0], KMS_WRITE[1]]),
    op("sns", "Subscribe", &[("sns:Subscribe", Fixed(R::ReminderTopic))]),
    op("sns", "Unsubscribe", &[("sns:Unsubscribe", Fixed(R::ReminderTopic))]),
    op("ses", "SendEmail", &[("ses:SendEmail", Fixed(R::MailIdentity))]),
    op("scheduler", "CreateSchedule", &[("scheduler:CreateSchedule", Fixed(R::Schedules)), ("iam:PassRole", Fixed(R::SchedulerRole))]),
    op("scheduler", "UpdateSchedule", &[("scheduler:UpdateSchedule", Fixed(R::Schedules)), ("iam:PassRole", Fixed(R::SchedulerRole))]),
    op("scheduler", "GetSchedule", &[("scheduler:GetSchedule", Fixed(R::Schedules))]),
    op("scheduler", "DeleteSchedule", &[("scheduler:DeleteSchedule", Fixed(R::Schedules))]),
    op("scheduler", "ListSchedules", &[("scheduler:ListSchedules", Fixed(R::Any))]),
    // Textract and Rekognition read the object with the caller's credentials.
    op("textract", "DetectDocumentText", &[("textract:DetectDocumentText", Fixed(R::Any)), ("s3:GetObject", Fixed(R::RawObjects)), S3_READ_KEY]),
    op("textract", "StartDocumentTextDetection", &[("textract:StartDocumentTextDetection", Fixed(R::Any)), ("s3:GetObject", Fixed(R::RawObjects)), S3_READ_KEY]),
    op("textract", "GetDocumentTextDetection", &[("textract:GetDocumentTextDetection", Fixed(R::Any))]),
    op("rekognition", "DetectLabels", &[("rekognition:DetectLabels", Fixed(R::Any)), ("s3:GetObject", Fixed(R::RawObjects)), S3_READ_KEY]),
    // Transcribe reads the media and writes its result JSON as the caller.
    op("transcribe", "StartTranscriptionJob", &[
        ("transcribe:StartTranscriptionJob", Fixed(R::TranscriptionJobs)),
        ("s3:GetObject", Fixed(R::RawObjects)),
        ("s3:PutObject", Fixed(R::CuratedObjects)),
        KMS_WRITE[0],
        KMS_WRITE[1],
    ]),
    op("transcribe", "GetTranscriptionJob", &[("transcribe:GetTranscriptionJob", Fixed(R::TranscriptionJobs))]),
    op("transcribe", "ListTranscriptionJobs", &[("transcribe:ListTranscriptionJobs", Fixed(R::Any))]),
    op("transcribe", "DeleteTranscriptionJob", &[("transcribe:DeleteTranscriptionJob", Fixed(R::TranscriptionJobs))]),
    op("comprehend", "DetectPiiEntities", &[("comprehend:DetectPiiEntities", Fixed(R::Any))]),
    op("comprehend", "DetectDominantLanguage", &[("comprehend:DetectDominantLanguage", Fixed(R::Any))]),
    op("comprehend", "DetectEntities", &[("comprehend:DetectEntities", Fixed(R::Any))]),
    op("comprehend", "DetectKeyPhrases", &[("comprehend:DetectKeyPhrases", Fixed(R::Any))]),
    op("bedrock", "InvokeModel", &[("bedrock:InvokeModel", Fixed(R::Models))]),
    // The chat model is a third-party (Anthropic) model: the account's first
    // call to it starts its AWS Marketplace subscription as the caller, which
    // takes these three (Bedrock user guide, "Request access to models").
    // Marketplace actions have no resource-level permissions.
    op("bedrock", "Converse", &[("bedrock:InvokeModel", Fixed(R::Models)), MARKETPLACE[0], MARKETPLACE[1], MARKETPLACE[2]]),
    op("bedrock", "ConverseStream", &[("bedrock:InvokeModelWithResponseStream", Fixed(R::Models)), MARKETPLACE[0], MARKETPLACE[1], MARKETPLACE[2]]),
    op("lambda", "Invoke", &[("lambda:InvokeFunction", Fixed(R::ToolFunctions))]),
    op("lambda", "InvokeJob", &[("lambda:InvokeFunction", Fixed(R::JobFunctions))]),
    op("execute-api", "PostToConnection", &[("execute-api:ManageConnections", Fixed(R::Connections))]),
    // Every OpenSearch Serverless data-plane request (index template, bulk, search).
    op("opensearch", "HTTP", &[("aoss:APIAccessAll", Fixed(R::Collection))]),
];

const fn op(
    service: &'static str,
    name: &'static str,
    needs: &'static [(&'static str, On)],
) -> Operation {
    Operation {
        service,
        name,
        needs,
    }
}

impl Operation {
    /// Every IAM action the operation needs, in the table's order.
    pub fn actions(&self) -> Vec<&'static str> {
        self.needs.iter().map(|&(action, _)| action).collect()
    }
}

/// The operation named `service`/`name`; `None` when the table lacks it.
pub fn operation(service: &str, name: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|o| o.service == service && o.name == name)
}

/// Granted to every function whatever its code: its own log stream and X-Ray.
pub const BASELINE: &[&str] = &[
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

/// What Lambda itself needs to poll an SQS event source for a function.
pub const SQS_EVENT_SOURCE: &[Grant] = &[
    Grant {
        action: "sqs:ReceiveMessage",
        resource: R::IngestQueue,
    },
    Grant {
        action: "sqs:DeleteMessage",
        resource: R::IngestQueue,
    },
    Grant {
        action: "sqs:GetQueueAttributes",
        resource: R::IngestQueue,
    },
    Grant {
        action: "kms:Decrypt",
        resource: R::Key,
    },
];

/// What Lambda needs to poll the reminder schedules' dead-letter queue for
/// reminder-fire (deliveries Scheduler gave up on, fired late).
pub const REMINDER_DLQ_EVENT_SOURCE: &[Grant] = &[
    Grant {
        action: "sqs:ReceiveMessage",
        resource: R::ReminderDlq,
    },
    Grant {
        action: "sqs:DeleteMessage",
        resource: R::ReminderDlq,
    },
    Grant {
        action: "sqs:GetQueueAttributes",
        resource: R::ReminderDlq,
    },
    Grant {
        action: "kms:Decrypt",
        resource: R::Key,
    },
];

/// What a function's adapters can call, and which settings they read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// (service, operation, the bucket for S3 calls).
    pub calls: BTreeSet<(&'static str, &'static str, Option<Bucket>)>,
    /// Environment variables the adapters read (required or tuning the service).
    pub env: BTreeSet<&'static str>,
}

impl Usage {
    pub fn call(&mut self, service: &'static str, name: &'static str, bucket: Option<Bucket>) {
        self.calls.insert((service, name, bucket));
    }

    /// The IAM grants these calls need, via [`OPERATIONS`].
    ///
    /// # Panics
    /// When a call is missing from [`OPERATIONS`] (a unit test keeps the table complete).
    pub fn grants(&self) -> BTreeSet<Grant> {
        let mut out = BTreeSet::new();
        for &(service, name, bucket) in &self.calls {
            let op = operation(service, name)
                .unwrap_or_else(|| panic!("{service}:{name} is missing from iam::OPERATIONS"));
            for &(action, on) in op.needs {
                let resource = match (on, bucket) {
                    (Fixed(r), _) => r,
                    (Objects, Some(b)) => b.objects(),
                    (BucketItself, Some(b)) => b.bucket(),
                    (_, None) => panic!("{service}:{name} needs a bucket"),
                };
                out.insert(Grant { action, resource });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every adapter source file, to find the operations it calls.
    const SOURCES: &[(&str, &str)] = &[
        ("auth.rs", include_str!("auth.rs")),
        ("bedrock.rs", include_str!("bedrock.rs")),
        ("comprehend.rs", include_str!("comprehend.rs")),
        ("connections.rs", include_str!("connections.rs")),
        ("dynamo.rs", include_str!("dynamo.rs")),
        ("lambda.rs", include_str!("lambda.rs")),
        ("metrics.rs", include_str!("metrics.rs")),
        ("opensearch.rs", include_str!("opensearch.rs")),
        ("push.rs", include_str!("push.rs")),
        ("records.rs", include_str!("records.rs")),
        ("s3.rs", include_str!("s3.rs")),
        ("scheduler.rs", include_str!("scheduler.rs")),
        ("ses.rs", include_str!("ses.rs")),
        ("sfn.rs", include_str!("sfn.rs")),
        ("sns.rs", include_str!("sns.rs")),
        ("sqs.rs", include_str!("sqs.rs")),
        ("transcribe.rs", include_str!("transcribe.rs")),
        ("vision.rs", include_str!("vision.rs")),
    ];

    /// `(service, operation)` for each `sdk_error(<service>, "<Operation>` in
    /// `src`, and each signed call `&<SERVICE>, "<Operation>"` (the service
    /// constants of [`crate::signed`] always sit right before the operation).
    fn called(src: &str) -> Vec<(String, String)> {
        let mut found = sdk_called(src);
        let signed = [
            ("STEP_FUNCTIONS", &crate::signed::STEP_FUNCTIONS),
            ("TEXTRACT", &crate::signed::TEXTRACT),
            ("REKOGNITION", &crate::signed::REKOGNITION),
            ("TRANSCRIBE", &crate::signed::TRANSCRIBE),
            ("COMPREHEND", &crate::signed::COMPREHEND),
            ("LAMBDA", &crate::signed::LAMBDA),
            ("SES", &crate::signed::SES),
        ];
        for (name, service) in signed {
            let marker = format!("&{name},");
            for (i, _) in src.match_indices(&marker) {
                let rest = src[i + marker.len()..].trim_start();
                if let Some(op) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
                    found.push((service.signing_name.to_owned(), op.to_owned()));
                }
            }
        }
        found
    }

    fn sdk_called(src: &str) -> Vec<(String, String)> {
        let service = src
            .lines()
            .find_map(|l| l.trim().strip_prefix("const SERVICE: &str = \""))
            .map(|s| s.trim_end_matches("\";").to_owned());
        src.match_indices("sdk_error(")
            .filter_map(|(i, _)| {
                let args = &src[i + "sdk_error(".len()..];
                let (first, rest) = args.split_once(',')?;
                let svc = match first.trim() {
                    "SERVICE" => service.clone()?,
                    lit => lit.trim_matches('"').to_owned(),
                };
                let name = rest.trim_start().strip_prefix('"')?.split('"').next()?;
                // "PutObject (presign)" signs a PutObject the client sends later.
                let name = name.split(" (").next()?.to_owned();
                Some((svc, name))
            })
            .collect()
    }

    #[test]
    fn every_operation_an_adapter_calls_has_its_iam_actions() {
        let mut seen = BTreeSet::new();
        for (file, src) in SOURCES {
            for (svc, name) in called(src) {
                assert!(
                    operation(&svc, &name).is_some(),
                    "{file} calls {svc}:{name}, which iam::OPERATIONS does not map to IAM actions"
                );
                seen.insert((svc, name));
            }
        }
        // OpenSearch goes over signed HTTP, not sdk_error.
        seen.insert(("opensearch".into(), "HTTP".into()));
        for o in OPERATIONS {
            assert!(
                seen.contains(&(o.service.to_owned(), o.name.to_owned())),
                "iam::OPERATIONS maps {}:{}, which no adapter calls",
                o.service,
                o.name
            );
        }
        let files: BTreeSet<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| !["lib.rs", "error.rs", "iam.rs", "signed.rs"].contains(&f.as_str()))
                .collect();
        let listed: BTreeSet<String> = SOURCES.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(files, listed, "an adapter file is missing from SOURCES");
    }

    #[test]
    fn s3_grants_follow_the_bucket() {
        let mut u = Usage::default();
        u.call("s3", "GetObject", Some(Bucket::Raw));
        u.call("s3", "PutObject", Some(Bucket::Curated));
        let g = u.grants();
        assert!(g.contains(&Grant {
            action: "s3:GetObject",
            resource: R::RawObjects
        }));
        assert!(g.contains(&Grant {
            action: "s3:ListBucket",
            resource: R::RawBucket
        }));
        assert!(g.contains(&Grant {
            action: "s3:PutObject",
            resource: R::CuratedObjects
        }));
        assert!(!g.contains(&Grant {
            action: "s3:PutObject",
            resource: R::RawObjects
        }));
        assert!(g.contains(&Grant {
            action: "kms:GenerateDataKey",
            resource: R::Key
        }));
    }
}
