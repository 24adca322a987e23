//! DPoP ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)): the client's proof-of-possession
//! key ([`DpopKey`]), proof JWTs, and the nonces servers hand out.
//!
//! With [`ClientBuilder::dpop`](crate::ClientBuilder::dpop), every token request carries a
//! fresh proof (`htm` `POST`, `htu` the token endpoint), so Warden binds the token to the key
//! (`cnf.jkt`) and answers `token_type` `DPoP`. [`Client::send`](crate::Client::send) and
//! [`Client::authorize`](crate::Client::authorize) then send `Authorization: DPoP <token>`
//! with a proof for that request (`ath` = hash of the token). Nonces (`DPoP-Nonce`) are
//! remembered per origin, and a `use_dpop_nonce` answer is retried once with the new nonce.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use warden_jose::dpop::{dpop_public_jwk, sign_dpop_proof};
use warden_jose::{SigningKey, base64url_encode, jwk_thumbprint, random_bytes, sha256};
use warden_types::jwk::Jwk;
use warden_types::{Kid, SigningAlg};

use crate::Error;
use crate::clock::unix_now;
use crate::key::pem_to_der;

/// The request header of a DPoP proof (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "DPoP";
/// The response header of a server-provided nonce (RFC 9449 §8.1, §9).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";

/// The longest nonce remembered, in bytes; a longer one is ignored.
const MAX_NONCE_LEN: usize = 512;
/// The most origins whose nonces are remembered.
const MAX_NONCE_ORIGINS: usize = 1_024;

/// The client's DPoP key: a private key whose public half travels in every proof's `jwk`
/// header and whose RFC 7638 thumbprint (`jkt`) the tokens are bound to.
///
/// Cheap to clone. `Debug` shows only the algorithm and the thumbprint. Keep one key per
/// client for as long as its tokens live: a token is useless with any other key.
#[derive(Clone)]
pub struct DpopKey {
    key: Arc<SigningKey>,
    jkt: Arc<str>,
}

impl DpopKey {
    /// A new P-256 key (ES256), the usual DPoP choice.
    pub fn generate_es256() -> Result<Self, Error> {
        Self::generate(SigningAlg::ES256)
    }

    /// A new key for `alg`: P-256 for ES256, Ed25519 for EdDSA, RSA 2048 for RS256/PS256.
    pub fn generate(alg: SigningAlg) -> Result<Self, Error> {
        Self::from_signing_key(SigningKey::generate(alg, Kid::new("dpop"))?)
    }

    /// Loads a key from an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), e.g. to
    /// keep the same key (and so the same bound tokens) across restarts.
    pub fn from_pkcs8_pem(alg: SigningAlg, pem: &str) -> Result<Self, Error> {
        Self::from_pkcs8_der(alg, &pem_to_der(pem)?)
    }

    /// Loads a key from an unencrypted PKCS#8 DER document.
    pub fn from_pkcs8_der(alg: SigningAlg, der: &[u8]) -> Result<Self, Error> {
        Self::from_signing_key(SigningKey::from_pkcs8(alg, Kid::new("dpop"), der)?)
    }

    /// Uses an already loaded signing key.
    pub fn from_signing_key(key: SigningKey) -> Result<Self, Error> {
        let jkt = jwk_thumbprint(&dpop_public_jwk(&key))?;
        Ok(Self {
            key: Arc::new(key),
            jkt: Arc::from(jkt),
        })
    }

    /// The signing algorithm of the proofs.
    pub fn alg(&self) -> SigningAlg {
        self.key.alg()
    }

    /// The RFC 7638 thumbprint of the public key: the `cnf.jkt` of tokens bound to it, and
    /// the `dpop_jkt` of an authorization request (RFC 9449 §10).
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    /// The public key as it appears in proofs.
    pub fn public_jwk(&self) -> Jwk {
        dpop_public_jwk(&self.key)
    }

    /// A fresh proof (RFC 9449 §4.2) for a `method` request to `url` (query and fragment are
    /// dropped for `htu`): a random `jti`, `iat` now, `ath` when an access token is sent with
    /// the request, and the server's `nonce` when it asked for one.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        #[derive(Serialize)]
        struct Claims<'a> {
            jti: String,
            htm: &'a str,
            htu: String,
            iat: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            ath: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            nonce: Option<&'a str>,
        }
        let claims = Claims {
            jti: base64url_encode(&random_bytes::<16>()),
            htm: method,
            htu: htu(url)?,
            iat: unix_now(),
            ath: access_token.map(|token| base64url_encode(&sha256(token.as_bytes()))),
            nonce,
        };
        Ok(sign_dpop_proof(&self.key, &claims)?)
    }
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.alg())
            .field("jkt", &self.jkt)
            .finish()
    }
}

/// RFC 9449 §4.2: "The HTTP target URI …, without query and fragment parts".
fn htu(url: &str) -> Result<String, Error> {
    let mut url = url::Url::parse(url)
        .map_err(|_| Error::InvalidUrl("the DPoP target is not an absolute URL".into()))?;
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.into())
}

/// The origin (`scheme://host[:port]`) of `url`, the scope of a nonce.
pub(crate) fn origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// The latest `DPoP-Nonce` of each origin (RFC 9449 §8.2: "the client MUST use the new
/// nonce value supplied for subsequent requests").
#[derive(Debug, Default)]
pub(crate) struct Nonces(Mutex<HashMap<String, String>>);

impl Nonces {
    pub(crate) fn get(&self, origin: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(origin)
            .cloned()
    }

    /// Remembers the `DPoP-Nonce` of a response from `origin`, if it has one. Returns whether
    /// it had one.
    pub(crate) fn remember(&self, origin: &str, headers: &reqwest::header::HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(DPOP_NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE_LEN)
        else {
            return false;
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_NONCE_ORIGINS && !map.contains_key(origin) {
            map.clear();
        }
        map.insert(origin.to_owned(), nonce.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use warden_jose::dpop::verify_dpop_proof;
    use warden_types::JwsAlgorithm;

    use super::*;

    #[test]
    fn proofs_carry_the_request_and_verify() {
        let key = DpopKey::generate_es256().unwrap();
        let proof = key
            .proof(
                "GET",
                "https://API.example.com/a?x=1#f",
                Some("tok"),
                Some("n1"),
            )
            .unwrap();
        let verified = verify_dpop_proof(&proof, &JwsAlgorithm::ASYMMETRIC).unwrap();
        assert_eq!(verified.thumbprint(), key.thumbprint());
        let claims = verified.claims();
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://api.example.com/a");
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(claims["ath"], base64url_encode(&sha256(b"tok")));
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        let again = key.proof("POST", "https://as/token", None, None).unwrap();
        let claims = verify_dpop_proof(&again, &JwsAlgorithm::ASYMMETRIC)
            .unwrap()
            .claims()
            .clone();
        assert!(claims.get("ath").is_none() && claims.get("nonce").is_none());
        assert!(!format!("{key:?}").contains("BEGIN"));
    }

    #[test]
    fn keys_load_from_pkcs8() {
        let key = SigningKey::generate(SigningAlg::ES256, Kid::new("x")).unwrap();
        let a = DpopKey::from_pkcs8_der(SigningAlg::ES256, key.pkcs8_der()).unwrap();
        let b = DpopKey::from_signing_key(key).unwrap();
        assert_eq!(a.thumbprint(), b.thumbprint());
        assert!(DpopKey::from_pkcs8_pem(SigningAlg::ES256, "nope").is_err());
    }

    #[test]
    fn nonces_are_kept_per_origin() {
        let nonces = Nonces::default();
        let mut headers = reqwest::header::HeaderMap::new();
        assert!(!nonces.remember("https://a", &headers));
        headers.insert(DPOP_NONCE_HEADER, "n-a".parse().unwrap());
        assert!(nonces.remember("https://a", &headers));
        assert_eq!(nonces.get("https://a").as_deref(), Some("n-a"));
        assert_eq!(nonces.get("https://b"), None);
        let url = url::Url::parse("https://A.example:443/x?y").unwrap();
        assert_eq!(origin(&url), "https://a.example");
    }
}
