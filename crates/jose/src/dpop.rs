//! DPoP proof JWTs (RFC 9449 §4.2): signing a proof with the key whose public half travels in
//! the JWS header's `jwk`, and the structural and cryptographic half of their verification.
//!
//! A DPoP proof is the one JWS Warden ever verifies with a key named by the token itself: the
//! point of the proof is to show possession of exactly that key. [`verify_dpop_proof`] checks
//! the header (`typ` `dpop+jwt`, an asymmetric `alg` from the caller's allow-list, a public
//! `jwk` without any private member), verifies the signature with the embedded key, and hands
//! back the claims and the key's RFC 7638 thumbprint. The claim checks that depend on the
//! request (`htm`, `htu`, `iat`, `jti`, `ath`, `nonce`) are the caller's (RFC 9449 §4.3).

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use warden_types::JwsAlgorithm;
use warden_types::jwk::Jwk;

use crate::JoseError;
use crate::jwk::{VerifyingKey, jwk_thumbprint};
use crate::primitives::{base64url_decode, base64url_encode};
use crate::signing::SigningKey;
use crate::verify::Present;

/// The JWS `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";

/// The longest DPoP proof accepted, in bytes. A proof with a 4096-bit RSA key is under 2 KiB.
pub const MAX_DPOP_PROOF_LEN: usize = 8 * 1024;

/// JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2). RFC 9449 §4.2: the `jwk` header "MUST NOT contain a private key".
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A DPoP proof whose header and signature verified, with its still unchecked claims.
#[derive(Debug, Clone)]
pub struct DpopProof {
    alg: JwsAlgorithm,
    jwk: Jwk,
    thumbprint: String,
    claims: Map<String, Value>,
}

impl DpopProof {
    /// The algorithm the signature verified with.
    pub fn alg(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The public key of the proof (the header's `jwk`).
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint of [`jwk`](Self::jwk), base64url: the value a bound
    /// token's `cnf.jkt` must equal (RFC 9449 §6.1).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The proof's claims (`jti`, `htm`, `htu`, `iat`, and `ath`, `nonce` when present). Signed
    /// by the key, but none of them checked against the request yet.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// Signs a DPoP proof (RFC 9449 §4.2) with `key`: the protected header is
/// `{"typ":"dpop+jwt","alg":..,"jwk":..}`, where `jwk` holds only the public key's required
/// members (no `kid`, `use` or `alg`), and the payload is the JSON of `claims`.
pub fn sign_dpop_proof<T: Serialize>(key: &SigningKey, claims: &T) -> Result<String, JoseError> {
    #[derive(Serialize)]
    struct Header<'a> {
        typ: &'static str,
        alg: &'static str,
        jwk: &'a Jwk,
    }
    let jwk = dpop_public_jwk(key);
    let header = serde_json::to_vec(&Header {
        typ: DPOP_JWT_TYPE,
        alg: key.alg().as_str(),
        jwk: &jwk,
    })
    .map_err(|_| JoseError::Malformed("header could not be serialized"))?;
    let payload = serde_json::to_vec(claims)
        .map_err(|_| JoseError::Malformed("claims could not be serialized"))?;
    let mut token = base64url_encode(&header);
    token.push('.');
    token.push_str(&base64url_encode(&payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&base64url_encode(&signature));
    Ok(token)
}

/// The public JWK of `key` as a DPoP proof carries it: the key type's required members only.
pub fn dpop_public_jwk(key: &SigningKey) -> Jwk {
    let mut jwk = key.public_jwk();
    jwk.kid = None;
    jwk.use_ = None;
    jwk.alg = None;
    jwk.key_ops = None;
    jwk.x5c = None;
    jwk
}

/// Parses and verifies a DPoP proof (RFC 9449 §4.3 checks 1–7 of the list): at most
/// [`MAX_DPOP_PROOF_LEN`] bytes; a compact JWS of three base64url parts; a header that is a
/// JSON object without duplicate members, `crit` or `b64: false`; `typ` `dpop+jwt`; an `alg`
/// that is asymmetric and in `allowed` (so never `none` or `HS*`); a `jwk` that is a public
/// `RSA`, `EC` or `OKP` key without private members, that supports `alg`, and with which the
/// signature verifies; a payload that is a JSON object.
///
/// The claims are returned unchecked: `htm`, `htu`, `iat`, `jti`, `ath` and `nonce` depend on
/// the request and are the caller's.
pub fn verify_dpop_proof(proof: &str, allowed: &[JwsAlgorithm]) -> Result<DpopProof, JoseError> {
    if proof.len() > MAX_DPOP_PROOF_LEN {
        return Err(JoseError::Malformed("DPoP proof too long"));
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed(
            "a compact JWS has exactly three parts",
        ));
    };
    let header_json = base64url_decode(header_b64)?;
    if header_json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JoseError::Malformed("JWS header is not a JSON object"));
    }
    let header: ProofHeader = serde_json::from_slice(&header_json)
        .map_err(|_| JoseError::Malformed("JWS header is not valid"))?;
    if header.crit.0 {
        return Err(JoseError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    if header.b64.is_some_and(|b64| !b64) {
        return Err(JoseError::Malformed(
            "unencoded payloads (b64) are not supported",
        ));
    }
    if !header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case(DPOP_JWT_TYPE))
    {
        return Err(JoseError::Malformed("the typ of a DPoP proof is dpop+jwt"));
    }
    let alg = header
        .alg
        .parse::<JwsAlgorithm>()
        .map_err(|_| JoseError::UnsupportedAlgorithm)?;
    // RFC 9449 §4.3 check 5: "not none or an identifier for a symmetric algorithm".
    if alg.is_symmetric() || !allowed.contains(&alg) {
        return Err(JoseError::AlgorithmNotAllowed);
    }
    let jwk_object = header.jwk.ok_or(JoseError::Malformed(
        "a DPoP proof carries its public key in jwk",
    ))?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk_object.contains_key(*m)) {
        return Err(JoseError::InvalidKey("JWK carries private key material"));
    }
    let jwk: Jwk = serde_json::from_value(Value::Object(jwk_object))
        .map_err(|_| JoseError::Malformed("the jwk header is not a JWK"))?;
    let key = VerifyingKey::from_jwk(&jwk)?;
    if !key.supports(alg) {
        return Err(JoseError::KeyMismatch);
    }
    let signature = base64url_decode(signature_b64)?;
    if signature.is_empty() {
        return Err(JoseError::Malformed("empty signature"));
    }
    let signing_input = &proof[..header_b64.len() + 1 + payload_b64.len()];
    key.verify(alg, signing_input.as_bytes(), &signature)?;

    let payload = base64url_decode(payload_b64)?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| JoseError::Malformed("claims do not have the expected shape"))?;
    let thumbprint = jwk_thumbprint(&jwk)?;
    Ok(DpopProof {
        alg,
        jwk,
        thumbprint,
        claims,
    })
}

/// The header members a DPoP proof verifier reads; duplicates of any of them are refused.
#[derive(Deserialize)]
struct ProofHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    jwk: Option<Map<String, Value>>,
    #[serde(default)]
    crit: Present,
    #[serde(default)]
    b64: Option<bool>,
    // Read only so that a repeated member is refused like the others.
    #[serde(default)]
    #[allow(dead_code)]
    kid: Option<IgnoredAny>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use warden_types::{Kid, SigningAlg};

    use super::*;
    use crate::sign_jwt_with_secret;

    const ASYM: &[JwsAlgorithm] = &JwsAlgorithm::ASYMMETRIC;

    fn key(alg: SigningAlg) -> SigningKey {
        SigningKey::generate(alg, Kid::new("k")).unwrap()
    }

    fn forge(header: &Value, claims: &Value, key: &SigningKey) -> String {
        let mut token = base64url_encode(&serde_json::to_vec(header).unwrap());
        token.push('.');
        token.push_str(&base64url_encode(&serde_json::to_vec(claims).unwrap()));
        let sig = key.sign(token.as_bytes()).unwrap();
        token.push('.');
        token.push_str(&base64url_encode(&sig));
        token
    }

    #[test]
    fn proofs_of_every_key_type_round_trip() {
        for alg in SigningAlg::ALL {
            let k = key(alg);
            let proof = sign_dpop_proof(&k, &json!({"jti": "j", "htm": "GET"})).unwrap();
            let verified = verify_dpop_proof(&proof, ASYM).unwrap();
            assert_eq!(verified.alg(), alg.jws());
            assert_eq!(verified.claims()["htm"], "GET");
            assert_eq!(
                verified.thumbprint(),
                jwk_thumbprint(&k.public_jwk()).unwrap()
            );
            assert!(verified.jwk().kid.is_none());
        }
    }

    #[test]
    fn bad_proofs_are_refused() {
        let k = key(SigningAlg::ES256);
        let jwk = serde_json::to_value(dpop_public_jwk(&k)).unwrap();
        let claims = json!({"jti": "j"});
        let ok = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        assert!(verify_dpop_proof(&forge(&ok, &claims, &k), ASYM).is_ok());

        let mut wrong_typ = ok.clone();
        wrong_typ["typ"] = json!("JWT");
        assert!(verify_dpop_proof(&forge(&wrong_typ, &claims, &k), ASYM).is_err());
        let mut no_jwk = ok.clone();
        no_jwk.as_object_mut().unwrap().remove("jwk");
        assert!(verify_dpop_proof(&forge(&no_jwk, &claims, &k), ASYM).is_err());
        let mut private = ok.clone();
        private["jwk"]["d"] = json!("AAAA");
        assert_eq!(
            verify_dpop_proof(&forge(&private, &claims, &k), ASYM).unwrap_err(),
            JoseError::InvalidKey("JWK carries private key material")
        );
        // Another key's signature.
        let other = key(SigningAlg::ES256);
        assert_eq!(
            verify_dpop_proof(&forge(&ok, &claims, &other), ASYM).unwrap_err(),
            JoseError::InvalidSignature
        );
        // Not on the allow-list.
        assert_eq!(
            verify_dpop_proof(&forge(&ok, &claims, &k), &[JwsAlgorithm::RS256]).unwrap_err(),
            JoseError::AlgorithmNotAllowed
        );
        // HS256, even when "allowed", and none.
        let hs =
            sign_jwt_with_secret(&[7u8; 32], JwsAlgorithm::HS256, "dpop+jwt", &claims).unwrap();
        assert_eq!(
            verify_dpop_proof(&hs, &JwsAlgorithm::ALL).unwrap_err(),
            JoseError::AlgorithmNotAllowed
        );
        let none = format!(
            "{}.{}.",
            base64url_encode(br#"{"typ":"dpop+jwt","alg":"none"}"#),
            base64url_encode(b"{}")
        );
        assert!(verify_dpop_proof(&none, ASYM).is_err());
        // A jwk of another type than the alg.
        let mut confused = ok.clone();
        confused["alg"] = json!("RS256");
        assert_eq!(
            verify_dpop_proof(&forge(&confused, &claims, &k), ASYM).unwrap_err(),
            JoseError::KeyMismatch
        );
        // A symmetric jwk.
        let mut oct = ok;
        oct["jwk"] = json!({"kty": "oct", "k": "AAAA"});
        assert!(verify_dpop_proof(&forge(&oct, &claims, &k), ASYM).is_err());
        assert!(verify_dpop_proof(&"a".repeat(MAX_DPOP_PROOF_LEN + 1), ASYM).is_err());
    }
}
