//! The one place errors become HTTP: status, JSON body, `WWW-Authenticate`,
//! `Cache-Control: no-store`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_core::{Challenge, OAuthError};
use warden_types::ErrorCode;

/// An error response.
#[derive(Debug)]
pub struct HttpError {
    /// The OAuth error.
    pub error: OAuthError,
    /// Overrides the status derived from the code (413, 415, 404, 405).
    pub status: Option<StatusCode>,
}

impl From<OAuthError> for HttpError {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            status: None,
        }
    }
}

impl HttpError {
    /// An error with an explicit status.
    pub fn with_status(status: StatusCode, code: ErrorCode, description: &'static str) -> Self {
        Self {
            error: OAuthError::new(code, description),
            status: Some(status),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        });
        let body = serde_json::to_vec(&self.error.body()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match self.error.challenge {
            Some(Challenge::Basic) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"warden\", charset=\"UTF-8\""),
                );
            }
            Some(Challenge::Bearer) => {
                // RFC 6750 §3: error and description as auth-params. The description is one of
                // our fixed strings (ASCII, no quotes).
                let value = format!(
                    "Bearer realm=\"warden\", error=\"{}\", error_description=\"{}\"",
                    self.error.code.as_str(),
                    self.error.description.replace('"', "'")
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Some(Challenge::Dpop) => {
                // RFC 9449 §7.1: the DPoP scheme, with the algorithms proofs may use.
                let value = format!(
                    "DPoP realm=\"warden\", error=\"{}\", error_description=\"{}\", algs=\"{}\"",
                    self.error.code.as_str(),
                    self.error.description.replace('"', "'"),
                    warden_core::dpop::dpop_algs_param()
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            None => {}
        }
        response
    }
}
