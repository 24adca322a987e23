//! RFC 9068 JWT access tokens: header, claims, and signatures verified by `jsonwebtoken` (a
//! second JOSE implementation) against the keys published at `/jwks`.

use warden_core::clock::Clock;
use warden_testkit::{Backend, TestServer};
use warden_types::{SigningAlg, TokenFormat};

use crate::support::{
    API, access_token, api_with_lifetime, basic_client, jwt_alg, jwt_api, jwt_part, published_kids,
    verify_jwt,
};

both!(
    rs256_access_token,
    ps256_access_token,
    es256_access_token,
    eddsa_access_token,
    lifetime_is_the_apis,
    requested_scope_is_the_scope_claim,
    tampered_token_fails_verification,
);

/// RFC 9068 §2.1 header and §2.2 claims, and the signature, for one algorithm.
async fn access_token_for(backend: Backend, alg: SigningAlg) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", alg).await;
    let (id, secret) = basic_client(&server, &[API], None).await;
    let before = server.clock.now();
    let token = access_token(&server, &id, &secret, &[]).await;

    // Header: RFC 9068 §2.1 "typ" "at+jwt"; the API's algorithm; a published kid.
    let header = jwt_part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], alg.as_str());
    let kid = header["kid"].as_str().expect("kid").to_owned();
    assert!(published_kids(&server).await.contains(&kid));
    assert_eq!(
        header.as_object().unwrap().len(),
        3,
        "only alg, typ, kid: {header}"
    );

    // Signature and registered claims, checked by jsonwebtoken with the published JWK.
    let (verified_header, claims) = verify_jwt(&server, &token, API).await;
    assert_eq!(verified_header.alg, jwt_alg(alg));
    assert_eq!(verified_header.typ.as_deref(), Some("at+jwt"));

    // Claims: RFC 9068 §2.2.
    assert_eq!(claims["iss"], server.issuer.as_str());
    assert_eq!(
        claims["sub"],
        id.as_str(),
        "client credentials: sub is the client"
    );
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["aud"], API, "aud is the API identifier, as a string");
    assert_eq!(claims["scope"], "read write");
    let iat = claims["iat"].as_i64().expect("iat");
    let exp = claims["exp"].as_i64().expect("exp");
    assert_eq!(iat, before);
    assert_eq!(exp - iat, 900);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    for absent in ["nbf", "auth_time", "acr", "amr"] {
        assert!(claims.get(absent).is_none(), "{absent}: {claims}");
    }
}

async fn rs256_access_token(backend: Backend) {
    access_token_for(backend, SigningAlg::RS256).await;
}

async fn ps256_access_token(backend: Backend) {
    access_token_for(backend, SigningAlg::PS256).await;
}

async fn es256_access_token(backend: Backend) {
    access_token_for(backend, SigningAlg::ES256).await;
}

async fn eddsa_access_token(backend: Backend) {
    access_token_for(backend, SigningAlg::EdDSA).await;
}

async fn lifetime_is_the_apis(backend: Backend) {
    let server = TestServer::start(backend).await;
    api_with_lifetime(&server, API, TokenFormat::Jwt, SigningAlg::ES256, 3600).await;
    let (id, secret) = basic_client(&server, &[API], None).await;
    let token = access_token(&server, &id, &secret, &[]).await;
    let (_, claims) = verify_jwt(&server, &token, API).await;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
}

async fn requested_scope_is_the_scope_claim(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write admin", SigningAlg::RS256).await;
    let (id, secret) = basic_client(&server, &[API], None).await;
    let token = access_token(&server, &id, &secret, &[("scope", "write")]).await;
    let (_, claims) = verify_jwt(&server, &token, API).await;
    assert_eq!(claims["scope"], "write");
}

/// Sanity check of the verifier itself: a modified payload does not verify.
async fn tampered_token_fails_verification(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write admin", SigningAlg::ES256).await;
    let (id, secret) = basic_client(&server, &[API], Some("read")).await;
    let token = access_token(&server, &id, &secret, &[]).await;
    let mut claims = jwt_part(&token, 1);
    claims["scope"] = serde_json::json!("read write admin");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        crate::support::b64(claims.to_string().as_bytes()),
        parts[2]
    );
    let header = jsonwebtoken::decode_header(&forged).unwrap();
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(crate::support::published_jwks(&server).await).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[API]);
    assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &validation).is_err());
}
