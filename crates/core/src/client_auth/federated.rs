//! Workload identity: a JWT from a trusted external issuer (a Kubernetes service-account token,
//! a SPIFFE JWT-SVID, a CI job's OIDC token) stands in for a stored credential. Used by
//! federated client authentication (a `client_assertion` whose `iss` is a trusted issuer) and
//! by the JWT bearer grant (RFC 7523 §2.1). Both check the token by the same rules as a
//! `private_key_jwt` assertion: signature by the issuer's published keys, audience, bounded
//! lifetime and skew, single use across instances.

use std::sync::Arc;

use serde::Deserialize;
use warden_jose::{Unverified, VerifyingKeySet};
use warden_types::JwsAlgorithm;

use super::CallContext;
use super::assertion::{Audience, jti_acceptable, numeric_date};
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{Client, TrustedIssuer};
use crate::secrets::token_hash;

/// A workload the trusted issuer vouched for, mapped to its Warden client.
#[derive(Debug, Clone)]
pub(crate) struct FederatedIdentity {
    /// The mapped client.
    pub(crate) client: Arc<Client>,
}

/// Why a federated token was not accepted.
#[derive(Debug)]
pub(crate) enum FederatedError {
    /// The token is refused; the reason goes to the caller and the audit trail.
    Refused(&'static str),
    /// Storage failed (the replay check could not run).
    Internal(OAuthError),
}

impl From<&'static str> for FederatedError {
    fn from(reason: &'static str) -> Self {
        Self::Refused(reason)
    }
}

impl FederatedError {
    /// As an OAuth error: `make` builds the refusal (`invalid_client` or `invalid_grant`).
    pub(crate) fn into_oauth(self, make: fn(&'static str) -> OAuthError) -> OAuthError {
        match self {
            Self::Refused(reason) => make(reason),
            Self::Internal(err) => err,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ExternalClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<serde_json::Number>,
    nbf: Option<serde_json::Number>,
    iat: Option<serde_json::Number>,
    jti: Option<String>,
}

fn numeric(value: &Option<serde_json::Number>) -> Result<Option<i64>, &'static str> {
    numeric_date(value).map_err(|()| "token has a malformed NumericDate")
}

/// The key under which a trusted issuer's token ids are recorded in the replay set, kept
/// apart from client ids (which never contain a colon followed by a URL).
fn replay_key(issuer: &str) -> String {
    format!("issuer:{issuer}")
}

impl Engine {
    /// The trusted issuer a JWT claims to come from, if it is one.
    pub(crate) fn trusted_issuer_of(&self, jws: &Unverified) -> Option<Arc<TrustedIssuer>> {
        #[derive(Deserialize)]
        struct Iss {
            iss: Option<String>,
        }
        let iss = jws.unverified_claims::<Iss>().ok()?.iss?;
        self.registry().trusted_issuer(&iss).cloned()
    }

    /// Verifies a token from `issuer` and maps its subject to a client. The error is a reason
    /// for the audit trail; callers wrap it in `invalid_client` or `invalid_grant`.
    pub(crate) async fn verify_federated(
        &self,
        issuer: &TrustedIssuer,
        raw: &str,
        jws: Unverified,
        ctx: &CallContext<'_>,
    ) -> Result<FederatedIdentity, FederatedError> {
        // Only asymmetric algorithms: an external issuer shares no secret with us, and an HMAC
        // "verified" with a public key would be forgeable by anyone.
        let allowed = &JwsAlgorithm::ASYMMETRIC[..];
        if !allowed.contains(&jws.alg()) {
            return Err("token algorithm is not allowed".into());
        }
        let keys: Arc<VerifyingKeySet> = if let Some(jwks) = &issuer.jwks {
            self.client_keys
                .by_value(&replay_key(&issuer.issuer), issuer.updated_at, jwks)
        } else if let Some(uri) = &issuer.jwks_uri {
            match self.keys_from_uri(uri, &jws, ctx).await {
                Some(keys) => keys,
                None => return Err("the issuer's keys could not be retrieved".into()),
            }
        } else {
            return Err("the issuer has no keys configured".into());
        };
        let claims: ExternalClaims = jws
            .verify_with_set(&keys, allowed)
            .map_err(|_| "token signature is invalid")?
            .into_claims();
        self.check_federated_claims(issuer, raw, &claims, ctx)
            .await?;
        let subject = claims.sub.as_deref().unwrap_or_default();
        let Some(client_id) = issuer.subjects.get(subject) else {
            return Err("the token's subject is not mapped to a client".into());
        };
        let Some(client) = self.registry().client(client_id.as_str()).cloned() else {
            return Err("the token's subject is mapped to a client that no longer exists".into());
        };
        Ok(FederatedIdentity { client })
    }

    async fn check_federated_claims(
        &self,
        issuer: &TrustedIssuer,
        raw: &str,
        claims: &ExternalClaims,
        ctx: &CallContext<'_>,
    ) -> Result<(), FederatedError> {
        let cfg = &self.config;
        let now = ctx.now;
        // RFC 7523 §3 (1): the issuer, compared exactly.
        if claims.iss.as_deref() != Some(issuer.issuer.as_str()) {
            return Err("token iss does not match the trusted issuer".into());
        }
        // RFC 7523 §3 (2): a subject, which must be one the operator mapped.
        if claims.sub.as_deref().is_none_or(str::is_empty) {
            return Err("token has no sub".into());
        }
        // RFC 7523 §3 (3): the audience identifies us: the configured audience, or by default
        // our issuer URL, token endpoint, or the endpoint receiving it.
        let Some(aud) = &claims.aud else {
            return Err("token has no aud".into());
        };
        let aud_ok = match &issuer.audience {
            Some(expected) => aud.contains(expected),
            None => {
                aud.contains(&cfg.issuer)
                    || aud.contains(&cfg.token_endpoint)
                    || aud.contains(ctx.endpoint)
            }
        };
        if !aud_ok {
            return Err("token aud does not name this authorization server".into());
        }
        // RFC 7523 §3 (4)-(6): exp required and not passed, nbf and iat not in the future, all
        // within the bounded clock skew; the lifetime bounded by the issuer's setting.
        let Some(exp) = numeric(&claims.exp)? else {
            return Err("token has no exp".into());
        };
        let max = issuer.max_lifetime.saturating_add(cfg.clock_skew);
        if exp.saturating_add(cfg.clock_skew) <= now {
            return Err("token has expired".into());
        }
        if exp.saturating_sub(now) > max {
            return Err("token expires too far in the future".into());
        }
        if let Some(nbf) = numeric(&claims.nbf)?
            && nbf > now.saturating_add(cfg.clock_skew)
        {
            return Err("token is not valid yet".into());
        }
        if let Some(iat) = numeric(&claims.iat)? {
            if iat > now.saturating_add(cfg.clock_skew) {
                return Err("token was issued in the future".into());
            }
            if exp.saturating_sub(iat) > max {
                return Err("token lifetime is too long".into());
            }
        }
        // RFC 7523 §3 (7): single use. Platform tokens do not always carry a jti (SPIFFE
        // JWT-SVIDs need not); then the token's own hash stands in for it.
        let jti = match claims.jti.as_deref() {
            Some(jti) => {
                if !jti_acceptable(jti) {
                    return Err("token jti is empty, too long or not printable".into());
                }
                jti.to_owned()
            }
            None => format!("sha256:{}", token_hash(raw)),
        };
        let fresh = self
            .store
            .record_assertion_jti(
                &replay_key(&issuer.issuer),
                &jti,
                exp.saturating_add(cfg.clock_skew),
                now,
            )
            .await
            .map_err(|e| FederatedError::Internal(e.into()))?;
        if !fresh {
            return Err("token has already been used".into());
        }
        Ok(())
    }
}
