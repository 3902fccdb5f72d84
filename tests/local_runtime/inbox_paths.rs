//! The inbox hears of dropped files from the operating system whatever the
//! data folder is called: relative (what `make run` uses), behind a symbolic
//! link, and when an editor saves by writing a temporary file and renaming it
//! over. The runtime walks the whole folder only at start and every 60 s, so
//! a file announced within the waits below was announced by a notification.

use crate::helpers::spawn_app_with;
use jarvis_core::config::vars;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// `to` as seen from the current directory, through `..`: a relative path.
fn relative(to: &Path) -> PathBuf {
    let here = std::env::current_dir().unwrap().canonicalize().unwrap();
    let to = to.canonicalize().unwrap();
    let common = here
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in here.components().skip(common) {
        out.push(Component::ParentDir);
    }
    for part in to.components().skip(common) {
        out.push(part);
    }
    assert!(out.is_relative(), "{}", out.display());
    out
}

/// Waits for `key` to be a document, far less than the 60 s between walks.
async fn announced(app: &crate::helpers::TestApp, key: &str) {
    for _ in 0..200 {
        let docs = app.documents().await;
        if docs
            .iter()
            .any(|d| d["source"]["key"].as_str() == Some(key))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{key} was not announced by a notification (the next full walk is 60 s away)");
}

#[tokio::test]
async fn a_file_dropped_into_a_relative_data_folder_is_announced_by_a_notification() {
    let dir = tempfile::tempdir().unwrap();
    let data = relative(dir.path());
    let app = spawn_app_with(&[
        (vars::DATA_DIR, data.to_str().unwrap()),
        (vars::INBOX_POLL_MS, "100"),
    ])
    .await;
    // The start's walk is over once the runtime answers; give it a tick more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(
        dir.path().join("inbox/notes.md"),
        "# Notes\n\nThe boiler is serviced on Monday.\n",
    )
    .unwrap();
    announced(&app, "notes.md").await;

    // An editor's save: a temporary file, renamed over the name.
    let tmp = dir.path().join("inbox/.plan.md.swp");
    std::fs::write(&tmp, "# Plan\n\nLisbon in May.\n").unwrap();
    std::fs::rename(&tmp, dir.path().join("inbox/plan.md")).unwrap();
    announced(&app, "plan.md").await;
}

#[tokio::test]
async fn a_file_dropped_into_a_data_folder_behind_a_symbolic_link_is_announced_by_a_notification() {
    let real = tempfile::tempdir().unwrap();
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("data");
    std::os::unix::fs::symlink(real.path(), &link).unwrap();
    let app = spawn_app_with(&[
        (vars::DATA_DIR, link.to_str().unwrap()),
        (vars::INBOX_POLL_MS, "100"),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(
        link.join("inbox/linked.md"),
        "# Linked\n\nThrough the link.\n",
    )
    .unwrap();
    announced(&app, "linked.md").await;
}
