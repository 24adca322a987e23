//! `client_secret_jwt` and `private_key_jwt`: a JWT the client signed, checked by the rules of
//! RFC 7523 §3 (quoted above the lines that enforce them), then its `jti` recorded in the
//! database so it is accepted once across every instance.

use std::sync::Arc;

use serde::Deserialize;
use warden_jose::{Unverified, Verified, VerifyingKeySet, parse_compact};
use warden_types::{JwsAlgorithm, TokenEndpointAuthMethod};

use super::{AuthenticatedClient, CallContext, JWT_BEARER_ASSERTION, require_method};
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::Client;
use crate::request::PresentedCredentials;

/// Longest `jti` we store; longer ones are refused rather than truncated.
const MAX_JTI_LEN: usize = 256;

/// The claims of a client assertion.
#[derive(Debug, Deserialize)]
pub struct AssertionClaims {
    /// Issuer: must be the client id.
    pub iss: Option<String>,
    /// Subject: must be the client id.
    pub sub: Option<String>,
    /// Audience: the authorization server.
    pub aud: Option<Audience>,
    /// Expiry.
    pub exp: Option<serde_json::Number>,
    /// Not before.
    pub nbf: Option<serde_json::Number>,
    /// Issued at.
    pub iat: Option<serde_json::Number>,
    /// Unique id.
    pub jti: Option<String>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn contains(&self, value: &str) -> bool {
        match self {
            Self::One(a) => a == value,
            Self::Many(list) => list.iter().any(|a| a == value),
        }
    }
}

fn bad(reason: &'static str) -> OAuthError {
    OAuthError::invalid_client(reason)
}

/// A NumericDate claim (RFC 7519 §2): an integer, or a fraction truncated to seconds. `None`
/// inside `Ok` when absent; `Err(())` when it is not a number Warden can use.
pub(super) fn numeric_date(value: &Option<serde_json::Number>) -> Result<Option<i64>, ()> {
    match value {
        None => Ok(None),
        Some(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(()),
    }
}

/// Whether a `jti` can be recorded as it is: not empty, not longer than we store, printable.
/// Longer ones are refused rather than truncated, so two ids never collide.
pub(super) fn jti_acceptable(jti: &str) -> bool {
    !jti.is_empty() && jti.len() <= MAX_JTI_LEN && !jti.chars().any(char::is_control)
}

fn numeric(value: &Option<serde_json::Number>) -> Result<Option<i64>, OAuthError> {
    numeric_date(value).map_err(|()| bad("assertion has a malformed NumericDate"))
}

impl Engine {
    pub(super) async fn authenticate_assertion(
        &self,
        presented: PresentedCredentials,
        ctx: &CallContext<'_>,
    ) -> Result<AuthenticatedClient, OAuthError> {
        match presented.assertion_type.as_deref() {
            Some(JWT_BEARER_ASSERTION) => {}
            Some(_) => return Err(bad("unsupported client_assertion_type")),
            None => {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type is required with client_assertion",
                ));
            }
        }
        let Some(assertion) = presented.assertion else {
            return Err(OAuthError::invalid_request(
                "client_assertion is required with client_assertion_type",
            ));
        };
        let jws =
            parse_compact(assertion.expose()).map_err(|_| bad("malformed client assertion"))?;
        let unverified: AssertionClaims = jws
            .unverified_claims()
            .map_err(|_| bad("malformed client assertion claims"))?;
        // Federated client authentication: a token from a trusted external issuer whose
        // subject the operator mapped to a client. The issuer's keys stand in for the client's
        // registered ones, so the client must be a private_key_jwt client.
        let trusted = unverified
            .iss
            .as_deref()
            .and_then(|iss| self.registry().trusted_issuer(iss).cloned());
        if let Some(issuer) = trusted {
            let identity = self
                .verify_federated(&issuer, assertion.expose(), jws, ctx)
                .await
                .map_err(|e| e.into_oauth(bad))?;
            let client = identity.client;
            if let Some(body_id) = &presented.client_id
                && body_id != client.client_id.as_str()
            {
                return Err(bad("client_id does not match the workload the token names"));
            }
            require_method(&client, TokenEndpointAuthMethod::PrivateKeyJwt)?;
            return Ok(AuthenticatedClient {
                client,
                method: TokenEndpointAuthMethod::PrivateKeyJwt,
            });
        }
        // RFC 7523 §3 (1): "The JWT MUST contain an "iss" (issuer) claim that contains a
        // unique identifier for the entity that issued the JWT." For client authentication
        // §3 (2): "the subject MUST be the "client_id" of the OAuth client".
        let Some(client_id) = unverified.sub.clone() else {
            return Err(bad("client assertion has no sub"));
        };
        if let Some(body_id) = &presented.client_id
            && body_id != &client_id
        {
            return Err(bad("client_id does not match the assertion subject"));
        }
        let client = self.client_for_auth(&client_id)?;
        let method = if jws.alg().is_symmetric() {
            TokenEndpointAuthMethod::ClientSecretJwt
        } else {
            TokenEndpointAuthMethod::PrivateKeyJwt
        };
        require_method(&client, method)?;
        let allowed: Vec<JwsAlgorithm> = match client.auth_signing_alg {
            Some(alg) => vec![alg],
            None if method == TokenEndpointAuthMethod::ClientSecretJwt => {
                JwsAlgorithm::SYMMETRIC.to_vec()
            }
            None => JwsAlgorithm::ASYMMETRIC.to_vec(),
        };
        if !allowed.contains(&jws.alg()) {
            return Err(bad("assertion algorithm is not allowed for this client"));
        }
        // RFC 7523 §3 (9): "The JWT MUST be digitally signed or have a Message Authentication
        // Code (MAC) applied by the issuer."
        let verified = match method {
            TokenEndpointAuthMethod::ClientSecretJwt => self.verify_hmac(&client, jws, &allowed)?,
            _ => self.verify_signature(&client, jws, &allowed, ctx).await?,
        };
        let claims = verified.into_claims();
        self.check_assertion_claims(&client, &claims, ctx).await?;
        Ok(AuthenticatedClient { client, method })
    }

    fn verify_hmac(
        &self,
        client: &Client,
        jws: Unverified,
        allowed: &[JwsAlgorithm],
    ) -> Result<Verified<AssertionClaims>, OAuthError> {
        let Some(sealed) = client.secret.as_ref().and_then(|s| s.sealed.as_deref()) else {
            return Err(bad("client has no secret for client_secret_jwt"));
        };
        let secret = self.open_client_secret(client.client_id.as_str(), sealed)?;
        jws.verify_with_secret(&secret, allowed)
            .map_err(|_| bad("client assertion signature is invalid"))
    }

    async fn verify_signature(
        &self,
        client: &Client,
        jws: Unverified,
        allowed: &[JwsAlgorithm],
        ctx: &CallContext<'_>,
    ) -> Result<Verified<AssertionClaims>, OAuthError> {
        if let Some(jwks) = &client.jwks {
            let keys =
                self.client_keys
                    .by_value(client.client_id.as_str(), client.updated_at, jwks);
            return jws
                .verify_with_set(&keys, allowed)
                .map_err(|_| bad("client assertion signature is invalid"));
        }
        let Some(uri) = &client.jwks_uri else {
            return Err(bad("client has no registered keys"));
        };
        let Some(keys) = self.keys_from_uri(uri, &jws, ctx).await else {
            return Err(bad("client keys could not be retrieved"));
        };
        jws.verify_with_set(&keys, allowed)
            .map_err(|_| bad("client assertion signature is invalid"))
    }

    /// The key set published at `uri`, from the cache while fresh; refetched (rate-limited)
    /// when it holds no key for the JWS's `kid` and `alg`, since the owner may have rotated.
    pub(crate) async fn keys_from_uri(
        &self,
        uri: &str,
        jws: &Unverified,
        ctx: &CallContext<'_>,
    ) -> Option<Arc<VerifyingKeySet>> {
        let cfg = &self.config;
        let keys: Option<Arc<VerifyingKeySet>> =
            match self
                .client_keys
                .cached_uri(uri, ctx.now, cfg.jwks_cache_ttl)
            {
                Some(keys) => Some(keys),
                // Rate-limited even when nothing is cached: a failing jwks_uri is retried at
                // most once per interval, not on every assertion.
                None => {
                    self.client_keys
                        .fetch_uri(
                            self.fetcher.as_ref(),
                            uri,
                            ctx.now,
                            cfg.jwks_refetch_interval,
                        )
                        .await
                }
            };
        let first_try = keys
            .as_ref()
            .map(|k| k.candidates(jws.kid(), jws.alg()).next().is_some())
            .unwrap_or(false);
        if first_try {
            return keys;
        }
        // Unknown kid: the owner may have rotated. Refetch, rate-limited.
        self.client_keys
            .fetch_uri(
                self.fetcher.as_ref(),
                uri,
                ctx.now,
                cfg.jwks_refetch_interval,
            )
            .await
    }

    async fn check_assertion_claims(
        &self,
        client: &Client,
        claims: &AssertionClaims,
        ctx: &CallContext<'_>,
    ) -> Result<(), OAuthError> {
        let cfg = &self.config;
        let client_id = client.client_id.as_str();
        let now = ctx.now;
        // RFC 7523 §3 (1) and (2), for client authentication: iss = sub = client_id.
        if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
            return Err(bad("assertion iss and sub must both be the client_id"));
        }
        // RFC 7523 §3 (3): "The JWT MUST contain an "aud" (audience) claim containing a value
        // that identifies the authorization server as an intended audience. The token
        // endpoint URL of the authorization server MAY be used as a value for an "aud"
        // element". We accept the issuer, the token endpoint, and the endpoint receiving it.
        let Some(aud) = &claims.aud else {
            return Err(bad("assertion has no aud"));
        };
        if !(aud.contains(&cfg.issuer)
            || aud.contains(&cfg.token_endpoint)
            || aud.contains(ctx.endpoint))
        {
            return Err(bad("assertion aud does not name this authorization server"));
        }
        // RFC 7523 §3 (4): "The JWT MUST contain an "exp" (expiration time) claim that limits
        // the time window during which the JWT can be used. The authorization server MUST
        // reject any JWT with an expiration time that has passed, subject to allowable clock
        // skew between systems." We also bound how far ahead it may be, so a stolen assertion
        // cannot live long and the jti table stays small.
        let Some(exp) = numeric(&claims.exp)? else {
            return Err(bad("assertion has no exp"));
        };
        // Saturating arithmetic: the values are attacker-chosen and may be i64::MAX or MIN.
        if exp.saturating_add(cfg.clock_skew) <= now {
            return Err(bad("assertion has expired"));
        }
        if exp.saturating_sub(now) > cfg.max_assertion_lifetime + cfg.clock_skew {
            return Err(bad("assertion expires too far in the future"));
        }
        // RFC 7523 §3 (5): "The authorization server MUST reject a JWT that is not valid at
        // the time of the request" when "nbf" is present, with allowable clock skew.
        if let Some(nbf) = numeric(&claims.nbf)?
            && nbf > now + cfg.clock_skew
        {
            return Err(bad("assertion is not valid yet"));
        }
        // RFC 7523 §3 (6): "The authorization server MAY reject JWTs with an "iat" claim value
        // that is unreasonably far in the past." We reject iat in the future, and an
        // assertion whose total lifetime exceeds the bound.
        if let Some(iat) = numeric(&claims.iat)? {
            if iat > now.saturating_add(cfg.clock_skew) {
                return Err(bad("assertion was issued in the future"));
            }
            if exp.saturating_sub(iat) > cfg.max_assertion_lifetime + cfg.clock_skew {
                return Err(bad("assertion lifetime is too long"));
            }
        }
        // RFC 7523 §3 (7): "The authorization server MAY ensure that JWTs are not replayed by
        // maintaining the set of used "jti" values for the length of time for which the JWT
        // would be considered valid based on the applicable "exp" instant." We require it.
        let Some(jti) = claims.jti.as_deref() else {
            return Err(bad("assertion has no jti"));
        };
        if !jti_acceptable(jti) {
            return Err(bad("assertion jti is empty, too long or not printable"));
        }
        let fresh = self
            .store
            .record_assertion_jti(client_id, jti, exp.saturating_add(cfg.clock_skew), now)
            .await?;
        if !fresh {
            return Err(bad("assertion jti has already been used"));
        }
        Ok(())
    }
}
