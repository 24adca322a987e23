//! Client public keys for `private_key_jwt`: parsed once per registry version for `jwks` by
//! value, fetched and cached for `jwks_uri`, refetched on an unknown `kid` at most once per
//! `jwks_refetch_interval` so a flood of bad assertions cannot turn Warden into a traffic
//! amplifier against the client's key server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use warden_jose::VerifyingKeySet;
use warden_types::UnixTime;
use warden_types::jwk::JwkSet;

/// Fetches a JWK Set document. The server implements it with an HTTP client that has a
/// timeout and a response size limit.
#[async_trait]
pub trait JwksFetcher: Send + Sync + 'static {
    /// Fetches and parses the JWK Set at `uri`.
    async fn fetch(&self, uri: &str) -> Result<JwkSet, String>;
}

#[derive(Clone)]
struct Entry {
    keys: Arc<VerifyingKeySet>,
    /// The document itself, for what the parsed keys drop (the `x5c` certificates that
    /// `self_signed_tls_client_auth` matches).
    raw: Arc<JwkSet>,
    fetched_at: UnixTime,
}

/// Cache of parsed client key sets.
#[derive(Default)]
pub struct ClientKeyCache {
    /// Per client: the `updated_at` the set was parsed at, and the set. One entry per client,
    /// replaced when the client changes.
    by_value: Mutex<HashMap<String, (i64, Arc<VerifyingKeySet>)>>,
    by_uri: Mutex<HashMap<String, Entry>>,
    last_attempt: Mutex<HashMap<String, UnixTime>>,
}

impl std::fmt::Debug for ClientKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKeyCache")
    }
}

impl ClientKeyCache {
    /// The parsed `jwks` of a client, cached until the client changes. The lookup borrows the
    /// id, so the hot path allocates nothing.
    pub fn by_value(
        &self,
        client_id: &str,
        updated_at: i64,
        jwks: &JwkSet,
    ) -> Arc<VerifyingKeySet> {
        let mut map = self.by_value.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, set)) = map.get(client_id)
            && *at == updated_at
        {
            return set.clone();
        }
        if map.len() > 10_000 {
            map.clear();
        }
        let set = Arc::new(VerifyingKeySet::from_jwk_set(jwks));
        map.insert(client_id.to_owned(), (updated_at, set.clone()));
        set
    }

    /// The cached key set of `uri` if fresh enough.
    pub fn cached_uri(&self, uri: &str, now: UnixTime, ttl: i64) -> Option<Arc<VerifyingKeySet>> {
        let map = self.by_uri.lock().unwrap_or_else(|p| p.into_inner());
        map.get(uri)
            .filter(|e| now - e.fetched_at < ttl)
            .map(|e| e.keys.clone())
    }

    /// Fetches `uri` unless it was attempted less than `min_interval` ago (`force` still obeys
    /// the interval; it only skips the freshness check).
    pub async fn fetch_uri(
        &self,
        fetcher: &dyn JwksFetcher,
        uri: &str,
        now: UnixTime,
        min_interval: i64,
    ) -> Option<Arc<VerifyingKeySet>> {
        self.fetch_entry(fetcher, uri, now, min_interval)
            .await
            .map(|e| e.keys)
    }

    /// The cached JWK Set document of `uri` if fresh enough.
    pub fn cached_uri_document(&self, uri: &str, now: UnixTime, ttl: i64) -> Option<Arc<JwkSet>> {
        let map = self.by_uri.lock().unwrap_or_else(|p| p.into_inner());
        map.get(uri)
            .filter(|e| now - e.fetched_at < ttl)
            .map(|e| e.raw.clone())
    }

    /// [`Self::fetch_uri`], returning the JWK Set document (same cache, same rate limit).
    pub async fn fetch_uri_document(
        &self,
        fetcher: &dyn JwksFetcher,
        uri: &str,
        now: UnixTime,
        min_interval: i64,
    ) -> Option<Arc<JwkSet>> {
        self.fetch_entry(fetcher, uri, now, min_interval)
            .await
            .map(|e| e.raw)
    }

    async fn fetch_entry(
        &self,
        fetcher: &dyn JwksFetcher,
        uri: &str,
        now: UnixTime,
        min_interval: i64,
    ) -> Option<Entry> {
        {
            let mut attempts = self.last_attempt.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(last) = attempts.get(uri)
                && now - *last < min_interval
            {
                drop(attempts);
                let map = self.by_uri.lock().unwrap_or_else(|p| p.into_inner());
                return map.get(uri).cloned();
            }
            if attempts.len() > 10_000 {
                attempts.clear();
            }
            attempts.insert(uri.to_owned(), now);
        }
        match fetcher.fetch(uri).await {
            Ok(jwks) => {
                let entry = Entry {
                    keys: Arc::new(VerifyingKeySet::from_jwk_set(&jwks)),
                    raw: Arc::new(jwks),
                    fetched_at: now,
                };
                let mut map = self.by_uri.lock().unwrap_or_else(|p| p.into_inner());
                if map.len() > 10_000 {
                    map.clear();
                }
                map.insert(uri.to_owned(), entry.clone());
                Some(entry)
            }
            Err(reason) => {
                tracing::warn!(jwks_uri = %uri, %reason, "fetching client jwks_uri failed");
                let map = self.by_uri.lock().unwrap_or_else(|p| p.into_inner());
                map.get(uri).cloned()
            }
        }
    }
}
