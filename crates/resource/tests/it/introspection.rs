//! Opaque tokens through a real Warden's introspection endpoint, and the cache's bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use warden_resource::{Clock, TokenSource, ValidationError, Validator};
use warden_testkit::{Backend, TestServer};
use warden_types::{SigningAlg, TokenEndpointAuthMethod, TokenFormat};

use crate::support::{AUD, warden_token};

struct Setup {
    server: TestServer,
    client: (String, String),
    introspector: (String, String),
}

async fn setup() -> Setup {
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .api(
            AUD,
            "payments:charge",
            TokenFormat::Opaque,
            SigningAlg::ES256,
        )
        .await;
    let client = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[AUD], None)
        .await;
    // The resource server's own confidential client, used only to introspect.
    let introspector = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[], None)
        .await;
    Setup {
        server,
        client,
        introspector,
    }
}

/// A system clock moved by `offset` seconds.
fn offset_clock() -> (Clock, Arc<AtomicI64>) {
    let offset = Arc::new(AtomicI64::new(0));
    let moved = offset.clone();
    (
        Clock::from_fn(move || Clock::system().now() + moved.load(Ordering::SeqCst)),
        offset,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_token_is_introspected_and_cached_until_the_ttl() {
    let s = setup().await;
    let (clock, offset) = offset_clock();
    let validator = Validator::builder(&s.server.issuer, AUD)
        .introspection(&s.introspector.0, &s.introspector.1)
        .introspection_cache_ttl(Duration::from_secs(60))
        .clock(clock)
        .build()
        .await
        .unwrap();
    let (id, secret) = &s.client;
    let token = warden_token(&s.server, id, secret, &[("scope", "payments:charge")]).await;
    assert!(token.starts_with("wdn_at_"), "{token}");
    assert!(
        validator.validate_cached(&token).is_none(),
        "not cached yet"
    );

    let access = validator.validate(&token).await.unwrap();
    assert_eq!(access.source(), TokenSource::Introspection);
    assert_eq!(access.client_id(), id);
    assert!(access.has_scopes(["payments:charge"]));
    assert_eq!(access.aud(), [AUD.to_owned()]);
    assert!(validator.validate_cached(&token).unwrap().is_ok());

    // Revoked at the issuer: the cached answer still serves until the TTL has passed …
    let resp = s
        .server
        .post_form("/revoke", &[("token", &token)], Some((id, secret)))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(validator.validate(&token).await.is_ok());
    // … and then introspection says inactive.
    offset.store(61, Ordering::SeqCst);
    assert!(validator.validate_cached(&token).is_none());
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        ValidationError::Inactive
    );

    // Unknown tokens are inactive too.
    assert_eq!(
        validator
            .validate("wdn_at_not-a-real-token")
            .await
            .unwrap_err(),
        ValidationError::Inactive
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_never_outlives_the_token() {
    let s = setup().await;
    let (clock, offset) = offset_clock();
    let validator = Validator::builder(&s.server.issuer, AUD)
        .introspection(&s.introspector.0, &s.introspector.1)
        .introspection_cache_ttl(Duration::from_secs(24 * 3600))
        .leeway(Duration::ZERO)
        .clock(clock)
        .build()
        .await
        .unwrap();
    let (id, secret) = &s.client;
    let token = warden_token(&s.server, id, secret, &[]).await;
    let access = validator.validate(&token).await.unwrap();
    let lifetime = access.exp() - Clock::system().now();
    assert!(lifetime > 0 && lifetime <= 900);

    // Just before exp: still cached. At exp: gone from the cache, and refused.
    offset.store(lifetime - 5, Ordering::SeqCst);
    assert!(validator.validate_cached(&token).unwrap().is_ok());
    offset.store(lifetime + 1, Ordering::SeqCst);
    assert!(validator.validate_cached(&token).is_none());
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        ValidationError::Expired
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_checks_audience_and_credentials() {
    let s = setup().await;
    let (id, secret) = &s.client;
    let token = warden_token(&s.server, id, secret, &[]).await;

    // An active token for another audience is not ours.
    let other = Validator::builder(&s.server.issuer, "https://api.example.com/other")
        .introspection(&s.introspector.0, &s.introspector.1)
        .build()
        .await
        .unwrap();
    assert_eq!(
        other.validate(&token).await.unwrap_err(),
        ValidationError::WrongAudience
    );

    // Bad introspection credentials are the resource server's problem: 503, not 401.
    let misconfigured = Validator::builder(&s.server.issuer, AUD)
        .introspection(&s.introspector.0, "wrong")
        .build()
        .await
        .unwrap();
    let err = misconfigured.validate(&token).await.unwrap_err();
    assert_eq!(err, ValidationError::IntrospectionUnavailable);
    assert_eq!(err.status(), 503);
}
