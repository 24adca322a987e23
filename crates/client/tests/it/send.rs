//! `authorize` and `send` against a small local resource server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::support::{MockTokenEndpoint, serve};

/// A resource server that refuses `tok-1` with `invalid_token` and accepts any other token;
/// `/scope` refuses everything with `insufficient_scope`. Counts requests.
async fn resource_server() -> (String, Arc<AtomicUsize>) {
    async fn data(State(count): State<Arc<AtomicUsize>>, headers: HeaderMap) -> Response {
        count.fetch_add(1, Ordering::SeqCst);
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match auth.strip_prefix("Bearer ") {
            Some("tok-1") | None => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="api", error="invalid_token", error_description="revoked""#,
                )],
            )
                .into_response(),
            Some(token) => format!("hello {token}").into_response(),
        }
    }
    async fn scope(State(count): State<Arc<AtomicUsize>>) -> Response {
        count.fetch_add(1, Ordering::SeqCst);
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                r#"Bearer error="insufficient_scope""#,
            )],
        )
            .into_response()
    }
    let count = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/data", get(data))
        .route("/scope", get(scope))
        .with_state(count.clone());
    (serve(router).await, count)
}

#[tokio::test]
async fn authorize_adds_the_bearer_header() {
    let mock = MockTokenEndpoint::issuing(900, Duration::ZERO).await;
    let client = mock.client().await;
    let request = client
        .authorize(
            reqwest::Client::new().get("http://unused.invalid/"),
            "https://api",
            &[],
        )
        .await
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(request.headers()[header::AUTHORIZATION], "Bearer tok-1");
    assert!(request.headers()[header::AUTHORIZATION].is_sensitive());
}

#[tokio::test]
async fn send_retries_once_on_invalid_token() {
    let mock = MockTokenEndpoint::issuing(900, Duration::ZERO).await;
    let (api, hits) = resource_server().await;
    let client = mock.client().await;
    let http = reqwest::Client::new();

    let response = client
        .send(http.get(format!("{api}/data")), "https://api", &["read"])
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello tok-2");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(mock.count(), 2);

    // The new token is cached: the next call needs neither a token request nor a retry.
    let response = client
        .send(http.get(format!("{api}/data")), "https://api", &["read"])
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn send_does_not_retry_other_401s() {
    let mock = MockTokenEndpoint::issuing(900, Duration::ZERO).await;
    let (api, hits) = resource_server().await;
    let client = mock.client().await;
    let response = client
        .send(
            reqwest::Client::new().get(format!("{api}/scope")),
            "https://api",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(mock.count(), 1);
}
