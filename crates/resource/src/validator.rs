//! [`Validator`] and its [`ValidatorBuilder`]: discovery, the key cache, and the RFC 9068 §4
//! validation steps.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::oneshot;
use url::Url;
use warden_jose::{
    JoseError, JweAlgorithm, JweDecrypter, JweEncryption, MAX_COMPACT_JWS_LEN, VerifyingKeySet,
    base64url_encode, parse_compact, sha256,
};
use warden_types::JwsAlgorithm;

use crate::clock::Clock;
use crate::discovery::discover;
use crate::dpop::{DpopVerifier, NonceKey};
use crate::introspection::Introspector;
use crate::jwks::{JwksCache, Refetch};
use crate::request::{RequestInfo, Scheme, credentials, pem_block};
use crate::token::{AccessToken, TokenSource, audience, numeric_date};
use crate::{AuthError, BuildError, ValidationError};

/// The default clock-skew leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway accepted. RFC 9068 §4: "usually no more than a few minutes".
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// The default interval of the background JWKS refresh (Warden's JWKS `max-age`).
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(300);
/// The default minimum time between two JWKS fetches caused by unknown `kid`s.
pub const DEFAULT_MIN_REFETCH: Duration = Duration::from_secs(30);
/// The default longest time an active introspection answer is reused.
pub const DEFAULT_INTROSPECTION_TTL: Duration = Duration::from_secs(60);
/// The default bound on cached introspection answers.
pub const DEFAULT_INTROSPECTION_CACHE: usize = 10_000;
/// The default algorithm allow-list: what Warden signs with, and their stronger-hash variants.
/// Never `none` (not representable) and never HMAC ([RFC 8725 §2.1]).
///
/// [RFC 8725 §2.1]: https://www.rfc-editor.org/rfc/rfc8725#section-2.1
pub const DEFAULT_ALGORITHMS: [JwsAlgorithm; 9] = JwsAlgorithm::ASYMMETRIC;
/// The default DPoP proof algorithms ([RFC 9449 §4.3]): every asymmetric JWS algorithm,
/// elliptic curves first (the order of `algs` in challenges); never `none` or HMAC.
///
/// [RFC 9449 §4.3]: https://www.rfc-editor.org/rfc/rfc9449#section-4.3
pub const DEFAULT_DPOP_ALGORITHMS: [JwsAlgorithm; 9] = [
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::EdDSA,
    JwsAlgorithm::PS256,
    JwsAlgorithm::PS384,
    JwsAlgorithm::PS512,
    JwsAlgorithm::RS256,
    JwsAlgorithm::RS384,
    JwsAlgorithm::RS512,
];
/// The default longest age of a DPoP proof (its `iat`), before the leeway.
pub const DEFAULT_DPOP_PROOF_MAX_AGE: Duration = Duration::from_secs(60);
/// The default lifetime of a resource-server DPoP nonce window.
pub const DEFAULT_DPOP_NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// The default bound on remembered DPoP proof `jti`s.
pub const DEFAULT_DPOP_REPLAY_CACHE: usize = 100_000;
/// The longest encrypted (JWE) access token accepted, in bytes.
pub const MAX_ENCRYPTED_TOKEN_LEN: usize = 64 * 1024;

/// What every token must match; shared by the JWT and introspection paths.
#[derive(Debug)]
pub(crate) struct Expectations {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: i64,
}

/// Validates access tokens for one resource server (one audience) of one issuer.
///
/// Cheap to clone (an `Arc` inside); share one per process. Built with
/// [`Validator::builder`] or [`Validator::new`], which fetch the issuer's metadata
/// ([RFC 8414]) and JWK Set ([RFC 7517]) and start a background task that refreshes the keys
/// until the last clone is dropped.
///
/// [RFC 8414]: https://www.rfc-editor.org/rfc/rfc8414
/// [RFC 7517]: https://www.rfc-editor.org/rfc/rfc7517
#[derive(Clone)]
pub struct Validator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    expect: Expectations,
    realm: String,
    algorithms: Vec<JwsAlgorithm>,
    clock: Clock,
    jwks: JwksCache,
    introspection: Option<Introspector>,
    dpop: DpopVerifier,
    decrypter: Option<JweDecrypter>,
    pub(crate) public_url: Option<Url>,
    pub(crate) trust_forwarded_proto: bool,
    pub(crate) certificate_header: Option<CertificateHeader>,
    /// Dropping it (with the last `Validator`) stops the background refresh.
    _stop_refresh: Option<oneshot::Sender<()>>,
}

/// A proxy header that carries the client certificate, and the proxies it is taken from.
pub(crate) struct CertificateHeader {
    pub(crate) name: String,
    pub(crate) trusted_proxies: Vec<IpAddr>,
    /// Whether the "header from an untrusted peer" warning was logged already.
    pub(crate) warned: AtomicBool,
}

/// The shape of a bearer token string.
enum Shape {
    /// Three dot-separated parts: a compact JWS (RFC 7515 §7.1).
    Jws,
    /// Five parts: a compact JWE (RFC 7516 §7.1).
    Jwe,
    /// Anything else in the RFC 6750 §2.1 `b64token` alphabet.
    Opaque,
}

impl Validator {
    /// Starts configuring a validator for tokens of `issuer` meant for `audience`. Both are
    /// required and compared exactly ([RFC 9068 §4]): the issuer with `iss` and the metadata's
    /// `issuer`, the audience with `aud` (your API identifier, [RFC 8707]).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    /// [RFC 8707]: https://www.rfc-editor.org/rfc/rfc8707
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> ValidatorBuilder {
        ValidatorBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: DEFAULT_LEEWAY,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            refresh_interval: DEFAULT_JWKS_REFRESH,
            min_refetch: DEFAULT_MIN_REFETCH,
            http: None,
            introspection: None,
            introspection_endpoint: None,
            introspection_ttl: DEFAULT_INTROSPECTION_TTL,
            introspection_capacity: DEFAULT_INTROSPECTION_CACHE,
            realm: None,
            clock: Clock::system(),
            dpop_algorithms: DEFAULT_DPOP_ALGORITHMS.to_vec(),
            dpop_max_age: DEFAULT_DPOP_PROOF_MAX_AGE,
            dpop_nonce_secret: None,
            dpop_nonce_lifetime: DEFAULT_DPOP_NONCE_LIFETIME,
            dpop_replay_capacity: DEFAULT_DPOP_REPLAY_CACHE,
            decrypter: None,
            public_url: None,
            trust_forwarded_proto: false,
            certificate_header: None,
        }
    }

    /// A validator with every default: `Validator::builder(issuer, audience).build()`.
    pub async fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, BuildError> {
        Self::builder(issuer, audience).build().await
    }

    /// The configured issuer ([RFC 9068 §4] step 3).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    pub fn issuer(&self) -> &str {
        &self.inner.expect.issuer
    }

    /// The configured audience ([RFC 9068 §4] step 4).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    pub fn audience(&self) -> &str {
        &self.inner.expect.audience
    }

    /// The `realm` of this resource server's challenges ([RFC 6750 §3]).
    ///
    /// [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// The DPoP proof algorithms accepted, as advertised in `DPoP algs="…"` challenges.
    pub fn dpop_algorithms(&self) -> &[JwsAlgorithm] {
        &self.inner.dpop.algorithms
    }

    /// Validates a bearer token: a JWT access token ([RFC 9068]) locally with the cached
    /// keys, refetching them once (rate-limited) when the `kid` is unknown; an encrypted JWT
    /// (compact JWE) by decrypting it first when a decryption key is configured; an opaque
    /// token through introspection ([RFC 7662]) when configured, with a cache.
    ///
    /// Sender-constrained tokens are refused here, since a bare token string proves nothing
    /// about its sender: a DPoP-bound token with [`ValidationError::DpopBoundAsBearer`], a
    /// certificate-bound one with [`ValidationError::CertificateRequired`]. Use
    /// [`validate_request`](Self::validate_request) (or the axum integration) to accept them.
    ///
    /// Scopes are not checked here: see [`AccessToken::has_scopes`] or the axum layer.
    ///
    /// [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068
    /// [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662
    pub async fn validate(&self, token: &str) -> Result<AccessToken, ValidationError> {
        let access_token = self.validate_token(token).await?;
        bearer_binding(&access_token, None)?;
        Ok(access_token)
    }

    /// The synchronous fast path: validates with what is cached, without any I/O. `None`
    /// when the answer needs the network (a JWT whose `kid` is not in the cached keys, or an
    /// opaque token without a fresh cached introspection answer); call
    /// [`validate`](Self::validate) then. Like [`validate`](Self::validate), refuses
    /// sender-constrained tokens.
    pub fn validate_cached(&self, token: &str) -> Option<Result<AccessToken, ValidationError>> {
        Some(
            self.validate_token_cached(token)?
                .and_then(|t| bearer_binding(&t, None).map(|()| t)),
        )
    }

    /// Authenticates a request ([`RequestInfo`]): the general entry point, which the axum
    /// extractor and layer use.
    ///
    /// - `Authorization: Bearer <token>`: the token is validated as by
    ///   [`validate`](Self::validate); a DPoP-bound token is refused
    ///   ([RFC 9449 §7.2]); a certificate-bound token ([RFC 8705 §3]) is accepted only if the
    ///   request's client certificate hashes to its `cnf["x5t#S256"]`.
    /// - `Authorization: DPoP <token>` with exactly one `DPoP` header ([RFC 9449 §7.1]): the
    ///   proof is verified (`typ`, asymmetric `alg` from
    ///   [`dpop_algorithms`](ValidatorBuilder::dpop_algorithms), public `jwk`, signature,
    ///   `htm`, `htu`, `iat` within [`dpop_proof_max_age`](ValidatorBuilder::dpop_proof_max_age)
    ///   plus the leeway, `ath`, `nonce` when
    ///   [nonces](ValidatorBuilder::dpop_nonce_secret) are on), the token is validated, its
    ///   `cnf.jkt` must be the proof key's thumbprint, a certificate binding is checked as
    ///   above, and the proof's `jti` is remembered: a replay is refused. The replay cache is
    ///   per process (per `Validator` and its clones).
    ///
    /// Errors are [`AuthError::Token`] for bearer requests and [`AuthError::Dpop`] for DPoP
    /// ones, so the challenge uses the scheme of the request.
    ///
    /// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
    /// [RFC 9449 §7.2]: https://www.rfc-editor.org/rfc/rfc9449#section-7.2
    /// [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3
    pub async fn validate_request(&self, request: &RequestInfo) -> Result<AccessToken, AuthError> {
        let (scheme, token) = credentials(request)?;
        let certificate = request.peer_certificate.as_deref();
        match scheme {
            Scheme::Bearer => {
                let access_token = self.validate_token(token).await?;
                bearer_binding(&access_token, Some(certificate))?;
                Ok(access_token)
            }
            Scheme::Dpop => {
                let proof = match request.dpop.as_slice() {
                    [one] => one,
                    [] => {
                        return Err(AuthError::Dpop(ValidationError::InvalidDpopProof(
                            "the DPoP header is missing",
                        )));
                    }
                    _ => {
                        return Err(AuthError::Dpop(ValidationError::InvalidDpopProof(
                            "more than one DPoP header",
                        )));
                    }
                };
                let dpop = &self.inner.dpop;
                let now = self.inner.clock.now();
                let checked = dpop
                    .check(proof, &request.method, request.url.as_deref(), token, now)
                    .map_err(AuthError::Dpop)?;
                let access_token = self.validate_token(token).await.map_err(AuthError::Dpop)?;
                // RFC 9449 §7.1: the proof key must be the key the token is bound to.
                match access_token.dpop_jkt() {
                    None => return Err(AuthError::Dpop(ValidationError::NotDpopBound)),
                    Some(jkt) if jkt != checked.jkt => {
                        return Err(AuthError::Dpop(ValidationError::DpopKeyMismatch));
                    }
                    Some(_) => {}
                }
                certificate_binding(&access_token, certificate).map_err(AuthError::Dpop)?;
                dpop.record(&checked, now).map_err(AuthError::Dpop)?;
                Ok(access_token)
            }
        }
    }

    /// A fresh resource-server DPoP nonce when nonces are on
    /// ([`dpop_nonce_secret`](ValidatorBuilder::dpop_nonce_secret)), e.g. to send in a
    /// `DPoP-Nonce` header of a successful response ([RFC 9449 §9]).
    ///
    /// [RFC 9449 §9]: https://www.rfc-editor.org/rfc/rfc9449#section-9
    pub fn dpop_nonce(&self) -> Option<String> {
        self.inner.dpop.nonce(self.inner.clock.now())
    }

    /// Every check of the token itself, without the sender constraint.
    async fn validate_token(&self, token: &str) -> Result<AccessToken, ValidationError> {
        let inner = &self.inner;
        let decrypted;
        let jws = match shape(token)? {
            Shape::Jwe => {
                decrypted = inner.decrypt(token)?;
                decrypted.as_str()
            }
            Shape::Jws => token,
            Shape::Opaque => {
                let introspector = inner
                    .introspection
                    .as_ref()
                    .ok_or(ValidationError::OpaqueNotAccepted)?;
                let now = inner.clock.now();
                return match introspector.cached(token, now) {
                    Some(cached) => Ok(cached),
                    None => introspector.introspect(token, &inner.expect, now).await,
                };
            }
        };
        let keys = inner.jwks.current();
        match inner.check_jws(jws, &keys) {
            Err(ValidationError::UnknownKey) => match inner.jwks.refetch(&keys).await {
                Refetch::Retry => inner.check_jws(jws, &inner.jwks.current()),
                Refetch::RateLimited => Err(ValidationError::UnknownKey),
                Refetch::Failed => Err(ValidationError::KeysUnavailable),
            },
            other => other,
        }
    }

    fn validate_token_cached(&self, token: &str) -> Option<Result<AccessToken, ValidationError>> {
        let inner = &self.inner;
        let decrypted;
        let jws = match shape(token) {
            Err(e) => return Some(Err(e)),
            Ok(Shape::Jwe) => match inner.decrypt(token) {
                Ok(jws) => {
                    decrypted = jws;
                    decrypted.as_str()
                }
                Err(e) => return Some(Err(e)),
            },
            Ok(Shape::Jws) => token,
            Ok(Shape::Opaque) => {
                return match &inner.introspection {
                    None => Some(Err(ValidationError::OpaqueNotAccepted)),
                    Some(introspector) => introspector.cached(token, inner.clock.now()).map(Ok),
                };
            }
        };
        match inner.check_jws(jws, &inner.jwks.current()) {
            Err(ValidationError::UnknownKey) => None,
            other => Some(other),
        }
    }
}

/// The sender constraint of a token presented as a bearer token: never DPoP-bound
/// (RFC 9449 §7.2); certificate-bound only with the matching certificate (`None`: the caller
/// knows nothing about the connection).
fn bearer_binding(
    token: &AccessToken,
    certificate: Option<Option<&[u8]>>,
) -> Result<(), ValidationError> {
    if token.is_dpop_bound() {
        return Err(ValidationError::DpopBoundAsBearer);
    }
    certificate_binding(token, certificate.flatten())
}

/// RFC 8705 §3: a token with `cnf["x5t#S256"]` needs the client certificate whose DER hashes
/// to it.
fn certificate_binding(
    token: &AccessToken,
    certificate: Option<&[u8]>,
) -> Result<(), ValidationError> {
    let Some(expected) = token.certificate_thumbprint() else {
        return Ok(());
    };
    let der = certificate.ok_or(ValidationError::CertificateRequired)?;
    if base64url_encode(&sha256(der)) != expected {
        return Err(ValidationError::CertificateMismatch);
    }
    Ok(())
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("issuer", &self.inner.expect.issuer)
            .field("audience", &self.inner.expect.audience)
            .field("algorithms", &self.inner.algorithms)
            .field("introspection", &self.inner.introspection.is_some())
            .field("decryption", &self.inner.decrypter.is_some())
            .field("dpop_nonces", &self.inner.dpop.nonces_enabled())
            .finish_non_exhaustive()
    }
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn shape(token: &str) -> Result<Shape, ValidationError> {
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !b64token {
        return Err(ValidationError::Malformed);
    }
    let shape = match token.bytes().filter(|b| *b == b'.').count() {
        2 => Shape::Jws,
        4 => Shape::Jwe,
        _ => Shape::Opaque,
    };
    let limit = match shape {
        Shape::Jwe => MAX_ENCRYPTED_TOKEN_LEN,
        Shape::Jws | Shape::Opaque => MAX_COMPACT_JWS_LEN,
    };
    if token.len() > limit {
        return Err(ValidationError::Malformed);
    }
    Ok(shape)
}

impl Inner {
    /// RFC 9068 §4 step 2 for encrypted tokens: decrypt with the configured key (only
    /// `RSA-OAEP-256`/`ECDH-ES` with `A256GCM`/`A128GCM`); the content must be a nested JWT
    /// (`cty` `JWT`, RFC 7519 §5.2), which is then validated like any JWS.
    fn decrypt(&self, token: &str) -> Result<String, ValidationError> {
        let decrypter = self.decrypter.as_ref().ok_or(ValidationError::Encrypted)?;
        let (header, plaintext) = decrypter
            .decrypt(token)
            .map_err(|_| ValidationError::Undecryptable)?;
        if !header
            .cty()
            .is_some_and(|cty| cty.eq_ignore_ascii_case("JWT"))
        {
            return Err(ValidationError::Undecryptable);
        }
        let jws = String::from_utf8(plaintext).map_err(|_| ValidationError::Malformed)?;
        if jws.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(ValidationError::Malformed);
        }
        Ok(jws)
    }

    /// RFC 9068 §4, "Validating JWT Access Tokens", in the order that never reads a claim
    /// before the signature has been checked.
    fn check_jws(
        &self,
        token: &str,
        keys: &VerifyingKeySet,
    ) -> Result<AccessToken, ValidationError> {
        // parse_compact refuses `alg: none` and any unknown algorithm outright.
        let unverified = parse_compact(token).map_err(|e| match e {
            JoseError::UnsupportedAlgorithm => ValidationError::AlgorithmNotAllowed,
            _ => ValidationError::Malformed,
        })?;

        // Step 1: "The resource server MUST verify that the "typ" header value is "at+jwt"
        // or "application/at+jwt" and reject tokens carrying any other value." Media types
        // compare case-insensitively (RFC 7515 §4.1.9).
        let typ_ok = unverified.typ().is_some_and(|typ| {
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(ValidationError::WrongType);
        }

        // Step 5: "The resource server MUST validate the signature of all incoming JWT access
        // tokens according to [RFC7515] using the algorithm specified in the JWT "alg" Header
        // Parameter. The resource server MUST reject any JWT in which the value of "alg" is
        // "none". The resource server MUST use the keys provided by the authorization server."
        // The alg must be on the allow-list (never HMAC: build() refuses it) and supported by
        // the key with the token's kid; the keys are the issuer's JWKS only, never a header's
        // `jwk`/`jku`/`x5u` (RFC 8725 §3.1).
        if !self.algorithms.contains(&unverified.alg()) {
            return Err(ValidationError::AlgorithmNotAllowed);
        }
        let verified = unverified
            .verify_with_set::<Map<String, Value>>(keys, &self.algorithms)
            .map_err(|e| match e {
                JoseError::NoMatchingKey => ValidationError::UnknownKey,
                JoseError::AlgorithmNotAllowed | JoseError::UnsupportedAlgorithm => {
                    ValidationError::AlgorithmNotAllowed
                }
                JoseError::Malformed(_) => ValidationError::Malformed,
                _ => ValidationError::InvalidSignature,
            })?;
        let claims = verified.into_claims();
        let now = self.clock.now();
        let leeway = self.expect.leeway;

        // Step 3: "The issuer identifier for the authorization server (which is typically
        // obtained during discovery) MUST exactly match the value of the "iss" claim."
        if claims.get("iss").and_then(Value::as_str) != Some(self.expect.issuer.as_str()) {
            return Err(ValidationError::WrongIssuer);
        }

        // Step 4: "The resource server MUST validate that the "aud" claim contains a resource
        // indicator value corresponding to an identifier the resource server expects for
        // itself. The JWT access token MUST be rejected if "aud" does not contain a resource
        // indicator of the current resource server as a valid audience."
        let aud = audience(&claims).map_err(|_| ValidationError::WrongAudience)?;
        if !aud.contains(&self.expect.audience) {
            return Err(ValidationError::WrongAudience);
        }

        // Step 6: "The current time MUST be before the time represented by the "exp" claim.
        // Implementers MAY provide for some small leeway, usually no more than a few minutes,
        // to account for clock skew." `exp` is REQUIRED (RFC 9068 §2.2).
        let exp = numeric_date(&claims, "exp")?.ok_or(ValidationError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(ValidationError::Expired);
        }
        // RFC 7519 §4.1.5: the JWT "MUST NOT be accepted for processing" before `nbf`.
        if let Some(nbf) = numeric_date(&claims, "nbf")?
            && nbf > now.saturating_add(leeway)
        {
            return Err(ValidationError::NotYetValid);
        }
        // RFC 9068 §2.2: `iat` is REQUIRED; a token issued in the future (beyond the leeway)
        // comes from a broken or hostile clock.
        let iat = numeric_date(&claims, "iat")?.ok_or(ValidationError::MissingClaim("iat"))?;
        if iat > now.saturating_add(leeway) {
            return Err(ValidationError::IssuedInFuture);
        }
        // RFC 9068 §2.2: `jti` is REQUIRED as well; `sub` and `client_id` are read below.
        if !claims.get("jti").is_some_and(Value::is_string) {
            return Err(ValidationError::MissingClaim("jti"));
        }

        // Step 7 (authorization by scope) is the caller's: `AccessToken::has_scopes`, or the
        // axum layer.
        AccessToken::from_claims(claims, TokenSource::Jwt)
    }
}

/// Configures a [`Validator`]; see [`Validator::builder`].
#[must_use]
pub struct ValidatorBuilder {
    issuer: String,
    audience: String,
    leeway: Duration,
    algorithms: Vec<JwsAlgorithm>,
    refresh_interval: Duration,
    min_refetch: Duration,
    http: Option<reqwest::Client>,
    introspection: Option<(String, String)>,
    introspection_endpoint: Option<String>,
    introspection_ttl: Duration,
    introspection_capacity: usize,
    realm: Option<String>,
    clock: Clock,
    dpop_algorithms: Vec<JwsAlgorithm>,
    dpop_max_age: Duration,
    dpop_nonce_secret: Option<Vec<u8>>,
    dpop_nonce_lifetime: Duration,
    dpop_replay_capacity: usize,
    decrypter: Option<Result<JweDecrypter, &'static str>>,
    public_url: Option<String>,
    trust_forwarded_proto: bool,
    certificate_header: Option<(String, Vec<IpAddr>)>,
}

impl ValidatorBuilder {
    /// Clock-skew leeway for `exp`, `nbf` and `iat` ([RFC 9068 §4] step 6); default 30 s, at
    /// most [`MAX_LEEWAY`] (5 minutes).
    ///
    /// [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The JWS algorithms accepted ([RFC 8725 §3.1]); default [`DEFAULT_ALGORITHMS`]. Narrow it
    /// to your API's signing algorithm. HMAC algorithms are refused by
    /// [`build`](Self::build): a public key is never a shared secret.
    ///
    /// [RFC 8725 §3.1]: https://www.rfc-editor.org/rfc/rfc8725#section-3.1
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How often the background task refetches the JWK Set; default 5 minutes. Zero disables
    /// the background task (keys are then refetched only for unknown `kid`s).
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The minimum time between two JWKS fetches caused by tokens with an unknown `kid`;
    /// default 30 s.
    pub fn jwks_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    /// The HTTP client for discovery, keys and introspection. Default: a client with a 10 s
    /// timeout.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Enables introspection ([RFC 7662]) of opaque tokens, authenticating as this
    /// confidential client with `client_secret_basic` ([RFC 6749 §2.3.1]).
    ///
    /// # Security
    ///
    /// The secret is kept only inside the prepared `Authorization` header value and never
    /// logged or shown by `Debug`.
    ///
    /// [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662
    /// [RFC 6749 §2.3.1]: https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
    pub fn introspection(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.introspection = Some((client_id.into(), client_secret.into()));
        self
    }

    /// The introspection endpoint, when it should not come from the metadata's
    /// `introspection_endpoint` ([RFC 8414 §2]).
    ///
    /// [RFC 8414 §2]: https://www.rfc-editor.org/rfc/rfc8414#section-2
    pub fn introspection_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.introspection_endpoint = Some(endpoint.into());
        self
    }

    /// How long an active introspection answer is reused (never beyond the token's `exp`);
    /// default 60 s. This bounds how long a revoked opaque token keeps working here.
    pub fn introspection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.introspection_ttl = ttl;
        self
    }

    /// The most introspection answers kept; default 10 000.
    pub fn introspection_cache_capacity(mut self, capacity: usize) -> Self {
        self.introspection_capacity = capacity;
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges ([RFC 6750 §3]); default the audience.
    ///
    /// [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The clock for `exp`, `nbf`, `iat` and the introspection cache; default the system
    /// clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The DPoP proof algorithms accepted ([RFC 9449 §4.3]); default
    /// [`DEFAULT_DPOP_ALGORITHMS`]. HMAC algorithms are refused by [`build`](Self::build).
    ///
    /// [RFC 9449 §4.3]: https://www.rfc-editor.org/rfc/rfc9449#section-4.3
    pub fn dpop_algorithms(mut self, algorithms: impl IntoIterator<Item = JwsAlgorithm>) -> Self {
        self.dpop_algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old a DPoP proof may be (its `iat`), before the leeway is added; default 60 s, at
    /// most 5 minutes.
    pub fn dpop_proof_max_age(mut self, max_age: Duration) -> Self {
        self.dpop_max_age = max_age;
        self
    }

    /// Turns on resource-server DPoP nonces ([RFC 9449 §9]): every proof must then carry a
    /// `nonce` this validator (or another one with the same secret) issued; a proof without
    /// one, or with a stale one, is answered `401` with `error="use_dpop_nonce"` and a fresh
    /// nonce in the `DPoP-Nonce` header. Nonces are an HMAC of a time window under `secret`
    /// (at least 32 bytes), so every instance of the API that shares the secret accepts them.
    /// Off by default.
    ///
    /// [RFC 9449 §9]: https://www.rfc-editor.org/rfc/rfc9449#section-9
    pub fn dpop_nonce_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.dpop_nonce_secret = Some(secret.into());
        self
    }

    /// The length of a nonce window; a nonce is accepted during its window and the next one.
    /// Default 5 minutes.
    pub fn dpop_nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.dpop_nonce_lifetime = lifetime;
        self
    }

    /// The most DPoP proof `jti`s remembered to refuse replays; default 100 000. Each is kept
    /// until its proof is too old anyway (max age plus leeway); when the cache is full of
    /// unexpired entries, further DPoP requests get `503` rather than losing replay
    /// protection. The cache is per process.
    pub fn dpop_replay_cache_capacity(mut self, capacity: usize) -> Self {
        self.dpop_replay_capacity = capacity;
        self
    }

    /// The private key that decrypts encrypted JWT access tokens (compact JWE, for an API
    /// registered with an encryption key): an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE
    /// KEY-----`) holding an RSA key (2048 to 8192 bits, for `RSA-OAEP-256`) or an EC key on
    /// P-256 or P-384 (for `ECDH-ES`). Content encryption `A256GCM` or `A128GCM`. A key that
    /// cannot be read makes [`build`](Self::build) fail. Without a key, encrypted tokens are
    /// refused ([`ValidationError::Encrypted`]).
    pub fn decryption_key_pem(mut self, pem: &str) -> Self {
        self.decrypter = Some(
            pem_block(pem, "PRIVATE KEY")
                .ok_or("the decryption key is not a PKCS#8 PEM private key")
                .and_then(|der| {
                    JweDecrypter::from_pkcs8(&der, &JweAlgorithm::ALL, &JweEncryption::ALL)
                        .map_err(|_| "the decryption key is not a usable RSA or EC private key")
                }),
        );
        self
    }

    /// Like [`decryption_key_pem`](Self::decryption_key_pem), with a ready
    /// [`JweDecrypter`] (whose own allow-list applies).
    pub fn decryption_key(mut self, decrypter: JweDecrypter) -> Self {
        self.decrypter = Some(Ok(decrypter));
        self
    }

    /// The externally visible base URL of this API, e.g. `https://api.example.com` (or
    /// `https://example.com/api` when a proxy strips that prefix): the axum integration
    /// builds the URL a DPoP proof's `htu` must match from it and the request's path.
    ///
    /// Without it, the URL is `{scheme}://{Host}{path}`: the scheme is `http` (or the
    /// request URI's own), or the first `X-Forwarded-Proto` value when
    /// [`trust_forwarded_proto`](Self::trust_forwarded_proto) is on. Behind a proxy that
    /// terminates TLS, set this (or trust `X-Forwarded-Proto`), or DPoP proofs for
    /// `https://…` URLs never match. The path is the one the router sees: inside
    /// `Router::nest`, include the nest prefix in the base URL.
    pub fn public_url(mut self, base: impl Into<String>) -> Self {
        self.public_url = Some(base.into());
        self
    }

    /// Trust the `X-Forwarded-Proto` header for the scheme of the request URL (DPoP `htu`)
    /// when no [`public_url`](Self::public_url) is set. Only turn it on behind a proxy that
    /// sets the header itself. Off by default.
    pub fn trust_forwarded_proto(mut self, trust: bool) -> Self {
        self.trust_forwarded_proto = trust;
        self
    }

    /// Reads the client certificate (for certificate-bound tokens, [RFC 8705 §3]) from the
    /// request header `name` set by a TLS-terminating proxy, but only on connections from one
    /// of `trusted_proxies` (the peer address comes from axum's
    /// `ConnectInfo<SocketAddr>`, so serve with `into_make_service_with_connect_info`). The
    /// value is an RFC 9440 byte sequence (`:BASE64-DER:`) or a URL-encoded PEM certificate
    /// (nginx `$ssl_client_escaped_cert`). From any other peer, or without `ConnectInfo`, the
    /// header is ignored (and a warning logged once). A [`PeerCertificate`] extension, when
    /// present, takes precedence.
    ///
    /// [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3
    /// [`PeerCertificate`]: crate::PeerCertificate
    pub fn client_certificate_header(
        mut self,
        name: impl Into<String>,
        trusted_proxies: impl IntoIterator<Item = IpAddr>,
    ) -> Self {
        self.certificate_header = Some((
            name.into().to_ascii_lowercase(),
            trusted_proxies
                .into_iter()
                .map(|ip| ip.to_canonical())
                .collect(),
        ));
        self
    }

    /// Checks the options, fetches the issuer's metadata (OpenID Connect Discovery, then
    /// [RFC 8414 §3]) and JWK Set, and starts the background refresh (on the current tokio
    /// runtime).
    ///
    /// [RFC 8414 §3]: https://www.rfc-editor.org/rfc/rfc8414#section-3
    pub async fn build(self) -> Result<Validator, BuildError> {
        let issuer_url = Url::parse(&self.issuer)
            .map_err(|_| BuildError::InvalidConfig("the issuer is not a URL"))?;
        // RFC 8414 §2: the issuer uses "https" with no query or fragment (plain http is
        // tolerated for development and tests).
        if !matches!(issuer_url.scheme(), "https" | "http")
            || issuer_url.query().is_some()
            || issuer_url.fragment().is_some()
        {
            return Err(BuildError::InvalidConfig(
                "the issuer must be an https URL without query or fragment",
            ));
        }
        if self.audience.is_empty() {
            return Err(BuildError::InvalidConfig("the audience must not be empty"));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(BuildError::InvalidConfig("the leeway is above 5 minutes"));
        }
        if self.algorithms.is_empty() {
            return Err(BuildError::InvalidConfig("no algorithm is allowed"));
        }
        if self.algorithms.iter().any(|alg| alg.is_symmetric()) {
            return Err(BuildError::InvalidConfig(
                "HMAC algorithms are never accepted for access tokens",
            ));
        }
        if self.dpop_algorithms.is_empty() {
            return Err(BuildError::InvalidConfig(
                "no DPoP proof algorithm is allowed",
            ));
        }
        if self.dpop_algorithms.iter().any(|alg| alg.is_symmetric()) {
            return Err(BuildError::InvalidConfig(
                "HMAC algorithms are never accepted for DPoP proofs",
            ));
        }
        if self.dpop_max_age.is_zero() || self.dpop_max_age > MAX_LEEWAY {
            return Err(BuildError::InvalidConfig(
                "the DPoP proof max age must be between 1 s and 5 minutes",
            ));
        }
        if self
            .dpop_nonce_secret
            .as_ref()
            .is_some_and(|s| s.len() < 32)
        {
            return Err(BuildError::InvalidConfig(
                "the DPoP nonce secret must be at least 32 bytes",
            ));
        }
        if self.dpop_nonce_lifetime.is_zero() {
            return Err(BuildError::InvalidConfig(
                "the DPoP nonce lifetime must not be zero",
            ));
        }
        let decrypter = self
            .decrypter
            .transpose()
            .map_err(BuildError::InvalidConfig)?;
        let public_url = match &self.public_url {
            None => None,
            Some(base) => {
                let url = Url::parse(base)
                    .ok()
                    .filter(|u| {
                        matches!(u.scheme(), "http" | "https")
                            && u.host().is_some()
                            && u.query().is_none()
                            && u.fragment().is_none()
                    })
                    .ok_or(BuildError::InvalidConfig(
                        "the public URL must be an http(s) URL without query or fragment",
                    ))?;
                Some(url)
            }
        };
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let dpop = DpopVerifier::new(
            self.dpop_algorithms,
            secs(self.dpop_max_age),
            secs(self.leeway),
            self.dpop_nonce_secret
                .as_deref()
                .map(|secret| NonceKey::new(secret, secs(self.dpop_nonce_lifetime))),
            self.dpop_replay_capacity,
        );
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|_| BuildError::HttpClient)?,
        };

        let metadata = discover(&http, &self.issuer, &issuer_url).await?;
        let jwks = JwksCache::load(metadata.jwks_uri.clone(), http.clone(), self.min_refetch)
            .await
            .map_err(|error| {
                tracing::warn!(jwks_uri = %metadata.jwks_uri, %error, "JWKS fetch failed");
                BuildError::Jwks
            })?;
        let introspection = match self.introspection {
            None => None,
            Some((client_id, client_secret)) => {
                let endpoint = self
                    .introspection_endpoint
                    .or(metadata.introspection_endpoint)
                    .ok_or(BuildError::NoIntrospectionEndpoint)?;
                Some(Introspector::new(
                    endpoint,
                    &client_id,
                    &client_secret,
                    http.clone(),
                    i64::try_from(self.introspection_ttl.as_secs()).unwrap_or(i64::MAX),
                    self.introspection_capacity,
                ))
            }
        };

        let (stop_tx, stop_rx) = oneshot::channel();
        let refresh = !self.refresh_interval.is_zero();
        let inner = Arc::new(Inner {
            realm: self.realm.unwrap_or_else(|| self.audience.clone()),
            expect: Expectations {
                issuer: self.issuer,
                audience: self.audience,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(0),
            },
            algorithms: self.algorithms,
            clock: self.clock,
            jwks,
            introspection,
            dpop,
            decrypter,
            public_url,
            trust_forwarded_proto: self.trust_forwarded_proto,
            certificate_header: self.certificate_header.map(|(name, trusted_proxies)| {
                CertificateHeader {
                    name,
                    trusted_proxies,
                    warned: AtomicBool::new(false),
                }
            }),
            _stop_refresh: refresh.then_some(stop_tx),
        });
        if refresh {
            spawn_refresh(Arc::downgrade(&inner), self.refresh_interval, stop_rx);
        }
        Ok(Validator { inner })
    }
}

/// The background refresh: holds only a `Weak`, and stops as soon as the last `Validator` is
/// dropped (its `oneshot::Sender` goes with it).
fn spawn_refresh(
    inner: std::sync::Weak<Inner>,
    interval: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + interval;
        let mut ticker = tokio::time::interval_at(start, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticker.tick() => {
                    let Some(inner) = inner.upgrade() else { break };
                    inner.jwks.refresh().await;
                }
            }
        }
    });
}
