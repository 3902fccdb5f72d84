//! Every sample in `events/` deserializes into the type its handler takes, and
//! reads back the facts the handlers rely on.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::event::sqs::SqsEvent;
use jarvis_core::pipeline::{FailedState, PipelineState};
use jarvis_lambda::s3_events::parse_object_created;

#[test]
fn the_ingest_queue_event_carries_an_object_created_body() {
    let event: SqsEvent = serde_json::from_str(include_str!(
        "../../../events/pipeline-router.sqs-object-created.json"
    ))
    .unwrap();
    let (id, body) = jarvis_lambda::sqs::bodies(&event).next().unwrap();
    assert_eq!(id, "059f36b4-87a3-44ab-83d2-661975830a7d");
    let created = parse_object_created(body).unwrap();
    assert_eq!(created.bucket, "jarvis-dev-raw");
    assert!(created.key.ends_with("/uploads/trip.md"));
    assert_eq!(created.size, 154);
}

#[test]
fn step_states_and_failures_parse() {
    let state: PipelineState =
        serde_json::from_str(include_str!("../../../events/pipeline-step.state.json")).unwrap();
    assert_eq!(state.content_type, "text/markdown");
    assert!(state.extracted.is_none());
    let failed: FailedState = serde_json::from_str(include_str!(
        "../../../events/mark-failed.failed-state.json"
    ))
    .unwrap();
    assert_eq!(failed.error.error, "Jarvis.Rejected");
    assert!(jarvis_lambda::step::reason_from_cause(&failed.error.cause)
        .starts_with("the PDF is corrupt"));
}

#[test]
fn api_requests_carry_the_tenant_route_and_parameters() {
    let search =
        lambda_http::request::from_str(include_str!("../../../events/api-search.post-search.json"))
            .unwrap();
    assert_eq!(
        jarvis_lambda::http::tenant(&search).unwrap().as_str(),
        "3f1c2a9e-5b7d-4e8a-9c0f-1a2b3c4d5e6f"
    );
    assert_eq!(search.method(), "POST");
    assert_eq!(
        jarvis_lambda::http::route(&search).unwrap().op,
        jarvis_lambda::routes::Op::Search
    );
    let body: jarvis_core::search::SearchRequest =
        jarvis_lambda::http::json_body(&search, 16 * 1024).unwrap();
    assert!(body.validate().is_ok());

    let get = lambda_http::request::from_str(include_str!(
        "../../../events/api-documents.get-document.json"
    ))
    .unwrap();
    assert_eq!(
        jarvis_lambda::http::path_param(&get, "id"),
        Some("doc_27dac5043275c7cabbc18bb0")
    );
    let list = lambda_http::request::from_str(include_str!(
        "../../../events/api-documents.list-documents.json"
    ))
    .unwrap();
    assert_eq!(jarvis_lambda::http::query(&list, "status"), Some("indexed"));
}

/// Every file in `events/`, by the type its function takes; a new sample without
/// an entry here fails this test.
#[test]
fn every_sample_deserializes_into_its_functions_event_type() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let function = name.split('.').next().unwrap();
        let parsed = match function {
            "pipeline-router" => serde_json::from_str::<SqsEvent>(&text).map(|_| ()),
            "tool-tasks" | "tool-reminders" | "tool-email" if !text.contains("routeKey") => {
                serde_json::from_str::<jarvis_core::tools::ToolCall>(&text).map(|call| {
                    assert_eq!(
                        jarvis_core::tools::owner(&call.name),
                        Some(function),
                        "{name}: a tool of this function"
                    );
                })
            }
            "memory-reflector" => serde_json::from_str::<serde_json::Value>(&text).map(|v| {
                let tenant = v.get("tenant_id").and_then(|t| t.as_str());
                assert!(
                    tenant.is_none_or(|t| jarvis_core::TenantId::parse(t).is_ok()),
                    "{name}"
                );
            }),
            "api-search" | "api-documents" | "api-chat" | "api-me" | "tool-tasks"
            | "tool-reminders" | "tool-email" => lambda_http::request::from_str(&text).map(|req| {
                assert!(
                    jarvis_lambda::http::tenant(&req).is_ok(),
                    "{name}: the JWT sub names the tenant"
                );
                let route = jarvis_lambda::http::route(&req);
                assert!(
                    route.is_ok_and(|r| r.function.name() == function),
                    "{name}: a route of the table, answered by this function"
                );
            }),
            "chat-stream" => {
                serde_json::from_str::<ApiGatewayWebsocketProxyRequest>(&text).map(|req| {
                    assert!(
                        jarvis_lambda::ws::tenant(&req).is_ok(),
                        "{name}: the authorizer's context names the tenant"
                    );
                    assert!(jarvis_lambda::ws::connection(&req).is_some(), "{name}");
                })
            }
            // ws_authorizer::AuthorizerRequest is this aws_lambda_events type.
            "ws-authorizer" => serde_json::from_str::<
                aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest,
            >(&text)
            .map(|r| {
                assert!(r
                    .method_arn
                    .as_deref()
                    .is_some_and(|a| a.ends_with("/$connect")));
                assert!(r.query_string_parameters.first("token").is_some(), "{name}");
            }),
            "mark-failed" => serde_json::from_str::<FailedState>(&text).map(|_| ()),
            // api-me's asynchronous invoke: erase_tenant::Job, one tenant.
            "erase-tenant" => serde_json::from_str::<serde_json::Value>(&text).map(|v| {
                let tenant = v["tenant_id"].as_str().unwrap_or_default();
                assert!(jarvis_core::TenantId::parse(tenant).is_ok(), "{name}");
                assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{name}");
            }),
            // A schedule's input, or a batch from the schedules' dead-letter queue.
            "reminder-fire" if text.contains("\"Records\"") => {
                serde_json::from_str::<SqsEvent>(&text).map(|batch| {
                    for r in &batch.records {
                        let body = r.body.as_deref().unwrap_or_default();
                        assert!(
                            serde_json::from_str::<jarvis_core::domain::ReminderRef>(body).is_ok(),
                            "{name}: the body is the schedule's input"
                        );
                    }
                })
            }
            "reminder-fire" => {
                serde_json::from_str::<jarvis_core::domain::ReminderRef>(&text).map(|_| ())
            }
            "pipeline-step" | "extract-document" | "extract-image" | "extract-audio"
            | "parse-email" | "detect-pii" | "chunk" | "embed" | "index" => {
                serde_json::from_str::<PipelineState>(&text).map(|s| {
                    let needs: &[(&str, bool)] = &[
                        ("detect-pii", s.extracted.is_some()),
                        ("chunk", s.extracted.is_some()),
                        ("embed", s.chunks.is_some()),
                        ("index", s.chunks.is_some() && s.embeddings.is_some()),
                    ];
                    for (f, ok) in needs {
                        assert!(
                            function != *f || *ok,
                            "{name}: {f} needs its input pointers"
                        );
                    }
                })
            }
            other => panic!("{name}: no event type known for function {other:?}"),
        };
        parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        checked += 1;
    }
    assert!(checked >= 16, "only {checked} samples");
}

#[test]
fn every_function_crate_has_a_sample_event() {
    let functions = concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions");
    let events = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
    let samples: Vec<String> = std::fs::read_dir(events)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for entry in std::fs::read_dir(functions).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            samples.iter().any(|s| s.starts_with(&format!("{name}."))),
            "functions/{name} has no events/{name}.*.json"
        );
    }
}
