//! Against a real Warden: encrypted access tokens for an API registered with an encryption key
//! are decrypted with the API's private key and validated.

use warden_core::access_encryption::ApiEncryptionRequest;
use warden_core::admin::NewApi;
use warden_core::clock::Clock as _;
use warden_jose::{JweAlgorithm, JweDecrypter, JweEncryption, SigningKey};
use warden_resource::{ValidationError, Validator};
use warden_testkit::{Backend, TestServer};
use warden_types::{Kid, Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

use crate::support::{AUD, warden_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_warden_tokens_are_decrypted_and_validated() {
    for (alg, key_alg) in [
        (JweAlgorithm::EcdhEs, SigningAlg::ES256),
        (JweAlgorithm::RsaOaep256, SigningAlg::RS256),
    ] {
        let server = TestServer::start(Backend::Sqlite).await;
        let private = SigningKey::generate(key_alg, Kid::new("enc")).unwrap();
        let decrypter = JweDecrypter::from_pkcs8(private.pkcs8_der(), &[alg], &JweEncryption::ALL)
            .unwrap()
            .with_kid("payments-enc-1");
        let mut jwk = serde_json::to_value(decrypter.public_jwk()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        server
            .engine
            .create_api_with_encryption(
                NewApi {
                    identifier: AUD.to_owned(),
                    name: None,
                    scopes: Scope::parse("payments:charge").unwrap(),
                    token_format: TokenFormat::Jwt,
                    token_lifetime: 900,
                    signing_alg: SigningAlg::ES256,
                },
                Some(ApiEncryptionRequest {
                    key: jwk,
                    alg: None,
                    enc: None,
                }),
                server.clock.now(),
            )
            .await
            .unwrap();
        server.engine.reload().await.unwrap();
        let (id, secret) = server
            .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[AUD], None)
            .await;
        let jwe = warden_token(&server, &id, &secret, &[("resource", AUD)]).await;
        assert_eq!(jwe.split('.').count(), 5, "{alg:?}");

        let plain = Validator::builder(&server.issuer, AUD)
            .build()
            .await
            .unwrap();
        assert_eq!(
            plain.validate(&jwe).await.unwrap_err(),
            ValidationError::Encrypted
        );
        let validator = Validator::builder(&server.issuer, AUD)
            .decryption_key(decrypter)
            .build()
            .await
            .unwrap();
        let token = validator.validate(&jwe).await.unwrap();
        assert_eq!(token.client_id(), id);
        assert!(token.has_scopes(["payments:charge"]));
    }
}
