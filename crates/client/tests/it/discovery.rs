//! Discovery of the token endpoint from mock metadata documents.

use axum::Router;
use axum::routing::get;
use serde_json::json;
use warden_client::{Client, Credentials, Error};

use crate::support::serve;

#[tokio::test]
async fn falls_back_to_rfc_8414_metadata() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/tenant");
    let document = json!({"issuer": issuer, "token_endpoint": format!("{base}/tenant/token")});
    // Only the RFC 8414 location (with the issuer's path after the well-known suffix) exists.
    let router = Router::new().route(
        "/.well-known/oauth-authorization-server/tenant",
        get(move || async move { axum::Json(document) }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = Client::builder(&issuer, Credentials::client_secret_basic("c", "s"))
        .build()
        .await
        .unwrap();
    assert_eq!(client.token_endpoint(), format!("{base}/tenant/token"));
}

#[tokio::test]
async fn issuer_mismatch_is_refused() {
    let router = Router::new().route(
        "/.well-known/openid-configuration",
        get(|| async {
            axum::Json(json!({
                "issuer": "https://evil.example",
                "token_endpoint": "https://evil.example/token"
            }))
        }),
    );
    let base = serve(router).await;
    let error = Client::builder(&base, Credentials::client_secret_basic("c", "s"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Discovery(_)), "{error:?}");
}

#[tokio::test]
async fn unreachable_issuer_is_a_discovery_error() {
    let base = serve(Router::new()).await;
    let error = Client::builder(&base, Credentials::client_secret_basic("c", "s"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Discovery(_)), "{error:?}");
    let error = Client::builder("not a url", Credentials::client_secret_basic("c", "s"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidUrl(_)), "{error:?}");
}
