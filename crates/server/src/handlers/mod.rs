//! Thin handlers: extract → call the engine → map the outcome. One module per endpoint family.

pub mod authorize;
pub mod discovery;
pub mod health;
pub mod introspect;
pub mod logout;
pub mod par;
pub mod register;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON response that must not be cached (RFC 6749 §5.1).
pub fn json_no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
