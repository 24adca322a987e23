//! The JWKS cache: refetch on an unknown `kid` (rate-limited, single-flight), background
//! refresh that stops with the validator, and unreachable keys as a server-side error.

use std::time::Duration;

use warden_resource::{ValidationError, Validator};
use warden_types::SigningAlg;

use crate::support::{AUD, MockIssuer, claims, key, mint};

#[tokio::test]
async fn unknown_kid_refetches_once_and_accepts_the_rotated_key() {
    let issuer = MockIssuer::start().await;
    let old = key(SigningAlg::ES256, "old");
    issuer.publish(&old);
    let validator = Validator::builder(&issuer.issuer, AUD)
        .jwks_refresh_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    assert_eq!(issuer.fetches(), 1);

    // The issuer rotates to a key the validator has never seen.
    let new = key(SigningAlg::ES256, "new");
    issuer.publish(&new);
    let token = mint(&new, &claims(&issuer.issuer));
    assert!(validator.validate_cached(&token).is_none(), "needs a fetch");
    let accepted = validator.validate(&token).await.unwrap();
    assert_eq!(accepted.sub(), "client-1");
    assert_eq!(issuer.fetches(), 2);
    // Cached now: no more fetches, and the old key still works.
    assert!(validator.validate(&token).await.is_ok());
    assert!(
        validator
            .validate(&mint(&old, &claims(&issuer.issuer)))
            .await
            .is_ok()
    );
    assert!(validator.validate_cached(&token).unwrap().is_ok());
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test]
async fn refetches_for_unknown_kids_are_rate_limited() {
    let issuer = MockIssuer::start().await;
    issuer.publish(&key(SigningAlg::ES256, "k1"));
    let validator = Validator::builder(&issuer.issuer, AUD)
        .jwks_refresh_interval(Duration::ZERO)
        .jwks_min_refetch_interval(Duration::from_millis(800))
        .build()
        .await
        .unwrap();

    let ghost = key(SigningAlg::ES256, "ghost");
    let token = mint(&ghost, &claims(&issuer.issuer));
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        ValidationError::UnknownKey
    );
    assert_eq!(issuer.fetches(), 2, "one refetch for the unknown kid");

    // Another unknown kid within the interval: no fetch.
    let other = key(SigningAlg::ES256, "other");
    for _ in 0..5 {
        assert_eq!(
            validator
                .validate(&mint(&other, &claims(&issuer.issuer)))
                .await
                .unwrap_err(),
            ValidationError::UnknownKey
        );
    }
    assert_eq!(issuer.fetches(), 2);

    // Even once the key is published, the limit holds until the interval has passed.
    issuer.publish(&ghost);
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        ValidationError::UnknownKey
    );
    assert_eq!(issuer.fetches(), 2);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(validator.validate(&token).await.is_ok());
    assert_eq!(issuer.fetches(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kids_cause_a_single_fetch() {
    let issuer = MockIssuer::start().await;
    issuer.publish(&key(SigningAlg::ES256, "k1"));
    let validator = Validator::builder(&issuer.issuer, AUD)
        .jwks_refresh_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let new = key(SigningAlg::ES256, "k2");
    issuer.publish(&new);
    let token = mint(&new, &claims(&issuer.issuer));

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let validator = validator.clone();
            let token = token.clone();
            tokio::spawn(async move { validator.validate(&token).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test]
async fn unreachable_keys_are_a_server_error() {
    let issuer = MockIssuer::start().await;
    let k1 = key(SigningAlg::ES256, "k1");
    issuer.publish(&k1);
    let validator = Validator::builder(&issuer.issuer, AUD)
        .jwks_refresh_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    issuer.fail_jwks(true);
    let k2 = key(SigningAlg::ES256, "k2");
    let err = validator
        .validate(&mint(&k2, &claims(&issuer.issuer)))
        .await
        .unwrap_err();
    assert_eq!(err, ValidationError::KeysUnavailable);
    assert!(err.is_server_error());
    assert_eq!(err.status(), 503);
    assert_eq!(err.www_authenticate("api"), None);
    // Known keys keep working while the issuer is down.
    assert!(
        validator
            .validate(&mint(&k1, &claims(&issuer.issuer)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn background_refresh_runs_and_stops_with_the_validator() {
    let issuer = MockIssuer::start().await;
    issuer.publish(&key(SigningAlg::ES256, "k1"));
    let validator = Validator::builder(&issuer.issuer, AUD)
        .jwks_refresh_interval(Duration::from_millis(150))
        .build()
        .await
        .unwrap();
    let k2 = key(SigningAlg::ES256, "k2");
    issuer.publish(&k2);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let fetched = issuer.fetches();
    assert!(fetched >= 3, "background refresh ran {fetched} times");
    // The refresh found k2: the synchronous path knows it without any fetch.
    let token = mint(&k2, &claims(&issuer.issuer));
    assert!(validator.validate_cached(&token).unwrap().is_ok());

    let clone = validator.clone();
    drop(validator);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        issuer.fetches() > fetched,
        "a clone keeps the refresh alive"
    );

    drop(clone);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = issuer.fetches();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        issuer.fetches(),
        after_drop,
        "refresh stopped after the last drop"
    );
}
