//! Every route of the public surface, in one place.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use warden_types::ErrorCode;

use crate::handlers::{discovery, health, introspect, register, revoke, token};
use crate::http_error::HttpError;
use crate::observe;
use crate::state::AppState;

/// The application router.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.settings.request_body_limit;
    let timeout = Duration::from_secs(state.settings.request_timeout);
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::oauth_authorization_server),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/token", post(token::token))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(revoke::revoke))
        .route("/register", post(register::create))
        .route(
            "/register/{client_id}",
            get(register::read)
                .put(register::update)
                .delete(register::delete),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        // Innermost first: the body limit applies in the extractors (so an oversized body is
        // a JSON 413 from `extract`), the timeout and panic guard wrap the handler, and
        // `observe` wraps everything so every response is counted, logged and JSON.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(observe::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}

async fn not_found() -> HttpError {
    HttpError::with_status(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest,
        "no such endpoint",
    )
}
