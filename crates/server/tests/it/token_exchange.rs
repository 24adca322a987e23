//! RFC 8693 token exchange at `/token`, as a third party sees it: a user's access token for
//! one API is exchanged by the service behind that API for a token for a downstream API, with
//! the user still the subject and the service recorded in `act` (§4.1), nested along a chain.
//! Deny by default: every refusal is checked with its exact error code. Also the registration
//! metadata (`serves_api`, `token_exchange_targets`) that sets the policy, and the admin change
//! of the policy.
//!
//! Issued JWTs are verified with `jsonwebtoken` against `/jwks` (`verify_jwt`).

use serde_json::{Value, json};
use warden_core::admin::{ExchangePolicyChange, NewClient};
use warden_core::clock::Clock;
use warden_core::issuers::{IssuerKeys, NewTrustedIssuer};
use warden_core::model::OpaqueTokenRecord;
use warden_core::secrets::{ACCESS_TOKEN_PREFIX, generate_token, token_hash};
use warden_testkit::{Backend, Options, TestServer};
use warden_types::{
    ApiIdentifier, ClientId, GrantType, Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat,
};

use crate::oidc_support::{
    App, Authz, Tokens, confidential, create_alice, oidc_client, tokens_for,
};
use crate::support::{
    ClientKey, JWT_BEARER, Reply, access_token, api_with_lifetime, basic_client, introspect,
    jwt_api, jwt_part, opaque_api, post, random_id, reply, set_grant_types, verify_jwt,
};

both!(
    // happy paths
    user_token_is_exchanged_on_behalf_of_the_user,
    chain_of_exchanges_nests_act,
    exchanged_token_never_outlives_its_subject,
    shorter_target_lifetime_is_used,
    resource_and_audience_naming_the_same_api_are_accepted,
    actor_token_names_the_actor,
    may_act_allows_the_named_actor,
    may_act_applies_to_the_actor_token,
    opaque_target_api_issues_an_introspectable_token,
    introspection_of_an_exchanged_jwt_returns_act,
    admin_policy_change_takes_effect_after_reload,
    workload_authenticated_by_a_platform_token_exchanges,
    // refusals
    client_without_the_grant_is_unauthorized_client,
    client_without_serves_api_or_targets_is_unauthorized_client,
    public_client_is_unauthorized_client,
    subject_token_for_another_api_is_invalid_request,
    target_outside_the_policy_is_invalid_target,
    expired_subject_token_is_invalid_request,
    revoked_jwt_subject_token_is_invalid_request,
    revoked_opaque_subject_token_is_invalid_request,
    foreign_or_garbage_subject_token_is_invalid_request,
    subject_token_of_a_deleted_client_is_invalid_request,
    malformed_exchange_requests_are_invalid_request,
    scope_beyond_the_intersection_is_invalid_scope,
    chain_longer_than_the_limit_is_invalid_request,
    actor_token_of_another_client_is_invalid_request,
    may_act_naming_another_actor_is_invalid_request,
    deleted_api_leaves_no_exchange_policy_behind,
    // registration (RFC 7591 / 7592 extension metadata)
    registration_accepts_exchange_metadata_with_an_initial_access_token,
    registration_refuses_apis_outside_the_initial_access_token,
    refused_exchange_metadata_does_not_spend_a_once_token,
    open_registration_refuses_exchange_metadata,
    registration_refuses_unknown_apis,
    registration_update_may_narrow_but_not_widen,
);

/// RFC 8693 §2.1 grant type.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3 token types.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";

/// The API users call; the gateway service is behind it.
const GATEWAY: &str = "https://gateway.example";
/// Downstream of the gateway; the orders service is behind it.
const ORDERS: &str = "https://orders.example";
/// Downstream of orders; the payments service is behind it.
const PAYMENTS: &str = "https://payments.example";
/// Downstream of payments.
const LEDGER: &str = "https://ledger.example";
/// Every API defines the same scope names, so the intersections are meaningful.
const SCOPES: &str = "read write admin";

/// A confidential service client (client_secret_basic).
#[derive(Debug, Clone)]
struct Service {
    id: String,
    secret: String,
}

impl Service {
    fn creds(&self) -> (&str, &str) {
        (&self.id, &self.secret)
    }
}

/// The whole mesh: Alice, a web app that gets her tokens for the gateway, and the services
/// gateway → orders → payments → ledger.
struct Mesh {
    server: TestServer,
    alice: String,
    app: App,
    gateway: Service,
    orders: Service,
    payments: Service,
}

/// A token-exchange client: grant type token-exchange only, serving `serves`, allowed to
/// exchange toward `targets`, granted `scope` (all when None) on them.
async fn exchanger(
    server: &TestServer,
    serves: Option<&str>,
    targets: &[&str],
    scope: Option<&str>,
) -> Service {
    exchanger_with(server, serves, targets, scope, |_| {}).await
}

async fn exchanger_with(
    server: &TestServer,
    serves: Option<&str>,
    targets: &[&str],
    scope: Option<&str>,
    tweak: impl FnOnce(&mut NewClient),
) -> Service {
    let mut new = NewClient {
        name: String::from("service"),
        auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        grant_types: vec![TOKEN_EXCHANGE.to_owned()],
        scope: scope.map(|s| Scope::parse(s).unwrap()),
        audiences: targets.iter().map(|s| (*s).to_owned()).collect(),
        serves_api: serves.map(str::to_owned),
        exchange_targets: targets.iter().map(|s| (*s).to_owned()).collect(),
        ..NewClient::default()
    };
    tweak(&mut new);
    let info = server.client(new).await;
    Service {
        id: info.client_id,
        secret: info.client_secret.expect("a confidential client"),
    }
}

/// The mesh with `orders_format` for the orders API and `options` for the server.
async fn mesh_with(backend: Backend, options: Options, orders_format: TokenFormat) -> Mesh {
    let server = TestServer::start_with(backend, options).await;
    jwt_api(&server, GATEWAY, SCOPES, SigningAlg::ES256).await;
    server
        .api(ORDERS, SCOPES, orders_format, SigningAlg::RS256)
        .await;
    jwt_api(&server, PAYMENTS, SCOPES, SigningAlg::EdDSA).await;
    jwt_api(&server, LEDGER, SCOPES, SigningAlg::ES256).await;
    let alice = create_alice(&server).await;
    let app = confidential(&server, &[GATEWAY]).await;
    // The gateway may get `read admin` on orders: a user token with `read write` narrows to
    // `read`.
    let gateway = exchanger(&server, Some(GATEWAY), &[ORDERS], Some("read admin")).await;
    let orders = exchanger(&server, Some(ORDERS), &[PAYMENTS], None).await;
    let payments = exchanger(&server, Some(PAYMENTS), &[LEDGER], None).await;
    Mesh {
        server,
        alice,
        app,
        gateway,
        orders,
        payments,
    }
}

async fn mesh(backend: Backend) -> Mesh {
    mesh_with(backend, Options::default(), TokenFormat::Jwt).await
}

/// Alice's tokens for the gateway API, through the browser flow (login, consent, code).
async fn user_tokens(m: &Mesh) -> Tokens {
    let authz = Authz::new(&m.app.id)
        .with("scope", "openid offline_access read write")
        .with("resource", GATEWAY);
    tokens_for(&m.server, &m.app, &authz).await.0
}

/// A token exchange request by `who` for `subject` with extra parameters.
async fn exchange(
    server: &TestServer,
    who: &Service,
    subject: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ];
    form.extend_from_slice(extra);
    post(server, "/token", &form, Some(who.creds())).await
}

/// A successful exchange's access token.
#[track_caller]
fn issued(r: &Reply) -> String {
    r.ok();
    r.body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Inserts an opaque access token record directly (as if Warden had issued it), for claims
/// no grant produces (`may_act`); returns the token.
async fn insert_opaque(
    server: &TestServer,
    client_id: &str,
    sub: &str,
    aud: &str,
    scope: &str,
    extra: Option<Value>,
) -> String {
    let token = generate_token(ACCESS_TOKEN_PREFIX).expose().to_owned();
    let now = server.clock.now();
    server
        .engine
        .store()
        .insert_opaque_token(&OpaqueTokenRecord {
            token_hash: token_hash(&token),
            jti: random_id(),
            client_id: ClientId::new(client_id),
            sub: sub.to_owned(),
            aud: ApiIdentifier::new(aud),
            scope: Scope::parse(scope).unwrap(),
            iat: now,
            exp: now + 600,
            revoked: false,
            extra,
        })
        .await
        .expect("insert opaque token");
    token
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

// ---- happy paths -----------------------------------------------------------------------------

/// The gateway exchanges Alice's token for one for orders: Alice stays the subject, the
/// gateway is the client and the actor, the scope is what both allow.
async fn user_token_is_exchanged_on_behalf_of_the_user(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let (_, subject) = verify_jwt(s, &user.access, GATEWAY).await;
    assert_eq!(subject["sub"], m.alice.as_str());
    assert_eq!(subject["client_id"], m.app.id.as_str());
    assert!(subject.get("act").is_none(), "{subject}");

    let r = exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)]).await;
    let token = issued(&r);
    // RFC 8693 §2.2.1 response.
    assert_eq!(r.body["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(
        r.body["scope"], "read",
        "subject scope ∩ the gateway's grant"
    );
    assert!(int(&r.body["expires_in"]) > 0, "{}", r.text);
    assert!(int(&r.body["expires_in"]) <= 900, "{}", r.text);
    assert!(r.body.get("refresh_token").is_none(), "{}", r.text);
    assert!(r.body.get("id_token").is_none(), "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));

    let (header, at) = verify_jwt(s, &token, ORDERS).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(
        header.alg,
        jsonwebtoken::Algorithm::RS256,
        "the orders API's alg"
    );
    assert_eq!(at["iss"], s.issuer.as_str());
    assert_eq!(at["sub"], m.alice.as_str(), "the user stays the subject");
    assert_eq!(at["aud"], ORDERS);
    assert_eq!(at["client_id"], m.gateway.id.as_str());
    assert_eq!(at["act"], json!({"sub": m.gateway.id}));
    assert!(at.get("may_act").is_none(), "{at}");
    assert_eq!(at["scope"], "read");
    assert_ne!(at["jti"], subject["jti"]);
    assert!(int(&at["exp"]) <= int(&subject["exp"]), "{at} vs {subject}");

    // Without resource/audience, the client's only target is used; `audience` alone works
    // as well as `resource`.
    let (_, at) = verify_jwt(
        s,
        &issued(&exchange(s, &m.gateway, &user.access, &[]).await),
        ORDERS,
    )
    .await;
    assert_eq!(at["act"], json!({"sub": m.gateway.id}));
    let t = issued(&exchange(s, &m.gateway, &user.access, &[("audience", ORDERS)]).await);
    assert_eq!(verify_jwt(s, &t, ORDERS).await.1["sub"], m.alice.as_str());
    // requested_token_type access_token is accepted; an explicit narrower scope too.
    let r = exchange(
        s,
        &m.gateway,
        &user.access,
        &[
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("scope", "read"),
        ],
    )
    .await;
    assert_eq!(r.ok().body["scope"], "read");
}

/// A → B → C: orders exchanges the token the gateway obtained, toward payments; and one
/// more hop to the ledger. Each hop puts its actor on top of the previous ones.
async fn chain_of_exchanges_nests_act(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let for_orders = issued(&exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)]).await);

    let r = exchange(s, &m.orders, &for_orders, &[("resource", PAYMENTS)]).await;
    let for_payments = issued(&r);
    assert_eq!(r.body["scope"], "read");
    let (header, at) = verify_jwt(s, &for_payments, PAYMENTS).await;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(at["sub"], m.alice.as_str());
    assert_eq!(at["client_id"], m.orders.id.as_str());
    assert_eq!(
        at["act"],
        json!({"sub": m.orders.id, "act": {"sub": m.gateway.id}})
    );

    // Default limit (4): a third hop is allowed.
    let for_ledger =
        issued(&exchange(s, &m.payments, &for_payments, &[("resource", LEDGER)]).await);
    let (_, at) = verify_jwt(s, &for_ledger, LEDGER).await;
    assert_eq!(at["sub"], m.alice.as_str());
    assert_eq!(at["client_id"], m.payments.id.as_str());
    assert_eq!(
        at["act"],
        json!({"sub": m.payments.id, "act": {"sub": m.orders.id, "act": {"sub": m.gateway.id}}})
    );
}

/// A subject token about to expire: the exchanged token expires with it, even though the
/// target API's lifetime is longer.
async fn exchanged_token_never_outlives_its_subject(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let (_, subject) = verify_jwt(s, &user.access, GATEWAY).await;
    let subject_exp = int(&subject["exp"]);
    // 45 seconds left of the subject token's 900.
    s.clock.advance(subject_exp - s.clock.now() - 45);

    let r = exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)]).await;
    let token = issued(&r);
    assert_eq!(int(&r.body["expires_in"]), 45, "{}", r.text);
    let (_, at) = verify_jwt(s, &token, ORDERS).await;
    assert_eq!(int(&at["exp"]), subject_exp);
    assert_eq!(int(&at["iat"]), s.clock.now());

    // And down the chain: the second hop cannot extend it either.
    s.clock.advance(15);
    let r = exchange(s, &m.orders, &token, &[("resource", PAYMENTS)]).await;
    let next = issued(&r);
    assert_eq!(int(&r.body["expires_in"]), 30, "{}", r.text);
    assert_eq!(
        int(&verify_jwt(s, &next, PAYMENTS).await.1["exp"]),
        subject_exp
    );
}

/// A target API whose lifetime is shorter than what remains of the subject token: the
/// target's lifetime applies.
async fn shorter_target_lifetime_is_used(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let short = "https://short.example";
    api_with_lifetime(s, short, TokenFormat::Jwt, SigningAlg::ES256, 120).await;
    let svc = exchanger(s, Some(GATEWAY), &[short], None).await;
    let user = user_tokens(&m).await;
    let (_, subject) = verify_jwt(s, &user.access, GATEWAY).await;

    let now = s.clock.now();
    let r = exchange(s, &svc, &user.access, &[("resource", short)]).await;
    let token = issued(&r);
    assert_eq!(int(&r.body["expires_in"]), 120, "{}", r.text);
    let (_, at) = verify_jwt(s, &token, short).await;
    assert_eq!(int(&at["exp"]), now + 120);
    assert!(int(&at["exp"]) < int(&subject["exp"]));
    assert_eq!(r.body["scope"], "read write", "the whole intersection");

    // With less than 120 s left of the subject, the subject's expiry wins again.
    s.clock.advance(int(&subject["exp"]) - now - 100);
    let r = exchange(s, &svc, &user.access, &[("resource", short)]).await;
    issued(&r);
    assert_eq!(int(&r.body["expires_in"]), 100, "{}", r.text);
}

/// `resource` and `audience` may both be sent when they name the same API (RFC 8693 §2.1).
async fn resource_and_audience_naming_the_same_api_are_accepted(backend: Backend) {
    let m = mesh(backend).await;
    let user = user_tokens(&m).await;
    let r = exchange(
        &m.server,
        &m.gateway,
        &user.access,
        &[("resource", ORDERS), ("audience", ORDERS)],
    )
    .await;
    let (_, at) = verify_jwt(&m.server, &issued(&r), ORDERS).await;
    assert_eq!(at["aud"], ORDERS);
}

/// An actor token issued to the requesting client names the actor (its `sub`) and bounds the
/// expiry too.
async fn actor_token_names_the_actor(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;

    // A client-credentials token of the gateway for a short-lived API: its sub is the
    // gateway, and it expires in 60 s, before the subject token.
    let workload_api = "https://workload.example";
    api_with_lifetime(s, workload_api, TokenFormat::Jwt, SigningAlg::ES256, 60).await;
    let gateway = exchanger_with(s, Some(GATEWAY), &[ORDERS], Some("read"), |c| {
        c.grant_types
            .push(GrantType::ClientCredentials.as_str().to_owned());
        c.audiences.push(workload_api.to_owned());
    })
    .await;
    let actor = access_token(
        s,
        &gateway.id,
        &gateway.secret,
        &[("resource", workload_api)],
    )
    .await;
    assert_eq!(jwt_part(&actor, 1)["sub"], gateway.id.as_str());
    let r = exchange(
        s,
        &gateway,
        &user.access,
        &[
            ("resource", ORDERS),
            ("actor_token", &actor),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
        ],
    )
    .await;
    let token = issued(&r);
    assert_eq!(
        int(&r.body["expires_in"]),
        60,
        "capped by the actor token: {}",
        r.text
    );
    let (_, at) = verify_jwt(s, &token, ORDERS).await;
    assert_eq!(at["sub"], m.alice.as_str());
    assert_eq!(at["act"], json!({"sub": gateway.id}));

    // An actor token issued to the gateway for a workload it runs as (another sub): that
    // sub is the actor, the gateway stays the client.
    let workload = insert_opaque(
        s,
        &gateway.id,
        "spiffe://mesh.example/worker-7",
        workload_api,
        "read",
        None,
    )
    .await;
    let r = exchange(
        s,
        &gateway,
        &user.access,
        &[
            ("resource", ORDERS),
            ("actor_token", &workload),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
        ],
    )
    .await;
    let (_, at) = verify_jwt(s, &issued(&r), ORDERS).await;
    assert_eq!(at["act"], json!({"sub": "spiffe://mesh.example/worker-7"}));
    assert_eq!(at["client_id"], gateway.id.as_str());
    assert_eq!(at["sub"], m.alice.as_str());
}

/// A subject token whose `may_act` names the gateway (RFC 8693 §4.4) may be exchanged by it;
/// `may_act` is not carried over into the new token.
async fn may_act_allows_the_named_actor(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let subject = insert_opaque(
        s,
        &m.app.id,
        &m.alice,
        GATEWAY,
        "read write",
        Some(json!({"may_act": {"sub": m.gateway.id}})),
    )
    .await;
    // The record is an active token as far as introspection is concerned, may_act included.
    let r = introspect(s, m.app.creds(), &subject).await;
    assert_eq!(r.ok().body["active"], true, "{}", r.text);
    assert_eq!(r.body["may_act"], json!({"sub": m.gateway.id}));

    let r = exchange(s, &m.gateway, &subject, &[("resource", ORDERS)]).await;
    let (_, at) = verify_jwt(s, &issued(&r), ORDERS).await;
    assert_eq!(at["sub"], m.alice.as_str());
    assert_eq!(at["act"], json!({"sub": m.gateway.id}));
    assert!(at.get("may_act").is_none(), "{at}");

    // may_act with Warden's own issuer is fine too.
    let subject = insert_opaque(
        s,
        &m.app.id,
        &m.alice,
        GATEWAY,
        "read",
        Some(json!({"may_act": {"sub": m.gateway.id, "iss": s.issuer}})),
    )
    .await;
    exchange(s, &m.gateway, &subject, &[("resource", ORDERS)])
        .await
        .ok();
}

/// With an actor token, `may_act` must name the actor token's subject, not the client.
async fn may_act_applies_to_the_actor_token(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let worker = "spiffe://mesh.example/worker-7";
    let actor = insert_opaque(s, &m.gateway.id, worker, ORDERS, "read", None).await;
    let with_actor = [
        ("actor_token", actor.as_str()),
        ("actor_token_type", ACCESS_TOKEN_TYPE),
    ];
    let for_worker = insert_opaque(
        s,
        &m.app.id,
        &m.alice,
        GATEWAY,
        "read",
        Some(json!({"may_act": {"sub": worker}})),
    )
    .await;
    let r = exchange(s, &m.gateway, &for_worker, &with_actor).await;
    let (_, at) = verify_jwt(s, &issued(&r), ORDERS).await;
    assert_eq!(at["act"], json!({"sub": worker}));
    // Without the actor token the actor is the gateway, which may_act does not name.
    exchange(s, &m.gateway, &for_worker, &[])
        .await
        .assert_error(400, "invalid_request");
    // may_act names the gateway, but the actor is the worker.
    let for_gateway = insert_opaque(
        s,
        &m.app.id,
        &m.alice,
        GATEWAY,
        "read",
        Some(json!({"may_act": {"sub": m.gateway.id}})),
    )
    .await;
    exchange(s, &m.gateway, &for_gateway, &with_actor)
        .await
        .assert_error(400, "invalid_request");
}

/// An opaque target API: the exchanged token is opaque, and introspection tells its subject,
/// client and the actor chain.
async fn opaque_target_api_issues_an_introspectable_token(backend: Backend) {
    let m = mesh_with(backend, Options::default(), TokenFormat::Opaque).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let r = exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)]).await;
    let token = issued(&r);
    assert!(token.starts_with(ACCESS_TOKEN_PREFIX), "{token}");
    assert_eq!(r.body["issued_token_type"], ACCESS_TOKEN_TYPE);
    let r = introspect(s, m.orders.creds(), &token).await;
    r.ok();
    assert_eq!(r.body["active"], true, "{}", r.text);
    assert_eq!(r.body["sub"], m.alice.as_str());
    assert_eq!(r.body["client_id"], m.gateway.id.as_str());
    assert_eq!(r.body["aud"], ORDERS);
    assert_eq!(r.body["scope"], "read");
    assert_eq!(r.body["act"], json!({"sub": m.gateway.id}));
    assert!(r.body.get("may_act").is_none(), "{}", r.text);

    // The opaque exchanged token is itself a subject token for the next hop, and the
    // nesting survives the opaque record.
    let r = exchange(s, &m.orders, &token, &[("resource", PAYMENTS)]).await;
    let (_, at) = verify_jwt(s, &issued(&r), PAYMENTS).await;
    assert_eq!(
        at["act"],
        json!({"sub": m.orders.id, "act": {"sub": m.gateway.id}})
    );
    assert_eq!(at["sub"], m.alice.as_str());
}

/// RFC 7662 introspection of an exchanged JWT returns `act`, nested along the chain.
async fn introspection_of_an_exchanged_jwt_returns_act(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let first = issued(&exchange(s, &m.gateway, &user.access, &[]).await);
    let r = introspect(s, m.orders.creds(), &first).await;
    assert_eq!(r.ok().body["active"], true, "{}", r.text);
    assert_eq!(r.body["act"], json!({"sub": m.gateway.id}));
    assert_eq!(r.body["sub"], m.alice.as_str());
    assert_eq!(r.body["client_id"], m.gateway.id.as_str());

    let second = issued(&exchange(s, &m.orders, &first, &[]).await);
    let r = introspect(s, m.payments.creds(), &second).await;
    assert_eq!(r.ok().body["active"], true, "{}", r.text);
    assert_eq!(
        r.body["act"],
        json!({"sub": m.orders.id, "act": {"sub": m.gateway.id}})
    );
    // The user's own token has no act.
    let r = introspect(s, m.app.creds(), &user.access).await;
    assert_eq!(r.ok().body["active"], true);
    assert!(r.body.get("act").is_none(), "{}", r.text);
}

/// `warden client update` (the admin operation behind it) changes the policy; the running
/// server follows after a reload. Clearing the targets or the served API denies everything.
async fn admin_policy_change_takes_effect_after_reload(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)])
        .await
        .ok();
    exchange(s, &m.gateway, &user.access, &[("resource", PAYMENTS)])
        .await
        .assert_error(400, "invalid_target");

    let now = s.clock.now();
    let info = s
        .engine
        .update_exchange_policy(
            &m.gateway.id,
            ExchangePolicyChange {
                serves_api: None,
                exchange_targets: Some(vec![PAYMENTS.to_owned()]),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        info.metadata.token_exchange_targets,
        Some(vec![PAYMENTS.to_owned()])
    );
    assert_eq!(info.metadata.serves_api.as_deref(), Some(GATEWAY));
    s.engine.reload().await.unwrap();
    exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)])
        .await
        .assert_error(400, "invalid_target");
    // The gateway has no grant on payments: the intersection is empty, so is the scope.
    let r = exchange(s, &m.gateway, &user.access, &[("resource", PAYMENTS)]).await;
    let (_, at) = verify_jwt(s, &issued(&r), PAYMENTS).await;
    assert!(r.body.get("scope").is_none(), "{}", r.text);
    assert!(at["scope"].as_str().unwrap_or_default().is_empty(), "{at}");
    exchange(
        s,
        &m.gateway,
        &user.access,
        &[("resource", PAYMENTS), ("scope", "read")],
    )
    .await
    .assert_error(400, "invalid_scope");

    // Clearing the targets.
    let info = s
        .engine
        .update_exchange_policy(
            &m.gateway.id,
            ExchangePolicyChange {
                serves_api: None,
                exchange_targets: Some(vec![]),
            },
            s.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(info.metadata.token_exchange_targets, None);
    s.engine.reload().await.unwrap();
    exchange(s, &m.gateway, &user.access, &[("resource", PAYMENTS)])
        .await
        .assert_error(400, "unauthorized_client");

    // Targets back, served API cleared.
    s.engine
        .update_exchange_policy(
            &m.gateway.id,
            ExchangePolicyChange {
                serves_api: Some(None),
                exchange_targets: Some(vec![ORDERS.to_owned()]),
            },
            s.clock.now(),
        )
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)])
        .await
        .assert_error(400, "unauthorized_client");

    // An unknown API is refused by the admin operation and changes nothing.
    assert!(
        s.engine
            .update_exchange_policy(
                &m.gateway.id,
                ExchangePolicyChange {
                    serves_api: Some(Some(String::from("https://unknown.example"))),
                    exchange_targets: None,
                },
                s.clock.now(),
            )
            .await
            .is_err()
    );
}

/// A keyless service authenticated by its platform token (federated client authentication)
/// exchanges a user token: the mapped client is the actor.
async fn workload_authenticated_by_a_platform_token_exchanges(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let svc = s
        .client(NewClient {
            name: String::from("keyless gateway"),
            auth_method: TokenEndpointAuthMethod::PrivateKeyJwt,
            grant_types: vec![TOKEN_EXCHANGE.to_owned()],
            audiences: vec![ORDERS.to_owned()],
            serves_api: Some(GATEWAY.to_owned()),
            exchange_targets: vec![ORDERS.to_owned()],
            ..NewClient::default()
        })
        .await
        .client_id;
    let platform = ClientKey::generate(SigningAlg::ES256, "cluster-key");
    let issuer = "https://k8s.example/clusters/prod";
    let subject = "system:serviceaccount:edge:gateway";
    s.engine
        .create_trusted_issuer(
            NewTrustedIssuer {
                issuer: issuer.to_owned(),
                name: None,
                keys: IssuerKeys::Set(platform.jwks()),
                audience: None,
                max_lifetime: None,
                subjects: vec![(subject.to_owned(), svc.clone())],
            },
            s.clock.now(),
        )
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    let user = user_tokens(&m).await;
    let now = s.clock.now();
    let assertion = platform.sign(&json!({
        "iss": issuer, "sub": subject, "aud": s.issuer,
        "iat": now, "exp": now + 300, "jti": random_id(),
    }));
    let r = post(
        s,
        "/token",
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", &user.access),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
        ],
        None,
    )
    .await;
    let (_, at) = verify_jwt(s, &issued(&r), ORDERS).await;
    assert_eq!(at["sub"], m.alice.as_str());
    assert_eq!(at["client_id"], svc.as_str());
    assert_eq!(at["act"], json!({"sub": svc}));
    assert_eq!(at["scope"], "read write", "subject scope ∩ all of orders");
}

// ---- refusals --------------------------------------------------------------------------------

/// A client with the exchange policy but not the grant type.
async fn client_without_the_grant_is_unauthorized_client(backend: Backend) {
    let m = mesh(backend).await;
    let user = user_tokens(&m).await;
    let svc = exchanger_with(&m.server, Some(GATEWAY), &[ORDERS], None, |c| {
        c.grant_types = vec![GrantType::ClientCredentials.as_str().to_owned()];
    })
    .await;
    exchange(&m.server, &svc, &user.access, &[("resource", ORDERS)])
        .await
        .assert_error(400, "unauthorized_client");
}

/// The grant type alone is not enough: deny by default without serves_api or targets.
async fn client_without_serves_api_or_targets_is_unauthorized_client(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let no_serves = exchanger(s, None, &[ORDERS], None).await;
    exchange(s, &no_serves, &user.access, &[("resource", ORDERS)])
        .await
        .assert_error(400, "unauthorized_client");
    let no_targets = exchanger_with(s, Some(GATEWAY), &[], None, |c| {
        c.audiences = vec![ORDERS.to_owned()];
    })
    .await;
    exchange(s, &no_targets, &user.access, &[("resource", ORDERS)])
        .await
        .assert_error(400, "unauthorized_client");
    let nothing = exchanger(s, None, &[], None).await;
    exchange(s, &nothing, &user.access, &[])
        .await
        .assert_error(400, "unauthorized_client");
}

/// A public client cannot exchange tokens even if it somehow holds the grant type and the
/// policy: it would let anyone who learns a token turn it into tokens for other APIs.
async fn public_client_is_unauthorized_client(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let spa = oidc_client(s, TokenEndpointAuthMethod::None, &[ORDERS], |c| {
        c.serves_api = Some(GATEWAY.to_owned());
        c.exchange_targets = vec![ORDERS.to_owned()];
    })
    .await;
    set_grant_types(
        s,
        &spa.id,
        vec![GrantType::AuthorizationCode, GrantType::TokenExchange],
    )
    .await;
    let form = [
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", user.access.as_str()),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("resource", ORDERS),
        ("client_id", spa.id.as_str()),
    ];
    post(s, "/token", &form, None)
        .await
        .assert_error(400, "unauthorized_client");
}

/// The subject token must be for the API the client serves.
async fn subject_token_for_another_api_is_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    // The gateway presents a token for orders (its own exchanged token).
    let for_orders = issued(&exchange(s, &m.gateway, &user.access, &[]).await);
    exchange(s, &m.gateway, &for_orders, &[("resource", ORDERS)])
        .await
        .assert_error(400, "invalid_request");
    // Orders presents the user's gateway token.
    exchange(s, &m.orders, &user.access, &[("resource", PAYMENTS)])
        .await
        .assert_error(400, "invalid_request");
    // A client-credentials token for payments presented to orders.
    let (id, secret) = basic_client(s, &[PAYMENTS], None).await;
    let cc = access_token(s, &id, &secret, &[]).await;
    exchange(s, &m.orders, &cc, &[("resource", PAYMENTS)])
        .await
        .assert_error(400, "invalid_request");
}

/// Targets: only listed ones, only known ones, one at a time, and named when ambiguous.
async fn target_outside_the_policy_is_invalid_target(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let t = user.access.as_str();
    for extra in [
        // An existing API that is not an exchange target of the gateway.
        vec![("resource", PAYMENTS)],
        vec![("audience", LEDGER)],
        // The served API itself is not a target.
        vec![("resource", GATEWAY)],
        // Unknown APIs.
        vec![("resource", "https://unknown.example")],
        vec![("audience", "urn:unknown")],
        // resource and audience naming different APIs, even if one is allowed.
        vec![("resource", ORDERS), ("audience", PAYMENTS)],
        vec![("resource", ORDERS), ("resource", PAYMENTS)],
    ] {
        let r = exchange(s, &m.gateway, t, &extra).await;
        r.assert_error(400, "invalid_target");
    }
    // Two targets and none named.
    let two = exchanger(s, Some(GATEWAY), &[ORDERS, PAYMENTS], None).await;
    exchange(s, &two, t, &[])
        .await
        .assert_error(400, "invalid_target");
    exchange(s, &two, t, &[("resource", PAYMENTS)]).await.ok();
}

async fn expired_subject_token_is_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let exp = int(&jwt_part(&user.access, 1)["exp"]);
    s.clock.advance(exp - s.clock.now() - 1);
    exchange(s, &m.gateway, &user.access, &[]).await.ok();
    s.clock.advance(1);
    exchange(s, &m.gateway, &user.access, &[])
        .await
        .assert_error(400, "invalid_request");
    s.clock.advance(3600);
    exchange(s, &m.gateway, &user.access, &[])
        .await
        .assert_error(400, "invalid_request");
}

/// Revoked by its client at /revoke (RFC 7009), a JWT subject token is refused.
async fn revoked_jwt_subject_token_is_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    exchange(s, &m.gateway, &user.access, &[]).await.ok();
    m.app
        .post(s, "/revoke", &[("token", &user.access)])
        .await
        .ok();
    exchange(s, &m.gateway, &user.access, &[])
        .await
        .assert_error(400, "invalid_request");
}

/// The same for an opaque subject token (the gateway API issues opaque tokens here).
async fn revoked_opaque_subject_token_is_invalid_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let s = &server;
    opaque_api(s, GATEWAY, SCOPES).await;
    jwt_api(s, ORDERS, SCOPES, SigningAlg::ES256).await;
    create_alice(s).await;
    let app = confidential(s, &[GATEWAY]).await;
    let gateway = exchanger(s, Some(GATEWAY), &[ORDERS], None).await;
    let authz = Authz::new(&app.id)
        .with("scope", "openid read")
        .with("resource", GATEWAY);
    let user = tokens_for(s, &app, &authz).await.0;
    assert!(user.access.starts_with(ACCESS_TOKEN_PREFIX), "opaque");
    let (_, at) = verify_jwt(
        s,
        &issued(&exchange(s, &gateway, &user.access, &[]).await),
        ORDERS,
    )
    .await;
    assert_eq!(at["scope"], "read");
    app.post(s, "/revoke", &[("token", &user.access)])
        .await
        .ok();
    exchange(s, &gateway, &user.access, &[])
        .await
        .assert_error(400, "invalid_request");
}

/// Tokens Warden did not issue, or that are not access tokens: a forged JWT with the same
/// claims and header signed by an unknown key, unknown opaque tokens, garbage, the user's
/// refresh and ID tokens.
async fn foreign_or_garbage_subject_token_is_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let claims = jwt_part(&user.access, 1);
    let kid = jwt_part(&user.access, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let forger = ClientKey::generate(SigningAlg::ES256, &kid);
    let forged_same_kid = forger.sign_typed("at+jwt", &kid, &claims);
    let forged_own_kid = forger.sign_typed("at+jwt", "forger", &claims);
    // The real token with its signature stripped or altered.
    let parts: Vec<&str> = user.access.split('.').collect();
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    let mut tampered_claims = claims.clone();
    tampered_claims["scope"] = json!("read write admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        crate::support::b64(tampered_claims.to_string().as_bytes()),
        parts[2]
    );
    let unknown_opaque = generate_token(ACCESS_TOKEN_PREFIX).expose().to_owned();
    let refresh = user.refresh().to_owned();
    let id_token = user.id.clone().expect("id_token");
    for bad in [
        forged_same_kid.as_str(),
        forged_own_kid.as_str(),
        unsigned.as_str(),
        tampered.as_str(),
        unknown_opaque.as_str(),
        "wdn_at_not-well-formed",
        "garbage",
        "a.b.c",
        refresh.as_str(),
        id_token.as_str(),
    ] {
        let r = exchange(s, &m.gateway, bad, &[]).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_request"),
            "subject {bad:?}: {}",
            r.text
        );
    }
    // Oversized.
    let huge = "x".repeat(20_000);
    exchange(s, &m.gateway, &huge, &[])
        .await
        .assert_error(400, "invalid_request");
    // The real one still works.
    exchange(s, &m.gateway, &user.access, &[]).await.ok();
}

/// A token whose client was deleted is no longer active, so it cannot be exchanged.
async fn subject_token_of_a_deleted_client_is_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    exchange(s, &m.gateway, &user.access, &[]).await.ok();
    s.engine
        .delete_client(&m.app.id, s.clock.now())
        .await
        .unwrap();
    s.engine.reload().await.unwrap();
    exchange(s, &m.gateway, &user.access, &[])
        .await
        .assert_error(400, "invalid_request");
}

/// RFC 8693 §2.1 parameter rules.
async fn malformed_exchange_requests_are_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let t = user.access.as_str();
    let st = ("subject_token", t);
    let stt = ("subject_token_type", ACCESS_TOKEN_TYPE);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no subject_token", vec![stt]),
        ("empty subject_token", vec![("subject_token", ""), stt]),
        ("no subject_token_type", vec![st]),
        (
            "id_token type",
            vec![st, ("subject_token_type", ID_TOKEN_TYPE)],
        ),
        (
            "refresh_token type",
            vec![st, ("subject_token_type", REFRESH_TOKEN_TYPE)],
        ),
        (
            "jwt type",
            vec![
                st,
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ],
        ),
        (
            "actor_token without actor_token_type",
            vec![st, stt, ("actor_token", t)],
        ),
        (
            "actor_token_type without actor_token",
            vec![st, stt, ("actor_token_type", ACCESS_TOKEN_TYPE)],
        ),
        (
            "actor_token_type id_token",
            vec![
                st,
                stt,
                ("actor_token", t),
                ("actor_token_type", ID_TOKEN_TYPE),
            ],
        ),
        (
            "requested refresh_token",
            vec![st, stt, ("requested_token_type", REFRESH_TOKEN_TYPE)],
        ),
        (
            "requested id_token",
            vec![st, stt, ("requested_token_type", ID_TOKEN_TYPE)],
        ),
    ];
    for (what, params) in cases {
        let mut form = vec![("grant_type", TOKEN_EXCHANGE)];
        form.extend(params);
        let r = post(s, "/token", &form, Some(m.gateway.creds())).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_request"),
            "{what}: {}",
            r.text
        );
        r.assert_error(400, "invalid_request");
    }
}

/// A requested scope must be in both the subject token's scope and the client's grant on the
/// target API.
async fn scope_beyond_the_intersection_is_invalid_scope(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    // Subject: openid offline_access read write; gateway's grant on orders: read admin.
    for scope in [
        "write",
        "admin",
        "read write",
        "read admin",
        "openid",
        "delete",
    ] {
        let r = exchange(s, &m.gateway, &user.access, &[("scope", scope)]).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_scope"),
            "scope {scope:?}: {}",
            r.text
        );
    }
    exchange(s, &m.gateway, &user.access, &[("scope", "read")])
        .await
        .ok();
}

/// With `max_exchange_chain_depth` = 2, the third hop would make a chain of three actors.
async fn chain_longer_than_the_limit_is_invalid_request(backend: Backend) {
    let m = mesh_with(
        backend,
        Options {
            max_exchange_chain_depth: 2,
            ..Options::default()
        },
        TokenFormat::Jwt,
    )
    .await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let one = issued(&exchange(s, &m.gateway, &user.access, &[]).await);
    let two = issued(&exchange(s, &m.orders, &one, &[]).await);
    assert_eq!(
        verify_jwt(s, &two, PAYMENTS).await.1["act"],
        json!({"sub": m.orders.id, "act": {"sub": m.gateway.id}})
    );
    exchange(s, &m.payments, &two, &[])
        .await
        .assert_error(400, "invalid_request");
}

/// An actor token must have been issued to the requesting client, and be active.
async fn actor_token_of_another_client_is_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    let (id, secret) = basic_client(s, &[GATEWAY], None).await;
    let foreign_actor = access_token(s, &id, &secret, &[]).await;
    let actor_of_orders = issued(&exchange(s, &m.gateway, &user.access, &[]).await);
    for actor in [
        foreign_actor.as_str(),
        // The user's token: issued to the app, not the gateway.
        user.access.as_str(),
        "garbage",
    ] {
        let r = exchange(
            s,
            &m.gateway,
            &user.access,
            &[
                ("actor_token", actor),
                ("actor_token_type", ACCESS_TOKEN_TYPE),
            ],
        )
        .await;
        r.assert_error(400, "invalid_request");
    }
    // Issued to the gateway (client_id), and the gateway presents it: accepted. Expired:
    // refused.
    exchange(
        s,
        &m.gateway,
        &user.access,
        &[
            ("actor_token", &actor_of_orders),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
        ],
    )
    .await
    .ok();
    s.clock.advance(901);
    let fresh_user = user_tokens(&m).await;
    exchange(
        s,
        &m.gateway,
        &fresh_user.access,
        &[
            ("actor_token", &actor_of_orders),
            ("actor_token_type", ACCESS_TOKEN_TYPE),
        ],
    )
    .await
    .assert_error(400, "invalid_request");
}

/// `may_act` naming another party, or another issuer, or malformed: refused.
async fn may_act_naming_another_actor_is_invalid_request(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    for may_act in [
        json!({"sub": m.orders.id}),
        json!({"sub": m.gateway.id, "iss": "https://other-issuer.example"}),
        json!({"client_id": m.gateway.id}),
        json!(m.gateway.id),
    ] {
        let subject = insert_opaque(
            s,
            &m.app.id,
            &m.alice,
            GATEWAY,
            "read",
            Some(json!({ "may_act": may_act })),
        )
        .await;
        let r = exchange(s, &m.gateway, &subject, &[]).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_request"),
            "may_act {may_act}: {}",
            r.text
        );
    }
    // Without may_act the same record is exchangeable (the refusal above is may_act's).
    let subject = insert_opaque(s, &m.app.id, &m.alice, GATEWAY, "read", None).await;
    exchange(s, &m.gateway, &subject, &[]).await.ok();
}

/// Deleting an API removes the explicit grants that name it (admin.rs `delete_api`), so an
/// API later created under the same identifier starts with no access. The exchange policy
/// naming it must not survive either: neither as the served API nor as a target.
async fn deleted_api_leaves_no_exchange_policy_behind(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let user = user_tokens(&m).await;
    exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)])
        .await
        .ok();
    s.engine.delete_api(ORDERS, s.clock.now()).await.unwrap();
    s.engine.reload().await.unwrap();
    // ORDERS was the gateway's only target: it has none left at all.
    exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)])
        .await
        .assert_error(400, "unauthorized_client");
    // Re-created (by someone else, for another service): the gateway was never allowed it.
    jwt_api(s, ORDERS, SCOPES, SigningAlg::ES256).await;
    let r = exchange(s, &m.gateway, &user.access, &[("resource", ORDERS)]).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unauthorized_client"),
        "the gateway exchanged toward a re-created API it was never allowed: {}",
        r.text
    );
    // And orders' own policy (it served the deleted API) is gone with it.
    let info = s
        .engine
        .store()
        .client(&m.orders.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        info.serves_api, None,
        "serves_api still names the deleted API"
    );
}

// ---- registration ----------------------------------------------------------------------------

/// POST /register with an optional initial access token.
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

/// RFC 7592 request to the client configuration endpoint.
async fn manage(
    server: &TestServer,
    method: reqwest::Method,
    client_id: &str,
    rat: &str,
    body: Option<&Value>,
) -> Reply {
    let mut req = server
        .http
        .request(method, server.url(&format!("/register/{client_id}")))
        .bearer_auth(rat);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    reply(req.send().await.unwrap()).await
}

async fn initial_token(server: &TestServer, once: bool, apis: Option<&[&str]>) -> String {
    server
        .engine
        .create_initial_access_token(
            3600,
            once,
            apis.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
            server.clock.now(),
        )
        .await
        .unwrap()
}

/// Metadata of a service registering to exchange gateway tokens toward `targets`.
fn service_metadata(serves: Option<&str>, targets: Option<&[&str]>) -> Value {
    let mut body = json!({
        "client_name": "registered service",
        "grant_types": [TOKEN_EXCHANGE],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "read",
    });
    if let Some(s) = serves {
        body["serves_api"] = json!(s);
    }
    if let Some(t) = targets {
        body["token_exchange_targets"] = json!(t);
    }
    body
}

fn registered(r: &Reply) -> Service {
    assert_eq!(r.status, 201, "{}", r.text);
    Service {
        id: r.body["client_id"].as_str().unwrap().to_owned(),
        secret: r.body["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// Registered with an initial access token, the metadata is stored, returned and in force.
async fn registration_accepts_exchange_metadata_with_an_initial_access_token(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let iat = initial_token(s, false, None).await;
    let r = register(
        s,
        &service_metadata(Some(GATEWAY), Some(&[ORDERS])),
        Some(&iat),
    )
    .await;
    let svc = registered(&r);
    assert_eq!(r.body["serves_api"], GATEWAY);
    assert_eq!(r.body["token_exchange_targets"], json!([ORDERS]));
    assert_eq!(r.body["grant_types"], json!([TOKEN_EXCHANGE]));
    let rat = r.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = manage(s, reqwest::Method::GET, &svc.id, &rat, None).await;
    read.ok();
    assert_eq!(read.body["serves_api"], GATEWAY);
    assert_eq!(read.body["token_exchange_targets"], json!([ORDERS]));

    let user = user_tokens(&m).await;
    let r = exchange(s, &svc, &user.access, &[]).await;
    let (_, at) = verify_jwt(s, &issued(&r), ORDERS).await;
    assert_eq!(at["act"], json!({"sub": svc.id}));
    assert_eq!(at["sub"], m.alice.as_str());
    assert_eq!(at["scope"], "read", "the registered scope bounds it");

    // An initial access token limited to exactly the named APIs is enough.
    let iat = initial_token(s, false, Some(&[GATEWAY, ORDERS])).await;
    let r = register(
        s,
        &service_metadata(Some(GATEWAY), Some(&[ORDERS])),
        Some(&iat),
    )
    .await;
    let svc = registered(&r);
    exchange(s, &svc, &user.access, &[]).await.ok();
}

/// An initial access token limited to other APIs cannot register a policy naming these.
async fn registration_refuses_apis_outside_the_initial_access_token(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    for (allowed, serves, targets) in [
        // Target outside.
        (&[GATEWAY, PAYMENTS][..], Some(GATEWAY), Some(&[ORDERS][..])),
        // Served API outside.
        (&[ORDERS][..], Some(GATEWAY), Some(&[ORDERS][..])),
        (&[PAYMENTS][..], Some(GATEWAY), None),
        (&[PAYMENTS][..], None, Some(&[ORDERS][..])),
    ] {
        let iat = initial_token(s, false, Some(allowed)).await;
        let r = register(s, &service_metadata(serves, targets), Some(&iat)).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_client_metadata"),
            "allowed {allowed:?}, serves {serves:?}, targets {targets:?}: {}",
            r.text
        );
    }
}

/// Like other bad metadata (registration.rs `bad_metadata_does_not_spend_a_once_token`), a
/// policy refused for the token's API limits must not use up a single-use initial access
/// token.
async fn refused_exchange_metadata_does_not_spend_a_once_token(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let iat = initial_token(s, true, Some(&[GATEWAY, ORDERS])).await;
    let r = register(
        s,
        &service_metadata(Some(GATEWAY), Some(&[PAYMENTS])),
        Some(&iat),
    )
    .await;
    r.assert_error(400, "invalid_client_metadata");
    let r = register(
        s,
        &service_metadata(Some(GATEWAY), Some(&[ORDERS])),
        Some(&iat),
    )
    .await;
    assert_eq!(
        r.status, 201,
        "a refused registration spent the single-use initial access token: {}",
        r.text
    );
}

/// Open registration (no initial access token required) never grants an exchange policy.
async fn open_registration_refuses_exchange_metadata(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        Options {
            registration_requires_token: false,
            ..Options::default()
        },
    )
    .await;
    let s = &server;
    jwt_api(s, GATEWAY, SCOPES, SigningAlg::ES256).await;
    jwt_api(s, ORDERS, SCOPES, SigningAlg::ES256).await;
    for (serves, targets) in [
        (Some(GATEWAY), Some(&[ORDERS][..])),
        (Some(GATEWAY), None),
        (None, Some(&[ORDERS][..])),
    ] {
        let r = register(s, &service_metadata(serves, targets), None).await;
        r.assert_error(400, "invalid_client_metadata");
        // Sending an initial access token anyway changes nothing: open registration does
        // not look at it.
        let iat = initial_token(s, false, None).await;
        let r = register(s, &service_metadata(serves, targets), Some(&iat)).await;
        r.assert_error(400, "invalid_client_metadata");
    }
    // Without the policy, open registration works (the refusal above is the policy's).
    let r = register(s, &service_metadata(None, None), None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body.get("serves_api").is_none(), "{}", r.text);
}

async fn registration_refuses_unknown_apis(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let iat = initial_token(s, false, None).await;
    for (serves, targets) in [
        (Some("https://unknown.example"), Some(&[ORDERS][..])),
        (Some(GATEWAY), Some(&["https://unknown.example"][..])),
        (
            Some(GATEWAY),
            Some(&[ORDERS, "https://unknown.example"][..]),
        ),
        (Some("not a uri"), None),
    ] {
        let r = register(s, &service_metadata(serves, targets), Some(&iat)).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_client_metadata"),
            "serves {serves:?}, targets {targets:?}: {}",
            r.text
        );
    }
}

/// RFC 7592 update: the policy may be kept or narrowed, never widened or moved.
async fn registration_update_may_narrow_but_not_widen(backend: Backend) {
    let m = mesh(backend).await;
    let s = &m.server;
    let iat = initial_token(s, false, None).await;
    let r = register(
        s,
        &service_metadata(Some(GATEWAY), Some(&[ORDERS, PAYMENTS])),
        Some(&iat),
    )
    .await;
    let svc = registered(&r);
    let rat = r.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = |serves: Option<&str>, targets: Option<&[&str]>| {
        let mut body = service_metadata(serves, targets);
        body["client_id"] = json!(svc.id);
        body
    };
    let user = user_tokens(&m).await;
    exchange(s, &svc, &user.access, &[("resource", PAYMENTS)])
        .await
        .ok();

    // Kept.
    let r = manage(
        s,
        reqwest::Method::PUT,
        &svc.id,
        &rat,
        Some(&update(Some(GATEWAY), Some(&[ORDERS, PAYMENTS]))),
    )
    .await;
    r.ok();
    // Narrowed.
    let r = manage(
        s,
        reqwest::Method::PUT,
        &svc.id,
        &rat,
        Some(&update(Some(GATEWAY), Some(&[ORDERS]))),
    )
    .await;
    r.ok();
    assert_eq!(r.body["token_exchange_targets"], json!([ORDERS]));
    assert_eq!(r.body["serves_api"], GATEWAY);
    exchange(s, &svc, &user.access, &[("resource", PAYMENTS)])
        .await
        .assert_error(400, "invalid_target");
    exchange(s, &svc, &user.access, &[("resource", ORDERS)])
        .await
        .ok();

    // Widened back, or a new target, or a different served API: refused, nothing changes.
    for (serves, targets) in [
        (Some(GATEWAY), Some(&[ORDERS, PAYMENTS][..])),
        (Some(GATEWAY), Some(&[LEDGER][..])),
        (Some(ORDERS), Some(&[ORDERS][..])),
    ] {
        let r = manage(
            s,
            reqwest::Method::PUT,
            &svc.id,
            &rat,
            Some(&update(serves, targets)),
        )
        .await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_client_metadata"),
            "serves {serves:?}, targets {targets:?}: {}",
            r.text
        );
    }
    let read = manage(s, reqwest::Method::GET, &svc.id, &rat, None).await;
    assert_eq!(read.ok().body["token_exchange_targets"], json!([ORDERS]));
    assert_eq!(read.body["serves_api"], GATEWAY);
    exchange(s, &svc, &user.access, &[("resource", PAYMENTS)])
        .await
        .assert_error(400, "invalid_target");

    // Narrowed to nothing (fields omitted): the client may no longer exchange.
    let r = manage(
        s,
        reqwest::Method::PUT,
        &svc.id,
        &rat,
        Some(&update(None, None)),
    )
    .await;
    r.ok();
    assert!(r.body.get("serves_api").is_none(), "{}", r.text);
    assert!(r.body.get("token_exchange_targets").is_none(), "{}", r.text);
    exchange(s, &svc, &user.access, &[("resource", ORDERS)])
        .await
        .assert_error(400, "unauthorized_client");
    // And cannot get it back by itself.
    let r = manage(
        s,
        reqwest::Method::PUT,
        &svc.id,
        &rat,
        Some(&update(Some(GATEWAY), Some(&[ORDERS]))),
    )
    .await;
    r.assert_error(400, "invalid_client_metadata");
}
