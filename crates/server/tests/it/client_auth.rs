//! Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7521/7523, OIDC Core §9):
//! every method's success, and the failures — with the `WWW-Authenticate: Basic` challenge
//! RFC 6749 §5.2 requires when the client tried HTTP Basic.

use jsonwebtoken::Algorithm;
use serde_json::json;
use warden_core::clock::Clock;
use warden_testkit::{Backend, TestServer};
use warden_types::{SigningAlg, TokenEndpointAuthMethod};

use crate::support::{
    API, ClientKey, JWT_BEARER, JwksServer, api_and_client, assemble_jwt, assertion_claims,
    assertion_token, b64, jwt_api, new_client, post, private_key_client, secret_jwt_client,
    sign_hmac, token,
};

both!(
    client_secret_basic_succeeds,
    client_secret_post_succeeds,
    client_secret_jwt_hs256_hs384_hs512_succeed,
    private_key_jwt_rs256,
    private_key_jwt_ps256,
    private_key_jwt_es256,
    private_key_jwt_eddsa,
    private_key_jwt_jwks_uri_is_fetched_and_cached,
    private_key_jwt_jwks_uri_rotation_refetches_on_unknown_kid,
    unknown_kid_refetch_is_rate_limited,
    assertion_aud_may_be_issuer_token_endpoint_or_a_list,
    assertion_client_id_parameter_must_match,
    assertion_iss_differs_from_sub,
    assertion_sub_is_another_client,
    assertion_sub_is_unknown,
    assertion_aud_wrong_or_missing,
    assertion_exp_missing,
    assertion_exp_in_the_past,
    assertion_exp_too_far_ahead,
    assertion_nbf_in_the_future,
    assertion_iat_in_the_future,
    assertion_jti_missing,
    assertion_jti_replay_is_refused,
    assertion_alg_none_is_refused,
    hmac_assertion_for_private_key_jwt_client,
    assertion_signed_with_wrong_key,
    assertion_signed_with_wrong_secret,
    wrong_client_assertion_type,
    client_assertion_without_type,
    assertion_garbage,
    wrong_secret_basic_has_basic_challenge,
    wrong_secret_post_has_no_challenge,
    unknown_client,
    no_credentials,
    malformed_basic_header,
    basic_with_mismatching_client_id_parameter,
    two_methods_in_one_request,
    method_differs_from_registered,
    registered_signing_alg_is_enforced,
    jwks_uri_unreachable_or_invalid_is_invalid_client,
    credentials_in_the_query_string_are_ignored,
    rotated_secret_replaces_the_old_one,
    concurrent_replays_admit_exactly_one,
);
both!(other_authorization_scheme_gets_a_challenge);
both!(assertion_extreme_numeric_dates_never_500);

/// A server with [`API`] and an ES256 `private_key_jwt` client: (server, key, client id).
async fn es256_client(backend: Backend) -> (TestServer, ClientKey, String) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    let key = ClientKey::generate(SigningAlg::ES256, "client-key-1");
    let id = private_key_client(&server, &key, &[API]).await;
    (server, key, id)
}

/// Sends an assertion signed by `key` with `claims`, expecting 401 invalid_client without a
/// challenge (no Basic was tried).
async fn refused(server: &TestServer, key: &ClientKey, claims: &serde_json::Value) {
    assertion_token(server, &key.sign(claims), &[])
        .await
        .assert_error(401, "invalid_client")
        .assert_no_challenge();
}

// ---- successes -------------------------------------------------------------------------------

async fn client_secret_basic_succeeds(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    token(&server, &id, &secret, &[]).await.ok();
    // The client_id parameter may accompany Basic when it names the same client.
    token(&server, &id, &secret, &[("client_id", &id)])
        .await
        .ok();
}

async fn client_secret_post_succeeds(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await
    .ok();
}

/// RFC 7523 / OIDC Core §9 `client_secret_jwt`: HMAC with the client secret as key.
async fn client_secret_jwt_hs256_hs384_hs512_succeed(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let (id, secret) = secret_jwt_client(&server, &[API]).await;
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
        let r = assertion_token(&server, &sign_hmac(&secret, alg, &claims), &[]).await;
        assert_eq!(r.status, 200, "{alg:?}: {}", r.text);
        // The client_id parameter may accompany the assertion.
        let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
        assertion_token(
            &server,
            &sign_hmac(&secret, alg, &claims),
            &[("client_id", &id)],
        )
        .await
        .ok();
    }
    // The secret itself is not accepted as client_secret_post for a client_secret_jwt client.
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await
    .assert_error(401, "invalid_client");
}

async fn private_key_jwt_by_value(backend: Backend, alg: SigningAlg) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let key = ClientKey::generate(alg, &format!("client-{alg}"));
    let id = private_key_client(&server, &key, &[API]).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    let r = assertion_token(&server, &key.sign(&claims), &[]).await;
    assert_eq!(r.status, 200, "{alg}: {}", r.text);
    assert_eq!(r.body["scope"], "read");
    // A key registered without a kid in the assertion header still matches (one key).
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &key.sign_with_kid(None, &claims), &[])
        .await
        .ok();
}

async fn private_key_jwt_rs256(backend: Backend) {
    private_key_jwt_by_value(backend, SigningAlg::RS256).await;
}

async fn private_key_jwt_ps256(backend: Backend) {
    private_key_jwt_by_value(backend, SigningAlg::PS256).await;
}

async fn private_key_jwt_es256(backend: Backend) {
    private_key_jwt_by_value(backend, SigningAlg::ES256).await;
}

async fn private_key_jwt_eddsa(backend: Backend) {
    private_key_jwt_by_value(backend, SigningAlg::EdDSA).await;
}

async fn jwks_uri_client(server: &TestServer, keys: &JwksServer) -> String {
    let mut new = new_client(TokenEndpointAuthMethod::PrivateKeyJwt, &[API]);
    new.jwks_uri = Some(keys.url.clone());
    server.client(new).await.client_id
}

async fn private_key_jwt_jwks_uri_is_fetched_and_cached(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let key = ClientKey::generate(SigningAlg::RS256, "uri-key-1");
    let keys = JwksServer::start(&key.jwks()).await;
    let id = jwks_uri_client(&server, &keys).await;
    for _ in 0..3 {
        let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
        assertion_token(&server, &key.sign(&claims), &[]).await.ok();
    }
    assert_eq!(keys.hits(), 1, "the key set is fetched once and cached");
}

/// The client rotates its key at its jwks_uri; an assertion with the new, unknown kid makes
/// Warden refetch the document (once the refetch rate limit, 60 s, allows).
async fn private_key_jwt_jwks_uri_rotation_refetches_on_unknown_kid(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let old = ClientKey::generate(SigningAlg::ES256, "uri-key-1");
    let keys = JwksServer::start(&old.jwks()).await;
    let id = jwks_uri_client(&server, &keys).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &old.sign(&claims), &[]).await.ok();
    assert_eq!(keys.hits(), 1);

    let new = ClientKey::generate(SigningAlg::ES256, "uri-key-2");
    keys.set(&new.jwks());
    // Well within the 5-minute cache lifetime, past the refetch interval.
    server.clock.advance(61);
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &new.sign(&claims), &[]).await.ok();
    assert_eq!(
        keys.hits(),
        2,
        "the unknown kid triggered exactly one refetch"
    );

    // The old key is gone from the document: its assertions now fail.
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &old.sign(&claims), &[])
        .await
        .assert_error(401, "invalid_client");
}

/// A flood of assertions with unknown kids does not turn Warden into a traffic amplifier
/// against the client's key server: at most one refetch per 60 s.
async fn unknown_kid_refetch_is_rate_limited(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let key = ClientKey::generate(SigningAlg::ES256, "uri-key-1");
    let stranger = ClientKey::generate(SigningAlg::ES256, "not-published");
    let keys = JwksServer::start(&key.jwks()).await;
    let id = jwks_uri_client(&server, &keys).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &key.sign(&claims), &[]).await.ok();
    for _ in 0..5 {
        let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
        assertion_token(&server, &stranger.sign(&claims), &[])
            .await
            .assert_error(401, "invalid_client");
    }
    assert_eq!(keys.hits(), 1);
    server.clock.advance(61);
    for _ in 0..5 {
        let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
        assertion_token(&server, &stranger.sign(&claims), &[])
            .await
            .assert_error(401, "invalid_client");
    }
    assert_eq!(keys.hits(), 2);
}

/// RFC 7523 §3 (3): the token endpoint URL "MAY be used"; the issuer identifies the
/// authorization server too; `aud` may be an array (RFC 7519 §4.1.3).
async fn assertion_aud_may_be_issuer_token_endpoint_or_a_list(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let now = server.clock.now();
    for aud in [
        json!(server.issuer),
        json!(server.token_endpoint()),
        json!(["https://somewhere.example", server.issuer]),
    ] {
        let mut claims = assertion_claims(&id, "", now);
        claims["aud"] = aud.clone();
        let r = assertion_token(&server, &key.sign(&claims), &[]).await;
        assert_eq!(r.status, 200, "aud {aud}: {}", r.text);
    }
}

/// An assertion for one client presented with the client_id parameter of another.
async fn assertion_client_id_parameter_must_match(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let other = private_key_client(
        &server,
        &ClientKey::generate(SigningAlg::ES256, "other"),
        &[API],
    )
    .await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &key.sign(&claims), &[("client_id", &other)])
        .await
        .assert_error(401, "invalid_client")
        .assert_no_challenge();
}

/// RFC 7523 §3 (2) for client authentication: iss and sub are both the client_id.
async fn assertion_iss_differs_from_sub(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    claims["iss"] = json!("https://someone-else.example");
    refused(&server, &key, &claims).await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    claims.as_object_mut().unwrap().remove("iss");
    refused(&server, &key, &claims).await;
}

/// sub names another registered client: the assertion must verify with that client's keys,
/// and it does not.
async fn assertion_sub_is_another_client(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let other = private_key_client(
        &server,
        &ClientKey::generate(SigningAlg::ES256, "other"),
        &[API],
    )
    .await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    claims["sub"] = json!(other);
    refused(&server, &key, &claims).await;
    // Both iss and sub naming the other client: still the wrong key.
    let claims = assertion_claims(&other, &server.token_endpoint(), server.clock.now());
    refused(&server, &key, &claims).await;
}

async fn assertion_sub_is_unknown(backend: Backend) {
    let (server, key, _) = es256_client(backend).await;
    let claims = assertion_claims(
        "no-such-client",
        &server.token_endpoint(),
        server.clock.now(),
    );
    refused(&server, &key, &claims).await;
    let mut claims = assertion_claims("x", &server.token_endpoint(), server.clock.now());
    claims.as_object_mut().unwrap().remove("sub");
    refused(&server, &key, &claims).await;
}

/// RFC 7523 §3 (3): aud must identify this authorization server.
async fn assertion_aud_wrong_or_missing(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let now = server.clock.now();
    for aud in [
        json!("https://other-as.example/token"),
        json!(format!("{}/", server.token_endpoint())),
        json!(server.url("/introspect")),
        json!([]),
        json!(["https://other-as.example"]),
    ] {
        let mut claims = assertion_claims(&id, "", now);
        claims["aud"] = aud;
        refused(&server, &key, &claims).await;
    }
    let mut claims = assertion_claims(&id, "", now);
    claims.as_object_mut().unwrap().remove("aud");
    refused(&server, &key, &claims).await;
}

/// RFC 7523 §3 (4): "The JWT MUST contain an "exp" (expiration time) claim".
async fn assertion_exp_missing(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    claims.as_object_mut().unwrap().remove("exp");
    refused(&server, &key, &claims).await;
}

/// RFC 7523 §3 (4): reject an expired JWT, subject to clock skew (30 s here).
async fn assertion_exp_in_the_past(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let now = server.clock.now();
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["iat"] = json!(now - 300);
    claims["exp"] = json!(now - 120);
    refused(&server, &key, &claims).await;
    // Within the allowed skew it is still accepted.
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["iat"] = json!(now - 60);
    claims["exp"] = json!(now - 10);
    assertion_token(&server, &key.sign(&claims), &[]).await.ok();
}

/// Warden bounds assertion lifetime to 5 minutes (plus skew).
async fn assertion_exp_too_far_ahead(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let now = server.clock.now();
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["exp"] = json!(now + 600);
    refused(&server, &key, &claims).await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims.as_object_mut().unwrap().remove("iat");
    claims["exp"] = json!(now + 86_400);
    refused(&server, &key, &claims).await;
    // Exactly five minutes is fine.
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["exp"] = json!(now + 300);
    assertion_token(&server, &key.sign(&claims), &[]).await.ok();
}

/// RFC 7523 §3 (5): "The authorization server MUST reject a JWT that is not valid at the time
/// of the request" (nbf).
async fn assertion_nbf_in_the_future(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let now = server.clock.now();
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["nbf"] = json!(now + 100);
    refused(&server, &key, &claims).await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["nbf"] = json!(now - 10);
    assertion_token(&server, &key.sign(&claims), &[]).await.ok();
}

async fn assertion_iat_in_the_future(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let now = server.clock.now();
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["iat"] = json!(now + 100);
    refused(&server, &key, &claims).await;
}

/// Warden requires a jti, so replay can be detected (RFC 7523 §3 (7)).
async fn assertion_jti_missing(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    claims.as_object_mut().unwrap().remove("jti");
    refused(&server, &key, &claims).await;
    claims["jti"] = json!("");
    refused(&server, &key, &claims).await;
    claims["jti"] = json!("x".repeat(300));
    refused(&server, &key, &claims).await;
    // A NUL byte must be refused, not reach PostgreSQL (which refuses NUL in text).
    claims["jti"] = json!("a\u{0}b");
    refused(&server, &key, &claims).await;
}

async fn assertion_jti_replay_is_refused(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    let assertion = key.sign(&claims);
    assertion_token(&server, &assertion, &[]).await.ok();
    assertion_token(&server, &assertion, &[])
        .await
        .assert_error(401, "invalid_client")
        .assert_description("assertion jti has already been used");
    // The same jti in a freshly signed assertion is a replay too.
    refused(&server, &key, &claims).await;
    // A client_secret_jwt client is held to the same rule.
    let (sid, secret) = secret_jwt_client(&server, &[API]).await;
    let claims = assertion_claims(&sid, &server.token_endpoint(), server.clock.now());
    let assertion = sign_hmac(&secret, Algorithm::HS256, &claims);
    assertion_token(&server, &assertion, &[]).await.ok();
    assertion_token(&server, &assertion, &[])
        .await
        .assert_error(401, "invalid_client");
}

/// RFC 7523 §3 (9) "MUST be digitally signed or have a MAC"; RFC 8725 §3.1.
async fn assertion_alg_none_is_refused(backend: Backend) {
    let (server, _key, id) = es256_client(backend).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "None"}),
        json!({"alg": "NONE", "kid": "client-key-1"}),
    ] {
        for signature in ["", "c2lnbmF0dXJl"] {
            let unsigned = assemble_jwt(&header, &claims, signature);
            assertion_token(&server, &unsigned, &[])
                .await
                .assert_error(401, "invalid_client");
        }
    }
}

/// An HMAC assertion for a client registered for private_key_jwt: the method is not the
/// registered one, so authentication fails whatever the key.
async fn hmac_assertion_for_private_key_jwt_client(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(
        &server,
        &sign_hmac(&"k".repeat(64), Algorithm::HS256, &claims),
        &[],
    )
    .await
    .assert_error(401, "invalid_client");
    // Algorithm confusion: the public key's JWK as HMAC secret.
    let public = serde_json::to_string(&key.jwk()).unwrap();
    assertion_token(&server, &sign_hmac(&public, Algorithm::HS256, &claims), &[])
        .await
        .assert_error(401, "invalid_client");
}

async fn assertion_signed_with_wrong_key(backend: Backend) {
    let (server, _key, id) = es256_client(backend).await;
    // Same kid, different key.
    let impostor = ClientKey::generate(SigningAlg::ES256, "client-key-1");
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    refused(&server, &impostor, &claims).await;
    // A different key type under the same kid.
    let impostor = ClientKey::generate(SigningAlg::EdDSA, "client-key-1");
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    refused(&server, &impostor, &claims).await;
}

async fn assertion_signed_with_wrong_secret(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let (id, secret) = secret_jwt_client(&server, &[API]).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    let wrong = format!("{secret}x");
    assertion_token(&server, &sign_hmac(&wrong, Algorithm::HS256, &claims), &[])
        .await
        .assert_error(401, "invalid_client");
}

/// RFC 7521 §4.2: only the jwt-bearer assertion type is understood.
async fn wrong_client_assertion_type(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    let r = post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &key.sign(&claims)),
        ],
        None,
    )
    .await;
    r.assert_error(401, "invalid_client");
}

async fn client_assertion_without_type(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion", &key.sign(&claims)),
        ],
        None,
    )
    .await
    .assert_error(400, "invalid_request");
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
        ],
        None,
    )
    .await
    .assert_error(400, "invalid_request");
}

async fn assertion_garbage(backend: Backend) {
    let (server, _key, _id) = es256_client(backend).await;
    let long = "a".repeat(20_000);
    for garbage in [
        "garbage",
        "a.b.c",
        "a.b",
        "....",
        "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln",
        long.as_str(),
    ] {
        assertion_token(&server, garbage, &[])
            .await
            .assert_error(401, "invalid_client");
    }
    // A header that is JSON but not an object, and claims that are not an object.
    let bad_header = format!("{}.{}.c2ln", b64(b"[1]"), b64(b"{}"));
    assertion_token(&server, &bad_header, &[])
        .await
        .assert_error(401, "invalid_client");
    let bad_claims = format!("{}.{}.c2ln", b64(br#"{"alg":"ES256"}"#), b64(b"[]"));
    assertion_token(&server, &bad_claims, &[])
        .await
        .assert_error(401, "invalid_client");
}

/// A NumericDate at the edge of i64 is refused, never a server error.
async fn assertion_extreme_numeric_dates_never_500(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let now = server.clock.now();
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["exp"] = json!(i64::MAX);
    refused(&server, &key, &claims).await;
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["exp"] = json!(1e300);
    refused(&server, &key, &claims).await;
    // iat unreasonably far in the past (RFC 7523 §3 (6) "MAY reject"): refusing is expected,
    // a server error is not.
    let mut claims = assertion_claims(&id, &server.token_endpoint(), now);
    claims["iat"] = json!(i64::MIN);
    let r = assertion_token(&server, &key.sign(&claims), &[]).await;
    assert!(
        r.status == 200 || r.status == 401,
        "{}: {}",
        r.status,
        r.text
    );
}

// ---- failures of secret methods ---------------------------------------------------------------

/// RFC 6749 §5.2: 401 and, because the client used Basic, a Basic challenge.
async fn wrong_secret_basic_has_basic_challenge(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let r = token(&server, &id, &format!("{secret}x"), &[]).await;
    r.assert_error(401, "invalid_client")
        .assert_description("unknown client or bad credentials")
        .assert_basic_challenge();
    token(&server, &id, "", &[])
        .await
        .assert_error(401, "invalid_client")
        .assert_basic_challenge();
}

async fn wrong_secret_post_has_no_challenge(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &format!("{secret}x")),
        ],
        None,
    )
    .await
    .assert_error(401, "invalid_client")
    .assert_no_challenge();
}

/// An unknown client gets the same answer as a wrong secret.
async fn unknown_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, secret) = api_and_client(&server).await;
    token(&server, "no-such-client", &secret, &[])
        .await
        .assert_error(401, "invalid_client")
        .assert_description("unknown client or bad credentials")
        .assert_basic_challenge();
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "no-such-client"),
            ("client_secret", &secret),
        ],
        None,
    )
    .await
    .assert_error(401, "invalid_client")
    .assert_no_challenge();
    // A client_id alone (as a public client would send) names no known client either.
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "no-such-client"),
        ],
        None,
    )
    .await
    .assert_error(401, "invalid_client");
}

async fn no_credentials(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, _) = api_and_client(&server).await;
    post(
        &server,
        "/token",
        &[("grant_type", "client_credentials")],
        None,
    )
    .await
    .assert_error(401, "invalid_client");
    // A confidential client's id without its secret.
    post(
        &server,
        "/token",
        &[("grant_type", "client_credentials"), ("client_id", &id)],
        None,
    )
    .await
    .assert_error(401, "invalid_client");
}

async fn malformed_basic_header(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, _) = api_and_client(&server).await;
    let plain = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, id.as_bytes())
    );
    for header in [
        "Basic !!!",
        "Basic ",
        "Basic Og==", // ":" — empty id
        "Basic //79", // not UTF-8
        plain.as_str(),
    ] {
        let resp = server
            .http
            .post(server.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", header)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        crate::support::reply(resp)
            .await
            .assert_error(401, "invalid_client")
            .assert_basic_challenge();
    }
}

async fn basic_with_mismatching_client_id_parameter(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let (other, _) = crate::support::basic_client(&server, &[API], None).await;
    token(&server, &id, &secret, &[("client_id", &other)])
        .await
        .assert_error(400, "invalid_request");
}

/// RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
/// request."
async fn two_methods_in_one_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    // Basic + client_secret in the body.
    token(
        &server,
        &id,
        &secret,
        &[("client_id", &id), ("client_secret", &secret)],
    )
    .await
    .assert_error(400, "invalid_request")
    .assert_description("more than one client authentication method was used");
    // Basic + an assertion.
    let (jid, jsecret) = secret_jwt_client(&server, &[API]).await;
    let claims = assertion_claims(&jid, &server.token_endpoint(), server.clock.now());
    let assertion = sign_hmac(&jsecret, Algorithm::HS256, &claims);
    token(
        &server,
        &id,
        &secret,
        &[
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
        ],
    )
    .await
    .assert_error(400, "invalid_request");
    // client_secret_post + an assertion.
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &jid),
            ("client_secret", &jsecret),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
        ],
        None,
    )
    .await
    .assert_error(400, "invalid_request");
}

/// A client may authenticate only with the method it registered.
async fn method_differs_from_registered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (basic_id, basic_secret) = api_and_client(&server).await;
    let (post_id, post_secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    // A client_secret_basic client using client_secret_post.
    post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &basic_id),
            ("client_secret", &basic_secret),
        ],
        None,
    )
    .await
    .assert_error(401, "invalid_client")
    .assert_no_challenge();
    // A client_secret_post client using Basic.
    token(&server, &post_id, &post_secret, &[])
        .await
        .assert_error(401, "invalid_client")
        .assert_basic_challenge();
    // A private_key_jwt client trying Basic with anything.
    let key = ClientKey::generate(SigningAlg::ES256, "k");
    let pk_id = private_key_client(&server, &key, &[API]).await;
    token(&server, &pk_id, "guess", &[])
        .await
        .assert_error(401, "invalid_client");
    // A client_secret_basic client signing an HMAC assertion with its secret.
    let claims = assertion_claims(&basic_id, &server.token_endpoint(), server.clock.now());
    assertion_token(
        &server,
        &sign_hmac(&basic_secret, Algorithm::HS256, &claims),
        &[],
    )
    .await
    .assert_error(401, "invalid_client");
}

/// token_endpoint_auth_signing_alg: only that algorithm is accepted.
async fn registered_signing_alg_is_enforced(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let mut new = new_client(TokenEndpointAuthMethod::ClientSecretJwt, &[API]);
    new.auth_signing_alg = Some(warden_types::JwsAlgorithm::HS512);
    let info = server.client(new).await;
    let (id, secret) = (info.client_id, info.client_secret.unwrap());
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &sign_hmac(&secret, Algorithm::HS256, &claims), &[])
        .await
        .assert_error(401, "invalid_client");
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &sign_hmac(&secret, Algorithm::HS512, &claims), &[])
        .await
        .ok();
}

async fn jwks_uri_unreachable_or_invalid_is_invalid_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let key = ClientKey::generate(SigningAlg::ES256, "k");
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/jwks", l.local_addr().unwrap())
    };
    let mut new = new_client(TokenEndpointAuthMethod::PrivateKeyJwt, &[API]);
    new.jwks_uri = Some(closed);
    let id = server.client(new).await.client_id;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &key.sign(&claims), &[])
        .await
        .assert_error(401, "invalid_client");
    // A key server answering with something that is not a JWK Set.
    let keys = JwksServer::start(&key.jwks()).await;
    keys.set_raw("<html>maintenance</html>");
    let mut new = new_client(TokenEndpointAuthMethod::PrivateKeyJwt, &[API]);
    new.jwks_uri = Some(keys.url.clone());
    let id = server.client(new).await.client_id;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &key.sign(&claims), &[])
        .await
        .assert_error(401, "invalid_client");
    assert_eq!(keys.hits(), 1);
}

/// RFC 6749 §2.3.1: client credentials "MUST NOT be included in the request URI".
async fn credentials_in_the_query_string_are_ignored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, _) = api_and_client(&server).await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    let query = format!("/token?client_id={id}&client_secret={secret}");
    post(
        &server,
        &query,
        &[("grant_type", "client_credentials")],
        None,
    )
    .await
    .assert_error(401, "invalid_client");
    let query =
        format!("/token?grant_type=client_credentials&client_id={id}&client_secret={secret}");
    post(&server, &query, &[], None)
        .await
        .assert_error(400, "invalid_request");
}

async fn rotated_secret_replaces_the_old_one(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, old) = api_and_client(&server).await;
    let (jid, jold) = secret_jwt_client(&server, &[API]).await;
    let now = server.clock.now();
    let new = server
        .engine
        .rotate_client_secret(&id, now)
        .await
        .unwrap()
        .client_secret
        .unwrap();
    let jnew = server
        .engine
        .rotate_client_secret(&jid, now)
        .await
        .unwrap()
        .client_secret
        .unwrap();
    server.engine.reload().await.unwrap();
    token(&server, &id, &old, &[])
        .await
        .assert_error(401, "invalid_client");
    token(&server, &id, &new, &[]).await.ok();
    let claims = assertion_claims(&jid, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &sign_hmac(&jold, Algorithm::HS256, &claims), &[])
        .await
        .assert_error(401, "invalid_client");
    let claims = assertion_claims(&jid, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &sign_hmac(&jnew, Algorithm::HS256, &claims), &[])
        .await
        .ok();
}

/// RFC 6749 §5.2: when "the client attempted to authenticate via the "Authorization" request
/// header field, the authorization server MUST respond with an HTTP 401 (Unauthorized) status
/// code and include the WWW-Authenticate response header field".
async fn other_authorization_scheme_gets_a_challenge(backend: Backend) {
    let server = TestServer::start(backend).await;
    api_and_client(&server).await;
    for header in ["Bearer some-token", "Digest username=\"x\""] {
        let resp = server
            .http
            .post(server.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", header)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        let r = crate::support::reply(resp).await;
        r.assert_error(401, "invalid_client");
        assert!(
            r.header("www-authenticate").is_some(),
            "{header}: 401 without WWW-Authenticate"
        );
    }
}

/// The jti check is atomic: the same assertion sent ten times at once is accepted once.
async fn concurrent_replays_admit_exactly_one(backend: Backend) {
    let (server, key, id) = es256_client(backend).await;
    let claims = assertion_claims(&id, &server.token_endpoint(), server.clock.now());
    let assertion = key.sign(&claims);
    let requests = (0..10).map(|_| assertion_token(&server, &assertion, &[]));
    let replies = crate::support::join_all(requests).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        r.assert_error(401, "invalid_client");
    }
}
