//! Which API a token is for (RFC 8707 `resource`, the `audience` parameter) and with which
//! scopes.

use warden_testkit::{Backend, TestServer};
use warden_types::{Scope, SigningAlg, TokenEndpointAuthMethod};

use crate::support::{
    API, API2, API3, access_token, basic_client, jwt_api, jwt_part, new_client, token,
};

both!(
    single_granted_api_is_the_default,
    resource_selects_the_api,
    audience_selects_the_api,
    resource_and_audience_naming_the_same_api,
    resource_and_audience_naming_different_apis,
    two_different_resources,
    same_resource_twice_is_one_target,
    several_granted_apis_and_none_named,
    unknown_api_is_invalid_target,
    api_not_granted_is_invalid_target,
    malformed_resource_is_invalid_target,
    scopes_are_per_api,
    client_without_any_api,
    registered_scope_applies_to_every_api_defining_it,
);

/// A client granted `read write` on API and `read admin` on API2.
async fn two_api_client(server: &TestServer) -> (String, String) {
    jwt_api(server, API, "read write", SigningAlg::ES256).await;
    jwt_api(server, API2, "read admin", SigningAlg::EdDSA).await;
    basic_client(server, &[API, API2], None).await
}

async fn single_granted_api_is_the_default(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    jwt_api(&server, API2, "read", SigningAlg::ES256).await;
    let (id, secret) = basic_client(&server, &[API2], None).await;
    let t = access_token(&server, &id, &secret, &[]).await;
    assert_eq!(jwt_part(&t, 1)["aud"], API2);
}

async fn resource_selects_the_api(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    let t = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    assert_eq!(jwt_part(&t, 1)["aud"], API2);
    assert_eq!(jwt_part(&t, 1)["scope"], "admin read");
    assert_eq!(jwt_part(&t, 0)["alg"], "EdDSA");
    let t = access_token(&server, &id, &secret, &[("resource", API)]).await;
    assert_eq!(jwt_part(&t, 1)["aud"], API);
    assert_eq!(jwt_part(&t, 0)["alg"], "ES256");
}

async fn audience_selects_the_api(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    let t = access_token(&server, &id, &secret, &[("audience", API2)]).await;
    assert_eq!(jwt_part(&t, 1)["aud"], API2);
}

/// DESIGN.md: "A token request may carry both resource and audience when they name the same
/// API."
async fn resource_and_audience_naming_the_same_api(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    let t = access_token(
        &server,
        &id,
        &secret,
        &[("resource", API2), ("audience", API2), ("scope", "admin")],
    )
    .await;
    assert_eq!(jwt_part(&t, 1)["aud"], API2);
    assert_eq!(jwt_part(&t, 1)["scope"], "admin");
}

async fn resource_and_audience_naming_different_apis(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    token(
        &server,
        &id,
        &secret,
        &[("resource", API), ("audience", API2)],
    )
    .await
    .assert_error(400, "invalid_target");
}

async fn two_different_resources(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    token(
        &server,
        &id,
        &secret,
        &[("resource", API), ("resource", API2)],
    )
    .await
    .assert_error(400, "invalid_target");
    token(
        &server,
        &id,
        &secret,
        &[("audience", API), ("audience", API2)],
    )
    .await
    .assert_error(400, "invalid_target");
}

async fn same_resource_twice_is_one_target(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    let t = access_token(
        &server,
        &id,
        &secret,
        &[("resource", API), ("resource", API)],
    )
    .await;
    assert_eq!(jwt_part(&t, 1)["aud"], API);
}

async fn several_granted_apis_and_none_named(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    token(&server, &id, &secret, &[])
        .await
        .assert_error(400, "invalid_target");
    token(&server, &id, &secret, &[("scope", "read")])
        .await
        .assert_error(400, "invalid_target");
}

async fn unknown_api_is_invalid_target(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    token(
        &server,
        &id,
        &secret,
        &[("resource", "https://unknown.example")],
    )
    .await
    .assert_error(400, "invalid_target")
    .assert_description("unknown API");
    token(&server, &id, &secret, &[("audience", "unknown")])
        .await
        .assert_error(400, "invalid_target");
    // Identifiers are compared exactly: a trailing slash is another API.
    token(&server, &id, &secret, &[("resource", &format!("{API}/"))])
        .await
        .assert_error(400, "invalid_target");
}

async fn api_not_granted_is_invalid_target(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    jwt_api(&server, API3, "read", SigningAlg::ES256).await;
    token(&server, &id, &secret, &[("resource", API3)])
        .await
        .assert_error(400, "invalid_target");
}

/// RFC 8707 §2: "The value of the resource parameter MUST be an absolute URI ... MUST NOT
/// include a fragment component."
async fn malformed_resource_is_invalid_target(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    for bad in [
        "not a uri",
        "/relative/path",
        "api.example.com",
        "https://api.example.com#fragment",
        "https://",
    ] {
        let r = token(&server, &id, &secret, &[("resource", bad)]).await;
        r.assert_error(400, "invalid_target");
    }
}

async fn scopes_are_per_api(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = two_api_client(&server).await;
    // admin is granted on API2 only.
    token(
        &server,
        &id,
        &secret,
        &[("resource", API), ("scope", "admin")],
    )
    .await
    .assert_error(400, "invalid_scope");
    token(
        &server,
        &id,
        &secret,
        &[("resource", API2), ("scope", "write")],
    )
    .await
    .assert_error(400, "invalid_scope");
    let t = access_token(
        &server,
        &id,
        &secret,
        &[("resource", API2), ("scope", "admin")],
    )
    .await;
    assert_eq!(jwt_part(&t, 1)["scope"], "admin");
}

async fn client_without_any_api(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let (id, secret) = basic_client(&server, &[], None).await;
    token(&server, &id, &secret, &[])
        .await
        .assert_error(400, "invalid_target");
}

/// A client created with a scope and no audience may obtain those scopes from any API that
/// defines them, and only those.
async fn registered_scope_applies_to_every_api_defining_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    jwt_api(&server, API2, "read admin", SigningAlg::ES256).await;
    jwt_api(&server, API3, "export", SigningAlg::ES256).await;
    let mut new = new_client(TokenEndpointAuthMethod::ClientSecretBasic, &[]);
    new.scope = Some(Scope::parse("read admin").unwrap());
    let info = server.client(new).await;
    let (id, secret) = (info.client_id, info.client_secret.unwrap());
    let t = access_token(&server, &id, &secret, &[("resource", API)]).await;
    assert_eq!(jwt_part(&t, 1)["scope"], "read");
    let t = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    assert_eq!(jwt_part(&t, 1)["scope"], "admin read");
    token(
        &server,
        &id,
        &secret,
        &[("resource", API), ("scope", "write")],
    )
    .await
    .assert_error(400, "invalid_scope");
    token(&server, &id, &secret, &[("resource", API3)])
        .await
        .assert_error(400, "invalid_target");
}
