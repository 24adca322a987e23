//! RFC 9068 §4 checks, with tokens minted by keys the local issuer publishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::json;
use warden_jose::{base64url_encode, sign_jwt_with_secret};
use warden_resource::{BuildError, Clock, TokenSource, ValidationError, Validator};
use warden_types::{JwsAlgorithm, SigningAlg};

use crate::support::{AUD, MockIssuer, claims, key, mint, mint_es256_with, now};

async fn setup(alg: SigningAlg) -> (MockIssuer, warden_jose::SigningKey, Validator) {
    let issuer = MockIssuer::start().await;
    let k = key(alg, "k1");
    issuer.publish(&k);
    let validator = Validator::builder(&issuer.issuer, AUD)
        .leeway(Duration::ZERO)
        .build()
        .await
        .unwrap();
    (issuer, k, validator)
}

#[tokio::test]
async fn valid_token_is_accepted_with_its_claims() {
    let (issuer, k, validator) = setup(SigningAlg::ES256).await;
    let mut c = claims(&issuer.issuer);
    c["act"] = json!({"sub": "orders-service"});
    c["tenant"] = json!("acme");
    let token = validator.validate(&mint(&k, &c)).await.unwrap();
    assert_eq!(token.sub(), "client-1");
    assert_eq!(token.client_id(), "client-1");
    assert!(token.has_scopes(["payments:charge", "payments:refund"]));
    assert!(!token.has_scopes(["payments:admin"]));
    assert_eq!(token.aud(), [AUD.to_owned()]);
    assert_eq!(token.exp(), c["exp"].as_i64().unwrap());
    assert_eq!(token.iat(), c["iat"].as_i64());
    assert_eq!(token.jti(), Some("jti-1"));
    assert_eq!(token.act(), Some(&json!({"sub": "orders-service"})));
    assert_eq!(token.claims()["tenant"], "acme");
    assert_eq!(token.source(), TokenSource::Jwt);
    // The synchronous path agrees.
    assert!(validator.validate_cached(&mint(&k, &c)).unwrap().is_ok());
}

#[tokio::test]
async fn every_signing_algorithm_warden_uses_is_accepted() {
    for alg in SigningAlg::ALL {
        let (issuer, k, validator) = setup(alg).await;
        let token = mint(&k, &claims(&issuer.issuer));
        assert!(validator.validate(&token).await.is_ok(), "{alg}");
    }
}

#[tokio::test]
async fn audience_must_be_ours() {
    let (issuer, k, validator) = setup(SigningAlg::ES256).await;
    let mut c = claims(&issuer.issuer);
    c["aud"] = json!("https://api.example.com/other");
    assert_eq!(
        validator.validate(&mint(&k, &c)).await.unwrap_err(),
        ValidationError::WrongAudience
    );
    c["aud"] = json!(["https://api.example.com/other", AUD]);
    assert!(validator.validate(&mint(&k, &c)).await.is_ok());
    c["aud"] = json!([]);
    assert_eq!(
        validator.validate(&mint(&k, &c)).await.unwrap_err(),
        ValidationError::WrongAudience
    );
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        validator.validate(&mint(&k, &c)).await.unwrap_err(),
        ValidationError::WrongAudience
    );
    // A prefix or a trailing slash is another audience.
    c["aud"] = json!(format!("{AUD}/"));
    assert_eq!(
        validator.validate(&mint(&k, &c)).await.unwrap_err(),
        ValidationError::WrongAudience
    );
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let (issuer, k, validator) = setup(SigningAlg::ES256).await;
    for iss in [
        json!(format!("{}/", issuer.issuer)),
        json!("https://evil.example"),
        json!(null),
        json!([issuer.issuer.clone()]),
    ] {
        let mut c = claims(&issuer.issuer);
        c["iss"] = iss.clone();
        assert_eq!(
            validator.validate(&mint(&k, &c)).await.unwrap_err(),
            ValidationError::WrongIssuer,
            "{iss}"
        );
    }
}

#[tokio::test]
async fn lifetime_checks_with_leeway() {
    let (issuer, k, strict) = setup(SigningAlg::ES256).await;
    let lenient = Validator::builder(&issuer.issuer, AUD)
        .leeway(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    let now = now();
    let with = |name: &str, value: serde_json::Value| {
        let mut c = claims(&issuer.issuer);
        c[name] = value;
        mint(&k, &c)
    };

    let expired = with("exp", json!(now - 10));
    assert_eq!(
        strict.validate(&expired).await.unwrap_err(),
        ValidationError::Expired
    );
    assert!(lenient.validate(&expired).await.is_ok());
    let long_expired = with("exp", json!(now - 60));
    assert_eq!(
        lenient.validate(&long_expired).await.unwrap_err(),
        ValidationError::Expired
    );

    let not_yet = with("nbf", json!(now + 10));
    assert_eq!(
        strict.validate(&not_yet).await.unwrap_err(),
        ValidationError::NotYetValid
    );
    assert!(lenient.validate(&not_yet).await.is_ok());

    let future_iat = with("iat", json!(now + 60));
    assert_eq!(
        lenient.validate(&future_iat).await.unwrap_err(),
        ValidationError::IssuedInFuture
    );

    for required in ["exp", "iat", "jti", "sub", "client_id"] {
        let mut c = claims(&issuer.issuer);
        c.as_object_mut().unwrap().remove(required);
        assert_eq!(
            strict.validate(&mint(&k, &c)).await.unwrap_err(),
            ValidationError::MissingClaim(required),
        );
    }
    let string_exp = with("exp", json!("tomorrow"));
    assert_eq!(
        strict.validate(&string_exp).await.unwrap_err(),
        ValidationError::MissingClaim("exp")
    );

    // An injected clock decides what "now" is.
    let offset = Arc::new(AtomicI64::new(0));
    let clock = {
        let offset = offset.clone();
        Clock::from_fn(move || Clock::system().now() + offset.load(Ordering::SeqCst))
    };
    let clocked = Validator::builder(&issuer.issuer, AUD)
        .leeway(Duration::ZERO)
        .clock(clock)
        .build()
        .await
        .unwrap();
    let token = mint(&k, &claims(&issuer.issuer));
    assert!(clocked.validate(&token).await.is_ok());
    offset.store(301, Ordering::SeqCst);
    assert_eq!(
        clocked.validate(&token).await.unwrap_err(),
        ValidationError::Expired
    );
}

#[tokio::test]
async fn typ_must_be_at_jwt() {
    let (issuer, k, validator) = setup(SigningAlg::ES256).await;
    let c = claims(&issuer.issuer);
    for typ in ["JWT", "jwt", "at+jwt2", "application/jwt", "id_token+jwt"] {
        let token = k.sign_jwt(typ, &c).unwrap();
        assert_eq!(
            validator.validate(&token).await.unwrap_err(),
            ValidationError::WrongType,
            "{typ}"
        );
    }
    // No typ at all.
    let token = mint_es256_with(&k, None, Some("k1"), &c);
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        ValidationError::WrongType
    );
    // Media types compare case-insensitively, with or without "application/".
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+JWT",
    ] {
        let token = k.sign_jwt(typ, &c).unwrap();
        assert!(validator.validate(&token).await.is_ok(), "{typ}");
    }
}

#[tokio::test]
async fn alg_none_and_hmac_are_refused() {
    let (issuer, k, validator) = setup(SigningAlg::RS256).await;
    let c = claims(&issuer.issuer);
    let payload = base64url_encode(c.to_string().as_bytes());

    // alg "none", with and without a signature part.
    let header = base64url_encode(br#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.{}", base64url_encode(b"x")),
    ] {
        assert!(matches!(
            validator.validate(&token).await.unwrap_err(),
            ValidationError::AlgorithmNotAllowed | ValidationError::Malformed
        ));
    }
    let token = format!("{header}.{payload}.{}", base64url_encode(b"x"));
    assert_eq!(
        validator.validate(&token).await.unwrap_err(),
        ValidationError::AlgorithmNotAllowed
    );

    // HS256 "signed" with the issuer's public key bytes (the algorithm-confusion attack).
    for secret in [
        serde_json::to_vec(&k.public_jwk()).unwrap(),
        k.public_jwk().n.unwrap().into_bytes(),
    ] {
        let forged = sign_jwt_with_secret(&secret, JwsAlgorithm::HS256, "at+jwt", &c).unwrap();
        assert_eq!(
            validator.validate(&forged).await.unwrap_err(),
            ValidationError::AlgorithmNotAllowed
        );
    }

    // HMAC can never be configured.
    let err = Validator::builder(&issuer.issuer, AUD)
        .algorithms([JwsAlgorithm::RS256, JwsAlgorithm::HS256])
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, BuildError::InvalidConfig(_)), "{err:?}");
}

#[tokio::test]
async fn allow_list_is_enforced() {
    let (issuer, k, _) = setup(SigningAlg::ES256).await;
    let rsa_only = Validator::builder(&issuer.issuer, AUD)
        .algorithms([JwsAlgorithm::RS256])
        .build()
        .await
        .unwrap();
    let token = mint(&k, &claims(&issuer.issuer));
    assert_eq!(
        rsa_only.validate(&token).await.unwrap_err(),
        ValidationError::AlgorithmNotAllowed
    );
}

#[tokio::test]
async fn tampering_is_detected() {
    let (issuer, k, validator) = setup(SigningAlg::ES256).await;
    let token = mint(&k, &claims(&issuer.issuer));
    let parts: Vec<&str> = token.split('.').collect();

    let mut signature = warden_jose::base64url_decode(parts[2]).unwrap();
    signature[5] ^= 1;
    let bad_signature = format!("{}.{}.{}", parts[0], parts[1], base64url_encode(&signature));
    let mut c = claims(&issuer.issuer);
    c["scope"] = json!("payments:admin");
    let bad_payload = format!(
        "{}.{}.{}",
        parts[0],
        base64url_encode(c.to_string().as_bytes()),
        parts[2]
    );
    for tampered in [bad_signature, bad_payload] {
        assert_eq!(
            validator.validate(&tampered).await.unwrap_err(),
            ValidationError::InvalidSignature
        );
    }
    // Signed by a stranger claiming the issuer's kid.
    let stranger = crate::support::key(SigningAlg::ES256, "k1");
    assert_eq!(
        validator
            .validate(&mint(&stranger, &claims(&issuer.issuer)))
            .await
            .unwrap_err(),
        ValidationError::InvalidSignature
    );
}

#[tokio::test]
async fn shapes_that_are_not_jws() {
    let (_issuer, _k, validator) = setup(SigningAlg::ES256).await;
    assert_eq!(
        validator.validate("a.b.c.d.e").await.unwrap_err(),
        ValidationError::Encrypted
    );
    for malformed in ["", "   ", "a b", "abc\"", "é", "a.b.c"] {
        assert_eq!(
            validator.validate(malformed).await.unwrap_err(),
            ValidationError::Malformed,
            "{malformed:?}"
        );
    }
    // An opaque token, and no introspection configured.
    assert_eq!(
        validator.validate("wdn_at_abcdef").await.unwrap_err(),
        ValidationError::OpaqueNotAccepted
    );
    assert_eq!(
        validator
            .validate_cached("wdn_at_abcdef")
            .unwrap()
            .unwrap_err(),
        ValidationError::OpaqueNotAccepted
    );
    let long = "a".repeat(20_000);
    assert_eq!(
        validator.validate(&long).await.unwrap_err(),
        ValidationError::Malformed
    );
}
