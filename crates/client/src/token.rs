//! [`AccessToken`] and the parsing of token endpoint responses: success
//! ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1),
//! [RFC 8693 §2.2.1](https://www.rfc-editor.org/rfc/rfc8693#section-2.2.1)) and error
//! ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use warden_types::SecretString;

use crate::clock::system_time_after;
use crate::error::{Error, OAuthErrorCode};

/// An access token and what the server said about it.
///
/// Cheap to clone (the token string is shared). `Debug` shows everything but the token.
#[derive(Clone)]
pub struct AccessToken {
    token: Arc<SecretString>,
    token_type: String,
    expires_at: Option<SystemTime>,
    lifetime: Option<Duration>,
    scope: Option<String>,
    issued_token_type: Option<String>,
}

impl AccessToken {
    /// The token to send as `Authorization: Bearer <token>`
    /// ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)), or as
    /// `Authorization: DPoP <token>` with a proof when [`is_dpop`](Self::is_dpop).
    ///
    /// # Security
    /// This is a bearer credential: whoever holds it can call the API until it expires. Send
    /// it only over TLS to the API it was issued for; never log it or put it in an error.
    pub fn token(&self) -> &str {
        self.token.expose()
    }

    /// `token_type` (RFC 6749 §7.1): `Bearer`, or `DPoP` for a token bound to the client's
    /// DPoP key ([RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// Whether the token is DPoP-bound (`token_type` `DPoP`): it must be sent with the
    /// `DPoP` scheme and a proof of the client's key.
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("dpop")
    }

    /// When the token expires, from `expires_in` (RFC 6749 §5.1) counted from the moment the
    /// response arrived. `None` if the server sent no `expires_in`.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// `expires_in` as the server sent it.
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// The granted scope (RFC 6749 §5.1, space-separated); Warden always sends it.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The granted scope as a list of scope tokens (RFC 6749 §3.3).
    pub fn scopes(&self) -> Vec<&str> {
        self.scope
            .as_deref()
            .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// `issued_token_type` of a token exchange response
    /// ([RFC 8693 §2.2.1](https://www.rfc-editor.org/rfc/rfc8693#section-2.2.1)), e.g.
    /// `urn:ietf:params:oauth:token-type:access_token`. `None` for client credentials.
    pub fn issued_token_type(&self) -> Option<&str> {
        self.issued_token_type.as_deref()
    }

    /// Whether two values hold the same token string (constant time).
    pub(crate) fn same_token(&self, other: &AccessToken) -> bool {
        *self.token == *other.token
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("issued_token_type", &self.issued_token_type)
            .finish()
    }
}

/// The success body; unknown members are ignored (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
    issued_token_type: Option<String>,
}

/// The error body of RFC 6749 §5.2.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    error_description: Option<String>,
}

/// Turns a token endpoint response (status and body) into a token or a typed error. `dpop`:
/// whether the request carried a DPoP proof, so a `DPoP` token type is acceptable.
pub(crate) fn parse_response(
    status: reqwest::StatusCode,
    body: &[u8],
    dpop: bool,
) -> Result<AccessToken, Error> {
    if !status.is_success() {
        return Err(match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => Error::OAuth {
                error: OAuthErrorCode::new(e.error),
                description: e.error_description,
                status: status.as_u16(),
            },
            Err(_) => Error::InvalidResponse(format!(
                "HTTP {} without an RFC 6749 §5.2 error body",
                status.as_u16()
            )),
        });
    }
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|_| {
        Error::InvalidResponse("the body is not an RFC 6749 §5.1 token response".into())
    })?;
    // RFC 6750: without a DPoP key this crate sends tokens as bearer tokens only; anything
    // else (DPoP, MAC, N_A) would be misused if we attached it as `Bearer`. With a DPoP key,
    // RFC 9449 §5: `DPoP` for a bound token, or `Bearer` if the server did not bind it.
    let dpop_ok = dpop && parsed.token_type.eq_ignore_ascii_case("dpop");
    if !parsed.token_type.eq_ignore_ascii_case("bearer") && !dpop_ok {
        return Err(Error::InvalidResponse(format!(
            "token_type is '{}', expected {}",
            parsed.token_type,
            if dpop { "DPoP or Bearer" } else { "Bearer" }
        )));
    }
    if parsed.access_token.is_empty() {
        return Err(Error::InvalidResponse("access_token is empty".into()));
    }
    // RFC 6749 §5.1 says "expires_in" is a number; some servers send it as a string.
    let lifetime = match parsed.expires_in {
        None => None,
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
    }
    .map(Duration::from_secs);
    Ok(AccessToken {
        token: Arc::new(SecretString::new(parsed.access_token)),
        token_type: parsed.token_type,
        expires_at: lifetime.map(system_time_after),
        lifetime,
        scope: parsed.scope,
        issued_token_type: parsed.issued_token_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let token = AccessToken {
            token: Arc::new(SecretString::new("eyJ.secret.sig")),
            token_type: "Bearer".into(),
            expires_at: None,
            lifetime: Some(Duration::from_secs(60)),
            scope: Some("read write".into()),
            issued_token_type: None,
        };
        let debug = format!("{token:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert_eq!(token.scopes(), ["read", "write"]);
        assert_eq!(token.token(), "eyJ.secret.sig");
        assert!(!token.is_dpop());
    }

    #[test]
    fn dpop_token_type_needs_a_dpop_key() {
        let body = br#"{"access_token":"t","token_type":"DPoP","expires_in":60}"#;
        let ok = reqwest::StatusCode::OK;
        assert!(matches!(
            parse_response(ok, body, false),
            Err(Error::InvalidResponse(_))
        ));
        let token = parse_response(ok, body, true).unwrap();
        assert!(token.is_dpop());
        let bearer = br#"{"access_token":"t","token_type":"bearer"}"#;
        assert!(!parse_response(ok, bearer, true).unwrap().is_dpop());
    }
}
