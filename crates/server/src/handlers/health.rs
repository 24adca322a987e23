//! `/healthz` (the process answers), `/readyz` (database reachable, keys loaded), `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Liveness.
pub async fn healthz() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
        .into_response()
}

/// Readiness.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let db = state.engine.store().ping().await.is_ok();
    let ring = state.engine.key_ring();
    let keys = state
        .engine
        .config()
        .signing_algs
        .iter()
        .all(|alg| ring.active(*alg).is_some());
    let status = if db && keys {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "database": if db { "ok" } else { "unreachable" },
        "signing_keys": if keys { "ok" } else { "missing" },
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Prometheus exposition.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = (StatusCode::OK, state.metrics.encode()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
