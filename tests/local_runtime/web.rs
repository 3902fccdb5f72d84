//! The web app as the runtime serves it: the bundle at `/` with its security
//! headers, SPA routing for pages only, revalidation with an ETag, nothing
//! outside web/, the local config.json, and one-time sign-in codes.

use crate::helpers::spawn_app;
use serde_json::{json, Value};

#[tokio::test]
async fn the_app_is_served_with_its_headers_and_nothing_outside_the_bundle() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let get = |path: &str, accept: &str| {
        http.get(format!("{}{path}", app.base))
            .header("accept", accept)
            .send()
    };

    let shell = get("/", "text/html").await.unwrap();
    assert_eq!(shell.status(), 200);
    let headers = shell.headers().clone();
    assert_eq!(
        headers["content-security-policy"],
        jarvis::web::CONTENT_SECURITY_POLICY
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-cache");
    let html = shell.text().await.unwrap();
    assert!(html.contains("<script type=\"module\""), "{html}");
    assert!(
        !html.contains("<script>"),
        "no inline script: the CSP forbids it"
    );

    // Revalidation: the same ETag gets a 304 with no body.
    let etag = get("/js/main.js", "*/*").await.unwrap().headers()["etag"].clone();
    let again = http
        .get(format!("{}/js/main.js", app.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let js = get("/js/main.js", "*/*").await.unwrap();
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );

    // A page the app routes is the app; an unknown API path is still JSON.
    let routed = get("/chat/some-conversation", "text/html,application/xhtml+xml")
        .await
        .unwrap();
    assert_eq!(routed.status(), 200);
    assert_eq!(routed.text().await.unwrap(), html);
    let api = get("/nowhere", "application/json").await.unwrap();
    assert_eq!(api.status(), 404);
    let body: Value = api.json().await.unwrap();
    assert!(body.to_string().contains("no such route"), "{body}");
    let missing = get("/js/missing.js", "*/*").await.unwrap();
    assert_eq!(missing.status(), 404, "a missing file is not the app");

    // Nothing outside web/, however the path is spelled.
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/js/..%2f..%2fCargo.toml",
        "//etc/passwd",
    ] {
        let r = get(path, "*/*").await.unwrap();
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("[workspace]") && !body.contains("root:"),
            "{path} leaked: {body}"
        );
    }

    let config: Value = get("/config.json", "*/*")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config, jarvis::web::local_config());
}

#[tokio::test]
async fn a_sign_in_link_works_once_and_its_token_is_the_tenants() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let link = app.running.as_ref().unwrap().sign_in_link().unwrap();
    let code = link.split("signin=").nth(1).unwrap().to_owned();
    let redeem = |body: Value| {
        http.post(format!("{}/auth/local", app.base))
            .json(&body)
            .send()
    };
    let first = redeem(json!({"code": code})).await.unwrap();
    assert_eq!(first.status(), 200);
    let body: Value = first.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    let (status, _) = app.get_as(token, "/documents").await;
    assert_eq!(status, 200, "the token works on the API");

    let second = redeem(json!({"code": code})).await.unwrap();
    assert_eq!(second.status(), 401, "a code signs in once");
    let bad = redeem(json!({"token": "x"})).await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad
        .json::<Value>()
        .await
        .unwrap()
        .to_string()
        .contains("code"));
}
