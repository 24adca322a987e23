//! Fetching client `jwks_uri` documents: a short timeout, a size cap, no redirects.

use std::time::Duration;

use async_trait::async_trait;
use warden_core::client_auth::jwks::JwksFetcher;
use warden_types::jwk::JwkSet;

/// Largest JWK Set document accepted.
const MAX_BYTES: usize = 256 * 1024;
/// Most keys accepted in a fetched set, as for `jwks` by value: an assertion without a `kid`
/// is tried against every candidate key, so the set size bounds the work per request.
const MAX_KEYS: usize = 20;

/// A reqwest-based fetcher.
pub struct HttpJwksFetcher {
    client: reqwest::Client,
}

impl HttpJwksFetcher {
    /// Builds the HTTP client.
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client })
    }
}

#[async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch(&self, uri: &str) -> Result<JwkSet, String> {
        let mut response = self
            .client
            .get(uri)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP status {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(String::from("JWK Set document is too large"));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("not a JWK Set: {e}"))?;
        if set.keys.len() > MAX_KEYS {
            return Err(format!("JWK Set has more than {MAX_KEYS} keys"));
        }
        Ok(set)
    }
}
