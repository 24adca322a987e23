//! Dynamic client registration (RFC 7591) behind an initial access token, and client
//! management with the registration access token (RFC 7592).

use serde_json::{Value, json};
use warden_core::clock::Clock;
use warden_testkit::{Backend, TestServer};
use warden_types::SigningAlg;

use crate::support::{
    API, API2, API3, ClientKey, Reply, access_token, assertion_claims, assertion_token,
    basic_client, introspect, jwt_api, jwt_part, opaque_api, reply, token,
};

both!(
    registration_requires_an_initial_access_token,
    invalid_initial_access_tokens_are_refused,
    registration_returns_credentials,
    reusable_initial_access_token_works_twice,
    once_initial_access_token_works_once,
    once_initial_access_token_is_single_use_under_concurrency,
    expired_initial_access_token_is_refused,
    metadata_errors,
    registration_body_must_be_json,
    registered_scope_gets_tokens_from_every_api_defining_it,
    initial_access_token_limited_to_an_api,
    private_key_jwt_client_registered_with_jwks,
    private_key_jwt_client_registered_with_jwks_uri,
    secret_methods_registered_end_to_end,
    update_can_change_the_auth_method,
    update_refuses_server_managed_fields,
    read_registration,
    update_registration,
    delete_registration,
    bad_metadata_does_not_spend_a_once_token,
    client_id_with_a_nul_is_invalid_token,
    browser_client_registered_with_oidc_metadata,
    public_client_registered,
    native_client_registered,
    encrypted_id_token_client_registered,
    oidc_metadata_errors,
    update_changes_oidc_settings,
);

/// A fresh reusable initial access token valid for an hour.
async fn initial_token(server: &TestServer) -> String {
    server
        .engine
        .create_initial_access_token(3600, false, None, server.clock.now())
        .await
        .unwrap()
}

/// POST /register with a JSON body and an optional bearer token.
async fn register(server: &TestServer, body: &Value, bearer: Option<&str>) -> Reply {
    let mut req = server
        .http
        .post(server.url("/register"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    reply(req.send().await.unwrap()).await
}

/// Registers and asserts 201.
async fn register_ok(server: &TestServer, body: &Value) -> Value {
    let iat = initial_token(server).await;
    let r = register(server, body, Some(&iat)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

/// A request to the client configuration endpoint.
async fn manage(
    server: &TestServer,
    method: reqwest::Method,
    client_id: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut req = server
        .http
        .request(method, server.url(&format!("/register/{client_id}")));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    reply(req.send().await.unwrap()).await
}

#[track_caller]
fn assert_bearer_challenge(r: &Reply) {
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "expected a Bearer challenge, got {challenge:?}"
    );
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

/// RFC 7591 §3 with an initial access token required; RFC 6750 §3.1 invalid_token + Bearer.
async fn registration_requires_an_initial_access_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = register(&server, &json!({"client_name": "x"}), None).await;
    r.assert_error(401, "invalid_token");
    assert_bearer_challenge(&r);
}

async fn invalid_initial_access_tokens_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let good = initial_token(&server).await;
    // Well-formed (valid checksum) but from another server: unknown here.
    let other = TestServer::start(Backend::Sqlite).await;
    let unknown = initial_token(&other).await;
    let truncated = &good[..good.len() - 1];
    for bad in [
        "garbage",
        "wdn_iat_",
        truncated,
        unknown.as_str(),
        "wdn_rat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let r = register(&server, &json!({}), Some(bad)).await;
        r.assert_error(401, "invalid_token");
        assert_bearer_challenge(&r);
    }
    // Basic credentials are not an initial access token.
    let resp = server
        .http
        .post(server.url("/register"))
        .header("content-type", "application/json")
        .header("authorization", warden_testkit::basic_header("a", &good))
        .body("{}")
        .send()
        .await
        .unwrap();
    reply(resp).await.assert_error(401, "invalid_token");
}

/// RFC 7591 §3.2.1: 201 with client_id, client_secret, client_secret_expires_at (0 = never),
/// client_id_issued_at and the registered metadata; RFC 7592 §3: registration_access_token and
/// registration_client_uri.
async fn registration_returns_credentials(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = initial_token(&server).await;
    let r = register(
        &server,
        &json!({"client_name": "Billing worker", "software_id": "billing", "unknown_field": 1}),
        Some(&iat),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let b = &r.body;
    let id = b["client_id"].as_str().expect("client_id");
    assert!(
        b["client_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("wdn_cs_"))
    );
    assert_eq!(b["client_secret_expires_at"], 0);
    assert!(b["client_id_issued_at"].as_i64().is_some());
    assert!(
        b["registration_access_token"]
            .as_str()
            .is_some_and(|s| s.starts_with("wdn_rat_"))
    );
    assert_eq!(
        b["registration_client_uri"],
        format!("{}/register/{id}", server.issuer)
    );
    assert_eq!(b["client_name"], "Billing worker");
    assert_eq!(b["software_id"], "billing");
    assert_eq!(b["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(b["grant_types"], json!(["client_credentials"]));
    assert!(
        b.get("unknown_field").is_none(),
        "unknown members are ignored"
    );
}

async fn reusable_initial_access_token_works_twice(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = initial_token(&server).await;
    let a = register(&server, &json!({}), Some(&iat)).await;
    let b = register(&server, &json!({}), Some(&iat)).await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.body["client_id"], b.body["client_id"]);
}

async fn once_initial_access_token_works_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = server
        .engine
        .create_initial_access_token(3600, true, None, server.clock.now())
        .await
        .unwrap();
    assert_eq!(register(&server, &json!({}), Some(&iat)).await.status, 201);
    let r = register(&server, &json!({}), Some(&iat)).await;
    r.assert_error(401, "invalid_token");
    assert_bearer_challenge(&r);
}

async fn expired_initial_access_token_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = server
        .engine
        .create_initial_access_token(60, false, None, server.clock.now())
        .await
        .unwrap();
    server.clock.advance(59);
    assert_eq!(register(&server, &json!({}), Some(&iat)).await.status, 201);
    server.clock.advance(2);
    register(&server, &json!({}), Some(&iat))
        .await
        .assert_error(401, "invalid_token");
}

/// RFC 7591 §3.2.2 error codes for bad metadata.
async fn metadata_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = initial_token(&server).await;
    let private_jwk = {
        let mut jwk =
            serde_json::to_value(ClientKey::generate(SigningAlg::ES256, "k").jwk()).unwrap();
        jwk["d"] = json!("c2VjcmV0");
        jwk
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"token_endpoint_auth_method": "magic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        // The authorization code grant needs redirect URIs.
        (
            json!({"grant_types": ["authorization_code"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["/relative"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"jwks": {"keys": []}, "jwks_uri": "https://a.example/jwks"}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private_jwk]}}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth"}),
            "invalid_client_metadata",
        ),
        (json!({"scope": "a\"b"}), "invalid_client_metadata"),
        (
            json!({"jwks_uri": "http://keys.example/jwks", "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}),
            "invalid_client_metadata",
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x".repeat(201)}),
            "invalid_client_metadata",
        ),
        (json!({"client_name": "a\u{7}b"}), "invalid_client_metadata"),
        (
            json!({"client_uri": "ftp://a.example"}),
            "invalid_client_metadata",
        ),
        (json!({"logo_uri": "not a url"}), "invalid_client_metadata"),
        (
            json!({"contacts": "ops@example.com"}),
            "invalid_client_metadata",
        ),
        (json!({"client_name": 5}), "invalid_client_metadata"),
    ];
    for (body, code) in cases {
        let r = register(&server, &body, Some(&iat)).await;
        assert_eq!((r.status, r.error()), (400, code), "{body}: {}", r.text);
        r.assert_error(400, code);
    }
}

async fn registration_body_must_be_json(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = initial_token(&server).await;
    for (content_type, body) in [
        ("application/json", "not json"),
        ("application/json", "[]"),
        ("application/json", "\"string\""),
        ("application/json", ""),
        ("application/x-www-form-urlencoded", "client_name=x"),
        ("text/plain", "{}"),
    ] {
        let resp = server
            .http
            .post(server.url("/register"))
            .header("content-type", content_type)
            .bearer_auth(&iat)
            .body(body)
            .send()
            .await
            .unwrap();
        let r = reply(resp).await;
        r.assert_error(400, "invalid_request");
    }
}

/// A registered client with `scope` metadata may obtain those scopes from any API defining
/// them.
async fn registered_scope_gets_tokens_from_every_api_defining_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    opaque_api(&server, API2, "read admin").await;
    jwt_api(&server, API3, "export", SigningAlg::ES256).await;
    let b = register_ok(&server, &json!({"scope": "read admin"})).await;
    assert_eq!(b["scope"], "admin read");
    let (id, secret) = (
        b["client_id"].as_str().unwrap(),
        b["client_secret"].as_str().unwrap(),
    );
    let t = access_token(&server, id, secret, &[("resource", API)]).await;
    assert_eq!(jwt_part(&t, 1)["scope"], "read");
    let r = token(&server, id, secret, &[("resource", API2)]).await;
    assert_eq!(r.ok().body["scope"], "admin read");
    token(&server, id, secret, &[("resource", API3)])
        .await
        .assert_error(400, "invalid_target");
    token(
        &server,
        id,
        secret,
        &[("resource", API), ("scope", "write")],
    )
    .await
    .assert_error(400, "invalid_scope");
}

/// An initial access token limited to an API limits the clients registered with it.
async fn initial_access_token_limited_to_an_api(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    jwt_api(&server, API2, "read", SigningAlg::ES256).await;
    let iat = server
        .engine
        .create_initial_access_token(3600, false, Some(vec![API.to_owned()]), server.clock.now())
        .await
        .unwrap();
    let r = register(&server, &json!({"scope": "read"}), Some(&iat)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (id, secret) = (
        r.body["client_id"].as_str().unwrap(),
        r.body["client_secret"].as_str().unwrap(),
    );
    // Only API is reachable, so it is also the default.
    let t = access_token(&server, id, secret, &[]).await;
    assert_eq!(jwt_part(&t, 1)["aud"], API);
    token(&server, id, secret, &[("resource", API2)])
        .await
        .assert_error(400, "invalid_target");
    // An API created later is out of reach too.
    jwt_api(&server, API3, "read", SigningAlg::ES256).await;
    token(&server, id, secret, &[("resource", API3)])
        .await
        .assert_error(400, "invalid_target");
}

async fn private_key_jwt_client_registered_with_jwks(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::RS256).await;
    let key = ClientKey::generate(SigningAlg::PS256, "registered-key");
    let b = register_ok(
        &server,
        &json!({
            "client_name": "signer",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": key.jwks(),
            "scope": "read",
        }),
    )
    .await;
    assert!(b.get("client_secret").is_none(), "{b}");
    assert!(b.get("client_secret_expires_at").is_none(), "{b}");
    assert_eq!(b["jwks"]["keys"][0]["kid"], "registered-key");
    let id = b["client_id"].as_str().unwrap();
    let claims = assertion_claims(id, &server.token_endpoint(), server.clock.now());
    let r = assertion_token(&server, &key.sign(&claims), &[]).await;
    assert_eq!(r.ok().body["scope"], "read");
}

/// client_secret_post and client_secret_jwt clients registered dynamically authenticate with
/// the returned secret; the media type may carry a charset.
async fn secret_methods_registered_end_to_end(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let b = register_ok(
        &server,
        &json!({"token_endpoint_auth_method": "client_secret_post", "scope": "read"}),
    )
    .await;
    let (id, secret) = (
        b["client_id"].as_str().unwrap(),
        b["client_secret"].as_str().unwrap(),
    );
    let r = crate::support::post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ],
        None,
    )
    .await;
    r.ok();

    let iat = initial_token(&server).await;
    let resp = server
        .http
        .post(server.url("/register"))
        .header("content-type", "application/json; charset=utf-8")
        .bearer_auth(&iat)
        .body(
            json!({"token_endpoint_auth_method": "client_secret_jwt", "scope": "read"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let r = reply(resp).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (id, secret) = (
        r.body["client_id"].as_str().unwrap(),
        r.body["client_secret"].as_str().unwrap(),
    );
    let claims = assertion_claims(id, &server.token_endpoint(), server.clock.now());
    let assertion = crate::support::sign_hmac(secret, jsonwebtoken::Algorithm::HS512, &claims);
    assertion_token(&server, &assertion, &[]).await.ok();
}

/// RFC 7592 §2.2: changing token_endpoint_auth_method through an update; a new secret is
/// issued when the new method needs one, and the old method stops working.
async fn update_can_change_the_auth_method(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let b = register_ok(&server, &json!({"scope": "read"})).await;
    let id = b["client_id"].as_str().unwrap();
    let old_secret = b["client_secret"].as_str().unwrap();
    let rat = b["registration_access_token"].as_str().unwrap();
    access_token(&server, id, old_secret, &[]).await;

    let update = json!({"client_id": id, "token_endpoint_auth_method": "client_secret_post", "scope": "read"});
    let r = manage(&server, reqwest::Method::PUT, id, Some(rat), Some(&update)).await;
    r.ok();
    assert_eq!(r.body["token_endpoint_auth_method"], "client_secret_post");
    let new_secret = r.body["client_secret"]
        .as_str()
        .expect("a new secret")
        .to_owned();
    token(&server, id, old_secret, &[])
        .await
        .assert_error(401, "invalid_client");
    crate::support::post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", &new_secret),
        ],
        None,
    )
    .await
    .ok();

    // To private_key_jwt: no secret any more, the key works.
    let key = ClientKey::generate(SigningAlg::EdDSA, "k1");
    let update = json!({
        "client_id": id,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": key.jwks(),
        "scope": "read",
    });
    let r = manage(&server, reqwest::Method::PUT, id, Some(rat), Some(&update)).await;
    r.ok();
    assert!(r.body.get("client_secret").is_none(), "{}", r.text);
    let claims = assertion_claims(id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &key.sign(&claims), &[]).await.ok();
    crate::support::post(
        &server,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", &new_secret),
        ],
        None,
    )
    .await
    .assert_error(401, "invalid_client");
}

/// RFC 7592 §2.2: "The client MUST NOT include the registration_access_token,
/// registration_client_uri, client_secret_expires_at, or client_id_issued_at fields".
async fn update_refuses_server_managed_fields(backend: Backend) {
    let server = TestServer::start(backend).await;
    let b = register_ok(&server, &json!({})).await;
    let id = b["client_id"].as_str().unwrap();
    let rat = b["registration_access_token"].as_str().unwrap();
    for field in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret_expires_at",
        "client_id_issued_at",
    ] {
        let mut update = json!({"client_id": id});
        update[field] = b[field].clone();
        manage(&server, reqwest::Method::PUT, id, Some(rat), Some(&update))
            .await
            .assert_error(400, "invalid_request");
    }
    // Echoing the current secret is allowed.
    let update = json!({"client_id": id, "client_secret": b["client_secret"]});
    manage(&server, reqwest::Method::PUT, id, Some(rat), Some(&update))
        .await
        .ok();
}

/// RFC 7592 §2.1 read.
async fn read_registration(backend: Backend) {
    let server = TestServer::start(backend).await;
    let b = register_ok(&server, &json!({"client_name": "reader", "scope": "read"})).await;
    let id = b["client_id"].as_str().unwrap();
    let rat = b["registration_access_token"].as_str().unwrap();
    let r = manage(&server, reqwest::Method::GET, id, Some(rat), None).await;
    r.ok();
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["client_id"], id);
    assert_eq!(r.body["client_name"], "reader");
    assert_eq!(r.body["scope"], "read");
    assert_eq!(
        r.body["registration_client_uri"],
        b["registration_client_uri"]
    );
    assert!(
        r.body.get("client_secret").is_none(),
        "the secret is shown once"
    );
    // RFC 7592 §3: the response carries the (unchanged) registration access token.
    assert_eq!(r.body["registration_access_token"], rat);

    // Wrong, missing, or another client's token.
    let other = register_ok(&server, &json!({})).await;
    let other_rat = other["registration_access_token"].as_str().unwrap();
    let secret = b["client_secret"].as_str().unwrap();
    for bad in [Some(other_rat), Some("garbage"), Some(secret), None] {
        let r = manage(&server, reqwest::Method::GET, id, bad, None).await;
        r.assert_error(401, "invalid_token");
        assert_bearer_challenge(&r);
    }
    // Another client's id with this token.
    let other_id = other["client_id"].as_str().unwrap();
    manage(&server, reqwest::Method::GET, other_id, Some(rat), None)
        .await
        .assert_error(401, "invalid_token");
    // An unknown id.
    manage(&server, reqwest::Method::GET, "nope", Some(rat), None)
        .await
        .assert_error(401, "invalid_token");
}

/// RFC 7592 §2.2 update: the body replaces the metadata; client_id must be sent and match.
async fn update_registration(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    let b = register_ok(&server, &json!({"client_name": "before", "scope": "read"})).await;
    let id = b["client_id"].as_str().unwrap();
    let secret = b["client_secret"].as_str().unwrap();
    let rat = b["registration_access_token"].as_str().unwrap();

    let update = json!({"client_id": id, "client_name": "after", "scope": "read write"});
    let r = manage(&server, reqwest::Method::PUT, id, Some(rat), Some(&update)).await;
    r.ok();
    assert_eq!(r.body["client_name"], "after");
    assert_eq!(r.body["scope"], "read write");
    assert!(
        r.body.get("client_secret").is_none(),
        "same method, same secret"
    );
    // The change is in effect: the new scope can be obtained with the old secret.
    let t = access_token(&server, id, secret, &[("scope", "write")]).await;
    assert_eq!(jwt_part(&t, 1)["scope"], "write");
    let r = manage(&server, reqwest::Method::GET, id, Some(rat), None).await;
    assert_eq!(r.ok().body["client_name"], "after");

    // client_id missing or different.
    manage(
        &server,
        reqwest::Method::PUT,
        id,
        Some(rat),
        Some(&json!({"client_name": "x"})),
    )
    .await
    .assert_error(400, "invalid_request");
    manage(
        &server,
        reqwest::Method::PUT,
        id,
        Some(rat),
        Some(&json!({"client_id": "other", "client_name": "x"})),
    )
    .await
    .assert_error(400, "invalid_request");
    // A wrong client_secret in the body.
    manage(
        &server,
        reqwest::Method::PUT,
        id,
        Some(rat),
        Some(&json!({"client_id": id, "client_secret": "wrong"})),
    )
    .await
    .assert_error(400, "invalid_request");
    // Bad metadata.
    manage(
        &server,
        reqwest::Method::PUT,
        id,
        Some(rat),
        Some(&json!({"client_id": id, "grant_types": ["password"]})),
    )
    .await
    .assert_error(400, "invalid_client_metadata");
    // Wrong token.
    let r = manage(
        &server,
        reqwest::Method::PUT,
        id,
        Some("wdn_rat_nope"),
        Some(&update),
    )
    .await;
    r.assert_error(401, "invalid_token");
}

/// RFC 7592 §2.3 delete: 204; afterwards the client cannot authenticate, its tokens are
/// inactive and its registration is gone.
async fn delete_registration(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    opaque_api(&server, API2, "read").await;
    let b = register_ok(&server, &json!({"scope": "read"})).await;
    let id = b["client_id"].as_str().unwrap();
    let secret = b["client_secret"].as_str().unwrap();
    let rat = b["registration_access_token"].as_str().unwrap();
    let jwt = access_token(&server, id, secret, &[("resource", API)]).await;
    let opaque = access_token(&server, id, secret, &[("resource", API2)]).await;
    let (rs, rs_secret) = basic_client(&server, &[API], None).await;
    assert_eq!(
        introspect(&server, (&rs, &rs_secret), &jwt).await.body["active"],
        true
    );

    manage(
        &server,
        reqwest::Method::DELETE,
        id,
        Some("wdn_rat_x"),
        None,
    )
    .await
    .assert_error(401, "invalid_token");
    let r = manage(&server, reqwest::Method::DELETE, id, Some(rat), None).await;
    assert_eq!(r.status, 204, "{}", r.text);

    token(&server, id, secret, &[])
        .await
        .assert_error(401, "invalid_client");
    for t in [&jwt, &opaque] {
        let r = introspect(&server, (&rs, &rs_secret), t).await;
        assert_eq!(r.body, json!({"active": false}), "{}", r.text);
    }
    manage(&server, reqwest::Method::GET, id, Some(rat), None)
        .await
        .assert_error(401, "invalid_token");
    manage(&server, reqwest::Method::DELETE, id, Some(rat), None)
        .await
        .assert_error(401, "invalid_token");
}

async fn once_initial_access_token_is_single_use_under_concurrency(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = server
        .engine
        .create_initial_access_token(3600, true, None, server.clock.now())
        .await
        .unwrap();
    let body = json!({"client_name": "racer"});
    let requests = (0..8).map(|_| register(&server, &body, Some(&iat)));
    let replies = crate::support::join_all(requests).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 201) {
        r.assert_error(401, "invalid_token");
    }
}

async fn private_key_jwt_client_registered_with_jwks_uri(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let key = ClientKey::generate(SigningAlg::RS256, "uri-key");
    let keys = crate::support::JwksServer::start(&key.jwks()).await;
    let b = register_ok(
        &server,
        &json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": keys.url,
            "token_endpoint_auth_signing_alg": "RS256",
            "scope": "read",
        }),
    )
    .await;
    assert_eq!(b["jwks_uri"], keys.url.as_str());
    let id = b["client_id"].as_str().unwrap();
    let claims = assertion_claims(id, &server.token_endpoint(), server.clock.now());
    assertion_token(&server, &key.sign(&claims), &[]).await.ok();
    assert_eq!(keys.hits(), 1);
}

/// A malformed registration is refused before the initial access token is used, so a
/// single-use token survives a client's mistake.
async fn bad_metadata_does_not_spend_a_once_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = server
        .engine
        .create_initial_access_token(3600, true, None, server.clock.now())
        .await
        .unwrap();
    register(&server, &json!({"grant_types": ["password"]}), Some(&iat))
        .await
        .assert_error(400, "invalid_client_metadata");
    assert_eq!(register(&server, &json!({}), Some(&iat)).await.status, 201);
    register(&server, &json!({}), Some(&iat))
        .await
        .assert_error(401, "invalid_token");
}

/// A client id no client can have (a NUL byte) is refused as an invalid token, never a 500
/// (PostgreSQL refuses NUL in text).
async fn client_id_with_a_nul_is_invalid_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let b = register_ok(&server, &json!({})).await;
    let rat = b["registration_access_token"].as_str().unwrap();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        manage(&server, method, "%00", Some(rat), None)
            .await
            .assert_error(401, "invalid_token");
    }
}

/// The stored client, read from the database.
async fn stored_client(server: &TestServer, id: &str) -> warden_core::model::Client {
    server
        .engine
        .store()
        .client(id)
        .await
        .unwrap()
        .expect("client stored")
}

/// A public encryption JWK (`use` enc) for `alg`.
fn encryption_jwk(alg: warden_jose::JweAlgorithm) -> Value {
    let signing_alg = match alg {
        warden_jose::JweAlgorithm::RsaOaep256 => SigningAlg::RS256,
        warden_jose::JweAlgorithm::EcdhEs => SigningAlg::ES256,
    };
    let pair =
        warden_jose::SigningKey::generate(signing_alg, warden_types::Kid::new("enc-1")).unwrap();
    let key = warden_jose::JweDecrypter::from_pkcs8(
        pair.pkcs8_der(),
        &[alg],
        &[warden_jose::JweEncryption::A256GCM],
    )
    .unwrap()
    .with_kid("enc-1");
    serde_json::to_value(key.public_jwk()).unwrap()
}

/// OIDC Dynamic Client Registration §2, RFC 9126 §6 and the logout specifications: every
/// member is validated, stored in the client's settings and returned.
async fn browser_client_registered_with_oidc_metadata(backend: Backend) {
    let server = TestServer::start(backend).await;
    let body = json!({
        "client_name": "Web shop",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code", "id_token code"],
        "redirect_uris": ["https://shop.example/cb", "http://localhost:3000/cb"],
        "post_logout_redirect_uris": ["https://shop.example/bye"],
        "backchannel_logout_uri": "https://shop.example/backchannel",
        "backchannel_logout_session_required": true,
        "id_token_signed_response_alg": "ES256",
        "require_pushed_authorization_requests": true,
        "subject_type": "public",
        "default_max_age": 3600,
        "scope": "openid profile read",
    });
    let b = register_ok(&server, &body).await;
    assert!(b["client_secret"].as_str().is_some(), "{b}");
    assert_eq!(
        b["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(b["response_types"], json!(["code", "code id_token"]));
    assert_eq!(b["redirect_uris"], body["redirect_uris"]);
    assert_eq!(
        b["post_logout_redirect_uris"],
        body["post_logout_redirect_uris"]
    );
    assert_eq!(
        b["backchannel_logout_uri"],
        "https://shop.example/backchannel"
    );
    assert_eq!(b["backchannel_logout_session_required"], true);
    assert_eq!(b["id_token_signed_response_alg"], "ES256");
    assert_eq!(b["require_pushed_authorization_requests"], true);
    assert_eq!(b["application_type"], "web");
    assert_eq!(b["subject_type"], "public");
    assert_eq!(b["default_max_age"], 3600);
    let id = b["client_id"].as_str().unwrap();
    let client = stored_client(&server, id).await;
    assert_eq!(client.oidc.response_types, ["code", "code id_token"]);
    assert!(client.oidc.require_par);
    assert!(!client.oidc.first_party, "never from registration");
    assert!(!client.oidc.allow_public_refresh, "a confidential client");
    assert_eq!(
        client.oidc.post_logout_redirect_uris,
        ["https://shop.example/bye"]
    );
    assert_eq!(
        client.oidc.backchannel_logout_uri.as_deref(),
        Some("https://shop.example/backchannel")
    );
    assert!(client.oidc.backchannel_logout_session_required);
    assert_eq!(client.id_token_alg(), SigningAlg::ES256);
    assert!(client.allows_response_type("code id_token"));
    assert_eq!(client.redirect_uris.len(), 2);
    // RFC 7592 read returns the same metadata.
    let rat = b["registration_access_token"].as_str().unwrap();
    let r = manage(&server, reqwest::Method::GET, id, Some(rat), None).await;
    r.ok();
    for member in [
        "response_types",
        "redirect_uris",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "id_token_signed_response_alg",
        "require_pushed_authorization_requests",
        "default_max_age",
    ] {
        assert_eq!(r.body[member], b[member], "{member}");
    }
    // The client credentials grant still works for it.
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    token(
        &server,
        id,
        b["client_secret"].as_str().unwrap(),
        &[("resource", API)],
    )
    .await
    .ok();
}

/// A public client (`none`): no secret; authorization_code (default response type `code`);
/// the refresh_token grant lets it receive refresh tokens.
async fn public_client_registered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let b = register_ok(
        &server,
        &json!({
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["https://spa.example/cb"],
        }),
    )
    .await;
    assert!(b.get("client_secret").is_none(), "{b}");
    assert!(b.get("client_secret_expires_at").is_none(), "{b}");
    assert_eq!(b["token_endpoint_auth_method"], "none");
    assert_eq!(b["response_types"], json!(["code"]));
    let client = stored_client(&server, b["client_id"].as_str().unwrap()).await;
    assert!(client.secret.is_none());
    assert!(client.oidc.allow_public_refresh);
    assert_eq!(client.oidc.response_types, ["code"]);
    // Without refresh_token it gets none.
    let b = register_ok(
        &server,
        &json!({
            "token_endpoint_auth_method": "none",
            "response_types": ["code"],
            "redirect_uris": ["https://spa.example/cb"],
        }),
    )
    .await;
    assert_eq!(b["grant_types"], json!(["authorization_code"]));
    let client = stored_client(&server, b["client_id"].as_str().unwrap()).await;
    assert!(!client.oidc.allow_public_refresh);
}

/// RFC 8252: native apps use loopback (any port), https or private-use scheme redirect URIs.
async fn native_client_registered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let uris = json!([
        "http://127.0.0.1/callback",
        "http://[::1]:8123/callback",
        "http://localhost/callback",
        "com.example.app:/oauth2redirect",
        "https://app.example/universal",
    ]);
    let b = register_ok(
        &server,
        &json!({
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
            "redirect_uris": uris,
        }),
    )
    .await;
    assert_eq!(b["application_type"], "native");
    assert_eq!(b["redirect_uris"], uris);
    let client = stored_client(&server, b["client_id"].as_str().unwrap()).await;
    assert_eq!(client.oidc.application_type.as_deref(), Some("native"));
    // The same private-use URI is refused for a web client.
    let iat = initial_token(&server).await;
    register(
        &server,
        &json!({
            "grant_types": ["authorization_code"],
            "redirect_uris": ["com.example.app:/oauth2redirect"],
        }),
        Some(&iat),
    )
    .await
    .assert_error(400, "invalid_redirect_uri");
}

/// `id_token_encrypted_response_alg` needs an encryption key of the right type; `enc`
/// defaults to A256GCM.
async fn encrypted_id_token_client_registered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let signing = ClientKey::generate(SigningAlg::ES256, "sig-1");
    let mut sig_jwk = serde_json::to_value(signing.jwk()).unwrap();
    sig_jwk["use"] = json!("sig");
    let rsa_enc = encryption_jwk(warden_jose::JweAlgorithm::RsaOaep256);
    let b = register_ok(
        &server,
        &json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://rp.example/cb"],
            "jwks": {"keys": [sig_jwk, rsa_enc]},
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
        }),
    )
    .await;
    assert_eq!(b["id_token_encrypted_response_alg"], "RSA-OAEP-256");
    assert_eq!(b["id_token_encrypted_response_enc"], "A256GCM");
    let id = b["client_id"].as_str().unwrap();
    let client = stored_client(&server, id).await;
    assert_eq!(
        client.oidc.id_token_encrypted_response_alg.as_deref(),
        Some("RSA-OAEP-256")
    );
    assert_eq!(
        client.oidc.id_token_encrypted_response_enc.as_deref(),
        Some("A256GCM")
    );
    // The signature key in the same set still authenticates the client.
    let claims = assertion_claims(id, &server.token_endpoint(), server.clock.now());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", crate::support::JWT_BEARER),
        ("client_assertion", &signing.sign(&claims)),
    ];
    // client_credentials is not one of its grants: authentication passes, the grant does not.
    let r = crate::support::post(&server, "/token", &form, None).await;
    assert_eq!(r.error(), "unauthorized_client", "{}", r.text);

    // ECDH-ES with A128GCM and an EC encryption key.
    let ec_enc = encryption_jwk(warden_jose::JweAlgorithm::EcdhEs);
    let b = register_ok(
        &server,
        &json!({
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://rp.example/cb"],
            "jwks": {"keys": [ec_enc]},
            "id_token_encrypted_response_alg": "ECDH-ES",
            "id_token_encrypted_response_enc": "A128GCM",
        }),
    )
    .await;
    assert_eq!(b["id_token_encrypted_response_enc"], "A128GCM");
    // By reference: checked when an ID token is encrypted.
    register_ok(
        &server,
        &json!({
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://rp.example/cb"],
            "jwks_uri": "https://rp.example/jwks",
            "id_token_encrypted_response_alg": "ECDH-ES",
        }),
    )
    .await;
}

/// The browser-flow rules: `invalid_redirect_uri` for redirect URI problems,
/// `invalid_client_metadata` for everything else, each with a description.
async fn oidc_metadata_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let iat = initial_token(&server).await;
    let rsa_enc = encryption_jwk(warden_jose::JweAlgorithm::RsaOaep256);
    let ec_enc = encryption_jwk(warden_jose::JweAlgorithm::EcdhEs);
    let code = |extra: Value| {
        let mut body = json!({
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://rp.example/cb"],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        // Redirect URIs.
        (
            code(json!({"redirect_uris": []})),
            "invalid_redirect_uri",
            "redirect_uris is required",
        ),
        (
            code(json!({"redirect_uris": ["http://rp.example/cb"]})),
            "invalid_redirect_uri",
            "https",
        ),
        (
            code(json!({"redirect_uris": ["https://rp.example/cb#x"]})),
            "invalid_redirect_uri",
            "fragment",
        ),
        (
            code(json!({"redirect_uris": ["https://u:p@rp.example/cb"]})),
            "invalid_redirect_uri",
            "user information",
        ),
        (
            code(json!({"redirect_uris": ["cb"]})),
            "invalid_redirect_uri",
            "absolute",
        ),
        (
            code(json!({"redirect_uris": ["myapp:/cb"], "application_type": "native"})),
            "invalid_redirect_uri",
            "period",
        ),
        (
            code(json!({"redirect_uris": ["http://rp.example/cb"], "application_type": "native"})),
            "invalid_redirect_uri",
            "loopback",
        ),
        (
            json!({"response_types": ["code"]}),
            "invalid_redirect_uri",
            "redirect_uris is required",
        ),
        // Grant and response types.
        (
            json!({"grant_types": ["refresh_token"]}),
            "invalid_client_metadata",
            "authorization_code",
        ),
        (
            code(json!({"grant_types": ["implicit"]})),
            "invalid_client_metadata",
            "implicit",
        ),
        (
            code(json!({"response_types": ["token"]})),
            "invalid_client_metadata",
            "token",
        ),
        (
            code(json!({"response_types": ["code id_token token"]})),
            "invalid_client_metadata",
            "not supported",
        ),
        (
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            "invalid_client_metadata",
            "authorization_code",
        ),
        (
            code(
                json!({"token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "client_credentials"]}),
            ),
            "invalid_client_metadata",
            "client_credentials",
        ),
        (
            code(
                json!({"token_endpoint_auth_method": "none", "response_types": ["code id_token"]}),
            ),
            "invalid_client_metadata",
            "confidential",
        ),
        (
            code(json!({"application_type": "desktop"})),
            "invalid_client_metadata",
            "application_type",
        ),
        // Logout.
        (
            code(json!({"post_logout_redirect_uris": ["http://rp.example/bye"]})),
            "invalid_client_metadata",
            "post_logout_redirect_uri",
        ),
        (
            code(json!({"post_logout_redirect_uris": ["https://rp.example/bye#x"]})),
            "invalid_client_metadata",
            "fragment",
        ),
        (
            code(json!({"post_logout_redirect_uris": "https://rp.example/bye"})),
            "invalid_client_metadata",
            "malformed",
        ),
        (
            code(json!({"backchannel_logout_uri": "http://rp.example/bc"})),
            "invalid_client_metadata",
            "backchannel_logout_uri",
        ),
        (
            code(json!({"backchannel_logout_uri": "https://rp.example/bc#x"})),
            "invalid_client_metadata",
            "fragment",
        ),
        (
            code(json!({"backchannel_logout_uri": "/bc"})),
            "invalid_client_metadata",
            "absolute",
        ),
        (
            code(json!({"backchannel_logout_session_required": "true"})),
            "invalid_client_metadata",
            "malformed",
        ),
        // ID token algorithms.
        (
            code(json!({"id_token_signed_response_alg": "none"})),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
        (
            code(json!({"id_token_signed_response_alg": "HS256"})),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
        (
            code(json!({"id_token_encrypted_response_alg": "RSA-OAEP-256"})),
            "invalid_client_metadata",
            "jwks",
        ),
        (
            code(
                json!({"id_token_encrypted_response_alg": "RSA-OAEP-256", "jwks": {"keys": [ec_enc]}}),
            ),
            "invalid_client_metadata",
            "encryption key",
        ),
        (
            code(json!({"id_token_encrypted_response_alg": "RSA1_5", "jwks": {"keys": [rsa_enc]}})),
            "invalid_client_metadata",
            "RSA1_5",
        ),
        (
            code(json!({"id_token_encrypted_response_alg": "dir", "jwks": {"keys": [rsa_enc]}})),
            "invalid_client_metadata",
            "dir",
        ),
        (
            code(
                json!({"id_token_encrypted_response_alg": "RSA-OAEP-256", "id_token_encrypted_response_enc": "A128CBC-HS256", "jwks": {"keys": [rsa_enc]}}),
            ),
            "invalid_client_metadata",
            "A128CBC-HS256",
        ),
        (
            code(
                json!({"id_token_encrypted_response_enc": "A256GCM", "jwks": {"keys": [rsa_enc]}}),
            ),
            "invalid_client_metadata",
            "requires id_token_encrypted_response_alg",
        ),
        // An encryption key alone cannot authenticate a private_key_jwt client.
        (
            code(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [rsa_enc]}}),
            ),
            "invalid_client_metadata",
            "signature key",
        ),
        // Other members.
        (
            code(json!({"require_pushed_authorization_requests": "yes"})),
            "invalid_client_metadata",
            "malformed",
        ),
        (
            code(json!({"subject_type": "pairwise"})),
            "invalid_client_metadata",
            "subject_type",
        ),
        (
            code(json!({"default_max_age": -5})),
            "invalid_client_metadata",
            "default_max_age",
        ),
    ];
    for (body, code, needle) in cases {
        let r = register(&server, &body, Some(&iat)).await;
        assert_eq!((r.status, r.error()), (400, code), "{body}: {}", r.text);
        r.assert_error(400, code);
        let description = r.body["error_description"].as_str().unwrap();
        assert!(
            description.contains(needle),
            "{body}: description {description:?} should mention {needle:?}"
        );
    }
}

/// RFC 7592 §2.2: an update replaces the browser-flow settings too.
async fn update_changes_oidc_settings(backend: Backend) {
    let server = TestServer::start(backend).await;
    let b = register_ok(
        &server,
        &json!({
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://rp.example/cb"],
            "post_logout_redirect_uris": ["https://rp.example/bye"],
        }),
    )
    .await;
    let id = b["client_id"].as_str().unwrap();
    let rat = b["registration_access_token"].as_str().unwrap();
    let update = json!({
        "client_id": id,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code id_token"],
        "redirect_uris": ["https://rp.example/cb2"],
        "backchannel_logout_uri": "https://rp.example/bc",
        "id_token_signed_response_alg": "PS256",
    });
    let r = manage(&server, reqwest::Method::PUT, id, Some(rat), Some(&update)).await;
    r.ok();
    assert_eq!(r.body["redirect_uris"], json!(["https://rp.example/cb2"]));
    assert_eq!(r.body["response_types"], json!(["code id_token"]));
    assert!(
        r.body.get("post_logout_redirect_uris").is_none(),
        "{}",
        r.text
    );
    let client = stored_client(&server, id).await;
    assert_eq!(client.redirect_uris, ["https://rp.example/cb2"]);
    assert_eq!(client.oidc.response_types, ["code id_token"]);
    assert!(client.oidc.post_logout_redirect_uris.is_empty());
    assert_eq!(
        client.oidc.backchannel_logout_uri.as_deref(),
        Some("https://rp.example/bc")
    );
    assert_eq!(client.id_token_alg(), SigningAlg::PS256);
    // A bad redirect URI in an update is refused like at registration.
    let bad = json!({
        "client_id": id,
        "grant_types": ["authorization_code"],
        "redirect_uris": ["http://rp.example/cb"],
    });
    manage(&server, reqwest::Method::PUT, id, Some(rat), Some(&bad))
        .await
        .assert_error(400, "invalid_redirect_uri");
}
