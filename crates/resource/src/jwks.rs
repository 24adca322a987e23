//! The issuer's JWK Set ([RFC 7517 §5]), parsed once into [`VerifyingKeySet`] and shared by
//! every validation; refreshed on a schedule by a background task and on demand when a token
//! names an unknown `kid`.
//!
//! On-demand refetches are single-flight (concurrent requests with the same unknown `kid`
//! cause one fetch) and rate-limited (at most one per `min_refetch`), so a stream of tokens
//! with made-up `kid`s cannot turn the resource server into a load generator against the
//! issuer. Warden publishes a key before it signs with it (`docs/keys.md`), so the scheduled
//! refresh normally finds new keys first.
//!
//! [RFC 7517 §5]: https://www.rfc-editor.org/rfc/rfc7517#section-5

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use warden_jose::VerifyingKeySet;
use warden_types::jwk::JwkSet;

use crate::http::{FetchError, get_json};

/// The cached key set.
pub(crate) struct JwksCache {
    uri: String,
    http: reqwest::Client,
    keys: RwLock<Arc<VerifyingKeySet>>,
    /// Held during every fetch: one fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// When the last on-demand (unknown `kid`) fetch started.
    last_on_demand: Mutex<Option<Instant>>,
    min_refetch: Duration,
}

/// What an on-demand refetch did.
pub(crate) enum Refetch {
    /// The set may have changed (fetched now, or by a concurrent request): try again.
    Retry,
    /// Rate-limited: the last on-demand fetch was too recent.
    RateLimited,
    /// The fetch failed; the old keys stay.
    Failed,
}

impl JwksCache {
    /// Fetches the set for the first time.
    pub(crate) async fn load(
        uri: String,
        http: reqwest::Client,
        min_refetch: Duration,
    ) -> Result<Self, FetchError> {
        let keys = fetch(&http, &uri).await?;
        Ok(Self {
            uri,
            http,
            keys: RwLock::new(Arc::new(keys)),
            fetching: tokio::sync::Mutex::new(()),
            last_on_demand: Mutex::new(None),
            min_refetch,
        })
    }

    /// The current keys.
    pub(crate) fn current(&self) -> Arc<VerifyingKeySet> {
        // A poisoned lock only means a writer panicked mid-assignment of an `Arc`, which
        // cannot leave it half-written.
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Scheduled refresh: fetch and replace; on failure keep the old keys.
    pub(crate) async fn refresh(&self) {
        let _guard = self.fetching.lock().await;
        self.fetch_and_store().await;
    }

    /// On-demand refetch after `seen` (the set a validation used) lacked the token's key.
    pub(crate) async fn refetch(&self, seen: &Arc<VerifyingKeySet>) -> Refetch {
        let _guard = self.fetching.lock().await;
        // Single flight: someone replaced the set while we waited for the lock.
        if !Arc::ptr_eq(&self.current(), seen) {
            return Refetch::Retry;
        }
        {
            let mut last = self
                .last_on_demand
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < self.min_refetch) {
                return Refetch::RateLimited;
            }
            *last = Some(Instant::now());
        }
        if self.fetch_and_store().await {
            Refetch::Retry
        } else {
            Refetch::Failed
        }
    }

    async fn fetch_and_store(&self) -> bool {
        match fetch(&self.http, &self.uri).await {
            Ok(keys) => {
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                true
            }
            Err(error) => {
                tracing::warn!(jwks_uri = %self.uri, %error, "JWKS refresh failed; keeping the cached keys");
                false
            }
        }
    }
}

/// GETs and parses the JWK Set, keeping the keys that can verify signatures. A set without a
/// single usable key is an error: it would make every token fail.
async fn fetch(http: &reqwest::Client, uri: &str) -> Result<VerifyingKeySet, FetchError> {
    let set: JwkSet = get_json(http, uri).await?;
    let keys = VerifyingKeySet::from_jwk_set(&set);
    if keys.is_empty() {
        return Err(FetchError::Json);
    }
    Ok(keys)
}
