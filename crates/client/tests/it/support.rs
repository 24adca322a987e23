//! Mock token endpoints and helpers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use warden_client::{Client, Credentials};

/// Serves `router` on 127.0.0.1:0 and returns `http://127.0.0.1:PORT`.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// What the mock token endpoint does for request number `n` (1-based) with the given form.
pub(crate) type Behaviour = Arc<dyn Fn(usize, &HashMap<String, String>) -> Response + Send + Sync>;

/// A counting mock token endpoint at `/token`.
pub(crate) struct MockTokenEndpoint {
    pub(crate) url: String,
    pub(crate) requests: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct MockState {
    requests: Arc<AtomicUsize>,
    delay: Duration,
    behaviour: Behaviour,
}

impl MockTokenEndpoint {
    pub(crate) async fn start(delay: Duration, behaviour: Behaviour) -> Self {
        let requests = Arc::new(AtomicUsize::new(0));
        let state = MockState {
            requests: requests.clone(),
            delay,
            behaviour,
        };
        let router = Router::new()
            .route("/token", post(mock_token))
            .with_state(state);
        let base = serve(router).await;
        Self {
            url: format!("{base}/token"),
            requests,
        }
    }

    /// Issues `tok-N` with `expires_in` for every request.
    pub(crate) async fn issuing(expires_in: u64, delay: Duration) -> Self {
        Self::start(
            delay,
            Arc::new(move |n, _form| {
                token_json(&format!("tok-{n}"), expires_in, "read").into_response()
            }),
        )
        .await
    }

    pub(crate) fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// A client_secret_post client of this endpoint.
    pub(crate) async fn client(&self) -> Client {
        Client::builder_for_token_endpoint(
            &self.url,
            Credentials::client_secret_post("mock-client", "mock-secret"),
        )
        .build()
        .await
        .unwrap()
    }
}

async fn mock_token(
    State(state): State<MockState>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    (state.behaviour)(n, &form)
}

pub(crate) fn token_json(token: &str, expires_in: u64, scope: &str) -> axum::Json<Value> {
    axum::Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }))
}

pub(crate) fn error_json(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The payload of a compact JWS, unverified (tests only).
pub(crate) fn jwt_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&warden_jose::base64url_decode(part).unwrap()).unwrap()
}
