//! `POST /par` (RFC 9126 §2).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use warden_core::CallContext;
use warden_types::ErrorCode;

use super::json_no_store;
use crate::extract::{ClientCertificate, FormBody, authorization, dpop_proof};
use crate::http_error::HttpError;
use crate::state::AppState;

/// Pushed authorization request endpoint: 201 with `request_uri` and `expires_in`.
pub async fn par(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certificate: ClientCertificate,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let config = state.engine.config();
    // RFC 9449 §10.1: a DPoP proof here binds the authorization code to its key.
    let dpop = match dpop_proof(&headers) {
        Ok(p) => p,
        Err(error) => return HttpError::from(error).into_response(),
    };
    let ctx = CallContext {
        endpoint: &config.par_endpoint,
        source: Some(peer.ip().to_string()),
        now: state.clock.now(),
        certificate: certificate.get(),
        dpop,
        http_method: "POST",
    };
    match state
        .engine
        .push_authorization_request(&body, authorization(&headers), &ctx)
        .await
    {
        Ok(response) => json_no_store(StatusCode::CREATED, &response),
        Err(error) => {
            if error.code == ErrorCode::InvalidClient {
                state.metrics.auth_failed("/par");
            }
            HttpError::from(error).into_response()
        }
    }
}
