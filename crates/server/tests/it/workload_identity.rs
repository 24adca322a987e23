//! Workload identity: tokens from trusted external issuers (a Kubernetes service-account token,
//! a SPIFFE JWT-SVID, a CI job's OIDC token) as the RFC 7523 §2.1 JWT bearer grant and as
//! federated client authentication (a `client_assertion` from the issuer). The platform tokens
//! are signed here with `jsonwebtoken`; issued access tokens are verified with it against
//! `/jwks`.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use warden_core::admin::NewClient;
use warden_core::clock::Clock;
use warden_core::issuers::{IssuerKeys, NewTrustedIssuer, TrustedIssuerChange};
use warden_testkit::{Backend, TestServer};
use warden_types::{GrantType, SigningAlg, TokenEndpointAuthMethod};

use crate::oidc_support::{
    Authz, Browser, CALLBACK, PASSWORD, USERNAME, create_alice, encode, oidc_client, words,
};
use crate::support::{
    API, API2, ClientKey, JWT_BEARER, JwksServer, Reply, assemble_jwt, get, jwt_api, jwt_part,
    new_client, post, random_id, sign_hmac, verify_jwt,
};

both!(
    // JWT bearer grant
    jwt_bearer_issues_a_token_for_the_mapped_client,
    jwt_bearer_replay_is_invalid_grant,
    jwt_bearer_with_client_id_only,
    jwt_bearer_token_without_jti_is_accepted_once,
    jwt_bearer_audience_rules,
    jwt_bearer_custom_audience,
    jwt_bearer_expired_or_without_exp_is_invalid_grant,
    jwt_bearer_lifetime_is_bounded,
    jwt_bearer_issued_in_the_future_is_invalid_grant,
    jwt_bearer_untrusted_issuer_is_invalid_grant,
    jwt_bearer_unmapped_subject_is_invalid_grant,
    jwt_bearer_symmetric_or_unsigned_is_invalid_grant,
    jwt_bearer_wrong_key_is_invalid_grant,
    jwt_bearer_mapped_client_without_the_grant_is_unauthorized_client,
    jwt_bearer_with_client_authentication,
    jwt_bearer_malformed_requests,
    jwt_bearer_mapped_client_deleted_is_invalid_grant,
    jwt_bearer_with_keys_from_a_jwks_uri,
    issuer_key_rotation_takes_effect,
    // federated client authentication
    federated_client_credentials_without_a_stored_key,
    federated_assertion_replay_is_invalid_client,
    federated_authentication_at_introspection_and_revocation,
    federated_client_id_must_match,
    federated_assertion_for_a_non_private_key_jwt_client_is_invalid_client,
    federated_assertion_failures_are_invalid_client,
    issuer_keys_are_not_the_clients_keys,
    deleted_issuer_or_unmapped_subject_stops_working,
    federated_authentication_in_the_browser_flow,
    replay_is_refused_across_instances,
    discovery_lists_both_grant_types,
);

/// RFC 7523 §2.1 grant type.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The trusted platform.
const ISSUER: &str = "https://k8s.example/clusters/prod";
/// A subject mapped to the JWT bearer client.
const WORKER: &str = "system:serviceaccount:shop:worker";
/// A subject mapped to the federated (private_key_jwt, keyless) client.
const FRONT: &str = "spiffe://shop.example/ns/shop/sa/front";

/// A server with [`API`] and [`API2`], a trusted issuer with keys by value, and two clients:
/// `bearer` (client_secret_basic with the jwt-bearer grant, mapped from [`WORKER`]) and
/// `federated` (private_key_jwt without keys, client_credentials, mapped from [`FRONT`]).
struct Platform {
    server: TestServer,
    key: ClientKey,
    bearer: (String, String),
    federated: String,
}

impl Platform {
    async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    async fn start_with(backend: Backend, tweak: impl FnOnce(&mut NewTrustedIssuer)) -> Self {
        let server = TestServer::start(backend).await;
        jwt_api(&server, API, "read write admin", SigningAlg::ES256).await;
        jwt_api(&server, API2, "read", SigningAlg::RS256).await;
        let key = ClientKey::generate(SigningAlg::ES256, "platform-key-1");
        let bearer = bearer_client(&server).await;
        let federated = keyless_client(&server).await;
        let mut new = NewTrustedIssuer {
            issuer: ISSUER.to_owned(),
            name: Some(String::from("prod cluster")),
            keys: IssuerKeys::Set(key.jwks()),
            audience: None,
            max_lifetime: None,
            subjects: vec![
                (WORKER.to_owned(), bearer.0.clone()),
                (FRONT.to_owned(), federated.clone()),
            ],
        };
        tweak(&mut new);
        server
            .engine
            .create_trusted_issuer(new, server.clock.now())
            .await
            .expect("create trusted issuer");
        server.engine.reload().await.unwrap();
        Self {
            server,
            key,
            bearer,
            federated,
        }
    }

    /// Claims of a platform token for `sub`: aud = Warden's issuer, ten minutes, a jti.
    fn claims(&self, sub: &str) -> Value {
        platform_claims(&self.server, sub)
    }

    /// A signed platform token for `sub`.
    fn token(&self, sub: &str) -> String {
        self.key.sign(&self.claims(sub))
    }
}

fn platform_claims(server: &TestServer, sub: &str) -> Value {
    let now = server.clock.now();
    json!({
        "iss": ISSUER,
        "sub": sub,
        "aud": server.issuer,
        "iat": now,
        "exp": now + 600,
        "jti": random_id(),
    })
}

/// client_secret_basic, grant jwt-bearer only, all scopes of [`API`].
async fn bearer_client(server: &TestServer) -> (String, String) {
    let mut new = new_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API]);
    new.grant_types = vec![JWT_BEARER_GRANT.to_owned()];
    let info = server.client(new).await;
    (info.client_id, info.client_secret.unwrap())
}

/// private_key_jwt without any key, client_credentials, `read` on [`API`].
async fn keyless_client(server: &TestServer) -> String {
    let new = NewClient {
        scope: Some(warden_types::Scope::parse("read").unwrap()),
        ..new_client(TokenEndpointAuthMethod::PrivateKeyJwt, &[API])
    };
    let info = server.client(new).await;
    assert!(info.client_secret.is_none());
    assert!(info.metadata.jwks.is_none() && info.metadata.jwks_uri.is_none());
    info.client_id
}

/// A JWT bearer grant request without client authentication.
async fn bearer(server: &TestServer, assertion: &str, extra: &[(&str, &str)]) -> Reply {
    let mut form = vec![("grant_type", JWT_BEARER_GRANT), ("assertion", assertion)];
    form.extend_from_slice(extra);
    post(server, "/token", &form, None).await
}

/// A request to `path` authenticated by a federated client assertion.
async fn federated(
    server: &TestServer,
    path: &str,
    assertion: &str,
    form: &[(&str, &str)],
) -> Reply {
    let mut full = vec![
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    full.extend_from_slice(form);
    post(server, path, &full, None).await
}

/// client_credentials with a federated client assertion.
async fn federated_token(server: &TestServer, assertion: &str, extra: &[(&str, &str)]) -> Reply {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    federated(server, "/token", assertion, &form).await
}

#[track_caller]
fn refused_grant(r: &Reply, what: &str) {
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "{what}: {}",
        r.text
    );
    r.assert_error(400, "invalid_grant");
}

// ---- JWT bearer grant ------------------------------------------------------------------------

async fn jwt_bearer_issues_a_token_for_the_mapped_client(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let r = bearer(s, &p.token(WORKER), &[]).await;
    r.ok();
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(
        words(r.body["scope"].as_str().unwrap()),
        words("read write admin"),
        "all its grant on the API"
    );
    assert!(r.body.get("refresh_token").is_none(), "{}", r.text);
    assert!(r.body.get("issued_token_type").is_none(), "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let token = r.body["access_token"].as_str().unwrap();
    let (header, at) = verify_jwt(s, token, API).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(
        at["sub"],
        p.bearer.0.as_str(),
        "the mapped client, not the platform sub"
    );
    assert_eq!(at["client_id"], p.bearer.0.as_str());
    assert_eq!(at["aud"], API);
    assert!(at.get("act").is_none(), "{at}");

    // With resource, audience and scope, exactly like client credentials.
    let r = bearer(s, &p.token(WORKER), &[("resource", API), ("scope", "read")]).await;
    assert_eq!(r.ok().body["scope"], "read");
    let r = bearer(
        s,
        &p.token(WORKER),
        &[("audience", API), ("scope", "write")],
    )
    .await;
    let (_, at) = verify_jwt(s, r.ok().body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["scope"], "write");
    // Outside its grant.
    bearer(s, &p.token(WORKER), &[("scope", "delete")])
        .await
        .assert_error(400, "invalid_scope");
    bearer(s, &p.token(WORKER), &[("resource", API2)])
        .await
        .assert_error(400, "invalid_target");
}

async fn jwt_bearer_replay_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let token = p.token(WORKER);
    bearer(s, &token, &[]).await.ok();
    refused_grant(&bearer(s, &token, &[]).await, "replay");
    // Another token with the same jti is a replay too.
    let mut claims = jwt_part(&token, 1);
    claims["iat"] = json!(s.clock.now() - 1);
    refused_grant(&bearer(s, &p.key.sign(&claims), &[]).await, "same jti");
    // As a client assertion, after use as a grant: still replayed.
    refused_grant(&bearer(s, &token, &[]).await, "replay again");
    federated_token(s, &token, &[])
        .await
        .assert_error(401, "invalid_client");
}

/// SPIFFE JWT-SVIDs need not carry a jti: the token itself is then recorded.
async fn jwt_bearer_token_without_jti_is_accepted_once(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let mut claims = p.claims(WORKER);
    claims.as_object_mut().unwrap().remove("jti");
    let token = p.key.sign(&claims);
    bearer(s, &token, &[]).await.ok();
    refused_grant(&bearer(s, &token, &[]).await, "replay without jti");
    // A different token without jti (another iat) is fresh.
    claims["iat"] = json!(s.clock.now() - 5);
    bearer(s, &p.key.sign(&claims), &[]).await.ok();
    // An empty jti is not "no jti".
    let mut claims = p.claims(WORKER);
    claims["jti"] = json!("");
    refused_grant(&bearer(s, &p.key.sign(&claims), &[]).await, "empty jti");
}

async fn jwt_bearer_audience_rules(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    for aud in [
        json!(s.issuer),
        json!(s.token_endpoint()),
        json!(["https://other.example", s.issuer]),
    ] {
        let mut claims = p.claims(WORKER);
        claims["aud"] = aud.clone();
        let r = bearer(s, &p.key.sign(&claims), &[]).await;
        assert_eq!(r.status, 200, "aud {aud}: {}", r.text);
    }
    for aud in [
        json!("https://other.example"),
        json!(API),
        json!(format!("{}/", s.issuer)),
        json!([]),
        json!(["https://other.example"]),
        json!(null),
    ] {
        let mut claims = p.claims(WORKER);
        claims["aud"] = aud.clone();
        refused_grant(
            &bearer(s, &p.key.sign(&claims), &[]).await,
            &format!("aud {aud}"),
        );
    }
    let mut claims = p.claims(WORKER);
    claims.as_object_mut().unwrap().remove("aud");
    refused_grant(&bearer(s, &p.key.sign(&claims), &[]).await, "no aud");
}

/// An issuer configured with its own audience: only that audience is accepted.
async fn jwt_bearer_custom_audience(backend: Backend) {
    let p = Platform::start_with(backend, |i| i.audience = Some(String::from("sts.warden"))).await;
    let s = &p.server;
    refused_grant(&bearer(s, &p.token(WORKER), &[]).await, "default audience");
    let mut claims = p.claims(WORKER);
    claims["aud"] = json!(s.token_endpoint());
    refused_grant(
        &bearer(s, &p.key.sign(&claims), &[]).await,
        "token endpoint",
    );
    claims["aud"] = json!("sts.warden");
    bearer(s, &p.key.sign(&claims), &[]).await.ok();
    // Back to the default with an update.
    s.engine
        .update_trusted_issuer(
            ISSUER,
            TrustedIssuerChange {
                audience: Some(None),
                ..TrustedIssuerChange::default()
            },
            s.clock.now(),
        )
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    bearer(s, &p.token(WORKER), &[]).await.ok();
    claims["jti"] = json!(random_id());
    refused_grant(
        &bearer(s, &p.key.sign(&claims), &[]).await,
        "old custom audience",
    );
}

async fn jwt_bearer_expired_or_without_exp_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let now = s.clock.now();
    let mut claims = p.claims(WORKER);
    claims["iat"] = json!(now - 600);
    claims["exp"] = json!(now - 31);
    refused_grant(
        &bearer(s, &p.key.sign(&claims), &[]).await,
        "expired beyond skew",
    );
    let mut claims = p.claims(WORKER);
    claims.as_object_mut().unwrap().remove("exp");
    refused_grant(&bearer(s, &p.key.sign(&claims), &[]).await, "no exp");
    let mut claims = p.claims(WORKER);
    claims["exp"] = json!("soon");
    refused_grant(&bearer(s, &p.key.sign(&claims), &[]).await, "string exp");
    // A valid token presented after it expired.
    let token = p.token(WORKER);
    s.clock.advance(600 + 31);
    refused_grant(&bearer(s, &token, &[]).await, "expired since");
}

/// Lifetime bound: default one hour (plus the 30 s skew), or the issuer's own setting.
async fn jwt_bearer_lifetime_is_bounded(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let now = s.clock.now();
    let with = |iat: Option<i64>, exp: i64| {
        let mut claims = p.claims(WORKER);
        match iat {
            Some(iat) => claims["iat"] = json!(iat),
            None => {
                claims.as_object_mut().unwrap().remove("iat");
            }
        }
        claims["exp"] = json!(exp);
        p.key.sign(&claims)
    };
    bearer(s, &with(Some(now), now + 3600), &[]).await.ok();
    bearer(s, &with(None, now + 3600), &[]).await.ok();
    refused_grant(
        &bearer(s, &with(Some(now), now + 3600 + 60), &[]).await,
        "exp 1h01 ahead",
    );
    refused_grant(
        &bearer(s, &with(None, now + 7200), &[]).await,
        "exp 2h ahead without iat",
    );
    refused_grant(&bearer(s, &with(None, i64::MAX), &[]).await, "exp i64::MAX");
    // exp is near, but iat says the token lives longer than allowed.
    refused_grant(
        &bearer(s, &with(Some(now - 3000), now + 1000), &[]).await,
        "lifetime 4000 s",
    );

    // An issuer with a 5-minute bound.
    s.engine
        .update_trusted_issuer(
            ISSUER,
            TrustedIssuerChange {
                max_lifetime: Some(300),
                ..TrustedIssuerChange::default()
            },
            s.clock.now(),
        )
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    refused_grant(
        &bearer(s, &with(Some(now), now + 600), &[]).await,
        "10 min for a 5 min bound",
    );
    bearer(s, &with(Some(now), now + 300), &[]).await.ok();
}

async fn jwt_bearer_issued_in_the_future_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let now = s.clock.now();
    let mut claims = p.claims(WORKER);
    claims["iat"] = json!(now + 120);
    claims["exp"] = json!(now + 600);
    refused_grant(
        &bearer(s, &p.key.sign(&claims), &[]).await,
        "iat in the future",
    );
    let mut claims = p.claims(WORKER);
    claims["nbf"] = json!(now + 120);
    refused_grant(
        &bearer(s, &p.key.sign(&claims), &[]).await,
        "nbf in the future",
    );
    // Within the skew: accepted.
    let mut claims = p.claims(WORKER);
    claims["iat"] = json!(now + 10);
    claims["nbf"] = json!(now + 10);
    bearer(s, &p.key.sign(&claims), &[]).await.ok();
}

async fn jwt_bearer_untrusted_issuer_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    for iss in [
        json!("https://evil.example"),
        json!(format!("{ISSUER}/")),
        json!("HTTPS://K8S.EXAMPLE/clusters/prod"),
        json!(s.issuer),
        json!(null),
    ] {
        let mut claims = p.claims(WORKER);
        claims["iss"] = iss.clone();
        refused_grant(
            &bearer(s, &p.key.sign(&claims), &[]).await,
            &format!("iss {iss}"),
        );
    }
    let mut claims = p.claims(WORKER);
    claims.as_object_mut().unwrap().remove("iss");
    refused_grant(&bearer(s, &p.key.sign(&claims), &[]).await, "no iss");
}

async fn jwt_bearer_unmapped_subject_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    for sub in [
        json!("system:serviceaccount:shop:other"),
        json!(format!("{WORKER} ")),
        // A Warden client id is not a platform subject.
        json!(p.bearer.0),
        json!(""),
    ] {
        let mut claims = p.claims(WORKER);
        claims["sub"] = sub.clone();
        refused_grant(
            &bearer(s, &p.key.sign(&claims), &[]).await,
            &format!("sub {sub}"),
        );
    }
    let mut claims = p.claims(WORKER);
    claims.as_object_mut().unwrap().remove("sub");
    refused_grant(&bearer(s, &p.key.sign(&claims), &[]).await, "no sub");
}

/// Only asymmetric signatures from the issuer's keys: HMAC with the public key as secret
/// (algorithm confusion), HMAC with any secret, and unsigned tokens are refused.
async fn jwt_bearer_symmetric_or_unsigned_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let claims = p.claims(WORKER);
    let public_jwk = serde_json::to_string(&p.key.jwk()).unwrap();
    let jwk = p.key.jwk();
    let x = serde_json::to_value(&jwk).unwrap()["x"]
        .as_str()
        .unwrap()
        .to_owned();
    for (what, token) in [
        (
            "HS256 with the public JWK",
            sign_hmac(&public_jwk, Algorithm::HS256, &claims),
        ),
        (
            "HS256 with the public x",
            sign_hmac(&x, Algorithm::HS256, &claims),
        ),
        (
            "HS256 with a secret",
            sign_hmac(&"k".repeat(64), Algorithm::HS256, &claims),
        ),
        (
            "HS512",
            sign_hmac(&"k".repeat(64), Algorithm::HS512, &claims),
        ),
    ] {
        refused_grant(&bearer(s, &token, &[]).await, what);
    }
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "kid": p.key.kid}),
        json!({"alg": "None", "typ": "JWT"}),
    ] {
        for signature in ["", "c2lnbmF0dXJl"] {
            let token = assemble_jwt(&header, &claims, signature);
            refused_grant(
                &bearer(s, &token, &[]).await,
                &format!("{header} {signature:?}"),
            );
        }
    }
    // The genuine token with these claims still works (nothing above consumed its jti).
    bearer(s, &p.key.sign(&claims), &[]).await.ok();
}

async fn jwt_bearer_wrong_key_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let same_kid = ClientKey::generate(SigningAlg::ES256, &p.key.kid);
    refused_grant(
        &bearer(s, &same_kid.sign(&p.claims(WORKER)), &[]).await,
        "same kid, other key",
    );
    let other_kid = ClientKey::generate(SigningAlg::RS256, "other");
    refused_grant(
        &bearer(s, &other_kid.sign(&p.claims(WORKER)), &[]).await,
        "unknown kid",
    );
    refused_grant(
        &bearer(s, &same_kid.sign_with_kid(None, &p.claims(WORKER)), &[]).await,
        "no kid, other key",
    );
    // The platform's key without a kid is fine (one key in the set).
    bearer(s, &p.key.sign_with_kid(None, &p.claims(WORKER)), &[])
        .await
        .ok();
}

/// The federated client is mapped but may not use the JWT bearer grant.
async fn jwt_bearer_mapped_client_without_the_grant_is_unauthorized_client(backend: Backend) {
    let p = Platform::start(backend).await;
    let r = bearer(&p.server, &p.token(FRONT), &[]).await;
    r.assert_error(400, "unauthorized_client");
}

/// RFC 7523 §3.1: client authentication is optional; when present it must be the mapped
/// client.
async fn jwt_bearer_with_client_authentication(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let (id, secret) = (&p.bearer.0, &p.bearer.1);
    let form = |t: &str| {
        vec![
            ("grant_type", JWT_BEARER_GRANT.to_owned()),
            ("assertion", t.to_owned()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>, basic: Option<(String, String)>| async move {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(
            s,
            "/token",
            &pairs,
            basic.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
        )
        .await
    };
    // The mapped client authenticating: fine.
    let r = send(form(&p.token(WORKER)), Some((id.clone(), secret.clone()))).await;
    let (_, at) = verify_jwt(s, r.ok().body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["sub"], id.as_str());
    // Another client (which has the grant too) authenticating: invalid_grant.
    let (other_id, other_secret) = bearer_client(s).await;
    let r = send(
        form(&p.token(WORKER)),
        Some((other_id.clone(), other_secret.clone())),
    )
    .await;
    r.assert_error(400, "invalid_grant");
    // Another client without the grant: still the mismatch that is reported.
    let (plain_id, plain_secret) = s
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    let r = send(form(&p.token(WORKER)), Some((plain_id, plain_secret))).await;
    r.assert_error(400, "invalid_grant");
    // Wrong credentials: invalid_client, 401.
    let r = send(
        form(&p.token(WORKER)),
        Some((id.clone(), String::from("wrong"))),
    )
    .await;
    r.assert_error(401, "invalid_client");
}

/// RFC 7523 §3.1: client authentication is optional with the grant; a `client_id` sent
/// without credentials only names the client, and must name the mapped one.
async fn jwt_bearer_with_client_id_only(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let id = p.bearer.0.clone();
    let token = p.token(WORKER);
    let r = bearer(s, &token, &[("client_id", &id)]).await;
    let (_, at) = verify_jwt(s, r.ok().body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["sub"], id.as_str());
    let (other, _) = bearer_client(s).await;
    let r = bearer(s, &p.token(WORKER), &[("client_id", &other)]).await;
    r.assert_error(400, "invalid_grant");
}

async fn jwt_bearer_malformed_requests(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    post(s, "/token", &[("grant_type", JWT_BEARER_GRANT)], None)
        .await
        .assert_error(400, "invalid_request");
    for garbage in ["", "garbage", "a.b.c", "e30.e30.", &"x".repeat(20_000)] {
        let r = bearer(s, garbage, &[]).await;
        assert!(
            matches!(
                (r.status, r.error()),
                (400, "invalid_grant" | "invalid_request")
            ),
            "assertion {:?}: {}",
            &garbage[..garbage.len().min(20)],
            r.text
        );
    }
    refused_grant(&bearer(s, "garbage", &[]).await, "garbage");
}

async fn jwt_bearer_mapped_client_deleted_is_invalid_grant(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    bearer(s, &p.token(WORKER), &[]).await.ok();
    s.engine
        .delete_client(&p.bearer.0, s.clock.now())
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    refused_grant(
        &bearer(s, &p.token(WORKER), &[]).await,
        "mapped client deleted",
    );
}

/// Keys from a jwks_uri served by a local HTTP server: fetched once, then cached.
async fn jwt_bearer_with_keys_from_a_jwks_uri(backend: Backend) {
    let key = ClientKey::generate(SigningAlg::RS256, "remote-1");
    let keys = JwksServer::start(&key.jwks()).await;
    let uri = keys.url.clone();
    let p = Platform::start_with(backend, |i| i.keys = IssuerKeys::Uri(uri)).await;
    let s = &p.server;
    assert_eq!(keys.hits(), 0, "not fetched before use");
    for _ in 0..2 {
        let r = bearer(s, &key.sign(&p.claims(WORKER)), &[]).await;
        let (_, at) = verify_jwt(s, r.ok().body["access_token"].as_str().unwrap(), API).await;
        assert_eq!(at["sub"], p.bearer.0.as_str());
    }
    let r = federated_token(s, &key.sign(&p.claims(FRONT)), &[]).await;
    r.ok();
    assert_eq!(keys.hits(), 1, "fetched once and cached");
    // The by-value key of the default platform is not trusted for this issuer any more.
    refused_grant(
        &bearer(s, &p.token(WORKER), &[]).await,
        "key not in the remote set",
    );
}

/// New keys for the issuer (update): old-key tokens are refused at once after the reload.
async fn issuer_key_rotation_takes_effect(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    bearer(s, &p.token(WORKER), &[]).await.ok();
    let new_key = ClientKey::generate(SigningAlg::EdDSA, "platform-key-2");
    s.engine
        .update_trusted_issuer(
            ISSUER,
            TrustedIssuerChange {
                keys: Some(IssuerKeys::Set(new_key.jwks())),
                ..TrustedIssuerChange::default()
            },
            s.clock.now(),
        )
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    refused_grant(&bearer(s, &p.token(WORKER), &[]).await, "old key");
    bearer(s, &new_key.sign(&p.claims(WORKER)), &[]).await.ok();
    federated_token(s, &p.token(FRONT), &[])
        .await
        .assert_error(401, "invalid_client");
    federated_token(s, &new_key.sign(&p.claims(FRONT)), &[])
        .await
        .ok();
}

// ---- federated client authentication ---------------------------------------------------------

/// A private_key_jwt client created without keys authenticates with the platform token.
async fn federated_client_credentials_without_a_stored_key(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let r = federated_token(s, &p.token(FRONT), &[]).await;
    r.ok();
    assert_eq!(r.body["scope"], "read");
    let (_, at) = verify_jwt(s, r.body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["sub"], p.federated.as_str());
    assert_eq!(at["client_id"], p.federated.as_str());
    assert!(at.get("act").is_none(), "{at}");
    // The token endpoint as audience works as for any client assertion.
    let mut claims = p.claims(FRONT);
    claims["aud"] = json!(s.token_endpoint());
    federated_token(s, &p.key.sign(&claims), &[]).await.ok();
}

async fn federated_assertion_replay_is_invalid_client(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let token = p.token(FRONT);
    federated_token(s, &token, &[]).await.ok();
    federated_token(s, &token, &[])
        .await
        .assert_error(401, "invalid_client");
    // Nor is it accepted at another endpoint, or as a grant.
    federated(s, "/introspect", &token, &[("token", "x")])
        .await
        .assert_error(401, "invalid_client");
}

/// Federated authentication at /introspect and /revoke too; replay refused there as well.
async fn federated_authentication_at_introspection_and_revocation(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let r = federated_token(s, &p.token(FRONT), &[]).await;
    let access = r.ok().body["access_token"].as_str().unwrap().to_owned();

    let assertion = p.token(FRONT);
    let r = federated(s, "/introspect", &assertion, &[("token", &access)]).await;
    r.ok();
    assert_eq!(r.body["active"], true, "{}", r.text);
    assert_eq!(r.body["client_id"], p.federated.as_str());
    federated(s, "/introspect", &assertion, &[("token", &access)])
        .await
        .assert_error(401, "invalid_client");
    // The introspection endpoint's own URL as audience.
    let mut claims = p.claims(FRONT);
    claims["aud"] = json!(format!("{}/introspect", s.issuer));
    let r = federated(
        s,
        "/introspect",
        &p.key.sign(&claims),
        &[("token", &access)],
    )
    .await;
    assert_eq!(r.ok().body["active"], true);

    // Revocation of its own token.
    federated(s, "/revoke", &p.token(FRONT), &[("token", &access)])
        .await
        .ok();
    let r = federated(s, "/introspect", &p.token(FRONT), &[("token", &access)]).await;
    assert_eq!(r.ok().body["active"], false, "{}", r.text);
}

/// `client_id` in the body, when sent, must be the mapped client.
async fn federated_client_id_must_match(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    federated_token(s, &p.token(FRONT), &[("client_id", &p.bearer.0)])
        .await
        .assert_error(401, "invalid_client");
    federated_token(s, &p.token(FRONT), &[("client_id", "unknown")])
        .await
        .assert_error(401, "invalid_client");
    federated_token(s, &p.token(FRONT), &[("client_id", &p.federated)])
        .await
        .ok();
}

/// The token maps to the bearer client, whose method is client_secret_basic: a federated
/// assertion does not authenticate it.
async fn federated_assertion_for_a_non_private_key_jwt_client_is_invalid_client(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    federated_token(s, &p.token(WORKER), &[])
        .await
        .assert_error(401, "invalid_client");
    // The same kind of token is fine for that client as a grant.
    bearer(s, &p.token(WORKER), &[]).await.ok();
}

async fn federated_assertion_failures_are_invalid_client(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let now = s.clock.now();
    let mut cases: Vec<(&str, String)> = Vec::new();
    let mut c = p.claims(FRONT);
    c["exp"] = json!(now - 60);
    cases.push(("expired", p.key.sign(&c)));
    let mut c = p.claims(FRONT);
    c["aud"] = json!("https://other.example");
    cases.push(("wrong aud", p.key.sign(&c)));
    let mut c = p.claims(FRONT);
    c["exp"] = json!(now + 7200);
    cases.push(("too long", p.key.sign(&c)));
    let mut c = p.claims(FRONT);
    c["sub"] = json!("spiffe://shop.example/ns/shop/sa/unmapped");
    cases.push(("unmapped", p.key.sign(&c)));
    cases.push((
        "wrong key",
        ClientKey::generate(SigningAlg::ES256, &p.key.kid).sign(&p.claims(FRONT)),
    ));
    cases.push((
        "HS256 with the public key",
        sign_hmac(
            &serde_json::to_string(&p.key.jwk()).unwrap(),
            Algorithm::HS256,
            &p.claims(FRONT),
        ),
    ));
    cases.push((
        "alg none",
        assemble_jwt(&json!({"alg": "none"}), &p.claims(FRONT), ""),
    ));
    for (what, assertion) in cases {
        let r = federated_token(s, &assertion, &[]).await;
        assert_eq!(
            (r.status, r.error()),
            (401, "invalid_client"),
            "{what}: {}",
            r.text
        );
    }
    federated_token(s, &p.token(FRONT), &[]).await.ok();
}

/// The issuer's keys stand in for a workload's identity only through the issuer's tokens:
/// a client assertion in the private_key_jwt form (iss = sub = client_id) signed with the
/// platform key does not authenticate the keyless client.
async fn issuer_keys_are_not_the_clients_keys(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    let claims = crate::support::assertion_claims(&p.federated, &s.token_endpoint(), s.clock.now());
    federated_token(s, &p.key.sign(&claims), &[])
        .await
        .assert_error(401, "invalid_client");
    // iss = the platform, sub = the client id (not a mapped subject).
    let mut claims = p.claims(FRONT);
    claims["sub"] = json!(p.federated);
    federated_token(s, &p.key.sign(&claims), &[])
        .await
        .assert_error(401, "invalid_client");
}

/// Deleting the issuer (or unmapping the subject) stops its tokens once servers reload.
async fn deleted_issuer_or_unmapped_subject_stops_working(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    federated_token(s, &p.token(FRONT), &[]).await.ok();
    bearer(s, &p.token(WORKER), &[]).await.ok();

    s.engine
        .unmap_issuer_subject(ISSUER, FRONT, s.clock.now())
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    federated_token(s, &p.token(FRONT), &[])
        .await
        .assert_error(401, "invalid_client");
    bearer(s, &p.token(WORKER), &[]).await.ok();

    s.engine
        .delete_trusted_issuer(ISSUER, s.clock.now())
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    refused_grant(&bearer(s, &p.token(WORKER), &[]).await, "issuer deleted");
    s.engine
        .map_issuer_subject(ISSUER, FRONT.to_owned(), &p.federated, s.clock.now())
        .await
        .expect_err("the issuer is gone");
    federated_token(s, &p.token(FRONT), &[])
        .await
        .assert_error(401, "invalid_client");
}

/// A keyless private_key_jwt web client authenticates with platform tokens at /par and when
/// redeeming the code.
async fn federated_authentication_in_the_browser_flow(backend: Backend) {
    let p = Platform::start(backend).await;
    let s = &p.server;
    create_alice(s).await;
    let app = oidc_client(s, TokenEndpointAuthMethod::PrivateKeyJwt, &[API], |_| {}).await;
    assert!(app.secret.is_none());
    let web = "spiffe://shop.example/ns/shop/sa/web";
    s.engine
        .map_issuer_subject(ISSUER, web.to_owned(), &app.id, s.clock.now())
        .await
        .unwrap();
    s.engine.reload().await.unwrap();

    let authz = Authz::new(&app.id)
        .with("resource", API)
        .with("scope", "openid read");
    let assertion = p.token(web);
    let r = federated(s, "/par", &assertion, &authz.pairs()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let request_uri = r.body["request_uri"].as_str().unwrap().to_owned();
    // Replayed at /par: refused.
    federated(s, "/par", &assertion, &authz.pairs())
        .await
        .assert_error(401, "invalid_client");

    let path = format!(
        "/authorize?{}",
        encode(&[("client_id", &app.id), ("request_uri", &request_uri)])
    );
    let mut browser = Browser::new(s);
    let page = browser.get(&path).await;
    let page = browser.login(&page, USERNAME, PASSWORD).await;
    let code = browser.consent(&page, "allow").await.callback().code();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", authz.verifier.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let r = federated(s, "/token", &p.token(web), &form).await;
    r.ok();
    let (_, at) = verify_jwt(s, r.body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(at["client_id"], app.id.as_str());
    assert_eq!(at["scope"], "openid read");
}

/// The single-use record is shared by every instance on the database.
async fn replay_is_refused_across_instances(backend: Backend) {
    let p = Platform::start(backend).await;
    let sibling = p.server.start_sibling().await;
    // The test servers have different issuer URLs: name both.
    let both = |sub: &str| {
        let mut claims = p.claims(sub);
        claims["aud"] = json!([p.server.issuer, sibling.issuer]);
        p.key.sign(&claims)
    };
    let grant = both(WORKER);
    bearer(&p.server, &grant, &[]).await.ok();
    refused_grant(
        &bearer(&sibling, &grant, &[]).await,
        "replay at the sibling",
    );
    let assertion = both(FRONT);
    federated_token(&sibling, &assertion, &[]).await.ok();
    federated_token(&p.server, &assertion, &[])
        .await
        .assert_error(401, "invalid_client");
    // The sibling trusts the issuer too (it loaded it from the database).
    bearer(&sibling, &both(WORKER), &[]).await.ok();
}

/// RFC 8414 metadata lists both new grant types.
async fn discovery_lists_both_grant_types(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = get(&server, "/.well-known/oauth-authorization-server").await;
    r.ok();
    let grants: Vec<&str> = r.body["grant_types_supported"]
        .as_array()
        .expect("grant_types_supported")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for g in [
        GrantType::TokenExchange.as_str(),
        GrantType::JwtBearer.as_str(),
        JWT_BEARER_GRANT,
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ] {
        assert!(grants.contains(&g), "{g} missing from {grants:?}");
    }
}
