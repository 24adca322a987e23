//! Against a real Warden: its JWT access tokens, audiences, expiry and key rotation.

use std::time::Duration;

use warden_core::clock::Clock as _;
use warden_resource::{TokenSource, ValidationError, Validator};
use warden_testkit::{Backend, TestServer};
use warden_types::{JwsAlgorithm, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

use crate::support::{AUD, warden_token};

const OTHER: &str = "https://api.example.com/billing";

async fn server() -> (TestServer, String, String) {
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .api(
            AUD,
            "payments:charge payments:refund",
            TokenFormat::Jwt,
            SigningAlg::ES256,
        )
        .await;
    server
        .api(OTHER, "billing:read", TokenFormat::Jwt, SigningAlg::RS256)
        .await;
    let (id, secret) = server
        .secret_client(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &[AUD, OTHER],
            None,
        )
        .await;
    (server, id, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_tokens_are_accepted_for_their_audience_only() {
    let (server, id, secret) = server().await;
    let validator = Validator::builder(&server.issuer, AUD)
        .algorithms([JwsAlgorithm::ES256])
        .build()
        .await
        .unwrap();
    let token = warden_token(
        &server,
        &id,
        &secret,
        &[("resource", AUD), ("scope", "payments:charge")],
    )
    .await;
    let access = validator.validate(&token).await.unwrap();
    assert_eq!(access.client_id(), id);
    assert_eq!(access.sub(), id);
    assert_eq!(access.aud(), [AUD.to_owned()]);
    assert!(access.has_scopes(["payments:charge"]));
    assert!(!access.has_scopes(["payments:refund"]));
    assert!(access.jti().is_some());
    assert!(access.exp() > access.iat().unwrap());
    assert_eq!(access.claims()["iss"], server.issuer.as_str());
    assert_eq!(access.source(), TokenSource::Jwt);

    // A token for another API of the same issuer.
    let billing = warden_token(&server, &id, &secret, &[("resource", OTHER)]).await;
    let for_billing = Validator::new(&server.issuer, OTHER).await.unwrap();
    assert!(for_billing.validate(&billing).await.is_ok());
    assert!(matches!(
        validator.validate(&billing).await.unwrap_err(),
        // RS256 is not on the ES256-only allow-list; with it, the audience check fails.
        ValidationError::AlgorithmNotAllowed
    ));
    let any_alg = Validator::new(&server.issuer, AUD).await.unwrap();
    assert_eq!(
        any_alg.validate(&billing).await.unwrap_err(),
        ValidationError::WrongAudience
    );
    assert_eq!(
        for_billing.validate(&token).await.unwrap_err(),
        ValidationError::WrongAudience
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_another_issuer_is_refused() {
    let (other, id, secret) = server().await;
    let (server, _, _) = server().await;
    let validator = Validator::builder(&server.issuer, AUD)
        .jwks_refresh_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let foreign = warden_token(&other, &id, &secret, &[("resource", AUD)]).await;
    // Its kid is not among this issuer's keys (even after a refetch).
    assert_eq!(
        validator.validate(&foreign).await.unwrap_err(),
        ValidationError::UnknownKey
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_warden_token_is_refused() {
    let (server, id, secret) = server().await;
    // Mint with the server's clock 20 minutes back: the 15-minute token expired 5 minutes ago.
    server.clock.advance(-1200);
    let token = warden_token(&server, &id, &secret, &[("resource", AUD)]).await;
    server.clock.advance(1200);
    let validator = Validator::builder(&server.issuer, AUD)
        .leeway(Duration::ZERO)
        .build()
        .await
        .unwrap();
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        ValidationError::Expired
    );
    // Even the largest leeway does not rescue it.
    let lenient = Validator::builder(&server.issuer, AUD)
        .leeway(Duration::from_secs(299))
        .build()
        .await
        .unwrap();
    assert_eq!(
        lenient.validate(&token).await.unwrap_err(),
        ValidationError::Expired
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_key_rotation_is_followed() {
    let (server, id, secret) = server().await;
    let validator = Validator::builder(&server.issuer, AUD)
        .jwks_refresh_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let kid = |token: &str| {
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&warden_jose::base64url_decode(header).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    let first = warden_token(&server, &id, &secret, &[("resource", AUD)]).await;

    // First rotation: the successor was published before the validator started.
    server.clock.advance(10);
    server
        .engine
        .maintain_keys(server.clock.now(), &[SigningAlg::ES256])
        .await
        .unwrap();
    let second = warden_token(&server, &id, &secret, &[("resource", AUD)]).await;
    assert_ne!(kid(&first), kid(&second));
    assert!(validator.validate_cached(&second).unwrap().is_ok());

    // Second rotation: this key was created after the validator fetched the JWKS, so its kid
    // is unknown and validation refetches.
    server.clock.advance(10);
    server
        .engine
        .maintain_keys(server.clock.now(), &[SigningAlg::ES256])
        .await
        .unwrap();
    let third = warden_token(&server, &id, &secret, &[("resource", AUD)]).await;
    assert_ne!(kid(&second), kid(&third));
    assert!(validator.validate_cached(&third).is_none());
    assert!(validator.validate(&third).await.is_ok());
    // Tokens of the retired keys still validate until they expire.
    assert!(validator.validate(&first).await.is_ok());
    assert!(validator.validate(&second).await.is_ok());
}
