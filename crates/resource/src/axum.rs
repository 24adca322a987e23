//! axum and tower integration (feature `axum`, on by default): the [`Authenticated`] and
//! [`BearerToken`] extractors, the [`RequireScopeLayer`], and [`Rejection`], the one place that
//! turns an [`AuthError`] into an RFC 6750 §3 / RFC 9449 §7.1 response.
//!
//! Each request is described by a [`RequestInfo`] built by [`Validator::request_info`]: the
//! `Authorization` and `DPoP` headers, the method, the externally visible URL (see
//! [`ValidatorBuilder::public_url`](crate::ValidatorBuilder::public_url)) and the client
//! certificate (a [`PeerCertificate`] extension, or a trusted proxy's header).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, HOST, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::request::parse_certificate_header;
use crate::{AccessToken, AuthError, PeerCertificate, RequestInfo, Validator};

/// The DPoP proof header (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The nonce header (RFC 9449 §8.1, §9).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Extracts a validated [`AccessToken`] from `Authorization: Bearer` ([RFC 6750 §2.1]) or
/// `Authorization: DPoP` with a `DPoP` proof ([RFC 9449 §7.1]), through
/// [`Validator::validate_request`] (so certificate-bound tokens need the client certificate).
///
/// If a [`RequireScopeLayer`] already validated the request, its token is reused. Otherwise the
/// [`Validator`] comes from the router state (`Validator: FromRef<S>`). Rejections answer `401`
/// (no token: `Bearer realm` and `DPoP algs` challenges; bad token: `error="invalid_token"` in
/// the scheme of the request, or `invalid_dpop_proof` / `use_dpop_nonce` for DPoP), `400` for a
/// malformed header, or `503` when the issuer is unreachable. Check scopes with
/// [`AccessToken::has_scopes`] or the layer.
///
/// A router without a `Validator` in its state can read the layer's token with
/// `axum::Extension<AccessToken>` instead.
///
/// [RFC 6750 §2.1]: https://www.rfc-editor.org/rfc/rfc6750#section-2.1
/// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessToken);

impl<S> FromRequestParts<S> for Authenticated
where
    Validator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(token) = parts.extensions.get::<AccessToken>() {
            return Ok(Self(token.clone()));
        }
        let validator = Validator::from_ref(state);
        validator.authenticate_parts(parts).await.map(Self)
    }
}

/// The raw access token of the request (`Authorization: Bearer` or `DPoP`), for a service that
/// passes the caller's token on: as the `subject_token` of a token exchange (RFC 8693, on
/// behalf of the user), or to introspect it. Use it beside [`Authenticated`], which validates
/// the same token; this extractor only reads the header (rejections as for
/// [`Authenticated`]: `401` without a token, `400` for a malformed header). `Debug` does not
/// show the token.
#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    /// The token, as the client sent it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

impl<S> FromRequestParts<S> for BearerToken
where
    Validator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        bearer_token(&parts.headers)
            .map(Self)
            .map_err(|e| Validator::from_ref(state).reject(e))
    }
}

impl Validator {
    /// Reads the bearer token of a request ([RFC 6750 §2.1]) from its headers alone and
    /// validates it. Without the method, URL and connection, DPoP and certificate-bound tokens
    /// cannot be checked and are refused: prefer
    /// [`authenticate_parts`](Self::authenticate_parts). The error is a ready [`Rejection`]
    /// carrying this validator's realm.
    ///
    /// [RFC 6750 §2.1]: https://www.rfc-editor.org/rfc/rfc6750#section-2.1
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<AccessToken, Rejection> {
        let token = bearer_token(headers).map_err(|e| self.reject(e))?;
        self.validate(&token)
            .await
            .map_err(|e| self.reject(AuthError::Token(e)))
    }

    /// Authenticates a request from its parts: [`request_info`](Self::request_info), then
    /// [`validate_request`](Self::validate_request). The error is a ready [`Rejection`].
    pub async fn authenticate_parts(&self, parts: &Parts) -> Result<AccessToken, Rejection> {
        let request = self.request_info(parts);
        self.validate_request(&request)
            .await
            .map_err(|e| self.reject(e))
    }

    /// Describes a request for [`validate_request`](Self::validate_request): its
    /// `Authorization` and `DPoP` headers and method; its URL from
    /// [`public_url`](crate::ValidatorBuilder::public_url) and the path, else from the
    /// request URI's authority or the `Host` header, with the scheme `http` (or the URI's own,
    /// or `X-Forwarded-Proto` when
    /// [trusted](crate::ValidatorBuilder::trust_forwarded_proto)); its client certificate from
    /// a [`PeerCertificate`] extension, else from the
    /// [proxy header](crate::ValidatorBuilder::client_certificate_header) when the peer
    /// (`ConnectInfo<SocketAddr>`) is a trusted proxy.
    pub fn request_info(&self, parts: &Parts) -> RequestInfo {
        let headers = &parts.headers;
        let mut malformed = false;
        let mut text = |name: &HeaderName| -> Vec<String> {
            headers
                .get_all(name)
                .iter()
                .filter_map(|value| match value.to_str() {
                    Ok(value) => Some(value.to_owned()),
                    Err(_) => {
                        malformed = true;
                        None
                    }
                })
                .collect()
        };
        let authorization = text(&AUTHORIZATION);
        let dpop = text(&DPOP);
        RequestInfo {
            authorization,
            dpop,
            method: parts.method.as_str().to_owned(),
            url: self.request_url(parts),
            peer_certificate: self.peer_certificate(parts),
            malformed,
        }
    }

    /// The URL the client sent the request to, as a DPoP proof's `htu` names it.
    fn request_url(&self, parts: &Parts) -> Option<String> {
        let inner = &self.inner;
        let path = parts.uri.path();
        if let Some(base) = &inner.public_url {
            let base = base.as_str().trim_end_matches('/');
            return Some(format!("{base}{path}"));
        }
        let forwarded = inner
            .trust_forwarded_proto
            .then(|| {
                let value = parts.headers.get("x-forwarded-proto")?.to_str().ok()?;
                let first = value.split(',').next()?.trim().to_ascii_lowercase();
                matches!(first.as_str(), "http" | "https").then_some(first)
            })
            .flatten();
        let scheme = forwarded
            .as_deref()
            .or(parts.uri.scheme_str())
            .unwrap_or("http");
        let host = match parts.uri.authority() {
            Some(authority) => authority.as_str(),
            None => parts.headers.get(HOST)?.to_str().ok()?,
        };
        Some(format!("{scheme}://{host}{path}"))
    }

    /// The client certificate: the application's [`PeerCertificate`], else a trusted proxy's
    /// header.
    fn peer_certificate(&self, parts: &Parts) -> Option<Vec<u8>> {
        if let Some(PeerCertificate(der)) = parts.extensions.get::<PeerCertificate>() {
            return Some(der.clone());
        }
        let config = self.inner.certificate_header.as_ref()?;
        let value = parts.headers.get(config.name.as_str())?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_canonical());
        if !peer.is_some_and(|ip| config.trusted_proxies.contains(&ip)) {
            if !config.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    header = %config.name,
                    peer = ?peer,
                    "client certificate header from a peer that is not a trusted proxy; ignored"
                );
            }
            return None;
        }
        let der = value.to_str().ok().and_then(parse_certificate_header);
        if der.is_none() {
            tracing::warn!(header = %config.name, "unreadable client certificate header; ignored");
        }
        der
    }

    /// A [`Rejection`] for `error` with this validator's realm and DPoP algorithms.
    pub fn reject(&self, error: AuthError) -> Rejection {
        Rejection {
            realm: Arc::from(self.realm()),
            dpop_algs: Arc::from(self.dpop_algorithms()),
            error,
        }
    }
}

/// The token of the `Authorization: Bearer` (or `DPoP`) header. RFC 6750 §2.1 puts the token
/// after `Bearer` and one space; the scheme is case-insensitive (RFC 9110 §11.1). Another
/// scheme counts as no token at all (RFC 6750 §3.1: no error code then).
fn bearer_token(headers: &HeaderMap) -> Result<String, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            AuthError::InvalidRequest
        } else {
            AuthError::MissingToken
        });
    };
    let value = value.to_str().map_err(|_| AuthError::InvalidRequest)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("dpop") {
        return Err(AuthError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::InvalidRequest);
    }
    Ok(token.to_owned())
}

/// An RFC 6750 §3 (or RFC 9449 §7.1) error response: status, one `WWW-Authenticate` header
/// per [challenge](AuthError::challenges), `DPoP-Nonce` with `use_dpop_nonce`,
/// `Cache-Control: no-store` and, when there is an error code, a JSON body
/// `{"error", "error_description"}`.
#[derive(Debug, Clone)]
pub struct Rejection {
    realm: Arc<str>,
    dpop_algs: Arc<[warden_types::JwsAlgorithm]>,
    error: AuthError,
}

impl Rejection {
    /// Why the request was refused.
    pub fn error(&self) -> &AuthError {
        &self.error
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let AuthError::Token(e) | AuthError::Dpop(e) = &self.error {
            if e.is_server_error() {
                // The detail is in the log already; the client learns only that it may retry.
                tracing::warn!(error = %e, "access token could not be validated");
            } else {
                tracing::debug!(error = %e, "access token refused");
            }
        }
        let mut response = match self.error.error_code() {
            Some(code) => {
                let description = if self.error.status() == 503 {
                    String::from("the authorization server is unavailable; retry later")
                } else {
                    self.error.to_string()
                };
                (
                    status,
                    axum::Json(serde_json::json!({
                        "error": code,
                        "error_description": description,
                    })),
                )
                    .into_response()
            }
            None => status.into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for challenge in self.error.challenges(&self.realm, &self.dpop_algs) {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.append(WWW_AUTHENTICATE, value);
            }
        }
        if let Some(nonce) = self.error.dpop_nonce()
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            headers.insert(DPOP_NONCE, value);
        }
        response
    }
}

/// A tower [`Layer`] that lets a request through only with a valid access token carrying
/// every required scope ([RFC 6750 §3.1]), authenticated by [`Validator::validate_request`]
/// (bearer, DPoP or certificate-bound); the [`AccessToken`] is then in the request's
/// extensions (and the [`Authenticated`] extractor reuses it). With resource-server DPoP
/// nonces on, the response to a DPoP request carries a fresh `DPoP-Nonce`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, routing::post};
/// use warden_resource::{Authenticated, RequireScopeLayer, Validator};
///
/// let validator = Validator::new("https://auth.example.com", "https://api.example.com/payments").await?;
/// let app: Router = Router::new()
///     .route("/charges", post(|Authenticated(token): Authenticated| async move {
///         format!("charged for {}", token.client_id())
///     }))
///     .route_layer(RequireScopeLayer::new(validator.clone(), ["payments:charge"]))
///     .with_state(validator);
/// # Ok(()) }
/// ```
///
/// A required scope that is not a valid scope token ([RFC 6749 §3.3]) can never be granted, so
/// such a layer answers `403` to every valid token.
///
/// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
/// [RFC 6749 §3.3]: https://www.rfc-editor.org/rfc/rfc6749#section-3.3
#[derive(Debug, Clone)]
pub struct RequireScopeLayer {
    validator: Validator,
    scopes: Arc<[String]>,
}

impl RequireScopeLayer {
    /// Requires a valid token with every scope of `scopes` (none: any valid token).
    pub fn new<I, S>(validator: Validator, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            validator,
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            validator: self.validator.clone(),
            scopes: self.scopes.clone(),
        }
    }
}

/// The service of [`RequireScopeLayer`].
#[derive(Debug, Clone)]
pub struct RequireScope<S> {
    inner: S,
    validator: Validator,
    scopes: Arc<[String]>,
}

impl<S, B> Service<Request<B>> for RequireScope<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let validator = self.validator.clone();
        let scopes = self.scopes.clone();
        let (parts, body) = request.into_parts();
        let info = validator.request_info(&parts);
        let mut request = Request::from_parts(parts, body);
        Box::pin(async move {
            let access_token = match validator.validate_request(&info).await {
                Ok(access_token) => access_token,
                Err(e) => return Ok(validator.reject(e).into_response()),
            };
            if !access_token.has_scopes(scopes.iter()) {
                let needed = scopes.join(" ");
                let error = if access_token.is_dpop_bound() {
                    AuthError::DpopInsufficientScope(needed)
                } else {
                    AuthError::InsufficientScope(needed)
                };
                return Ok(validator.reject(error).into_response());
            }
            // RFC 9449 §9: a fresh nonce on success spares the client a use_dpop_nonce round
            // trip when the current one ages out.
            let nonce = access_token
                .is_dpop_bound()
                .then(|| validator.dpop_nonce())
                .flatten();
            request.extensions_mut().insert(access_token);
            let mut response = inner.call(request).await?;
            if let Some(nonce) = nonce
                && let Ok(value) = HeaderValue::from_str(&nonce)
            {
                response.headers_mut().insert(DPOP_NONCE, value);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), Err(AuthError::MissingToken));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), Err(AuthError::MissingToken));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc.def"));
        assert_eq!(bearer_token(&headers).unwrap(), "abc.def");
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), Err(AuthError::InvalidRequest));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer_token(&headers), Err(AuthError::InvalidRequest));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(bearer_token(&headers), Err(AuthError::InvalidRequest));
    }

    #[test]
    fn bearer_token_extractor_hides_the_token() {
        let token = BearerToken(String::from("eyJhbGciOi.secret.sig"));
        assert_eq!(token.expose(), "eyJhbGciOi.secret.sig");
        assert!(!format!("{token:?}").contains("secret"));
    }
}
