//! Why a token was refused, and how that becomes an RFC 6750 §3 challenge.
//!
//! Every `Display` text is fixed: no token, claim value or upstream response ever reaches it, so
//! an error may be logged and its text sent as `error_description`. Problems on the resource
//! server's side (the issuer's keys or introspection endpoint unreachable) are not the client's
//! fault: they map to `503`, carry no `WWW-Authenticate` and reveal nothing.

use warden_types::JwsAlgorithm;

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
    /// An encrypted JWT (compact JWE, five parts) and no decryption key is configured
    /// ([`ValidatorBuilder::decryption_key_pem`](crate::ValidatorBuilder::decryption_key_pem);
    /// [RFC 9068 §4] step 2).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    #[error("encrypted access tokens are not supported")]
    Encrypted,
    /// An encrypted JWT that does not decrypt with the configured key (wrong key, an `alg` or
    /// `enc` other than `RSA-OAEP-256`/`ECDH-ES` with `A256GCM`/`A128GCM`, altered parts), or
    /// whose content is not a nested JWT (`cty` `JWT`, [RFC 7519 §5.2]).
    ///
    /// [RFC 7519 §5.2]: https://www.rfc-editor.org/rfc/rfc7519#section-5.2
    #[error("the encrypted access token could not be decrypted")]
    Undecryptable,
    /// A DPoP-bound token (`cnf.jkt`, or `token_type` `DPoP` from introspection) presented as a
    /// bearer token ([RFC 9449 §7.2]).
    ///
    /// [RFC 9449 §7.2]: https://www.rfc-editor.org/rfc/rfc9449#section-7.2
    #[error("a DPoP-bound token must be presented with the DPoP scheme")]
    DpopBoundAsBearer,
    /// The `DPoP` scheme with a token that is not bound to a DPoP key ([RFC 9449 §7.1]).
    ///
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    #[error("the access token is not bound to a DPoP key")]
    NotDpopBound,
    /// The DPoP proof's key is not the key the token is bound to: its RFC 7638 thumbprint
    /// differs from `cnf.jkt` ([RFC 9449 §7.1]).
    ///
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    #[error("the DPoP proof key does not match the token's binding")]
    DpopKeyMismatch,
    /// The DPoP proof is missing or fails a check of [RFC 9449 §4.3]; the text names the
    /// check. Answered with `error="invalid_dpop_proof"`.
    ///
    /// [RFC 9449 §4.3]: https://www.rfc-editor.org/rfc/rfc9449#section-4.3
    #[error("the DPoP proof is invalid: {0}")]
    InvalidDpopProof(&'static str),
    /// The resource server requires a DPoP nonce and the proof has none, or a stale one
    /// ([RFC 9449 §9]). Carries the nonce to send in the `DPoP-Nonce` header; it is not part
    /// of the text.
    ///
    /// [RFC 9449 §9]: https://www.rfc-editor.org/rfc/rfc9449#section-9
    #[error("the resource server requires a DPoP nonce")]
    UseDpopNonce(
        /// The nonce the client must use.
        String,
    ),
    /// A certificate-bound token (`cnf["x5t#S256"]`, [RFC 8705 §3]) and the request came
    /// without a client certificate.
    ///
    /// [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3
    #[error("certificate-bound token presented without its certificate")]
    CertificateRequired,
    /// A certificate-bound token and the request's client certificate is another one
    /// ([RFC 8705 §3]).
    ///
    /// [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3
    #[error("the client certificate does not match the token's binding")]
    CertificateMismatch,
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
    /// The DPoP replay cache is full of unexpired proofs, so a new one cannot be remembered
    /// ([`ValidatorBuilder::dpop_replay_cache_capacity`](crate::ValidatorBuilder::dpop_replay_cache_capacity)).
    /// Server-side: `503`.
    #[error("the DPoP replay cache is full")]
    ReplayCacheFull,
}

impl ValidationError {
    /// Whether the resource server, not the token, is at fault (answer `503`, not `401`).
    pub fn is_server_error(&self) -> bool {
        matches!(
            self,
            Self::KeysUnavailable | Self::IntrospectionUnavailable | Self::ReplayCacheFull
        )
    }

    /// The error code of the challenge: `invalid_dpop_proof` and `use_dpop_nonce`
    /// ([RFC 9449 §7.1], §9), `temporarily_unavailable` for server-side errors, else
    /// `invalid_token` ([RFC 6750 §3.1]).
    ///
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    pub fn error_code(&self) -> &'static str {
        match self {
            e if e.is_server_error() => "temporarily_unavailable",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce(_) => "use_dpop_nonce",
            _ => "invalid_token",
        }
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

/// The outcome of authenticating an HTTP request with a bearer ([RFC 6750 §3]) or DPoP
/// ([RFC 9449 §7]) token; what the axum extractor and layer turn into a response.
///
/// [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
/// [RFC 9449 §7]: https://www.rfc-editor.org/rfc/rfc9449#section-7
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` or `Authorization: DPoP` header. [RFC 6750 §3.1]: "If the
    /// request lacks any authentication information …, the resource server SHOULD NOT include
    /// an error code". Answered with both challenges, `Bearer realm="…"` and `DPoP algs="…"`.
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
    /// The token, presented with the `Bearer` scheme, was refused: a `Bearer` challenge.
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
    /// The token or its proof, presented with the `DPoP` scheme, was refused: a `DPoP`
    /// challenge with `error="invalid_token"`, `"invalid_dpop_proof"` or `"use_dpop_nonce"`
    /// ([RFC 9449 §7.1]).
    ///
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    #[error(transparent)]
    Dpop(ValidationError),
    /// Like [`InsufficientScope`](Self::InsufficientScope), for a request with the `DPoP`
    /// scheme: the challenge is a `DPoP` one.
    #[error("the token lacks a required scope")]
    DpopInsufficientScope(
        /// The scopes the request needs, space-separated.
        String,
    ),
}

impl AuthError {
    /// The error code of the challenge, if any: RFC 6750 §3.1 codes, and RFC 9449's
    /// `invalid_dpop_proof` and `use_dpop_nonce`.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest => Some("invalid_request"),
            Self::Token(e) | Self::Dpop(e) => Some(e.error_code()),
            Self::InsufficientScope(_) | Self::DpopInsufficientScope(_) => {
                Some("insufficient_scope")
            }
        }
    }

    /// The HTTP status ([RFC 6750 §3.1]): 400, 401, 403, or 503 for server-side problems.
    ///
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken => 401,
            Self::InvalidRequest => 400,
            Self::Token(e) | Self::Dpop(e) => e.status(),
            Self::InsufficientScope(_) | Self::DpopInsufficientScope(_) => 403,
        }
    }

    /// The nonce to send in a `DPoP-Nonce` header ([RFC 9449 §9]) with a `use_dpop_nonce`
    /// error.
    ///
    /// [RFC 9449 §9]: https://www.rfc-editor.org/rfc/rfc9449#section-9
    pub fn dpop_nonce(&self) -> Option<&str> {
        match self {
            Self::Dpop(ValidationError::UseDpopNonce(nonce)) => Some(nonce),
            _ => None,
        }
    }

    /// The first `WWW-Authenticate` challenge ([RFC 6750 §3], [RFC 9449 §7.1]) with the
    /// default DPoP algorithms, or `None` for server-side errors. See
    /// [`challenges`](Self::challenges) for all of them.
    ///
    /// [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        self.challenges(realm, &crate::validator::DEFAULT_DPOP_ALGORITHMS)
            .into_iter()
            .next()
    }

    /// Every `WWW-Authenticate` challenge to answer with, one header value each (none for
    /// server-side errors):
    ///
    /// - no credentials: `Bearer realm="…"` and `DPoP algs="…"`;
    /// - a `Bearer` request: the RFC 6750 challenge, `Bearer realm="…", error="…",
    ///   error_description="…"` (plus `scope="…"`), and for a DPoP-bound token sent as bearer
    ///   also `DPoP algs="…"`;
    /// - a `DPoP` request: `DPoP error="…", error_description="…", algs="…"` (plus
    ///   `scope="…"`), as in [RFC 9449 §7.1].
    ///
    /// `dpop_algs` are the proof algorithms the resource server accepts.
    ///
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    pub fn challenges(&self, realm: &str, dpop_algs: &[JwsAlgorithm]) -> Vec<String> {
        let algs = quote(
            &dpop_algs
                .iter()
                .map(|alg| alg.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let bearer = format!("Bearer realm={}", quote(realm));
        let description = quote(&self.to_string());
        match self {
            Self::MissingToken => vec![bearer, format!("DPoP algs={algs}")],
            Self::Token(e) | Self::Dpop(e) if e.is_server_error() => Vec::new(),
            Self::InvalidRequest | Self::Token(_) => {
                let code = self.error_code().unwrap_or("invalid_token");
                let mut challenges = vec![format!(
                    "{bearer}, error=\"{code}\", error_description={description}"
                )];
                if matches!(self, Self::Token(ValidationError::DpopBoundAsBearer)) {
                    challenges.push(format!("DPoP algs={algs}"));
                }
                challenges
            }
            Self::InsufficientScope(scope) => vec![format!(
                "{bearer}, error=\"insufficient_scope\", error_description={description}, scope={}",
                quote(scope)
            )],
            Self::Dpop(e) => vec![format!(
                "DPoP error=\"{}\", error_description={description}, algs={algs}",
                e.error_code()
            )],
            Self::DpopInsufficientScope(scope) => vec![format!(
                "DPoP error=\"insufficient_scope\", error_description={description}, scope={}, algs={algs}",
                quote(scope)
            )],
        }
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

    #[test]
    fn dpop_challenges() {
        let algs = [JwsAlgorithm::ES256, JwsAlgorithm::EdDSA];
        assert_eq!(
            AuthError::MissingToken.challenges("api", &algs),
            [r#"Bearer realm="api""#, r#"DPoP algs="ES256 EdDSA""#]
        );
        assert_eq!(
            AuthError::Dpop(ValidationError::InvalidDpopProof("htm")).challenges("api", &algs),
            [
                r#"DPoP error="invalid_dpop_proof", error_description="the DPoP proof is invalid: htm", algs="ES256 EdDSA""#
            ]
        );
        let nonce = AuthError::Dpop(ValidationError::UseDpopNonce("n1".into()));
        assert_eq!(nonce.dpop_nonce(), Some("n1"));
        assert_eq!(nonce.status(), 401);
        assert!(nonce.challenges("api", &algs)[0].starts_with(r#"DPoP error="use_dpop_nonce""#));
        assert!(!nonce.challenges("api", &algs)[0].contains("n1"));
        let bound = AuthError::Token(ValidationError::DpopBoundAsBearer).challenges("api", &algs);
        assert!(bound[0].starts_with(r#"Bearer realm="api", error="invalid_token""#));
        assert_eq!(bound[1], r#"DPoP algs="ES256 EdDSA""#);
        assert_eq!(
            AuthError::DpopInsufficientScope("a b".into()).challenges("api", &algs),
            [
                r#"DPoP error="insufficient_scope", error_description="the token lacks a required scope", scope="a b", algs="ES256 EdDSA""#
            ]
        );
        assert!(
            AuthError::Dpop(ValidationError::ReplayCacheFull)
                .challenges("api", &algs)
                .is_empty()
        );
        assert_eq!(
            AuthError::Token(ValidationError::CertificateRequired)
                .www_authenticate("api")
                .unwrap(),
            r#"Bearer realm="api", error="invalid_token", error_description="certificate-bound token presented without its certificate""#
        );
    }
}
