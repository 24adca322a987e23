//! Validation of a JWT access token against a cached key, on one core: a plain
//! `std::time::Instant` loop over `Validator::validate_cached` (the synchronous path that
//! `validate` takes when the key is cached) and over `validate` itself on a current-thread
//! runtime. Prints mean and p99 per validation in µs for ES256 and RS256, and, as a baseline,
//! the cost of `warden-jose`'s parse + signature check alone.
//!
//! Run with `cargo bench -p warden-resource`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmark code

use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::get;
use serde_json::json;
use warden_jose::SigningKey;
use warden_resource::{Clock, Validator};
use warden_types::{Kid, SigningAlg};

const AUD: &str = "https://api.example.com/payments";
const WARMUP: usize = 2_000;
const ITERATIONS: usize = 20_000;

fn main() {
    // One worker thread: the measurement itself runs on this thread only.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "warden-resource: JWT validation with a cached key, one core, {ITERATIONS} iterations"
    );
    println!(
        "{:<8} {:<16} {:>10} {:>10} {:>10}",
        "alg", "path", "mean µs", "p50 µs", "p99 µs"
    );
    for alg in [SigningAlg::ES256, SigningAlg::RS256] {
        let key = SigningKey::generate(alg, Kid::new("bench")).unwrap();
        let (validator, token) = runtime.block_on(setup(&key));

        let cached = measure(|| {
            let result = validator.validate_cached(&token);
            assert!(matches!(result, Some(Ok(_))));
        });
        report(alg, "validate_cached", &cached);

        let full = measure(|| {
            let result = runtime.block_on(validator.validate(&token));
            assert!(result.is_ok());
        });
        report(alg, "validate", &full);

        // Baseline: warden-jose alone (parse + signature, no claim checks), to show how much
        // of the cost is the signature itself.
        let verifying_key = key.verifying_key();
        let allowed = [alg.jws()];
        let baseline = measure(|| {
            let verified = warden_jose::parse_compact(&token)
                .unwrap()
                .verify_with_key::<serde::de::IgnoredAny>(&verifying_key, &allowed);
            assert!(verified.is_ok());
        });
        report(alg, "jose verify only", &baseline);
    }
}

/// A local issuer serving metadata and a JWK Set with `key`, a validator for it, and a token.
async fn setup(key: &SigningKey) -> (Validator, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let metadata = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    let jwks = json!({"keys": [key.public_jwk()]});
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(metadata) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let validator = Validator::builder(&issuer, AUD)
        .jwks_refresh_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let now = Clock::system().now();
    let token = key
        .sign_jwt(
            "at+jwt",
            &json!({
                "iss": issuer, "sub": "mhW8RthxMtAoM9QXZwW-Xw", "aud": AUD,
                "client_id": "mhW8RthxMtAoM9QXZwW-Xw", "exp": now + 3600, "iat": now,
                "jti": "c3f1f1c2-2d1b-4c55-9a43-0c8f3d1c7f00", "scope": "payments:charge payments:refund",
            }),
        )
        .unwrap();
    (validator, token)
}

/// Per-iteration durations, sorted.
fn measure(mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..WARMUP {
        f();
    }
    let mut samples = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f();
        samples.push(start.elapsed());
    }
    samples.sort_unstable();
    samples
}

fn report(alg: SigningAlg, path: &str, samples: &[Duration]) {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = samples.iter().map(|d| micros(*d)).sum::<f64>() / samples.len() as f64;
    let p50 = micros(samples[samples.len() / 2]);
    let p99 = micros(samples[samples.len() * 99 / 100]);
    println!(
        "{:<8} {:<16} {:>10.1} {:>10.1} {:>10.1}",
        alg.as_str(),
        path,
        mean,
        p50,
        p99
    );
}
