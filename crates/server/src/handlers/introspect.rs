//! `POST /introspect` (RFC 7662).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use warden_core::CallContext;
use warden_types::ErrorCode;

use super::json_no_store;
use crate::extract::{ClientCertificate, FormBody, authorization};
use crate::http_error::HttpError;
use crate::state::AppState;

/// Introspection endpoint.
pub async fn introspect(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certificate: ClientCertificate,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let ctx = CallContext {
        endpoint: &state.engine.config().introspection_endpoint,
        source: Some(peer.ip().to_string()),
        now: state.clock.now(),
        certificate: certificate.get(),
        dpop: None,
        http_method: "POST",
    };
    match state
        .engine
        .introspect(&body, authorization(&headers), &ctx)
        .await
    {
        Ok(response) => json_no_store(StatusCode::OK, &response),
        Err(error) => {
            if error.code == ErrorCode::InvalidClient {
                state.metrics.auth_failed("/introspect");
            }
            HttpError::from(error).into_response()
        }
    }
}
