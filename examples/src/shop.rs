//! Three services of a shop calling each other through Warden (docs/guide-service-to-service.md):
//!
//! ```text
//!  alice ──▶ gateway ──(token exchange)──▶ orders ──(token exchange)──▶ payments
//!                                          orders' settlement job ──(client credentials)──▶ payments
//! ```
//!
//! - [`payments`]: `POST /charges` needs a token for the payments API with `payments:charge`.
//!   It answers with the claims it saw, so the caller can follow `sub`, `client_id` and `act`.
//! - [`orders`]: `POST /orders` needs `orders:create` on the orders API. It swaps the caller's
//!   token for a payments token (RFC 8693) and charges on behalf of the same user.
//!   [`settle_batch`] is its job that charges as itself (client credentials): no user involved.
//! - [`gateway`]: `POST /checkout` needs the user's token for the gateway API with
//!   `orders:create`; it swaps it for an orders token and places the order.
//!
//! Every service validates tokens locally with `warden-resource` (Warden's JWKS, the API's own
//! identifier as the only accepted audience) and gets tokens with `warden-client`. The
//! identifiers are names, not addresses: `https://payments.shop.example` is the `aud` of
//! payments tokens wherever the service actually listens.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use warden_client::Client;
use warden_resource::{
    AccessToken, Authenticated, BearerToken, JwsAlgorithm, RequireScopeLayer, Validator,
};

/// The API of the gateway: what the user's browser app gets a token for.
pub const GATEWAY_API: &str = "https://gateway.shop.example";
/// The API of the orders service.
pub const ORDERS_API: &str = "https://orders.shop.example";
/// The API of the payments service.
pub const PAYMENTS_API: &str = "https://payments.shop.example";

/// The algorithm the three APIs were created with (`warden api create --signing-alg ES256`).
/// A validator accepts only its API's algorithm.
const SIGNING_ALG: JwsAlgorithm = JwsAlgorithm::ES256;

/// A validator for tokens of `issuer` whose `aud` is `api`: discovery, JWKS, background refresh.
pub async fn validator(issuer: &str, api: &str) -> crate::Result<Validator> {
    Validator::builder(issuer, api)
        .algorithms([SIGNING_ALG])
        .build()
        .await
        .map_err(|e| format!("{api}: cannot set up token validation against {issuer}: {e}").into())
}

// ---- payments --------------------------------------------------------------------------------

/// The payments service: `POST /charges` with `payments:charge`.
pub async fn payments(issuer: &str) -> crate::Result<Router> {
    let validator = validator(issuer, PAYMENTS_API).await?;
    Ok(Router::new()
        .route("/charges", post(charge))
        // 401 invalid_token for a token that is not a valid payments token (wrong `aud`,
        // expired, bad signature...), 403 insufficient_scope without payments:charge.
        .route_layer(RequireScopeLayer::new(
            validator.clone(),
            ["payments:charge"],
        ))
        .with_state(validator))
}

async fn charge(Authenticated(token): Authenticated) -> Json<Value> {
    // A real service would authorize on both identities here: `sub` is whose money moves,
    // `client_id` is the service asking (only orders should), and `act` is the chain of
    // services in between, for the audit trail.
    Json(json!({ "service": "payments", "charged": true, "token": seen(&token) }))
}

/// What a service saw: the validated claims (`sub`, `client_id`, `scope`, `act`, `aud`...).
fn seen(token: &AccessToken) -> Value {
    Value::Object(token.claims().clone())
}

// ---- orders and gateway: services that call another service -----------------------------------

/// The state of a service that calls the next one: its validator, its Warden client (its own
/// credentials), and where the next service listens.
#[derive(Clone)]
struct Caller {
    validator: Validator,
    warden: Client,
    http: reqwest::Client,
    next_url: String,
}

/// The `Authenticated` extractor finds the validator in the state through this.
impl FromRef<Caller> for Validator {
    fn from_ref(caller: &Caller) -> Self {
        caller.validator.clone()
    }
}

/// The orders service: `POST /orders` with `orders:create`, on behalf of the caller.
///
/// `warden` holds the orders client's credentials; `payments_url` is where payments listens.
pub async fn orders(issuer: &str, warden: Client, payments_url: &str) -> crate::Result<Router> {
    let validator = validator(issuer, ORDERS_API).await?;
    Ok(Router::new()
        .route("/orders", post(create_order))
        .route_layer(RequireScopeLayer::new(validator.clone(), ["orders:create"]))
        .with_state(Caller {
            validator,
            warden,
            http: reqwest::Client::new(),
            next_url: payments_url.trim_end_matches('/').to_owned(),
        }))
}

async fn create_order(
    State(orders): State<Caller>,
    Authenticated(token): Authenticated,
    subject: BearerToken,
) -> Result<Json<Value>, Failure> {
    // The token we received is for *our* API: it must not be forwarded to payments (payments
    // would refuse it anyway: wrong `aud`). Swap it for a payments token about the same user;
    // Warden records us in `act`.
    let payments_token = orders
        .warden
        .exchange(subject.expose(), PAYMENTS_API, &["payments:charge"], None)
        .await
        .map_err(|e| Failure::exchange("orders", PAYMENTS_API, &e))?;
    let url = format!("{}/charges", orders.next_url);
    let request = orders.http.post(url).bearer_auth(payments_token.token());
    let payments = call("payments", request).await?;
    Ok(Json(
        json!({ "service": "orders", "token": seen(&token), "payments": payments }),
    ))
}

/// The orders service's settlement job: it charges as itself, for no user, so it uses client
/// credentials. `warden.send` gets (and caches) a token for the payments API and retries once
/// if payments answers `invalid_token`.
pub async fn settle_batch(warden: &Client, payments_url: &str) -> crate::Result<Value> {
    let url = format!("{}/charges", payments_url.trim_end_matches('/'));
    let request = reqwest::Client::new().post(url);
    let response = warden
        .send(request, PAYMENTS_API, &["payments:charge"])
        .await
        .map_err(|e| format!("orders could not call payments: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("payments answered HTTP {status}: {body}").into());
    }
    Ok(body)
}

/// The gateway: `POST /checkout` with the user's token (`orders:create` on the gateway API).
///
/// `warden` holds the gateway client's credentials; `orders_url` is where orders listens.
pub async fn gateway(issuer: &str, warden: Client, orders_url: &str) -> crate::Result<Router> {
    let validator = validator(issuer, GATEWAY_API).await?;
    Ok(Router::new()
        .route("/checkout", post(checkout))
        .route_layer(RequireScopeLayer::new(validator.clone(), ["orders:create"]))
        .with_state(Caller {
            validator,
            warden,
            http: reqwest::Client::new(),
            next_url: orders_url.trim_end_matches('/').to_owned(),
        }))
}

async fn checkout(
    State(gateway): State<Caller>,
    Authenticated(token): Authenticated,
    subject: BearerToken,
) -> Result<Json<Value>, Failure> {
    // Orders needs `orders:create`, and will itself need `payments:charge` further down: ask
    // for both. Warden grants only what the user's token has *and* the gateway's grant on the
    // orders API allows.
    let orders_token = gateway
        .warden
        .exchange(
            subject.expose(),
            ORDERS_API,
            &["orders:create", "payments:charge"],
            None,
        )
        .await
        .map_err(|e| Failure::exchange("gateway", ORDERS_API, &e))?;
    let url = format!("{}/orders", gateway.next_url);
    let request = gateway.http.post(url).bearer_auth(orders_token.token());
    let orders = call("orders", request).await?;
    Ok(Json(
        json!({ "service": "gateway", "token": seen(&token), "orders": orders }),
    ))
}

// ---- plumbing --------------------------------------------------------------------------------

/// Sends a request to the next service and returns its JSON answer; a refusal is passed back
/// as a 502 naming that service and what it said.
async fn call(service: &str, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
    let response = request.send().await.map_err(|e| {
        Failure(
            StatusCode::BAD_GATEWAY,
            json!({ "error": format!("{service} is unreachable: {e}") }),
        )
    })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(body)
    } else {
        Err(Failure(
            StatusCode::BAD_GATEWAY,
            json!({ "error": format!("{service} answered HTTP {status}"), "answer": body }),
        ))
    }
}

/// An error answer: a status and a JSON body.
struct Failure(StatusCode, Value);

impl Failure {
    /// Warden refused a token exchange: 502, with the OAuth error code Warden sent.
    fn exchange(service: &str, target: &str, error: &warden_client::Error) -> Self {
        Self(
            StatusCode::BAD_GATEWAY,
            json!({
                "error": format!("{service} could not exchange the token for {target}"),
                "oauth_error": error.oauth_error().map(|code| code.as_str()),
                "detail": error.to_string(),
            }),
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}
