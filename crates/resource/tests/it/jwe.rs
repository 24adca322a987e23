//! Encrypted JWT access tokens (compact JWE with a nested at+jwt): decrypted with the
//! configured key, then validated like any JWT.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use warden_jose::{JweAlgorithm, JweDecrypter, JweEncrypter, JweEncryption, SigningKey};
use warden_resource::{ValidationError, Validator};
use warden_types::{Kid, SigningAlg};

use crate::support::{AUD, MockIssuer, claims, key, mint};

fn pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der)
    )
}

/// A PKCS#8 RSA or P-256 private key (generated through warden-jose's signing keys).
fn private_key(alg: SigningAlg) -> Vec<u8> {
    SigningKey::generate(alg, Kid::new("enc"))
        .unwrap()
        .pkcs8_der()
        .to_vec()
}

fn encrypter_for(der: &[u8], alg: JweAlgorithm, enc: JweEncryption) -> JweEncrypter {
    let decrypter = JweDecrypter::from_pkcs8(der, &JweAlgorithm::ALL, &JweEncryption::ALL).unwrap();
    JweEncrypter::new(&decrypter.public_jwk(), alg, enc).unwrap()
}

#[tokio::test]
async fn encrypted_tokens_are_decrypted_and_validated() {
    let issuer = MockIssuer::start().await;
    let signer = key(SigningAlg::ES256, "k1");
    issuer.publish(&signer);
    let plain_validator = Validator::new(&issuer.issuer, AUD).await.unwrap();

    for (key_alg, alg, enc) in [
        (
            SigningAlg::RS256,
            JweAlgorithm::RsaOaep256,
            JweEncryption::A256GCM,
        ),
        (
            SigningAlg::ES256,
            JweAlgorithm::EcdhEs,
            JweEncryption::A128GCM,
        ),
        (
            SigningAlg::ES256,
            JweAlgorithm::EcdhEs,
            JweEncryption::A256GCM,
        ),
    ] {
        let der = private_key(key_alg);
        let validator = Validator::builder(&issuer.issuer, AUD)
            .decryption_key_pem(&pem(&der))
            .build()
            .await
            .unwrap();
        let encrypter = encrypter_for(&der, alg, enc);
        let jws = mint(&signer, &claims(&issuer.issuer));
        let jwe = encrypter.encrypt(jws.as_bytes(), Some("JWT")).unwrap();
        assert_eq!(jwe.split('.').count(), 5);

        let token = validator.validate(&jwe).await.unwrap();
        assert_eq!(token.sub(), "client-1");
        assert!(validator.validate_cached(&jwe).unwrap().is_ok());
        // The inner JWS is still validated: an expired one stays expired.
        let mut c = claims(&issuer.issuer);
        c["exp"] = serde_json::json!(crate::support::now() - 100);
        let expired = encrypter
            .encrypt(mint(&signer, &c).as_bytes(), Some("JWT"))
            .unwrap();
        assert_eq!(
            validator.validate(&expired).await.unwrap_err(),
            ValidationError::Expired
        );
        // Not a nested JWT (no cty).
        let no_cty = encrypter.encrypt(jws.as_bytes(), None).unwrap();
        assert_eq!(
            validator.validate(&no_cty).await.unwrap_err(),
            ValidationError::Undecryptable
        );
        // A validator without a key refuses it.
        assert_eq!(
            plain_validator.validate(&jwe).await.unwrap_err(),
            ValidationError::Encrypted
        );
        // Encrypted to another key.
        let other = encrypter_for(&private_key(key_alg), alg, enc)
            .encrypt(jws.as_bytes(), Some("JWT"))
            .unwrap();
        assert_eq!(
            validator.validate(&other).await.unwrap_err(),
            ValidationError::Undecryptable,
            "{alg:?}"
        );
        // Tampered ciphertext.
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        parts[3] = format!("A{}", &parts[3][1..]);
        assert_eq!(
            validator.validate(&parts.join(".")).await.unwrap_err(),
            ValidationError::Undecryptable
        );
    }
}

#[tokio::test]
async fn encrypted_tokens_are_bounded_and_need_a_jws_inside() {
    let issuer = MockIssuer::start().await;
    let signer = key(SigningAlg::ES256, "k1");
    issuer.publish(&signer);
    let der = private_key(SigningAlg::ES256);
    let decrypter =
        JweDecrypter::from_pkcs8(&der, &JweAlgorithm::ALL, &JweEncryption::ALL).unwrap();
    let encrypter = JweEncrypter::new(
        &decrypter.public_jwk(),
        JweAlgorithm::EcdhEs,
        JweEncryption::A256GCM,
    )
    .unwrap();
    let validator = Validator::builder(&issuer.issuer, AUD)
        .decryption_key(decrypter)
        .build()
        .await
        .unwrap();
    let opaque_inside = encrypter.encrypt(b"not-a-jwt", Some("JWT")).unwrap();
    assert_eq!(
        validator.validate(&opaque_inside).await.unwrap_err(),
        ValidationError::Malformed
    );
    let huge = format!("{}.{}.{}.{}.{}", "a".repeat(70_000), "b", "c", "d", "e");
    assert_eq!(
        validator.validate(&huge).await.unwrap_err(),
        ValidationError::Malformed
    );
}
