//! `spawn_app()`: a runtime on port 0 over a fresh data folder, with the real
//! embedding model (loaded once per test binary), and a client holding its token.

use jarvis_core::config::EmbedEngine;
use jarvis_core::config::{vars, Config};
use jarvis_core::ports::Embedder;
use jarvis_local::embedder::LocalEmbedder;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The model folder: `JARVIS_MODEL_DIR`, else the workspace's `models/all-MiniLM-L6-v2`.
fn model_dir() -> PathBuf {
    std::env::var_os(vars::MODEL_DIR)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2"))
}

fn model() -> Arc<dyn Embedder> {
    static MODEL: OnceLock<Arc<LocalEmbedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            // The engine the runtime would choose (JARVIS_EMBEDDER, else auto).
            let engine = EmbedEngine::from_value(std::env::var(vars::EMBEDDER).ok())
                .unwrap_or_else(|e| panic!("{e}"));
            Arc::new(
                LocalEmbedder::load(&model_dir(), engine)
                    .unwrap_or_else(|e| panic!("{e} (run `make model`)")),
            )
        })
        .clone()
}

pub struct TestApp {
    pub running: Option<jarvis::Running>,
    /// The runtime's clock: reminders fire when a test moves it.
    pub clock: jarvis_core::clock::ManualClock,
    pub base: String,
    pub token: String,
    pub data: PathBuf,
    pub client: reqwest::Client,
    env: HashMap<&'static str, String>,
    _dir: Option<tempfile::TempDir>,
}

/// A runtime on a fresh data folder.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A runtime with extra configuration (`JARVIS_*` variables).
pub async fn spawn_app_with(extra: &[(&'static str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut env: HashMap<&'static str, String> = HashMap::new();
    env.insert(vars::DATA_DIR, dir.path().display().to_string());
    env.insert(vars::BIND, "127.0.0.1:0".into());
    env.insert(vars::INBOX_POLL_MS, "50".into());
    // The parsers in their child process, as `jarvis` runs them.
    env.insert(vars::PARSER, env!("CARGO_BIN_EXE_jarvis-parse").into());
    for (k, v) in extra {
        env.insert(k, (*v).to_owned());
    }
    let mut app = TestApp {
        running: None,
        clock: jarvis_core::clock::ManualClock::at("2026-11-23T06:00:00Z".parse().expect("a time")),
        base: String::new(),
        token: String::new(),
        data: dir.path().to_owned(),
        client: reqwest::Client::new(),
        env,
        _dir: Some(dir),
    };
    app.start().await;
    app.token = app
        .running
        .as_ref()
        .unwrap()
        .first_token
        .clone()
        .expect("a first start creates a token");
    app
}

impl TestApp {
    async fn start(&mut self) {
        let env = self.env.clone();
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        let running = jarvis::start_with(config, model(), Arc::new(self.clock.clone()))
            .await
            .unwrap();
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// Stops the runtime and starts a new one on the same data folder.
    pub async fn restart(&mut self) {
        self.running.take().unwrap().shutdown().await;
        self.start().await;
        assert!(
            self.running.as_ref().unwrap().first_token.is_none(),
            "a restart keeps the tokens"
        );
    }

    /// Starts again after `running.take()…shutdown()` (time may have moved meanwhile).
    pub async fn restart_stopped(&mut self) {
        self.start().await;
    }

    pub fn token_for(&self, tenant: &str) -> String {
        let tenant = jarvis_core::TenantId::parse(tenant).unwrap();
        self.running
            .as_ref()
            .unwrap()
            .issue_token(&tenant, "test")
            .unwrap()
    }

    /// Writes a file into the inbox the way a careful tool does (temp name, then rename).
    pub fn drop_file(&self, name: &str, bytes: &[u8]) {
        let path = self.data.join("inbox").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let tmp = path.with_extension("part");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(tmp, path).unwrap();
    }

    pub async fn search_as(&self, token: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/search", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn search(&self, query: &str) -> Vec<Value> {
        let (status, body) = self
            .search_as(&self.token, serde_json::json!({ "query": query }))
            .await;
        assert_eq!(status, 200, "{body}");
        body["hits"].as_array().unwrap().clone()
    }

    /// `method path` with a JSON body (or none), as the test's tenant.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// `method path` as the tenant of `token`, with a raw body.
    pub async fn send_bytes_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    /// `GET path` as the tenant of `token`.
    pub async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let (status, body) = self
            .send_bytes_as(token, reqwest::Method::GET, path, Vec::new())
            .await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A chat turn that must succeed.
    pub async fn chat(&self, message: &str, conversation: Option<&str>) -> Value {
        let mut body = serde_json::json!({ "message": message });
        if let Some(c) = conversation {
            body["conversation_id"] = c.into();
        }
        let (status, out) = self.send(reqwest::Method::POST, "/chat", Some(body)).await;
        assert_eq!(status, 200, "{message}: {out}");
        out
    }

    /// The `.eml` files in the tenant's outbox.
    pub fn outbox(&self, tenant: &str) -> Vec<String> {
        let dir = self.data.join("outbox").join(tenant);
        let mut mails: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        mails.sort();
        mails
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn documents(&self) -> Vec<Value> {
        let (status, body) = self.get("/documents?limit=200").await;
        assert_eq!(status, 200, "{body}");
        body["documents"].as_array().unwrap().clone()
    }

    /// Waits until the document whose source key is `key` reaches a final status.
    pub async fn settled(&self, key: &str) -> Value {
        self.wait_for(
            |docs| {
                docs.iter()
                    .find(|d| d["source"]["key"] == key && is_final(d))
                    .cloned()
            },
            key,
        )
        .await
    }

    /// Polls the document list until `pick` finds something (30 s at most).
    pub async fn wait_for<T>(&self, pick: impl Fn(&[Value]) -> Option<T>, what: &str) -> T {
        for _ in 0..600 {
            if let Some(found) = pick(&self.documents().await) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {what}; documents: {:#}",
            Value::Array(self.documents().await)
        );
    }

    /// Waits until nothing is queued or running.
    pub async fn idle(&self) {
        for _ in 0..600 {
            let (_, health) = self.get("/healthz").await;
            let busy = self.documents().await.iter().any(|d| !is_final(d));
            if health["queue_depth"] == 0 && health["runs_in_flight"] == 0 && !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the runtime did not become idle");
    }
}

pub fn is_final(doc: &Value) -> bool {
    matches!(
        doc["status"].as_str(),
        Some("indexed" | "failed" | "skipped")
    )
}

/// A mail with a text body and one attachment.
pub fn mail_with_attachment(
    subject: &str,
    body: &str,
    file_name: &str,
    content_type: &str,
    attachment: &[u8],
) -> Vec<u8> {
    let encoded = base64_encode(attachment);
    format!(
        "From: Ana Silva <ana@example.com>\r\nTo: me@example.com\r\nSubject: {subject}\r\nDate: Mon, 2 Nov 2026 09:00:00 +0000\r\n\
         Message-ID: <t1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n\
         --XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
         --XYZ\r\nContent-Type: {content_type}; name=\"{file_name}\"\r\nContent-Disposition: attachment; filename=\"{file_name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--XYZ--\r\n"
    )
    .into_bytes()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let flat = base64::engine::general_purpose::STANDARD.encode(bytes);
    flat.as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}
