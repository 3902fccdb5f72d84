//! Every sample in `events/` deserializes into the type its handler takes, and
//! reads back the facts the handlers rely on.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::sqs::SqsEvent;
use jarvis_core::ingest_event::parse_object_created;
use jarvis_core::pipeline::{FailedState, PipelineState};

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
    let search: ApiGatewayV2httpRequest =
        serde_json::from_str(include_str!("../../../events/api-search.post-search.json")).unwrap();
    assert_eq!(
        jarvis_lambda::http::tenant(&search).unwrap().as_str(),
        "3f1c2a9e-5b7d-4e8a-9c0f-1a2b3c4d5e6f"
    );
    assert_eq!(jarvis_lambda::http::method(&search), "POST");
    let body: jarvis_core::search::SearchRequest =
        jarvis_lambda::http::json_body(&search, 16 * 1024).unwrap();
    assert!(body.validate().is_ok());

    let get: ApiGatewayV2httpRequest = serde_json::from_str(include_str!(
        "../../../events/api-documents.get-document.json"
    ))
    .unwrap();
    assert_eq!(
        jarvis_lambda::http::path_param(&get, "id"),
        Some("doc_27dac5043275c7cabbc18bb0")
    );
    let list: ApiGatewayV2httpRequest = serde_json::from_str(include_str!(
        "../../../events/api-documents.list-documents.json"
    ))
    .unwrap();
    assert_eq!(jarvis_lambda::http::query(&list, "status"), Some("indexed"));
}
