//! A real headless Chromium (Debian's `chromium`), driven by its
//! `chromedriver` over the W3C WebDriver protocol (JSON over HTTP, spoken here
//! with reqwest: a WebDriver crate would bring a second TLS stack): clicks,
//! keys, scripts, screenshots, accessibility checks (axe-core), and dark mode
//! and phone width through the DevTools protocol chromedriver relays.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Where screenshots go (under `target/`, not committed).
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/artifacts/web"
    ));
    std::fs::create_dir_all(&dir).expect("the artifacts folder");
    dir
}

/// axe-core, fetched for the tests by `make web-test-tools` (never served).
fn axe_source() -> String {
    let path = std::env::var("JARVIS_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/web-test/axe.min.js"
            ))
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is not at {}: {e}; `make web-test-tools` fetches it (make test does)",
            path.display()
        )
    })
}

/// The W3C key for Escape.
pub const ESCAPE: &str = "\u{E00C}";

pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: std::process::Child,
    _profile: tempfile::TempDir,
}

fn program(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

impl Browser {
    /// Chromium, headless, a fresh profile, 1280×860.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let chromedriver = program("CHROMEDRIVER", "chromedriver");
        let mut driver = std::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{chromedriver} could not start ({e}): make test installs chromium and chromium-driver (make browser)")
            });
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": program("CHROMIUM", "/usr/bin/chromium"),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--no-default-browser-check", "--window-size=1280,860",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        }}});
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut last = String::new();
        for _ in 0..150 {
            match http
                .post(format!("{base}/session"))
                .json(&caps)
                .send()
                .await
            {
                Ok(r) => {
                    let body: Value = r.json().await.unwrap_or_default();
                    if let Some(id) = body["value"]["sessionId"].as_str() {
                        return Self {
                            http,
                            session: format!("{base}/session/{id}"),
                            driver,
                            _profile: profile,
                        };
                    }
                    last = body.to_string();
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = driver.kill();
        let _ = driver.wait();
        panic!("chromedriver gave no session: {last}");
    }

    /// One WebDriver command: its `value`, or a panic with WebDriver's words.
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let body: Value = r.json().await.unwrap_or_default();
        if body["value"]["error"].is_string() {
            panic!("{path}: {}", body["value"]);
        }
        body["value"].clone()
    }

    async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let r = self
            .http
            .request(method, format!("{}{path}", self.session))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = r.json().await.map_err(|e| e.to_string())?;
        match body["value"]["error"].as_str() {
            Some(e) => Err(format!("{e}: {}", body["value"]["message"])),
            None => Ok(body["value"].clone()),
        }
    }

    /// One DevTools protocol call.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await
    }

    /// The page as `prefers-color-scheme: dark` (or light).
    pub async fn dark(&self, on: bool) {
        let value = if on { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
        )
        .await;
    }

    /// A phone's screen (390×844) or the desktop's again.
    pub async fn phone(&self, on: bool) {
        if on {
            self.cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
            )
            .await;
        } else {
            self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
                .await;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn windows(&self) -> Vec<String> {
        self.cmd(reqwest::Method::GET, "/window/handles", None)
            .await
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn switch_to_window(&self, handle: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/window",
            Some(json!({"handle": handle})),
        )
        .await;
    }

    /// Runs `script` (a function body; a returned promise is awaited) and
    /// answers what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Waits (up to `secs`) for `check` (a JS expression) to be true.
    pub async fn until(&self, what: &str, check: &str, secs: u64) {
        let script = format!("return !!({check});");
        for _ in 0..secs * 10 {
            if let Ok(v) = self
                .try_cmd(
                    reqwest::Method::POST,
                    "/execute/sync",
                    json!({"script": script, "args": []}),
                )
                .await
            {
                if v == json!(true) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = self.text().await;
        let shot = self
            .shot(&format!("failed-{}", what.replace(' ', "-")))
            .await;
        panic!(
            "never: {what} ({check}); see {}; the page said:\n{text}",
            shot.display()
        );
    }

    /// The text of the page.
    pub async fn text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element `using` `value` finds, waited for up to ten seconds.
    async fn element(&self, using: &str, value: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            match self
                .try_cmd(
                    reqwest::Method::POST,
                    "/element",
                    json!({"using": using, "value": value}),
                )
                .await
            {
                Ok(v) => {
                    if let Some(id) = v
                        .as_object()
                        .and_then(|o| o.values().next())
                        .and_then(Value::as_str)
                    {
                        return id.to_owned();
                    }
                }
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let shot = self.shot("failed-no-element").await;
        panic!("no element {value}: {last}; see {}", shot.display());
    }

    async fn click_element(&self, id: &str, what: &str) {
        let mut last = String::new();
        for _ in 0..50 {
            match self
                .try_cmd(
                    reqwest::Method::POST,
                    &format!("/element/{id}/click"),
                    json!({}),
                )
                .await
            {
                Ok(_) => return,
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("click {what}: {last}");
    }

    pub async fn click(&self, css: &str) {
        let id = self.element("css selector", css).await;
        self.click_element(&id, css).await;
    }

    /// Clicks the button (or link, or label) whose text contains `label`.
    pub async fn press(&self, label: &str) {
        let xpath = format!(
            "//*[self::button or self::a or self::label][contains(normalize-space(.), {})]",
            xpath_literal(label)
        );
        let id = self.element("xpath", &xpath).await;
        self.click_element(&id, label).await;
    }

    /// Types into a field (what was there first is cleared).
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element("css selector", css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.send_keys_to(&id, text).await;
    }

    /// Keys sent to an element (a file input takes paths, one per line).
    pub async fn send_keys(&self, css: &str, text: &str) {
        let id = self.element("css selector", css).await;
        self.send_keys_to(&id, text).await;
    }

    async fn send_keys_to(&self, id: &str, text: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// A key pressed wherever the focus is.
    pub async fn key(&self, key: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]}),
            ),
        )
        .await;
    }

    /// A screenshot, written to the artifacts folder as `name.png`.
    pub async fn shot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a PNG");
        let path = artifacts().join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// axe-core's violations of serious or critical impact on this page, as
    /// "rule: help — targets" lines.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        if self.js("return typeof window.axe === 'object'").await != json!(true) {
            self.js(&axe_source()).await;
        }
        let found = self
            .js("return axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', ')))")
            .await;
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn close(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else {
        format!("concat('{}')", s.replace('\'', "', \"'\", '"))
    }
}
