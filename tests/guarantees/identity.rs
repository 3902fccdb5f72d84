//! File identity: a file keeps its own document whatever it comes to hold,
//! and every version of it gets a run of its own — even bytes a run still
//! under way has — so the last version is what ends indexed.

use super::*;
use jarvis_core::domain::{Document, DocumentStatus};
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{BlobStore, MetadataStore, StartOutcome, StatusChange, WorkflowStarter};

/// Step Functions as AWS runs it (moto refuses a repeated name instead):
/// StartExecution with the name *and input* of an execution still running
/// answers success and starts nothing; a finished one's name, or the name
/// with another input, is ExecutionAlreadyExists.
#[derive(Default)]
struct StepFunctions {
    /// name → (input, running), in start order.
    executions: std::sync::Mutex<Vec<(String, PipelineState, bool)>>,
    /// Executions started for real.
    started: std::sync::Mutex<Vec<(String, PipelineState)>>,
}

#[async_trait::async_trait]
impl WorkflowStarter for StepFunctions {
    async fn start(&self, name: &str, input: &PipelineState) -> PortResult<StartOutcome> {
        let mut executions = self.executions.lock().unwrap();
        if let Some((_, seen, running)) = executions.iter().find(|(n, _, _)| n == name) {
            return Ok(if *running && seen == input {
                StartOutcome::Started
            } else {
                StartOutcome::AlreadyExists
            });
        }
        executions.push((name.to_owned(), input.clone(), true));
        self.started
            .lock()
            .unwrap()
            .push((name.to_owned(), input.clone()));
        Ok(StartOutcome::Started)
    }
}

fn event(put: &jarvis_core::domain::ObjectRef) -> String {
    jarvis_core::ingest_event::object_created_body(
        &put.bucket,
        &put.key,
        &put.etag,
        put.size,
        now(),
    )
}

#[tokio::test]
async fn a_file_edited_back_to_bytes_whose_run_is_still_running_gets_a_run_of_its_own() {
    let (local, _runs, _dir) = local_stack();
    let sfn = Arc::new(StepFunctions::default());
    let deps = pipeline_router::Deps {
        workflows: sfn.clone(),
        ..pipeline_router::Deps::local(&local)
    };
    let raw = jarvis_local::stack::RAW_BUCKET;
    let key = "alice/uploads/plan.md";
    let put = |text: &'static str| {
        let blobs = local.blobs.clone();
        async move {
            blobs
                .put(raw, key, text.as_bytes().to_vec(), "text/markdown")
                .await
                .unwrap()
        }
    };
    let a = put("# Plan\n\nVersion A: we fly on Monday.").await;
    pipeline_router::route_one(&deps, &event(&a)).await.unwrap();
    let b = put("# Plan\n\nVersion B: we take the train.").await;
    pipeline_router::route_one(&deps, &event(&b)).await.unwrap();
    // Back to A while A's first run is still running.
    let again = put("# Plan\n\nVersion A: we fly on Monday.").await;
    assert_eq!(again.etag, a.etag);
    pipeline_router::route_one(&deps, &event(&again))
        .await
        .unwrap();
    // And each event delivered twice more: nothing more starts.
    for e in [&a, &b, &again] {
        pipeline_router::route_one(&deps, &event(e)).await.unwrap();
    }
    let started = sfn.started.lock().unwrap().clone();
    let runs: Vec<(String, u32)> = started
        .iter()
        .map(|(_, s)| (s.source.etag.clone(), s.run))
        .collect();
    assert_eq!(
        runs,
        [
            (a.etag.clone(), 0),
            (b.etag.clone(), 1),
            (a.etag.clone(), 2)
        ],
        "three versions, three runs: {started:?}"
    );
    let names: std::collections::BTreeSet<&String> = started.iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 3);
    for (name, _) in &started {
        jarvis_core::pipeline::check_execution_name(name).unwrap();
    }
    // The first run, superseded though its bytes are the document's again,
    // can neither finish nor fail the document; the third can.
    let alice = tenant("alice");
    let doc = local
        .metadata
        .get_document(&alice, &started[0].1.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.runs, 2);
    let finish = |state: &PipelineState| StatusChange {
        to: DocumentStatus::Indexed,
        reason: None,
        chunk_count: Some(1),
        title: None,
        from: vec![DocumentStatus::Queued, DocumentStatus::Processing],
        version: Some(state.version()),
        stage: None,
    };
    let stale = local
        .metadata
        .change_status(&alice, &doc.id, &finish(&started[0].1))
        .await;
    assert!(matches!(stale, Err(PortError::Conflict(_))), "{stale:?}");
    assert!(
        jarvis_core::curated::superseded_by(local.metadata.as_ref(), &started[0].1)
            .await
            .unwrap()
            .is_some()
    );
    let current = local
        .metadata
        .change_status(&alice, &doc.id, &finish(&started[2].1))
        .await
        .unwrap();
    assert_eq!(current.status, DocumentStatus::Indexed);
}

#[tokio::test]
async fn a_file_edited_to_match_another_stays_its_own_document_and_neither_delete_takes_the_other()
{
    let (local, _runs, _dir) = local_stack();
    let sfn = Arc::new(StepFunctions::default());
    let deps = pipeline_router::Deps {
        workflows: sfn.clone(),
        ..pipeline_router::Deps::local(&local)
    };
    let raw = jarvis_local::stack::RAW_BUCKET;
    let put = |key: &'static str, text: &'static str| {
        let blobs = local.blobs.clone();
        async move {
            blobs
                .put(raw, key, text.as_bytes().to_vec(), "text/markdown")
                .await
                .unwrap()
        }
    };
    let x = put("alice/uploads/x.md", "Otters swim in the river.").await;
    pipeline_router::route_one(&deps, &event(&x)).await.unwrap();
    let y = put("alice/uploads/y.md", "Badgers dig under the oak.").await;
    pipeline_router::route_one(&deps, &event(&y)).await.unwrap();
    // x is edited to y's bytes: x's own document takes the new version.
    let x2 = put("alice/uploads/x.md", "Badgers dig under the oak.").await;
    let outcome = pipeline_router::route_one(&deps, &event(&x2))
        .await
        .unwrap();
    let alice = tenant("alice");
    let x_id = jarvis_core::DocumentId::for_object(&alice, raw, "alice/uploads/x.md");
    let y_id = jarvis_core::DocumentId::for_object(&alice, raw, "alice/uploads/y.md");
    assert!(
        matches!(&outcome, pipeline_router::Outcome::Started(id) if *id == x_id),
        "{outcome:?}"
    );
    let x_doc: Document = local
        .metadata
        .get_document(&alice, &x_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (x_doc.source.etag.as_str(), x_doc.runs),
        (y.etag.as_str(), 1)
    );
    let y_doc = local
        .metadata
        .get_document(&alice, &y_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        y_doc.aliases.is_empty(),
        "x is not folded into y: {y_doc:?}"
    );
    // A new file with those bytes is a copy: folded into a document that has them.
    let z = put("alice/uploads/z.md", "Badgers dig under the oak.").await;
    let copy = pipeline_router::route_one(&deps, &event(&z)).await.unwrap();
    assert!(
        matches!(&copy, pipeline_router::Outcome::Duplicate { of } if *of == y_id || *of == x_id),
        "{copy:?}"
    );
    // z is then edited: it is no longer a copy. Deleting y, then x, takes
    // each one's own file only.
    put("alice/uploads/z.md", "Herons wait by the weir.").await;
    let documents = api_documents::Deps::local(&local);
    let deleted = api_documents::delete(&documents, &alice, &y_id)
        .await
        .unwrap();
    assert_eq!(deleted.files_removed, 1, "y's own file only");
    for kept in ["alice/uploads/x.md", "alice/uploads/z.md"] {
        assert!(
            local.blobs.head(raw, kept).await.is_ok(),
            "{kept} was deleted with y"
        );
    }
    let deleted = api_documents::delete(&documents, &alice, &x_id)
        .await
        .unwrap();
    assert_eq!(deleted.files_removed, 1, "x's own file only");
    assert!(
        local.blobs.head(raw, "alice/uploads/z.md").await.is_ok(),
        "z was deleted with x"
    );
}
