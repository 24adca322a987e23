//! `GET|POST /userinfo` (OIDC Core §5.3) with RFC 6750 bearer tokens.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_types::ErrorCode;

use super::json_no_store;
use crate::extract::{authorization, bearer};
use crate::http_error::HttpError;
use crate::state::AppState;

/// `GET /userinfo`: the token in the `Authorization` header.
pub async fn userinfo_get(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let token = bearer(&headers).map(str::to_owned);
    answer(&state, &headers, token).await
}

/// `POST /userinfo`: the token in the header, or as `access_token` in a form body
/// (RFC 6750 §2.2), never both (§2: "MUST NOT use more than one method").
pub async fn userinfo_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body = if is_form {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    } else {
        None
    };
    let from_header = bearer(&headers).map(str::to_owned);
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return HttpError::from(warden_core::OAuthError::invalid_request(
                "the access token was sent in more than one way",
            ))
            .into_response();
        }
        (a, b) => a.or(b),
    };
    answer(&state, &headers, token).await
}

async fn answer(state: &AppState, headers: &HeaderMap, token: Option<String>) -> Response {
    let Some(token) = token else {
        // RFC 6750 §3.1: a request without any authentication gets the challenge but no
        // error code. A non-Bearer Authorization header is also "no token".
        let _ = authorization(headers);
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"warden\""),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        *r.body_mut() = axum::body::Body::from(
            serde_json::json!({
                "error": ErrorCode::InvalidToken.as_str(),
                "error_description": "an access token is required"
            })
            .to_string(),
        );
        return r;
    };
    match state.engine.userinfo(&token, state.clock.now()).await {
        Ok(claims) => json_no_store(StatusCode::OK, &claims),
        Err(e) => HttpError::from(e).into_response(),
    }
}
