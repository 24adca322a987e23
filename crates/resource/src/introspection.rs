//! Opaque tokens: [RFC 7662] introspection with HTTP Basic client authentication, and a cache
//! of active answers keyed by the token's SHA-256, never kept beyond the token's `exp`.
//!
//! Only active answers are cached, each until `min(exp, now + ttl)`: a revoked token stops
//! working at the latest `ttl` after revocation, and an expired one never works. The cache is
//! bounded; when full, expired entries go first, then the oldest.
//!
//! [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use warden_jose::sha256;

use crate::clock::UnixTime;
use crate::http::read_json;
use crate::token::{AccessToken, TokenSource, audience, numeric_date};
use crate::{Expectations, ValidationError};

/// The introspection client and its cache.
pub(crate) struct Introspector {
    endpoint: String,
    /// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1). A secret.
    authorization: String,
    http: reqwest::Client,
    ttl: i64,
    cache: Mutex<Cache>,
}

struct Cache {
    entries: HashMap<[u8; 32], Entry>,
    capacity: usize,
    next_seq: u64,
}

struct Entry {
    token: AccessToken,
    until: UnixTime,
    seq: u64,
}

impl Introspector {
    pub(crate) fn new(
        endpoint: String,
        client_id: &str,
        client_secret: &str,
        http: reqwest::Client,
        ttl: i64,
        capacity: usize,
    ) -> Self {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let credentials = format!("{}:{}", enc(client_id), enc(client_secret));
        Self {
            endpoint,
            authorization: format!("Basic {}", STANDARD.encode(credentials)),
            http,
            ttl,
            cache: Mutex::new(Cache {
                entries: HashMap::new(),
                capacity: capacity.max(1),
                next_seq: 0,
            }),
        }
    }

    /// A cached active answer for `token`, if one is still fresh at `now`.
    pub(crate) fn cached(&self, token: &str, now: UnixTime) -> Option<AccessToken> {
        let key = sha256(token.as_bytes());
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.entries.get(&key) {
            Some(entry) if entry.until > now => Some(entry.token.clone()),
            Some(_) => {
                cache.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Asks the issuer about `token`, checks the answer and caches it when active.
    pub(crate) async fn introspect(
        &self,
        token: &str,
        expect: &Expectations,
        now: UnixTime,
    ) -> Result<AccessToken, ValidationError> {
        let response = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, "introspection request failed");
                ValidationError::IntrospectionUnavailable
            })?;
        let answer: Map<String, Value> = read_json(response).await.map_err(|error| {
            tracing::warn!(%error, "introspection answer unusable");
            ValidationError::IntrospectionUnavailable
        })?;
        let token_info = check(answer, expect, now)?;

        // Never cached beyond the token's own expiry.
        let until = token_info.exp().min(now.saturating_add(self.ttl));
        if until > now {
            let key = sha256(token.as_bytes());
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.insert(key, token_info.clone(), until, now);
        }
        Ok(token_info)
    }
}

/// RFC 7662 §2.2 answer checks. `active` is the only required member; the rest is what this
/// resource server needs to trust the token: its own audience (every client may introspect
/// every token, so an active answer alone does not mean the token is meant for us), the
/// issuer when given, and a lifetime.
fn check(
    answer: Map<String, Value>,
    expect: &Expectations,
    now: UnixTime,
) -> Result<AccessToken, ValidationError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(ValidationError::Inactive);
    }
    if let Some(iss) = answer.get("iss")
        && iss.as_str() != Some(expect.issuer.as_str())
    {
        return Err(ValidationError::WrongIssuer);
    }
    if !audience(&answer)
        .map_err(|_| ValidationError::WrongAudience)?
        .contains(&expect.audience)
    {
        return Err(ValidationError::WrongAudience);
    }
    let exp = numeric_date(&answer, "exp")?.ok_or(ValidationError::MissingClaim("exp"))?;
    if now > exp.saturating_add(expect.leeway) {
        return Err(ValidationError::Expired);
    }
    if let Some(nbf) = numeric_date(&answer, "nbf")?
        && nbf > now.saturating_add(expect.leeway)
    {
        return Err(ValidationError::NotYetValid);
    }
    AccessToken::from_claims(answer, TokenSource::Introspection)
}

impl Cache {
    fn insert(&mut self, key: [u8; 32], token: AccessToken, until: UnixTime, now: UnixTime) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, entry| entry.until > now);
            if self.entries.len() >= self.capacity
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.seq)
                    .map(|(k, _)| *k)
            {
                self.entries.remove(&oldest);
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(key, Entry { token, until, seq });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn expect() -> Expectations {
        Expectations {
            issuer: "https://as".into(),
            audience: "https://api".into(),
            leeway: 0,
        }
    }

    fn answer(extra: Value) -> Map<String, Value> {
        let mut base = json!({"active": true, "iss": "https://as", "aud": "https://api",
            "sub": "s", "client_id": "c", "exp": 100, "scope": "a b"});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base.as_object().unwrap().clone()
    }

    #[test]
    fn answer_checks() {
        let ok = check(answer(json!({})), &expect(), 50).unwrap();
        assert!(ok.has_scopes(["a", "b"]));
        assert_eq!(ok.source(), TokenSource::Introspection);
        let err = |extra, now| check(answer(extra), &expect(), now).unwrap_err();
        assert_eq!(err(json!({"active": false}), 50), ValidationError::Inactive);
        assert_eq!(
            err(json!({"active": "true"}), 50),
            ValidationError::Inactive
        );
        assert_eq!(
            err(json!({"iss": "https://x"}), 50),
            ValidationError::WrongIssuer
        );
        assert_eq!(
            err(json!({"aud": ["https://x"]}), 50),
            ValidationError::WrongAudience
        );
        assert_eq!(err(json!({}), 101), ValidationError::Expired);
        assert_eq!(err(json!({"nbf": 60}), 50), ValidationError::NotYetValid);
        assert!(
            check(
                answer(json!({"aud": ["https://x", "https://api"]})),
                &expect(),
                50
            )
            .is_ok()
        );
    }

    #[test]
    fn cache_is_bounded_and_expires() {
        let token = check(answer(json!({})), &expect(), 0).unwrap();
        let mut cache = Cache {
            entries: HashMap::new(),
            capacity: 2,
            next_seq: 0,
        };
        cache.insert([1; 32], token.clone(), 10, 0);
        cache.insert([2; 32], token.clone(), 20, 0);
        cache.insert([3; 32], token.clone(), 20, 0);
        // The oldest entry went.
        assert!(!cache.entries.contains_key(&[1; 32]));
        assert_eq!(cache.entries.len(), 2);
        // Expired entries go before the oldest live one.
        cache.insert([4; 32], token, 30, 20);
        assert_eq!(cache.entries.len(), 1);
        assert!(cache.entries.contains_key(&[4; 32]));
    }
}
