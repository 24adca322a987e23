//! Validation of a JWT access token against a cached key, on one core: a plain
//! `std::time::Instant` loop over `Validator::validate_cached` (the synchronous path that
//! `validate` takes when the key is cached) and over `validate` itself on a current-thread
//! runtime. Prints mean and p99 per validation in µs for ES256 and RS256, and, as a baseline,
//! the cost of `warden-jose`'s parse + signature check alone.
//!
//! Run with `taskset -c 0 cargo bench -p warden-resource` on an otherwise idle machine.
//! `taskset` only pins the benchmark; it does not keep other processes (a `cargo build` next
//! door) off that core. When one does run there, the benchmark gets about half the core and
//! every mean roughly doubles while p50 stays put. The `cpu wait` column (Linux only: the
//! time this thread spent runnable but waiting for the CPU, from
//! `/proc/thread-self/schedstat`, as a share of the measurement) shows that; when it is above
//! 1% the means are not the cost of validation, and a warning says so.

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
        "{:<8} {:<16} {:>10} {:>10} {:>10} {:>10}",
        "alg", "path", "mean µs", "p50 µs", "p99 µs", "cpu wait"
    );
    let mut contended = false;
    for alg in [SigningAlg::ES256, SigningAlg::RS256] {
        let key = SigningKey::generate(alg, Kid::new("bench")).unwrap();
        let (validator, token) = runtime.block_on(setup(&key));

        let cached = measure(|| {
            let result = validator.validate_cached(&token);
            assert!(matches!(result, Some(Ok(_))));
        });
        contended |= report(alg, "validate_cached", &cached);

        let full = measure(|| {
            let result = runtime.block_on(validator.validate(&token));
            assert!(result.is_ok());
        });
        contended |= report(alg, "validate", &full);

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
        contended |= report(alg, "jose verify only", &baseline);
    }
    if contended {
        println!(
            "warning: this thread waited for the CPU for more than {MAX_CPU_WAIT_PERCENT}% of a \
             measurement; another process shared the core and the means above are inflated. \
             Rerun on an idle machine."
        );
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

/// Above this share of the measurement spent waiting for the CPU, the means are flagged.
const MAX_CPU_WAIT_PERCENT: f64 = 1.0;

/// One measurement: per-iteration durations, sorted, and the share of the wall time this
/// thread spent waiting for a CPU (`None` where the kernel does not report it).
struct Samples {
    sorted: Vec<Duration>,
    cpu_wait_percent: Option<f64>,
}

fn measure(mut f: impl FnMut()) -> Samples {
    for _ in 0..WARMUP {
        f();
    }
    let mut sorted = Vec::with_capacity(ITERATIONS);
    let wait_before = runqueue_wait();
    let wall = Instant::now();
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f();
        sorted.push(start.elapsed());
    }
    let wall = wall.elapsed();
    let cpu_wait_percent = wait_before.zip(runqueue_wait()).map(|(before, after)| {
        after.saturating_sub(before).as_secs_f64() / wall.as_secs_f64() * 100.0
    });
    sorted.sort_unstable();
    Samples {
        sorted,
        cpu_wait_percent,
    }
}

/// Time the current thread has spent runnable but not running (waiting on a run queue),
/// the second field of `/proc/thread-self/schedstat`; `None` off Linux or without schedstats.
fn runqueue_wait() -> Option<Duration> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let wait_ns = schedstat.split_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(wait_ns))
}

/// Prints one line; true when the measurement was disturbed by CPU contention.
fn report(alg: SigningAlg, path: &str, samples: &Samples) -> bool {
    let sorted = &samples.sorted;
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = sorted.iter().map(|d| micros(*d)).sum::<f64>() / sorted.len() as f64;
    let p50 = micros(sorted[sorted.len() / 2]);
    let p99 = micros(sorted[sorted.len() * 99 / 100]);
    let wait = samples
        .cpu_wait_percent
        .map_or_else(|| "n/a".to_owned(), |percent| format!("{percent:.1}%"));
    println!(
        "{:<8} {:<16} {:>10.1} {:>10.1} {:>10.1} {:>10}",
        alg.as_str(),
        path,
        mean,
        p50,
        p99,
        wait
    );
    samples
        .cpu_wait_percent
        .is_some_and(|percent| percent > MAX_CPU_WAIT_PERCENT)
}
