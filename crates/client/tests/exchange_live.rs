//! `warden_client::Client::exchange` against a real Warden (RFC 8693 server side): a service
//! exchanges the token it received for one toward a downstream API and the result carries
//! `act`. The issued JWTs are verified with `jsonwebtoken` against the server's `/jwks`.

// Test code: a failed expectation is a test failure, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warden_client::{ACCESS_TOKEN_TYPE, Client, Credentials, Error};
use warden_core::admin::NewClient;
use warden_testkit::{Backend, TestServer};
use warden_types::{Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

/// The API callers reach; the gateway service is behind it.
const GATEWAY: &str = "https://gateway.example";
/// Downstream of the gateway.
const ORDERS: &str = "https://orders.example";

warden_testkit::on_both_backends!(client_exchanges_a_token_and_gets_act, super::exchange_live);
warden_testkit::on_both_backends!(client_exchange_refusals_are_typed, super::exchange_refusals);

/// A server with the two APIs, a frontend client for the gateway API, and the gateway client
/// (token exchange from the gateway API toward orders, `read` there, and client credentials
/// for its own actor tokens). Returns the server and both clients' `(id, secret)`.
async fn setup(backend: Backend) -> (TestServer, (String, String), (String, String)) {
    let server = TestServer::start(backend).await;
    server
        .api(GATEWAY, "read write", TokenFormat::Jwt, SigningAlg::ES256)
        .await;
    server
        .api(ORDERS, "read write", TokenFormat::Jwt, SigningAlg::RS256)
        .await;
    let frontend = server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[GATEWAY], None)
        .await;
    let gateway = server
        .client(NewClient {
            name: String::from("gateway"),
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            grant_types: vec![
                String::from("urn:ietf:params:oauth:grant-type:token-exchange"),
                String::from("client_credentials"),
            ],
            scope: Some(Scope::parse("read").unwrap()),
            audiences: vec![ORDERS.to_owned()],
            serves_api: Some(GATEWAY.to_owned()),
            exchange_targets: vec![ORDERS.to_owned()],
            ..NewClient::default()
        })
        .await;
    let gateway = (gateway.client_id, gateway.client_secret.unwrap());
    (server, frontend, gateway)
}

async fn client(server: &TestServer, (id, secret): &(String, String)) -> Client {
    Client::builder(&server.issuer, Credentials::client_secret_basic(id, secret))
        .build()
        .await
        .unwrap()
}

/// Verifies `token` with `jsonwebtoken` against the key `/jwks` publishes under its `kid`,
/// requiring the server's issuer and `audience`; returns the claims.
async fn verify(server: &TestServer, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet = server
        .http
        .get(server.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid at /jwks");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[&server.issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("jsonwebtoken rejects the token: {e}"))
        .claims
}

async fn exchange_live(backend: Backend) {
    let (server, frontend, gateway) = setup(backend).await;
    // The frontend calls the gateway API with a token from the client library.
    let subject = client(&server, &frontend)
        .await
        .token(GATEWAY, &["read"])
        .await
        .unwrap();
    let gw = client(&server, &gateway).await;

    let exchanged = gw
        .exchange(subject.token(), ORDERS, &["read"], None)
        .await
        .unwrap();
    assert_eq!(exchanged.issued_token_type(), Some(ACCESS_TOKEN_TYPE));
    assert_eq!(exchanged.scope(), Some("read"));
    assert!(exchanged.token_type().eq_ignore_ascii_case("bearer"));
    assert!(exchanged.expires_at().is_some());
    let claims = verify(&server, exchanged.token(), ORDERS).await;
    assert_eq!(
        claims["sub"],
        frontend.0.as_str(),
        "the caller stays the subject"
    );
    assert_eq!(claims["client_id"], gateway.0.as_str());
    assert_eq!(claims["act"], json!({"sub": gateway.0}));
    assert_eq!(claims["scope"], "read");

    // Without scopes: the whole intersection (here `read`).
    let exchanged = gw
        .exchange(subject.token(), ORDERS, &[], None)
        .await
        .unwrap();
    assert_eq!(exchanged.scope(), Some("read"));

    // With an actor token: the gateway's own client-credentials token (not cached by
    // exchange, obtained through the same client).
    let actor = gw.token(ORDERS, &["read"]).await.unwrap();
    let exchanged = gw
        .exchange(subject.token(), ORDERS, &["read"], Some(actor.token()))
        .await
        .unwrap();
    let claims = verify(&server, exchanged.token(), ORDERS).await;
    assert_eq!(claims["act"], json!({"sub": gateway.0}));
    assert_eq!(claims["sub"], frontend.0.as_str());

    // The chain continues: the exchanged token cannot be exchanged again by the gateway
    // (it is for orders, not the API the gateway serves).
    let err = gw
        .exchange(exchanged.token(), ORDERS, &[], None)
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_error().map(|c| c.as_str()),
        Some("invalid_request"),
        "{err:?}"
    );
}

async fn exchange_refusals(backend: Backend) {
    let (server, frontend, gateway) = setup(backend).await;
    let fe = client(&server, &frontend).await;
    let subject = fe.token(GATEWAY, &["read"]).await.unwrap();
    let gw = client(&server, &gateway).await;

    // Not an exchange target.
    match gw.exchange(subject.token(), GATEWAY, &[], None).await {
        Err(Error::OAuth { error, status, .. }) => {
            assert_eq!(error.as_str(), "invalid_target");
            assert_eq!(status, 400);
        }
        other => panic!("{other:?}"),
    }
    // A scope beyond the gateway's grant on orders.
    match gw.exchange(subject.token(), ORDERS, &["write"], None).await {
        Err(Error::OAuth { error, .. }) => assert_eq!(error.as_str(), "invalid_scope"),
        other => panic!("{other:?}"),
    }
    // The frontend may not exchange at all.
    match fe.exchange(subject.token(), ORDERS, &[], None).await {
        Err(Error::OAuth { error, .. }) => assert_eq!(error.as_str(), "unauthorized_client"),
        other => panic!("{other:?}"),
    }
    // An actor token issued to another client.
    match gw
        .exchange(subject.token(), ORDERS, &[], Some(subject.token()))
        .await
    {
        Err(Error::OAuth { error, .. }) => assert_eq!(error.as_str(), "invalid_request"),
        other => panic!("{other:?}"),
    }
}
