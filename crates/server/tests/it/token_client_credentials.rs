//! `POST /token` with `grant_type=client_credentials` (RFC 6749 §4.4): the success response
//! (§5.1) and the request-level errors (§5.2).

use warden_testkit::{Backend, TestServer};
use warden_types::{GrantType, TokenEndpointAuthMethod, TokenFormat};

use crate::support::{
    API, access_token, api_and_client, api_with_lifetime, opaque_api, post, token,
};

both!(
    basic_client_gets_a_token,
    post_client_gets_a_token,
    requested_scope_subset_is_granted,
    no_scope_means_every_granted_scope,
    empty_scope_parameter_is_treated_as_absent,
    scope_not_granted_is_invalid_scope,
    scope_not_defined_is_invalid_scope,
    malformed_scope_is_invalid_scope,
    missing_grant_type_is_invalid_request,
    unknown_grant_type_is_unsupported_grant_type,
    unimplemented_grant_types_are_unsupported,
    repeated_parameter_is_invalid_request,
    client_without_the_grant_is_unauthorized_client,
    opaque_api_issues_opaque_tokens,
    expires_in_is_the_api_lifetime,
    content_type_with_charset_is_accepted,
    every_token_is_different,
);
both!(blank_scope_is_not_an_empty_grant);

/// RFC 6749 §5.1: JSON with access_token, token_type, expires_in and (when it differs from the
/// request, and Warden always sends it) scope; `Cache-Control: no-store`, `Pragma: no-cache`.
async fn basic_client_gets_a_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let r = token(&server, &id, &secret, &[]).await;
    r.ok();
    assert!(
        r.body["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.body["scope"], "admin read write");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert!(r.body.get("refresh_token").is_none(), "{}", r.text);
}

async fn post_client_gets_a_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    crate::support::jwt_api(&server, API, "read", warden_types::SigningAlg::ES256).await;
    let (id, secret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    let r = post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["scope"], "read");
}

async fn requested_scope_subset_is_granted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let r = token(&server, &id, &secret, &[("scope", "write read")]).await;
    r.ok();
    assert_eq!(r.body["scope"], "read write");
    let r = token(&server, &id, &secret, &[("scope", "read")]).await;
    assert_eq!(r.ok().body["scope"], "read");
}

async fn no_scope_means_every_granted_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    crate::support::jwt_api(
        &server,
        API,
        "read write admin",
        warden_types::SigningAlg::ES256,
    )
    .await;
    let (id, secret) = crate::support::basic_client(&server, &[API], Some("read write")).await;
    let r = token(&server, &id, &secret, &[]).await;
    assert_eq!(r.ok().body["scope"], "read write");
}

/// RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted".
async fn empty_scope_parameter_is_treated_as_absent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let r = token(&server, &id, &secret, &[("scope", "")]).await;
    assert_eq!(r.ok().body["scope"], "admin read write");
}

async fn scope_not_granted_is_invalid_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    crate::support::jwt_api(
        &server,
        API,
        "read write admin",
        warden_types::SigningAlg::ES256,
    )
    .await;
    let (id, secret) = crate::support::basic_client(&server, &[API], Some("read")).await;
    token(&server, &id, &secret, &[("scope", "admin")])
        .await
        .assert_error(400, "invalid_scope")
        .assert_description("scope 'admin' is not granted to this client on this API")
        .assert_no_challenge();
    // One ungranted scope among granted ones spoils the request (no silent downscoping).
    token(&server, &id, &secret, &[("scope", "read admin")])
        .await
        .assert_error(400, "invalid_scope");
}

async fn scope_not_defined_is_invalid_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    token(&server, &id, &secret, &[("scope", "delete")])
        .await
        .assert_error(400, "invalid_scope");
}

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
async fn malformed_scope_is_invalid_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    for bad in ["re\"ad", "read\\", "réad", "read\twrite"] {
        let r = token(&server, &id, &secret, &[("scope", bad)]).await;
        r.assert_error(400, "invalid_scope");
    }
}

async fn missing_grant_type_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    post(
        &server,
        "/token",
        &[("scope", "read")],
        Some((&id, &secret)),
    )
    .await
    .assert_error(400, "invalid_request")
    .assert_description("grant_type is required");
    // Also without any client authentication.
    post(&server, "/token", &[], None)
        .await
        .assert_error(400, "invalid_request");
}

async fn unknown_grant_type_is_unsupported_grant_type(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    for grant in [
        "password",
        "implicit",
        "urn:example:custom",
        "CLIENT_CREDENTIALS",
    ] {
        post(
            &server,
            "/token",
            &[("grant_type", grant)],
            Some((&id, &secret)),
        )
        .await
        .assert_error(400, "unsupported_grant_type");
    }
}

/// Grant types Warden does not implement are `unsupported_grant_type` (RFC 6749 §5.2).
async fn unimplemented_grant_types_are_unsupported(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    for grant in [
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "password",
    ] {
        post(
            &server,
            "/token",
            &[("grant_type", grant)],
            Some((&id, &secret)),
        )
        .await
        .assert_error(400, "unsupported_grant_type");
    }
    // Implemented grants the client was not registered for (RFC 6749 §5.2).
    for grant in ["authorization_code", "refresh_token"] {
        post(
            &server,
            "/token",
            &[("grant_type", grant)],
            Some((&id, &secret)),
        )
        .await
        .assert_error(400, "unauthorized_client");
    }
}

/// RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."
async fn repeated_parameter_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let r = post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
        Some((&id, &secret)),
    )
    .await;
    r.assert_error(400, "invalid_request")
        .assert_description("parameter 'grant_type' is repeated");
    token(
        &server,
        &id,
        &secret,
        &[("scope", "read"), ("scope", "write")],
    )
    .await
    .assert_error(400, "invalid_request")
    .assert_description("parameter 'scope' is repeated");
    // A repeated secret is named, never echoed.
    let r = post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("client_secret", "other-secret-value"),
        ],
        None,
    )
    .await;
    r.assert_error(400, "invalid_request");
    assert!(!r.text.contains(&secret) && !r.text.contains("other-secret-value"));
}

/// RFC 6749 §5.2 unauthorized_client: "The authenticated client is not authorized to use this
/// authorization grant type."
async fn client_without_the_grant_is_unauthorized_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    crate::support::set_grant_types(&server, &id, vec![GrantType::AuthorizationCode]).await;
    token(&server, &id, &secret, &[])
        .await
        .assert_error(400, "unauthorized_client");
}

async fn opaque_api_issues_opaque_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    opaque_api(&server, API, "read write").await;
    let (id, secret) = crate::support::basic_client(&server, &[API], None).await;
    let r = token(&server, &id, &secret, &[]).await;
    r.ok();
    let t = r.body["access_token"].as_str().unwrap();
    assert!(t.starts_with("wdn_at_"), "{t}");
    assert!(!t.contains('.'), "an opaque token is not a JWS: {t}");
    assert!(jsonwebtoken::decode_header(t).is_err());
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.body["scope"], "read write");
}

async fn expires_in_is_the_api_lifetime(backend: Backend) {
    let server = TestServer::start(backend).await;
    api_with_lifetime(
        &server,
        API,
        TokenFormat::Jwt,
        warden_types::SigningAlg::EdDSA,
        300,
    )
    .await;
    api_with_lifetime(
        &server,
        crate::support::API2,
        TokenFormat::Opaque,
        warden_types::SigningAlg::EdDSA,
        3600,
    )
    .await;
    let (id, secret) =
        crate::support::basic_client(&server, &[API, crate::support::API2], None).await;
    let r = token(&server, &id, &secret, &[("resource", API)]).await;
    assert_eq!(r.ok().body["expires_in"], 300);
    let r = token(&server, &id, &secret, &[("resource", crate::support::API2)]).await;
    assert_eq!(r.ok().body["expires_in"], 3600);
}

/// Clients commonly send `application/x-www-form-urlencoded; charset=UTF-8`.
async fn content_type_with_charset_is_accepted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let resp = server
        .http
        .post(server.token_endpoint())
        .header(
            "content-type",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        )
        .header("authorization", warden_testkit::basic_header(&id, &secret))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    crate::support::reply(resp).await.ok();
}

async fn every_token_is_different(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    let a = access_token(&server, &id, &secret, &[]).await;
    let b = access_token(&server, &id, &secret, &[]).await;
    assert_ne!(a, b);
    assert_ne!(
        crate::support::jwt_part(&a, 1)["jti"],
        crate::support::jwt_part(&b, 1)["jti"]
    );
}

/// RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`. A value of only spaces is not a
/// scope; it must not produce a token with no scope at all.
async fn blank_scope_is_not_an_empty_grant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = api_and_client(&server).await;
    for blank in [" ", "   "] {
        let r = token(&server, &id, &secret, &[("scope", blank)]).await;
        let refused = r.status == 400 && r.error() == "invalid_scope";
        let defaulted = r.status == 200 && r.body["scope"] == "admin read write";
        assert!(
            refused || defaulted,
            "scope {blank:?}: {} {}",
            r.status,
            r.text
        );
    }
}
