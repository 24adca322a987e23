//! OAuth error codes (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7591 §3.2.2, RFC 6750 §3.1,
//! RFC 8707 §2, RFC 8693 §2.2.2) and the JSON error body they travel in.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// An OAuth error code. Variants are the RFC codes in CamelCase, serialized snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// RFC 6749 §5.2: malformed or missing parameter, repeated parameter, several
    /// authentication methods.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed (HTTP 401).
    InvalidClient,
    /// RFC 6749 §5.2: grant or assertion invalid, expired, revoked.
    InvalidGrant,
    /// RFC 6749 §5.2: the client may not use this grant type.
    UnauthorizedClient,
    /// RFC 6749 §5.2: the grant type is not supported.
    UnsupportedGrantType,
    /// RFC 6749 §5.2: the scope is invalid, unknown, or exceeds what was granted.
    InvalidScope,
    /// RFC 8707 §2: the requested resource is invalid, unknown, or not allowed.
    InvalidTarget,
    /// RFC 7009 §2.2.1: the server does not revoke this token type.
    UnsupportedTokenType,
    /// RFC 7591 §3.2.2: a client metadata value is invalid.
    InvalidClientMetadata,
    /// RFC 7591 §3.2.2: a redirect URI is invalid.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: the software statement is invalid.
    InvalidSoftwareStatement,
    /// RFC 6750 §3.1: the bearer token is missing, expired, revoked or malformed.
    InvalidToken,
    /// RFC 6750 §3.1: the token lacks the scope the request needs.
    InsufficientScope,
    /// RFC 6749 §4.1.2.1: the resource owner or server denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: an internal failure; the detail is logged, never shown.
    ServerError,
    /// RFC 6749 §4.1.2.1: the server is temporarily unable to answer.
    TemporarilyUnavailable,
    /// RFC 6749 §4.1.2.1: the response type is not supported.
    UnsupportedResponseType,
    /// OIDC Core §3.1.2.6: `prompt=none` but the user must log in.
    LoginRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` but the user must consent.
    ConsentRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` but some user interaction is needed.
    InteractionRequired,
    /// OIDC Core §3.1.2.6: the `request` parameter (JAR) is not supported.
    RequestNotSupported,
    /// OIDC Core §3.1.2.6: `request_uri` (other than a pushed request) is not supported.
    RequestUriNotSupported,
    /// RFC 9126 §2.3 / OIDC Core §3.1.2.6: the `request_uri` is unknown, expired or used.
    InvalidRequestUri,
    /// OIDC Core §3.1.2.6: the `registration` parameter is not supported.
    RegistrationNotSupported,
    /// RFC 9449 §5: the DPoP proof is missing where required, malformed or invalid.
    InvalidDpopProof,
    /// RFC 9449 §8: the DPoP proof must carry the server nonce sent in `DPoP-Nonce`.
    UseDpopNonce,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status this code is answered with at the token, introspection, revocation
    /// and registration endpoints (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// The JSON error body of RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code.
    pub error: ErrorCode,
    /// Human-readable detail for the developer; never carries a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<Cow<'static, str>>,
}

impl ErrorResponse {
    /// An error with a description.
    pub fn new(error: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_snake_case() {
        let body = ErrorResponse::new(ErrorCode::InvalidTarget, "unknown API");
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":"invalid_target","error_description":"unknown API"}"#
        );
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidScope.http_status(), 400);
    }
}
