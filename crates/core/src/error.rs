//! The protocol-facing error: an RFC error code, a safe description, and the challenge the
//! HTTP layer must send. Exactly one place (the server's error mapping) turns it into HTTP.

use std::borrow::Cow;

use warden_types::{ErrorCode, ErrorResponse};

use crate::store::StoreError;

/// Which `WWW-Authenticate` challenge accompanies a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// RFC 6749 §5.2: the client tried HTTP Basic, so answer with a Basic challenge.
    Basic,
    /// RFC 6750 §3: a bearer token (registration access token) was missing or invalid.
    Bearer,
    /// RFC 9449 §7.1: a DPoP-bound token or its proof was refused (`WWW-Authenticate: DPoP`
    /// with the supported `algs`).
    Dpop,
}

/// An OAuth error as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// Safe, human-readable detail. Never holds a secret or a token.
    pub description: Cow<'static, str>,
    /// The challenge to send with a 401.
    pub challenge: Option<Challenge>,
}

impl OAuthError {
    /// An error with a code and description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            challenge: None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    /// `invalid_client`.
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }

    /// `unauthorized_client`.
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }

    /// `invalid_scope`.
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }

    /// `invalid_target`.
    pub fn invalid_target(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidTarget, d)
    }

    /// `invalid_client_metadata`.
    pub fn invalid_client_metadata(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClientMetadata, d)
    }

    /// `invalid_redirect_uri`.
    pub fn invalid_redirect_uri(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRedirectUri, d)
    }

    /// `invalid_token` with a Bearer challenge (RFC 6750 §3.1).
    pub fn invalid_token(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidToken, d).with_challenge(Challenge::Bearer)
    }

    /// `server_error`: the description is fixed; the cause must be logged by the caller.
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "internal error")
    }

    /// Adds a challenge.
    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorResponse {
        ErrorResponse::new(self.code, self.description.clone())
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "storage failure");
        Self::server_error()
    }
}
