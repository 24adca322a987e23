//! [`AccessToken`]: the validated claims a resource server authorizes with.

use serde_json::{Map, Value};
use warden_types::Scope;

use crate::ValidationError;
use crate::clock::UnixTime;

/// How a token was validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// A JWT access token ([RFC 9068]) verified locally with the issuer's cached keys.
    ///
    /// [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068
    Jwt,
    /// An opaque token the issuer reported active through introspection ([RFC 7662]).
    ///
    /// [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662
    Introspection,
}

/// A validated access token: issuer, audience, lifetime and signature (or introspection) have
/// been checked by [`Validator::validate`](crate::Validator::validate). Only this crate
/// constructs it, so a handler that takes an `AccessToken` cannot be handed unchecked claims.
///
/// Claims follow [RFC 9068 §2.2]. The token itself is not kept.
///
/// [RFC 9068 §2.2]: https://www.rfc-editor.org/rfc/rfc9068#section-2.2
#[derive(Debug, Clone)]
pub struct AccessToken {
    sub: String,
    client_id: String,
    scope: Scope,
    aud: Vec<String>,
    exp: UnixTime,
    iat: Option<UnixTime>,
    jti: Option<String>,
    source: TokenSource,
    claims: Map<String, Value>,
}

impl AccessToken {
    /// Reads the claims the accessors expose. `sub`, `client_id` and `exp` are required
    /// ([RFC 9068 §2.2]); `iat` and `jti` are required of JWTs by the caller.
    ///
    /// [RFC 9068 §2.2]: https://www.rfc-editor.org/rfc/rfc9068#section-2.2
    pub(crate) fn from_claims(
        claims: Map<String, Value>,
        source: TokenSource,
    ) -> Result<Self, ValidationError> {
        let string = |name: &'static str| -> Result<Option<String>, ValidationError> {
            match claims.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ValidationError::MissingClaim(name)),
            }
        };
        let sub = string("sub")?.ok_or(ValidationError::MissingClaim("sub"))?;
        let client_id = string("client_id")?.ok_or(ValidationError::MissingClaim("client_id"))?;
        let jti = string("jti")?;
        // RFC 9068 §2.2.3: "scope" is a space-delimited string (RFC 8693 §4.2); omitted when
        // no scope was granted.
        // RFC 7800 §3.1: `cnf` is an object; the members this crate checks must be strings
        // (RFC 9449 §6.1 `jkt`, RFC 8705 §3.1 `x5t#S256`). Other members are not understood
        // and ignored.
        if let Some(cnf) = claims.get("cnf") {
            let cnf = cnf
                .as_object()
                .ok_or(ValidationError::MissingClaim("cnf"))?;
            for member in ["jkt", "x5t#S256"] {
                if cnf.get(member).is_some_and(|v| !v.is_string()) {
                    return Err(ValidationError::MissingClaim("cnf"));
                }
            }
        }
        let scope = match string("scope")? {
            Some(s) => Scope::parse(&s).map_err(|_| ValidationError::MissingClaim("scope"))?,
            None => Scope::empty(),
        };
        Ok(Self {
            sub,
            client_id,
            scope,
            aud: audience(&claims)?,
            exp: numeric_date(&claims, "exp")?.ok_or(ValidationError::MissingClaim("exp"))?,
            iat: numeric_date(&claims, "iat")?,
            jti,
            source,
            claims,
        })
    }

    /// `sub` ([RFC 9068 §2.2]): the client id for client credentials, the user's id otherwise.
    ///
    /// [RFC 9068 §2.2]: https://www.rfc-editor.org/rfc/rfc9068#section-2.2
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// `client_id` ([RFC 8693 §4.3]): the client the token was issued to.
    ///
    /// [RFC 8693 §4.3]: https://www.rfc-editor.org/rfc/rfc8693#section-4.3
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The granted `scope` ([RFC 9068 §2.2.3]); empty when the token has none.
    ///
    /// [RFC 9068 §2.2.3]: https://www.rfc-editor.org/rfc/rfc9068#section-2.2.3
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether the token carries every one of `scopes` ([RFC 6749 §3.3]).
    ///
    /// [RFC 6749 §3.3]: https://www.rfc-editor.org/rfc/rfc6749#section-3.3
    pub fn has_scopes<I, S>(&self, scopes: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        scopes
            .into_iter()
            .all(|scope| self.scope.contains(scope.as_ref()))
    }

    /// The audiences (`aud`, [RFC 7519 §4.1.3]); always contains this resource server's.
    ///
    /// [RFC 7519 §4.1.3]: https://www.rfc-editor.org/rfc/rfc7519#section-4.1.3
    pub fn aud(&self) -> &[String] {
        &self.aud
    }

    /// Expiry (`exp`, [RFC 7519 §4.1.4]), seconds since the epoch.
    ///
    /// [RFC 7519 §4.1.4]: https://www.rfc-editor.org/rfc/rfc7519#section-4.1.4
    pub fn exp(&self) -> UnixTime {
        self.exp
    }

    /// Issue time (`iat`, [RFC 7519 §4.1.6]); always present for JWTs.
    ///
    /// [RFC 7519 §4.1.6]: https://www.rfc-editor.org/rfc/rfc7519#section-4.1.6
    pub fn iat(&self) -> Option<UnixTime> {
        self.iat
    }

    /// Token identifier (`jti`, [RFC 7519 §4.1.7]); always present for JWTs.
    ///
    /// [RFC 7519 §4.1.7]: https://www.rfc-editor.org/rfc/rfc7519#section-4.1.7
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// The actor (`act`, [RFC 8693 §4.1]) of a token obtained by token exchange: the service
    /// acting on behalf of `sub`.
    ///
    /// [RFC 8693 §4.1]: https://www.rfc-editor.org/rfc/rfc8693#section-4.1
    pub fn act(&self) -> Option<&Value> {
        self.claims.get("act")
    }

    /// The confirmation claim (`cnf`, [RFC 7800 §3.1]) of a sender-constrained token: `jkt`
    /// for a DPoP-bound token ([RFC 9449 §6]), `x5t#S256` for a certificate-bound one
    /// ([RFC 8705 §3.1]). `None` for a plain bearer token.
    ///
    /// [RFC 7800 §3.1]: https://www.rfc-editor.org/rfc/rfc7800#section-3.1
    /// [RFC 9449 §6]: https://www.rfc-editor.org/rfc/rfc9449#section-6
    /// [RFC 8705 §3.1]: https://www.rfc-editor.org/rfc/rfc8705#section-3.1
    pub fn cnf(&self) -> Option<&Map<String, Value>> {
        self.claims.get("cnf").and_then(Value::as_object)
    }

    /// `cnf.jkt`: the RFC 7638 thumbprint of the DPoP key the token is bound to.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.cnf()?.get("jkt")?.as_str()
    }

    /// `cnf["x5t#S256"]`: the base64url SHA-256 of the client certificate (DER) the token is
    /// bound to.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.cnf()?.get("x5t#S256")?.as_str()
    }

    /// Whether the token is DPoP-bound: it has `cnf.jkt`, or introspection said
    /// `token_type` `DPoP` ([RFC 9449 §6.2]). Such a token is only accepted with the `DPoP`
    /// scheme and a proof of its key.
    ///
    /// [RFC 9449 §6.2]: https://www.rfc-editor.org/rfc/rfc9449#section-6.2
    pub fn is_dpop_bound(&self) -> bool {
        self.dpop_jkt().is_some()
            || (self.source == TokenSource::Introspection
                && self
                    .claims
                    .get("token_type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("dpop")))
    }

    /// Whether the token is bound to a client certificate (`cnf["x5t#S256"]`,
    /// [RFC 8705 §3]).
    ///
    /// [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3
    pub fn is_certificate_bound(&self) -> bool {
        self.certificate_thumbprint().is_some()
    }

    /// Every claim of the token (or of the introspection response), including those above.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Whether the token was a JWT or went through introspection.
    pub fn source(&self) -> TokenSource {
        self.source
    }
}

/// `aud` as a string or an array of strings (RFC 7519 §4.1.3).
pub(crate) fn audience(claims: &Map<String, Value>) -> Result<Vec<String>, ValidationError> {
    match claims.get("aud") {
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(ValidationError::MissingClaim("aud")),
        _ => Err(ValidationError::MissingClaim("aud")),
    }
}

/// A NumericDate claim (RFC 7519 §2): an integer, or a number whose fraction is dropped.
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<UnixTime>, ValidationError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.trunc() as i64)
            })
            .map(Some)
            .ok_or(ValidationError::MissingClaim(name)),
        Some(_) => Err(ValidationError::MissingClaim(name)),
    }
}
