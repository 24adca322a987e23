//! Encrypted ID tokens (OIDC Core §10.2, RFC 7516; seed 004: tokens carrying personal data
//! MUST be encrypted): a client that registered `id_token_encrypted_response_alg` and an
//! encryption key receives a JWE whose payload is the signed ID token.

use warden_jose::SigningKey;
use warden_jose::jwe::{JweAlgorithm, JweDecrypter, JweEncryption};
use warden_testkit::{Backend, TestServer};
use warden_types::jwk::JwkSet;
use warden_types::{Kid, SigningAlg};

use crate::oidc_support::{Authz, EMAIL, confidential, create_alice, half_hash, tokens_for};
use crate::support::jwt_part;

both!(
    id_tokens_are_signed_then_encrypted,
    unencrypted_clients_get_plain_signed_id_tokens,
);

async fn id_tokens_are_signed_then_encrypted(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = confidential(&server, &[]).await;
    // The client's encryption key pair: the private half stays here.
    let key = SigningKey::generate(SigningAlg::RS256, Kid::new("client-enc-1")).unwrap();
    let decrypter = JweDecrypter::from_pkcs8(
        key.pkcs8_der(),
        &[JweAlgorithm::RsaOaep256],
        &[JweEncryption::A256GCM],
    )
    .unwrap()
    .with_kid("client-enc-1");
    let mut client = server
        .engine
        .store()
        .client(&app.id)
        .await
        .unwrap()
        .unwrap();
    client.jwks = Some(JwkSet {
        keys: vec![decrypter.public_jwk()],
    });
    client.oidc.id_token_encrypted_response_alg = Some(String::from("RSA-OAEP-256"));
    assert!(server.engine.store().update_client(&client).await.unwrap());
    server.engine.reload().await.unwrap();

    let authz = Authz::new(&app.id);
    let (tokens, _) = tokens_for(&server, &app, &authz).await;
    let jwe = tokens.id.expect("an ID token");
    assert_eq!(jwe.split('.').count(), 5, "a compact JWE has five parts");
    let (header, plaintext) = decrypter.decrypt(&jwe).unwrap();
    assert_eq!(header.alg(), JweAlgorithm::RsaOaep256);
    assert_eq!(header.enc(), JweEncryption::A256GCM);
    assert_eq!(header.cty(), Some("JWT"));
    assert_eq!(header.kid(), Some("client-enc-1"));
    let signed = String::from_utf8(plaintext).unwrap();
    let (jws_header, claims) = (jwt_part(&signed, 0), jwt_part(&signed, 1));
    assert_eq!(jws_header["alg"], "RS256");
    assert_eq!(claims["aud"], app.id.as_str());
    assert_eq!(claims["nonce"], authz.nonce());
    assert_eq!(claims["email"], EMAIL);
    assert_eq!(claims["at_hash"], half_hash(&tokens.access));
    // The payload is not readable without the client's key.
    assert!(!jwe.contains(&crate::support::b64(EMAIL.as_bytes())));
}

async fn unencrypted_clients_get_plain_signed_id_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    create_alice(&server).await;
    let app = confidential(&server, &[]).await;
    let authz = Authz::new(&app.id);
    let (tokens, _) = tokens_for(&server, &app, &authz).await;
    let id = tokens.id.expect("an ID token");
    assert_eq!(id.split('.').count(), 3);
}
