//! `POST /token` (RFC 6749 §3.2).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use warden_core::CallContext;
use warden_types::ErrorCode;

use super::json_no_store;
use crate::extract::{ClientCertificate, FormBody, authorization, dpop_proof};
use crate::http_error::HttpError;
use crate::state::AppState;

/// Token endpoint.
pub async fn token(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certificate: ClientCertificate,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let now = state.clock.now();
    // RFC 9449 §8: every answer to a DPoP request, and every DPoP error, carries a fresh
    // nonce for the next proof.
    let with_nonce = |mut response: Response| {
        if let Ok(v) = HeaderValue::from_str(&state.engine.dpop_nonce(now)) {
            response.headers_mut().insert("dpop-nonce", v);
        }
        response
    };
    let dpop = match dpop_proof(&headers) {
        Ok(p) => p,
        Err(error) => {
            state.metrics.token_refused("unknown", error.code.as_str());
            return with_nonce(HttpError::from(error).into_response());
        }
    };
    let ctx = CallContext {
        endpoint: &state.engine.config().token_endpoint,
        source: Some(peer.ip().to_string()),
        now,
        certificate: certificate.get(),
        dpop,
        http_method: "POST",
    };
    let result = state
        .engine
        .token(&body, authorization(&headers), &ctx)
        .await;
    let response = match result.outcome {
        Ok(response) => {
            state
                .metrics
                .token_issued(result.grant, result.method.unwrap_or("unknown"));
            json_no_store(StatusCode::OK, &response)
        }
        Err(error) => {
            state
                .metrics
                .token_refused(result.grant, error.code.as_str());
            if error.code == ErrorCode::InvalidClient {
                state.metrics.auth_failed("/token");
            }
            let dpop_error = matches!(
                error.code,
                ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
            );
            let response = HttpError::from(error).into_response();
            if dpop_error {
                return with_nonce(response);
            }
            response
        }
    };
    if dpop.is_some() {
        with_nonce(response)
    } else {
        response
    }
}
