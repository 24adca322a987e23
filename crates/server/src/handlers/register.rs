//! `POST /register` (RFC 7591) and `GET|PUT|DELETE /register/{client_id}` (RFC 7592).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use warden_types::ErrorCode;

use super::json_no_store;
use crate::extract::{JsonBody, bearer};
use crate::http_error::HttpError;
use crate::state::AppState;

fn disabled() -> Response {
    HttpError::with_status(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest,
        "dynamic registration is disabled",
    )
    .into_response()
}

/// Registers a client (201).
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    if !state.engine.config().registration_enabled {
        return disabled();
    }
    match state
        .engine
        .register(&body, bearer(&headers), state.clock.now())
        .await
    {
        Ok(info) => json_no_store(StatusCode::CREATED, &info),
        Err(error) => HttpError::from(error).into_response(),
    }
}

/// Reads a client's registration (200).
pub async fn read(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !state.engine.config().registration_enabled {
        return disabled();
    }
    match state
        .engine
        .read_registration(&client_id, bearer(&headers))
        .await
    {
        Ok(info) => json_no_store(StatusCode::OK, &info),
        Err(error) => HttpError::from(error).into_response(),
    }
}

/// Replaces a client's metadata (200).
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    if !state.engine.config().registration_enabled {
        return disabled();
    }
    match state
        .engine
        .update_registration(&client_id, bearer(&headers), &body, state.clock.now())
        .await
    {
        Ok(info) => json_no_store(StatusCode::OK, &info),
        Err(error) => HttpError::from(error).into_response(),
    }
}

/// Deletes a client (204).
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !state.engine.config().registration_enabled {
        return disabled();
    }
    match state
        .engine
        .delete_registration(&client_id, bearer(&headers), state.clock.now())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => HttpError::from(error).into_response(),
    }
}
