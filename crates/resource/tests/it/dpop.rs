//! DPoP (RFC 9449 §7) at the resource server: `validate_request` with proofs the tests sign
//! themselves, against tokens minted by the local issuer with `cnf.jkt`.

use std::time::Duration;

use serde_json::{Value, json};
use warden_jose::dpop::{dpop_public_jwk, sign_dpop_proof};
use warden_jose::{SigningKey, base64url_encode, jwk_thumbprint, sha256, sign_jwt_with_secret};
use warden_resource::{AuthError, JwsAlgorithm, RequestInfo, ValidationError, Validator};
use warden_types::SigningAlg;

use crate::support::{AUD, MockIssuer, claims, key, mint, now};

pub(crate) const URL: &str = "https://api.example.com/payments/charges";

pub(crate) struct Setup {
    pub(crate) issuer: MockIssuer,
    pub(crate) signer: SigningKey,
    pub(crate) validator: Validator,
}

pub(crate) async fn setup_with(
    configure: impl FnOnce(warden_resource::ValidatorBuilder) -> warden_resource::ValidatorBuilder,
) -> Setup {
    let issuer = MockIssuer::start().await;
    let signer = key(SigningAlg::ES256, "k1");
    issuer.publish(&signer);
    let builder = Validator::builder(&issuer.issuer, AUD).leeway(Duration::from_secs(5));
    let validator = configure(builder).build().await.unwrap();
    Setup {
        issuer,
        signer,
        validator,
    }
}

pub(crate) fn jkt(proof_key: &SigningKey) -> String {
    jwk_thumbprint(&dpop_public_jwk(proof_key)).unwrap()
}

impl Setup {
    /// An access token bound (`cnf`) as given.
    pub(crate) fn token_with_cnf(&self, cnf: Value) -> String {
        let mut c = claims(&self.issuer.issuer);
        c["cnf"] = cnf;
        mint(&self.signer, &c)
    }

    /// An access token bound to `proof_key`.
    pub(crate) fn bound_token(&self, proof_key: &SigningKey) -> String {
        self.token_with_cnf(json!({ "jkt": jkt(proof_key) }))
    }
}

/// The claims of a good proof for `GET {URL}` with `token`.
pub(crate) fn proof_claims(token: &str) -> Value {
    json!({
        "jti": base64url_encode(&warden_jose::random_bytes::<16>()),
        "htm": "GET",
        "htu": URL,
        "iat": now(),
        "ath": base64url_encode(&sha256(token.as_bytes())),
    })
}

pub(crate) fn proof(proof_key: &SigningKey, claims: &Value) -> String {
    sign_dpop_proof(proof_key, claims).unwrap()
}

pub(crate) fn dpop_request(token: &str, proof: &str) -> RequestInfo {
    RequestInfo::new("GET", URL)
        .authorization(format!("DPoP {token}"))
        .dpop_proof(proof)
}

fn dpop_error(result: Result<warden_resource::AccessToken, AuthError>) -> ValidationError {
    match result {
        Err(AuthError::Dpop(e)) => e,
        other => panic!("expected a DPoP error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_dpop_request_is_accepted_once() {
    let s = setup_with(|b| b).await;
    let holder = key(SigningAlg::ES256, "holder");
    let token = s.bound_token(&holder);
    let p = proof(&holder, &proof_claims(&token));

    let accepted = s
        .validator
        .validate_request(&dpop_request(&token, &p))
        .await
        .unwrap();
    assert!(accepted.is_dpop_bound());
    assert_eq!(accepted.dpop_jkt(), Some(jkt(&holder).as_str()));
    assert_eq!(accepted.cnf().unwrap()["jkt"], jkt(&holder));
    assert!(!accepted.is_certificate_bound());

    // The same proof again: a replay (RFC 9449 §11.1).
    let replay = dpop_error(
        s.validator
            .validate_request(&dpop_request(&token, &p))
            .await,
    );
    assert_eq!(
        replay,
        ValidationError::InvalidDpopProof("the proof was used before (jti)")
    );
    assert_eq!(replay.error_code(), "invalid_dpop_proof");

    // A fresh proof works; so does an EdDSA or RSA proof key.
    let p2 = proof(&holder, &proof_claims(&token));
    assert!(
        s.validator
            .validate_request(&dpop_request(&token, &p2))
            .await
            .is_ok()
    );
    for alg in [SigningAlg::EdDSA, SigningAlg::PS256] {
        let other = key(alg, "other");
        let token = s.bound_token(&other);
        let p = proof(&other, &proof_claims(&token));
        assert!(
            s.validator
                .validate_request(&dpop_request(&token, &p))
                .await
                .is_ok(),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn htu_compares_normalized_urls() {
    let s = setup_with(|b| b).await;
    let holder = key(SigningAlg::ES256, "holder");
    let token = s.bound_token(&holder);
    let mut c = proof_claims(&token);
    c["htu"] = json!("HTTPS://API.example.com:443/payments/charges");
    let request = RequestInfo::new("GET", "https://api.example.com/payments/charges?page=2")
        .authorization(format!("DPoP {token}"))
        .dpop_proof(proof(&holder, &c));
    assert!(s.validator.validate_request(&request).await.is_ok());
}

#[tokio::test]
async fn bad_proofs_are_refused_with_invalid_dpop_proof() {
    let s = setup_with(|b| b).await;
    let holder = key(SigningAlg::ES256, "holder");
    let token = s.bound_token(&holder);
    let refused = |changes: Value| {
        let mut c = proof_claims(&token);
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        dpop_request(&token, &proof(&holder, &c))
    };
    let cases = [
        (
            json!({"htm": "POST"}),
            "htm does not match the request method",
        ),
        (
            json!({"htm": "get"}),
            "htm does not match the request method",
        ),
        (
            json!({"htu": "https://api.example.com/payments/refunds"}),
            "htu does not match the request URL",
        ),
        (
            json!({"htu": "http://api.example.com/payments/charges"}),
            "htu does not match the request URL",
        ),
        (json!({"iat": now() - 120}), "iat is too old"),
        (json!({"iat": now() + 60}), "iat is in the future"),
        (json!({"iat": null}), "iat is missing"),
        (json!({"jti": null}), "jti is missing"),
        (json!({"ath": null}), "ath is missing"),
        (
            json!({"ath": base64url_encode(&sha256(b"another token"))}),
            "ath does not match the access token",
        ),
    ];
    for (changes, why) in cases {
        let request = refused(changes.clone());
        assert_eq!(
            dpop_error(s.validator.validate_request(&request).await),
            ValidationError::InvalidDpopProof(why),
            "{changes}"
        );
    }

    // Header problems: HS256, none, a private key in jwk, a proof signed by another key, a
    // wrong typ.
    let c = proof_claims(&token);
    let hs256 = sign_jwt_with_secret(&[7u8; 32], JwsAlgorithm::HS256, "dpop+jwt", &c).unwrap();
    let none = format!(
        "{}.{}.",
        base64url_encode(
            serde_json::to_string(&json!({"typ": "dpop+jwt", "alg": "none",
                "jwk": dpop_public_jwk(&holder)}))
            .unwrap()
            .as_bytes()
        ),
        base64url_encode(c.to_string().as_bytes())
    );
    let good = proof(&holder, &c);
    let mut parts: Vec<&str> = good.split('.').collect();
    let stranger = proof(&key(SigningAlg::ES256, "x"), &c);
    let stranger_sig = stranger.split('.').nth(2).unwrap();
    parts[2] = stranger_sig;
    let wrong_sig = parts.join(".");
    for bad in [hs256, none, wrong_sig, String::from("not-a-jwt")] {
        let e = dpop_error(
            s.validator
                .validate_request(&dpop_request(&token, &bad))
                .await,
        );
        assert!(matches!(e, ValidationError::InvalidDpopProof(_)), "{e:?}");
    }

    // No DPoP header, or two.
    let request = RequestInfo::new("GET", URL).authorization(format!("DPoP {token}"));
    assert_eq!(
        dpop_error(s.validator.validate_request(&request).await),
        ValidationError::InvalidDpopProof("the DPoP header is missing")
    );
    let two = dpop_request(&token, &proof(&holder, &proof_claims(&token)))
        .dpop_proof(proof(&holder, &proof_claims(&token)));
    assert_eq!(
        dpop_error(s.validator.validate_request(&two).await),
        ValidationError::InvalidDpopProof("more than one DPoP header")
    );
}

#[tokio::test]
async fn the_proof_key_must_be_the_bound_key() {
    let s = setup_with(|b| b).await;
    let holder = key(SigningAlg::ES256, "holder");
    let thief = key(SigningAlg::ES256, "thief");
    let token = s.bound_token(&holder);
    let p = proof(&thief, &proof_claims(&token));
    let e = dpop_error(
        s.validator
            .validate_request(&dpop_request(&token, &p))
            .await,
    );
    assert_eq!(e, ValidationError::DpopKeyMismatch);
    assert_eq!(e.error_code(), "invalid_token");

    // An unbound token with the DPoP scheme proves nothing about its sender either.
    let plain = mint(&s.signer, &claims(&s.issuer.issuer));
    let p = proof(&holder, &proof_claims(&plain));
    assert_eq!(
        dpop_error(
            s.validator
                .validate_request(&dpop_request(&plain, &p))
                .await
        ),
        ValidationError::NotDpopBound
    );
    // A bad token under the DPoP scheme is a DPoP invalid_token.
    let expired = {
        let mut c = claims(&s.issuer.issuer);
        c["exp"] = json!(now() - 100);
        c["cnf"] = json!({"jkt": jkt(&holder)});
        mint(&s.signer, &c)
    };
    let p = proof(&holder, &proof_claims(&expired));
    let error = s
        .validator
        .validate_request(&dpop_request(&expired, &p))
        .await
        .unwrap_err();
    assert_eq!(error, AuthError::Dpop(ValidationError::Expired));
    assert!(
        error.challenges("api", s.validator.dpop_algorithms())[0]
            .starts_with(r#"DPoP error="invalid_token", error_description="the token has expired", algs="ES256 ES384 EdDSA"#)
    );
}

#[tokio::test]
async fn a_dpop_bound_token_is_refused_as_bearer() {
    let s = setup_with(|b| b).await;
    let holder = key(SigningAlg::ES256, "holder");
    let token = s.bound_token(&holder);
    let request = RequestInfo::new("GET", URL).authorization(format!("Bearer {token}"));
    let error = s.validator.validate_request(&request).await.unwrap_err();
    assert_eq!(error, AuthError::Token(ValidationError::DpopBoundAsBearer));
    let challenges = error.challenges("payments", s.validator.dpop_algorithms());
    assert!(
        challenges[0].starts_with(r#"Bearer realm="payments", error="invalid_token""#),
        "{challenges:?}"
    );
    assert!(challenges[1].starts_with("DPoP algs="));
    // validate() is for bearer tokens: the same answer, and from the synchronous path.
    assert_eq!(
        s.validator.validate(&token).await.unwrap_err(),
        ValidationError::DpopBoundAsBearer
    );
    assert_eq!(
        s.validator.validate_cached(&token).unwrap().unwrap_err(),
        ValidationError::DpopBoundAsBearer
    );
    // A token whose cnf is not an object is malformed.
    let odd = s.token_with_cnf(json!("jkt"));
    assert_eq!(
        s.validator.validate(&odd).await.unwrap_err(),
        ValidationError::MissingClaim("cnf")
    );
}

#[tokio::test]
async fn nonces_are_demanded_when_configured() {
    let s = setup_with(|b| b.dpop_nonce_secret(*b"0123456789abcdef0123456789abcdef")).await;
    let holder = key(SigningAlg::ES256, "holder");
    let token = s.bound_token(&holder);
    let p = proof(&holder, &proof_claims(&token));
    let error = s
        .validator
        .validate_request(&dpop_request(&token, &p))
        .await
        .unwrap_err();
    let nonce = error.dpop_nonce().expect("a nonce").to_owned();
    assert_eq!(error.error_code(), Some("use_dpop_nonce"));
    assert!(
        error.challenges("api", s.validator.dpop_algorithms())[0]
            .starts_with(r#"DPoP error="use_dpop_nonce""#)
    );

    let mut c = proof_claims(&token);
    c["nonce"] = json!(nonce);
    assert!(
        s.validator
            .validate_request(&dpop_request(&token, &proof(&holder, &c)))
            .await
            .is_ok()
    );
    c["nonce"] = json!("made-up");
    c["jti"] = json!("another-jti");
    assert!(matches!(
        dpop_error(
            s.validator
                .validate_request(&dpop_request(&token, &proof(&holder, &c)))
                .await
        ),
        ValidationError::UseDpopNonce(_)
    ));
    // Another validator with the same secret accepts this one's nonces.
    let twin = Validator::builder(&s.issuer.issuer, AUD)
        .dpop_nonce_secret(*b"0123456789abcdef0123456789abcdef")
        .build()
        .await
        .unwrap();
    let mut c = proof_claims(&token);
    c["nonce"] = json!(s.validator.dpop_nonce().unwrap());
    assert!(
        twin.validate_request(&dpop_request(&token, &proof(&holder, &c)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn dpop_options_are_checked_at_build_time() {
    let issuer = MockIssuer::start().await;
    issuer.publish(&key(SigningAlg::ES256, "k1"));
    let build = |b: warden_resource::ValidatorBuilder| async { b.build().await.unwrap_err() };
    let base = || Validator::builder(&issuer.issuer, AUD);
    for builder in [
        base().dpop_algorithms([JwsAlgorithm::HS256]),
        base().dpop_algorithms([]),
        base().dpop_nonce_secret(b"short".to_vec()),
        base().dpop_proof_max_age(Duration::ZERO),
        base().public_url("not a url"),
        base().decryption_key_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
    ] {
        assert!(matches!(
            build(builder).await,
            warden_resource::BuildError::InvalidConfig(_)
        ));
    }
    // A narrowed allow-list refuses other proof algorithms and says so in the challenge.
    let s = setup_with(|b| b.dpop_algorithms([JwsAlgorithm::EdDSA])).await;
    let holder = key(SigningAlg::ES256, "holder");
    let token = s.bound_token(&holder);
    let error = s
        .validator
        .validate_request(&dpop_request(
            &token,
            &proof(&holder, &proof_claims(&token)),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        AuthError::Dpop(ValidationError::InvalidDpopProof(
            "the algorithm is not allowed"
        ))
    );
    assert!(error.challenges("api", s.validator.dpop_algorithms())[0].ends_with(r#"algs="EdDSA""#));
}
