//! RFC 7662 token introspection. The caller authenticates like at the token endpoint; active
//! tokens return their claims; expired, revoked, unknown, foreign or malformed tokens all
//! return `{"active":false}` and nothing else (RFC 7662 §2.2).

use serde::Deserialize;
use warden_jose::parse_compact;
use warden_types::UnixTime;
use warden_types::metadata::IntrospectionResponse;

use crate::client_auth::{AuthenticatedClient, CallContext};
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::mint::ACCESS_TOKEN_JWT_TYPE;
use crate::request::{FormParams, PresentedCredentials};
use crate::secrets::{ACCESS_TOKEN_PREFIX, token_hash, well_formed};

/// Where a token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A JWT signed by one of our keys.
    Jwt,
    /// An opaque token stored by hash.
    Opaque,
}

/// What Warden knows about a token it issued, whether or not it is still active.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// JWT or opaque.
    pub kind: TokenKind,
    /// Token id.
    pub jti: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Subject.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Scope.
    pub scope: String,
    /// Issue time.
    pub iat: UnixTime,
    /// Expiry.
    pub exp: UnixTime,
    /// Revoked (opaque tokens carry the flag; JWTs are looked up in the denylist).
    pub revoked: bool,
    /// SHA-256 of an opaque token.
    pub token_hash: Option<String>,
    /// Other claims (`act`, ...).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl TokenInfo {
    /// Not revoked, not expired, and its client still registered: a token does not outlive
    /// its client. (Whether its audience must still exist is the caller's rule.)
    pub fn is_live(&self, registry: &crate::registry::Registry, now: UnixTime) -> bool {
        !self.revoked && self.exp > now && registry.client(&self.client_id).is_some()
    }
}

#[derive(Deserialize)]
struct JwtClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    #[serde(default)]
    iat: i64,
    jti: String,
    client_id: String,
    #[serde(default)]
    scope: String,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Engine {
    /// Finds out what a presented token is, verifying JWT signatures against our own keys.
    /// `None` for anything Warden did not issue.
    pub async fn inspect_token(&self, token: &str) -> Result<Option<TokenInfo>, OAuthError> {
        if token.starts_with(ACCESS_TOKEN_PREFIX) {
            if !well_formed(token, ACCESS_TOKEN_PREFIX) {
                return Ok(None);
            }
            let Some(record) = self.store.opaque_token(&token_hash(token)).await? else {
                return Ok(None);
            };
            let extra = match record.extra {
                Some(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            return Ok(Some(TokenInfo {
                kind: TokenKind::Opaque,
                jti: record.jti,
                client_id: record.client_id.into_string(),
                sub: record.sub,
                aud: record.aud.into_string(),
                scope: record.scope.to_string(),
                iat: record.iat,
                exp: record.exp,
                revoked: record.revoked,
                token_hash: Some(record.token_hash),
                extra,
            }));
        }
        let Ok(jws) = parse_compact(token) else {
            return Ok(None);
        };
        let typ_ok = jws.typ().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_JWT_TYPE)
                || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Ok(None);
        }
        let ring = self.key_ring();
        let Some((alg, key)) = jws.kid().and_then(|kid| ring.verifier(kid)) else {
            return Ok(None);
        };
        let Ok(verified) = jws.verify_with_key::<JwtClaims>(key, &[alg.jws()]) else {
            return Ok(None);
        };
        let claims = verified.into_claims();
        if claims.iss != self.config.issuer {
            return Ok(None);
        }
        let aud = match claims.aud {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(list) => list
                .into_iter()
                .find_map(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            _ => return Ok(None),
        };
        let revoked = self.store.is_jti_revoked(&claims.jti).await?;
        Ok(Some(TokenInfo {
            kind: TokenKind::Jwt,
            jti: claims.jti,
            client_id: claims.client_id,
            sub: claims.sub,
            aud,
            scope: claims.scope,
            iat: claims.iat,
            exp: claims.exp,
            revoked,
            token_hash: None,
            extra: claims.extra,
        }))
    }

    /// Handles an introspection request.
    pub async fn introspect(
        &self,
        body: &[u8],
        authorization: Option<&str>,
        ctx: &CallContext<'_>,
    ) -> Result<IntrospectionResponse, OAuthError> {
        let mut form = FormParams::parse(body)?;
        let presented = PresentedCredentials::extract(&mut form, authorization)?;
        let caller = self.authenticate_client(presented, ctx).await?;
        let Some(token) = form.take("token") else {
            return Err(OAuthError::invalid_request("token is required"));
        };
        // token_type_hint is only a hint (RFC 7662 §2.1); both kinds are recognised by shape.
        let Some(info) = self.inspect_token(&token).await? else {
            return Ok(IntrospectionResponse::inactive());
        };
        Ok(self.introspection_response(&caller, info, ctx.now))
    }

    fn introspection_response(
        &self,
        caller: &AuthenticatedClient,
        info: TokenInfo,
        now: UnixTime,
    ) -> IntrospectionResponse {
        let registry = self.registry();
        let active = info.is_live(&registry, now)
            && (registry.api(&info.aud).is_some() || info.aud == self.config.userinfo_endpoint)
            // Public clients may only learn about their own tokens.
            && (!caller.is_public() || caller.client().client_id.as_str() == info.client_id);
        if !active {
            return IntrospectionResponse::inactive();
        }
        let mut extra = info.extra;
        extra.retain(|k, _| k == "act" || k == "may_act" || k == "cnf");
        // RFC 9449 §6.2: a DPoP-bound token is introspected with `token_type: DPoP`.
        let token_type = extra
            .get("cnf")
            .map(crate::binding::Confirmation::from_claim)
            .unwrap_or_default()
            .token_type();
        IntrospectionResponse {
            active: true,
            scope: (!info.scope.is_empty()).then_some(info.scope),
            client_id: Some(info.client_id),
            token_type: Some(String::from(token_type)),
            exp: Some(info.exp),
            iat: Some(info.iat),
            nbf: None,
            sub: Some(info.sub),
            aud: Some(info.aud),
            iss: Some(self.config.issuer.clone()),
            jti: Some(info.jti),
            username: None,
            extra,
        }
    }
}
