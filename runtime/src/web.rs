//! The web app, served by the local runtime: the static bundle in `web/`
//! (`JARVIS_WEB_DIR`) at `/`, its `config.json` written for this runtime, and
//! the sign-in a newcomer clicks — a one-time link printed at start
//! (`/#signin=<code>`), which the app trades for a token at `POST /auth/local`.
//!
//! Every file goes out with the same security headers CloudFront's
//! response-headers policy adds on AWS (`terraform/modules/site`): a strict
//! Content-Security-Policy (scripts and styles from this origin only, no
//! inline code, no `eval`), `frame-ancestors 'none'`, no sniffing, no referrer.

use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jarvis_core::{ApiError, TenantId};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the bundle is when `JARVIS_WEB_DIR` does not say: this checkout's `web/`.
pub const DEFAULT_WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");

/// How long a sign-in link works (once).
pub const SIGN_IN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The policy every page is served with (the same as CloudFront's on AWS,
/// where `connect-src` also names the API's and the WebSocket's origins).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self' ws: wss:; frame-src 'self' blob:; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One-time sign-in codes, in memory: a restart prints a new link.
#[derive(Default)]
pub struct SignIns(Mutex<HashMap<String, (TenantId, Instant)>>);

impl SignIns {
    /// A new code for `tenant`.
    pub fn issue(&self, tenant: &TenantId) -> anyhow::Result<String> {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let code: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let mut codes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, (_, at)| at.elapsed() < SIGN_IN_LIFETIME);
        codes.insert(code.clone(), (tenant.clone(), Instant::now()));
        Ok(code)
    }

    /// The tenant of `code`, once: the code is gone after.
    pub fn redeem(&self, code: &str) -> Option<TenantId> {
        let mut codes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        codes
            .remove(code)
            .filter(|(_, at)| at.elapsed() < SIGN_IN_LIFETIME)
            .map(|(t, _)| t)
    }
}

/// `POST /auth/local {"code"}`: a sign-in link's code for an API token of its
/// tenant (`{"token", "tenant"}`); 401 for a code used, expired or unknown.
pub async fn sign_in(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Code {
        code: String,
    }
    let result = (|| {
        let code: Code = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("expected {{\"code\"}}: {e}")))?;
        let tenant = app
            .sign_ins
            .redeem(code.code.trim())
            .ok_or(ApiError::Unauthorized)?;
        let token = crate::issue_token(&app.stack, &tenant, "web sign-in").map_err(|e| {
            ApiError::Internal(jarvis_core::PortError::backend(
                "tokens",
                std::io::Error::other(e.to_string()),
            ))
        })?;
        Ok::<_, ApiError>(serde_json::json!({"token": token, "tenant": tenant}))
    })();
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => crate::server::error_response(&e),
    }
}

/// The app's settings here: the API and the WebSocket on this origin (empty
/// URLs), and the one-time link (or a pasted token) to sign in. The deployed
/// `config.json` (terraform/modules/site) has the same keys.
pub fn local_config() -> serde_json::Value {
    serde_json::json!({
        "api_url": "",
        "ws_url": "",
        "auth": {"mode": "local"},
    })
}

/// `GET /config.json`: where the app finds the API (this origin) and how it signs in.
pub async fn config() -> Response {
    let mut r = axum::Json(local_config()).into_response();
    secure(&mut r, "no-store");
    r
}

/// A file of the bundle for a GET that no API route took; `/` is the app,
/// and so is any path naming no file that a browser asks for as a page (SPA
/// routing, as CloudFront's viewer-request function does). Anything else is
/// the API's JSON 404. Every file is revalidated on each load (`no-cache`
/// with an ETag, then 304), so a changed bundle is seen at once, never half.
pub async fn file(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return crate::server::not_found().await;
    }
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let path = match uri.path() {
        "/" | "/index.html" => "index.html",
        p if wants_page && !p.rsplit('/').next().unwrap_or("").contains('.') => "index.html",
        p => p.trim_start_matches('/'),
    };
    let Some(file) = safe_join(&app.web_dir, path) else {
        return crate::server::not_found().await;
    };
    let Ok(meta) = tokio::fs::metadata(&file).await else {
        return crate::server::not_found().await;
    };
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let etag = format!("\"{:x}-{:x}\"", meta.len(), modified);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let Ok(bytes) = tokio::fs::read(&file).await else {
            return crate::server::not_found().await;
        };
        (StatusCode::OK, bytes).into_response()
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file)),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    secure(&mut r, "no-cache");
    r
}

/// The bundle's file at `path`, if `path` stays inside it.
fn safe_join(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path);
    if path.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(root.join(rel))
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The headers every file of the app carries.
fn secure(r: &mut Response, cache: &'static str) {
    let h = r.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_bundle_are_served() {
        let root = Path::new("/srv/web");
        assert_eq!(
            safe_join(root, "js/main.js"),
            Some(PathBuf::from("/srv/web/js/main.js"))
        );
        for bad in ["", "../etc/passwd", "js/../../x", "/abs", "./x"] {
            assert_eq!(safe_join(root, bad), None, "{bad}");
        }
    }

    #[test]
    fn a_sign_in_code_works_once() {
        let codes = SignIns::default();
        let alice = TenantId::parse("alice").unwrap();
        let code = codes.issue(&alice).unwrap();
        assert_eq!(codes.redeem(&code), Some(alice));
        assert_eq!(codes.redeem(&code), None);
        assert_eq!(codes.redeem("nope"), None);
    }
}
