//! Authorization requests (RFC 6749 §4.1.1, OIDC Core §3.1.2.1 and §3.3.2.2, RFC 7636 §4.3,
//! RFC 8707 §2) parsed and validated into an [`AuthorizationRequest`], whose shape is a
//! request Warden will serve.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;
use warden_types::{ApiIdentifier, ErrorCode, GrantType, Scope, TokenEndpointAuthMethod};

use super::AuthorizeError;
use super::pkce;
use super::response::AuthorizationResponse;
use crate::engine::Engine;
use crate::model::Client;
use crate::target::{resolve_api, resolve_scope};

/// OpenID Connect scopes Warden understands; every other scope names an API permission.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Longest `state` accepted (it travels back in a URL).
const MAX_STATE: usize = 2048;
/// Longest `nonce` accepted (it travels in the ID token).
const MAX_NONCE: usize = 512;

/// `response_type` values Warden serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    /// `code` (RFC 6749 §4.1).
    Code,
    /// `code id_token` (OIDC Core §3.3 hybrid flow; seed 004 requires it for IN-CONFIDENCE and
    /// SENSITIVE APIs).
    CodeIdToken,
}

impl ResponseType {
    /// The registered metadata value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::CodeIdToken => "code id_token",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        let mut parts: Vec<&str> = value.split(' ').collect();
        parts.sort_unstable();
        match parts.as_slice() {
            ["code"] => Some(Self::Code),
            ["code", "id_token"] => Some(Self::CodeIdToken),
            _ => None,
        }
    }

    /// The default response mode (OAuth 2.0 Multiple Response Type Encoding Practices §5).
    pub fn default_mode(self) -> ResponseMode {
        match self {
            Self::Code => ResponseMode::Query,
            Self::CodeIdToken => ResponseMode::Fragment,
        }
    }
}

/// How the response travels back (OAuth 2.0 Multiple Response Type Encoding Practices §2.1,
/// OAuth 2.0 Form Post Response Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// In the redirect URI's query.
    Query,
    /// In the redirect URI's fragment.
    Fragment,
    /// As an auto-submitted HTML form POST.
    FormPost,
}

impl ResponseMode {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// OIDC Core §3.1.2.1 `prompt` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No user interaction: fail if any is needed.
    None,
    /// Authenticate again even with a session.
    Login,
    /// Ask for consent again.
    Consent,
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// Where the response goes: the `redirect_uri` parameter, or the single registered one.
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` (then the token request must repeat it,
    /// RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// The response type.
    pub response_type: ResponseType,
    /// The response mode.
    pub response_mode: ResponseMode,
    /// Scopes to grant: OIDC scopes and the API's scopes.
    pub scope: Scope,
    /// The API of the access token (RFC 8707), if any.
    pub resource: Option<ApiIdentifier>,
    /// Opaque client value returned unchanged.
    pub state: Option<String>,
    /// OIDC nonce, copied into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// `prompt` values.
    pub prompt: Vec<Prompt>,
    /// Maximum authentication age in seconds.
    pub max_age: Option<i64>,
    /// Username or email to prefill.
    pub login_hint: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is to be bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

impl AuthorizationRequest {
    /// Whether `openid` was requested.
    pub fn is_openid(&self) -> bool {
        self.scope.contains("openid")
    }

    /// Whether a prompt value was given.
    pub fn has_prompt(&self, p: Prompt) -> bool {
        self.prompt.contains(&p)
    }

    /// An error response to the client for this request.
    pub fn error(&self, code: ErrorCode, description: &str) -> AuthorizeError {
        AuthorizeError::Redirect(AuthorizationResponse::error(
            &self.redirect_uri,
            self.response_mode,
            code,
            description,
            self.state.as_deref(),
        ))
    }
}

/// Raw parameters of an authorization request (query or form), with RFC 6749 §3.1's rule:
/// "Request and response parameters MUST NOT be included more than once".
#[derive(Debug, Default, Clone)]
pub struct AuthorizationParams {
    single: HashMap<String, String>,
    resources: Vec<String>,
    repeated: Option<String>,
}

impl AuthorizationParams {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    /// Empty values count as absent.
    pub fn parse(encoded: &[u8]) -> Self {
        let mut params = Self::default();
        for (key, value) in url::form_urlencoded::parse(encoded) {
            if value.is_empty() {
                continue;
            }
            if key == "resource" {
                params.resources.push(value.into_owned());
                continue;
            }
            if params.single.contains_key(key.as_ref()) {
                if params.repeated.is_none() {
                    params.repeated = Some(key.chars().take(40).collect());
                }
                continue;
            }
            params.single.insert(key.into_owned(), value.into_owned());
        }
        params
    }

    /// A parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.single.get(name).map(String::as_str)
    }

    /// The `resource` values.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// Removes a parameter.
    pub fn remove(&mut self, name: &str) {
        self.single.remove(name);
    }

    /// Sets a parameter.
    pub fn set(&mut self, name: &str, value: &str) {
        self.single.insert(name.to_owned(), value.to_owned());
    }

    /// The first repeated parameter, if any.
    pub fn repeated(&self) -> Option<&str> {
        self.repeated.as_deref()
    }
}

/// Whether `presented` matches the registered redirect URI `registered`: exactly, except
/// that for loopback IP literals over http any port is accepted (RFC 8252 §7.3: "The
/// authorization server MUST allow any port to be specified at the time of the request for
/// loopback IP redirect URIs").
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(r), Ok(p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    let loopback = |u: &Url| {
        u.scheme() == "http"
            && matches!(
                u.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            )
            || u.scheme() == "http"
                && matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
    };
    loopback(&r)
        && loopback(&p)
        && r.host() == p.host()
        && r.path() == p.path()
        && r.query() == p.query()
        && p.fragment().is_none()
        && p.username().is_empty()
        && p.password().is_none()
}

fn page(code: ErrorCode, description: &'static str) -> AuthorizeError {
    AuthorizeError::page(code, description)
}

impl Engine {
    /// Identifies the client and the redirect URI of a request; errors here are shown on a
    /// page (RFC 6749 §4.1.2.1: "the authorization server SHOULD inform the resource owner of
    /// the error and MUST NOT automatically redirect the user-agent to the invalid
    /// redirection URI").
    pub(crate) fn client_and_redirect(
        &self,
        params: &AuthorizationParams,
    ) -> Result<(Arc<Client>, String, bool), AuthorizeError> {
        if let Some(name) = params.repeated() {
            return Err(AuthorizeError::page(
                ErrorCode::InvalidRequest,
                format!("The request repeats the parameter '{name}'."),
            ));
        }
        let Some(client_id) = params.get("client_id") else {
            return Err(page(
                ErrorCode::InvalidRequest,
                "The request does not name a client (client_id is missing).",
            ));
        };
        let Some(client) = self.registry().client(client_id).cloned() else {
            return Err(page(
                ErrorCode::InvalidClient,
                "The application that sent you here is not registered.",
            ));
        };
        let (redirect_uri, sent) = match params.get("redirect_uri") {
            Some(uri) => {
                if !client
                    .redirect_uris
                    .iter()
                    .any(|r| redirect_uri_matches(r, uri))
                {
                    return Err(page(
                        ErrorCode::InvalidRequest,
                        "The redirect URI is not registered for this application.",
                    ));
                }
                (uri.to_owned(), true)
            }
            None => match client.redirect_uris.as_slice() {
                // OIDC Core §3.1.2.1 makes redirect_uri REQUIRED; plain OAuth lets it be
                // omitted when exactly one is registered (RFC 6749 §3.1.2.3).
                [only] if !is_openid(params) => (only.clone(), false),
                [] => {
                    return Err(page(
                        ErrorCode::InvalidRequest,
                        "This application has no registered redirect URI.",
                    ));
                }
                _ => {
                    return Err(page(
                        ErrorCode::InvalidRequest,
                        "The request does not say where to return (redirect_uri is missing).",
                    ));
                }
            },
        };
        Ok((client, redirect_uri, sent))
    }

    /// Validates everything after the client and redirect URI; errors go back to the client.
    pub(crate) fn validate_authorization_request(
        &self,
        params: &AuthorizationParams,
        client: &Client,
        redirect_uri: String,
        redirect_uri_sent: bool,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let state = params.get("state").map(str::to_owned);
        let requested_mode = params.get("response_mode").and_then(ResponseMode::parse);
        let response_type_raw = params.get("response_type");
        let parsed_type = response_type_raw.and_then(ResponseType::parse);
        // Until the response type and mode are settled, errors use the requested mode when it
        // is valid, else the default of the requested type, else the query.
        let error_mode = requested_mode
            .or(parsed_type.map(ResponseType::default_mode))
            .unwrap_or(ResponseMode::Query);
        let fail = |code: ErrorCode, description: &str| {
            AuthorizeError::Redirect(AuthorizationResponse::error(
                &redirect_uri,
                error_mode,
                code,
                description,
                state.as_deref(),
            ))
        };
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(fail(ErrorCode::InvalidRequest, "state is too long"));
        }
        if params.get("request").is_some() {
            return Err(fail(
                ErrorCode::RequestNotSupported,
                "request objects are not supported; use pushed authorization requests",
            ));
        }
        if params.get("request_uri").is_some() {
            return Err(fail(
                ErrorCode::RequestUriNotSupported,
                "only request_uri values from the pushed authorization request endpoint are accepted",
            ));
        }
        if params.get("registration").is_some() {
            return Err(fail(
                ErrorCode::RegistrationNotSupported,
                "the registration parameter is not supported",
            ));
        }
        let Some(raw_type) = response_type_raw else {
            return Err(fail(ErrorCode::InvalidRequest, "response_type is required"));
        };
        let Some(response_type) = parsed_type else {
            let shown: String = raw_type.chars().take(40).collect();
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                &format!("response_type '{shown}' is not supported; use 'code' or 'code id_token'"),
            ));
        };
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                "the client is not allowed the authorization_code grant",
            ));
        }
        if !client.allows_response_type(response_type.as_str()) {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                &format!(
                    "the client is not registered for response_type '{}'",
                    response_type.as_str()
                ),
            ));
        }
        let response_mode = match params.get("response_mode") {
            None => response_type.default_mode(),
            Some(raw) => {
                let Some(mode) = ResponseMode::parse(raw) else {
                    return Err(fail(
                        ErrorCode::InvalidRequest,
                        "response_mode must be query, fragment or form_post",
                    ));
                };
                mode
            }
        };
        // Multiple Response Type Encoding Practices §2.1: query "MUST NOT" carry tokens.
        if response_type == ResponseType::CodeIdToken && response_mode == ResponseMode::Query {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "response_mode query cannot be used with response_type 'code id_token'",
            ));
        }
        let fail = |code: ErrorCode, description: &str| {
            AuthorizeError::Redirect(AuthorizationResponse::error(
                &redirect_uri,
                response_mode,
                code,
                description,
                state.as_deref(),
            ))
        };
        if response_type == ResponseType::CodeIdToken
            && client.auth_method == TokenEndpointAuthMethod::None
        {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                "response_type 'code id_token' is for confidential clients",
            ));
        }

        // PKCE (RFC 7636 §4.4.1; seed 004: "PKCE MUST be used for any Authorisation code
        // flows"). Only S256: "plain" offers no protection when the request is observed.
        let Some(challenge) = params.get("code_challenge") else {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge is required (PKCE with S256)",
            ));
        };
        match params.get("code_challenge_method") {
            Some("S256") => {}
            None => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method is required and must be S256",
                ));
            }
            Some(_) => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method must be S256 (plain is not supported)",
                ));
            }
        }
        if !pkce::is_valid_challenge(challenge) {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge must be the 43-character base64url SHA-256 of the verifier",
            ));
        }

        // RFC 9449 §10: dpop_jkt is the base64url RFC 7638 SHA-256 thumbprint of a key.
        let dpop_jkt = params.get("dpop_jkt").map(str::to_owned);
        if dpop_jkt.as_deref().is_some_and(|j| !is_thumbprint(j)) {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "dpop_jkt must be the 43-character base64url SHA-256 JWK thumbprint of the DPoP key",
            ));
        }

        let nonce = params.get("nonce").map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(fail(ErrorCode::InvalidRequest, "nonce is too long"));
        }
        let prompt =
            parse_prompt(params.get("prompt")).map_err(|d| fail(ErrorCode::InvalidRequest, d))?;
        let max_age = match params.get("max_age") {
            None => None,
            Some(raw) => match raw.parse::<i64>() {
                Ok(v) if v >= 0 => Some(v),
                _ => {
                    return Err(fail(
                        ErrorCode::InvalidRequest,
                        "max_age must be a non-negative integer",
                    ));
                }
            },
        };
        let login_hint = params
            .get("login_hint")
            .filter(|h| h.len() <= 254 && !h.chars().any(char::is_control))
            .map(str::to_owned);

        // Scope: OIDC scopes plus the scopes of at most one API.
        let requested = match params.get("scope") {
            None => Scope::empty(),
            Some(raw) => Scope::parse(raw)
                .map_err(|_| fail(ErrorCode::InvalidScope, "scope is malformed"))?,
        };
        let mut scope = Scope::empty();
        let mut api_scopes = Scope::empty();
        for s in requested.iter() {
            if OIDC_SCOPES.contains(&s) {
                scope.insert(s);
            } else {
                api_scopes.insert(s);
            }
        }
        if response_type == ResponseType::CodeIdToken {
            if !scope.contains("openid") {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "response_type 'code id_token' requires the openid scope",
                ));
            }
            // OIDC Core §3.3.2.11: nonce is REQUIRED when an ID token comes from /authorize.
            if nonce.is_none() {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "nonce is required with response_type 'code id_token'",
                ));
            }
        }
        // OIDC Core §11: offline_access is ignored for clients that cannot refresh.
        if scope.contains("offline_access")
            && (!client.grant_types.contains(&GrantType::RefreshToken)
                || (client.auth_method == TokenEndpointAuthMethod::None
                    && !client.oidc.allow_public_refresh))
        {
            scope = Scope::from_tokens(scope.iter().filter(|s| *s != "offline_access"))
                .unwrap_or_default();
        }
        let resources = params.resources();
        let mut resource = None;
        if !resources.is_empty() || !api_scopes.is_empty() {
            let registry = self.registry();
            let (api, granted) = resolve_api(&registry, client, resources, &[])
                .map_err(|e| fail(e.code, &e.description))?;
            let requested_api = (!api_scopes.is_empty()).then(|| api_scopes.to_string());
            let api_scope = resolve_scope(requested_api.as_deref(), &granted)
                .map_err(|e| fail(e.code, &e.description))?;
            scope = scope.union(&api_scope);
            resource = Some(api.identifier.clone());
        }
        if scope.is_empty() {
            return Err(fail(
                ErrorCode::InvalidScope,
                "no scope was requested; ask for openid and/or an API's scopes",
            ));
        }
        Ok(AuthorizationRequest {
            client_id: client.client_id.as_str().to_owned(),
            redirect_uri,
            redirect_uri_sent,
            response_type,
            response_mode,
            scope,
            resource,
            state,
            nonce,
            code_challenge: challenge.to_owned(),
            prompt,
            max_age,
            login_hint,
            dpop_jkt,
        })
    }
}

/// Whether `value` has the shape of a base64url (unpadded) SHA-256 thumbprint: 43 characters
/// of the base64url alphabet, the last one encoding only the final 4 bits.
pub(crate) fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && warden_jose::base64url_decode(value).is_ok_and(|d| d.len() == 32)
}

fn is_openid(params: &AuthorizationParams) -> bool {
    params
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|t| t == "openid"))
}

fn parse_prompt(raw: Option<&str>) -> Result<Vec<Prompt>, &'static str> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for value in raw.split(' ').filter(|v| !v.is_empty()) {
        let p = match value {
            "none" => Prompt::None,
            "login" | "select_account" => Prompt::Login,
            "consent" => Prompt::Consent,
            _ => return Err("prompt must be none, login, consent or select_account"),
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    // OIDC Core §3.1.2.1: "If this parameter contains none with any other value, an error is
    // returned."
    if out.contains(&Prompt::None) && out.len() > 1 {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_on_any_port() {
        assert!(redirect_uri_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53127/callback"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:8000/cb",
            "http://[::1]:9000/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:5000/other"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb/"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example.com/cb",
            "https://app.example.com:8443/cb"
        ));
        // `localhost` is a name, not a loopback literal: exact match only.
        assert!(!redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:8080/cb"
        ));
    }

    #[test]
    fn prompt_rules() {
        assert_eq!(parse_prompt(Some("login consent")).unwrap().len(), 2);
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("bogus")).is_err());
        assert_eq!(parse_prompt(Some("none")).unwrap(), vec![Prompt::None]);
    }

    #[test]
    fn response_types() {
        assert_eq!(ResponseType::parse("code"), Some(ResponseType::Code));
        assert_eq!(
            ResponseType::parse("id_token code"),
            Some(ResponseType::CodeIdToken)
        );
        assert_eq!(ResponseType::parse("token"), None);
        assert_eq!(ResponseType::parse("code token"), None);
    }

    #[test]
    fn repeated_parameters_are_noticed() {
        let p = AuthorizationParams::parse(b"client_id=a&client_id=b&resource=x&resource=y");
        assert_eq!(p.repeated(), Some("client_id"));
        assert_eq!(p.resources().len(), 2);
    }
}
