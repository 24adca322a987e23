//! Discovery documents (RFC 8414, OIDC Discovery) and the JWKS.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

fn cached_json(body: Vec<u8>, max_age: i64) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    response
}

/// `/.well-known/openid-configuration`.
pub async fn openid_configuration(State(state): State<Arc<AppState>>) -> Response {
    let doc = state.engine.server_metadata(true);
    cached_json(serde_json::to_vec(&doc).unwrap_or_default(), 300)
}

/// `/.well-known/oauth-authorization-server` (RFC 8414 §3).
pub async fn oauth_authorization_server(State(state): State<Arc<AppState>>) -> Response {
    let doc = state.engine.server_metadata(false);
    cached_json(serde_json::to_vec(&doc).unwrap_or_default(), 300)
}

/// `/jwks`: published, active and retired keys. The max-age is shorter than the time a new
/// key is published before it signs, so caches always know a key before they meet it.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let json = state.engine.key_ring().jwks_json();
    cached_json(json.as_bytes().to_vec(), state.engine.config().jwks_max_age)
}
