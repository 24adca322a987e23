//! RFC 8693 token exchange, for a service acting on behalf of a user (on-behalf-of): the
//! service presents the access token it received and obtains one for a downstream API, with
//! the user still the subject and itself recorded as the actor in `act`.
//!
//! Deny by default. A client may exchange only tokens whose audience is the API it serves
//! (`serves_api`), only toward APIs it was explicitly allowed (`exchange_targets`), only for
//! scopes both the subject token and its grant on the target API allow, never beyond the
//! subject token's expiry and never past the configured delegation depth.

use serde_json::{Map, Value};
use warden_types::UnixTime;
use warden_types::metadata::TokenResponse;

use super::Granted;
use crate::binding::Confirmation;
use crate::client_auth::AuthenticatedClient;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::introspection::TokenInfo;
use crate::mint::TokenSubject;
use crate::model::Api;
use crate::request::FormParams;
use crate::target::resolve_scope;

/// RFC 8693 §3: the token type of an OAuth 2.0 access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Longest token accepted as `subject_token` or `actor_token`.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The nesting depth of an `act` claim: `{"sub":"b"}` is 1, `{"sub":"b","act":{"sub":"a"}}`
/// is 2. Bounded by the walk itself, so a hostile value cannot recurse deeply.
pub fn act_depth(act: Option<&Value>) -> usize {
    let mut depth = 0;
    let mut current = act;
    while let Some(Value::Object(map)) = current {
        depth += 1;
        current = map.get("act");
    }
    depth
}

impl Engine {
    pub(crate) async fn token_exchange(
        &self,
        client: &AuthenticatedClient,
        form: &FormParams,
        cnf: &Confirmation,
        now: UnixTime,
    ) -> Result<Granted, OAuthError> {
        let c = client.client();
        if client.is_public() {
            return Err(OAuthError::unauthorized_client(
                "public clients cannot exchange tokens",
            ));
        }
        let Some(serves) = &c.serves_api else {
            return Err(OAuthError::unauthorized_client(
                "the client is not registered as the service of any API, so it may not exchange tokens",
            ));
        };
        if c.exchange_targets.is_empty() {
            return Err(OAuthError::unauthorized_client(
                "the client is not allowed to exchange tokens toward any API",
            ));
        }

        // RFC 8693 §2.1: subject_token and subject_token_type are REQUIRED; actor_token_type
        // is REQUIRED when actor_token is present and MUST NOT be sent otherwise.
        let subject_token = required_token(form, "subject_token", "subject_token_type")?;
        let actor_token = match (form.get("actor_token"), form.get("actor_token_type")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type is required with actor_token",
                ));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type must not be sent without actor_token",
                ));
            }
            (Some(_), Some(_)) => Some(required_token(form, "actor_token", "actor_token_type")?),
        };
        if let Some(requested) = form.get("requested_token_type")
            && requested != ACCESS_TOKEN_TYPE
        {
            return Err(OAuthError::invalid_request(
                "requested_token_type: only access tokens are issued",
            ));
        }

        // RFC 8693 §2.2.2: a subject token that is invalid "for any reason", or unacceptable
        // by policy, is invalid_request.
        let subject = self
            .active_token(subject_token, now)
            .await?
            .ok_or_else(|| {
                OAuthError::invalid_request(
                    "subject_token is not an active access token issued by this server",
                )
            })?;
        if subject.aud != serves.as_str() {
            return Err(OAuthError::invalid_request(
                "subject_token was not issued for the API this client serves",
            ));
        }

        let target = self.exchange_target(c, form)?;

        // The actor: the requesting client, or the subject of an actor token that was issued
        // to it (a service may present a token standing for a workload it runs as).
        let mut max_exp = subject.exp;
        let actor = match actor_token {
            None => c.client_id.as_str().to_owned(),
            Some(token) => {
                let info = self.active_token(token, now).await?.ok_or_else(|| {
                    OAuthError::invalid_request(
                        "actor_token is not an active access token issued by this server",
                    )
                })?;
                if info.client_id != c.client_id.as_str() {
                    return Err(OAuthError::invalid_request(
                        "actor_token was not issued to the requesting client",
                    ));
                }
                max_exp = max_exp.min(info.exp);
                info.sub
            }
        };

        // RFC 8693 §4.4: may_act names who may act for the subject; honour it when present.
        if let Some(may_act) = subject.extra.get("may_act") {
            let Value::Object(may) = may_act else {
                return Err(OAuthError::invalid_request(
                    "subject_token has a malformed may_act claim",
                ));
            };
            let sub_ok = may.get("sub").and_then(Value::as_str) == Some(actor.as_str());
            let iss_ok = may
                .get("iss")
                .is_none_or(|iss| iss.as_str() == Some(self.config.issuer.as_str()));
            if !sub_ok || !iss_ok {
                return Err(OAuthError::invalid_request(
                    "the subject_token's may_act claim does not allow this actor",
                ));
            }
        }

        // RFC 8693 §4.1: the current actor at the top, prior actors nested beneath.
        let prior = subject.extra.get("act").cloned();
        let depth = 1 + act_depth(prior.as_ref());
        if depth > self.config.max_exchange_chain_depth {
            return Err(OAuthError::invalid_request(format!(
                "the delegation chain would be {depth} actors long; at most {} are allowed",
                self.config.max_exchange_chain_depth
            )));
        }
        let mut act = Map::new();
        act.insert(String::from("sub"), Value::String(actor));
        if let Some(prior) = prior {
            act.insert(String::from("act"), prior);
        }
        let mut extra = Map::new();
        extra.insert(String::from("act"), Value::Object(act));

        // Scopes: what both the subject token and the client's grant on the target allow.
        let granted = c
            .scopes_on(&target)
            .unwrap_or_else(warden_types::Scope::empty);
        let delegated = warden_types::Scope::parse(&subject.scope).unwrap_or_default();
        let allowed = granted.intersection(&delegated);
        let scope = resolve_scope(form.get("scope"), &allowed)
            .map_err(|_| {
                OAuthError::invalid_scope(
                    "scope exceeds what both the subject_token and the client's grant on the target API allow",
                )
            })?;

        let token_subject = TokenSubject {
            client_id: c.client_id.as_str(),
            sub: &subject.sub,
            extra: Some(extra),
            cnf,
        };
        let issued = self
            .mint_access_token(&target, &scope, &token_subject, now, Some(max_exp))
            .await?;
        Ok(Granted {
            response: TokenResponse {
                access_token: issued.token,
                token_type: String::from(cnf.token_type()),
                expires_in: issued.expires_in,
                scope: (!scope.is_empty()).then_some(scope),
                issued_token_type: Some(String::from(ACCESS_TOKEN_TYPE)),
                refresh_token: None,
                id_token: None,
            },
            audience: target.identifier.as_str().to_owned(),
        })
    }

    /// A token Warden issued that is active now: signature or record valid, not revoked, not
    /// expired, its client and API still registered.
    async fn active_token(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Option<TokenInfo>, OAuthError> {
        let Some(info) = self.inspect_token(token).await? else {
            return Ok(None);
        };
        let registry = self.registry();
        let active = info.is_live(&registry, now) && registry.api(&info.aud).is_some();
        Ok(active.then_some(info))
    }

    /// The API named by `resource` / `audience`, which must be one of the client's exchange
    /// targets; without a name, the client's only target.
    fn exchange_target(
        &self,
        c: &crate::model::Client,
        form: &FormParams,
    ) -> Result<std::sync::Arc<Api>, OAuthError> {
        let registry = self.registry();
        let mut named: Vec<&str> = form
            .all("resource")
            .iter()
            .chain(form.all("audience"))
            .map(String::as_str)
            .collect();
        named.sort_unstable();
        named.dedup();
        let identifier = match named.as_slice() {
            [] => match c.exchange_targets.as_slice() {
                [only] => only.as_str(),
                _ => {
                    return Err(OAuthError::invalid_target(
                        "name the target API with the resource or audience parameter",
                    ));
                }
            },
            [one] => one,
            _ => {
                return Err(OAuthError::invalid_target(
                    "a token is issued for one API at a time; the resource and audience parameters name different APIs",
                ));
            }
        };
        let Some(api) = registry.api(identifier) else {
            return Err(OAuthError::invalid_target("unknown target API"));
        };
        if !c.exchange_targets.iter().any(|t| t.as_str() == identifier) {
            return Err(OAuthError::invalid_target(
                "the client is not allowed to exchange tokens toward this API",
            ));
        }
        Ok(api.clone())
    }
}

/// A token parameter and its type parameter, the type being the access-token type.
fn required_token<'f>(
    form: &'f FormParams,
    name: &'static str,
    type_name: &'static str,
) -> Result<&'f str, OAuthError> {
    let Some(token) = form.get(name) else {
        return Err(OAuthError::invalid_request(format!("{name} is required")));
    };
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(OAuthError::invalid_request(format!(
            "{name} is empty or too long"
        )));
    }
    // An encrypted access token (JWE) is for its API alone: Warden holds no key to read it.
    if crate::access_encryption::is_compact_jwe(token) {
        return Err(OAuthError::invalid_request(format!(
            "{name} is an encrypted access token (JWE), which only its API can read: present \
             the decrypted inner token (the signed JWT) instead"
        )));
    }
    match form.get(type_name) {
        None => Err(OAuthError::invalid_request(format!(
            "{type_name} is required"
        ))),
        Some(ACCESS_TOKEN_TYPE) => Ok(token),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "{type_name}: only {ACCESS_TOKEN_TYPE} is accepted"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::act_depth;

    #[test]
    fn depth_of_act_chains() {
        assert_eq!(act_depth(None), 0);
        assert_eq!(act_depth(Some(&json!({"sub": "b"}))), 1);
        assert_eq!(
            act_depth(Some(
                &json!({"sub": "c", "act": {"sub": "b", "act": {"sub": "a"}}})
            )),
            3
        );
        assert_eq!(act_depth(Some(&json!("not an object"))), 0);
    }
}
