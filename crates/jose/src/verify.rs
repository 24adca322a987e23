//! Compact JWS validation (RFC 7515 §5.2), in two typed steps: [`parse_compact`] turns a
//! string into an [`Unverified`] token, and one of its `verify_*` methods turns that into a
//! [`Verified`] proof that only this module can construct.
//!
//! The algorithm is never chosen by the token alone: the caller passes an allow-list, the key
//! decides which algorithms it can verify, and header members that name a key (`jwk`, `jku`,
//! `x5u`, `x5c`) are never read (RFC 8725 §2.1, §3.1).

use std::fmt;

use aws_lc_rs::hmac;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};
use warden_types::JwsAlgorithm;

use crate::JoseError;
use crate::jwk::{VerifyingKey, VerifyingKeySet};
use crate::primitives::{base64url_decode, hmac_algorithm};
use crate::signing::check_hmac_key_len;

/// The longest compact JWS accepted, in bytes. Tokens Warden issues or receives (access tokens,
/// client assertions, request objects) are far below it; the bound keeps a hostile token from
/// costing more than a few base64 and JSON passes over 16 KiB.
pub const MAX_COMPACT_JWS_LEN: usize = 16 * 1024;

/// A compact JWS whose structure and header have been checked, but not its signature.
///
/// Everything read from it is attacker-controlled until a `verify_*` method succeeds; the only
/// way to the claims before that is [`Unverified::unverified_claims`], named to say so.
pub struct Unverified {
    alg: JwsAlgorithm,
    kid: Option<String>,
    typ: Option<String>,
    /// ASCII(BASE64URL(header) || '.' || BASE64URL(payload)), RFC 7515 §5.2 step 8.
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Parses a compact JWS (RFC 7515 §7.1) without verifying it.
///
/// Refused: more than [`MAX_COMPACT_JWS_LEN`] bytes; anything but three base64url parts
/// without padding; a header that is not a JSON object or repeats `alg`, `kid`, `typ`, `crit`
/// or `b64`; an `alg` outside [`JwsAlgorithm`] (so `none` and unknown names); any `crit`; `b64`
/// other than `true`; an empty signature. `jwk`, `jku`, `x5u` and `x5c` are ignored.
pub fn parse_compact(token: &str) -> Result<Unverified, JoseError> {
    if token.len() > MAX_COMPACT_JWS_LEN {
        return Err(JoseError::Malformed("token too long"));
    }
    // RFC 7515 §5.2 step 1: "Parse the JWS representation to extract the serialized values
    // for the components of the JWS."
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed(
            "a compact JWS has exactly three parts",
        ));
    };

    // Steps 2-4: base64url-decode the header, which MUST be "a completely valid JSON object".
    let header = Header::parse(&base64url_decode(header_b64)?)?;
    // Step 5: "the JWS Protected Header ... MUST NOT contain" parameters the implementation
    // does not understand in `crit`; Warden understands no extension, so any `crit` fails.
    if header.crit.0 {
        return Err(JoseError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    // RFC 7797 §3: `b64: false` changes what is signed. Warden never accepts unencoded
    // payloads, so only the default (`true`) may appear.
    if header.b64.is_some_and(|b64| !b64) {
        return Err(JoseError::Malformed(
            "unencoded payloads (b64) are not supported",
        ));
    }
    let alg = header
        .alg
        .parse::<JwsAlgorithm>()
        .map_err(|_| JoseError::UnsupportedAlgorithm)?;

    // Steps 6-7: decode the payload and the signature.
    let payload = base64url_decode(payload_b64)?;
    let signature = base64url_decode(signature_b64)?;
    if signature.is_empty() {
        return Err(JoseError::Malformed("empty signature"));
    }

    let signing_input = token[..header_b64.len() + 1 + payload_b64.len()].to_owned();
    Ok(Unverified {
        alg,
        kid: header.kid,
        typ: header.typ,
        signing_input,
        payload,
        signature,
    })
}

impl Unverified {
    /// The header's `alg` (always a known algorithm; never `none`).
    pub fn alg(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The header's `kid`, untrusted; use it only to pick a key.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's `typ`, untrusted until verification.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The claims, deserialized **without** any signature check.
    ///
    /// Only for choosing how to verify (e.g. reading `iss` to find the client whose keys
    /// verify a `private_key_jwt` assertion). Never base a decision on these values.
    pub fn unverified_claims<T: DeserializeOwned>(&self) -> Result<T, JoseError> {
        deserialize_claims(&self.payload)
    }

    /// Verifies with a public key.
    ///
    /// The token's `alg` must be in the caller's `allowed` list *and* supported by `key`
    /// ([`VerifyingKey::supports`]); an `HS256` token against an RSA key is a
    /// [`JoseError::KeyMismatch`], never an HMAC keyed with the public key.
    pub fn verify_with_key<T: DeserializeOwned>(
        self,
        key: &VerifyingKey,
        allowed: &[JwsAlgorithm],
    ) -> Result<Verified<T>, JoseError> {
        self.check_allowed(allowed)?;
        if !key.supports(self.alg) {
            return Err(JoseError::KeyMismatch);
        }
        key.verify(self.alg, self.signing_input.as_bytes(), &self.signature)?;
        self.into_verified()
    }

    /// Verifies an HMAC (`HS256`, `HS384`, `HS512`) JWS with a shared secret, e.g. a
    /// `client_secret_jwt` assertion (RFC 7523 §2.2).
    ///
    /// Only HS algorithms, and only those in `allowed`. The secret must be at least as long as
    /// the hash output (RFC 7518 §3.2). The MAC is compared in constant time.
    pub fn verify_with_secret<T: DeserializeOwned>(
        self,
        secret: &[u8],
        allowed: &[JwsAlgorithm],
    ) -> Result<Verified<T>, JoseError> {
        self.check_allowed(allowed)?;
        let hmac_alg = hmac_algorithm(self.alg).ok_or(JoseError::KeyMismatch)?;
        check_hmac_key_len(hmac_alg, secret)?;
        // aws-lc compares the tags in constant time.
        hmac::verify(
            &hmac::Key::new(hmac_alg, secret),
            self.signing_input.as_bytes(),
            &self.signature,
        )
        .map_err(|_| JoseError::InvalidSignature)?;
        self.into_verified()
    }

    /// Verifies against a key set: the first of the
    /// [candidates](VerifyingKeySet::candidates) for the token's `kid` and `alg` that
    /// validates the signature.
    ///
    /// [`JoseError::NoMatchingKey`] when no key is a candidate; [`JoseError::InvalidSignature`]
    /// when candidates exist but none validates.
    pub fn verify_with_set<T: DeserializeOwned>(
        self,
        keys: &VerifyingKeySet,
        allowed: &[JwsAlgorithm],
    ) -> Result<Verified<T>, JoseError> {
        self.check_allowed(allowed)?;
        let mut tried = false;
        let mut valid = false;
        for key in keys.candidates(self.kid(), self.alg) {
            tried = true;
            if key
                .verify(self.alg, self.signing_input.as_bytes(), &self.signature)
                .is_ok()
            {
                valid = true;
                break;
            }
        }
        match (tried, valid) {
            (_, true) => self.into_verified(),
            (true, false) => Err(JoseError::InvalidSignature),
            (false, false) => Err(JoseError::NoMatchingKey),
        }
    }

    /// RFC 8725 §3.1: "libraries MUST enable the caller to specify a supported set of
    /// algorithms and MUST NOT use any other algorithms when performing cryptographic
    /// operations."
    fn check_allowed(&self, allowed: &[JwsAlgorithm]) -> Result<(), JoseError> {
        if allowed.contains(&self.alg) {
            Ok(())
        } else {
            Err(JoseError::AlgorithmNotAllowed)
        }
    }

    /// Called only after a signature check succeeded.
    fn into_verified<T: DeserializeOwned>(self) -> Result<Verified<T>, JoseError> {
        Ok(Verified {
            claims: deserialize_claims(&self.payload)?,
            alg: self.alg,
            kid: self.kid,
            typ: self.typ,
        })
    }
}

impl fmt::Debug for Unverified {
    /// Header facts only: the token itself may be a bearer credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unverified")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}

/// A JWS whose signature verified, with its deserialized claims.
///
/// Only this crate constructs it, so a function that takes a `Verified<T>` cannot be handed
/// unchecked claims. It says nothing about `exp`, `aud` or `iss`: those are the caller's checks.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    claims: T,
    alg: JwsAlgorithm,
    kid: Option<String>,
    typ: Option<String>,
}

impl<T> Verified<T> {
    /// The verified claims.
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> T {
        self.claims
    }

    /// The algorithm the signature verified with.
    pub fn alg(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The protected header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The protected header's `typ` (RFC 8725 §3.11: compare it to the type you expect).
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
}

fn deserialize_claims<T: DeserializeOwned>(payload: &[u8]) -> Result<T, JoseError> {
    serde_json::from_slice(payload)
        .map_err(|_| JoseError::Malformed("claims do not have the expected shape"))
}

/// The JOSE header members Warden reads. Every other member is ignored, in particular `jwk`,
/// `jku`, `x5u` and `x5c`: a token never chooses its own key.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Present,
    #[serde(default)]
    b64: Option<bool>,
}

impl Header {
    fn parse(json: &[u8]) -> Result<Self, JoseError> {
        // serde would also read a struct from a JSON array; RFC 7515 §5.2 step 3 wants an object.
        let first = json.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(JoseError::Malformed("JWS header is not a JSON object"));
        }
        // RFC 7515 §4: a header with duplicate member names MUST be rejected (or the last one
        // used). Derived deserialization rejects duplicates of every member read here.
        serde_json::from_slice(json).map_err(|_| JoseError::Malformed("JWS header is not valid"))
    }
}

/// Whether a header member appeared at all, whatever its value (even `null`).
#[derive(Default)]
pub(crate) struct Present(pub(crate) bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(Self(true))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use warden_types::{Kid, SigningAlg};

    use super::*;
    use crate::SigningKey;
    use crate::primitives::base64url_encode;
    use crate::signing::sign_jwt_with_secret;

    const ALL: &[JwsAlgorithm] = &JwsAlgorithm::ALL;

    /// A token with an arbitrary header and payload and a dummy signature.
    fn forge(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            base64url_encode(header.as_bytes()),
            base64url_encode(payload.as_bytes()),
            base64url_encode(b"sig")
        )
    }

    #[test]
    fn none_and_unknown_algorithms_are_refused() {
        for alg in ["none", "None", "NONE", "HS1", "RS1", "ES512", ""] {
            let token = forge(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert_eq!(
                parse_compact(&token).unwrap_err(),
                JoseError::UnsupportedAlgorithm,
                "{alg}"
            );
        }
        // The classic "alg":"none" token with an empty signature.
        let unsigned = format!(
            "{}.{}.",
            base64url_encode(br#"{"alg":"none"}"#),
            base64url_encode(b"{}")
        );
        assert!(parse_compact(&unsigned).is_err());
    }

    #[test]
    fn structure_is_strict() {
        let ok = forge(r#"{"alg":"ES256"}"#, "{}");
        assert!(parse_compact(&ok).is_ok());

        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{ok}."),
            &format!("{ok}=="),
            &ok.replace('.', ".."),
        ] {
            assert!(
                matches!(parse_compact(bad), Err(JoseError::Malformed(_))),
                "{bad}"
            );
        }
        // Padding in a part.
        let (h, rest) = ok.split_once('.').unwrap();
        assert!(parse_compact(&format!("{h}=.{rest}")).is_err());
        // Empty signature.
        let (signing_input, _) = ok.rsplit_once('.').unwrap();
        assert_eq!(
            parse_compact(&format!("{signing_input}.")).unwrap_err(),
            JoseError::Malformed("empty signature")
        );
        // Too long.
        let long = forge(r#"{"alg":"ES256"}"#, &"x".repeat(MAX_COMPACT_JWS_LEN));
        assert_eq!(
            parse_compact(&long).unwrap_err(),
            JoseError::Malformed("token too long")
        );
    }

    #[test]
    fn header_rules() {
        let malformed = |header: &str| {
            matches!(
                parse_compact(&forge(header, "{}")),
                Err(JoseError::Malformed(_))
            )
        };
        assert!(malformed(r#"["alg","ES256"]"#));
        assert!(malformed(r#""ES256""#));
        assert!(malformed(r#"{"alg":"ES256""#));
        assert!(malformed(r#"{"typ":"JWT"}"#));
        assert!(malformed(r#"{"alg":256}"#));
        assert!(malformed(r#"{"alg":"ES256","kid":7}"#));
        assert!(malformed(r#"{"alg":"ES256","alg":"ES256"}"#));
        assert!(malformed(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#));
        assert!(malformed(r#"{"alg":"ES256","crit":null}"#));
        assert!(malformed(r#"{"alg":"ES256","b64":false}"#));
        assert!(malformed(r#"{"alg":"ES256","b64":"false"}"#));
        // b64 true is the default; jwk/jku/x5u/x5c are ignored, not errors.
        let token = forge(
            r#" {"alg":"ES256","b64":true,"kid":"k","typ":"at+jwt",
                 "jwk":{"kty":"oct","k":"AAAA"},"jku":"https://evil.example/jwks",
                 "x5u":"https://evil.example/cert","x5c":["AAAA"]}"#,
            r#"{"sub":"s"}"#,
        );
        let parsed = parse_compact(&token).unwrap();
        assert_eq!(parsed.alg(), JwsAlgorithm::ES256);
        assert_eq!(parsed.kid(), Some("k"));
        assert_eq!(parsed.typ(), Some("at+jwt"));
        assert_eq!(
            parsed.unverified_claims::<Value>().unwrap(),
            json!({"sub": "s"})
        );
        assert_eq!(
            format!("{parsed:?}"),
            r#"Unverified { alg: ES256, kid: Some("k"), typ: Some("at+jwt"), .. }"#
        );
    }

    #[test]
    fn round_trip_with_each_signing_algorithm() {
        for alg in SigningAlg::ALL {
            let key = SigningKey::generate(alg, Kid::new("k1")).unwrap();
            let token = key.sign_jwt("at+jwt", &json!({"sub": "alice"})).unwrap();

            let verified: Verified<Value> = parse_compact(&token)
                .unwrap()
                .verify_with_key(&key.verifying_key(), ALL)
                .unwrap();
            assert_eq!(verified.claims(), &json!({"sub": "alice"}));
            assert_eq!(verified.alg(), alg.jws());
            assert_eq!(verified.kid(), Some("k1"));
            assert_eq!(verified.typ(), Some("at+jwt"));
            assert_eq!(verified.into_claims()["sub"], "alice");
        }
    }

    #[test]
    fn allow_list_and_key_type_both_apply() {
        let key = SigningKey::generate(SigningAlg::ES256, Kid::new("k1")).unwrap();
        let token = key.sign_jwt("JWT", &json!({})).unwrap();
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_key::<Value>(&key.verifying_key(), &[JwsAlgorithm::RS256])
                .unwrap_err(),
            JoseError::AlgorithmNotAllowed
        );
        // An allowed alg the key cannot do: an ES256 key never verifies "EdDSA".
        let other = SigningKey::generate(SigningAlg::EdDSA, Kid::new("k2")).unwrap();
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_key::<Value>(&other.verifying_key(), ALL)
                .unwrap_err(),
            JoseError::KeyMismatch
        );
        // Same type, different key.
        let stranger = SigningKey::generate(SigningAlg::ES256, Kid::new("k1")).unwrap();
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_key::<Value>(&stranger.verifying_key(), ALL)
                .unwrap_err(),
            JoseError::InvalidSignature
        );
    }

    #[test]
    fn tampering_is_detected() {
        for alg in SigningAlg::ALL {
            let key = SigningKey::generate(alg, Kid::new("k1")).unwrap();
            let token = key.sign_jwt("JWT", &json!({"admin": false})).unwrap();
            let parts: Vec<&str> = token.split('.').collect();

            let payload = base64url_encode(br#"{"admin":true}"#);
            let tampered_payload = format!("{}.{payload}.{}", parts[0], parts[2]);
            let header = base64url_encode(format!(r#"{{"alg":"{alg}","kid":"k2"}}"#).as_bytes());
            let tampered_header = format!("{header}.{}.{}", parts[1], parts[2]);
            let mut signature = base64url_decode(parts[2]).unwrap();
            signature[10] ^= 0x01;
            let signature = base64url_encode(&signature);
            let tampered_signature = format!("{}.{}.{signature}", parts[0], parts[1]);

            for tampered in [tampered_payload, tampered_header, tampered_signature] {
                assert_eq!(
                    parse_compact(&tampered)
                        .unwrap()
                        .verify_with_key::<Value>(&key.verifying_key(), ALL)
                        .unwrap_err(),
                    JoseError::InvalidSignature,
                    "{alg}"
                );
            }
        }
    }

    #[test]
    fn hs256_with_an_rsa_public_key_is_refused() {
        // The classic confusion: sign HS256 using the RSA public key's bytes as the secret.
        let rsa = SigningKey::generate(SigningAlg::RS256, Kid::new("rsa")).unwrap();
        let public = serde_json::to_vec(&rsa.public_jwk()).unwrap();
        let token = sign_jwt_with_secret(&public, JwsAlgorithm::HS256, "JWT", &json!({})).unwrap();
        let header: Value =
            serde_json::from_slice(&base64url_decode(token.split('.').next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(header["alg"], "HS256");

        // Even with HS256 on the allow-list, an RSA key never verifies it.
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_key::<Value>(&rsa.verifying_key(), ALL)
                .unwrap_err(),
            JoseError::KeyMismatch
        );
        let set = VerifyingKeySet::new(vec![rsa.verifying_key()]);
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_set::<Value>(&set, ALL)
                .unwrap_err(),
            JoseError::NoMatchingKey
        );
    }

    #[test]
    fn secret_verification() {
        let secret = [42u8; 32];
        let token = sign_jwt_with_secret(&secret, JwsAlgorithm::HS256, "JWT", &json!({"iss": "c"}))
            .unwrap();
        let verified: Verified<Value> = parse_compact(&token)
            .unwrap()
            .verify_with_secret(&secret, &JwsAlgorithm::SYMMETRIC)
            .unwrap();
        assert_eq!(verified.claims()["iss"], "c");
        assert_eq!(verified.typ(), Some("JWT"));

        let wrong = [43u8; 32];
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_secret::<Value>(&wrong, &JwsAlgorithm::SYMMETRIC)
                .unwrap_err(),
            JoseError::InvalidSignature
        );
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_secret::<Value>(&secret, &[JwsAlgorithm::HS512])
                .unwrap_err(),
            JoseError::AlgorithmNotAllowed
        );
        assert!(matches!(
            parse_compact(&token)
                .unwrap()
                .verify_with_secret::<Value>(&secret[..31], &JwsAlgorithm::SYMMETRIC),
            Err(JoseError::InvalidKey(_))
        ));

        // An asymmetric token never goes through the HMAC path.
        let key = SigningKey::generate(SigningAlg::ES256, Kid::new("k")).unwrap();
        let es = key.sign_jwt("JWT", &json!({})).unwrap();
        assert_eq!(
            parse_compact(&es)
                .unwrap()
                .verify_with_secret::<Value>(&secret, ALL)
                .unwrap_err(),
            JoseError::KeyMismatch
        );
    }

    #[test]
    fn key_set_verification_by_kid() {
        let a = SigningKey::generate(SigningAlg::ES256, Kid::new("a")).unwrap();
        let b = SigningKey::generate(SigningAlg::ES256, Kid::new("b")).unwrap();
        let set = VerifyingKeySet::new(vec![a.verifying_key(), b.verifying_key()]);

        let token = b.sign_jwt("JWT", &json!({"n": 1})).unwrap();
        let verified: Verified<Value> = parse_compact(&token)
            .unwrap()
            .verify_with_set(&set, ALL)
            .unwrap();
        assert_eq!(verified.kid(), Some("b"));

        // A token whose kid names no key in the set.
        let c = SigningKey::generate(SigningAlg::ES256, Kid::new("c")).unwrap();
        let token = c.sign_jwt("JWT", &json!({})).unwrap();
        assert_eq!(
            parse_compact(&token)
                .unwrap()
                .verify_with_set::<Value>(&set, ALL)
                .unwrap_err(),
            JoseError::NoMatchingKey
        );

        // A token signed by "c" but claiming kid "a": the kid's key is tried and fails.
        let forged_kid = {
            let parts: Vec<&str> = token.split('.').collect();
            let header = base64url_encode(br#"{"alg":"ES256","kid":"a"}"#);
            format!("{header}.{}.{}", parts[1], parts[2])
        };
        assert_eq!(
            parse_compact(&forged_kid)
                .unwrap()
                .verify_with_set::<Value>(&set, ALL)
                .unwrap_err(),
            JoseError::InvalidSignature
        );
    }

    #[test]
    fn key_set_without_kid_tries_every_key_for_the_alg() {
        let a = SigningKey::generate(SigningAlg::EdDSA, Kid::new("a")).unwrap();
        let b = SigningKey::generate(SigningAlg::EdDSA, Kid::new("b")).unwrap();
        let set = VerifyingKeySet::new(vec![a.verifying_key(), b.verifying_key()]);

        // Re-sign b's claims with a header that has no kid.
        let header = base64url_encode(br#"{"alg":"EdDSA"}"#);
        let payload = base64url_encode(br#"{"n":2}"#);
        let signing_input = format!("{header}.{payload}");
        let signature = b.sign(signing_input.as_bytes()).unwrap();
        let token = format!("{signing_input}.{}", base64url_encode(&signature));

        let verified: Verified<Value> = parse_compact(&token)
            .unwrap()
            .verify_with_set(&set, ALL)
            .unwrap();
        assert_eq!(verified.claims()["n"], 2);
        assert_eq!(verified.kid(), None);
    }

    #[test]
    fn claims_must_match_the_requested_type() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)] // read only through Debug
        struct Claims {
            exp: i64,
        }
        let key = SigningKey::generate(SigningAlg::ES256, Kid::new("k")).unwrap();
        let token = key.sign_jwt("JWT", &json!({"exp": "tomorrow"})).unwrap();
        assert!(matches!(
            parse_compact(&token)
                .unwrap()
                .verify_with_key::<Claims>(&key.verifying_key(), ALL),
            Err(JoseError::Malformed(_))
        ));
    }

    #[test]
    fn rfc8037_appendix_a4_ed25519() {
        // The payload is not JSON, so this checks the signature step on its own.
        let vector: Value =
            serde_json::from_str(include_str!("../tests/data/rfc8037-a4.json")).unwrap();
        let jwk = serde_json::from_value(vector["jwk"].clone()).unwrap();
        let key = VerifyingKey::from_jwk(&jwk).unwrap();
        let parsed = parse_compact(vector["compact"].as_str().unwrap()).unwrap();
        assert_eq!(parsed.alg(), JwsAlgorithm::EdDSA);
        assert_eq!(parsed.payload, b"Example of Ed25519 signing");
        assert!(
            key.verify(
                parsed.alg,
                parsed.signing_input.as_bytes(),
                &parsed.signature
            )
            .is_ok()
        );
    }
}
