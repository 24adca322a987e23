//! Per-request observation: a request id, metrics, and one log line. Bodies, queries and
//! headers are never logged (they carry secrets).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use warden_types::ErrorCode;

use crate::http_error::HttpError;
use crate::state::AppState;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Every route, as a bounded metrics label. Routes nested under an issuer path end with one
/// of these, so they share its label.
const ROUTES: [&str; 18] = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/register/{client_id}",
    "/introspect",
    "/authorize",
    "/userinfo",
    "/consent",
    "/logout",
    "/login",
    "/par",
    "/register",
    "/healthz",
    "/metrics",
    "/readyz",
    "/revoke",
    "/token",
    "/jwks",
    "/",
];

fn route_label(path: Option<&str>) -> &'static str {
    let Some(path) = path else {
        return "other";
    };
    if path.starts_with("/.well-known/oauth-authorization-server") {
        return ROUTES[0];
    }
    ROUTES[..ROUTES.len() - 1]
        .iter()
        .find(|r| path.ends_with(*r))
        .copied()
        .unwrap_or("other")
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: assigns a request id, times the request, counts it, logs it.
pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let route = route_label(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let method = method_label(req.method());
    let mut response = next.run(req).await;
    let status = response.status();
    if status.is_client_error() && !is_json(&response) {
        // Framework answers (405, 408, 413 from a layer) get the same JSON shape as ours.
        response = framework_error(status);
    }
    let elapsed = started.elapsed();
    state
        .metrics
        .observe_request(route, method, status.as_u16(), elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    let micros = elapsed.as_micros() as u64;
    if status.is_server_error() {
        tracing::error!(
            request_id = id,
            method,
            route,
            status = status.as_u16(),
            micros,
            "request failed"
        );
    } else if status.is_client_error() {
        tracing::info!(
            request_id = id,
            method,
            route,
            status = status.as_u16(),
            micros,
            "request refused"
        );
    } else {
        tracing::debug!(
            request_id = id,
            method,
            route,
            status = status.as_u16(),
            micros,
            "request"
        );
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"))
}

fn framework_error(status: StatusCode) -> Response {
    let description = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this endpoint",
        StatusCode::REQUEST_TIMEOUT => "the request took too long",
        StatusCode::PAYLOAD_TOO_LARGE => "request body is too large",
        StatusCode::NOT_FOUND => "no such endpoint",
        _ => "the request was refused",
    };
    HttpError::with_status(status, ErrorCode::InvalidRequest, description).into_response()
}

/// A panic becomes `server_error`, never a dropped connection or a stack trace.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    HttpError::with_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::ServerError,
        "internal error",
    )
    .into_response()
}
