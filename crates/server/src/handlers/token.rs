//! `POST /token` (RFC 6749 §3.2).

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

/// Token endpoint.
pub async fn token(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certificate: ClientCertificate,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let ctx = CallContext {
        endpoint: &state.engine.config().token_endpoint,
        source: Some(peer.ip().to_string()),
        now: state.clock.now(),
        certificate: certificate.get(),
        dpop: None,
        http_method: "POST",
    };
    let result = state
        .engine
        .token(&body, authorization(&headers), &ctx)
        .await;
    match result.outcome {
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
            HttpError::from(error).into_response()
        }
    }
}
