//! Against a real Warden: each authentication method, the cache, and server errors.

use warden_client::{Client, Credentials, Error, key};
use warden_core::admin::NewClient;
use warden_testkit::{Backend, TestServer};
use warden_types::jwk::JwkSet;
use warden_types::{Kid, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

use crate::support::jwt_payload;

const API: &str = "https://api.example.com/payments";

async fn server_with_api() -> TestServer {
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .api(API, "read write", TokenFormat::Jwt, SigningAlg::ES256)
        .await;
    server
}

/// Sum of `warden_tokens_issued_total` over all labels, from `/metrics`.
async fn tokens_issued(server: &TestServer) -> u64 {
    let text = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("warden_tokens_issued_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn assert_token_for_api(token: &warden_client::AccessToken, client_id: &str, scope: &str) {
    let claims = jwt_payload(token.token());
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["scope"], scope);
    assert_eq!(token.scope(), Some(scope));
    assert!(token.token_type().eq_ignore_ascii_case("bearer"));
    assert!(token.expires_at().is_some());
    assert_eq!(token.issued_token_type(), None);
}

#[tokio::test]
async fn client_secret_basic_with_discovery() {
    let server = server_with_api().await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    let client = Client::builder(
        &server.issuer,
        Credentials::client_secret_basic(&id, &secret),
    )
    .build()
    .await
    .unwrap();
    assert_eq!(client.token_endpoint(), server.token_endpoint());
    let token = client.token(API, &["read"]).await.unwrap();
    assert_token_for_api(&token, &id, "read");
    // The secret appears in neither Debug of the client nor of the token.
    let debug = format!("{client:?} {token:?}");
    assert!(!debug.contains(&secret), "{debug}");
    assert!(!debug.contains(token.token()), "{debug}");
}

#[tokio::test]
async fn client_secret_post() {
    let server = server_with_api().await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    let client = Client::builder(
        &server.issuer,
        Credentials::client_secret_post(&id, &secret),
    )
    .build()
    .await
    .unwrap();
    let token = client.token(API, &["write", "read"]).await.unwrap();
    assert_token_for_api(&token, &id, "read write");
}

#[tokio::test]
async fn private_key_jwt_each_algorithm() {
    let server = server_with_api().await;
    for alg in [SigningAlg::ES256, SigningAlg::EdDSA, SigningAlg::PS256] {
        let signing_key =
            warden_jose::SigningKey::generate(alg, Kid::new(format!("client-{alg}"))).unwrap();
        let info = server
            .client(NewClient {
                name: "batch job".into(),
                auth_method: TokenEndpointAuthMethod::PrivateKeyJwt,
                audiences: vec![API.into()],
                jwks: Some(JwkSet {
                    keys: vec![signing_key.public_jwk()],
                }),
                ..NewClient::default()
            })
            .await;
        let client = Client::builder(
            &server.issuer,
            Credentials::private_key_jwt(&info.client_id, signing_key),
        )
        .build()
        .await
        .unwrap();
        let token = client.token(API, &["read"]).await.unwrap();
        assert_token_for_api(&token, &info.client_id, "read");
        // A second assertion (new jti) is accepted: force a request with other scopes.
        client.token(API, &["write"]).await.unwrap();
    }
}

#[tokio::test]
async fn private_key_jwt_key_loaded_from_pem() {
    use base64::Engine as _;
    let server = server_with_api().await;
    let generated = warden_jose::SigningKey::generate(SigningAlg::ES256, Kid::new("k1")).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(generated.pkcs8_der())
    );
    let info = server
        .client(NewClient {
            name: "pem".into(),
            auth_method: TokenEndpointAuthMethod::PrivateKeyJwt,
            audiences: vec![API.into()],
            jwks: Some(JwkSet {
                keys: vec![generated.public_jwk()],
            }),
            ..NewClient::default()
        })
        .await;
    let loaded = key::from_pkcs8_pem(SigningAlg::ES256, "k1", &pem).unwrap();
    let client = Client::builder_for_token_endpoint(
        server.token_endpoint(),
        Credentials::private_key_jwt(&info.client_id, loaded),
    )
    .build()
    .await
    .unwrap();
    client.token(API, &["read"]).await.unwrap();
}

#[tokio::test]
async fn second_call_is_served_from_the_cache() {
    let server = server_with_api().await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    let client = Client::builder(
        &server.issuer,
        Credentials::client_secret_basic(&id, &secret),
    )
    .build()
    .await
    .unwrap();
    let first = client.token(API, &["read", "write"]).await.unwrap();
    assert_eq!(tokens_issued(&server).await, 1);
    // Same key (scopes sorted), from a clone: no request.
    let second = client.clone().token(API, &["write", "read"]).await.unwrap();
    assert_eq!(first.token(), second.token());
    assert_eq!(tokens_issued(&server).await, 1);
    // Other scopes are another key.
    let third = client.token(API, &["read"]).await.unwrap();
    assert_ne!(first.token(), third.token());
    assert_eq!(tokens_issued(&server).await, 2);
}

#[tokio::test]
async fn refresh_ahead_of_expiry_against_warden() {
    let server = server_with_api().await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    // Lifetime 900 s; refreshing 899 s ahead leaves one second of freshness.
    let client = Client::builder(
        &server.issuer,
        Credentials::client_secret_basic(&id, &secret),
    )
    .refresh_ahead(std::time::Duration::from_secs(899))
    .build()
    .await
    .unwrap();
    let first = client.token(API, &["read"]).await.unwrap();
    let cached = client.token(API, &["read"]).await.unwrap();
    assert_eq!(first.token(), cached.token());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let refreshed = client.token(API, &["read"]).await.unwrap();
    assert_ne!(first.token(), refreshed.token());
    assert_eq!(tokens_issued(&server).await, 2);
}

#[tokio::test]
async fn bad_secret_is_invalid_client_401() {
    let server = server_with_api().await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    let wrong = format!("{secret}x");
    let client = Client::builder(
        &server.issuer,
        Credentials::client_secret_basic(&id, &wrong),
    )
    .build()
    .await
    .unwrap();
    let error = client.token(API, &["read"]).await.unwrap_err();
    let Error::OAuth {
        error: code,
        status,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*code, "invalid_client");
    assert_eq!(*status, 401);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(&wrong), "{shown}");
    // Failures are not cached: the next call asks again (and fails again).
    assert!(client.token(API, &["read"]).await.is_err());
}

#[tokio::test]
async fn unknown_audience_is_invalid_target() {
    let server = server_with_api().await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    let client = Client::builder(
        &server.issuer,
        Credentials::client_secret_post(&id, &secret),
    )
    .build()
    .await
    .unwrap();
    let error = client
        .token("https://api.example.com/unknown", &["read"])
        .await
        .unwrap_err();
    assert_eq!(
        error.oauth_error().and_then(|c| c.known()),
        Some(warden_types::ErrorCode::InvalidTarget),
        "{error:?}"
    );
    let error = client.token(API, &["admin"]).await.unwrap_err();
    assert_eq!(error.oauth_error().unwrap(), &"invalid_scope");
}
