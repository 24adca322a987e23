//! Tokens signed here verify with `jsonwebtoken` (a second implementation) using only the public
//! JWK, and tokens `jsonwebtoken` signs verify here.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use warden_jose::{SigningKey, VerifyingKey, parse_compact};
use warden_types::{JwsAlgorithm, Kid, SigningAlg};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    iss: String,
    sub: String,
    /// 2100-01-01: far enough that `jsonwebtoken`'s expiry check passes.
    exp: u64,
}

fn claims() -> Claims {
    Claims {
        iss: "https://warden.example".into(),
        sub: "client-1".into(),
        exp: 4_102_444_800,
    }
}

fn jsonwebtoken_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::RS256 => Algorithm::RS256,
        SigningAlg::PS256 => Algorithm::PS256,
        SigningAlg::ES256 => Algorithm::ES256,
        SigningAlg::EdDSA => Algorithm::EdDSA,
    }
}

fn validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&["https://warden.example"]);
    validation
}

#[test]
fn warden_tokens_verify_with_jsonwebtoken_from_the_public_jwk() {
    for alg in SigningAlg::ALL {
        let key = SigningKey::generate(alg, Kid::new(format!("kid-{alg}"))).unwrap();
        let token = key.sign_jwt("at+jwt", &claims()).unwrap();

        // The JWK exactly as the JWKS endpoint would serve it.
        let served = serde_json::to_string(&key.public_jwk()).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&served).unwrap();
        let decoding_key = DecodingKey::from_jwk(&jwk).unwrap();

        let data = jsonwebtoken::decode::<Claims>(
            &token,
            &decoding_key,
            &validation(jsonwebtoken_alg(alg)),
        )
        .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(data.claims, claims());
        assert_eq!(
            data.header.kid.as_deref(),
            Some(format!("kid-{alg}").as_str())
        );
        assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
    }
}

#[test]
fn warden_tokens_verify_with_jsonwebtoken_from_components() {
    for alg in SigningAlg::ALL {
        let key = SigningKey::generate(alg, Kid::new("k")).unwrap();
        let token = key.sign_jwt("JWT", &claims()).unwrap();
        let jwk = key.public_jwk();
        let decoding_key = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => DecodingKey::from_rsa_components(
                jwk.n.as_deref().unwrap(),
                jwk.e.as_deref().unwrap(),
            ),
            SigningAlg::ES256 => DecodingKey::from_ec_components(
                jwk.x.as_deref().unwrap(),
                jwk.y.as_deref().unwrap(),
            ),
            SigningAlg::EdDSA => DecodingKey::from_ed_components(jwk.x.as_deref().unwrap()),
        }
        .unwrap();
        jsonwebtoken::decode::<Claims>(&token, &decoding_key, &validation(jsonwebtoken_alg(alg)))
            .unwrap_or_else(|e| panic!("{alg}: {e}"));

        // And a tampered token fails over there too.
        let mut tampered = token.clone();
        tampered.replace_range(tampered.len() - 4.., "AAAA");
        assert!(
            jsonwebtoken::decode::<Claims>(
                &tampered,
                &decoding_key,
                &validation(jsonwebtoken_alg(alg))
            )
            .is_err(),
            "{alg}"
        );
    }
}

#[test]
fn jsonwebtoken_tokens_verify_here() {
    // jsonwebtoken loads ECDSA and Ed25519 private keys from the same PKCS#8 we export.
    for alg in [SigningAlg::ES256, SigningAlg::EdDSA] {
        let key = SigningKey::generate(alg, Kid::new("k")).unwrap();
        let encoding_key = match alg {
            SigningAlg::ES256 => EncodingKey::from_ec_der(key.pkcs8_der()),
            _ => EncodingKey::from_ed_der(key.pkcs8_der()),
        };
        let mut header = Header::new(jsonwebtoken_alg(alg));
        header.kid = Some("k".into());
        let token = jsonwebtoken::encode(&header, &claims(), &encoding_key).unwrap();

        let verifying_key: VerifyingKey = key.verifying_key();
        let verified = parse_compact(&token)
            .unwrap()
            .verify_with_key::<Claims>(&verifying_key, &JwsAlgorithm::ASYMMETRIC)
            .unwrap();
        assert_eq!(verified.claims(), &claims());
        assert_eq!(verified.kid(), Some("k"));
        assert_eq!(verified.typ(), Some("JWT"));
    }

    // HS256 from jsonwebtoken, checked with the shared secret.
    let secret = [0x5a; 32];
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&secret),
    )
    .unwrap();
    let verified = parse_compact(&token)
        .unwrap()
        .verify_with_secret::<Claims>(&secret, &[JwsAlgorithm::HS256])
        .unwrap();
    assert_eq!(verified.claims(), &claims());
}

#[test]
fn hmac_tokens_from_here_verify_with_jsonwebtoken() {
    let secret = [0x5a; 64];
    for (alg, theirs) in [
        (JwsAlgorithm::HS256, Algorithm::HS256),
        (JwsAlgorithm::HS384, Algorithm::HS384),
        (JwsAlgorithm::HS512, Algorithm::HS512),
    ] {
        let token = warden_jose::sign_jwt_with_secret(&secret, alg, "JWT", &claims()).unwrap();
        jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_secret(&secret),
            &validation(theirs),
        )
        .unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
}
