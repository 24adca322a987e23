//! Token exchange (RFC 8693) against a mock token endpoint: Warden's server side does not
//! exist yet.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use warden_client::{ACCESS_TOKEN_TYPE, Error, TOKEN_EXCHANGE_GRANT_TYPE};

use crate::support::{MockTokenEndpoint, error_json};

#[tokio::test]
async fn exchange_sends_an_rfc_8693_request_and_parses_the_response() {
    let mock = MockTokenEndpoint::start(
        Duration::ZERO,
        Arc::new(|_n, form| {
            // RFC 8693 §2.1.
            assert_eq!(form["grant_type"], TOKEN_EXCHANGE_GRANT_TYPE);
            assert_eq!(form["subject_token"], "subject-abc");
            assert_eq!(form["subject_token_type"], ACCESS_TOKEN_TYPE);
            assert_eq!(form["requested_token_type"], ACCESS_TOKEN_TYPE);
            assert_eq!(form["audience"], "https://api.example.com/ledger");
            assert_eq!(form["resource"], "https://api.example.com/ledger");
            assert_eq!(form["scope"], "ledger:read ledger:write");
            assert_eq!(form["actor_token"], "actor-xyz");
            assert_eq!(form["actor_token_type"], ACCESS_TOKEN_TYPE);
            assert_eq!(form["client_id"], "mock-client");
            // RFC 8693 §2.2.1.
            axum::Json(json!({
                "access_token": "exchanged-token",
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": 60,
                "scope": "ledger:read",
            }))
            .into_response()
        }),
    )
    .await;
    let client = mock.client().await;
    let token = client
        .exchange(
            "subject-abc",
            "https://api.example.com/ledger",
            &["ledger:write", "ledger:read"],
            Some("actor-xyz"),
        )
        .await
        .unwrap();
    assert_eq!(token.token(), "exchanged-token");
    assert_eq!(token.issued_token_type(), Some(ACCESS_TOKEN_TYPE));
    assert_eq!(token.scope(), Some("ledger:read"));
    assert_eq!(token.lifetime(), Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn exchange_without_actor_and_with_a_logical_audience() {
    let mock = MockTokenEndpoint::start(
        Duration::ZERO,
        Arc::new(|_n, form| {
            assert_eq!(form["audience"], "ledger");
            assert!(!form.contains_key("resource"));
            assert!(!form.contains_key("scope"));
            assert!(!form.contains_key("actor_token"));
            assert!(!form.contains_key("actor_token_type"));
            axum::Json(json!({
                "access_token": "t",
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "bearer",
                "expires_in": 60,
            }))
            .into_response()
        }),
    )
    .await;
    let client = mock.client().await;
    let token = client.exchange("s", "ledger", &[], None).await.unwrap();
    assert_eq!(token.scope(), None);
}

#[tokio::test]
async fn exchange_error_is_typed() {
    // RFC 8693 §2.2.2: errors are RFC 6749 §5.2 bodies; `invalid_target` for an audience the
    // server will not issue for.
    let mock = MockTokenEndpoint::start(
        Duration::ZERO,
        Arc::new(|_n, _form| {
            error_json(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "the subject may not be delegated to this API",
            )
        }),
    )
    .await;
    let client = mock.client().await;
    let error = client
        .exchange("subject", "https://api.example.com/ledger", &["x"], None)
        .await
        .unwrap_err();
    match error {
        Error::OAuth {
            error,
            description,
            status,
        } => {
            assert_eq!(error, warden_types::ErrorCode::InvalidTarget);
            assert_eq!(
                description.as_deref(),
                Some("the subject may not be delegated to this API")
            );
            assert_eq!(status, 400);
        }
        other => panic!("{other:?}"),
    }
    // Exchanges are never cached.
    let _ = client
        .exchange("subject", "https://api.example.com/ledger", &["x"], None)
        .await;
    assert_eq!(mock.count(), 2);
}
