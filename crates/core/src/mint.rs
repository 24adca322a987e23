//! Minting access tokens: RFC 9068 JWTs signed with the API's active key (no database write),
//! or opaque references whose hash is stored for introspection.

use serde::Serialize;
use warden_types::{Scope, TokenFormat, UnixTime};

use crate::binding::Confirmation;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{Api, OpaqueTokenRecord};
use crate::secrets::{ACCESS_TOKEN_PREFIX, generate_token, random_id, token_hash};

/// RFC 9068 §2.1 `typ` header of JWT access tokens.
pub const ACCESS_TOKEN_JWT_TYPE: &str = "at+jwt";

/// What a token is about.
#[derive(Debug, Clone)]
pub struct TokenSubject<'a> {
    /// The client the token is issued to.
    pub client_id: &'a str,
    /// The subject: the client itself for client credentials, a user otherwise.
    pub sub: &'a str,
    /// Extra claims (e.g. `act`), a JSON object.
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
    /// What the token is bound to (RFC 7800 `cnf`); empty for a bearer token.
    pub cnf: &'a Confirmation,
}

/// A freshly minted access token.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Its `jti`.
    pub jti: String,
    /// Its expiry.
    pub exp: UnixTime,
}

/// RFC 9068 §2.2 claims.
#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: UnixTime,
    iat: UnixTime,
    jti: &'a str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl Engine {
    /// Mints an access token for `api`, in the API's format, with the API's lifetime capped by
    /// `max_exp` when given (token exchange never outlives its subject token).
    pub async fn mint_access_token(
        &self,
        api: &Api,
        scope: &Scope,
        subject: &TokenSubject<'_>,
        now: UnixTime,
        max_exp: Option<UnixTime>,
    ) -> Result<IssuedToken, OAuthError> {
        if !subject.cnf.satisfies(api.require_binding) {
            return Err(OAuthError::invalid_request(format!(
                "tokens for this API must be sender-constrained ({}): present a client \
                 certificate (mutual TLS) or a DPoP proof as the API requires",
                api.require_binding.as_str()
            )));
        }
        let mut exp = now + api.token_lifetime;
        if let Some(cap) = max_exp {
            exp = exp.min(cap);
        }
        let jti = random_id();
        let token = match api.token_format {
            TokenFormat::Jwt => {
                let ring = self.key_ring();
                let Some(key) = ring.active(api.signing_alg) else {
                    tracing::error!(alg = %api.signing_alg, "no active signing key");
                    return Err(OAuthError::server_error());
                };
                let scope_str = scope.to_string();
                let claims = AccessTokenClaims {
                    iss: &self.config.issuer,
                    sub: subject.sub,
                    aud: api.identifier.as_str(),
                    exp,
                    iat: now,
                    jti: &jti,
                    client_id: subject.client_id,
                    scope: &scope_str,
                    cnf: (!subject.cnf.is_empty()).then_some(subject.cnf),
                    extra: subject.extra.as_ref(),
                };
                let signed = key.sign_jwt(ACCESS_TOKEN_JWT_TYPE, &claims).map_err(|e| {
                    tracing::error!(error = %e, "signing failed");
                    OAuthError::server_error()
                })?;
                // Signed, then encrypted to the API's key when it registered one (JWE).
                self.encrypt_access_token(api, signed)?
            }
            TokenFormat::Opaque => {
                let token = generate_token(ACCESS_TOKEN_PREFIX);
                let record = OpaqueTokenRecord {
                    token_hash: token_hash(token.expose()),
                    jti: jti.clone(),
                    client_id: warden_types::ClientId::new(subject.client_id),
                    sub: subject.sub.to_owned(),
                    aud: api.identifier.clone(),
                    scope: scope.clone(),
                    iat: now,
                    exp,
                    revoked: false,
                    extra: opaque_extra(subject),
                };
                self.store.insert_opaque_token(&record).await?;
                token.expose().to_owned()
            }
        };
        Ok(IssuedToken {
            token,
            expires_in: exp - now,
            jti,
            exp,
        })
    }
}

/// The extra claims an opaque token's record keeps: the subject's (e.g. `act`) and `cnf`.
fn opaque_extra(subject: &TokenSubject<'_>) -> Option<serde_json::Value> {
    let mut extra = subject.extra.clone().unwrap_or_default();
    if let Some(cnf) = subject.cnf.to_claim() {
        extra.insert(String::from("cnf"), cnf);
    }
    (!extra.is_empty()).then_some(serde_json::Value::Object(extra))
}
