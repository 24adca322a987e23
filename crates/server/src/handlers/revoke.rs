//! `POST /revoke` (RFC 7009).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_core::CallContext;
use warden_types::ErrorCode;

use crate::extract::{ClientCertificate, FormBody, authorization};
use crate::http_error::HttpError;
use crate::state::AppState;

/// Revocation endpoint: 200 with an empty body on success (RFC 7009 §2.2).
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certificate: ClientCertificate,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let ctx = CallContext {
        endpoint: &state.engine.config().revocation_endpoint,
        source: Some(peer.ip().to_string()),
        now: state.clock.now(),
        certificate: certificate.get(),
        dpop: None,
        http_method: "POST",
    };
    match state
        .engine
        .revoke(&body, authorization(&headers), &ctx)
        .await
    {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            if error.code == ErrorCode::InvalidClient {
                state.metrics.auth_failed("/revoke");
            }
            HttpError::from(error).into_response()
        }
    }
}
