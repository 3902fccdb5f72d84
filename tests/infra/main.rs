//! Terraform and the state machine checked against the code, offline.
//!
//! Fails when: a function crate has no catalog entry (so no Lambda, role or log
//! group); a Task state names a function that does not exist, or a pipeline step
//! is missing from the state machine; the state machine routes a content type
//! elsewhere than `Route::for_content_type`; a variable a function's adapters read
//! is not set on it (or one is set that nothing reads); a function's role grants
//! an action its adapters never call, or lacks one they do (the mapping is
//! jarvis-aws `iam::OPERATIONS`); an API route points at a missing function, or
//! a sample API event's route is not deployed.

mod build;
mod first_deploy;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use jarvis_aws::iam::{self, Grant, Resource};
use jarvis_aws::AwsStack;
use jarvis_core::config::{vars, AwsSettings, Config, ConfigError};
use jarvis_core::pipeline::Route;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An HCL file in the HCL JSON form (expressions become `"${…}"` strings).
fn hcl(path: &str) -> Value {
    hcl::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

const CATALOG: &str = "terraform/modules/functions/catalog.tf";
const FUNCTIONS_MAIN: &str = "terraform/modules/functions/main.tf";
const ASL: &str = "terraform/modules/pipeline/state-machine.asl.json";

type Wire = fn(&AwsStack) -> Result<(), ConfigError>;

/// Each function crate's AWS wiring. A new crate must be added here, or
/// `every_function_crate_is_wired_here` fails.
fn wiring() -> BTreeMap<&'static str, Wire> {
    macro_rules! wiring {
        ($($name:literal => $krate:ident),* $(,)?) => {
            BTreeMap::from([$(($name, (|s: &AwsStack| $krate::Deps::aws(s).map(drop)) as Wire)),*])
        };
    }
    wiring! {
        "api-chat" => api_chat,
        "api-documents" => api_documents,
        "api-me" => api_me,
        "api-search" => api_search,
        "chat-stream" => chat_stream,
        "chunk" => chunk,
        "detect-pii" => detect_pii,
        "embed" => embed,
        "erase-tenant" => erase_tenant,
        "extract-audio" => extract_audio,
        "extract-document" => extract_document,
        "extract-image" => extract_image,
        "index" => index,
        "mark-failed" => mark_failed,
        "memory-reflector" => memory_reflector,
        "parse-email" => parse_email,
        "pipeline-router" => pipeline_router,
        "reminder-fire" => reminder_fire,
        "tool-email" => tool_email,
        "tool-reminders" => tool_reminders,
        "tool-tasks" => tool_tasks,
        "ws-authorizer" => ws_authorizer,
    }
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("functions"))
        .expect("functions/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// How a crate's `main.rs` runs its handler: `step`, `api`, `sqs`, `tool`,
/// `scheduled`, `websocket` or `authorizer`.
fn kind(function: &str) -> &'static str {
    let main = read(&format!("functions/{function}/src/main.rs"));
    [
        "step",
        "api",
        "sqs",
        "tool",
        "scheduled_or_dead_letters",
        "scheduled",
        "websocket",
        "authorizer",
        "job",
    ]
    .into_iter()
    .find(|k| main.contains(&format!("run::{k}(")))
    .unwrap_or_else(|| panic!("functions/{function}/src/main.rs calls no jarvis_lambda::run::*"))
}

/// A stack with every setting present and no network: what `Deps::aws` builds
/// from it is what the function can reach.
fn stack() -> AwsStack {
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "k", "s", None, None, "infra",
            )),
        )
        .build();
    let settings = AwsSettings::from_lookup(|name| {
        let value = match name {
            vars::RAW_BUCKET => "raw",
            vars::CURATED_BUCKET => "curated",
            vars::TABLE => "table",
            vars::INGEST_QUEUE_URL => "https://sqs.eu-west-1.amazonaws.com/1/q",
            vars::OPENSEARCH_ENDPOINT => "https://c.eu-west-1.aoss.amazonaws.com",
            vars::MAIL_FROM => "jarvis@example.com",
            vars::TOOL_FUNCTION_PREFIX => "jarvis-test-",
            vars::ERASE_FUNCTION => "jarvis-test-erase-tenant",
            vars::AUTH_ISSUER => "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x",
            vars::AUTH_AUDIENCE => "client1",
            n if n.ends_with("_ARN") => "arn:aws:x:eu-west-1:123456789012:x",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .expect("settings");
    let config = Config::from_lookup(|_| None).expect("defaults");
    AwsStack::new(sdk, settings, config)
}

/// Every variable `Config` reads (tuning with defaults; any function may set them).
fn config_vars() -> BTreeSet<String> {
    let seen = Mutex::new(BTreeSet::new());
    Config::from_lookup(|name| {
        seen.lock().unwrap().insert(name.to_owned());
        None
    })
    .expect("defaults");
    let mut vars = seen.into_inner().unwrap();
    vars.insert(vars::LOG_FILTER.to_owned());
    vars
}

struct Entry {
    env: BTreeSet<String>,
    grants: BTreeSet<Grant>,
    trigger: String,
    /// The executions the function reserves when reservation is on.
    reserved: Option<u64>,
}

fn resource_of(expr: &str) -> Resource {
    let name = expr
        .strip_prefix("${local.")
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or_else(|| {
            panic!("a statement resource must be one of the resource locals, not {expr:?}")
        });
    Resource::ALL
        .into_iter()
        .find(|r| r.terraform_local() == name)
        .unwrap_or_else(|| panic!("local.{name} names no iam::Resource"))
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        other => panic!("expected strings, found {other}"),
    }
}

fn locals(path: &str) -> Value {
    hcl(path)["locals"].clone()
}

/// `(action, resource)` pairs of a list of `{actions, resources}` statements.
fn grants_of(statements: &Value) -> BTreeSet<Grant> {
    let mut grants = BTreeSet::new();
    for s in statements.as_array().expect("a statements list") {
        let resources: Vec<Resource> = strings(&s["resources"])
            .iter()
            .map(|r| resource_of(r))
            .collect();
        for action in strings(&s["actions"]) {
            let action: &'static str = Box::leak(action.into_boxed_str());
            for &resource in &resources {
                grants.insert(Grant { action, resource });
            }
        }
    }
    grants
}

/// The catalog, each entry's grants including what main.tf adds for its trigger.
fn catalog() -> BTreeMap<String, Entry> {
    let by_trigger = locals(FUNCTIONS_MAIN)["trigger_statements"].clone();
    let functions = locals(CATALOG)["functions"].clone();
    let functions = functions.as_object().expect("local.functions is a map");
    functions
        .iter()
        .map(|(name, f)| {
            let env = f["env"]
                .as_object()
                .unwrap_or_else(|| panic!("{name}: env must be a plain map"))
                .keys()
                .cloned()
                .collect();
            let mut grants = grants_of(&f["statements"]);
            let trigger = f["trigger"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: trigger must be a string"))
                .to_owned();
            if let Some(statements) = by_trigger.get(&trigger) {
                grants.extend(grants_of(statements));
            }
            (
                name.clone(),
                Entry {
                    env,
                    grants,
                    trigger,
                    reserved: f["reserved"].as_u64(),
                },
            )
        })
        .collect()
}

/// A claim on a reminder occurrence outlives any delivery holding it: the
/// function's timeout is well inside the lease, so a live delivery always
/// records or releases its claim before another may take it over.
#[test]
fn reminder_fire_times_out_well_inside_its_claim_lease() {
    let functions = locals(CATALOG)["functions"].clone();
    let timeout = functions["reminder-fire"]["timeout"]
        .as_i64()
        .expect("reminder-fire has a numeric timeout");
    let lease = reminder_fire::CLAIM_LEASE.num_seconds();
    assert!(
        timeout * 3 <= lease,
        "reminder-fire's timeout ({timeout} s) must be at most a third of its claim lease ({lease} s)"
    );
}

fn routes() -> BTreeMap<String, String> {
    let routes = locals(CATALOG)["routes"].clone();
    serde_json::from_value(routes).expect("local.routes is a map of strings")
}

#[test]
fn every_function_crate_is_wired_here_and_has_a_catalog_entry() {
    let crates = function_crates();
    let wired: BTreeSet<String> = wiring().keys().map(|s| s.to_string()).collect();
    assert_eq!(
        crates, wired,
        "add the crate to wiring() in tests/infra/main.rs"
    );
    let listed: BTreeSet<String> = catalog().into_keys().collect();
    assert_eq!(
        crates, listed,
        "every function crate needs an entry in {CATALOG} (that gives it its Lambda, role and log group), and every entry a crate"
    );
}

#[test]
fn each_function_is_invoked_the_way_its_main_runs_it() {
    for (name, entry) in catalog() {
        let expected: &[&str] = match kind(&name) {
            "step" => &["state_machine"],
            "api" => &["http_api"],
            "websocket" => &["websocket"],
            "authorizer" => &["websocket_authorizer"],
            "sqs" => &["ingest_queue"],
            "tool" => &["http_api"],
            "scheduled" => &["reminders", "nightly"],
            "scheduled_or_dead_letters" => &["reminders"],
            "job" => &["async_invoke"],
            other => panic!("{name}: no trigger known for run::{other}"),
        };
        assert!(
            expected.contains(&entry.trigger.as_str()),
            "{name} runs as run::{}, but its trigger is {:?}",
            kind(&name),
            entry.trigger
        );
    }
}

#[test]
fn every_catalog_entry_gets_a_lambda_a_role_a_policy_and_a_log_group() {
    let main = hcl(FUNCTIONS_MAIN);
    for (kind, name) in [
        ("aws_lambda_function", "function"),
        ("aws_iam_role", "function"),
        ("aws_iam_role_policy", "function"),
        ("aws_cloudwatch_log_group", "function"),
    ] {
        let for_each = &main["resource"][kind][name]["for_each"];
        assert_eq!(
            for_each, "${local.functions}",
            "{kind}.{name} must be created for every catalog entry"
        );
    }
    let lambda = &main["resource"]["aws_lambda_function"]["function"];
    assert_eq!(lambda["runtime"], "provided.al2023");
    assert_eq!(lambda["architectures"], serde_json::json!(["arm64"]));
    assert_eq!(lambda["tracing_config"]["mode"], "Active");
    // Every resource an iam::Resource names is defined as a local.
    let defined = locals(FUNCTIONS_MAIN);
    for r in Resource::ALL {
        assert!(
            defined.get(r.terraform_local()).is_some(),
            "{FUNCTIONS_MAIN} defines no local.{} for {r:?}",
            r.terraform_local()
        );
    }
    // The baseline every role has, whatever its code.
    let doc = serde_json::to_string(&main["data"]["aws_iam_policy_document"]["function"])
        .expect("policy document");
    for action in iam::BASELINE {
        assert!(doc.contains(action), "the baseline policy lacks {action}");
    }
}

#[test]
fn each_role_grants_exactly_what_its_code_calls() {
    let catalog = catalog();
    let mut problems = Vec::new();
    for (name, wire) in wiring() {
        let stack = stack();
        wire(&stack).unwrap_or_else(|e| panic!("{name}: Deps::aws failed: {e}"));
        let mut needed = stack.usage().grants();
        let entry = &catalog[name];
        if entry.trigger == "ingest_queue" {
            needed.extend(iam::SQS_EVENT_SOURCE.iter().copied());
        }
        if entry.trigger == "reminders" {
            needed.extend(iam::REMINDER_DLQ_EVENT_SOURCE.iter().copied());
        }
        let missing: Vec<_> = needed.difference(&entry.grants).collect();
        let extra: Vec<_> = entry.grants.difference(&needed).collect();
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{name}:\n  lacks {}\n  grants but never calls {}",
                describe(&missing),
                describe(&extra)
            ));
        }
    }
    assert!(problems.is_empty(), "{CATALOG}:\n{}", problems.join("\n"));
}

fn describe(grants: &[&Grant]) -> String {
    if grants.is_empty() {
        return "nothing".into();
    }
    grants
        .iter()
        .map(|g| format!("{} on local.{}", g.action, g.resource.terraform_local()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn each_function_gets_the_variables_its_code_reads_and_no_others() {
    let catalog = catalog();
    let tuning = config_vars();
    let mut problems = Vec::new();
    for (name, wire) in wiring() {
        let stack = stack();
        wire(&stack).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reads: BTreeSet<String> = stack.usage().env.iter().map(|s| s.to_string()).collect();
        let set = &catalog[name].env;
        let missing: Vec<_> = reads.difference(set).collect();
        let unread: Vec<_> = set
            .iter()
            .filter(|v| !reads.contains(*v) && !tuning.contains(*v))
            .collect();
        if !missing.is_empty() || !unread.is_empty() {
            problems.push(format!(
                "{name}: not set {missing:?}; set but never read {unread:?}"
            ));
        }
        assert!(
            !set.contains(vars::LOG_FILTER),
            "{name}: RUST_LOG is set for every function in main.tf"
        );
    }
    assert!(problems.is_empty(), "{CATALOG}:\n{}", problems.join("\n"));
}

#[test]
fn api_routes_point_at_api_functions_and_every_sample_route_is_deployed() {
    let routes = routes();
    let crates = function_crates();
    for (route, function) in &routes {
        assert!(
            crates.contains(function),
            "{route} → {function}, which is no crate"
        );
        assert!(
            ["api", "tool"].contains(&kind(function)),
            "{route} → {function}, which serves no HTTP routes"
        );
    }
    for function in crates.iter().filter(|f| ["api", "tool"].contains(&kind(f))) {
        let mut samples = 0;
        for entry in std::fs::read_dir(repo().join("events")).unwrap() {
            let file = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !file.starts_with(&format!("{function}.")) {
                continue;
            }
            let event: Value = serde_json::from_str(&read(&format!("events/{file}"))).unwrap();
            // A tool function's samples also hold direct tool calls.
            let Some(route) = event["routeKey"].as_str() else {
                assert_eq!(kind(function), "tool", "events/{file} has no routeKey");
                continue;
            };
            assert_eq!(
                routes.get(route),
                Some(function),
                "events/{file} uses {route}, which {CATALOG} does not route to {function}"
            );
            samples += 1;
        }
        assert!(samples > 0, "{function} has no sample API event");
    }
    assert_eq!(routes.get("GET /healthz").map(|f| kind(f)), Some("api"));
    for route in [
        "POST /chat",
        "GET /tasks",
        "POST /reminders",
        "POST /emails/drafts/{id}/send",
    ] {
        assert!(routes.contains_key(route), "{route} is not deployed");
    }
}

/// The WebSocket API: every route the code answers is deployed, `$connect`
/// carries the authorizer, and the authorizer reads the token where the
/// clients put it (`?token=`, as on the local runtime).
#[test]
fn the_websocket_api_routes_what_chat_stream_answers_behind_the_authorizer() {
    let api = hcl("terraform/modules/api/main.tf");
    let resources = &api["resource"];
    let connect = &resources["aws_apigatewayv2_route"]["ws_connect"];
    assert_eq!(connect["route_key"], "$connect");
    assert_eq!(connect["authorization_type"], "CUSTOM");
    assert_eq!(
        connect["authorizer_id"],
        "${aws_apigatewayv2_authorizer.ws[0].id}"
    );
    let authorizer = &resources["aws_apigatewayv2_authorizer"]["ws"];
    assert_eq!(authorizer["authorizer_type"], "REQUEST");
    assert_eq!(
        authorizer["identity_sources"],
        serde_json::json!(["route.request.querystring.token"])
    );
    assert!(authorizer["authorizer_uri"]
        .as_str()
        .is_some_and(|u| u.contains("var.websocket_authorizer")));
    let others = resources["aws_apigatewayv2_route"]["ws"]["for_each"]
        .as_str()
        .expect("for_each");
    for route in ["$disconnect", "sendMessage", "$default"] {
        assert!(
            others.contains(&format!("\"{route}\"")),
            "{route} is not deployed"
        );
    }
    let api_ws = &resources["aws_apigatewayv2_api"]["ws"];
    assert_eq!(api_ws["route_selection_expression"], "$request.body.action");
    // Both permissions exist: API Gateway may invoke the routes' function and the authorizer.
    assert!(resources["aws_lambda_permission"]["ws"].is_object());
    assert!(resources["aws_lambda_permission"]["ws_authorizer"].is_object());
    // Exactly one function of each trigger, and they are the crates that run that way.
    let catalog = catalog();
    for (trigger, run) in [
        ("websocket", "websocket"),
        ("websocket_authorizer", "authorizer"),
    ] {
        let serving: Vec<&String> = catalog
            .iter()
            .filter(|(_, e)| e.trigger == trigger)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(serving.len(), 1, "{trigger}: {serving:?}");
        assert_eq!(kind(serving[0]), run);
    }
    // What the sample events use is what the API routes.
    for (file, route) in [
        ("events/chat-stream.connect.json", "$connect"),
        ("events/chat-stream.send-message.json", "sendMessage"),
        ("events/chat-stream.disconnect.json", "$disconnect"),
    ] {
        let event: Value = serde_json::from_str(&read(file)).unwrap();
        assert_eq!(event["requestContext"]["routeKey"], route, "{file}");
    }
}

/// The ASL file as JSON (the same reading the local runtime follows).
fn asl() -> Value {
    jarvis_core::asl::parse(&read(ASL)).unwrap_or_else(|e| panic!("{ASL}: {e}"))
}

/// The function crate a Task state invokes (`${fn_<crate_name>}`).
fn task_function(state: &Value) -> Option<String> {
    let resource = state["Resource"].as_str()?;
    let name = resource
        .strip_prefix("${fn_")
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or_else(|| panic!("Task Resource {resource:?} is not ${{fn_<crate>}}"));
    Some(name.replace('_', "-"))
}

/// States Language `StringMatches` with `*` wildcards.
fn string_matches(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty()
}

#[test]
fn the_state_machine_invokes_real_functions_and_every_step() {
    let asl = asl();
    let states = asl["States"].as_object().expect("States");
    let crates = function_crates();
    let mut invoked = BTreeSet::new();
    for (name, state) in states {
        if state["Type"] != "Task" {
            continue;
        }
        let function = task_function(state).expect("Task with a Resource");
        assert!(
            crates.contains(&function),
            "state {name} invokes {function}, which is no crate"
        );
        assert_eq!(
            kind(&function),
            "step",
            "state {name} invokes {function}, which is not a step"
        );
        invoked.insert(function);
    }
    let steps: BTreeSet<String> = crates.into_iter().filter(|f| kind(f) == "step").collect();
    assert_eq!(
        invoked, steps,
        "every pipeline step crate appears in the state machine"
    );
}

#[test]
fn the_state_machine_routes_like_the_code_then_runs_the_same_steps() {
    let asl = asl();
    let states = &asl["States"];
    let route = states
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["Type"] == "Choice" && s["Choices"][0]["Variable"] == "$.content_type")
        .expect("a Choice on $.content_type");
    for ct in [
        "application/pdf",
        "text/markdown; charset=utf-8",
        "text/html",
        "application/json",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "image/png",
        "image/tiff",
        "audio/mpeg",
        "video/mp4",
        "message/rfc822",
        "application/octet-stream",
    ] {
        let next = route["Choices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| string_matches(c["StringMatches"].as_str().unwrap(), ct))
            .map(|c| &c["Next"])
            .unwrap_or(&route["Default"]);
        let target = &states[next.as_str().unwrap()];
        assert_eq!(
            task_function(target).as_deref(),
            Some(Route::for_content_type(ct).function_name()),
            "{ct} goes to state {next}"
        );
        // Then the same steps as the local runtime, in order.
        let mut chain = Vec::new();
        let mut state = &states[target["Next"].as_str().expect("extractor has Next")];
        loop {
            chain.push(task_function(state).expect("a Task"));
            match state["Next"].as_str() {
                Some(n) => state = &states[n],
                None => break,
            }
        }
        assert_eq!(
            chain,
            ["detect-pii", "chunk", "embed", "index"],
            "after {ct}"
        );
    }
}

#[test]
fn every_step_retries_transient_errors_and_catches_into_mark_failed() {
    let asl = asl();
    let states = asl["States"].as_object().unwrap();
    let mark_failed = states
        .iter()
        .find(|(_, s)| task_function(s).as_deref() == Some("mark-failed"))
        .map(|(n, _)| n.clone())
        .expect("a mark-failed Task");
    for (name, state) in states {
        let Some(function) = task_function(state) else {
            continue;
        };
        if function == "mark-failed" {
            continue;
        }
        let retry = serde_json::to_string(&state["Retry"]).unwrap();
        assert!(
            retry.contains("Jarvis.Transient"),
            "{name} does not retry Jarvis.Transient"
        );
        assert!(state["TimeoutSeconds"].is_number(), "{name} has no timeout");
        let catches = state["Catch"].as_array().expect("Catch");
        let all = catches
            .iter()
            .find(|c| c["ErrorEquals"] == serde_json::json!(["States.ALL"]))
            .unwrap_or_else(|| panic!("{name} has no States.ALL Catch"));
        assert_eq!(all["Next"], mark_failed.as_str(), "{name}'s Catch");
        assert_eq!(
            all["ResultPath"], "$.error",
            "{name} keeps its input for mark-failed"
        );
        // A Pending job is polled: the Catch leads through a Wait back to this state.
        if let Some(pending) = catches
            .iter()
            .find(|c| c["ErrorEquals"] == serde_json::json!(["Jarvis.Pending"]))
        {
            let mut at = pending["Next"].as_str().unwrap();
            let mut waited = false;
            for _ in 0..5 {
                let s = &states[at];
                waited |= s["Type"] == "Wait";
                at = s["Next"].as_str().or(s["Default"].as_str()).unwrap();
                if at == name {
                    break;
                }
            }
            assert!(
                at == name && waited,
                "{name}'s Pending loop does not wait and return"
            );
        }
    }
    let audio = states
        .iter()
        .find(|(_, s)| task_function(s).as_deref() == Some("extract-audio"))
        .unwrap()
        .1;
    assert!(
        serde_json::to_string(&audio["Catch"])
            .unwrap()
            .contains("Jarvis.Pending"),
        "the Transcribe poll loop"
    );
}

#[test]
fn string_matches_follows_the_states_language() {
    assert!(string_matches("image/*", "image/png"));
    assert!(!string_matches("image/*", "application/png"));
    assert!(string_matches("message/rfc822*", "message/rfc822"));
    assert!(string_matches("a*c*e", "abcde"));
    assert!(!string_matches("exact", "exactly"));
}

/// The recipe lines of a Makefile target (`name:` up to the next blank line).
fn make_recipe(makefile: &str, target: &str) -> String {
    let start = makefile
        .lines()
        .position(|l| l.starts_with(&format!("{target}:")))
        .unwrap_or_else(|| panic!("the Makefile has no {target} target"));
    makefile
        .lines()
        .skip(start)
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Deploy safety: `plan-<env>` saves a plan; `deploy-<env>` applies exactly
/// that saved plan (never a fresh one, never `-auto-approve`, in any env), and
/// `make help` lists the targets. The provider is pinned to the major version
/// the schema check uses.
#[test]
fn deploys_apply_exactly_the_saved_plan_and_the_provider_is_pinned() {
    let makefile = read("Makefile");
    let plan = make_recipe(&makefile, "plan-%");
    assert!(
        plan.contains("plan") && plan.contains("-out=tfplan"),
        "{plan}"
    );
    let deploy = make_recipe(&makefile, "deploy-%");
    assert!(deploy.contains("apply -input=false tfplan"), "{deploy}");
    assert!(
        deploy.contains("test -f terraform/envs/$*/tfplan"),
        "{deploy}"
    );
    assert!(
        !makefile.contains("-auto-approve"),
        "nothing applies unreviewed"
    );
    assert!(make_recipe(&makefile, "help").contains("awk"));
    for file in ["terraform/envs/root.tf", "terraform/stack/versions.tf"] {
        assert!(
            read(file).contains(r#"version = "~> 6.62""#),
            "{file} pins the AWS provider to ~> 6.62"
        );
    }
}

/// A fresh account has no API Gateway CloudWatch Logs role, and a WebSocket
/// stage with access logging then fails to apply: the api module sets the
/// account's role (unless told another stack owns it), and the stage waits for it.
#[test]
fn the_websocket_stage_waits_for_the_accounts_api_gateway_logging_role() {
    let api = hcl("terraform/modules/api/main.tf");
    let account = &api["resource"]["aws_api_gateway_account"]["this"];
    assert!(
        account["cloudwatch_role_arn"]
            .as_str()
            .is_some_and(|r| r.contains("aws_iam_role.apigateway_logs")),
        "{account}"
    );
    let attached = api["resource"]["aws_iam_role_policy_attachment"]["apigateway_logs"]
        ["policy_arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        attached.ends_with("service-role/AmazonAPIGatewayPushToCloudWatchLogs"),
        "{attached}"
    );
    let stage = &api["resource"]["aws_apigatewayv2_stage"]["ws"];
    assert!(
        stage["depends_on"]
            .to_string()
            .contains("aws_api_gateway_account.this"),
        "{stage}"
    );
    assert!(stage.get("access_log_settings").is_some());
}

/// The `settings` keys a tfvars text sets (`  key = …` lines inside `settings = {`).
fn settings_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("settings"))
        .skip(1)
        .take_while(|l| !l.starts_with('}'))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

/// Every env has a `terraform.tfvars.example` that explains every setting
/// the root module reads, and nothing else; and every env's own tfvars sets
/// only settings the root module reads (a misspelt key would be ignored).
#[test]
fn every_env_explains_every_setting_and_sets_only_real_ones() {
    let root = read("terraform/envs/root.tf");
    let read_by_root: BTreeSet<String> = root
        .split("lookup(var.settings, \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect();
    assert!(read_by_root.len() >= 20, "{read_by_root:?}");
    for env in ["dev", "staging", "prod"] {
        let example = read(&format!("terraform/envs/{env}/terraform.tfvars.example"));
        assert_eq!(
            settings_keys(&example),
            read_by_root,
            "terraform/envs/{env}/terraform.tfvars.example"
        );
        let set = settings_keys(&read(&format!("terraform/envs/{env}/terraform.tfvars")));
        let unknown: Vec<_> = set.difference(&read_by_root).collect();
        assert!(
            unknown.is_empty(),
            "terraform/envs/{env}/terraform.tfvars sets {unknown:?}, which nothing reads"
        );
    }
}

/// Cost is bounded in every environment: a monthly budget alerting the alarm
/// topic at 80% and 100% (actual) and 100% (forecast), a budget amount set in
/// every env, and the alarm topic's key and policy letting AWS Budgets and
/// Cost Anomaly Detection publish to it.
#[test]
fn every_env_has_a_budget_that_can_reach_the_alarm_topic() {
    let obs = hcl("terraform/modules/observability/main.tf");
    let budget = &obs["resource"]["aws_budgets_budget"]["monthly"];
    assert_eq!(budget["time_unit"], "MONTHLY");
    let thresholds = budget["dynamic"]["notification"]["for_each"].to_string();
    for (t, kind) in [("80", "ACTUAL"), ("100", "ACTUAL"), ("100", "FORECASTED")] {
        assert!(
            thresholds.contains(&format!("\"threshold\":{t}")) && thresholds.contains(kind),
            "{thresholds}"
        );
    }
    assert!(
        budget["dynamic"]["notification"]["content"]["subscriber_sns_topic_arns"]
            .to_string()
            .contains("var.alarm_topic_arn")
    );
    for env in ["dev", "staging", "prod"] {
        let tfvars = read(&format!("terraform/envs/{env}/terraform.tfvars"));
        assert!(
            settings_keys(&tfvars).contains("monthly_budget_usd"),
            "terraform/envs/{env}/terraform.tfvars sets its monthly budget"
        );
    }
    let key = read("terraform/modules/keys/main.tf");
    let topic = read("terraform/modules/messaging/main.tf");
    for service in ["budgets.amazonaws.com", "costalerts.amazonaws.com"] {
        assert!(key.contains(service), "the key lets {service} encrypt");
        assert!(
            topic.contains(service),
            "the alarm topic lets {service} publish"
        );
    }
}

/// Sending and receiving mail are separate switches: the SES identity exists
/// for either, the receipt rules only for receiving, and the DNS records the
/// operator must add (DKIM, MX) are an output of every env.
#[test]
fn ses_sending_and_receiving_are_separate_and_the_dns_records_are_outputs() {
    let ses = hcl("terraform/modules/ses/main.tf");
    assert!(ses["locals"]["identity"]
        .to_string()
        .contains("var.sending"));
    assert!(
        ses["resource"]["aws_sesv2_email_identity"]["domain"]["count"]
            .to_string()
            .contains("local.identity")
    );
    for rule in [
        "aws_ses_receipt_rule_set",
        "aws_ses_active_receipt_rule_set",
    ] {
        let count = ses["resource"][rule]
            .as_object()
            .and_then(|m| m.values().next())
            .map(|r| r["count"].to_string())
            .unwrap_or_default();
        assert!(
            count.contains("var.enabled") && !count.contains("sending"),
            "{rule}: {count}"
        );
    }
    let outputs = read("terraform/modules/ses/outputs.tf");
    assert!(outputs.contains("_domainkey") && outputs.contains("inbound-smtp"));
    assert!(read("terraform/envs/root.tf").contains("output \"mail_dns_records\""));
}

/// Every function alarms before its runs reach their timeout (p99 duration
/// over 80% of it), and the table alarms when DynamoDB throttles it.
#[test]
fn functions_alarm_on_duration_near_their_timeout_and_the_table_on_throttling() {
    let obs = hcl("terraform/modules/observability/main.tf");
    let duration = &obs["resource"]["aws_cloudwatch_metric_alarm"]["function_duration"];
    assert_eq!(duration["for_each"], "${var.function_names}");
    assert_eq!(duration["metric_name"], "Duration");
    assert!(duration["threshold"]
        .to_string()
        .contains("var.function_timeouts[each.key] * 1000 * 0.8"));
    let table = &obs["resource"]["aws_cloudwatch_metric_alarm"]["table_throttles"];
    assert_eq!(table["metric_name"], "ThrottledRequests");
    let stack = read("terraform/stack/main.tf");
    assert!(stack.contains("function_timeouts = module.functions.timeouts"));
}

/// Saved Logs Insights queries an operator starts from: why a document
/// failed (every function's log group), and the slowest chat turns (the two
/// chat functions, from Lambda's JSON platform reports).
#[test]
fn operators_have_saved_queries_for_failed_documents_and_slow_turns() {
    let obs = hcl("terraform/modules/observability/main.tf");
    let queries = &obs["resource"]["aws_cloudwatch_query_definition"];
    let failed = queries["document_failed"]["query_string"].to_string();
    assert!(failed.contains("span.document"), "{failed}");
    let slow = &queries["slowest_turns"];
    assert!(slow["query_string"].to_string().contains("platform.report"));
    let groups = slow["log_group_names"].to_string();
    assert!(
        groups.contains("api-chat") && groups.contains("chat-stream"),
        "{groups}"
    );
}

/// `(service principal, action)` pairs the key policy allows.
fn key_policy_service_grants() -> BTreeSet<(String, String)> {
    let keys = hcl("terraform/modules/keys/main.tf");
    let docs = keys["data"]["aws_iam_policy_document"]
        .as_object()
        .expect("the key module builds its policy from policy documents");
    let mut grants = BTreeSet::new();
    for doc in docs.values() {
        let statements = match &doc["statement"] {
            Value::Array(items) => items.clone(),
            Value::Null => continue,
            one => vec![one.clone()],
        };
        for s in statements {
            let principals = match &s["principals"] {
                Value::Array(items) => items.clone(),
                one => vec![one.clone()],
            };
            for p in principals.iter().filter(|p| p["type"] == "Service") {
                for service in strings(&p["identifiers"]) {
                    for action in strings(&s["actions"]) {
                        grants.insert((service.clone(), action));
                    }
                }
            }
        }
    }
    grants
}

/// Every AWS service that writes with the stack's key on its behalf may use
/// it: each row names the Terraform that makes the service write encrypted
/// data, and the key-policy grant that delivery needs (AWS fails these
/// silently, as logs never delivered or messages dropped; moto does not check
/// key policies at all). The scheduler's execution role decrypts the nightly
/// schedules' input through IAM.
#[test]
fn every_service_that_writes_with_the_key_may_use_it() {
    let grants = key_policy_service_grants();
    let storage = read("terraform/modules/storage/main.tf");
    let bucket = read("terraform/modules/bucket/main.tf");
    let pipeline = hcl("terraform/modules/pipeline/main.tf");
    let sfn = &pipeline["resource"]["aws_sfn_state_machine"]["pipeline"];
    let messaging = read("terraform/modules/messaging/main.tf");
    let site = read(SITE);
    let writers: [(&str, bool, &str, &str); 7] = [
        (
            "S3 server access logs into the SSE-KMS log bucket",
            storage.contains("log_bucket") && bucket.contains("aws_s3_bucket_logging"),
            "logging.s3.amazonaws.com",
            "kms:GenerateDataKey",
        ),
        (
            "Step Functions log delivery of the encrypted state machine",
            sfn["encryption_configuration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
                && !sfn["logging_configuration"].is_null(),
            "delivery.logs.amazonaws.com",
            "kms:Decrypt",
        ),
        (
            "CloudWatch Logs encrypting every log group",
            read(FUNCTIONS_MAIN).contains("kms_key_id"),
            "logs.${local.region}.amazonaws.com",
            "kms:GenerateDataKey*",
        ),
        (
            "EventBridge delivering object events to the encrypted ingest queue",
            messaging.contains("aws_cloudwatch_event_target"),
            "events.amazonaws.com",
            "kms:GenerateDataKey*",
        ),
        (
            "AWS Budgets alerting the encrypted alarm topic",
            read("terraform/modules/observability/main.tf").contains("aws_budgets_budget"),
            "budgets.amazonaws.com",
            "kms:GenerateDataKey*",
        ),
        (
            "CloudFront reading the web app from the SSE-KMS site bucket through OAC",
            site.contains("origin_access_control_id") && site.contains("\"../bucket\""),
            "cloudfront.amazonaws.com",
            "kms:Decrypt",
        ),
        (
            "CloudWatch alarms publishing to the encrypted alarm topic",
            read("terraform/modules/observability/main.tf").contains("alarm_actions"),
            "cloudwatch.amazonaws.com",
            "kms:GenerateDataKey*",
        ),
    ];
    for (what, writes, service, action) in writers {
        assert!(
            writes,
            "{what}: the Terraform no longer shows this delivery"
        );
        assert!(
            grants.contains(&(service.to_owned(), action.to_owned())),
            "{what}: the key policy must let {service} call {action}; it grants {grants:?}"
        );
    }

    let scheduler = hcl("terraform/modules/scheduler/main.tf");
    assert_eq!(
        scheduler["resource"]["aws_scheduler_schedule"]["nightly"]["kms_key_arn"],
        "${var.kms_key_arn}"
    );
    let role = &scheduler["data"]["aws_iam_policy_document"]["dead_letters"]["statement"];
    let decrypts = role.as_array().unwrap().iter().any(|s| {
        strings(&s["actions"]).contains(&"kms:Decrypt".to_owned())
            && strings(&s["resources"]) == ["${var.kms_key_arn}"]
    });
    assert!(
        decrypts,
        "the scheduler's role decrypts the schedules' input"
    );
}

/// `POST /uploads` is deployed to api-documents, whose role can do what the
/// URLs it signs do (a pre-signed request carries the signer's permissions:
/// PutObject on the raw bucket's objects, and GenerateDataKey for SSE-KMS),
/// and browsers on the API's origins may PUT to the raw bucket directly.
#[test]
fn the_upload_route_signs_with_a_role_that_may_put_into_the_raw_bucket() {
    assert_eq!(
        routes().get("POST /uploads").map(String::as_str),
        Some("api-documents")
    );
    let grants = &catalog()["api-documents"].grants;
    for (action, resource) in [
        ("s3:PutObject", Resource::RawObjects),
        ("kms:GenerateDataKey", Resource::Key),
    ] {
        assert!(
            grants.contains(&Grant { action, resource }),
            "api-documents lacks {action} on {resource:?}"
        );
    }
    let storage = hcl("terraform/modules/storage/main.tf");
    let cors = &storage["resource"]["aws_s3_bucket_cors_configuration"]["raw"]["cors_rule"];
    assert_eq!(cors["allowed_methods"], serde_json::json!(["PUT"]));
    // Every header a pre-signed PUT carries that a browser sends itself must
    // pass the preflight (the web app sends them all but Content-Length,
    // which browsers set): S3 refuses the PUT otherwise, and moto does not
    // check CORS at all.
    let allowed = strings(&cors["allowed_headers"]);
    for signed in ["content-type", "if-none-match"] {
        assert!(
            allowed.iter().any(|h| h == signed),
            "{signed} not allowed: {allowed:?}"
        );
    }
    assert_eq!(cors["allowed_origins"], "${var.upload_origins}");
    assert_eq!(
        hcl("terraform/stack/main.tf")["module"]["storage"]["upload_origins"],
        "${concat([module.site.url], var.cors_origins)}",
        "the web app's origin may upload"
    );
}

/// Every function is published as versions behind a `live` alias, and every
/// caller invokes the alias, so `make rollback-<env>` (which moves aliases) is
/// a rollback of everything: API Gateway (integrations, and permissions on the
/// alias), the state machine, Scheduler, the queues' mappings, and the
/// functions that invoke others (by alias, with IAM on the alias ARN).
#[test]
fn every_caller_invokes_the_live_alias_that_rollback_moves() {
    let functions = hcl(FUNCTIONS_MAIN);
    let lambda = &functions["resource"]["aws_lambda_function"]["function"];
    assert_eq!(lambda["publish"], true);
    assert!(lambda["description"]
        .to_string()
        .contains("release ${var.release}"));
    let alias = &functions["resource"]["aws_lambda_alias"]["live"];
    assert_eq!(alias["for_each"], "${local.functions}");
    assert_eq!(
        alias["function_version"],
        "${aws_lambda_function.function[each.key].version}"
    );
    assert_eq!(functions["locals"]["alias"], "live");
    for mapping in ["ingest", "late_reminders"] {
        assert_eq!(
            functions["resource"]["aws_lambda_event_source_mapping"][mapping]["function_name"],
            "${aws_lambda_alias.live[each.key].arn}",
            "{mapping}"
        );
    }
    assert!(
        !functions["resource"]["aws_lambda_function_event_invoke_config"]["job"]["qualifier"]
            .is_null()
    );
    let outputs = read("terraform/modules/functions/outputs.tf");
    for output in [
        "function_arns",
        "invoke_arns",
        "reminder_target_arns",
        "nightly_function_arns",
    ] {
        let body = outputs
            .split(&format!("output \"{output}\""))
            .nth(1)
            .and_then(|rest| rest.split("\noutput ").next())
            .unwrap_or_else(|| panic!("no output {output}"));
        assert!(
            body.contains("aws_lambda_alias.live"),
            "{output} must name the alias: {body}"
        );
    }
    for (name, value) in [
        (
            "tool_functions",
            functions["locals"]["tool_functions"].to_string(),
        ),
        (
            "job_functions",
            functions["locals"]["job_functions"].to_string(),
        ),
        (
            "reminder_target_arn",
            functions["locals"]["reminder_target_arn"].to_string(),
        ),
    ] {
        assert!(value.contains(":${local.alias}"), "{name}: {value}");
    }
    let api = hcl("terraform/modules/api/main.tf");
    for permission in ["http", "ws", "ws_authorizer"] {
        assert_eq!(
            api["resource"]["aws_lambda_permission"][permission]["qualifier"],
            "${var.function_alias}",
            "{permission}"
        );
    }
    let stack = read("terraform/stack/main.tf");
    assert!(stack.contains("function_alias       = module.functions.alias"));
    assert!(make_recipe(&read("Makefile"), "rollback-%").contains("scripts/rollback.py"));
    assert!(make_recipe(&read("Makefile"), "plan-%").contains("-var release=$(RELEASE)"));
}

/// Models per region: an empty chat model is Claude Haiku 4.5 through the
/// region's geography inference profile, IAM covers both the profile and the
/// model behind it in the regions it routes to, and docs/deploying.md's matrix names
/// every env's region. (Claude 3 and 3.5 Haiku reached end of life in 2026.)
#[test]
fn the_chat_model_is_the_regions_inference_profile_and_iam_covers_profile_and_model() {
    let root = read("terraform/envs/root.tf");
    assert!(root.contains(r#"chat_model_id           = lookup(var.settings, "chat_model_id", "")"#));
    let stack = hcl("terraform/stack/main.tf");
    let locals = &stack["locals"];
    let chat = locals["chat_model_id"].to_string();
    assert!(
        chat.contains("local.geography") && chat.contains("var.default_chat_model"),
        "{chat}"
    );
    let arns = locals["model_arns"].to_string();
    for needed in [
        "inference-profile/",
        "bedrock:*::foundation-model/",
        "bedrock:::foundation-model/",
    ] {
        assert!(arns.contains(needed), "model_arns lacks {needed}: {arns}");
    }
    let variables = read("terraform/stack/variables.tf");
    assert!(variables.contains("anthropic.claude-haiku-4-5-20251001-v1:0"));
    for retired in ["claude-3-5-haiku", "claude-3-haiku"] {
        for file in ["terraform/stack/variables.tf", "terraform/envs/root.tf"] {
            assert!(
                !read(file).contains(retired),
                "{file} still defaults to {retired}"
            );
        }
    }
    let readme = read("docs/deploying.md");
    for env in ["dev", "staging", "prod"] {
        let tfvars = read(&format!("terraform/envs/{env}/terraform.tfvars"));
        let region = tfvars
            .lines()
            .find_map(|l| l.trim().strip_prefix("region = "))
            .expect("every env names its region")
            .trim_matches('"');
        assert!(
            readme.contains(&format!("| `{region}` |")),
            "docs/deploying.md's model matrix has no row for {env}'s region {region}"
        );
    }
}

/// The dashboard shows ingestion, chat, model tokens and latency (the
/// adapters' EMF metrics), and cost (estimated from tokens, and the account's bill).
#[test]
fn the_dashboard_shows_ingestion_chat_tokens_and_cost() {
    let obs = read("terraform/modules/observability/main.tf");
    for title in [
        "Ingestion: files waiting",
        "Chat: turns",
        "Model tokens by function and model",
        "Model latency p90",
        "Bedrock cost from tokens",
        "Account estimated charges",
    ] {
        assert!(obs.contains(title), "the dashboard lacks {title:?}");
    }
    // The metric names and dimensions the adapters write are the ones searched.
    let line = &jarvis_aws::metrics::lines(
        "f",
        &jarvis_aws::metrics::ModelUsage {
            operation: "Converse",
            model: "m".into(),
            input_tokens: 1,
            output_tokens: 1,
            latencies_ms: vec![1],
        },
        chrono::Utc::now(),
    )[0];
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert!(obs.contains(&format!(
        "metrics_namespace = \"{}\"",
        directive["Namespace"].as_str().unwrap()
    )));
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["Function", "Model"]])
    );
    assert!(obs.contains("{${local.metrics_namespace},Function,Model}"));
    for m in directive["Metrics"].as_array().unwrap() {
        let name = m["Name"].as_str().unwrap();
        if name != "ModelCalls" {
            assert!(
                obs.contains(&format!("MetricName=\\\"{name}\\\"")),
                "{name} is not on the dashboard"
            );
        }
    }
}

/// The route table in the code (`jarvis_lambda::routes::ROUTES`) and the
/// routes Terraform deploys are the same routes to the same functions, and
/// the one public route is the one API Gateway leaves without the authorizer.
#[test]
fn terraform_deploys_exactly_the_route_table() {
    let deployed = routes();
    let declared: BTreeMap<String, String> = jarvis_lambda::routes::ROUTES
        .iter()
        .map(|r| (r.key(), r.function.name().to_owned()))
        .collect();
    assert_eq!(deployed, declared);
    let api = read("terraform/modules/api/main.tf");
    let public = api
        .lines()
        .find(|l| l.trim_start().starts_with("public_routes"))
        .expect("the API module lists its public routes")
        .to_owned();
    for r in jarvis_lambda::routes::ROUTES {
        assert_eq!(
            public.contains(&r.key()),
            r.public,
            "{}: public in the table and in Terraform must agree ({public})",
            r.key()
        );
    }
}

/// The OpenAPI document (`GET /openapi.json`) is valid OpenAPI 3.1, describes
/// exactly the routes Terraform deploys (with the authorizer everywhere but
/// the public route), and every sample API event's body matches its request
/// schema. The error bodies match too: each `ApiError`'s, and API Gateway's
/// own `{"message"}` (401, 413, 429, 503, which it answers before a function runs).
#[test]
fn the_openapi_document_describes_every_deployed_route_and_sample_event() {
    use jarvis_tests::openapi::{check, request, response};
    let doc = jarvis::openapi::document();
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let key = format!("{} {path}", method.to_uppercase());
            assert_eq!(
                op["security"] == serde_json::json!([]),
                key == "GET /healthz",
                "{key}: only the public route goes without a token"
            );
            described.insert(key);
        }
    }
    let deployed: BTreeSet<String> = routes().into_keys().collect();
    assert_eq!(described, deployed);

    let mut cases = Vec::new();
    for entry in std::fs::read_dir(repo().join("events")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !file.ends_with(".json") {
            continue;
        }
        let event: Value = serde_json::from_str(&read(&format!("events/{file}"))).unwrap();
        let Some(route) = event["routeKey"].as_str().filter(|r| deployed.contains(*r)) else {
            continue;
        };
        let is_json = event["headers"]["content-type"]
            .as_str()
            .is_some_and(|c| c.starts_with("application/json"));
        if let (Some(body), true) = (event["body"].as_str(), is_json) {
            let body: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("events/{file}: the body is not JSON: {e}"));
            cases.push(request(route, body));
        }
    }
    assert!(
        cases.len() >= 8,
        "the sample events' JSON bodies: {cases:?}"
    );
    use jarvis_core::ApiError;
    for (route, err) in [
        (
            "POST /search",
            ApiError::BadRequest("limit must be between 1 and 50".into()),
        ),
        (
            "GET /documents/{id}",
            ApiError::NotFound("no document doc_1".into()),
        ),
        (
            "POST /documents",
            ApiError::PayloadTooLarge("too large".into()),
        ),
        (
            "POST /documents",
            ApiError::UnsupportedMediaType("not read".into()),
        ),
        (
            "POST /uploads",
            ApiError::PayloadTooLarge("over the file limit".into()),
        ),
        ("POST /chat", ApiError::Conflict("still running".into())),
        (
            "POST /reminders",
            ApiError::Unprocessable("in the past".into()),
        ),
        (
            "POST /tasks",
            ApiError::Internal(jarvis_core::PortError::Invalid("x".into())),
        ),
    ] {
        let body: Value = serde_json::from_str(&err.body()).unwrap();
        cases.push(response(route, err.status(), body));
    }
    for (status, message) in [
        (401, "Unauthorized"),
        (413, "Request Entity Too Large"),
        (429, "Too Many Requests"),
        (503, "Service Unavailable"),
    ] {
        cases.push(response(
            "POST /search",
            status,
            serde_json::json!({ "message": message }),
        ));
    }
    let report = check(&doc, &cases);
    assert!(report.contains("valid OpenAPI 3.1.0"), "{report}");
}

const SITE: &str = "terraform/modules/site/main.tf";

/// The deployed `config.json` is the one the app reads: the local runtime's
/// keys, every Cognito setting `web/js/auth.js` reads, and each value wired
/// from the stack output it names (the WebSocket URL, the user pool's issuer
/// and app client, managed login's endpoints, the app's own address as the
/// place sign-in and sign-out come back to). The stack outputs it as
/// `app_config`.
#[test]
fn the_deployed_config_json_is_what_the_app_reads_wired_from_the_stacks_outputs() {
    let site = locals(SITE);
    let config = &site["config"];
    let local = jarvis::web::local_config();
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    };
    assert_eq!(
        keys(config),
        keys(&local),
        "the same top-level keys as GET /config.json"
    );
    assert_eq!(config["api_url"], "", "the API is on the app's own origin");
    assert_eq!(config["auth"]["mode"], "cognito");

    let auth_js = read("web/js/auth.js");
    let read_keys: BTreeSet<String> = regex::Regex::new(r"\bc\.([a-z_]+)")
        .unwrap()
        .captures_iter(&auth_js)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(read_keys.len() >= 6, "auth.js reads {read_keys:?}");
    let written = keys(&config["auth"]);
    let missing: Vec<_> = read_keys.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "auth.js reads {missing:?}, which config.json lacks"
    );

    let auth = &config["auth"];
    assert_eq!(auth["issuer"], "${var.issuer}");
    assert_eq!(auth["client_id"], "${var.client_id}");
    assert_eq!(auth["token_endpoint"], "${var.login_url}/oauth2/token");
    assert_eq!(
        auth["authorization_endpoint"],
        "${var.login_url}/oauth2/authorize"
    );
    assert_eq!(auth["redirect_uri"], "${local.url}/");
    assert_eq!(auth["logout_uri"], "${local.url}/");
    assert_eq!(config["ws_url"], "${var.websocket_url}");

    let stack = hcl("terraform/stack/main.tf");
    let module = &stack["module"]["site"];
    for (input, output) in [
        ("issuer", "${module.api.issuer}"),
        ("client_id", "${module.api.user_pool_client_id}"),
        ("login_url", "${module.api.login_url}"),
        ("websocket_url", "${module.api.websocket_url}"),
        ("websocket_origin", "${module.api.websocket_origin}"),
        ("api_url", "${module.api.api_url}"),
        ("upload_bucket", "${module.storage.raw_bucket}"),
    ] {
        assert_eq!(module[input], output, "site.{input}");
    }
    let api = read("terraform/modules/api/outputs.tf");
    assert!(api.contains("value       = aws_apigatewayv2_api.ws.api_endpoint"));
    assert!(api.contains(".auth.${var.region}.amazoncognito.com"));
    let outputs = hcl("terraform/stack/outputs.tf");
    assert_eq!(
        outputs["output"]["app_config"]["value"],
        "${module.site.config}"
    );
    let site_outputs = hcl("terraform/modules/site/outputs.tf");
    assert_eq!(site_outputs["output"]["config"]["value"], "${local.config}");
    let object = &hcl(SITE)["resource"]["aws_s3_object"]["config"];
    assert_eq!(object["key"], "config.json");
    assert_eq!(object["content"], "${jsonencode(local.config)}");
}

/// Managed login sends the browser back only to the app (authorization code +
/// PKCE, no secret in a browser), on a domain whose global prefix carries the
/// account and the region.
#[test]
fn managed_login_returns_to_the_app_with_a_code_and_pkce_on_a_unique_domain() {
    let api = hcl("terraform/modules/api/main.tf");
    let client = &api["resource"]["aws_cognito_user_pool_client"]["app"];
    assert_eq!(client["generate_secret"], false);
    assert_eq!(client["callback_urls"], "${var.app_urls}");
    assert_eq!(client["logout_urls"], "${var.app_urls}");
    assert!(
        client["allowed_oauth_flows"]
            .to_string()
            .contains(r#"[\"code\"]"#),
        "{}",
        client["allowed_oauth_flows"]
    );
    assert!(!client["allowed_oauth_flows"]
        .to_string()
        .contains("implicit"));
    let domain = &api["resource"]["aws_cognito_user_pool_domain"]["login"];
    let name = domain["domain"].as_str().unwrap();
    assert!(
        name.contains("account_id") && name.contains("var.region"),
        "the domain prefix is global per region: {name}"
    );
    let branding = &api["resource"]["aws_cognito_managed_login_branding"]["app"];
    assert_eq!(
        branding["client_id"],
        "${aws_cognito_user_pool_client.app.id}"
    );
    let stack = hcl("terraform/stack/main.tf");
    assert_eq!(
        stack["module"]["api"]["app_urls"],
        serde_json::json!(["${module.site.url}"])
    );
}

/// The headers CloudFront adds are the ones the local runtime sends: the same
/// Content-Security-Policy directive by directive (connect-src names the
/// WebSocket API, the raw bucket and managed login instead of `ws:`), HSTS,
/// no framing, no sniffing, no referrer; the bucket is private (OAC) and the
/// viewer is sent to HTTPS.
#[test]
fn cloudfront_sends_the_runtimes_headers_over_https_only_from_a_private_bucket() {
    let text = read(SITE);
    let start = text.find("csp = join(\"; \", [").expect("the site's CSP");
    let end = start + text[start..].find("])").unwrap();
    let deployed: BTreeMap<String, String> = regex::Regex::new(r#""([a-z-]+) ([^"]*)""#)
        .unwrap()
        .captures_iter(&text[start..end])
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect();
    let local: BTreeMap<String, String> = jarvis::web::CONTENT_SECURITY_POLICY
        .split("; ")
        .map(|d| {
            let (k, v) = d.split_once(' ').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    assert_eq!(
        deployed.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    for (k, v) in &local {
        if k != "connect-src" {
            assert_eq!(&deployed[k], v, "{k}");
        }
    }
    assert_eq!(deployed["connect-src"], "${local.connect}");
    let connect = locals(SITE)["connect"].to_string();
    for origin in [
        "'self'",
        "var.websocket_origin",
        "var.upload_bucket",
        "var.login_url",
    ] {
        assert!(
            connect.contains(origin),
            "connect-src lacks {origin}: {connect}"
        );
    }
    assert!(
        !connect.contains("wss:\\\"") && !connect.contains('*'),
        "no scheme-wide or wildcard origins: {connect}"
    );

    let site = hcl(SITE);
    let policy = &site["resource"]["aws_cloudfront_response_headers_policy"]["site"]
        ["security_headers_config"];
    assert_eq!(
        policy["content_security_policy"]["content_security_policy"],
        "${local.csp}"
    );
    assert_eq!(policy["frame_options"]["frame_option"], "DENY");
    assert_eq!(policy["referrer_policy"]["referrer_policy"], "no-referrer");
    assert!(
        policy["strict_transport_security"]["access_control_max_age_sec"]
            .as_i64()
            .unwrap()
            >= 31_536_000
    );
    let dist = &site["resource"]["aws_cloudfront_distribution"]["site"];
    assert_eq!(
        dist["default_cache_behavior"]["viewer_protocol_policy"],
        "redirect-to-https"
    );
    assert_eq!(
        dist["default_cache_behavior"]["response_headers_policy_id"],
        "${aws_cloudfront_response_headers_policy.site.id}"
    );
    let origins = dist["origin"].as_array().expect("two origins");
    let bucket = origins.iter().find(|o| o["origin_id"] == "site").unwrap();
    assert_eq!(
        bucket["origin_access_control_id"],
        "${aws_cloudfront_origin_access_control.site.id}"
    );
    let api = origins.iter().find(|o| o["origin_id"] == "api").unwrap();
    assert_eq!(
        api["custom_origin_config"]["origin_protocol_policy"],
        "https-only"
    );
    let oac = &site["resource"]["aws_cloudfront_origin_access_control"]["site"];
    assert_eq!(oac["signing_behavior"], "always");
    // Only this distribution reads the bucket.
    let reads = &site["data"]["aws_iam_policy_document"]["cloudfront_reads"]["statement"];
    assert_eq!(
        reads["condition"]["values"],
        serde_json::json!(["${aws_cloudfront_distribution.site.arn}"])
    );
    assert_eq!(reads["actions"], serde_json::json!(["s3:GetObject"]));
}

/// The distribution serves the API on the app's origin: each route's first
/// path segment goes to API Gateway (uncached, every header but Host), and no
/// file of the bundle falls under one of those paths (it would never be
/// served). The SPA function sends extension-less paths to index.html, which
/// must exist.
#[test]
fn api_paths_go_to_api_gateway_and_no_file_of_the_bundle_is_shadowed() {
    let site = hcl(SITE);
    let dist = &site["resource"]["aws_cloudfront_distribution"]["site"];
    let behavior = &dist["dynamic"]["ordered_cache_behavior"];
    assert_eq!(behavior["for_each"], "${local.api_prefixes}");
    let content = &behavior["content"];
    assert_eq!(content["path_pattern"], "${ordered_cache_behavior.value}*");
    assert_eq!(content["target_origin_id"], "api");
    assert_eq!(
        content["cache_policy_id"],
        "${data.aws_cloudfront_cache_policy.disabled.id}"
    );
    assert_eq!(
        site["data"]["aws_cloudfront_origin_request_policy"]["all_but_host"]["name"],
        "Managed-AllViewerExceptHostHeader"
    );
    assert_eq!(
        hcl("terraform/stack/main.tf")["module"]["site"]["api_routes"],
        "${keys(module.functions.routes)}"
    );

    // What `local.api_prefixes` computes, from the deployed routes.
    let prefixes: BTreeSet<String> = routes()
        .keys()
        .map(|k| {
            let path = k.split_once(' ').unwrap().1;
            format!("/{}", path.split('/').nth(1).unwrap())
        })
        .collect();
    assert!(
        prefixes.contains("/search") && prefixes.contains("/me"),
        "{prefixes:?}"
    );
    assert!(
        prefixes.len() <= 24,
        "CloudFront allows 25 behaviors by default: {prefixes:?}"
    );
    let web = repo().join("web");
    let mut files = Vec::new();
    let mut stack = vec![web.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(format!("/{}", p.strip_prefix(&web).unwrap().display()));
            }
        }
    }
    assert!(files.iter().any(|f| f == "/index.html"), "{files:?}");
    for f in &files {
        for p in &prefixes {
            assert!(!f.starts_with(p.as_str()), "{f} would go to the API ({p}*)");
        }
    }
    let route = read("terraform/modules/site/app-route.js");
    assert!(route.contains("request.uri = '/index.html'"));
}
