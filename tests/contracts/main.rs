//! Every port's contract (`jarvis_tests::contract`), run against the local
//! adapter and against the AWS adapter on the emulator.

use jarvis_local::blobs::FsBlobStore;
use jarvis_local::metadata::SqliteMetadataStore;
use jarvis_local::queue::SqliteQueue;
use jarvis_local::workflow::LocalWorkflows;
use jarvis_local::Db;
use jarvis_tests::contract;
use jarvis_tests::emulator::{self, fresh_stack, unique};

fn db(dir: &tempfile::TempDir) -> Db {
    Db::open(&dir.path().join("t.sqlite3")).unwrap()
}

#[tokio::test]
async fn blob_store_local() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsBlobStore::new([
        ("raw".to_owned(), dir.path().join("raw")),
        ("curated".to_owned(), dir.path().join("cur")),
    ])
    .unwrap();
    contract::blob_store(&blobs, "raw", "curated").await;
}

#[tokio::test]
async fn blob_store_s3() {
    let (stack, r) = fresh_stack().await;
    contract::blob_store(
        emulator::any_blobs(&stack).as_ref(),
        &r.raw_bucket,
        &r.curated_bucket,
    )
    .await;
}

#[tokio::test]
async fn metadata_store_local() {
    let dir = tempfile::tempdir().unwrap();
    contract::metadata_store(&SqliteMetadataStore::new(db(&dir))).await;
}

#[tokio::test]
async fn metadata_store_dynamodb() {
    let (stack, _) = fresh_stack().await;
    contract::metadata_store(stack.metadata(jarvis_aws::Rows::All).unwrap().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn record_store_local() {
    let dir = tempfile::tempdir().unwrap();
    // Another connection on the same file, per racing writer.
    let connect = || -> std::sync::Arc<dyn jarvis_core::ports::RecordStore> {
        std::sync::Arc::new(jarvis_local::records::SqliteRecordStore::new(db(&dir)))
    };
    contract::record_store(
        &jarvis_local::records::SqliteRecordStore::new(db(&dir)),
        &connect,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn record_store_dynamodb() {
    let (stack, _) = fresh_stack().await;
    let store = stack.records_across_tenants(jarvis_aws::Rows::All).unwrap();
    // Another client per racing writer.
    let connect = || -> std::sync::Arc<dyn jarvis_core::ports::RecordStore> {
        stack.records_across_tenants(jarvis_aws::Rows::All).unwrap()
    };
    contract::record_store(store.as_ref(), &connect).await;
}

#[tokio::test]
async fn queue_local() {
    let dir = tempfile::tempdir().unwrap();
    contract::queue(&SqliteQueue::new(db(&dir))).await;
}

#[tokio::test]
async fn queue_sqs() {
    let (stack, _) = fresh_stack().await;
    contract::queue(stack.ingest_queue().unwrap().as_ref()).await;
}

#[tokio::test]
async fn workflows_local() {
    let dir = tempfile::tempdir().unwrap();
    let (flows, _runs) = LocalWorkflows::new(db(&dir));
    contract::workflows(&flows, &unique("ingest")).await;
}

#[tokio::test]
async fn workflows_step_functions() {
    let (stack, _) = fresh_stack().await;
    contract::workflows(stack.workflows().unwrap().as_ref(), &unique("ingest")).await;
}
