//! `ws-authorizer`: user pool tokens checked against the issuer's JWKS, served
//! here by a loopback issuer with a test RSA key (`fixtures/`, made for these
//! tests only). Tokens are signed the way Cognito signs them (RS256 with a
//! `kid`), with ID-token and access-token claims.

use base64::Engine as _;
use chrono::Utc;
use jarvis_aws::auth::TokenVerifier;
use jarvis_tests::wire::{json_answer, Seen, WireServer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use ws_authorizer::{AuthorizerRequest, Deps};

const KEY: &[u8] = include_bytes!("fixtures/jwt-signing-key.der");
const MODULUS_HEX: &str = include_str!("fixtures/jwt-signing-key.modulus.hex");
const CLIENT: &str = "5example";

fn jwks() -> Value {
    let n = hex::decode(MODULUS_HEX.trim()).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    json!({"keys": [
        {"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig", "n": b64.encode(n), "e": "AQAB"},
        // Keys of other kinds are skipped, not fatal.
        {"kid": "ec", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
    ]})
}

fn sign(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(KEY)).unwrap()
}

/// A loopback issuer; `down` makes its JWKS answer 503.
async fn issuer(down: Arc<AtomicBool>) -> (WireServer, String) {
    let server = WireServer::start(move |s: Seen| {
        let down = down.load(Ordering::SeqCst);
        async move {
            assert_eq!(s.path, "/pool/.well-known/jwks.json");
            if down {
                return json_answer(503, &json!({"message": "unavailable"}));
            }
            json_answer(200, &jwks())
        }
    })
    .await;
    let iss = format!("{}/pool", server.url);
    (server, iss)
}

fn id_claims(iss: &str, sub: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({"sub": sub, "iss": iss, "aud": CLIENT, "token_use": "id", "iat": now, "exp": now + 3600, "email": "ana@example.com"})
}

fn request(token: &str) -> AuthorizerRequest {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/ws-authorizer.connect-request.json"
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["queryStringParameters"]["token"] = json!(token);
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn valid_pool_tokens_open_the_socket_with_their_tenant_and_others_are_denied() {
    let (server, iss) = issuer(Arc::default()).await;
    let deps = Deps {
        verifier: Arc::new(TokenVerifier::new(
            &iss,
            vec!["other".into(), CLIENT.into()],
        )),
    };
    let sample = request("x");
    let arn = sample.method_arn.clone().unwrap();

    // An ID token: allowed for this API's $connect, the tenant in the context.
    let id = sign("k1", &id_claims(&iss, "ana-7f3c"));
    let out = ws_authorizer::handle(&deps, request(&id)).await.unwrap();
    assert!(ws_authorizer::allowed(&out), "{out:?}");
    // What API Gateway reads, on the wire.
    let wire = serde_json::to_value(&out).unwrap();
    assert_eq!(wire["principalId"], "ana-7f3c");
    assert_eq!(wire["context"], json!({"tenant": "ana-7f3c"}));
    assert_eq!(wire["policyDocument"]["Version"], "2012-10-17");
    assert_eq!(wire["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        wire["policyDocument"]["Statement"][0]["Resource"],
        json!([arn])
    );
    assert_eq!(
        wire["policyDocument"]["Statement"][0]["Action"],
        json!(["execute-api:Invoke"])
    );

    // An access token names its client in client_id.
    let now = Utc::now().timestamp();
    let access = sign(
        "k1",
        &json!({"sub": "ana-7f3c", "iss": iss, "client_id": CLIENT, "token_use": "access", "scope": "openid", "exp": now + 600}),
    );
    assert!(ws_authorizer::allowed(
        &ws_authorizer::handle(&deps, request(&access))
            .await
            .unwrap()
    ));

    // Everything else is denied, never an error.
    let mut expired = id_claims(&iss, "ana-7f3c");
    expired["exp"] = json!(now - 3600);
    let mut other_client = id_claims(&iss, "ana-7f3c");
    other_client["aud"] = json!("someone-elses-app");
    let mut other_pool = id_claims(&iss, "ana-7f3c");
    other_pool["iss"] = json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other");
    let mut no_use = id_claims(&iss, "ana-7f3c");
    no_use.as_object_mut().unwrap().remove("token_use");
    let mut refresh_use = id_claims(&iss, "ana-7f3c");
    refresh_use["token_use"] = json!("refresh");
    let mut not_yet = id_claims(&iss, "ana-7f3c");
    not_yet["nbf"] = json!(now + 3600);
    let bad_sub = id_claims(&iss, "../bob");
    let genuine = sign("k1", &id_claims(&iss, "ana-7f3c"));
    let (head, rest) = genuine.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forged_body = b64.encode(id_claims(&iss, "bob").to_string());
    let hs256 = jsonwebtoken::encode(
        &Header {
            kid: Some("k1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &id_claims(&iss, "bob"),
        &EncodingKey::from_secret(b"guessable"),
    )
    .unwrap();
    let unsigned = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","kid":"k1"}"#),
        b64.encode(id_claims(&iss, "bob").to_string())
    );
    let cases = [
        ("expired", sign("k1", &expired)),
        ("another app client", sign("k1", &other_client)),
        ("another issuer", sign("k1", &other_pool)),
        ("no token_use", sign("k1", &no_use)),
        ("a refresh token_use", sign("k1", &refresh_use)),
        ("not valid yet", sign("k1", &not_yet)),
        ("a sub that is no tenant id", sign("k1", &bad_sub)),
        (
            "a swapped payload",
            format!("{head}.{forged_body}.{signature}"),
        ),
        ("HS256 with a guessed secret", hs256),
        ("alg none", unsigned),
        ("an unknown key", sign("k2", &id_claims(&iss, "ana-7f3c"))),
        ("not a JWT", "hello".into()),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        let out = ws_authorizer::handle(&deps, request(&token)).await.unwrap();
        assert!(!ws_authorizer::allowed(&out), "{what} must be denied");
        let wire = serde_json::to_value(&out).unwrap();
        assert_eq!(wire["policyDocument"]["Statement"][0]["Effect"], "Deny");
        assert_eq!(
            wire["context"],
            json!({}),
            "{what}: a denial carries no tenant"
        );
    }
    // The keys were fetched once; an unknown kid within the minute does not refetch.
    assert_eq!(server.seen().len(), 1, "JWKS fetches");
}

#[tokio::test]
async fn an_unreachable_issuer_fails_the_invocation_and_the_next_one_recovers() {
    let down = Arc::new(AtomicBool::new(true));
    let (server, iss) = issuer(down.clone()).await;
    let backoff = std::time::Duration::from_secs(1);
    let deps = Deps {
        verifier: Arc::new(TokenVerifier::new(&iss, vec![CLIENT.into()]).with_backoff(backoff)),
    };
    let token = sign("k1", &id_claims(&iss, "ana-7f3c"));
    let err = ws_authorizer::handle(&deps, request(&token))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    down.store(false, Ordering::SeqCst);
    // Within the backoff the issuer is not asked again: still retryable.
    for _ in 0..5 {
        let again = ws_authorizer::handle(&deps, request(&token))
            .await
            .unwrap_err();
        assert!(again.is_retryable(), "{again}");
    }
    assert_eq!(server.seen().len(), 1, "one fetch while backing off");
    tokio::time::sleep(backoff).await;
    assert!(ws_authorizer::allowed(
        &ws_authorizer::handle(&deps, request(&token)).await.unwrap()
    ));
    assert_eq!(server.seen().len(), 2);
}
