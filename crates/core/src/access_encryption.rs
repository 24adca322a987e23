//! Encrypted access tokens (RFC 7516 JWE; seed 004: tokens carrying sensitive data MUST be
//! encrypted). An API that registers a public encryption key receives its JWT access tokens
//! signed by Warden, then encrypted to that key: a compact JWE with `cty: "JWT"` whose
//! plaintext is the `at+jwt` (RFC 7519 §5.2 nested JWT). Only the API holds the private key.
//!
//! Warden keeps no private key for these tokens, so it cannot read the JWE form back: at
//! introspection it is unknown (inactive), at revocation it is an unknown token (RFC 7009
//! §2.2), and at token exchange the resource server presents the decrypted inner JWS instead.
//!
//! This module validates an API's key when the administrator registers it
//! ([`api_encryption`]), and encrypts at minting time through a per-API cache of
//! [`JweEncrypter`]s, so the JWK is parsed once per API version rather than once per token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use warden_jose::jwe::{JweAlgorithm, JweEncrypter, JweEncryption, JweError};
use warden_types::UnixTime;
use warden_types::jwk::Jwk;

use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{Api, ApiEncryption};

/// JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The most encrypters kept; past it the cache starts over (APIs are few, so this only bounds
/// what deleted and re-created APIs can leave behind).
const MAX_CACHED: usize = 1024;

/// Whether `token` has the shape of a compact JWE (RFC 7516 §7.1: five base64url parts).
///
/// A compact JWS has three parts, so the shape alone tells an encrypted access token from a
/// signed one; nothing is decoded.
pub fn is_compact_jwe(token: &str) -> bool {
    let mut parts = token.split('.');
    let header_present = parts.next().is_some_and(|h| !h.is_empty());
    header_present && parts.count() == 4
}

/// An administrator's request to encrypt an API's access tokens, as given on the command line.
#[derive(Debug, Clone)]
pub struct ApiEncryptionRequest {
    /// The API's public key: a JWK, or a JWK Set holding exactly one encryption key.
    pub key: serde_json::Value,
    /// Key management algorithm; by default `RSA-OAEP-256` for RSA keys and `ECDH-ES` for EC
    /// keys (or the key's own `alg` member).
    pub alg: Option<String>,
    /// Content encryption; `A256GCM` by default.
    pub enc: Option<String>,
}

/// Why an API encryption key was refused; each message tells the operator what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiEncryptionError {
    /// Not a JWK or JWK Set.
    #[error("the encryption key is not a JWK or JWK Set: {0}")]
    Malformed(String),
    /// The key carries private members.
    #[error(
        "the encryption key holds private key material ({0}): give Warden the API's public key \
         only; the private key stays with the API"
    )]
    PrivateKey(&'static str),
    /// A symmetric key.
    #[error(
        "symmetric (kty oct) keys cannot encrypt access tokens: give the API's RSA or EC public key"
    )]
    Symmetric,
    /// No key fit, or too many did.
    #[error("{0}")]
    KeyChoice(String),
    /// A key type or curve Warden does not encrypt to.
    #[error("{0}")]
    UnsupportedKey(String),
    /// An unknown `alg` or `enc`.
    #[error("{0}")]
    UnsupportedAlgorithm(String),
    /// The key cannot be used with the algorithm.
    #[error("{0}")]
    Mismatch(String),
    /// The key itself is unusable (e.g. an RSA modulus under 2048 bits).
    #[error("invalid encryption key: {0}")]
    InvalidKey(&'static str),
}

/// Validates an API's encryption settings: a public RSA key of at least 2048 bits (for
/// `RSA-OAEP-256`) or EC key on P-256 or P-384 (for `ECDH-ES`), and `A256GCM` or `A128GCM`.
/// The key is checked by building the encrypter that will be used for every token.
pub fn api_encryption(request: &ApiEncryptionRequest) -> Result<ApiEncryption, ApiEncryptionError> {
    let raw_keys: Vec<&serde_json::Value> = match request.key.get("keys") {
        Some(serde_json::Value::Array(keys)) => keys.iter().collect(),
        Some(_) => {
            return Err(ApiEncryptionError::Malformed(String::from(
                "keys must be an array",
            )));
        }
        None => vec![&request.key],
    };
    // Refuse private material before anything else, whatever key it is in: the file should
    // never have been handed over, and the message must say so.
    for raw in &raw_keys {
        let serde_json::Value::Object(members) = raw else {
            return Err(ApiEncryptionError::Malformed(String::from(
                "a key must be a JSON object",
            )));
        };
        if members.get("kty").and_then(|k| k.as_str()) == Some("oct") {
            return Err(ApiEncryptionError::Symmetric);
        }
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| members.contains_key(**m)) {
            return Err(ApiEncryptionError::PrivateKey(member));
        }
    }
    let keys: Vec<Jwk> = raw_keys
        .into_iter()
        .map(|raw| {
            serde_json::from_value((*raw).clone()).map_err(|e| {
                let msg: String = e.to_string().chars().take(200).collect();
                ApiEncryptionError::Malformed(msg)
            })
        })
        .collect::<Result<_, _>>()?;
    let jwk = choose_key(&keys)?;

    let alg = match (request.alg.as_deref(), jwk.alg.as_deref()) {
        (Some(raw), _) => parse_alg(raw)?,
        (None, Some(own)) if own.parse::<JweAlgorithm>().is_ok() => parse_alg(own)?,
        (None, _) => match jwk.kty.as_str() {
            "RSA" => JweAlgorithm::RsaOaep256,
            "EC" => JweAlgorithm::EcdhEs,
            other => return Err(unsupported_key_type(other)),
        },
    };
    let enc = match request.enc.as_deref() {
        None => JweEncryption::A256GCM,
        Some(raw) => raw.parse().map_err(|_| {
            ApiEncryptionError::UnsupportedAlgorithm(format!(
                "encryption enc '{}' is not supported (A256GCM, A128GCM)",
                shown(raw)
            ))
        })?,
    };
    match (jwk.kty.as_str(), alg) {
        ("RSA", JweAlgorithm::RsaOaep256) => {}
        ("EC", JweAlgorithm::EcdhEs) => {
            let crv = jwk.crv.as_deref().unwrap_or("");
            if crv != "P-256" && crv != "P-384" {
                return Err(ApiEncryptionError::UnsupportedKey(format!(
                    "EC curve '{}' is not supported for encryption (P-256, P-384)",
                    shown(crv)
                )));
            }
        }
        ("RSA", JweAlgorithm::EcdhEs) => {
            return Err(ApiEncryptionError::Mismatch(String::from(
                "ECDH-ES needs an EC key (P-256 or P-384); this is an RSA key (use RSA-OAEP-256)",
            )));
        }
        ("EC", JweAlgorithm::RsaOaep256) => {
            return Err(ApiEncryptionError::Mismatch(String::from(
                "RSA-OAEP-256 needs an RSA key; this is an EC key (use ECDH-ES)",
            )));
        }
        (other, _) => return Err(unsupported_key_type(other)),
    }
    JweEncrypter::new(jwk, alg, enc).map_err(|e| match e {
        JweError::InvalidKey(detail) => ApiEncryptionError::InvalidKey(detail),
        JweError::KeyMismatch => ApiEncryptionError::Mismatch(format!(
            "the key cannot be used with {alg}: check its use, key_ops and alg members"
        )),
        other => {
            ApiEncryptionError::Mismatch(format!("the key cannot be used with {alg}: {other}"))
        }
    })?;
    Ok(ApiEncryption {
        jwk: jwk.clone(),
        alg: alg.as_str().to_owned(),
        enc: enc.as_str().to_owned(),
    })
}

/// The one key of the set that may encrypt: `use` "enc" or no `use` (RFC 7517 §4.2).
fn choose_key(keys: &[Jwk]) -> Result<&Jwk, ApiEncryptionError> {
    let candidates: Vec<&Jwk> = keys
        .iter()
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "enc"))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] if keys.is_empty() => Err(ApiEncryptionError::KeyChoice(String::from(
            "the JWK Set holds no key",
        ))),
        [] => Err(ApiEncryptionError::KeyChoice(String::from(
            "no encryption key: the key is marked for another use (an encryption key has use \
             \"enc\" or no use)",
        ))),
        many => Err(ApiEncryptionError::KeyChoice(format!(
            "the JWK Set holds {} encryption keys; give exactly one",
            many.len()
        ))),
    }
}

fn parse_alg(raw: &str) -> Result<JweAlgorithm, ApiEncryptionError> {
    raw.parse().map_err(|_| {
        ApiEncryptionError::UnsupportedAlgorithm(format!(
            "encryption alg '{}' is not supported (RSA-OAEP-256, ECDH-ES)",
            shown(raw)
        ))
    })
}

fn unsupported_key_type(kty: &str) -> ApiEncryptionError {
    ApiEncryptionError::UnsupportedKey(format!(
        "key type '{}' is not supported for encryption: use RSA (2048 bits or more) or EC \
         (P-256, P-384)",
        shown(kty)
    ))
}

/// An operator-supplied value, bounded for messages.
fn shown(raw: &str) -> String {
    raw.chars().take(40).filter(|c| !c.is_control()).collect()
}

/// The encrypters of the APIs that encrypt their tokens, keyed by API identifier and
/// remembered with the settings they were built from: a changed key (or `updated_at`) builds
/// a new one.
#[derive(Default)]
pub(crate) struct ApiEncrypterCache {
    entries: Mutex<HashMap<String, CachedEncrypter>>,
}

struct CachedEncrypter {
    updated_at: UnixTime,
    settings: ApiEncryption,
    encrypter: Arc<JweEncrypter>,
}

impl ApiEncrypterCache {
    /// The encrypter for `api`'s `settings`, built on first use.
    fn encrypter(
        &self,
        api: &Api,
        settings: &ApiEncryption,
    ) -> Result<Arc<JweEncrypter>, JweError> {
        let key = api.identifier.as_str();
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = entries.get(key)
                && cached.updated_at == api.updated_at
                && cached.settings == *settings
            {
                return Ok(cached.encrypter.clone());
            }
        }
        let alg: JweAlgorithm = settings.alg.parse()?;
        let enc: JweEncryption = settings.enc.parse()?;
        let encrypter = Arc::new(JweEncrypter::new(&settings.jwk, alg, enc)?);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(
            key.to_owned(),
            CachedEncrypter {
                updated_at: api.updated_at,
                settings: settings.clone(),
                encrypter: encrypter.clone(),
            },
        );
        Ok(encrypter)
    }
}

impl Engine {
    /// Encrypts a signed access token to `api`'s key if the API asked for encryption; returns
    /// it as is otherwise. The JWE carries `cty: "JWT"` (RFC 7519 §5.2: the payload is itself
    /// a JWT) and the API key's `kid` when it has one.
    pub(crate) fn encrypt_access_token(
        &self,
        api: &Api,
        signed: String,
    ) -> Result<String, OAuthError> {
        let Some(settings) = &api.encryption else {
            return Ok(signed);
        };
        let fail = |what: &str, e: JweError| {
            tracing::error!(api = %api.identifier, error = %e, "access token encryption: {what}");
            OAuthError::server_error()
        };
        let encrypter = self
            .api_encrypters
            .encrypter(api, settings)
            .map_err(|e| fail("unusable API key", e))?;
        encrypter
            .encrypt(signed.as_bytes(), Some("JWT"))
            .map_err(|e| fail("encryption failed", e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::{Value, json};
    use warden_jose::SigningKey;
    use warden_jose::jwe::JweDecrypter;
    use warden_types::{Kid, SigningAlg};

    use super::*;

    fn decrypter(alg: SigningAlg, jwe: JweAlgorithm) -> JweDecrypter {
        let key = SigningKey::generate(alg, Kid::new("k")).unwrap();
        JweDecrypter::from_pkcs8(key.pkcs8_der(), &[jwe], &JweEncryption::ALL)
            .unwrap()
            .with_kid("api-enc-1")
    }

    fn request(key: Value, alg: Option<&str>, enc: Option<&str>) -> ApiEncryptionRequest {
        ApiEncryptionRequest {
            key,
            alg: alg.map(str::to_owned),
            enc: enc.map(str::to_owned),
        }
    }

    fn jwk_value(d: &JweDecrypter) -> Value {
        let mut v = serde_json::to_value(d.public_jwk()).unwrap();
        // As an operator would write it: no alg member, so the defaults apply.
        v.as_object_mut().unwrap().remove("alg");
        v
    }

    #[test]
    fn compact_jwe_shape() {
        assert!(is_compact_jwe("a.b.c.d.e"));
        assert!(is_compact_jwe("a..c.d.e"));
        assert!(!is_compact_jwe("a.b.c"));
        assert!(!is_compact_jwe(".b.c.d.e"));
        assert!(!is_compact_jwe("a.b.c.d.e.f"));
        assert!(!is_compact_jwe("wdn_at_abc"));
    }

    #[test]
    fn defaults_by_key_type_and_round_trip() {
        for (alg, jwe) in [
            (SigningAlg::RS256, JweAlgorithm::RsaOaep256),
            (SigningAlg::ES256, JweAlgorithm::EcdhEs),
        ] {
            let d = decrypter(alg, jwe);
            let settings = api_encryption(&request(jwk_value(&d), None, None)).unwrap();
            assert_eq!(settings.alg, jwe.as_str());
            assert_eq!(settings.enc, "A256GCM");
            // A JWK Set with one key is the same.
            let set = json!({"keys": [jwk_value(&d)]});
            assert_eq!(
                api_encryption(&request(set, None, Some("A128GCM")))
                    .unwrap()
                    .enc,
                "A128GCM"
            );
            let cache = ApiEncrypterCache::default();
            let api = test_api(Some(settings.clone()));
            let e1 = cache.encrypter(&api, &settings).unwrap();
            let e2 = cache.encrypter(&api, &settings).unwrap();
            assert!(Arc::ptr_eq(&e1, &e2), "cached");
            let token = e1.encrypt(b"inner", Some("JWT")).unwrap();
            let (header, plain) = d.decrypt(&token).unwrap();
            assert_eq!(
                (header.cty(), plain.as_slice()),
                (Some("JWT"), &b"inner"[..])
            );
            assert_eq!(header.kid(), Some("api-enc-1"));
            // A new version of the API builds a new encrypter.
            let mut newer = api.clone();
            newer.updated_at += 1;
            assert!(!Arc::ptr_eq(
                &e1,
                &cache.encrypter(&newer, &settings).unwrap()
            ));
        }
    }

    fn test_api(encryption: Option<ApiEncryption>) -> Api {
        Api {
            identifier: warden_types::ApiIdentifier::parse("https://api.example.com").unwrap(),
            name: String::from("api"),
            scopes: Vec::new(),
            token_format: warden_types::TokenFormat::Jwt,
            token_lifetime: 900,
            signing_alg: SigningAlg::RS256,
            require_binding: Default::default(),
            encryption,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn refusals() {
        let rsa = decrypter(SigningAlg::RS256, JweAlgorithm::RsaOaep256);
        let ec = decrypter(SigningAlg::ES256, JweAlgorithm::EcdhEs);
        let err = |key: Value, alg: Option<&str>, enc: Option<&str>| {
            api_encryption(&request(key, alg, enc)).unwrap_err()
        };

        let mut private = jwk_value(&ec);
        private["d"] = json!("AAAA");
        assert_eq!(
            err(private.clone(), None, None),
            ApiEncryptionError::PrivateKey("d")
        );
        assert_eq!(
            err(json!({"keys": [jwk_value(&rsa), private]}), None, None),
            ApiEncryptionError::PrivateKey("d")
        );
        let mut rsa_private = jwk_value(&rsa);
        rsa_private["p"] = json!("AAAA");
        assert_eq!(
            err(rsa_private, None, None),
            ApiEncryptionError::PrivateKey("p")
        );
        assert_eq!(
            err(json!({"kty": "oct", "k": "c2VjcmV0"}), None, None),
            ApiEncryptionError::Symmetric
        );
        assert!(matches!(
            err(jwk_value(&rsa), Some("RSA1_5"), None),
            ApiEncryptionError::UnsupportedAlgorithm(_)
        ));
        assert!(matches!(
            err(jwk_value(&rsa), Some("dir"), None),
            ApiEncryptionError::UnsupportedAlgorithm(_)
        ));
        assert!(matches!(
            err(jwk_value(&rsa), None, Some("A128CBC-HS256")),
            ApiEncryptionError::UnsupportedAlgorithm(_)
        ));
        assert!(matches!(
            err(jwk_value(&rsa), Some("ECDH-ES"), None),
            ApiEncryptionError::Mismatch(_)
        ));
        assert!(matches!(
            err(jwk_value(&ec), Some("RSA-OAEP-256"), None),
            ApiEncryptionError::Mismatch(_)
        ));
        let mut sig = jwk_value(&ec);
        sig["use"] = json!("sig");
        assert!(matches!(
            err(sig, None, None),
            ApiEncryptionError::KeyChoice(_)
        ));
        assert!(matches!(
            err(
                json!({"keys": [jwk_value(&ec), jwk_value(&rsa)]}),
                None,
                None
            ),
            ApiEncryptionError::KeyChoice(_)
        ));
        assert!(matches!(
            err(json!({"keys": []}), None, None),
            ApiEncryptionError::KeyChoice(_)
        ));
        let mut short = jwk_value(&rsa);
        short["n"] = json!(warden_jose::base64url_encode(&[0xc5; 128]));
        assert_eq!(
            err(short, None, None),
            ApiEncryptionError::InvalidKey("RSA modulus shorter than 2048 bits")
        );
        let mut p521 = jwk_value(&ec);
        p521["crv"] = json!("P-521");
        assert!(matches!(
            err(p521, None, None),
            ApiEncryptionError::UnsupportedKey(_)
        ));
        assert!(matches!(
            err(
                json!({"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}),
                None,
                None
            ),
            ApiEncryptionError::UnsupportedKey(_)
        ));
        assert!(matches!(
            err(json!("not a key"), None, None),
            ApiEncryptionError::Malformed(_)
        ));
    }
}
