//! `POST /revoke` (RFC 7009): own tokens are revoked and introspect inactive; invalid tokens
//! are not an error (§2.2); another client's token is refused (§2.1); the caller authenticates.

use warden_testkit::{Backend, TestServer};
use warden_types::{SigningAlg, TokenEndpointAuthMethod};

use crate::support::{
    API, API2, access_token, basic_client, is_active, jwt_api, opaque_api, post, revoke, verify_jwt,
};

both!(
    revoking_own_jwt,
    revoking_own_opaque_token,
    revoking_twice_is_fine,
    unknown_and_garbage_tokens_are_200,
    another_clients_token_is_unauthorized_client,
    requires_client_authentication,
    missing_token_is_invalid_request,
    token_type_hint_is_ignored,
    revocation_is_per_token,
    post_client_revokes_its_token,
    revoking_an_expired_token_is_200,
);

async fn setup(server: &TestServer) -> (String, String) {
    jwt_api(server, API, "read write", SigningAlg::ES256).await;
    opaque_api(server, API2, "read write").await;
    basic_client(server, &[API, API2], None).await
}

/// RFC 7009 §2.2: 200, no content that matters; the token is then inactive (RFC 7662).
async fn revoking_own_jwt(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let t = access_token(&server, &id, &secret, &[("resource", API)]).await;
    assert!(is_active(&server, (&id, &secret), &t).await);
    let r = revoke(&server, (&id, &secret), &t).await;
    r.ok();
    assert!(r.text.is_empty(), "{}", r.text);
    assert!(!is_active(&server, (&id, &secret), &t).await);
    // A JWT stays cryptographically valid; only introspection knows it is revoked.
    verify_jwt(&server, &t, API).await;
}

async fn revoking_own_opaque_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let t = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    assert!(is_active(&server, (&id, &secret), &t).await);
    revoke(&server, (&id, &secret), &t).await.ok();
    assert!(!is_active(&server, (&id, &secret), &t).await);
}

async fn revoking_twice_is_fine(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    for resource in [API, API2] {
        let t = access_token(&server, &id, &secret, &[("resource", resource)]).await;
        revoke(&server, (&id, &secret), &t).await.ok();
        revoke(&server, (&id, &secret), &t).await.ok();
        assert!(!is_active(&server, (&id, &secret), &t).await);
    }
}

/// RFC 7009 §2.2: "invalid tokens do not cause an error response".
async fn unknown_and_garbage_tokens_are_200(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let real = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    let truncated = &real[..real.len() - 2];
    let long = "y".repeat(30_000);
    for garbage in [
        "garbage",
        "wdn_at_",
        truncated,
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        long.as_str(),
    ] {
        let r = revoke(&server, (&id, &secret), garbage).await;
        assert_eq!(r.status, 200, "{garbage:.40}: {}", r.text);
    }
    assert!(is_active(&server, (&id, &secret), &real).await);
}

/// RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
/// revocation request. If this validation fails, the request is refused and the client is
/// informed of the error".
async fn another_clients_token_is_unauthorized_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let (other, other_secret) = basic_client(&server, &[API, API2], None).await;
    for resource in [API, API2] {
        let t = access_token(&server, &id, &secret, &[("resource", resource)]).await;
        revoke(&server, (&other, &other_secret), &t)
            .await
            .assert_error(400, "unauthorized_client");
        assert!(is_active(&server, (&id, &secret), &t).await, "{resource}");
    }
}

async fn requires_client_authentication(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let t = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    post(&server, "/revoke", &[("token", &t)], None)
        .await
        .assert_error(401, "invalid_client");
    revoke(&server, (&id, "wrong"), &t)
        .await
        .assert_error(401, "invalid_client")
        .assert_basic_challenge();
    // client_id alone is not authentication for a confidential client.
    post(
        &server,
        "/revoke",
        &[("token", &t), ("client_id", &id)],
        None,
    )
    .await
    .assert_error(401, "invalid_client");
    assert!(is_active(&server, (&id, &secret), &t).await);
}

async fn missing_token_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    post(&server, "/revoke", &[], Some((&id, &secret)))
        .await
        .assert_error(400, "invalid_request");
}

/// RFC 7009 §2.1: an unknown hint is ignored; a wrong hint does not stop the revocation.
async fn token_type_hint_is_ignored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    for (resource, hint) in [
        (API, "refresh_token"),
        (API2, "refresh_token"),
        (API, "unknown_hint"),
    ] {
        let t = access_token(&server, &id, &secret, &[("resource", resource)]).await;
        post(
            &server,
            "/revoke",
            &[("token", &t), ("token_type_hint", hint)],
            Some((&id, &secret)),
        )
        .await
        .ok();
        assert!(!is_active(&server, (&id, &secret), &t).await, "{hint}");
    }
}

async fn revocation_is_per_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    for resource in [API, API2] {
        let a = access_token(&server, &id, &secret, &[("resource", resource)]).await;
        let b = access_token(&server, &id, &secret, &[("resource", resource)]).await;
        revoke(&server, (&id, &secret), &a).await.ok();
        assert!(!is_active(&server, (&id, &secret), &a).await);
        assert!(is_active(&server, (&id, &secret), &b).await);
    }
}

async fn post_client_revokes_its_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    opaque_api(&server, API2, "read").await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API2], None)
        .await;
    let t = crate::support::post(
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
    .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &server,
        "/revoke",
        &[
            ("token", &t),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await
    .ok();
    let r = post(
        &server,
        "/introspect",
        &[
            ("token", &t),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(r.ok().body["active"], false);
}

async fn revoking_an_expired_token_is_200(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let jwt = access_token(&server, &id, &secret, &[("resource", API)]).await;
    let opaque = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    server.clock.advance(3600);
    revoke(&server, (&id, &secret), &jwt).await.ok();
    revoke(&server, (&id, &secret), &opaque).await.ok();
    assert!(!is_active(&server, (&id, &secret), &jwt).await);
}
