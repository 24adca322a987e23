//! DPoP end to end against local servers: a mock authorization server that demands a nonce and
//! mints at+jwt tokens bound to the proof key (`cnf.jkt`), and an API protected by
//! warden-resource's layer with resource-server nonces on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use warden_client::{Client, Credentials, DpopKey, Error, TOKEN_EXCHANGE_GRANT_TYPE};
use warden_jose::dpop::verify_dpop_proof;
use warden_jose::{SigningKey, random_bytes};
use warden_resource::{Authenticated, RequireScopeLayer, Validator};
use warden_types::{JwsAlgorithm, Kid, SigningAlg};

const API: &str = "https://api.example.com/payments";

struct AsState {
    base: String,
    key: SigningKey,
    /// The nonce the token endpoint currently wants.
    nonce: Mutex<String>,
    requests: AtomicUsize,
    /// The form of every request that got a token, with the proof claims.
    seen: Mutex<Vec<(HashMap<String, String>, Value)>>,
}

fn nonce() -> String {
    warden_jose::base64url_encode(&random_bytes::<12>())
}

fn oauth_error(status: StatusCode, error: &str, nonce: Option<&str>) -> Response {
    let mut response = (status, axum::Json(json!({"error": error}))).into_response();
    if let Some(nonce) = nonce {
        response
            .headers_mut()
            .insert("dpop-nonce", nonce.parse().unwrap());
    }
    response
}

async fn token(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let Some(proof) = headers.get("dpop").and_then(|v| v.to_str().ok()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", None);
    };
    let Ok(proof) = verify_dpop_proof(proof, &JwsAlgorithm::ASYMMETRIC) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", None);
    };
    let claims = proof.claims().clone();
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], format!("{}/token", state.base));
    assert!(claims.get("ath").is_none());
    let wanted = state.nonce.lock().unwrap().clone();
    if claims.get("nonce").and_then(Value::as_str) != Some(wanted.as_str()) {
        return oauth_error(StatusCode::BAD_REQUEST, "use_dpop_nonce", Some(&wanted));
    }
    // Every answer to a DPoP request carries the next nonce.
    let next = nonce();
    *state.nonce.lock().unwrap() = next.clone();
    let audience = form
        .get("resource")
        .cloned()
        .unwrap_or_else(|| API.to_owned());
    let now = warden_resource::Clock::system().now();
    let access_token = state
        .key
        .sign_jwt(
            "at+jwt",
            &json!({"iss": state.base, "sub": "c1", "client_id": "c1", "aud": audience,
                "iat": now, "exp": now + 300, "jti": nonce(), "scope": "payments:charge",
                "cnf": {"jkt": proof.thumbprint()}}),
        )
        .unwrap();
    state
        .seen
        .lock()
        .unwrap()
        .push((form.clone(), Value::Object(claims)));
    let mut body = json!({"access_token": access_token, "token_type": "DPoP",
        "expires_in": 300, "scope": "payments:charge"});
    if form.get("grant_type").map(String::as_str) == Some(TOKEN_EXCHANGE_GRANT_TYPE) {
        body["issued_token_type"] = json!(warden_client::ACCESS_TOKEN_TYPE);
    }
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert("dpop-nonce", next.parse().unwrap());
    response
}

async fn mock_as() -> Arc<AsState> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(AsState {
        base: base.clone(),
        key: SigningKey::generate(SigningAlg::ES256, Kid::new("as-1")).unwrap(),
        nonce: Mutex::new(nonce()),
        requests: AtomicUsize::new(0),
        seen: Mutex::new(Vec::new()),
    });
    let metadata = json!({"issuer": base, "jwks_uri": format!("{base}/jwks"),
        "token_endpoint": format!("{base}/token")});
    let jwks = json!({"keys": [state.key.public_jwk()]});
    let router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(metadata) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }))
        .route("/token", post(token))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    state
}

/// An API at `/charges` behind warden-resource, demanding its own DPoP nonces. Counts hits.
async fn api(issuer: &str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let validator = Validator::builder(issuer, API)
        .dpop_nonce_secret(random_bytes::<32>().to_vec())
        .public_url(&base)
        .build()
        .await
        .unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new()
        .route(
            "/charges",
            post(|Authenticated(token): Authenticated| async move {
                format!(
                    "charged by {} ({})",
                    token.client_id(),
                    token.is_dpop_bound()
                )
            }),
        )
        .route_layer(RequireScopeLayer::new(
            validator.clone(),
            ["payments:charge"],
        ))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    next.run(request).await
                }
            },
        ))
        .with_state(validator);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, hits)
}

async fn dpop_client(issuer: &str, key: DpopKey) -> Client {
    Client::builder(issuer, Credentials::client_secret_post("c1", "s1"))
        .dpop(key)
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_dpop_bound_after_one_nonce_retry() {
    let server = mock_as().await;
    let key = DpopKey::generate_es256().unwrap();
    let client = dpop_client(&server.base, key.clone()).await;
    assert_eq!(client.dpop_key().unwrap().thumbprint(), key.thumbprint());

    let token = client.token(API, &["payments:charge"]).await.unwrap();
    assert!(token.is_dpop());
    assert_eq!(token.token_type(), "DPoP");
    // The first request had no nonce, the retry had the one the server sent.
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    // Client secret (post) went along with the retry too.
    assert_eq!(seen[0].0["client_secret"], "s1");

    // The next request (another audience, so not cached) uses the nonce of the last answer
    // right away.
    let other = client
        .token("https://api.example.com/other", &[])
        .await
        .unwrap();
    assert!(other.is_dpop());
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);

    // Token exchange requests carry proofs too.
    let exchanged = client
        .exchange(token.token(), API, &["payments:charge"], None)
        .await
        .unwrap();
    assert!(exchanged.is_dpop());
    assert_eq!(server.requests.load(Ordering::SeqCst), 4);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen[2].0["grant_type"], TOKEN_EXCHANGE_GRANT_TYPE);
    // Proofs are never reused.
    let jtis: std::collections::HashSet<_> = seen.iter().map(|(_, c)| c["jti"].clone()).collect();
    assert_eq!(jtis.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_nonce_demand_is_not_retried() {
    // A token endpoint that always wants another nonce: one retry, then the error.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new().route(
        "/token",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                oauth_error(StatusCode::BAD_REQUEST, "use_dpop_nonce", Some(&nonce()))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client =
        Client::builder_for_token_endpoint(&url, Credentials::client_secret_basic("c", "s"))
            .dpop(DpopKey::generate_es256().unwrap())
            .build()
            .await
            .unwrap();
    let error = client.token(API, &[]).await.unwrap_err();
    assert_eq!(error.oauth_error().unwrap().as_str(), "use_dpop_nonce");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_uses_the_dpop_scheme_and_the_apis_nonce() {
    let server = mock_as().await;
    let (api_base, hits) = api(&server.base).await;
    let client = dpop_client(&server.base, DpopKey::generate_es256().unwrap()).await;
    let http = reqwest::Client::new();

    // First call: the API wants its nonce (401 use_dpop_nonce), the client retries once.
    let response = client
        .send(
            http.post(format!("{api_base}/charges?amount=5")).body("{}"),
            API,
            &["payments:charge"],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "charged by c1 (true)");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // The nonce is remembered for the API's origin: no retry now.
    let response = client
        .send(
            http.post(format!("{api_base}/charges")).body("{}"),
            API,
            &["payments:charge"],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    // authorize() builds the same headers for a request sent by the caller.
    let request = client
        .authorize(
            http.post(format!("{api_base}/charges")),
            API,
            &["payments:charge"],
        )
        .await
        .unwrap()
        .build()
        .unwrap();
    let authorization = &request.headers()["authorization"];
    assert!(authorization.to_str().unwrap().starts_with("DPoP "));
    assert!(authorization.is_sensitive());
    let proof = request.headers()["dpop"].to_str().unwrap();
    let proof = verify_dpop_proof(proof, &JwsAlgorithm::ASYMMETRIC).unwrap();
    assert_eq!(proof.claims()["htm"], "POST");
    assert_eq!(proof.claims()["htu"], format!("{api_base}/charges"));
    assert!(proof.claims()["ath"].is_string());
    assert!(proof.claims()["nonce"].is_string());
    assert_eq!(
        reqwest::Client::new()
            .execute(request)
            .await
            .unwrap()
            .status(),
        200
    );

    // A bound token sent without the key's proof is refused by the API.
    let token = client.token(API, &["payments:charge"]).await.unwrap();
    let response = http
        .post(format!("{api_base}/charges"))
        .bearer_auth(token.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn dpop_tokens_need_a_dpop_key_and_tls_options_are_exclusive() {
    // A server answering token_type DPoP to a client without a DPoP key.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let router = Router::new().route(
        "/token",
        post(|| async {
            axum::Json(json!({"access_token": "t", "token_type": "DPoP", "expires_in": 60}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client =
        Client::builder_for_token_endpoint(&url, Credentials::client_secret_basic("c", "s"))
            .build()
            .await
            .unwrap();
    assert!(matches!(
        client.token(API, &[]).await.unwrap_err(),
        Error::InvalidResponse(_)
    ));

    // mTLS: an identity for the default HTTP client, not together with a custom client.
    let cert = rcgen::generate_simple_self_signed(vec!["client.example".to_owned()]).unwrap();
    let pem = format!("{}{}", cert.cert.pem(), cert.signing_key.serialize_pem());
    let identity = reqwest::Identity::from_pem(pem.as_bytes()).unwrap();
    let client = Client::builder_for_token_endpoint(&url, Credentials::tls_client_auth("m1"))
        .identity(identity.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(client.client_id(), "m1");
    let error = Client::builder_for_token_endpoint(&url, Credentials::tls_client_auth("m1"))
        .identity(identity)
        .http_client(reqwest::Client::new())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)));
}
