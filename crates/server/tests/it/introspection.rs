//! `POST /introspect` (RFC 7662): caller authentication, the claims of active tokens, and
//! exactly `{"active":false}` for everything else (§2.2).

use serde_json::{Value, json};
use warden_core::clock::Clock;
use warden_testkit::{Backend, TestServer};
use warden_types::{SigningAlg, TokenEndpointAuthMethod};

use crate::support::{
    API, API2, ClientKey, access_token, assemble_jwt, assertion_claims, b64, basic_client,
    introspect, jwt_api, jwt_part, opaque_api, post, private_key_client, published_jwks,
    secret_jwt_client, sign_hmac,
};

both!(
    requires_client_authentication,
    active_jwt_has_its_claims,
    active_opaque_token_has_its_claims,
    caller_may_authenticate_with_any_method,
    expired_tokens_are_inactive,
    unknown_and_garbage_tokens_are_inactive,
    jwt_signed_by_a_foreign_key_is_inactive,
    jwt_with_tampered_payload_is_inactive,
    jwt_without_access_token_type_is_inactive,
    token_of_a_deleted_api_or_client_is_inactive,
    missing_token_is_invalid_request,
    token_type_hint_is_only_a_hint,
);

const INACTIVE: &str = r#"{"active":false}"#;

/// A JWT API (API), an opaque API (API2), and a Basic client granted both.
async fn setup(server: &TestServer) -> (String, String) {
    jwt_api(server, API, "read write", SigningAlg::RS256).await;
    opaque_api(server, API2, "read write").await;
    basic_client(server, &[API, API2], None).await
}

/// Asserts an inactive answer and that it says nothing else (RFC 7662 §2.2).
#[track_caller]
fn assert_inactive(r: &crate::support::Reply) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"active": false}), "{}", r.text);
    assert_eq!(r.text, INACTIVE);
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

async fn requires_client_authentication(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let t = access_token(&server, &id, &secret, &[("resource", API)]).await;
    post(&server, "/introspect", &[("token", &t)], None)
        .await
        .assert_error(401, "invalid_client")
        .assert_no_challenge();
    introspect(&server, (&id, "wrong"), &t)
        .await
        .assert_error(401, "invalid_client")
        .assert_basic_challenge();
    introspect(&server, ("nobody", &secret), &t)
        .await
        .assert_error(401, "invalid_client");
}

async fn active_jwt_has_its_claims(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let t = access_token(
        &server,
        &id,
        &secret,
        &[("resource", API), ("scope", "read")],
    )
    .await;
    let claims = jwt_part(&t, 1);
    let r = introspect(&server, (&id, &secret), &t).await;
    r.ok();
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let b = &r.body;
    assert_eq!(b["active"], true);
    assert_eq!(b["scope"], "read");
    assert_eq!(b["client_id"], id.as_str());
    assert_eq!(b["sub"], id.as_str());
    assert_eq!(b["aud"], API);
    assert_eq!(b["iss"], server.issuer.as_str());
    assert_eq!(b["token_type"], "Bearer");
    for claim in ["exp", "iat", "jti"] {
        assert_eq!(b[claim], claims[claim], "{claim}");
    }
}

async fn active_opaque_token_has_its_claims(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let now = server.clock.now();
    let t = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    assert!(t.starts_with("wdn_at_"));
    let r = introspect(&server, (&id, &secret), &t).await;
    r.ok();
    let b = &r.body;
    assert_eq!(b["active"], true);
    assert_eq!(b["scope"], "read write");
    assert_eq!(b["client_id"], id.as_str());
    assert_eq!(b["sub"], id.as_str());
    assert_eq!(b["aud"], API2);
    assert_eq!(b["iss"], server.issuer.as_str());
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["iat"], now);
    assert_eq!(b["exp"], now + 900);
    assert!(b["jti"].as_str().is_some_and(|j| !j.is_empty()));
}

/// The introspecting caller authenticates like at the token endpoint: post, JWT assertions
/// (whose aud may be the introspection endpoint), and another confidential client.
async fn caller_may_authenticate_with_any_method(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let t = access_token(&server, &id, &secret, &[("resource", API)]).await;

    let (pid, psecret) = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretPost, &[API], None)
        .await;
    let r = post(
        &server,
        "/introspect",
        &[
            ("token", &t),
            ("client_id", &pid),
            ("client_secret", &psecret),
        ],
        None,
    )
    .await;
    assert_eq!(r.ok().body["active"], true);

    let key = ClientKey::generate(SigningAlg::EdDSA, "rs-key");
    let kid = private_key_client(&server, &key, &[API]).await;
    let endpoint = server.engine.config().introspection_endpoint.clone();
    let claims = assertion_claims(&kid, &endpoint, server.clock.now());
    let r = post(
        &server,
        "/introspect",
        &[
            ("token", &t),
            ("client_assertion_type", crate::support::JWT_BEARER),
            ("client_assertion", &key.sign(&claims)),
        ],
        None,
    )
    .await;
    assert_eq!(r.ok().body["active"], true);

    let (sid, ssecret) = secret_jwt_client(&server, &[API]).await;
    let claims = assertion_claims(&sid, &server.issuer, server.clock.now());
    let r = post(
        &server,
        "/introspect",
        &[
            ("token", &t),
            ("client_assertion_type", crate::support::JWT_BEARER),
            (
                "client_assertion",
                &sign_hmac(&ssecret, jsonwebtoken::Algorithm::HS384, &claims),
            ),
        ],
        None,
    )
    .await;
    assert_eq!(r.ok().body["active"], true);
}

async fn expired_tokens_are_inactive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let jwt = access_token(&server, &id, &secret, &[("resource", API)]).await;
    let opaque = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    server.clock.advance(899);
    assert_eq!(
        introspect(&server, (&id, &secret), &jwt).await.body["active"],
        true
    );
    assert_eq!(
        introspect(&server, (&id, &secret), &opaque).await.body["active"],
        true
    );
    server.clock.advance(1);
    assert_inactive(&introspect(&server, (&id, &secret), &jwt).await);
    assert_inactive(&introspect(&server, (&id, &secret), &opaque).await);
    server.clock.advance(86_400);
    assert_inactive(&introspect(&server, (&id, &secret), &jwt).await);
    assert_inactive(&introspect(&server, (&id, &secret), &opaque).await);
}

async fn unknown_and_garbage_tokens_are_inactive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    // A well-formed opaque token from another server (unknown here).
    let other = TestServer::start(Backend::Sqlite).await;
    let (oid, osecret) = setup(&other).await;
    let foreign_opaque = access_token(&other, &oid, &osecret, &[("resource", API2)]).await;
    let real = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    let truncated = &real[..real.len() - 1];
    let mut altered = real.clone();
    altered.replace_range(10..11, if &real[10..11] == "A" { "B" } else { "A" });
    let long = "x".repeat(30_000);
    for garbage in [
        foreign_opaque.as_str(),
        truncated,
        altered.as_str(),
        "garbage",
        "wdn_at_",
        "wdn_at_garbage",
        "wdn_rat_abc",
        "a.b.c",
        "..",
        "eyJhbGciOiJub25lIn0.e30.",
        long.as_str(),
        "\u{0}\u{1}",
        "ünïcödé",
    ] {
        assert_inactive(&introspect(&server, (&id, &secret), garbage).await);
    }
}

/// A JWT carrying our kid, our typ and plausible claims, signed by someone else's key.
async fn jwt_signed_by_a_foreign_key_is_inactive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let real = access_token(&server, &id, &secret, &[("resource", API)]).await;
    let header = jwt_part(&real, 0);
    let claims = jwt_part(&real, 1);
    let kid = header["kid"].as_str().unwrap();
    for (alg, forged_kid) in [
        (SigningAlg::RS256, kid),
        (SigningAlg::RS256, "foreign-kid"),
        (SigningAlg::ES256, kid),
        (SigningAlg::PS256, kid),
    ] {
        let foreign = ClientKey::generate(alg, forged_kid);
        let forged = foreign.sign_typed("at+jwt", forged_kid, &claims);
        assert_inactive(&introspect(&server, (&id, &secret), &forged).await);
    }
    // HMAC with the published public key as secret (algorithm confusion).
    let jwk = published_jwks(&server).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .to_string();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(kid.to_owned());
    h.typ = Some("at+jwt".to_owned());
    let forged = jsonwebtoken::encode(
        &h,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(jwk.as_bytes()),
    )
    .unwrap();
    assert_inactive(&introspect(&server, (&id, &secret), &forged).await);
    // alg none with our kid.
    let unsigned = assemble_jwt(
        &json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
        &claims,
        "",
    );
    assert_inactive(&introspect(&server, (&id, &secret), &unsigned).await);
}

async fn jwt_with_tampered_payload_is_inactive(backend: Backend) {
    let server = TestServer::start(backend).await;
    jwt_api(&server, API, "read write", SigningAlg::ES256).await;
    let (id, secret) = basic_client(&server, &[API], Some("read")).await;
    let real = access_token(&server, &id, &secret, &[]).await;
    let parts: Vec<&str> = real.split('.').collect();
    let original = jwt_part(&real, 1);
    let tamper = |f: &dyn Fn(&mut Value)| {
        let mut claims = original.clone();
        f(&mut claims);
        format!(
            "{}.{}.{}",
            parts[0],
            b64(claims.to_string().as_bytes()),
            parts[2]
        )
    };
    for forged in [
        tamper(&|c| c["scope"] = json!("read write")),
        tamper(&|c| c["exp"] = json!(c["exp"].as_i64().unwrap() + 3600)),
        tamper(&|c| c["client_id"] = json!("someone-else")),
        // The same JSON with a space: different bytes, so a different signing input.
        format!(
            "{}.{}.{}",
            parts[0],
            b64(format!(" {original}").as_bytes()),
            parts[2]
        ),
        // Signature of another token.
        {
            let other = access_token(&server, &id, &secret, &[]).await;
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                other.split('.').nth(2).unwrap()
            )
        },
    ] {
        assert_inactive(&introspect(&server, (&id, &secret), &forged).await);
    }
    // The untouched token is active.
    assert_eq!(
        introspect(&server, (&id, &secret), &real).await.body["active"],
        true
    );
}

/// RFC 8725 §3.11 explicit typing: a JWT signed with Warden's own access-token key but
/// without `typ` `at+jwt` is not an access token; neither is one naming another issuer, nor a
/// client assertion.
async fn jwt_without_access_token_type_is_inactive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let real = access_token(&server, &id, &secret, &[("resource", API)]).await;
    let kid = jwt_part(&real, 0)["kid"].as_str().unwrap().to_owned();
    // Warden's own private key, unsealed with the master key the test server uses.
    let master = warden_jose::MasterKey::from_base64(
        std::fs::read_to_string(&server.master_key_file)
            .unwrap()
            .trim(),
    )
    .unwrap();
    let stored = server.engine.store().signing_keys().await.unwrap();
    let stored = stored.iter().find(|k| k.kid.as_str() == kid).unwrap();
    let ours = warden_core::keys::unseal(stored, &master).unwrap();
    let claims = jwt_part(&real, 1);
    // Positive control: the same claims re-signed as at+jwt are active.
    let resigned = ours.sign_jwt("at+jwt", &claims).unwrap();
    assert_eq!(
        introspect(&server, (&id, &secret), &resigned).await.body["active"],
        true
    );
    for typ in ["JWT", "jwt", "at+jwt+x", ""] {
        let other_type = ours.sign_jwt(typ, &claims).unwrap();
        assert_inactive(&introspect(&server, (&id, &secret), &other_type).await);
    }
    let mut foreign_issuer = claims.clone();
    foreign_issuer["iss"] = json!("https://other-issuer.example");
    let forged = ours.sign_jwt("at+jwt", &foreign_issuer).unwrap();
    assert_inactive(&introspect(&server, (&id, &secret), &forged).await);
    // A client assertion (HS256, typ JWT) is not an access token either.
    let (sid, ssecret) = secret_jwt_client(&server, &[API]).await;
    let assertion_claims = assertion_claims(&sid, &server.token_endpoint(), server.clock.now());
    let assertion = sign_hmac(&ssecret, jsonwebtoken::Algorithm::HS256, &assertion_claims);
    assert_inactive(&introspect(&server, (&id, &secret), &assertion).await);
}

/// A token outlives neither its API nor its client.
async fn token_of_a_deleted_api_or_client_is_inactive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let (caller, caller_secret) = basic_client(&server, &[API], None).await;
    let jwt = access_token(&server, &id, &secret, &[("resource", API)]).await;
    let opaque = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    server
        .engine
        .delete_api(API2, server.clock.now())
        .await
        .unwrap();
    server.engine.reload().await.unwrap();
    assert_inactive(&introspect(&server, (&caller, &caller_secret), &opaque).await);
    assert_eq!(
        introspect(&server, (&caller, &caller_secret), &jwt)
            .await
            .body["active"],
        true
    );
    server
        .engine
        .delete_client(&id, server.clock.now())
        .await
        .unwrap();
    server.engine.reload().await.unwrap();
    assert_inactive(&introspect(&server, (&caller, &caller_secret), &jwt).await);
}

async fn missing_token_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    post(&server, "/introspect", &[], Some((&id, &secret)))
        .await
        .assert_error(400, "invalid_request");
    post(
        &server,
        "/introspect",
        &[("token", "")],
        Some((&id, &secret)),
    )
    .await
    .assert_error(400, "invalid_request");
    post(
        &server,
        "/introspect",
        &[("token", "a"), ("token", "b")],
        Some((&id, &secret)),
    )
    .await
    .assert_error(400, "invalid_request");
}

/// RFC 7662 §2.1: token_type_hint is a hint; a wrong or unknown hint does not hide a token.
async fn token_type_hint_is_only_a_hint(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (id, secret) = setup(&server).await;
    let jwt = access_token(&server, &id, &secret, &[("resource", API)]).await;
    let opaque = access_token(&server, &id, &secret, &[("resource", API2)]).await;
    for t in [&jwt, &opaque] {
        for hint in ["access_token", "refresh_token", "something_else"] {
            let r = post(
                &server,
                "/introspect",
                &[("token", t), ("token_type_hint", hint)],
                Some((&id, &secret)),
            )
            .await;
            assert_eq!(r.ok().body["active"], true, "hint {hint}");
        }
    }
}
