//! The deployed sign-in, in the browser: the same web/ files with a
//! `config.json` in Cognito mode, in front of a stand-in for managed login
//! (authorize, token, logout, as the Cognito user pool's OAuth endpoints
//! answer) and a stand-in for API Gateway's JWT authorizer (it lets through
//! only the access token the sign-in server last issued, then forwards to the
//! local runtime). Served the way CloudFront serves it: one origin, the
//! deployed Content-Security-Policy.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "app-client-1";

#[derive(Default)]
pub struct Seen {
    /// Every access token issued, in order, and until when each is valid
    /// (a refresh does not end the earlier ones: they are JWTs, valid to
    /// their expiry, as Cognito's are).
    pub issued: Vec<String>,
    valid_until: HashMap<String, std::time::Instant>,
    /// code → (PKCE challenge, redirect_uri)
    codes: HashMap<String, (String, String)>,
    refresh: Option<String>,
    pub revoked: Vec<String>,
    pub grants: Vec<String>,
    /// Authorization headers the API stand-in let through, and refused.
    pub let_through: Vec<String>,
    pub refused: usize,
    pub logouts: Vec<String>,
    /// How long the next tokens live (seconds).
    pub expires_in: u64,
}

pub struct Cognito {
    pub base: String,
    pub seen: Arc<Mutex<Seen>>,
}

struct Ctx {
    base: String,
    api: String,
    api_token: String,
    web: std::path::PathBuf,
    seen: Arc<Mutex<Seen>>,
    http: reqwest::Client,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An ID token as Cognito shapes it (oauth4webapi checks its claims; a code
/// flow over TLS trusts the token endpoint for the signature).
fn id_token(issuer: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = b64(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    let claims = b64(json!({
        "iss": issuer, "aud": CLIENT_ID, "sub": "user-1", "token_use": "id",
        "email": "ana@example.com", "iat": now, "exp": now + 3600,
    })
    .to_string()
    .as_bytes());
    format!("{header}.{claims}.{}", b64(b"signature"))
}

impl Cognito {
    /// Serves web/ and the stand-ins on a free port; the API goes to `api`.
    pub async fn start(api: &str, api_token: &str, web: std::path::PathBuf) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen {
            expires_in: 3600,
            ..Seen::default()
        }));
        let ctx = Arc::new(Ctx {
            base: base.clone(),
            api: api.to_owned(),
            api_token: api_token.to_owned(),
            web,
            seen: seen.clone(),
            http: reqwest::Client::new(),
        });
        let app = Router::new()
            .route("/config.json", get(config))
            .route("/oauth2/authorize", get(authorize))
            .route("/oauth2/token", post(token))
            .route("/oauth2/revoke", post(revoke))
            .route("/logout", get(logout))
            .fallback(file_or_api)
            .with_state(ctx);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Cognito { base, seen }
    }

    pub fn issuer(base: &str) -> String {
        format!("{base}/eu-west-1_pool")
    }
}

async fn config(State(c): State<Arc<Ctx>>) -> Response {
    let body = json!({
        "api_url": "",
        "ws_url": "",
        "auth": {
            "mode": "cognito",
            "issuer": Cognito::issuer(&c.base),
            "client_id": CLIENT_ID,
            "domain": c.base,
            "authorization_endpoint": format!("{}/oauth2/authorize", c.base),
            "token_endpoint": format!("{}/oauth2/token", c.base),
            "revocation_endpoint": format!("{}/oauth2/revoke", c.base),
            "redirect_uri": format!("{}/", c.base),
            "logout_uri": format!("{}/", c.base),
            "scope": "openid email",
        }
    });
    axum::Json(body).into_response()
}

/// Managed login after the user typed their password: back to the app with a
/// code, remembering the PKCE challenge. Only S256 and only the registered
/// callback, as Cognito insists.
async fn authorize(
    State(c): State<Arc<Ctx>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || redirect != format!("{}/", c.base)
        || q.get("response_type").map(String::as_str) != Some("code")
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return (
            StatusCode::BAD_REQUEST,
            format!("bad authorize request: {q:?}"),
        )
            .into_response();
    }
    let code = format!("code-{}", rand_suffix());
    c.seen.lock().unwrap().codes.insert(
        code.clone(),
        (q["code_challenge"].clone(), redirect.clone()),
    );
    Redirect::to(&format!("{redirect}?code={code}&state={}", q["state"])).into_response()
}

fn rand_suffix() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    hex::encode(b)
}

async fn token(State(c): State<Arc<Ctx>>, body: String) -> Response {
    // application/x-www-form-urlencoded is a query string in a body.
    let form: Uri = format!("/?{body}").parse().unwrap();
    let Query(f) = Query::<HashMap<String, String>>::try_from_uri(&form).unwrap();
    let mut seen = c.seen.lock().unwrap();
    let grant = f.get("grant_type").cloned().unwrap_or_default();
    seen.grants.push(grant.clone());
    let ok = match grant.as_str() {
        "authorization_code" => {
            let Some((challenge, redirect)) =
                f.get("code").and_then(|code| seen.codes.remove(code))
            else {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            b64(&sha2::Sha256::digest(verifier.as_bytes())) == challenge
                && f.get("redirect_uri") == Some(&redirect)
                && f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        }
        "refresh_token" => {
            seen.refresh.is_some() && f.get("refresh_token") == seen.refresh.as_ref()
        }
        _ => false,
    };
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let access = format!("access-{}", rand_suffix());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(seen.expires_in);
    seen.valid_until.insert(access.clone(), until);
    seen.issued.push(access.clone());
    let mut body = json!({
        "access_token": access,
        "id_token": id_token(&Cognito::issuer(&c.base)),
        "token_type": "Bearer",
        "expires_in": seen.expires_in,
    });
    if grant == "authorization_code" {
        let refresh = format!("refresh-{}", rand_suffix());
        seen.refresh = Some(refresh.clone());
        body["refresh_token"] = json!(refresh);
    }
    axum::Json(body).into_response()
}

/// Revokes a refresh token (Cognito's /oauth2/revoke, token revocation on).
async fn revoke(State(c): State<Arc<Ctx>>, body: String) -> Response {
    let form: Uri = format!("/?{body}").parse().unwrap();
    let Query(f) = Query::<HashMap<String, String>>::try_from_uri(&form).unwrap();
    let mut seen = c.seen.lock().unwrap();
    let token = f.get("token").cloned().unwrap_or_default();
    if seen.refresh.as_ref() == Some(&token)
        && f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
    {
        seen.refresh = None;
        seen.revoked.push(token);
    }
    StatusCode::OK.into_response()
}

async fn logout(State(c): State<Arc<Ctx>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut seen = c.seen.lock().unwrap();
    seen.logouts
        .push(q.get("client_id").cloned().unwrap_or_default());
    Redirect::to(&q.get("logout_uri").cloned().unwrap_or_default()).into_response()
}

/// A file of web/ (as CloudFront's default behavior, with the deployed CSP),
/// or the API behind a JWT check (as API Gateway's authorizer).
async fn file_or_api(
    State(c): State<Arc<Ctx>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let file = if path == "/" {
        "index.html"
    } else {
        path.trim_start_matches('/')
    };
    let on_disk = c.web.join(file);
    if method == Method::GET && !file.contains("..") && on_disk.is_file() {
        let bytes = tokio::fs::read(&on_disk).await.unwrap();
        let kind = match on_disk.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("css") => "text/css",
            Some("js" | "mjs") => "text/javascript",
            Some("svg") => "image/svg+xml",
            Some("json" | "webmanifest") => "application/json",
            _ => "application/octet-stream",
        };
        let csp = jarvis::web::CONTENT_SECURITY_POLICY
            .replace("connect-src 'self' ws: wss:", "connect-src 'self'");
        return (
            [
                ("content-type", kind),
                ("content-security-policy", csp.as_str()),
            ],
            bytes,
        )
            .into_response();
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    {
        let mut seen = c.seen.lock().unwrap();
        let Some(token) = auth.strip_prefix("Bearer ") else {
            // The WebSocket (no header): the stand-in serves no socket.
            return StatusCode::UNAUTHORIZED.into_response();
        };
        let valid = seen
            .valid_until
            .get(token)
            .is_some_and(|until| std::time::Instant::now() < *until);
        if !valid {
            seen.refused += 1;
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "Unauthorized"})),
            )
                .into_response();
        }
        seen.let_through.push(auth);
    }
    let url = format!(
        "{}{}",
        c.api,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut req = c
        .http
        .request(method, url)
        .bearer_auth(&c.api_token)
        .body(body);
    if let Some(t) = headers.get("content-type") {
        req = req.header("content-type", t.clone());
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let kind = r.headers().get("content-type").cloned();
    let bytes = r.bytes().await.unwrap();
    let mut out = (status, bytes).into_response();
    if let Some(k) = kind {
        out.headers_mut().insert("content-type", k);
    }
    out
}
