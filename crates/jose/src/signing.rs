//! Warden's own signing keys and compact JWS creation (RFC 7515 §7.1).
//!
//! A [`SigningKey`] parses its PKCS#8 document once, when it is generated or loaded, and keeps
//! the aws-lc key pair for every later signature: issuing a token costs one header
//! serialization, two base64url encodings and one signature, nothing more.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaEncoding, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use warden_types::jwk::Jwk;
use warden_types::{JwsAlgorithm, Kid, SigningAlg};
use zeroize::Zeroizing;

use crate::JoseError;
use crate::jwk::{MIN_RSA_BITS, VerifyingKey, public_jwk};
use crate::primitives::{base64url_encode, hmac_algorithm};

/// A private key Warden signs its tokens with: the `kid`, the algorithm, the parsed aws-lc key
/// pair, and the PKCS#8 document it came from (kept only so it can be sealed and stored).
///
/// Deliberately not `Clone`: share it behind an `Arc`. `Debug` shows only `kid` and `alg`.
pub struct SigningKey {
    kid: Kid,
    alg: SigningAlg,
    pair: KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    public_jwk: Jwk,
    verifying_key: VerifyingKey,
}

/// The parsed key pair, one variant per key type.
enum KeyPair {
    Rsa {
        pair: RsaKeyPair,
        /// RFC 7518 §3.3 PKCS#1 v1.5 or §3.5 PSS (salt length = hash length), with SHA-256.
        padding: &'static dyn RsaEncoding,
    },
    /// P-256 with the fixed-length `r || s` signature JWS needs (RFC 7518 §3.4).
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// Generates a new key: RSA 2048 for RS256 and PS256, P-256 for ES256, Ed25519 for EdDSA.
    ///
    /// The key is exported to PKCS#8 and loaded back through [`SigningKey::from_pkcs8`], so a
    /// generated key is exactly what a restart will load from storage.
    pub fn generate(alg: SigningAlg, kid: Kid) -> Result<Self, JoseError> {
        let pkcs8: Zeroizing<Vec<u8>> = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| JoseError::Crypto)?;
                let der = pair.as_der().map_err(|_| JoseError::Crypto)?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            SigningAlg::ES256 => {
                let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| JoseError::Crypto)?;
                let der = pair.to_pkcs8v1().map_err(|_| JoseError::Crypto)?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            SigningAlg::EdDSA => {
                let pair = Ed25519KeyPair::generate().map_err(|_| JoseError::Crypto)?;
                let der = pair.to_pkcs8v1().map_err(|_| JoseError::Crypto)?;
                Zeroizing::new(der.as_ref().to_vec())
            }
        };
        Self::from_pkcs8(alg, kid, &pkcs8)
    }

    /// Loads a key from an unencrypted PKCS#8 DER document (RFC 5208 / RFC 5958).
    ///
    /// The document must hold the key type `alg` needs (RSA of at least 2048 bits, P-256, or
    /// Ed25519); anything else is refused, so a stored key cannot silently change algorithm.
    pub fn from_pkcs8(alg: SigningAlg, kid: Kid, der: &[u8]) -> Result<Self, JoseError> {
        let (pair, mut jwk) = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                let pair = RsaKeyPair::from_pkcs8(der)
                    .map_err(|_| JoseError::InvalidKey("not an RSA PKCS#8 private key"))?;
                if pair.public_modulus_len() * 8 < MIN_RSA_BITS {
                    return Err(JoseError::InvalidKey("RSA modulus shorter than 2048 bits"));
                }
                let public = pair.public_key();
                let mut jwk = public_jwk("RSA");
                jwk.n = Some(base64url_encode(
                    public.modulus().big_endian_without_leading_zero(),
                ));
                jwk.e = Some(base64url_encode(
                    public.exponent().big_endian_without_leading_zero(),
                ));
                let padding: &'static dyn RsaEncoding = if alg == SigningAlg::RS256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                (KeyPair::Rsa { pair, padding }, jwk)
            }
            SigningAlg::ES256 => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                        .map_err(|_| JoseError::InvalidKey("not a P-256 PKCS#8 private key"))?;
                // The public key is the uncompressed SEC1 point 0x04 || x || y.
                let point = pair.public_key().as_ref();
                let (Some(0x04), Some(xy)) = (point.first(), point.get(1..)) else {
                    return Err(JoseError::Crypto);
                };
                if xy.len() != 64 {
                    return Err(JoseError::Crypto);
                }
                let (x, y) = xy.split_at(32);
                let mut jwk = public_jwk("EC");
                jwk.crv = Some("P-256".to_owned());
                jwk.x = Some(base64url_encode(x));
                jwk.y = Some(base64url_encode(y));
                (KeyPair::Ecdsa(pair), jwk)
            }
            SigningAlg::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der)
                    .map_err(|_| JoseError::InvalidKey("not an Ed25519 PKCS#8 private key"))?;
                let mut jwk = public_jwk("OKP");
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = Some(base64url_encode(pair.public_key().as_ref()));
                (KeyPair::Ed25519(pair), jwk)
            }
        };
        jwk.kid = Some(kid.as_str().to_owned());
        jwk.use_ = Some("sig".to_owned());
        jwk.alg = Some(alg.as_str().to_owned());
        // Going through the public JWK checks that what we publish is what verifies.
        let verifying_key = VerifyingKey::from_jwk(&jwk)?;

        Ok(Self {
            kid,
            alg,
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
            public_jwk: jwk,
            verifying_key,
        })
    }

    /// The PKCS#8 DER document of the private key, for sealing with the master key.
    ///
    /// # Security
    /// This is the private key itself. Seal it ([`MasterKey::seal`](crate::MasterKey::seal))
    /// before it leaves memory; never log it or put it in an error.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key id, published in the JWKS and in every token's header (RFC 7515 §4.1.4).
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// The signing algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK to publish in the JWKS (RFC 7517): `kty` with `n`/`e`, `crv`/`x`/`y` or
    /// `crv`/`x`; `kid`; `use` `sig`; `alg`.
    pub fn public_jwk(&self) -> Jwk {
        self.public_jwk.clone()
    }

    /// The matching public key, to verify tokens Warden itself signed.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key.clone()
    }

    /// Signs `claims` as a compact JWS (RFC 7515 §7.1) with the protected header
    /// `{"alg":..,"typ":typ,"kid":..}` and the JSON serialization of `claims` as payload.
    ///
    /// `typ` is the explicit type of RFC 8725 §3.11, e.g. `at+jwt` for RFC 9068 access tokens.
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JoseError> {
        let payload = serde_json::to_vec(claims)
            .map_err(|_| JoseError::Malformed("claims could not be serialized"))?;
        self.sign_jwt_bytes(typ, &payload)
    }

    /// Like [`SigningKey::sign_jwt`], with a payload the caller has already serialized.
    ///
    /// `payload_json` is signed as given; it should be the UTF-8 JSON of a claims object.
    pub fn sign_jwt_bytes(&self, typ: &str, payload_json: &[u8]) -> Result<String, JoseError> {
        let header = ProtectedHeader {
            alg: self.alg.as_str(),
            typ: Some(typ),
            kid: Some(self.kid.as_str()),
        };
        compact(&header, payload_json, |signing_input| {
            self.sign(signing_input)
        })
    }

    /// Signs the JWS Signing Input (RFC 7515 §5.1 step 5) and returns the JWS Signature.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        match &self.pair {
            KeyPair::Rsa { pair, padding } => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(*padding, &SystemRandom::new(), message, &mut signature)
                    .map_err(|_| JoseError::Crypto)?;
                Ok(signature)
            }
            KeyPair::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| JoseError::Crypto),
            KeyPair::Ed25519(pair) => pair
                .try_sign(message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| JoseError::Crypto),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Signs `claims` as a compact JWS with a shared secret: HS256, HS384 or HS512 (RFC 7518 §3.2),
/// header `{"alg":..,"typ":typ}`.
///
/// Warden never issues HMAC tokens; this exists for the client side of `client_secret_jwt`
/// (RFC 7523, OpenID Connect Core §9), e.g. in tests and tools. The secret must be at least as
/// long as the hash output (RFC 7518 §3.2).
pub fn sign_jwt_with_secret<T: Serialize>(
    secret: &[u8],
    alg: JwsAlgorithm,
    typ: &str,
    claims: &T,
) -> Result<String, JoseError> {
    let hmac_alg = hmac_algorithm(alg).ok_or(JoseError::KeyMismatch)?;
    check_hmac_key_len(hmac_alg, secret)?;
    let payload = serde_json::to_vec(claims)
        .map_err(|_| JoseError::Malformed("claims could not be serialized"))?;
    let header = ProtectedHeader {
        alg: alg.as_str(),
        typ: Some(typ),
        kid: None,
    };
    let key = hmac::Key::new(hmac_alg, secret);
    compact(&header, &payload, |signing_input| {
        Ok(hmac::sign(&key, signing_input).as_ref().to_vec())
    })
}

/// RFC 7518 §3.2: "A key of the same size as the hash output (for instance, 256 bits for
/// "HS256") or larger MUST be used with this algorithm."
pub(crate) fn check_hmac_key_len(alg: hmac::Algorithm, secret: &[u8]) -> Result<(), JoseError> {
    if secret.len() < alg.digest_algorithm().output_len() {
        return Err(JoseError::InvalidKey(
            "HMAC key shorter than the hash output (RFC 7518 §3.2)",
        ));
    }
    Ok(())
}

/// The JWS Protected Header Warden writes. Field order is the order on the wire.
#[derive(Serialize)]
struct ProtectedHeader<'a> {
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// RFC 7515 §7.1: BASE64URL(header) || '.' || BASE64URL(payload) || '.' || BASE64URL(signature),
/// where the signature is over the first two parts.
fn compact(
    header: &ProtectedHeader<'_>,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, JoseError>,
) -> Result<String, JoseError> {
    let header = serde_json::to_vec(header)
        .map_err(|_| JoseError::Malformed("header could not be serialized"))?;
    // 4/3 of each part, plus room for a 2048-bit RSA signature, so the string never regrows.
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 352 + 4);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::base64url_decode;

    fn header_of(token: &str) -> serde_json::Value {
        let header = token.split('.').next().unwrap();
        serde_json::from_slice(&base64url_decode(header).unwrap()).unwrap()
    }

    #[test]
    fn every_algorithm_generates_signs_and_reloads() {
        for alg in SigningAlg::ALL {
            let key = SigningKey::generate(alg, Kid::new(format!("k-{alg}"))).unwrap();
            assert_eq!(key.alg(), alg);
            assert_eq!(key.kid().as_str(), format!("k-{alg}"));

            let token = key
                .sign_jwt("at+jwt", &serde_json::json!({"sub": "s"}))
                .unwrap();
            assert_eq!(
                header_of(&token),
                serde_json::json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": format!("k-{alg}")})
            );
            // The header is written in this exact order.
            let raw_header = base64url_decode(token.split('.').next().unwrap()).unwrap();
            assert!(
                raw_header.starts_with(format!(r#"{{"alg":"{alg}","typ":"at+jwt""#).as_bytes())
            );

            let reloaded = SigningKey::from_pkcs8(alg, key.kid().clone(), key.pkcs8_der()).unwrap();
            assert_eq!(reloaded.public_jwk(), key.public_jwk());
        }
    }

    #[test]
    fn public_jwk_members() {
        let es = SigningKey::generate(SigningAlg::ES256, Kid::new("e"))
            .unwrap()
            .public_jwk();
        assert_eq!((es.kty.as_str(), es.crv.as_deref()), ("EC", Some("P-256")));
        assert_eq!(
            base64url_decode(es.x.as_deref().unwrap()).unwrap().len(),
            32
        );
        assert_eq!(
            base64url_decode(es.y.as_deref().unwrap()).unwrap().len(),
            32
        );
        assert_eq!(
            (es.use_.as_deref(), es.alg.as_deref()),
            (Some("sig"), Some("ES256"))
        );
        assert!(!es.has_private_material());

        let ed = SigningKey::generate(SigningAlg::EdDSA, Kid::new("o"))
            .unwrap()
            .public_jwk();
        assert_eq!(
            (ed.kty.as_str(), ed.crv.as_deref()),
            ("OKP", Some("Ed25519"))
        );
        assert!(ed.y.is_none());

        let rs = SigningKey::generate(SigningAlg::PS256, Kid::new("r"))
            .unwrap()
            .public_jwk();
        assert_eq!(rs.kty, "RSA");
        assert_eq!(rs.e.as_deref(), Some("AQAB"));
        assert_eq!(
            base64url_decode(rs.n.as_deref().unwrap()).unwrap().len(),
            256
        );
        assert_eq!(rs.alg.as_deref(), Some("PS256"));
        // The JSON a JWKS endpoint serves has no private member at all.
        let json = serde_json::to_value(&rs).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["alg", "e", "kid", "kty", "n", "use"]
        );
    }

    #[test]
    fn from_pkcs8_refuses_the_wrong_key_type() {
        let ec = SigningKey::generate(SigningAlg::ES256, Kid::new("e")).unwrap();
        for alg in [SigningAlg::RS256, SigningAlg::PS256, SigningAlg::EdDSA] {
            assert!(matches!(
                SigningKey::from_pkcs8(alg, Kid::new("x"), ec.pkcs8_der()),
                Err(JoseError::InvalidKey(_))
            ));
        }
        assert!(SigningKey::from_pkcs8(SigningAlg::ES256, Kid::new("x"), b"not der").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let key = SigningKey::generate(SigningAlg::EdDSA, Kid::new("kid-1")).unwrap();
        let debug = format!("{key:?}");
        assert_eq!(debug, r#"SigningKey { kid: Kid("kid-1"), alg: EdDSA, .. }"#);
    }

    #[test]
    fn signing_key_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SigningKey>();
        assert_send_sync::<VerifyingKey>();
    }

    #[test]
    fn hmac_signing_checks_alg_and_key_length() {
        let claims = serde_json::json!({"iss": "c"});
        assert_eq!(
            sign_jwt_with_secret(&[7; 32], JwsAlgorithm::RS256, "JWT", &claims).unwrap_err(),
            JoseError::KeyMismatch
        );
        assert!(matches!(
            sign_jwt_with_secret(&[7; 47], JwsAlgorithm::HS384, "JWT", &claims),
            Err(JoseError::InvalidKey(_))
        ));
        let token = sign_jwt_with_secret(&[7; 48], JwsAlgorithm::HS384, "JWT", &claims).unwrap();
        assert_eq!(
            header_of(&token),
            serde_json::json!({"alg": "HS384", "typ": "JWT"})
        );
    }
}
