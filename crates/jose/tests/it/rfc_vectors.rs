//! RFC 7515 Appendix A.1-A.3 and RFC 7638 §3.1, read from `tests/data/`.

use serde::Deserialize;
use serde_json::Value;
use warden_jose::{JoseError, VerifyingKey, base64url_decode, jwk_thumbprint, parse_compact};
use warden_types::JwsAlgorithm;
use warden_types::jwk::Jwk;

/// The claims of the RFC 7515 Appendix A examples.
#[derive(Debug, Deserialize, PartialEq)]
struct JoeClaims {
    iss: String,
    exp: i64,
    #[serde(rename = "http://example.com/is_root")]
    is_root: bool,
}

#[derive(Deserialize)]
struct Vector {
    compact: String,
    jwk: Value,
    claims: Value,
}

fn vector(name: &str) -> Vector {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn public_key(vector: &Vector) -> VerifyingKey {
    let jwk: Jwk = serde_json::from_value(vector.jwk.clone()).unwrap();
    VerifyingKey::from_jwk(&jwk).unwrap()
}

fn expected_claims(vector: &Vector) -> JoeClaims {
    serde_json::from_value(vector.claims.clone()).unwrap()
}

#[test]
fn rfc7515_a1_hs256() {
    let vector = vector("rfc7515-a1.json");
    let secret = base64url_decode(vector.jwk["k"].as_str().unwrap()).unwrap();

    let token = parse_compact(&vector.compact).unwrap();
    assert_eq!(token.alg(), JwsAlgorithm::HS256);
    // The A.1 header is `{"typ":"JWT",\r\n "alg":"HS256"}`: whitespace and order are free.
    assert_eq!(token.typ(), Some("JWT"));
    let verified = token
        .verify_with_secret::<JoeClaims>(&secret, &[JwsAlgorithm::HS256])
        .unwrap();
    assert_eq!(verified.claims(), &expected_claims(&vector));

    // A oct JWK is never a verification key.
    let jwk: Jwk = serde_json::from_value(vector.jwk.clone()).unwrap();
    assert!(VerifyingKey::from_jwk(&jwk).is_err());

    // One flipped bit in the key fails.
    let mut wrong = secret.clone();
    wrong[0] ^= 1;
    assert_eq!(
        parse_compact(&vector.compact)
            .unwrap()
            .verify_with_secret::<JoeClaims>(&wrong, &[JwsAlgorithm::HS256])
            .unwrap_err(),
        JoseError::InvalidSignature
    );
}

#[test]
fn rfc7515_a2_rs256() {
    let vector = vector("rfc7515-a2.json");
    let key = public_key(&vector);
    let verified = parse_compact(&vector.compact)
        .unwrap()
        .verify_with_key::<JoeClaims>(&key, &[JwsAlgorithm::RS256])
        .unwrap();
    assert_eq!(verified.claims(), &expected_claims(&vector));
    assert_eq!(verified.alg(), JwsAlgorithm::RS256);
    assert_eq!(verified.kid(), None);

    // The caller's allow-list wins even when key and signature are fine.
    assert_eq!(
        parse_compact(&vector.compact)
            .unwrap()
            .verify_with_key::<JoeClaims>(&key, &[JwsAlgorithm::PS256, JwsAlgorithm::ES256])
            .unwrap_err(),
        JoseError::AlgorithmNotAllowed
    );
}

#[test]
fn rfc7515_a3_es256() {
    let vector = vector("rfc7515-a3.json");
    let key = public_key(&vector);
    let verified = parse_compact(&vector.compact)
        .unwrap()
        .verify_with_key::<JoeClaims>(&key, &[JwsAlgorithm::ES256])
        .unwrap();
    assert_eq!(verified.claims(), &expected_claims(&vector));

    // The same signature over a payload with one more space fails.
    let parts: Vec<&str> = vector.compact.split('.').collect();
    let payload = warden_jose::base64url_encode(
        br#"{"iss":"joe", "exp":1300819380,"http://example.com/is_root":true}"#,
    );
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(
        parse_compact(&tampered)
            .unwrap()
            .verify_with_key::<JoeClaims>(&key, &[JwsAlgorithm::ES256])
            .unwrap_err(),
        JoseError::InvalidSignature
    );
}

#[test]
fn rfc7515_a1_token_against_the_a2_rsa_key_is_algorithm_confusion() {
    let hs256 = vector("rfc7515-a1.json");
    let rsa = public_key(&vector("rfc7515-a2.json"));
    assert_eq!(
        parse_compact(&hs256.compact)
            .unwrap()
            .verify_with_key::<JoeClaims>(&rsa, &JwsAlgorithm::ALL)
            .unwrap_err(),
        JoseError::KeyMismatch
    );
}

#[test]
fn rfc7515_signatures_do_not_verify_under_the_wrong_key() {
    let a2 = vector("rfc7515-a2.json");
    let a3 = vector("rfc7515-a3.json");
    // Right alg family, wrong key: ES256 token, A.2 RSA key.
    assert_eq!(
        parse_compact(&a3.compact)
            .unwrap()
            .verify_with_key::<JoeClaims>(&public_key(&a2), &JwsAlgorithm::ALL)
            .unwrap_err(),
        JoseError::KeyMismatch
    );
}

#[test]
fn rfc7638_thumbprint() {
    let path = format!("{}/tests/data/rfc7638-3.1.json", env!("CARGO_MANIFEST_DIR"));
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let jwk: Jwk = serde_json::from_value(data["jwk"].clone()).unwrap();
    assert_eq!(
        jwk_thumbprint(&jwk).unwrap(),
        data["thumbprint"].as_str().unwrap()
    );
}

#[test]
fn rfc8037_thumbprint() {
    let path = format!("{}/tests/data/rfc8037-a4.json", env!("CARGO_MANIFEST_DIR"));
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let jwk: Jwk = serde_json::from_value(data["jwk"].clone()).unwrap();
    assert_eq!(
        jwk_thumbprint(&jwk).unwrap(),
        data["thumbprint"].as_str().unwrap()
    );
}
