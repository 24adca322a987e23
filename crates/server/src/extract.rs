//! Request extraction with our own rejections: every malformed request gets an RFC-shaped
//! JSON error, never a framework default.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use warden_types::ErrorCode;

use crate::http_error::HttpError;

/// A request body that must be `application/x-www-form-urlencoded` (RFC 6749 §3.2).
pub struct FormBody(pub Bytes);

/// A request body that must be `application/json` (RFC 7591 §3.1).
pub struct JsonBody(pub Bytes);

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

async fn read_body(req: Request) -> Result<Bytes, HttpError> {
    Bytes::from_request(req, &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            HttpError::with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidRequest,
                "request body is too large",
            )
        } else {
            HttpError::with_status(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "request body could not be read",
            )
        }
    })
}

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = HttpError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/x-www-form-urlencoded") {
            return Err(HttpError::with_status(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        Ok(Self(read_body(req).await?))
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = HttpError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(HttpError::with_status(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "the body must be application/json",
            ));
        }
        Ok(Self(read_body(req).await?))
    }
}

/// The `Authorization` header as a string, if present and visible ASCII.
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1), if that is what was sent.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = authorization(headers)?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The request's `DPoP` header (RFC 9449 §4.1), if any. More than one, or one that is not
/// visible ASCII, is `invalid_dpop_proof` (§4.3 check 1: "not more than one DPoP HTTP request
/// header field").
pub fn dpop_proof(headers: &HeaderMap) -> Result<Option<&str>, warden_core::OAuthError> {
    let bad = |d: &'static str| warden_core::OAuthError::new(ErrorCode::InvalidDpopProof, d);
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad("send exactly one DPoP header"));
    }
    first
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| bad("the DPoP header is not a compact JWS"))
}

/// The client certificate of the request's connection (mutual TLS), as a request extension.
/// The TLS acceptor inserts it per connection; behind a TLS-terminating proxy, the proxy
/// header layer inserts it per request, only for requests from configured proxy addresses.
/// Absent when the client presented none.
#[derive(Debug, Clone, Default)]
pub struct ClientCertificate(pub Option<std::sync::Arc<warden_core::PresentedCertificate>>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientCertificate {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientCertificate>()
            .cloned()
            .unwrap_or_default())
    }
}

impl ClientCertificate {
    /// The certificate, if any.
    pub fn get(&self) -> Option<&warden_core::PresentedCertificate> {
        self.0.as_deref()
    }
}
