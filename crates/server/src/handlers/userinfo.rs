//! `GET|POST /userinfo` (OIDC Core §5.3) with RFC 6750 bearer tokens, or DPoP-bound tokens
//! with the `DPoP` scheme and a proof (RFC 9449 §7).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_core::Challenge;
use warden_core::dpop::TokenPresentation;
use warden_core::userinfo::UserInfoResponse;
use warden_types::ErrorCode;

use super::json_no_store;
use crate::extract::{ClientCertificate, authorization, bearer};
use crate::http_error::HttpError;
use crate::state::AppState;

/// `GET /userinfo`: the token in the `Authorization` header.
pub async fn userinfo_get(
    State(state): State<Arc<AppState>>,
    certificate: ClientCertificate,
    headers: HeaderMap,
) -> Response {
    let token = match header_token(&headers, "GET") {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    answer(&state, &headers, token, certificate.get()).await
}

/// `POST /userinfo`: the token in the header, or as `access_token` in a form body
/// (RFC 6750 §2.2), never both (§2: "MUST NOT use more than one method").
pub async fn userinfo_post(
    State(state): State<Arc<AppState>>,
    certificate: ClientCertificate,
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
    let from_header = match header_token(&headers, "POST") {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let from_body = from_body.map(|t| (t, TokenPresentation::Bearer));
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return HttpError::from(warden_core::OAuthError::invalid_request(
                "the access token was sent in more than one way",
            ))
            .into_response();
        }
        (a, b) => a.or(b),
    };
    answer(&state, &headers, token, certificate.get()).await
}

/// The access token of the `Authorization` header, `Bearer` (RFC 6750 §2.1) or `DPoP`
/// (RFC 9449 §7.1, with the request's proof). Several `DPoP` headers are refused.
fn header_token<'a>(
    headers: &'a HeaderMap,
    method: &'a str,
) -> Result<Option<(String, TokenPresentation<'a>)>, HttpError> {
    if let Some(token) = bearer(headers) {
        return Ok(Some((token.to_owned(), TokenPresentation::Bearer)));
    }
    let Some(token) = authorization(headers)
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("dpop"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let proof = match crate::extract::dpop_proof(headers) {
        Ok(p) => p,
        Err(e) => {
            return Err(HttpError {
                error: e.with_challenge(Challenge::Dpop),
                status: Some(StatusCode::UNAUTHORIZED),
            });
        }
    };
    Ok(Some((
        token.to_owned(),
        TokenPresentation::Dpop {
            proof,
            http_method: method,
        },
    )))
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<(String, TokenPresentation<'_>)>,
    certificate: Option<&warden_core::PresentedCertificate>,
) -> Response {
    let Some((token, presentation)) = token else {
        // RFC 6750 §3.1: a request without any authentication gets the challenge but no
        // error code. A non-Bearer Authorization header is also "no token".
        let _ = authorization(headers);
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"warden\""),
        );
        // RFC 9449 §7.1: DPoP-bound tokens are accepted too, with these proof algorithms.
        if let Ok(dpop) = HeaderValue::from_str(&format!(
            "DPoP realm=\"warden\", algs=\"{}\"",
            warden_core::dpop::dpop_algs_param()
        )) {
            r.headers_mut().append(header::WWW_AUTHENTICATE, dpop);
        }
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
    let result = state
        .engine
        .userinfo(&token, presentation, certificate, state.clock.now())
        .await;
    match result {
        Ok(UserInfoResponse::Json(claims)) => json_no_store(StatusCode::OK, &claims),
        Ok(UserInfoResponse::Jwt(jwt)) => jwt_no_store(jwt),
        Err(mut e) => {
            // A request with the DPoP scheme is challenged with the DPoP scheme; a refused
            // proof is a 401 here, as at any protected resource (RFC 9449 §7.1).
            if matches!(presentation, TokenPresentation::Dpop { .. })
                && e.challenge == Some(Challenge::Bearer)
            {
                e.challenge = Some(Challenge::Dpop);
            }
            let status = matches!(
                e.code,
                ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
            )
            .then_some(StatusCode::UNAUTHORIZED);
            HttpError { error: e, status }.into_response()
        }
    }
}

/// A signed and/or encrypted userinfo response (OIDC Core §5.3.2: "the UserInfo Response
/// MUST be encoded as a JWT and the content-type MUST be application/jwt").
fn jwt_no_store(jwt: String) -> Response {
    let mut response = (StatusCode::OK, jwt).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwt"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
