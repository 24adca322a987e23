//! DPoP proofs at the resource server ([RFC 9449 §4.3], §7.1): the per-request claim checks,
//! the replay cache of `jti`s and the optional resource-server nonces.
//!
//! The signature half (`typ`, `alg`, the embedded `jwk`) is `warden_jose::dpop`. This module
//! checks what depends on the request: `htm` is the method, `htu` the URL without query and
//! fragment (both normalized: scheme and host lowercase, default port dropped), `iat` within
//! the window, `ath` the hash of the presented token, `nonce` when nonces are on, and `jti`
//! never seen before.
//!
//! The replay cache lives in this process only: a proof replayed to another instance of the
//! same API is not caught here. Nonces (HMAC of a time window under a secret the instances
//! share) narrow that window to the nonce's lifetime.
//!
//! [RFC 9449 §4.3]: https://www.rfc-editor.org/rfc/rfc9449#section-4.3

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;
use url::Url;
use warden_jose::dpop::verify_dpop_proof;
use warden_jose::{JoseError, base64url_decode, base64url_encode, hmac_sha256, sha256};
use warden_types::JwsAlgorithm;

use crate::ValidationError;
use crate::clock::UnixTime;
use crate::token::numeric_date;

/// The longest `jti` accepted (RFC 9449 §4.2 asks for at least 96 bits of randomness; real
/// ones are 16–64 characters).
const MAX_JTI_LEN: usize = 256;

/// Length of the truncated nonce MAC, in bytes.
const NONCE_MAC_LEN: usize = 16;

/// The DPoP configuration and state of one validator.
pub(crate) struct DpopVerifier {
    pub(crate) algorithms: Vec<JwsAlgorithm>,
    /// How old a proof's `iat` may be, in seconds.
    max_age: i64,
    /// Clock-skew leeway added to both ends of the `iat` window.
    leeway: i64,
    nonces: Option<NonceKey>,
    replay: Mutex<ReplayCache>,
}

/// A proof that passed every check but the replay check.
pub(crate) struct CheckedProof {
    /// The RFC 7638 thumbprint of the proof key.
    pub(crate) jkt: String,
    jti_key: [u8; 32],
    /// After this the `iat` check refuses the proof anyway: the cache may forget it.
    until: UnixTime,
}

impl DpopVerifier {
    pub(crate) fn new(
        algorithms: Vec<JwsAlgorithm>,
        max_age: i64,
        leeway: i64,
        nonces: Option<NonceKey>,
        replay_capacity: usize,
    ) -> Self {
        Self {
            algorithms,
            max_age,
            leeway,
            nonces,
            replay: Mutex::new(ReplayCache::new(replay_capacity)),
        }
    }

    /// RFC 9449 §4.3 and §7.1 for a proof sent with `access_token` on a `method` request to
    /// `url` (the externally visible URL; `None` when unknown).
    pub(crate) fn check(
        &self,
        proof: &str,
        method: &str,
        url: Option<&str>,
        access_token: &str,
        now: UnixTime,
    ) -> Result<CheckedProof, ValidationError> {
        let verified = verify_dpop_proof(proof, &self.algorithms).map_err(|e| {
            ValidationError::InvalidDpopProof(match e {
                JoseError::UnsupportedAlgorithm | JoseError::AlgorithmNotAllowed => {
                    "the algorithm is not allowed"
                }
                JoseError::InvalidSignature => "the signature does not verify",
                JoseError::InvalidKey(_) | JoseError::KeyMismatch => "the jwk is not usable",
                _ => "the proof is not a well-formed DPoP JWT",
            })
        })?;
        let claims = verified.claims();
        let string = |name| claims.get(name).and_then(Value::as_str);

        let jti = string("jti")
            .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_LEN)
            .ok_or(ValidationError::InvalidDpopProof("jti is missing"))?;
        if string("htm") != Some(method) {
            return Err(ValidationError::InvalidDpopProof(
                "htm does not match the request method",
            ));
        }
        let expected = url
            .and_then(normalize_htu)
            .ok_or(ValidationError::InvalidDpopProof(
                "the request URL is unknown",
            ))?;
        if string("htu").and_then(normalize_htu).as_deref() != Some(expected.as_str()) {
            return Err(ValidationError::InvalidDpopProof(
                "htu does not match the request URL",
            ));
        }
        // RFC 9449 §4.3 check 12: "ath" is the base64url SHA-256 of the access token.
        let ath = base64url_encode(&sha256(access_token.as_bytes()));
        match string("ath") {
            None => return Err(ValidationError::InvalidDpopProof("ath is missing")),
            Some(value) if value != ath => {
                return Err(ValidationError::InvalidDpopProof(
                    "ath does not match the access token",
                ));
            }
            Some(_) => {}
        }
        if let Some(nonces) = &self.nonces
            && !string("nonce").is_some_and(|nonce| nonces.check(nonce, now))
        {
            return Err(ValidationError::UseDpopNonce(nonces.issue(now)));
        }
        let iat = numeric_date(claims, "iat")
            .ok()
            .flatten()
            .ok_or(ValidationError::InvalidDpopProof("iat is missing"))?;
        if iat > now.saturating_add(self.leeway) {
            return Err(ValidationError::InvalidDpopProof("iat is in the future"));
        }
        let until = iat.saturating_add(self.max_age).saturating_add(self.leeway);
        if until < now {
            return Err(ValidationError::InvalidDpopProof("iat is too old"));
        }
        Ok(CheckedProof {
            jkt: verified.thumbprint().to_owned(),
            jti_key: sha256(jti.as_bytes()),
            until: until.saturating_add(1),
        })
    }

    /// Remembers the proof's `jti`; refuses one seen before (RFC 9449 §11.1).
    pub(crate) fn record(
        &self,
        proof: &CheckedProof,
        now: UnixTime,
    ) -> Result<(), ValidationError> {
        let mut cache = self.replay.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(proof.jti_key, proof.until, now)
    }

    /// Whether resource-server nonces are on.
    pub(crate) fn nonces_enabled(&self) -> bool {
        self.nonces.is_some()
    }

    /// A fresh nonce when nonces are on.
    pub(crate) fn nonce(&self, now: UnixTime) -> Option<String> {
        self.nonces.as_ref().map(|n| n.issue(now))
    }
}

/// RFC 9449 §4.3 check 9: `htu` compared without query and fragment, after syntax- and
/// scheme-based normalization (RFC 3986 §6.2.2, §6.2.3): `url` lowercases scheme and host,
/// drops the default port, resolves dot segments and gives an empty path as `/`. Only
/// `http` and `https` URLs without user information are accepted.
pub(crate) fn normalize_htu(value: &str) -> Option<String> {
    let mut url = Url::parse(value).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// Stateless resource-server nonces (RFC 9449 §9): `base64url(window || MAC(window)[..16])`,
/// where `window` is the current time divided by the lifetime. A nonce of the current or
/// the previous window is accepted, so each is good for between one and two lifetimes, on
/// every instance that shares the secret.
pub(crate) struct NonceKey {
    key: [u8; 32],
    lifetime: i64,
}

impl NonceKey {
    pub(crate) fn new(secret: &[u8], lifetime: i64) -> Self {
        Self {
            key: hmac_sha256(secret, b"warden-resource dpop nonce v1"),
            lifetime: lifetime.max(1),
        }
    }

    fn mac(&self, window: i64) -> [u8; 32] {
        hmac_sha256(&self.key, &window.to_be_bytes())
    }

    pub(crate) fn issue(&self, now: UnixTime) -> String {
        let window = now.div_euclid(self.lifetime);
        let mut bytes = window.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.mac(window)[..NONCE_MAC_LEN]);
        base64url_encode(&bytes)
    }

    pub(crate) fn check(&self, nonce: &str, now: UnixTime) -> bool {
        let Ok(bytes) = base64url_decode(nonce) else {
            return false;
        };
        let (Some(window), Some(mac)) = (bytes.get(..8), bytes.get(8..)) else {
            return false;
        };
        let Ok(window) = <[u8; 8]>::try_from(window).map(i64::from_be_bytes) else {
            return false;
        };
        let current = now.div_euclid(self.lifetime);
        if window != current && window != current.saturating_sub(1) {
            return false;
        }
        let expected = self.mac(window);
        mac.len() == NONCE_MAC_LEN
            && mac
                .iter()
                .zip(&expected[..NONCE_MAC_LEN])
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// Seen `jti`s (as SHA-256, so a long `jti` costs no more memory), each until its proof would
/// be too old anyway. Bounded: when full of unexpired entries, new proofs are refused with a
/// server-side error rather than forgetting one that could then be replayed.
struct ReplayCache {
    seen: HashMap<[u8; 32], UnixTime>,
    /// Insertion order, to drop expired entries without scanning the map.
    order: VecDeque<([u8; 32], UnixTime)>,
    capacity: usize,
}

impl ReplayCache {
    fn new(capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn insert(
        &mut self,
        key: [u8; 32],
        until: UnixTime,
        now: UnixTime,
    ) -> Result<(), ValidationError> {
        while let Some(&(k, t)) = self.order.front() {
            if t > now {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&k) == Some(&t) {
                self.seen.remove(&k);
            }
        }
        if self.seen.get(&key).is_some_and(|t| *t > now) {
            return Err(ValidationError::InvalidDpopProof(
                "the proof was used before (jti)",
            ));
        }
        if self.seen.len() >= self.capacity {
            // Entries further back may have expired before the front one.
            self.seen.retain(|_, t| *t > now);
            self.order.retain(|(_, t)| *t > now);
            if self.seen.len() >= self.capacity {
                tracing::warn!(
                    capacity = self.capacity,
                    "DPoP replay cache full; refusing proofs until entries expire"
                );
                return Err(ValidationError::ReplayCacheFull);
            }
        }
        self.seen.insert(key, until);
        self.order.push_back((key, until));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_normalization() {
        let n = |s| normalize_htu(s);
        assert_eq!(
            n("HTTPS://API.Example.com:443/a/b?x=1#f").as_deref(),
            Some("https://api.example.com/a/b")
        );
        assert_eq!(n("http://h:80").as_deref(), Some("http://h/"));
        assert_eq!(n("http://h:8080/x").as_deref(), Some("http://h:8080/x"));
        assert_eq!(n("http://h/a/../b").as_deref(), Some("http://h/b"));
        assert_ne!(n("http://h/a"), n("http://h/A"));
        assert_eq!(n("ftp://h/"), None);
        assert_eq!(n("http://u:p@h/"), None);
        assert_eq!(n("/relative"), None);
    }

    #[test]
    fn nonces_expire_after_two_windows_and_need_the_secret() {
        let key = NonceKey::new(b"0123456789abcdef0123456789abcdef", 100);
        let nonce = key.issue(1_000);
        assert!(key.check(&nonce, 1_000));
        assert!(key.check(&nonce, 1_199));
        assert!(!key.check(&nonce, 1_200));
        assert!(!key.check(&nonce, 999));
        let other = NonceKey::new(b"another secret of enough length!", 100);
        assert!(!other.check(&nonce, 1_000));
        assert!(!key.check("garbage", 1_000));
        assert!(!key.check("", 1_000));
    }

    #[test]
    fn replay_cache_refuses_repeats_expires_and_is_bounded() {
        let mut cache = ReplayCache::new(2);
        assert!(cache.insert([1; 32], 100, 0).is_ok());
        assert!(matches!(
            cache.insert([1; 32], 100, 50),
            Err(ValidationError::InvalidDpopProof(_))
        ));
        assert!(cache.insert([2; 32], 200, 50).is_ok());
        assert_eq!(
            cache.insert([3; 32], 200, 60),
            Err(ValidationError::ReplayCacheFull)
        );
        // Once [1] expired there is room again, and [1] may be seen anew (its proof's iat
        // would be refused by then anyway).
        assert!(cache.insert([3; 32], 200, 100).is_ok());
        assert!(cache.insert([1; 32], 300, 200).is_ok());
        assert_eq!(cache.seen.len(), 1);
    }
}
