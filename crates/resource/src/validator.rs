//! [`Validator`] and its [`ValidatorBuilder`]: discovery, the key cache, and the RFC 9068 §4
//! validation steps.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::oneshot;
use url::Url;
use warden_jose::{JoseError, MAX_COMPACT_JWS_LEN, VerifyingKeySet, parse_compact};
use warden_types::JwsAlgorithm;

use crate::clock::Clock;
use crate::discovery::discover;
use crate::introspection::Introspector;
use crate::jwks::{JwksCache, Refetch};
use crate::token::{AccessToken, TokenSource, audience, numeric_date};
use crate::{BuildError, ValidationError};

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
    inner: Arc<Inner>,
}

struct Inner {
    expect: Expectations,
    realm: String,
    algorithms: Vec<JwsAlgorithm>,
    clock: Clock,
    jwks: JwksCache,
    introspection: Option<Introspector>,
    /// Dropping it (with the last `Validator`) stops the background refresh.
    _stop_refresh: Option<oneshot::Sender<()>>,
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

    /// Validates a bearer token: a JWT access token ([RFC 9068]) locally with the cached
    /// keys, refetching them once (rate-limited) when the `kid` is unknown; an opaque token
    /// through introspection ([RFC 7662]) when configured, with a cache.
    ///
    /// Scopes are not checked here: see [`AccessToken::has_scopes`] or the axum layer.
    ///
    /// [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068
    /// [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662
    pub async fn validate(&self, token: &str) -> Result<AccessToken, ValidationError> {
        let inner = &self.inner;
        match shape(token)? {
            Shape::Jwe => Err(ValidationError::Encrypted),
            Shape::Jws => {
                let keys = inner.jwks.current();
                match inner.check_jws(token, &keys) {
                    Err(ValidationError::UnknownKey) => match inner.jwks.refetch(&keys).await {
                        Refetch::Retry => inner.check_jws(token, &inner.jwks.current()),
                        Refetch::RateLimited => Err(ValidationError::UnknownKey),
                        Refetch::Failed => Err(ValidationError::KeysUnavailable),
                    },
                    other => other,
                }
            }
            Shape::Opaque => {
                let introspector = inner
                    .introspection
                    .as_ref()
                    .ok_or(ValidationError::OpaqueNotAccepted)?;
                let now = inner.clock.now();
                match introspector.cached(token, now) {
                    Some(cached) => Ok(cached),
                    None => introspector.introspect(token, &inner.expect, now).await,
                }
            }
        }
    }

    /// The synchronous fast path: validates with what is cached, without any I/O. `None`
    /// when the answer needs the network (a JWT whose `kid` is not in the cached keys, or an
    /// opaque token without a fresh cached introspection answer); call
    /// [`validate`](Self::validate) then.
    pub fn validate_cached(&self, token: &str) -> Option<Result<AccessToken, ValidationError>> {
        let inner = &self.inner;
        match shape(token) {
            Err(e) => Some(Err(e)),
            Ok(Shape::Jwe) => Some(Err(ValidationError::Encrypted)),
            Ok(Shape::Jws) => match inner.check_jws(token, &inner.jwks.current()) {
                Err(ValidationError::UnknownKey) => None,
                other => Some(other),
            },
            Ok(Shape::Opaque) => match &inner.introspection {
                None => Some(Err(ValidationError::OpaqueNotAccepted)),
                Some(introspector) => introspector.cached(token, inner.clock.now()).map(Ok),
            },
        }
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("issuer", &self.inner.expect.issuer)
            .field("audience", &self.inner.expect.audience)
            .field("algorithms", &self.inner.algorithms)
            .field("introspection", &self.inner.introspection.is_some())
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
    if !b64token || token.len() > MAX_COMPACT_JWS_LEN {
        return Err(ValidationError::Malformed);
    }
    Ok(match token.bytes().filter(|b| *b == b'.').count() {
        2 => Shape::Jws,
        4 => Shape::Jwe,
        _ => Shape::Opaque,
    })
}

impl Inner {
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
