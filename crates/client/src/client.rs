//! [`Client`]: token acquisition with a single-flight cache, token exchange, and the reqwest
//! integration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::credentials::Credentials;
use crate::dpop::{DPOP_HEADER, DpopKey, Nonces, origin};
use crate::token::{AccessToken, parse_response};
use crate::{Error, discovery};

/// RFC 8693 §2.1 `grant_type` of a token exchange.
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// RFC 8693 §3: the token type URI of an OAuth 2.0 access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Timeout of the default HTTP client for discovery and token requests.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of an OAuth 2.0 authorization server such as Warden: it obtains access tokens with
/// the client credentials grant ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4))
/// for one API at a time ([RFC 8707](https://www.rfc-editor.org/rfc/rfc8707) `resource`),
/// caches them, and exchanges tokens ([RFC 8693](https://www.rfc-editor.org/rfc/rfc8693)).
///
/// Cheap to clone: clones share the configuration, the HTTP connection pool and the cache.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    token_endpoint: String,
    credentials: Credentials,
    refresh_ahead: Option<Duration>,
    /// The DPoP key: token requests carry proofs and tokens come back DPoP-bound.
    dpop: Option<DpopKey>,
    /// The latest `DPoP-Nonce` per origin (token endpoint and APIs).
    nonces: Nonces,
    /// One slot per (audience, sorted scopes). The async mutex of a slot is held across the
    /// token request, which is what makes concurrent callers share one request.
    cache: StdMutex<HashMap<CacheKey, Arc<Mutex<Option<Cached>>>>>,
}

/// The cache key: the audience and the requested scopes, sorted and deduplicated, so
/// `["b", "a"]` and `["a", "b", "a"]` share a token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    audience: String,
    scopes: Vec<String>,
}

impl CacheKey {
    fn new(audience: &str, scopes: &[&str]) -> Self {
        let mut scopes: Vec<String> = scopes
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned())
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        Self {
            audience: audience.to_owned(),
            scopes,
        }
    }
}

#[derive(Debug)]
struct Cached {
    token: AccessToken,
    /// From here on the token is refreshed.
    refresh_at: Instant,
    /// From here on the token is not used at all.
    expires_at: Instant,
}

/// Builds a [`Client`]; see [`Client::builder`] and [`Client::builder_for_token_endpoint`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    credentials: Credentials,
    http: Option<reqwest::Client>,
    identity: Option<reqwest::Identity>,
    refresh_ahead: Option<Duration>,
    dpop: Option<DpopKey>,
}

impl Client {
    /// A builder that finds the token endpoint in the issuer's metadata when
    /// [`ClientBuilder::build`] runs: `{issuer}/.well-known/openid-configuration` (OpenID
    /// Connect Discovery 1.0 §4), else the
    /// [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3) location. The
    /// document's `issuer` must equal `issuer` exactly.
    pub fn builder(issuer: impl Into<String>, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            issuer: Some(issuer.into()),
            token_endpoint: None,
            credentials,
            http: None,
            identity: None,
            refresh_ahead: None,
            dpop: None,
        }
    }

    /// A builder with a known token endpoint
    /// ([RFC 6749 §3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2)); no discovery.
    pub fn builder_for_token_endpoint(
        token_endpoint: impl Into<String>,
        credentials: Credentials,
    ) -> ClientBuilder {
        ClientBuilder {
            issuer: None,
            token_endpoint: Some(token_endpoint.into()),
            credentials,
            http: None,
            identity: None,
            refresh_ahead: None,
            dpop: None,
        }
    }

    /// The token endpoint requests go to.
    pub fn token_endpoint(&self) -> &str {
        &self.inner.token_endpoint
    }

    /// The `client_id`.
    pub fn client_id(&self) -> &str {
        self.inner.credentials.client_id()
    }

    /// The DPoP key, when the client uses DPoP ([`ClientBuilder::dpop`]).
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref()
    }

    /// An access token for the API `audience` with `scopes`, from the cache or from a client
    /// credentials request ([RFC 6749 §4.4.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2))
    /// with `resource=<audience>` ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2))
    /// and `scope` (omitted when `scopes` is empty: the server grants its default).
    ///
    /// A cached token is returned until it nears expiry: by default it is refreshed once less
    /// than 20 % of its lifetime or 60 s remain, whichever is larger, but never earlier than
    /// half-way through its lifetime (so short-lived tokens are still reused); see
    /// [`ClientBuilder::refresh_ahead`]. Concurrent callers for the same audience and scopes
    /// wait for one request and share its token. Failures are not cached; if a refresh fails
    /// while the cached token is still valid, the cached token is returned.
    pub async fn token(&self, audience: &str, scopes: &[&str]) -> Result<AccessToken, Error> {
        let key = CacheKey::new(audience, scopes);
        let slot = self.slot(&key);
        let mut cached = slot.lock().await;
        let now = Instant::now();
        if let Some(c) = cached.as_ref()
            && now < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        match self.client_credentials(&key).await {
            Ok(token) => {
                let received = Instant::now();
                // No `expires_in`, or one too large to represent: not cached.
                *cached = token.lifetime().and_then(|lifetime| {
                    let expires_at = received.checked_add(lifetime)?;
                    Some(Cached {
                        token: token.clone(),
                        refresh_at: expires_at.checked_sub(self.refresh_margin(lifetime))?,
                        expires_at,
                    })
                });
                Ok(token)
            }
            Err(error) => match cached.as_ref() {
                Some(c) if Instant::now() < c.expires_at => {
                    tracing::warn!(%error, audience, "token refresh failed; using the cached token");
                    Ok(c.token.clone())
                }
                _ => {
                    *cached = None;
                    Err(error)
                }
            },
        }
    }

    /// Drops the cached token for `audience` and `scopes` if it is still `token`, e.g. after
    /// the API refused it with `invalid_token`
    /// ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)). A token another
    /// caller has already refreshed is kept.
    pub async fn invalidate(&self, audience: &str, scopes: &[&str], token: &AccessToken) {
        let slot = self.slot(&CacheKey::new(audience, scopes));
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.same_token(token)) {
            *cached = None;
        }
    }

    /// Exchanges `subject_token` for an access token for `audience`
    /// ([RFC 8693 §2.1](https://www.rfc-editor.org/rfc/rfc8693#section-2.1)), e.g. to call a
    /// downstream API on behalf of the caller of this service.
    ///
    /// Sends `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, `subject_token`
    /// with `subject_token_type` and `requested_token_type` both
    /// `urn:ietf:params:oauth:token-type:access_token`, `audience`, `resource` (when
    /// `audience` is an absolute URI, as RFC 8693 §2.1 requires of `resource`), `scope`, and
    /// `actor_token` (an access token) when given. The result, with its `issued_token_type`
    /// (§2.2.1), is not cached: it depends on the subject token.
    pub async fn exchange(
        &self,
        subject_token: &str,
        audience: &str,
        scopes: &[&str],
        actor_token: Option<&str>,
    ) -> Result<AccessToken, Error> {
        let key = CacheKey::new(audience, scopes);
        let mut form: Vec<(&'static str, String)> = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT_TYPE.to_owned()),
            ("subject_token", subject_token.to_owned()),
            ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
            ("requested_token_type", ACCESS_TOKEN_TYPE.to_owned()),
            ("audience", audience.to_owned()),
        ];
        if url::Url::parse(audience).is_ok() {
            form.push(("resource", audience.to_owned()));
        }
        if !key.scopes.is_empty() {
            form.push(("scope", key.scopes.join(" ")));
        }
        if let Some(actor_token) = actor_token {
            form.push(("actor_token", actor_token.to_owned()));
            form.push(("actor_token_type", ACCESS_TOKEN_TYPE.to_owned()));
        }
        self.token_request(form).await
    }

    /// Adds `Authorization: Bearer <token>`
    /// ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)) with a token for
    /// `audience` and `scopes` from [`Client::token`]; for a DPoP-bound token,
    /// `Authorization: DPoP <token>` and a `DPoP` proof for this request's method and URL
    /// ([RFC 9449 §7.1](https://www.rfc-editor.org/rfc/rfc9449#section-7.1)), with the
    /// origin's latest nonce. The header is marked sensitive.
    pub async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        audience: &str,
        scopes: &[&str],
    ) -> Result<reqwest::RequestBuilder, Error> {
        let token = self.token(audience, scopes).await?;
        self.attach(request, &token)
    }

    /// Authorizes and sends `request`, retrying once in two cases (requests whose body cannot
    /// be cloned, such as streams, are not retried):
    ///
    /// - the API answers `401` with `WWW-Authenticate: Bearer error="invalid_token"` (or
    ///   `DPoP error="invalid_token"`,
    ///   [RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)), e.g. because
    ///   the token was revoked or the API's keys rotated: the cached token is dropped and the
    ///   request is sent once more with a new token;
    /// - with DPoP, the API answers `401` with `DPoP error="use_dpop_nonce"` and a
    ///   `DPoP-Nonce` ([RFC 9449 §9](https://www.rfc-editor.org/rfc/rfc9449#section-9)): the
    ///   request is sent once more with a proof carrying that nonce. Every `DPoP-Nonce` an
    ///   API sends is remembered for its origin.
    ///
    /// Any other response, including a second refusal, is returned as it is.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        audience: &str,
        scopes: &[&str],
    ) -> Result<reqwest::Response, Error> {
        let mut request = request;
        let mut nonce_retried = false;
        let mut token_retried = false;
        loop {
            let retry = request.try_clone();
            let token = self.token(audience, scopes).await?;
            let response = self
                .attach(request, &token)?
                .send()
                .await
                // The URL is the caller's and may carry query parameters we should not repeat.
                .map_err(|e| Error::Http(e.without_url()))?;
            let got_nonce = token.is_dpop()
                && self
                    .inner
                    .nonces
                    .remember(&origin(response.url()), response.headers());
            let Some(retry) = retry else {
                return Ok(response);
            };
            if response.status() != reqwest::StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            if got_nonce && !nonce_retried && is_use_dpop_nonce_challenge(response.headers()) {
                tracing::debug!(audience, "API asked for a DPoP nonce; retrying once");
                nonce_retried = true;
                request = retry;
                continue;
            }
            if !token_retried && is_invalid_token_challenge(response.headers()) {
                tracing::debug!(
                    audience,
                    "API refused the token as invalid_token; retrying once"
                );
                self.invalidate(audience, scopes, &token).await;
                token_retried = true;
                request = retry;
                continue;
            }
            return Ok(response);
        }
    }

    /// Puts `token` on `request`: `Bearer`, or `DPoP` with a proof for the request.
    fn attach(
        &self,
        request: reqwest::RequestBuilder,
        token: &AccessToken,
    ) -> Result<reqwest::RequestBuilder, Error> {
        if !token.is_dpop() {
            return Ok(request.bearer_auth(token.token()));
        }
        let key = self.inner.dpop.as_ref().ok_or_else(|| {
            Error::Config("a DPoP-bound token needs the client's DPoP key".into())
        })?;
        let (http, built) = request.build_split();
        let mut built = built.map_err(|e| Error::Http(e.without_url()))?;
        let nonce = self.inner.nonces.get(&origin(built.url()));
        let proof = key.proof(
            built.method().as_str(),
            built.url().as_str(),
            Some(token.token()),
            nonce.as_deref(),
        )?;
        let mut authorization =
            reqwest::header::HeaderValue::from_str(&format!("DPoP {}", token.token())).map_err(
                |_| Error::InvalidResponse("the access token is not a valid header value".into()),
            )?;
        authorization.set_sensitive(true);
        let proof = reqwest::header::HeaderValue::from_str(&proof)
            .map_err(|_| Error::Key("the DPoP proof is not a valid header value".into()))?;
        let headers = built.headers_mut();
        headers.insert(reqwest::header::AUTHORIZATION, authorization);
        headers.insert(DPOP_HEADER, proof);
        Ok(reqwest::RequestBuilder::from_parts(http, built))
    }

    fn slot(&self, key: &CacheKey) -> Arc<Mutex<Option<Cached>>> {
        // The std mutex is held only to look up or insert a slot, never across an await; a
        // panic elsewhere cannot leave the map inconsistent, so poisoning is ignored.
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache.entry(key.clone()).or_default().clone()
    }

    /// How long before expiry a token of `lifetime` is refreshed.
    fn refresh_margin(&self, lifetime: Duration) -> Duration {
        let margin = self.inner.refresh_ahead.unwrap_or_else(|| {
            (lifetime / 5)
                .max(Duration::from_secs(60))
                .min(lifetime / 2)
        });
        margin.min(lifetime)
    }

    async fn client_credentials(&self, key: &CacheKey) -> Result<AccessToken, Error> {
        let mut form: Vec<(&'static str, String)> = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("resource", key.audience.clone()),
        ];
        if !key.scopes.is_empty() {
            form.push(("scope", key.scopes.join(" ")));
        }
        self.token_request(form).await
    }

    /// POSTs a form to the token endpoint with the client's credentials and, with DPoP, a
    /// fresh proof (RFC 9449 §5). A `use_dpop_nonce` error with a `DPoP-Nonce` header
    /// (RFC 9449 §8) is retried once with the new nonce, with fresh credentials (a client
    /// assertion is single-use).
    async fn token_request(&self, form: Vec<(&'static str, String)>) -> Result<AccessToken, Error> {
        let endpoint = &self.inner.token_endpoint;
        let endpoint_origin = url::Url::parse(endpoint)
            .map(|url| origin(&url))
            .unwrap_or_default();
        let mut retried = false;
        loop {
            let mut form = form.clone();
            let request = self
                .inner
                .http
                .post(endpoint)
                .header(reqwest::header::ACCEPT, "application/json");
            let mut request = self.inner.credentials.apply(request, &mut form, endpoint)?;
            if let Some(key) = &self.inner.dpop {
                let nonce = self.inner.nonces.get(&endpoint_origin);
                request = request.header(
                    DPOP_HEADER,
                    key.proof("POST", endpoint, None, nonce.as_deref())?,
                );
            }
            let response = request.form(&form).send().await?;
            let dpop = self.inner.dpop.is_some();
            let got_nonce = dpop
                && self
                    .inner
                    .nonces
                    .remember(&endpoint_origin, response.headers());
            let status = response.status();
            let body = response.bytes().await?;
            let result = parse_response(status, &body, dpop);
            match &result {
                Err(Error::OAuth { error, .. })
                    if got_nonce && !retried && *error == "use_dpop_nonce" =>
                {
                    tracing::debug!("token endpoint asked for a DPoP nonce; retrying once");
                    retried = true;
                }
                _ => return result,
            }
        }
    }
}

impl ClientBuilder {
    /// Skips discovery and uses this token endpoint.
    pub fn token_endpoint(mut self, token_endpoint: impl Into<String>) -> Self {
        self.token_endpoint = Some(token_endpoint.into());
        self
    }

    /// The HTTP client for discovery and token requests. The default has a 10 s timeout and
    /// follows no redirects (a redirected token request could carry credentials elsewhere).
    ///
    /// For mutual TLS (`tls_client_auth`, `self_signed_tls_client_auth`, certificate-bound
    /// tokens, [RFC 8705](https://www.rfc-editor.org/rfc/rfc8705)), build it with the client
    /// certificate:
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use warden_client::{Client, Credentials};
    ///
    /// // Certificate and PKCS#8 key, both PEM, in one buffer.
    /// let pem = std::fs::read("client.pem")?;
    /// let http = reqwest::Client::builder()
    ///     .identity(reqwest::Identity::from_pem(&pem)?)
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// let client = Client::builder("https://auth.example.com", Credentials::tls_client_auth("orders"))
    ///     .http_client(http)
    ///     .build()
    ///     .await?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Presents `identity` (a client certificate and its key, e.g.
    /// `reqwest::Identity::from_pem(cert_and_key_pem)`) in the TLS handshake of the default
    /// HTTP client: for `tls_client_auth` / `self_signed_tls_client_auth`
    /// ([RFC 8705 §2](https://www.rfc-editor.org/rfc/rfc8705#section-2)) and to receive
    /// certificate-bound tokens. Not combinable with [`http_client`](Self::http_client):
    /// put the identity on that client instead. Send API requests (the `reqwest::Client`
    /// given to [`Client::send`]) with the same certificate, or an API refuses the bound
    /// tokens.
    pub fn identity(mut self, identity: reqwest::Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Uses DPoP ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)) with `key`: every token
    /// request carries a fresh proof, so tokens come back bound to the key (`token_type`
    /// `DPoP`); [`Client::authorize`] and [`Client::send`] send them with
    /// `Authorization: DPoP` and a proof per request. Server nonces are handled (see
    /// [`Client::send`]).
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Refresh cached tokens this long before they expire, instead of the default (20 % of
    /// the lifetime or 60 s, whichever is larger, at most half the lifetime). Capped at the
    /// token's lifetime; `Duration::ZERO` uses tokens until they expire.
    pub fn refresh_ahead(mut self, refresh_ahead: Duration) -> Self {
        self.refresh_ahead = Some(refresh_ahead);
        self
    }

    /// Builds the client, fetching the issuer's metadata unless a token endpoint was given.
    pub async fn build(self) -> Result<Client, Error> {
        let http = match (self.http, self.identity) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "give the TLS identity to the http_client instead of identity()".into(),
                ));
            }
            (Some(http), None) => http,
            (None, identity) => {
                let mut builder = reqwest::Client::builder()
                    .timeout(DEFAULT_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none());
                if let Some(identity) = identity {
                    builder = builder.identity(identity);
                }
                builder.build()?
            }
        };
        let token_endpoint = match (self.token_endpoint, self.issuer) {
            (Some(endpoint), _) => endpoint,
            (None, Some(issuer)) => discovery::token_endpoint(&http, &issuer).await?,
            (None, None) => {
                return Err(Error::InvalidUrl(
                    "neither issuer nor token endpoint".into(),
                ));
            }
        };
        check_url(&token_endpoint)?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                token_endpoint,
                credentials: self.credentials,
                refresh_ahead: self.refresh_ahead,
                dpop: self.dpop,
                nonces: Nonces::default(),
                cache: StdMutex::default(),
            }),
        })
    }
}

/// Accepts absolute `http` and `https` URLs.
pub(crate) fn check_url(value: &str) -> Result<(), Error> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(()),
        _ => Err(Error::InvalidUrl(format!(
            "'{value}' is not an absolute http(s) URL"
        ))),
    }
}

/// Whether a `WWW-Authenticate` header is a Bearer or DPoP challenge with
/// `error="invalid_token"` (RFC 6750 §3, RFC 9449 §7.1).
fn is_invalid_token_challenge(headers: &reqwest::header::HeaderMap) -> bool {
    has_challenge(headers, &["bearer", "dpop"], "invalid_token")
}

/// Whether a `WWW-Authenticate` header is a DPoP challenge with `error="use_dpop_nonce"`
/// (RFC 9449 §9).
fn is_use_dpop_nonce_challenge(headers: &reqwest::header::HeaderMap) -> bool {
    has_challenge(headers, &["dpop"], "use_dpop_nonce")
}

fn has_challenge(headers: &reqwest::header::HeaderMap, schemes: &[&str], error: &str) -> bool {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            let lower = value.trim_start().to_ascii_lowercase();
            schemes.iter().any(|scheme| lower.starts_with(scheme))
                && (lower.contains(&format!("error=\"{error}\""))
                    || lower.contains(&format!("error={error}")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(refresh_ahead: Option<Duration>) -> Client {
        Client {
            inner: Arc::new(Inner {
                http: reqwest::Client::new(),
                token_endpoint: "https://as.example/token".into(),
                credentials: Credentials::client_secret_basic("c", "s"),
                refresh_ahead,
                dpop: None,
                nonces: Nonces::default(),
                cache: StdMutex::default(),
            }),
        }
    }

    #[test]
    fn refresh_margin_defaults() {
        let c = client(None);
        let secs = |s| Duration::from_secs(s);
        // 20 % of 15 minutes is 180 s, more than 60 s.
        assert_eq!(c.refresh_margin(secs(900)), secs(180));
        // 20 % of 5 minutes is 60 s; 60 s floor.
        assert_eq!(c.refresh_margin(secs(300)), secs(60));
        assert_eq!(c.refresh_margin(secs(200)), secs(60));
        // Never more than half the lifetime.
        assert_eq!(c.refresh_margin(secs(60)), secs(30));
        assert_eq!(c.refresh_margin(secs(2)), secs(1));
        assert_eq!(c.refresh_margin(secs(0)), secs(0));
        let fixed = client(Some(secs(500)));
        assert_eq!(fixed.refresh_margin(secs(900)), secs(500));
        assert_eq!(fixed.refresh_margin(secs(100)), secs(100));
    }

    #[test]
    fn cache_key_sorts_and_dedups_scopes() {
        assert_eq!(
            CacheKey::new("a", &["w", "r", "w", ""]),
            CacheKey::new("a", &["r", "w"])
        );
        assert_ne!(CacheKey::new("a", &["r"]), CacheKey::new("b", &["r"]));
    }

    #[test]
    fn invalid_token_challenges() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert!(!is_invalid_token_challenge(&headers));
        headers.insert(
            reqwest::header::WWW_AUTHENTICATE,
            r#"Bearer realm="api", error="invalid_token""#.parse().unwrap(),
        );
        assert!(is_invalid_token_challenge(&headers));
        headers.insert(
            reqwest::header::WWW_AUTHENTICATE,
            r#"Bearer error="insufficient_scope""#.parse().unwrap(),
        );
        assert!(!is_invalid_token_challenge(&headers));
        headers.insert(
            reqwest::header::WWW_AUTHENTICATE,
            r#"DPoP error="invalid_token", algs="ES256""#.parse().unwrap(),
        );
        assert!(is_invalid_token_challenge(&headers));
        assert!(!is_use_dpop_nonce_challenge(&headers));
        headers.append(
            reqwest::header::WWW_AUTHENTICATE,
            r#"DPoP error="use_dpop_nonce", algs="ES256""#.parse().unwrap(),
        );
        assert!(is_use_dpop_nonce_challenge(&headers));
    }
}
