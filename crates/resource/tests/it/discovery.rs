//! Discovery: OpenID Connect first, RFC 8414 with path insertion second; the metadata's
//! issuer must be exactly the configured one.

use std::time::Duration;

use warden_resource::{BuildError, Validator};
use warden_types::SigningAlg;

use crate::support::{AUD, MockIssuer, claims, key, mint};

#[tokio::test]
async fn rfc8414_metadata_with_a_path_issuer() {
    let issuer = MockIssuer::start_rfc8414().await;
    assert!(issuer.issuer.ends_with("/tenant"));
    let k = key(SigningAlg::EdDSA, "k1");
    issuer.publish(&k);
    let validator = Validator::new(&issuer.issuer, AUD).await.unwrap();
    assert_eq!(validator.issuer(), issuer.issuer);
    assert_eq!(validator.audience(), AUD);
    assert!(
        validator
            .validate(&mint(&k, &claims(&issuer.issuer)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn metadata_for_another_issuer_is_refused() {
    let issuer = MockIssuer::start().await;
    issuer.publish(&key(SigningAlg::ES256, "k1"));
    issuer.advertise_issuer("https://evil.example");
    assert_eq!(
        Validator::new(&issuer.issuer, AUD).await.unwrap_err(),
        BuildError::IssuerMismatch
    );
    // A trailing slash is a different issuer (RFC 8414 §3.3: identical).
    issuer.advertise_issuer(&format!("{}/", issuer.issuer));
    assert_eq!(
        Validator::new(&issuer.issuer, AUD).await.unwrap_err(),
        BuildError::IssuerMismatch
    );
}

#[tokio::test]
async fn configuration_errors() {
    let issuer = MockIssuer::start().await;
    issuer.publish(&key(SigningAlg::ES256, "k1"));
    let build = |b: warden_resource::ValidatorBuilder| async move { b.build().await.unwrap_err() };
    assert!(matches!(
        build(Validator::builder(&issuer.issuer, AUD).leeway(Duration::from_secs(301))).await,
        BuildError::InvalidConfig(_)
    ));
    assert!(matches!(
        build(Validator::builder(&issuer.issuer, AUD).algorithms([])).await,
        BuildError::InvalidConfig(_)
    ));
    assert!(matches!(
        build(Validator::builder(&issuer.issuer, "")).await,
        BuildError::InvalidConfig(_)
    ));
    assert!(matches!(
        build(Validator::builder("not a url", AUD)).await,
        BuildError::InvalidConfig(_)
    ));
    // Introspection credentials but no introspection_endpoint in the metadata.
    assert_eq!(
        build(Validator::builder(&issuer.issuer, AUD).introspection("id", "secret")).await,
        BuildError::NoIntrospectionEndpoint
    );
    // Nothing listening.
    assert_eq!(
        build(Validator::builder("http://127.0.0.1:9", AUD)).await,
        BuildError::Discovery
    );
    // Keys unavailable at start.
    issuer.fail_jwks(true);
    assert_eq!(
        build(Validator::builder(&issuer.issuer, AUD)).await,
        BuildError::Jwks
    );
}
