//! Why a token was refused, and how that becomes an RFC 6750 §3 challenge.
//!
//! Every `Display` text is fixed: no token, claim value or upstream response ever reaches it, so
//! an error may be logged and its text sent as `error_description`. Problems on the resource
//! server's side (the issuer's keys or introspection endpoint unreachable) are not the client's
//! fault: they map to `503`, carry no `WWW-Authenticate` and reveal nothing.

/// Why [`Validator::validate`](crate::Validator::validate) refused a token.
///
/// All variants but [`KeysUnavailable`](Self::KeysUnavailable) and
/// [`IntrospectionUnavailable`](Self::IntrospectionUnavailable) are the client's problem and
/// answer `401` with `error="invalid_token"` ([RFC 6750 §3.1]).
///
/// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// Not a well-formed bearer token or compact JWS ([RFC 7515 §7.1]), or claims of the wrong
    /// shape.
    ///
    /// [RFC 7515 §7.1]: https://www.rfc-editor.org/rfc/rfc7515#section-7.1
    #[error("the access token is malformed")]
    Malformed,
    /// An encrypted JWT (compact JWE, five parts); not supported ([RFC 9068 §4] step 2).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    #[error("encrypted access tokens are not supported")]
    Encrypted,
    /// The `typ` header is not `at+jwt` ([RFC 9068 §4] step 1): an ID token or another JWT
    /// presented as an access token.
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    #[error("the token is not a JWT access token (typ)")]
    WrongType,
    /// The `alg` is `none`, HMAC, unknown, or not on this validator's allow-list
    /// ([RFC 8725 §3.1]).
    ///
    /// [RFC 8725 §3.1]: https://www.rfc-editor.org/rfc/rfc8725#section-3.1
    #[error("the token's signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// No key of the issuer's JWK Set matches the token's `kid` and `alg`, even after a
    /// refetch ([RFC 7515 §4.1.4]).
    ///
    /// [RFC 7515 §4.1.4]: https://www.rfc-editor.org/rfc/rfc7515#section-4.1.4
    #[error("no key of the issuer matches the token")]
    UnknownKey,
    /// The signature does not verify ([RFC 7515 §5.2]).
    ///
    /// [RFC 7515 §5.2]: https://www.rfc-editor.org/rfc/rfc7515#section-5.2
    #[error("the token signature is invalid")]
    InvalidSignature,
    /// `iss` is not exactly the configured issuer ([RFC 9068 §4] step 3).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not contain this resource server's identifier ([RFC 9068 §4] step 4).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    #[error("the token is not meant for this resource server")]
    WrongAudience,
    /// `exp` has passed, beyond the leeway ([RFC 9068 §4] step 6).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway ([RFC 7519 §4.1.5]).
    ///
    /// [RFC 7519 §4.1.5]: https://www.rfc-editor.org/rfc/rfc7519#section-4.1.5
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, beyond the leeway ([RFC 7519 §4.1.6]).
    ///
    /// [RFC 7519 §4.1.6]: https://www.rfc-editor.org/rfc/rfc7519#section-4.1.6
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// A claim [RFC 9068 §2.2] requires is absent or has the wrong type.
    ///
    /// [RFC 9068 §2.2]: https://www.rfc-editor.org/rfc/rfc9068#section-2.2
    #[error("the token lacks a valid {0} claim")]
    MissingClaim(&'static str),
    /// Introspection answered `"active": false` ([RFC 7662 §2.2]): expired, revoked, unknown.
    ///
    /// [RFC 7662 §2.2]: https://www.rfc-editor.org/rfc/rfc7662#section-2.2
    #[error("the token is not active")]
    Inactive,
    /// An opaque (non-JWT) token, and no introspection is configured.
    #[error("opaque tokens are not accepted")]
    OpaqueNotAccepted,
    /// The issuer's JWK Set could not be fetched when it was needed. Server-side: `503`.
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
    /// The introspection endpoint failed or answered nonsense. Server-side: `503`.
    #[error("token introspection is unavailable")]
    IntrospectionUnavailable,
}

impl ValidationError {
    /// Whether the resource server, not the token, is at fault (answer `503`, not `401`).
    pub fn is_server_error(&self) -> bool {
        matches!(self, Self::KeysUnavailable | Self::IntrospectionUnavailable)
    }

    /// The HTTP status to answer with: `401` for a bad token ([RFC 6750 §3.1]), `503` when the
    /// issuer could not be reached.
    ///
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    pub fn status(&self) -> u16 {
        if self.is_server_error() { 503 } else { 401 }
    }

    /// The `WWW-Authenticate` value for this error ([RFC 6750 §3]):
    /// `Bearer realm="…", error="invalid_token", error_description="…"`. `None` for server-side
    /// errors, which are not a challenge to the client.
    ///
    /// [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        AuthError::Token(self.clone()).www_authenticate(realm)
    }
}

/// The outcome of authenticating an HTTP request with a bearer token ([RFC 6750 §3]); what the
/// axum extractor and layer turn into a response.
///
/// [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header. [RFC 6750 §3.1]: "If the request lacks any
    /// authentication information …, the resource server SHOULD NOT include an error code".
    ///
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    #[error("no bearer token")]
    MissingToken,
    /// A malformed `Authorization` header (repeated, empty token, not ASCII): `400`
    /// `invalid_request` ([RFC 6750 §3.1]).
    ///
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    #[error("the Authorization header is malformed")]
    InvalidRequest,
    /// The token was refused.
    #[error(transparent)]
    Token(#[from] ValidationError),
    /// The token is valid but lacks a scope: `403` `insufficient_scope` with the `scope`
    /// attribute listing what is needed ([RFC 6750 §3.1]).
    ///
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    #[error("the token lacks a required scope")]
    InsufficientScope(
        /// The scopes the request needs, space-separated.
        String,
    ),
}

impl AuthError {
    /// The RFC 6750 §3.1 error code, if any.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest => Some("invalid_request"),
            Self::Token(e) if e.is_server_error() => Some("temporarily_unavailable"),
            Self::Token(_) => Some("invalid_token"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
        }
    }

    /// The HTTP status ([RFC 6750 §3.1]): 400, 401, 403, or 503 for server-side problems.
    ///
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken => 401,
            Self::InvalidRequest => 400,
            Self::Token(e) => e.status(),
            Self::InsufficientScope(_) => 403,
        }
    }

    /// The `WWW-Authenticate` header value ([RFC 6750 §3]), or `None` for server-side errors.
    ///
    /// [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        let mut value = format!("Bearer realm={}", quote(realm));
        match self {
            Self::MissingToken => {}
            Self::Token(e) if e.is_server_error() => return None,
            Self::InvalidRequest | Self::Token(_) => {
                let code = self.error_code().unwrap_or("invalid_token");
                value.push_str(&format!(
                    ", error=\"{code}\", error_description={}",
                    quote(&self.to_string())
                ));
            }
            Self::InsufficientScope(scope) => {
                value.push_str(&format!(
                    ", error=\"insufficient_scope\", error_description={}, scope={}",
                    quote(&self.to_string()),
                    quote(scope)
                ));
            }
        }
        Some(value)
    }
}

/// An RFC 9110 §5.6.4 quoted-string. RFC 6750 §3 forbids `"` and `\` inside the attribute
/// values, so they (and control characters) are dropped rather than escaped.
fn quote(value: &str) -> String {
    let inner: String = value
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect();
    format!("\"{inner}\"")
}

/// Why [`ValidatorBuilder::build`](crate::ValidatorBuilder::build) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A builder option is out of range; the text names the rule.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// The HTTP client could not be created.
    #[error("the HTTP client could not be built")]
    HttpClient,
    /// Neither discovery document ([OpenID Connect Discovery §4], [RFC 8414 §3]) could be
    /// fetched and parsed.
    ///
    /// [OpenID Connect Discovery §4]: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
    /// [RFC 8414 §3]: https://www.rfc-editor.org/rfc/rfc8414#section-3
    #[error("authorization server metadata could not be retrieved")]
    Discovery,
    /// The metadata's `issuer` is not exactly the configured issuer. [RFC 8414 §3.3]: "The
    /// `issuer` value returned MUST be identical to the authorization server's issuer
    /// identifier value".
    ///
    /// [RFC 8414 §3.3]: https://www.rfc-editor.org/rfc/rfc8414#section-3.3
    #[error("the metadata names another issuer")]
    IssuerMismatch,
    /// The JWK Set ([RFC 7517 §5]) could not be fetched, or holds no usable key.
    ///
    /// [RFC 7517 §5]: https://www.rfc-editor.org/rfc/rfc7517#section-5
    #[error("the issuer's JWK Set could not be retrieved")]
    Jwks,
    /// Introspection credentials were given, but the metadata has no `introspection_endpoint`
    /// ([RFC 8414 §2]) and none was configured.
    ///
    /// [RFC 8414 §2]: https://www.rfc-editor.org/rfc/rfc8414#section-2
    #[error("no introspection endpoint is known")]
    NoIntrospectionEndpoint,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let realm = "api";
        assert_eq!(
            AuthError::MissingToken.www_authenticate(realm).unwrap(),
            r#"Bearer realm="api""#
        );
        assert_eq!(
            ValidationError::Expired.www_authenticate(realm).unwrap(),
            r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#
        );
        assert_eq!(
            AuthError::InsufficientScope("a:b c".into())
                .www_authenticate(realm)
                .unwrap(),
            r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks a required scope", scope="a:b c""#
        );
        assert_eq!(
            ValidationError::KeysUnavailable.www_authenticate(realm),
            None
        );
        assert_eq!(ValidationError::KeysUnavailable.status(), 503);
        assert_eq!(AuthError::InvalidRequest.status(), 400);
        assert_eq!(quote("a\"b\\c\n"), "\"abc\"");
    }
}
