//! The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2 and §3.3.2): requests are
//! parsed and validated here ([`request`]), PKCE is checked in [`pkce`], the browser's journey
//! through login and consent is driven by [`flow`], pushed requests (RFC 9126) live in
//! [`par`], and the answer to the client is built by [`response`].
//!
//! The order of the checks follows RFC 6749 §4.1.2.1: until the client and its redirect URI
//! are known to be right, errors are shown to the user on a page ([`AuthorizeError::Page`]) and
//! never redirected, so Warden cannot be used as an open redirector; after that, errors go
//! back to the client's redirect URI ([`AuthorizeError::Redirect`]) with `state` and `iss`.

pub mod flow;
pub mod par;
pub mod pkce;
pub mod request;
pub mod response;

pub use flow::{AuthorizeOutcome, InteractionView};
pub use request::{AuthorizationRequest, Prompt, ResponseMode, ResponseType};
pub use response::AuthorizationResponse;

use std::borrow::Cow;

use warden_types::ErrorCode;

/// A failed authorization request.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizeError {
    /// Shown to the user; the client and redirect URI could not be trusted.
    Page {
        /// The error code (for logs and the page).
        code: ErrorCode,
        /// What went wrong, for people.
        description: Cow<'static, str>,
    },
    /// Sent back to the client.
    Redirect(AuthorizationResponse),
}

impl AuthorizeError {
    /// A page error.
    pub fn page(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self::Page {
            code,
            description: description.into(),
        }
    }
}

impl From<crate::store::StoreError> for AuthorizeError {
    fn from(err: crate::store::StoreError) -> Self {
        tracing::error!(error = %err, "storage failure");
        Self::page(
            ErrorCode::ServerError,
            "The server could not complete the request. Please try again.",
        )
    }
}
