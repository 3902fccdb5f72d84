//! SQS batches: records in, the ids of the ones to retry out (partial batch response).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// A batch response asking SQS to redeliver exactly `failed` message ids.
pub fn batch_response(failed: impl IntoIterator<Item = String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        let mut item = BatchItemFailure::default();
        item.item_identifier = id;
        response.batch_item_failures.push(item);
    }
    response
}

/// `(message id, body)` of each record; records without a body get an empty one.
pub fn bodies(event: &SqsEvent) -> impl Iterator<Item = (String, &str)> {
    event.records.iter().map(|r| {
        (
            r.message_id.clone().unwrap_or_default(),
            r.body.as_deref().unwrap_or(""),
        )
    })
}
