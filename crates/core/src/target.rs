//! Which API a token is for and with which scopes: RFC 8707 `resource`, the widely used
//! `audience` parameter, and the client's grants on that API.

use std::sync::Arc;

use warden_types::Scope;

use crate::error::OAuthError;
use crate::model::{Api, Client};
use crate::registry::Registry;

/// Resolves the target API of a token request.
///
/// - `resource` values must be absolute URIs without a fragment (RFC 8707 §2);
/// - `resource` and `audience` may both be sent when they name the same API;
/// - a token is for one API: several distinct targets are `invalid_target`;
/// - no target named means the client's only API, else `invalid_target`.
pub fn resolve_api(
    registry: &Registry,
    client: &Client,
    resources: &[String],
    audiences: &[String],
) -> Result<(Arc<Api>, Scope), OAuthError> {
    for resource in resources {
        // A registered identifier was validated when it was created; only strings that name
        // no API need parsing, to say precisely why they are refused.
        if registry.api(resource).is_none() {
            warden_types::ApiIdentifier::parse(resource).map_err(|e| {
                OAuthError::invalid_target(format!("resource parameter is invalid: {e}"))
            })?;
        }
    }
    let mut named: Vec<&str> = resources
        .iter()
        .chain(audiences)
        .map(String::as_str)
        .collect();
    named.sort_unstable();
    named.dedup();
    match named.as_slice() {
        [] => {
            let mut candidates = registry
                .apis()
                .filter_map(|api| client.scopes_on(api).map(|s| (api.clone(), s)));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Ok(only),
                (None, _) => Err(OAuthError::invalid_target(
                    "the client is not granted access to any API",
                )),
                (Some(_), Some(_)) => Err(OAuthError::invalid_target(
                    "the client may access several APIs: name one with the resource or audience parameter",
                )),
            }
        }
        [one] => {
            let Some(api) = registry.api(one) else {
                return Err(OAuthError::invalid_target("unknown API"));
            };
            let Some(granted) = client.scopes_on(api) else {
                return Err(OAuthError::invalid_target(
                    "the client is not granted access to this API",
                ));
            };
            Ok((api.clone(), granted))
        }
        _ => Err(OAuthError::invalid_target(
            "a token is issued for one API at a time; the resource and audience parameters name different APIs",
        )),
    }
}

/// Resolves the scope of a token: the requested scopes, each of which must be granted; all
/// granted scopes when none is requested (RFC 6749 §3.3 lets the server apply a default).
pub fn resolve_scope(requested: Option<&str>, granted: &Scope) -> Result<Scope, OAuthError> {
    let Some(raw) = requested else {
        return Ok(granted.clone());
    };
    let requested =
        Scope::parse(raw).map_err(|_| OAuthError::invalid_scope("scope is malformed"))?;
    // RFC 6749 §3.3: a scope is one or more scope-tokens; blanks alone are not a scope.
    if requested.is_empty() {
        return Err(OAuthError::invalid_scope("scope is malformed"));
    }
    let missing = requested.difference(granted);
    if let Some(first) = missing.iter().next() {
        let shown: String = first.chars().take(64).collect();
        return Err(OAuthError::invalid_scope(format!(
            "scope '{shown}' is not granted to this client on this API"
        )));
    }
    Ok(requested)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use warden_types::{
        ApiIdentifier, ClientId, ErrorCode, SigningAlg, TokenEndpointAuthMethod, TokenFormat,
    };

    use super::*;
    use crate::model::ApiScope;

    fn api(id: &str, scopes: &[&str]) -> Api {
        Api {
            identifier: ApiIdentifier::new(id),
            name: id.into(),
            scopes: scopes
                .iter()
                .map(|s| ApiScope {
                    name: (*s).into(),
                    description: String::new(),
                })
                .collect(),
            token_format: TokenFormat::Jwt,
            token_lifetime: 900,
            signing_alg: SigningAlg::ES256,
            require_binding: Default::default(),
            encryption: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn client(grants: &[(&str, &str)], registered: Option<&str>) -> Client {
        let mut map = BTreeMap::new();
        for (a, s) in grants {
            map.insert(ApiIdentifier::new(*a), Scope::parse(s).unwrap());
        }
        Client {
            client_id: ClientId::new("c"),
            name: "c".into(),
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            secret: None,
            jwks: None,
            jwks_uri: None,
            auth_signing_alg: None,
            grant_types: vec![],
            redirect_uris: vec![],
            grants: map,
            registered_scope: registered.map(|s| Scope::parse(s).unwrap()),
            allowed_apis: None,
            serves_api: None,
            exchange_targets: Vec::new(),
            metadata: Default::default(),
            registration_token_hash: None,
            registration_token_sealed: None,
            oidc: Default::default(),
            tls: Default::default(),
            binding: Default::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn registry() -> Registry {
        Registry::new(
            1,
            vec![
                api("https://a", &["read", "write"]),
                api("https://b", &["read", "admin"]),
            ],
            vec![],
        )
    }

    #[test]
    fn only_api_is_the_default() {
        let c = client(&[("https://a", "read")], None);
        let (api, scope) = resolve_api(&registry(), &c, &[], &[]).unwrap();
        assert_eq!(api.identifier.as_str(), "https://a");
        assert_eq!(scope.to_string(), "read");
    }

    #[test]
    fn several_apis_need_a_name() {
        let c = client(&[("https://a", "read"), ("https://b", "read")], None);
        let err = resolve_api(&registry(), &c, &[], &[]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTarget);
        let (api, _) = resolve_api(&registry(), &c, &[], &["https://b".into()]).unwrap();
        assert_eq!(api.identifier.as_str(), "https://b");
    }

    #[test]
    fn resource_and_audience_must_agree() {
        let c = client(&[("https://a", "read"), ("https://b", "read")], None);
        assert!(
            resolve_api(
                &registry(),
                &c,
                &["https://a".into()],
                &["https://a".into()]
            )
            .is_ok()
        );
        let err = resolve_api(
            &registry(),
            &c,
            &["https://a".into()],
            &["https://b".into()],
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn malformed_or_unknown_resource() {
        let c = client(&[("https://a", "read")], None);
        for bad in ["not a uri", "https://a#frag", "https://unknown"] {
            let err = resolve_api(&registry(), &c, &[bad.into()], &[]).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTarget, "{bad}");
        }
    }

    #[test]
    fn registered_scope_applies_to_every_api_defining_it() {
        let c = client(&[], Some("read admin"));
        let (_, scope) = resolve_api(&registry(), &c, &["https://b".into()], &[]).unwrap();
        assert_eq!(scope.to_string(), "admin read");
        let (_, scope) = resolve_api(&registry(), &c, &["https://a".into()], &[]).unwrap();
        assert_eq!(scope.to_string(), "read");
    }

    #[test]
    fn scope_rules() {
        let granted = Scope::parse("read write").unwrap();
        assert_eq!(resolve_scope(None, &granted).unwrap(), granted);
        assert_eq!(
            resolve_scope(Some("read"), &granted).unwrap().to_string(),
            "read"
        );
        assert_eq!(
            resolve_scope(Some("admin"), &granted).unwrap_err().code,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            resolve_scope(Some("re\"ad"), &granted).unwrap_err().code,
            ErrorCode::InvalidScope
        );
    }
}
