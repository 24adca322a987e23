//! The token cache against a counting mock token endpoint.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::support::{MockTokenEndpoint, error_json, token_json};

#[tokio::test]
async fn fifty_concurrent_callers_share_one_request() {
    // The endpoint answers slowly, so every caller arrives while the request is in flight.
    let mock = MockTokenEndpoint::issuing(900, Duration::from_millis(200)).await;
    let client = mock.client().await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                // Same key in a different order on every other call.
                let scopes: &[&str] = if i % 2 == 0 { &["a", "b"] } else { &["b", "a"] };
                client.token("https://api.example.com", scopes).await
            })
        })
        .collect();
    for task in tasks {
        let token = task.await.unwrap().unwrap();
        assert_eq!(token.token(), "tok-1");
    }
    assert_eq!(mock.count(), 1);
}

#[tokio::test]
async fn different_keys_do_not_wait_for_each_other() {
    let mock = MockTokenEndpoint::issuing(900, Duration::from_millis(100)).await;
    let client = mock.client().await;
    let (a, b) = tokio::join!(
        client.token("https://a.example", &["read"]),
        client.token("https://b.example", &["read"])
    );
    assert_ne!(a.unwrap().token(), b.unwrap().token());
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn refreshed_ahead_of_expiry() {
    // expires_in 2 s: the default margin is capped at half the lifetime, so the token is
    // reused for one second and then refreshed, before it expires.
    let mock = MockTokenEndpoint::issuing(2, Duration::ZERO).await;
    let client = mock.client().await;
    assert_eq!(
        client.token("https://api", &[]).await.unwrap().token(),
        "tok-1"
    );
    assert_eq!(
        client.token("https://api", &[]).await.unwrap().token(),
        "tok-1"
    );
    assert_eq!(mock.count(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        client.token("https://api", &[]).await.unwrap().token(),
        "tok-2"
    );
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn failures_are_not_cached() {
    let mock = MockTokenEndpoint::start(
        Duration::ZERO,
        Arc::new(|n, _form| {
            if n == 1 {
                error_json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "try again",
                )
            } else {
                token_json("tok-ok", 900, "read").into_response()
            }
        }),
    )
    .await;
    let client = mock.client().await;
    let error = client.token("https://api", &["read"]).await.unwrap_err();
    assert_eq!(error.oauth_error().unwrap(), &"temporarily_unavailable");
    assert_eq!(
        client
            .token("https://api", &["read"])
            .await
            .unwrap()
            .token(),
        "tok-ok"
    );
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn a_failed_refresh_falls_back_to_the_still_valid_token() {
    let mock = MockTokenEndpoint::start(
        Duration::ZERO,
        Arc::new(|n, _form| {
            if n == 1 {
                token_json("tok-1", 60, "read").into_response()
            } else {
                error_json(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "boom")
            }
        }),
    )
    .await;
    let client = warden_client::Client::builder_for_token_endpoint(
        &mock.url,
        warden_client::Credentials::client_secret_basic("c", "s"),
    )
    .refresh_ahead(Duration::from_secs(60))
    .build()
    .await
    .unwrap();
    assert_eq!(
        client.token("https://api", &[]).await.unwrap().token(),
        "tok-1"
    );
    // Due for refresh at once; the refresh fails, the token has not expired.
    assert_eq!(
        client.token("https://api", &[]).await.unwrap().token(),
        "tok-1"
    );
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn malformed_responses_are_invalid_response() {
    let mock = MockTokenEndpoint::start(
        Duration::ZERO,
        Arc::new(|n, _form| match n {
            1 => (StatusCode::OK, "not json").into_response(),
            2 => axum::Json(serde_json::json!({"access_token": "x", "token_type": "DPoP"}))
                .into_response(),
            _ => (StatusCode::BAD_GATEWAY, "<html>").into_response(),
        }),
    )
    .await;
    let client = mock.client().await;
    for _ in 0..3 {
        let error = client.token("https://api", &[]).await.unwrap_err();
        assert!(
            matches!(error, warden_client::Error::InvalidResponse(_)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn client_secret_post_and_resource_are_sent() {
    let mock = MockTokenEndpoint::start(
        Duration::ZERO,
        Arc::new(|_n, form| {
            assert_eq!(form["grant_type"], "client_credentials");
            assert_eq!(form["resource"], "https://api.example.com");
            assert_eq!(form["scope"], "a b");
            assert_eq!(form["client_id"], "mock-client");
            assert_eq!(form["client_secret"], "mock-secret");
            token_json("tok", 900, "a b").into_response()
        }),
    )
    .await;
    let client = mock.client().await;
    client
        .token("https://api.example.com", &["b", "a", "b"])
        .await
        .unwrap();
}
