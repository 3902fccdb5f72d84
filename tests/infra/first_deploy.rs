//! A first apply into a fresh account, and a second region beside it: each
//! test names the AWS rule the Terraform must follow. AWS is not reachable
//! from here and `terraform validate` cannot run, so these read the HCL.

use super::{hcl, read, repo, strings};
use serde_json::Value;
use std::collections::BTreeMap;

const STACK: &str = "terraform/stack/main.tf";
const STACK_VARS: &str = "terraform/stack/variables.tf";
const ROOT: &str = "terraform/envs/root.tf";
const OBSERVABILITY: &str = "terraform/modules/observability/main.tf";
const ENVS: [&str; 3] = ["dev", "staging", "prod"];

fn module_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("terraform/modules"))
        .expect("terraform/modules")
        .map(|e| {
            e.expect("a module folder")
                .file_name()
                .into_string()
                .unwrap()
        })
        .map(|m| format!("terraform/modules/{m}/main.tf"))
        .filter(|f| repo().join(f).exists())
        .collect();
    files.push(STACK.into());
    files.sort();
    files
}

/// A stack variable's default as the HCL JSON form gives it.
fn default_of(variable: &str) -> Value {
    hcl(STACK_VARS)["variable"][variable]["default"].clone()
}

/// The default `envs/root.tf` gives a setting (`lookup(var.settings, "x", <default>)`).
fn root_default(setting: &str) -> String {
    let root = read(ROOT);
    let needle = format!("lookup(var.settings, \"{setting}\", ");
    let at = root
        .find(&needle)
        .unwrap_or_else(|| panic!("envs/root.tf does not read settings.{setting}"));
    root[at + needle.len()..]
        .split(')')
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

/// Cost Anomaly Detection allows one AWS-services (DIMENSIONAL/SERVICE)
/// monitor per account, and AWS creates `Default-Services-Monitor` itself in
/// most accounts made since 2023: creating another fails the first apply with
/// "Limit exceeded on dimensional spend monitor creation". So alerts are off
/// by default, and when on they subscribe to an existing monitor's ARN; the
/// stack creates a monitor only when given none.
#[test]
fn cost_anomaly_alerts_use_the_accounts_existing_monitor_and_are_off_by_default() {
    assert_eq!(default_of("cost_anomaly_detection"), Value::Bool(false));
    assert_eq!(root_default("cost_anomaly_detection"), "false");
    assert_eq!(default_of("cost_anomaly_monitor_arn"), "");
    assert_eq!(root_default("cost_anomaly_monitor_arn"), "\"\"");
    let obs = hcl(OBSERVABILITY);
    let monitor = &obs["resource"]["aws_ce_anomaly_monitor"]["services"];
    let count = monitor["count"].as_str().unwrap_or_default();
    assert!(
        count.contains("var.cost_anomaly_detection")
            && count.contains("var.cost_anomaly_monitor_arn == \"\""),
        "the monitor is created only when no existing one is named: {count}"
    );
    let subscription = &obs["resource"]["aws_ce_anomaly_subscription"]["alarms"];
    let monitors = subscription["monitor_arn_list"].to_string();
    assert!(
        monitors.contains("var.cost_anomaly_monitor_arn")
            && monitors.contains("aws_ce_anomaly_monitor.services"),
        "{monitors}"
    );
    assert!(read(STACK).contains("cost_anomaly_monitor_arn = var.cost_anomaly_monitor_arn"));
    for env in ENVS {
        let tfvars = read(&format!("terraform/envs/{env}/terraform.tfvars"));
        assert!(
            !tfvars.contains("cost_anomaly_detection = true")
                || tfvars.contains("cost_anomaly_monitor_arn"),
            "terraform/envs/{env}/terraform.tfvars turns alerts on without naming the account's monitor"
        );
    }
}

/// AWS Budgets and Cost Anomaly Detection test-publish to an SNS subscriber
/// when the notification or subscription is created, and fail when the topic
/// policy does not let them publish yet. The alarm topic's ARN is therefore
/// handed out by the topic policy resource, so everything that subscribes the
/// topic is ordered after the policy.
#[test]
fn budget_and_anomaly_subscriptions_wait_for_the_alarm_topic_policy() {
    let outputs = hcl("terraform/modules/messaging/outputs.tf");
    assert_eq!(
        outputs["output"]["alarm_topic_arn"]["value"], "${aws_sns_topic_policy.alarms.arn}",
        "the alarm topic's ARN comes from its policy resource"
    );
    let stack = hcl(STACK);
    assert_eq!(
        stack["module"]["observability"]["alarm_topic_arn"],
        "${module.messaging.alarm_topic_arn}"
    );
    let obs = hcl(OBSERVABILITY);
    let budget = obs["resource"]["aws_budgets_budget"]["monthly"].to_string();
    assert!(budget.contains("var.alarm_topic_arn"), "{budget}");
    let subscriber =
        obs["resource"]["aws_ce_anomaly_subscription"]["alarms"]["subscriber"]["address"].clone();
    assert_eq!(subscriber, "${var.alarm_topic_arn}");
    // Nothing in the stack reads the topic's ARN past its policy.
    assert!(!read(STACK).contains("aws_sns_topic.alarms"));
}

/// SES checks at CreateReceiptRule that it may write to the S3 action's
/// bucket, and answers `InvalidS3Configuration` when the bucket policy
/// granting `ses.amazonaws.com` is not in place yet: the rules take the bucket
/// name from the policy resource. And a region has exactly one active receipt
/// rule set; activating Jarvis's silently deactivates any other, so that is
/// an explicit opt-in, off by default.
#[test]
fn ses_receipt_rules_wait_for_the_bucket_grant_and_activation_is_opt_in() {
    let stack = hcl(STACK);
    assert_eq!(
        stack["module"]["ses"]["raw_bucket"],
        "${module.storage.raw_bucket_with_policy}"
    );
    assert_eq!(
        hcl("terraform/modules/storage/outputs.tf")["output"]["raw_bucket_with_policy"]["value"],
        "${module.raw.name_with_policy}"
    );
    assert_eq!(
        hcl("terraform/modules/bucket/outputs.tf")["output"]["name_with_policy"]["value"],
        "${aws_s3_bucket_policy.this.bucket}"
    );
    let storage = read("terraform/modules/storage/main.tf");
    assert!(
        storage.contains("var.allow_ses_inbound ? data.aws_iam_policy_document.ses_inbound.json")
    );
    let ses = hcl("terraform/modules/ses/main.tf");
    assert_eq!(
        ses["resource"]["aws_ses_receipt_rule"]["mailbox"]["s3_action"]["bucket_name"],
        "${var.raw_bucket}"
    );
    let active = ses["resource"]["aws_ses_active_receipt_rule_set"]["inbound"]["count"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        active.contains("var.enabled") && active.contains("var.activate_rule_set"),
        "{active}"
    );
    assert_eq!(default_of("ses_activate_rule_set"), Value::Bool(false));
    assert_eq!(root_default("ses_activate_rule_set"), "false");
    assert_eq!(
        stack["module"]["ses"]["activate_rule_set"],
        "${var.ses_activate_rule_set}"
    );
}

/// Resource types whose names are unique per account (IAM, CloudFront,
/// Budgets, Cost Explorer), with the argument that names them.
const ACCOUNT_GLOBAL: [(&str, &str); 9] = [
    ("aws_iam_role", "name"),
    ("aws_iam_policy", "name"),
    ("aws_budgets_budget", "name"),
    ("aws_ce_anomaly_monitor", "name"),
    ("aws_ce_anomaly_subscription", "name"),
    ("aws_cloudfront_origin_access_control", "name"),
    ("aws_cloudfront_response_headers_policy", "name"),
    ("aws_cloudfront_function", "name"),
    ("aws_cloudfront_cache_policy", "name"),
];

/// `local.x` references in an expression replaced by the locals' own text.
fn expand_locals(expr: &str, locals: &Value) -> String {
    let mut out = expr.to_owned();
    if let Some(map) = locals.as_object() {
        for (name, value) in map {
            let reference = format!("local.{name}");
            if out.contains(&reference) {
                out = out.replace(&reference, &value.to_string());
            }
        }
    }
    out
}

/// IAM role and policy names, CloudFront policies and functions, budgets and
/// cost monitors are unique per account, and S3 bucket names per partition;
/// none of them is per region. One env deployed in two regions of an account
/// would collide on every one, so each such name carries the region (through
/// `global_prefix`), and so does each env's state key.
#[test]
fn names_global_to_the_account_carry_the_region() {
    let stack = read(STACK);
    assert!(
        stack.contains(
            "global_prefix = var.region_in_global_names ? \"${local.prefix}-${local.region}\" : local.prefix"
        ),
        "the stack's global_prefix is the prefix with the region"
    );
    assert_eq!(default_of("region_in_global_names"), Value::Bool(true));
    let mut checked = 0;
    for file in module_files() {
        let doc = hcl(&file);
        let locals = doc["locals"].clone();
        for (kind, argument) in ACCOUNT_GLOBAL {
            let Some(resources) = doc["resource"][kind].as_object() else {
                continue;
            };
            for (name, resource) in resources {
                let expr = expand_locals(&resource[argument].to_string(), &locals);
                assert!(
                    expr.contains("global_prefix"),
                    "{file}: {kind}.{name}'s {argument} ({expr}) must carry the region (var.global_prefix)"
                );
                checked += 1;
            }
        }
        // Buckets are made by the bucket module, named by its callers.
        if let Some(modules) = doc["module"].as_object() {
            for (name, call) in modules {
                if call["source"] == "../bucket" {
                    let expr = expand_locals(&call["name"].to_string(), &locals);
                    assert!(
                        expr.contains("global_prefix"),
                        "{file}: bucket {name} ({expr}) must carry the region"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 12, "only {checked} global names found");
    let bucket = hcl("terraform/modules/bucket/main.tf");
    assert_eq!(
        bucket["resource"]["aws_s3_bucket"]["this"]["bucket"],
        "${var.name}"
    );

    // The longest names still fit: an env of 16 characters (the stack's
    // validation), the longest region, the longest function; IAM role names
    // are at most 64 characters, bucket names 63.
    let longest_function = std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().len())
        .max()
        .unwrap();
    let global_prefix = "jarvis-".len() + 16 + 1 + "ap-southeast-7".len();
    assert!(global_prefix + 1 + longest_function <= 64);
    assert!(global_prefix + "-access-logs-".len() + 12 <= 63);

    for env in ENVS {
        let region = read(&format!("terraform/envs/{env}/terraform.tfvars"))
            .lines()
            .find_map(|l| l.strip_prefix("region"))
            .and_then(|l| l.split('"').nth(1).map(str::to_owned))
            .expect("the env names its region");
        let backend = read(&format!("terraform/envs/{env}/backend.hcl.example"));
        assert!(
            backend.contains(&format!(
                "key          = \"jarvis/{env}/{region}/terraform.tfstate\""
            )),
            "terraform/envs/{env}/backend.hcl.example: the state key names the env and its region"
        );
    }
}

/// Lambda keeps 100 executions of the account's concurrency pool unreserved,
/// and a new account's pool is 10: reserving the catalog's executions fails
/// the apply until the quota is raised. Reservation is off by default and in
/// every env; `make preflight-<env>` compares the quota with what the catalog
/// reserves, and reads that from the same catalog this test does.
#[test]
fn reserved_concurrency_is_off_until_the_quota_allows_it() {
    assert_eq!(default_of("reserve_concurrency"), Value::Bool(false));
    assert_eq!(root_default("reserve_concurrency"), "false");
    for env in ENVS {
        let tfvars = read(&format!("terraform/envs/{env}/terraform.tfvars"));
        let on = tfvars
            .lines()
            .any(|l| l.trim_start().starts_with("reserve_concurrency") && l.contains("true"));
        assert!(
            !on,
            "terraform/envs/{env}/terraform.tfvars reserves concurrency"
        );
    }
    let catalog = super::catalog();
    let reserved: u64 = catalog.values().filter_map(|e| e.reserved).sum();
    assert!(reserved > 0);
    let out = std::process::Command::new("python3")
        .current_dir(repo())
        .args(["scripts/preflight.py", "--reserved"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        reserved.to_string(),
        "scripts/preflight.py reads the catalog's reserved concurrency as this test does"
    );
}

/// The key policy's grants to services that deliver into the encrypted ingest
/// queue and alarm topic. EventBridge's request for the data key carries no
/// `aws:SourceAccount` or `aws:SourceArn` (the EventBridge and SNS guides'
/// key policies for encrypted targets have none), and a condition on a key
/// the request lacks never matches: every delivery would be dropped without
/// an error anywhere. Budgets and Cost Anomaly Detection are granted the same
/// way; their topic policy names the source account. CloudWatch alarms do
/// send `aws:SourceAccount`, and keep that condition.
#[test]
fn services_delivering_to_encrypted_targets_are_not_filtered_on_keys_they_do_not_send() {
    let keys = hcl("terraform/modules/keys/main.tf");
    let mut conditions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for doc in keys["data"]["aws_iam_policy_document"]
        .as_object()
        .unwrap()
        .values()
    {
        let statements = match &doc["statement"] {
            Value::Array(items) => items.clone(),
            Value::Null => continue,
            one => vec![one.clone()],
        };
        for s in statements {
            let keys_tested: Vec<String> = match &s["condition"] {
                Value::Array(items) => items.iter().flat_map(|c| strings(&c["variable"])).collect(),
                Value::Null => vec![],
                one => strings(&one["variable"]),
            };
            let principals = match &s["principals"] {
                Value::Array(items) => items.clone(),
                one => vec![one.clone()],
            };
            for p in principals.iter().filter(|p| p["type"] == "Service") {
                for service in strings(&p["identifiers"]) {
                    conditions
                        .entry(service)
                        .or_default()
                        .extend(keys_tested.iter().cloned());
                }
            }
        }
    }
    for service in [
        "events.amazonaws.com",
        "budgets.amazonaws.com",
        "costalerts.amazonaws.com",
    ] {
        let tested = conditions
            .get(service)
            .unwrap_or_else(|| panic!("the key policy does not grant {service}"));
        assert!(
            !tested.iter().any(|k| k.starts_with("aws:Source")),
            "{service} is conditioned on {tested:?}, which its requests do not carry"
        );
    }
    assert!(conditions["cloudwatch.amazonaws.com"].contains(&"aws:SourceAccount".to_owned()));
    // The queue and the topic still admit only this account's sources.
    let messaging = read("terraform/modules/messaging/main.tf");
    assert!(messaging.contains("aws:SourceArn") && messaging.contains("aws:SourceAccount"));
}

/// The account's first call to a third-party model (the Claude chat model)
/// starts its AWS Marketplace subscription as the caller; without
/// `aws-marketplace:Subscribe`, `Unsubscribe` and `ViewSubscriptions` the
/// subscription fails and every later call answers AccessDeniedException
/// (Bedrock user guide, "Request access to models"). Every function that
/// calls the chat model may start it; the embedding model (Amazon's) needs
/// none.
#[test]
fn the_chat_roles_may_start_the_models_marketplace_subscription() {
    use jarvis_aws::iam::operation;
    for op in ["Converse", "ConverseStream"] {
        let grants = operation("bedrock", op)
            .expect("the table has the chat operations")
            .actions();
        for action in [
            "aws-marketplace:Subscribe",
            "aws-marketplace:Unsubscribe",
            "aws-marketplace:ViewSubscriptions",
        ] {
            assert!(grants.contains(&action), "{op}: {grants:?}");
        }
    }
    let invoke = operation("bedrock", "InvokeModel").unwrap().actions();
    assert_eq!(invoke, ["bedrock:InvokeModel"]);
    let deploying = read("docs/deploying.md");
    assert!(
        deploying.contains("use-case form") && !deploying.contains("*Model access*"),
        "docs/deploying.md describes the real first step, not the retired Model access page"
    );
}

/// `make help` lists what a first deploy runs, and the checks around it (a
/// variable between a target's `##` comment and the target hides it).
#[test]
fn make_help_lists_the_deploy_and_check_targets() {
    let out = std::process::Command::new("make")
        .current_dir(repo())
        .args(["-s", "help"])
        .output()
        .expect("make runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for target in [
        "test",
        "run",
        "api-check",
        "build",
        "lambda-tools",
        "preflight-<env>",
        "plan-<env>",
        "deploy-<env>",
        "prune-<env>",
        "rollback-<env>",
        "smoke-<env>",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("make {target} "))),
            "make help does not list {target}:\n{help}"
        );
    }
}
