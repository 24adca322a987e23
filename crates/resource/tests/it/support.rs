//! A local issuer (metadata + JWKS served by axum on port 0) whose keys the tests publish and
//! withdraw, token minting with warden-jose keys, and helpers for a real Warden.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use warden_jose::SigningKey;
use warden_resource::{Clock, UnixTime};
use warden_testkit::TestServer;
use warden_types::jwk::Jwk;
use warden_types::{Kid, SigningAlg};

/// The audience of most tests.
pub(crate) const AUD: &str = "https://api.example.com/payments";

pub(crate) fn now() -> UnixTime {
    Clock::system().now()
}

#[derive(Default)]
struct IssuerState {
    keys: Mutex<Vec<Jwk>>,
    fetches: AtomicUsize,
    fail_jwks: AtomicBool,
    advertised_issuer: Mutex<String>,
}

/// A minimal authorization server: metadata and a JWK Set.
pub(crate) struct MockIssuer {
    pub(crate) issuer: String,
    state: Arc<IssuerState>,
}

impl MockIssuer {
    /// Metadata at `{issuer}/.well-known/openid-configuration`.
    pub(crate) async fn start() -> Self {
        Self::start_with("", false).await
    }

    /// An issuer with a path (`{base}/tenant`) whose metadata is only at the RFC 8414
    /// location `{base}/.well-known/oauth-authorization-server/tenant`.
    pub(crate) async fn start_rfc8414() -> Self {
        Self::start_with("/tenant", true).await
    }

    async fn start_with(path: &str, rfc8414: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}{path}");
        let state = Arc::new(IssuerState::default());
        *state.advertised_issuer.lock().unwrap() = issuer.clone();

        let metadata = {
            let state = state.clone();
            let jwks_uri = format!("{base}/jwks");
            move || {
                let state = state.clone();
                let jwks_uri = jwks_uri.clone();
                async move {
                    let issuer = state.advertised_issuer.lock().unwrap().clone();
                    Json(json!({"issuer": issuer, "jwks_uri": jwks_uri}))
                }
            }
        };
        let jwks = {
            let state = state.clone();
            move || {
                let state = state.clone();
                async move {
                    state.fetches.fetch_add(1, Ordering::SeqCst);
                    if state.fail_jwks.load(Ordering::SeqCst) {
                        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    }
                    let keys = state.keys.lock().unwrap().clone();
                    Json(json!({ "keys": keys })).into_response()
                }
            }
        };
        let metadata_path = if rfc8414 {
            format!("/.well-known/oauth-authorization-server{path}")
        } else {
            format!("{path}/.well-known/openid-configuration")
        };
        let app = axum::Router::new()
            .route(&metadata_path, get(metadata))
            .route("/jwks", get(jwks));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { issuer, state }
    }

    /// Adds a key's public JWK to the JWK Set.
    pub(crate) fn publish(&self, key: &SigningKey) {
        self.state.keys.lock().unwrap().push(key.public_jwk());
    }

    /// How often the JWK Set was fetched.
    pub(crate) fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Makes the JWKS endpoint answer 500.
    pub(crate) fn fail_jwks(&self, fail: bool) {
        self.state.fail_jwks.store(fail, Ordering::SeqCst);
    }

    /// Makes the metadata name another issuer.
    pub(crate) fn advertise_issuer(&self, issuer: &str) {
        *self.state.advertised_issuer.lock().unwrap() = issuer.to_owned();
    }
}

/// A fresh key.
pub(crate) fn key(alg: SigningAlg, kid: &str) -> SigningKey {
    SigningKey::generate(alg, Kid::new(kid)).unwrap()
}

/// RFC 9068 claims for `issuer` and [`AUD`], valid for five minutes.
pub(crate) fn claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "sub": "client-1", "aud": AUD, "client_id": "client-1",
        "exp": now + 300, "iat": now, "jti": "jti-1",
        "scope": "payments:charge payments:refund",
    })
}

/// Signs `claims` as an at+jwt.
pub(crate) fn mint(key: &SigningKey, claims: &Value) -> String {
    key.sign_jwt("at+jwt", claims).unwrap()
}

/// Signs `claims` (ES256) with a header built by jsonwebtoken: `typ` and `kid` as given.
pub(crate) fn mint_es256_with(
    key: &SigningKey,
    typ: Option<&str>,
    kid: Option<&str>,
    claims: &Value,
) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = typ.map(str::to_owned);
    header.kid = kid.map(str::to_owned);
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(key.pkcs8_der());
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

/// A client-credentials token from a real Warden.
pub(crate) async fn warden_token(
    server: &TestServer,
    id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let resp = server.post_form("/token", &form, Some((id, secret))).await;
    let (status, body) = warden_testkit::json(resp).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}
