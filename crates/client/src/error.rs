//! [`Error`], the one error type of this crate.
//!
//! No variant carries a client secret, a private key, an assertion or a token: `Display` and
//! `Debug` may be logged as they are. OAuth error descriptions come from the authorization
//! server, which writes them for developers (RFC 6749 §5.2).

use std::fmt;

use warden_jose::JoseError;

/// Why a token could not be obtained or a request could not be authorized.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server answered with an
    /// [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) error body (also
    /// used by [RFC 8693 §2.2.2](https://www.rfc-editor.org/rfc/rfc8693#section-2.2.2) and
    /// [RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)).
    #[error("the authorization server refused the request: {error}{} (HTTP {status})", description_suffix(.description))]
    OAuth {
        /// The `error` code, e.g. `invalid_client`.
        error: OAuthErrorCode,
        /// The `error_description`, if the server sent one.
        description: Option<String>,
        /// The HTTP status of the response (400 or 401 for the token endpoint).
        status: u16,
    },
    /// The HTTP exchange failed: connection, TLS, timeout, or a body that could not be read.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The discovery document (OpenID Connect Discovery 1.0 §4,
    /// [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)) could not be fetched
    /// or is not acceptable (e.g. its `issuer` differs from the configured one).
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The server answered with something that is neither a valid token response
    /// ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)) nor an error body.
    #[error("invalid response from the authorization server: {0}")]
    InvalidResponse(String),
    /// The client's private key could not be loaded or used to sign an assertion.
    #[error("client key error: {0}")]
    Key(String),
    /// A URL given to the builder is not an absolute `http` or `https` URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The builder's options do not fit together (e.g. both an HTTP client and a TLS
    /// identity).
    #[error("invalid configuration: {0}")]
    Config(String),
}

fn description_suffix(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

impl From<JoseError> for Error {
    fn from(error: JoseError) -> Self {
        // JoseError's messages are fixed strings without key material.
        Self::Key(error.to_string())
    }
}

impl Error {
    /// The OAuth error code, if this is an [`Error::OAuth`].
    pub fn oauth_error(&self) -> Option<&OAuthErrorCode> {
        match self {
            Self::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// An OAuth `error` code as sent by the server
/// ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
///
/// Codes Warden knows map to [`warden_types::ErrorCode`] through [`OAuthErrorCode::known`];
/// any other string (extension codes of other servers) is kept as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OAuthErrorCode(String);

impl OAuthErrorCode {
    /// Wraps a code received on the wire.
    pub fn new(code: impl Into<String>) -> Self {
        Self(code.into())
    }

    /// The code as sent, e.g. `invalid_target`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as a [`warden_types::ErrorCode`], if it is one of the registered codes.
    pub fn known(&self) -> Option<warden_types::ErrorCode> {
        serde_json::from_value(serde_json::Value::String(self.0.clone())).ok()
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for OAuthErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<warden_types::ErrorCode> for OAuthErrorCode {
    fn eq(&self, other: &warden_types::ErrorCode) -> bool {
        self.0 == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_code_description_and_status() {
        let error = Error::OAuth {
            error: OAuthErrorCode::new("invalid_client"),
            description: Some("unknown client or bad credentials".into()),
            status: 401,
        };
        assert_eq!(
            error.to_string(),
            "the authorization server refused the request: invalid_client \
             (unknown client or bad credentials) (HTTP 401)"
        );
        assert_eq!(
            error.oauth_error().and_then(OAuthErrorCode::known),
            Some(warden_types::ErrorCode::InvalidClient)
        );
        assert_eq!(OAuthErrorCode::new("x_custom").known(), None);
    }
}
