//! Client metadata rules shared by dynamic registration (RFC 7591), client management
//! (RFC 7592) and the admin CLI, and the `/register` endpoints themselves.

use std::collections::BTreeMap;

use warden_jose::VerifyingKey;
use warden_jose::jwe::{JweAlgorithm, JweEncrypter, JweEncryption, JweError};
use warden_types::jwk::JwkSet;
use warden_types::metadata::{ClientInformation, ClientMetadata};
use warden_types::secret::constant_time_eq;
use warden_types::{
    ApiIdentifier, ClientId, GrantType, JwsAlgorithm, Scope, SecretString, SigningAlg,
    TokenEndpointAuthMethod, UnixTime,
};

use crate::engine::Engine;
use crate::error::OAuthError;
use crate::grants::SUPPORTED_GRANTS;
use crate::model::{AuditEvent, Client, ClientOidc, ClientTls, StoredSecret};
use crate::secrets::{
    INITIAL_ACCESS_TOKEN_PREFIX, REGISTRATION_TOKEN_PREFIX, generate_client_secret, generate_token,
    random_id, token_hash, well_formed,
};

/// Associated data that binds a sealed registration access token to its client.
fn registration_token_aad(client_id: &str) -> String {
    format!("registration_access_token:{client_id}")
}

/// Largest registration request body we parse.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Client metadata after validation, normalised.
#[derive(Debug, Clone)]
pub struct ValidatedMetadata {
    /// Method.
    pub auth_method: TokenEndpointAuthMethod,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Keys by value.
    pub jwks: Option<JwkSet>,
    /// Keys by reference.
    pub jwks_uri: Option<String>,
    /// Assertion algorithm.
    pub auth_signing_alg: Option<JwsAlgorithm>,
    /// Registered scope.
    pub scope: Option<Scope>,
    /// Name.
    pub client_name: Option<String>,
    /// Browser-flow settings (`first_party` is never set from metadata: it is an
    /// administrator's decision).
    pub oidc: ClientOidc,
    /// RFC 8705 §2.1.2: the certificate identity of a `tls_client_auth` client.
    pub tls: ClientTls,
    /// RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`.
    pub certificate_bound: bool,
    /// The metadata as it will be stored and returned.
    pub metadata: ClientMetadata,
}

/// Response types a client may register (`code id_token` for confidential clients only).
pub const REGISTRABLE_RESPONSE_TYPES: [&str; 2] = ["code", "code id_token"];

/// Grant types a client may register: what the token endpoint implements, and the browser
/// grants.
fn registrable_grant(g: &GrantType) -> bool {
    SUPPORTED_GRANTS.contains(g)
        || matches!(g, GrantType::AuthorizationCode | GrantType::RefreshToken)
}

fn meta_err(d: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_client_metadata(d)
}

/// Up to 80 characters of a client-supplied value, for error descriptions.
fn shown(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// Whether `host` is a loopback name or address, where plain http is acceptable.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The loopback hosts a redirect URI may use plain http with: `localhost`, `127.0.0.1` and
/// `[::1]` exactly (RFC 8252 §7.3, §8.3).
fn is_loopback_redirect_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

pub(crate) fn check_web_uri(field: &'static str, value: &str) -> Result<(), OAuthError> {
    let url =
        url::Url::parse(value).map_err(|_| meta_err(format!("{field} is not a valid URL")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(meta_err(format!(
            "{field} must use https (plain http only for loopback hosts)"
        ))),
    }
}

/// OIDC Registration §2 `application_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    /// A web application (the default): https redirect URIs, http only on loopback hosts.
    Web,
    /// A native application (RFC 8252): loopback, https or private-use scheme redirect URIs.
    Native,
}

impl ApplicationType {
    /// Parses the metadata value; `None` is `web`.
    pub fn parse(value: Option<&str>) -> Result<Self, OAuthError> {
        match value {
            None | Some("web") => Ok(Self::Web),
            Some("native") => Ok(Self::Native),
            Some(other) => Err(meta_err(format!(
                "application_type '{}' is not supported (web or native)",
                shown(other)
            ))),
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

/// Why a redirect URI (or post-logout redirect URI) is unacceptable for `app`, or `None`.
///
/// RFC 6749 §3.1.2: absolute, no fragment. No userinfo (RFC 3986 §3.2.1 credentials in a
/// redirect are a phishing device). Web clients (OIDC Registration §2): https, or http on
/// `localhost`/`127.0.0.1`/`[::1]`. Native clients (RFC 8252 §7): http on a loopback
/// host, https, or a private-use scheme containing a period (§7.1).
pub fn redirect_uri_problem(value: &str, app: ApplicationType) -> Option<&'static str> {
    if value.len() > 2048 {
        return Some("is too long");
    }
    let Ok(url) = url::Url::parse(value) else {
        return Some("is not an absolute URI");
    };
    if url.fragment().is_some() {
        return Some("must not contain a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("must not contain user information");
    }
    match (url.scheme(), app) {
        ("https", _) => {
            if url.host().is_none() {
                return Some("has no host");
            }
            None
        }
        ("http", _) if is_loopback_redirect_host(&url) => None,
        ("http", ApplicationType::Web) => {
            Some("must use https (plain http only for localhost, 127.0.0.1 or [::1])")
        }
        ("http", ApplicationType::Native) => {
            Some("must use https, a loopback address or a private-use scheme")
        }
        ("javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ws" | "wss", _) => {
            Some("uses a forbidden scheme")
        }
        // Private-use schemes of native apps must contain a period (RFC 8252 §7.1).
        (scheme, ApplicationType::Native) if scheme.contains('.') => None,
        (_, ApplicationType::Native) => {
            Some("uses a private-use scheme without a period (RFC 8252 §7.1: reverse domain name)")
        }
        (_, ApplicationType::Web) => {
            Some("must use https (private-use schemes need application_type native)")
        }
    }
}

/// RFC 6749 §3.1.2 and the rules of [`redirect_uri_problem`]: `invalid_redirect_uri`.
pub fn check_redirect_uri(value: &str, app: ApplicationType) -> Result<(), OAuthError> {
    match redirect_uri_problem(value, app) {
        None => Ok(()),
        Some(why) => Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI '{}' {why}",
            shown(value)
        ))),
    }
}

/// Back-Channel Logout 1.0 §2.2: an absolute https URI (http only for loopback hosts), no
/// fragment.
fn check_backchannel_logout_uri(value: &str) -> Result<(), OAuthError> {
    let bad = |why: &str| meta_err(format!("backchannel_logout_uri {why}"));
    if value.len() > 2048 {
        return Err(bad("is too long"));
    }
    let url = url::Url::parse(value).map_err(|_| bad("is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain user information"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err(bad("must use https (plain http only for loopback hosts)")),
    }
}

/// Normalises one response type (a space-separated set, order irrelevant) to its registered
/// spelling.
fn normalize_response_type(raw: &str) -> Result<&'static str, OAuthError> {
    let mut parts: Vec<&str> = raw.split(' ').filter(|p| !p.is_empty()).collect();
    parts.sort_unstable();
    parts.dedup();
    match parts.as_slice() {
        ["code"] => Ok("code"),
        ["code", "id_token"] => Ok("code id_token"),
        _ => Err(meta_err(format!(
            "response type '{}' is not supported (code, code id_token)",
            shown(raw)
        ))),
    }
}

/// Whether a JWK can serve as an ID token encryption key for some supported JWE algorithm.
fn encryption_key_problem(jwk: &warden_types::jwk::Jwk) -> Option<JweError> {
    let mut last = None;
    for alg in JweAlgorithm::ALL {
        match JweEncrypter::new(jwk, alg, JweEncryption::A256GCM) {
            Ok(_) => return None,
            Err(e) => {
                // A key-type mismatch says less than a broken key of the right type.
                if last.is_none() || !matches!(e, JweError::KeyMismatch) {
                    last = Some(e);
                }
            }
        }
    }
    last
}

/// OIDC Registration §2 `{prefix}_encrypted_response_alg` / `_enc` (`prefix` is `id_token` or
/// `userinfo`): `enc` defaults to A256GCM when `alg` is set, `enc` alone is invalid, and the
/// client must have a key for `alg` in `jwks` (keys behind `jwks_uri` are fetched when used).
fn encryption_choice(
    prefix: &str,
    raw_alg: Option<&str>,
    raw_enc: Option<&str>,
    meta: &ClientMetadata,
) -> Result<(Option<JweAlgorithm>, Option<JweEncryption>), OAuthError> {
    let Some(raw_alg) = raw_alg else {
        if raw_enc.is_some() {
            return Err(meta_err(format!(
                "{prefix}_encrypted_response_enc requires {prefix}_encrypted_response_alg"
            )));
        }
        return Ok((None, None));
    };
    let alg: JweAlgorithm = raw_alg.parse().map_err(|_| {
        meta_err(format!(
            "{prefix}_encrypted_response_alg '{}' is not supported (RSA-OAEP-256, ECDH-ES)",
            shown(raw_alg)
        ))
    })?;
    let enc: JweEncryption = match raw_enc {
        None => JweEncryption::A256GCM,
        Some(raw) => raw.parse().map_err(|_| {
            meta_err(format!(
                "{prefix}_encrypted_response_enc '{}' is not supported (A256GCM, A128GCM)",
                shown(raw)
            ))
        })?,
    };
    match (&meta.jwks, &meta.jwks_uri) {
        (Some(set), _) => {
            if JweEncrypter::from_jwk_set(set, alg, enc).is_err() {
                return Err(meta_err(format!(
                    "{prefix}_encrypted_response_alg {alg} requires an encryption key for it in \
                     jwks"
                )));
            }
        }
        (None, Some(_)) => {}
        (None, None) => {
            return Err(meta_err(format!(
                "{prefix}_encrypted_response_alg requires jwks or jwks_uri with an encryption key"
            )));
        }
    }
    Ok((Some(alg), Some(enc)))
}

/// Validates client metadata (RFC 7591 §2, OIDC Registration §2, RFC 9126 §6, Back-Channel
/// and RP-Initiated Logout) and fills in defaults.
pub fn validate_metadata(meta: ClientMetadata) -> Result<ValidatedMetadata, OAuthError> {
    validate_metadata_with(meta, true)
}

/// [`validate_metadata`]; with `keys_required` false a `private_key_jwt` client may be
/// registered without keys (the administrator's workload clients, which authenticate only
/// with tokens from a trusted issuer).
pub(crate) fn validate_metadata_with(
    mut meta: ClientMetadata,
    keys_required: bool,
) -> Result<ValidatedMetadata, OAuthError> {
    let auth_method = match meta.token_endpoint_auth_method.as_deref() {
        None => TokenEndpointAuthMethod::ClientSecretBasic,
        Some(raw) => raw
            .parse::<TokenEndpointAuthMethod>()
            .map_err(|_| meta_err("token_endpoint_auth_method is not supported"))?,
    };
    let public = auth_method == TokenEndpointAuthMethod::None;
    meta.token_endpoint_auth_method = Some(auth_method.as_str().to_owned());

    // Response types, normalised (RFC 7591 §2: a space-separated set).
    let requested_response_types: Vec<&'static str> = match &meta.response_types {
        None => Vec::new(),
        Some(list) => {
            let mut out = Vec::new();
            for raw in list {
                let rt = normalize_response_type(raw)?;
                if !out.contains(&rt) {
                    out.push(rt);
                }
            }
            out
        }
    };

    // RFC 7591 §2 defaults grant_types to authorization_code. Warden is first a
    // machine-to-machine server, so (RFC 7591 §3.2.1 lets the server replace requested
    // values) a client that names none gets client_credentials, and the response says so —
    // unless it registers response types, which need authorization_code (RFC 7591 §2.1).
    let grant_types: Vec<GrantType> = match &meta.grant_types {
        Some(list) if !list.is_empty() => {
            let mut out = Vec::new();
            for raw in list {
                let g = GrantType::parse(raw);
                if !registrable_grant(&g) {
                    return Err(meta_err(format!(
                        "grant type '{}' is not supported",
                        shown(raw)
                    )));
                }
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            out
        }
        _ if !requested_response_types.is_empty() => vec![GrantType::AuthorizationCode],
        _ => vec![GrantType::ClientCredentials],
    };
    let uses_code = grant_types.contains(&GrantType::AuthorizationCode);
    if public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(meta_err(
            "public clients (token_endpoint_auth_method none) cannot use client_credentials",
        ));
    }
    if grant_types.contains(&GrantType::RefreshToken) && !uses_code {
        return Err(meta_err(
            "grant type refresh_token requires authorization_code: refresh tokens are only \
             issued for authorization codes",
        ));
    }
    if public && !uses_code {
        return Err(meta_err(
            "public clients (token_endpoint_auth_method none) must use authorization_code",
        ));
    }
    meta.grant_types = Some(grant_types.iter().map(|g| g.as_str().to_owned()).collect());

    // RFC 7591 §2.1: response types and grant types must agree.
    let response_types: Vec<String> = if requested_response_types.is_empty() {
        if uses_code {
            vec![String::from("code")]
        } else {
            Vec::new()
        }
    } else {
        if !uses_code {
            return Err(meta_err(
                "response types containing 'code' require the authorization_code grant type",
            ));
        }
        requested_response_types
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    };
    if public && response_types.iter().any(|r| r == "code id_token") {
        return Err(meta_err(
            "response type 'code id_token' is only for confidential clients",
        ));
    }
    meta.response_types = Some(response_types.clone());

    let app = ApplicationType::parse(meta.application_type.as_deref())?;
    if meta.application_type.is_some() || uses_code {
        meta.application_type = Some(app.as_str().to_owned());
    }

    let redirect_uris = meta.redirect_uris.clone().unwrap_or_default();
    if uses_code && redirect_uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri(
            "redirect_uris is required for the authorization_code grant type",
        ));
    }
    if redirect_uris.len() > 50 {
        return Err(OAuthError::invalid_redirect_uri(
            "too many redirect URIs (at most 50)",
        ));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, app)?;
    }

    let post_logout_redirect_uris = meta.post_logout_redirect_uris.clone().unwrap_or_default();
    if post_logout_redirect_uris.len() > 50 {
        return Err(meta_err("too many post_logout_redirect_uris (at most 50)"));
    }
    for uri in &post_logout_redirect_uris {
        if let Some(why) = redirect_uri_problem(uri, app) {
            return Err(meta_err(format!(
                "post_logout_redirect_uri '{}' {why}",
                shown(uri)
            )));
        }
    }
    if let Some(uri) = &meta.backchannel_logout_uri {
        check_backchannel_logout_uri(uri)?;
    }

    if meta.jwks.is_some() && meta.jwks_uri.is_some() {
        return Err(meta_err("jwks and jwks_uri must not both be present"));
    }
    let mut signing_keys = 0;
    if let Some(jwks) = &meta.jwks {
        if jwks.keys.is_empty() {
            return Err(meta_err("jwks has no keys"));
        }
        if jwks.keys.len() > 20 {
            return Err(meta_err("jwks has too many keys (at most 20)"));
        }
        for key in &jwks.keys {
            if key.has_private_material() {
                return Err(meta_err("jwks must contain public keys only"));
            }
            // A key is either a signature key (assertions) or an encryption key (ID tokens,
            // `use` "enc" or an `alg` of a JWE algorithm).
            let verify = if key.use_.as_deref() == Some("enc") {
                None
            } else {
                Some(VerifyingKey::from_jwk(key))
            };
            match verify {
                Some(Ok(_)) => signing_keys += 1,
                Some(Err(e)) => {
                    let encryption_candidate = key.use_.is_none()
                        && key
                            .alg
                            .as_deref()
                            .is_some_and(|a| a.parse::<JweAlgorithm>().is_ok());
                    if !encryption_candidate {
                        return Err(meta_err(format!("jwks contains an unusable key: {e}")));
                    }
                    if let Some(e) = encryption_key_problem(key) {
                        return Err(meta_err(format!(
                            "jwks contains an unusable encryption key: {e}"
                        )));
                    }
                }
                None => {
                    if let Some(e) = encryption_key_problem(key) {
                        return Err(meta_err(format!(
                            "jwks contains an unusable encryption key: {e}"
                        )));
                    }
                }
            }
        }
    }
    if let Some(uri) = &meta.jwks_uri {
        check_web_uri("jwks_uri", uri)?;
    }
    if auth_method.uses_client_keys() {
        if keys_required && meta.jwks.is_none() && meta.jwks_uri.is_none() {
            return Err(meta_err("private_key_jwt requires jwks or jwks_uri"));
        }
        if meta.jwks.is_some() && signing_keys == 0 {
            return Err(meta_err(
                "private_key_jwt requires a signature key in jwks (only encryption keys found)",
            ));
        }
    }

    let tls = mtls_metadata(auth_method, &meta)?;

    let auth_signing_alg = match meta.token_endpoint_auth_signing_alg.as_deref() {
        None => None,
        Some(raw) => {
            let alg: JwsAlgorithm = raw
                .parse()
                .map_err(|_| meta_err("token_endpoint_auth_signing_alg is not supported"))?;
            let fits = match auth_method {
                TokenEndpointAuthMethod::ClientSecretJwt => alg.is_symmetric(),
                TokenEndpointAuthMethod::PrivateKeyJwt => !alg.is_symmetric(),
                _ => false,
            };
            if !fits {
                return Err(meta_err(
                    "token_endpoint_auth_signing_alg does not fit token_endpoint_auth_method",
                ));
            }
            Some(alg)
        }
    };

    // OIDC Registration §2: ID token signing (asymmetric only: never `none`, never HS*).
    let id_token_signed_response_alg = match meta.id_token_signed_response_alg.as_deref() {
        None => None,
        Some(raw) => Some(raw.parse::<SigningAlg>().map_err(|_| {
            meta_err(format!(
                "id_token_signed_response_alg '{}' is not supported (RS256, PS256, ES256, EdDSA)",
                shown(raw)
            ))
        })?),
    };

    // OIDC Registration §2: ID token encryption. `enc` defaults to A256GCM when `alg` is
    // set; `enc` alone is invalid.
    let (enc_alg, enc_enc) = encryption_choice(
        "id_token",
        meta.id_token_encrypted_response_alg.as_deref(),
        meta.id_token_encrypted_response_enc.as_deref(),
        &meta,
    )?;
    meta.id_token_encrypted_response_alg = enc_alg.map(|a| a.as_str().to_owned());
    meta.id_token_encrypted_response_enc = enc_enc.map(|e| e.as_str().to_owned());

    // OIDC Registration §2: userinfo responses, signed (asymmetric algorithms only) and/or
    // encrypted with the same rules as ID tokens.
    let userinfo_signed_response_alg = match meta.userinfo_signed_response_alg.as_deref() {
        None => None,
        Some(raw) => Some(raw.parse::<SigningAlg>().map_err(|_| {
            meta_err(format!(
                "userinfo_signed_response_alg '{}' is not supported (RS256, PS256, ES256, EdDSA)",
                shown(raw)
            ))
        })?),
    };
    let (userinfo_alg, userinfo_enc) = encryption_choice(
        "userinfo",
        meta.userinfo_encrypted_response_alg.as_deref(),
        meta.userinfo_encrypted_response_enc.as_deref(),
        &meta,
    )?;
    meta.userinfo_encrypted_response_alg = userinfo_alg.map(|a| a.as_str().to_owned());
    meta.userinfo_encrypted_response_enc = userinfo_enc.map(|e| e.as_str().to_owned());

    if let Some(subject_type) = meta.subject_type.as_deref()
        && subject_type != "public"
    {
        return Err(meta_err(format!(
            "subject_type '{}' is not supported (public)",
            shown(subject_type)
        )));
    }
    if meta.default_max_age.is_some_and(|a| a < 0) {
        return Err(meta_err("default_max_age must not be negative"));
    }

    let scope = match meta.scope.as_deref() {
        None => None,
        Some(raw) => {
            let s = Scope::parse(raw).map_err(|_| meta_err("scope is malformed"))?;
            meta.scope = Some(s.to_string());
            Some(s)
        }
    };

    if let Some(name) = &meta.client_name
        && (name.chars().count() > 200 || name.chars().any(char::is_control))
    {
        return Err(meta_err(
            "client_name must be at most 200 printable characters",
        ));
    }
    for (field, value) in [
        ("client_uri", &meta.client_uri),
        ("logo_uri", &meta.logo_uri),
        ("tos_uri", &meta.tos_uri),
        ("policy_uri", &meta.policy_uri),
    ] {
        if let Some(v) = value {
            check_web_uri(field, v)?;
        }
    }
    if let Some(contacts) = &meta.contacts
        && (contacts.len() > 20 || contacts.iter().any(|c| c.len() > 320))
    {
        return Err(meta_err(
            "contacts: at most 20 entries of at most 320 characters",
        ));
    }
    for (field, value) in [
        ("software_id", &meta.software_id),
        ("software_version", &meta.software_version),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > 256) {
            return Err(meta_err(format!("{field} is too long")));
        }
    }

    let oidc = ClientOidc {
        response_types,
        first_party: false,
        require_par: meta.require_pushed_authorization_requests == Some(true),
        // A public client that registers the refresh_token grant asked for refresh tokens;
        // they rotate on every use with reuse detection (RFC 9700 §4.14.2).
        allow_public_refresh: public && grant_types.contains(&GrantType::RefreshToken),
        post_logout_redirect_uris,
        backchannel_logout_uri: meta.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: meta.backchannel_logout_session_required == Some(true),
        id_token_signed_response_alg,
        id_token_encrypted_response_alg: meta.id_token_encrypted_response_alg.clone(),
        id_token_encrypted_response_enc: meta.id_token_encrypted_response_enc.clone(),
        application_type: meta.application_type.clone(),
        userinfo_signed_response_alg,
        userinfo_encrypted_response_alg: meta.userinfo_encrypted_response_alg.clone(),
        userinfo_encrypted_response_enc: meta.userinfo_encrypted_response_enc.clone(),
    };

    Ok(ValidatedMetadata {
        auth_method,
        grant_types,
        redirect_uris,
        jwks: meta.jwks.clone(),
        jwks_uri: meta.jwks_uri.clone(),
        auth_signing_alg,
        client_name: meta.client_name.clone(),
        scope,
        oidc,
        tls,
        certificate_bound: meta.tls_client_certificate_bound_access_tokens == Some(true),
        metadata: meta,
    })
}

/// RFC 8705 §2.1.2 and §2.2: the certificate identity of a `tls_client_auth` client (exactly
/// one subject DN or SAN), or the pinned certificates of a `self_signed_tls_client_auth` one
/// (keys with `x5c` in `jwks`; `jwks_uri` is checked when used).
fn mtls_metadata(
    auth_method: TokenEndpointAuthMethod,
    meta: &ClientMetadata,
) -> Result<ClientTls, OAuthError> {
    let tls = ClientTls {
        subject_dn: meta.tls_client_auth_subject_dn.clone(),
        san_dns: meta.tls_client_auth_san_dns.clone(),
        san_uri: meta.tls_client_auth_san_uri.clone(),
        san_ip: meta.tls_client_auth_san_ip.clone(),
        san_email: meta.tls_client_auth_san_email.clone(),
    };
    match auth_method {
        TokenEndpointAuthMethod::TlsClientAuth => {
            crate::client_auth::tls::validate_tls_identity(&tls).map_err(meta_err)?;
            Ok(tls)
        }
        _ if !tls.is_empty() => Err(meta_err(
            "tls_client_auth_subject_dn and tls_client_auth_san_* are only for \
             token_endpoint_auth_method tls_client_auth",
        )),
        TokenEndpointAuthMethod::SelfSignedTlsClientAuth => {
            match (&meta.jwks, &meta.jwks_uri) {
                (Some(jwks), _) => {
                    crate::client_auth::tls::validate_pinned_jwks(jwks).map_err(meta_err)?;
                }
                (None, Some(_)) => {}
                (None, None) => {
                    return Err(meta_err(
                        "self_signed_tls_client_auth requires jwks or jwks_uri with the \
                         client's certificate (x5c)",
                    ));
                }
            }
            Ok(tls)
        }
        _ => Ok(tls),
    }
}

/// Parses a JSON registration body into metadata; a wrong type is `invalid_client_metadata`.
pub fn parse_metadata(body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    if body.len() > MAX_METADATA_BYTES {
        return Err(meta_err("client metadata is too large"));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| OAuthError::invalid_request("the request body must be a JSON object"))?;
    if !value.is_object() {
        return Err(OAuthError::invalid_request(
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        // serde's message names the field and the expected type, never a secret.
        let msg: String = e.to_string().chars().take(200).collect();
        meta_err(format!("client metadata is malformed: {msg}"))
    })
}

impl Engine {
    /// The checks that depend on this server's configuration: the ID token signing algorithm
    /// must be one the server keeps keys for.
    pub(crate) fn check_server_support(
        &self,
        validated: &ValidatedMetadata,
    ) -> Result<(), OAuthError> {
        if let Some(alg) = validated.oidc.id_token_signed_response_alg
            && !self.config.signing_algs.contains(&alg)
        {
            return Err(meta_err(format!(
                "id_token_signed_response_alg {alg} is not enabled on this server"
            )));
        }
        if let Some(alg) = validated.oidc.userinfo_signed_response_alg
            && !self.config.signing_algs.contains(&alg)
        {
            return Err(meta_err(format!(
                "userinfo_signed_response_alg {alg} is not enabled on this server"
            )));
        }
        Ok(())
    }

    /// Builds a new client from validated metadata; returns it with its fresh secret.
    pub(crate) fn build_client(
        &self,
        validated: ValidatedMetadata,
        name_fallback: &str,
        now: UnixTime,
    ) -> Result<(Client, Option<SecretString>), OAuthError> {
        let client_id = random_id();
        let (stored, secret) = self.new_secret(&client_id, validated.auth_method)?;
        // RFC 9449 §5.2 `dpop_bound_access_tokens`.
        let dpop_bound = validated.metadata.dpop_bound_access_tokens == Some(true);
        let client = Client {
            client_id: ClientId::new(client_id),
            name: validated
                .client_name
                .clone()
                .unwrap_or_else(|| name_fallback.to_owned()),
            auth_method: validated.auth_method,
            secret: stored,
            jwks: validated.jwks,
            jwks_uri: validated.jwks_uri,
            auth_signing_alg: validated.auth_signing_alg,
            grant_types: validated.grant_types,
            redirect_uris: validated.redirect_uris,
            grants: BTreeMap::new(),
            registered_scope: validated.scope,
            allowed_apis: None,
            serves_api: None,
            exchange_targets: Vec::new(),
            metadata: validated.metadata,
            registration_token_hash: None,
            registration_token_sealed: None,
            oidc: validated.oidc,
            tls: validated.tls,
            binding: crate::model::ClientBinding {
                certificate_bound: validated.certificate_bound,
                dpop_bound,
            },
            created_at: now,
            updated_at: now,
        };
        Ok((client, secret))
    }

    /// A fresh secret for `method`, if it uses one: hashed, and sealed for client_secret_jwt.
    pub(crate) fn new_secret(
        &self,
        client_id: &str,
        method: TokenEndpointAuthMethod,
    ) -> Result<(Option<StoredSecret>, Option<SecretString>), OAuthError> {
        if !method.uses_secret() {
            return Ok((None, None));
        }
        let secret = generate_client_secret();
        let sealed = if method == TokenEndpointAuthMethod::ClientSecretJwt {
            Some(self.seal_client_secret(client_id, secret.expose())?)
        } else {
            None
        };
        let stored = StoredSecret {
            hash: self.hasher.hash(secret.expose()),
            sealed,
        };
        Ok((Some(stored), Some(secret)))
    }

    /// The public view of a client (no secret, no tokens).
    pub fn client_information(&self, client: &Client) -> ClientInformation {
        let mut metadata = client.metadata.clone();
        metadata.client_name = Some(client.name.clone());
        metadata.token_endpoint_auth_method = Some(client.auth_method.as_str().to_owned());
        metadata.grant_types = Some(
            client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
        );
        if !client.redirect_uris.is_empty() {
            metadata.redirect_uris = Some(client.redirect_uris.clone());
        }
        metadata.jwks = client.jwks.clone();
        metadata.jwks_uri = client.jwks_uri.clone();
        metadata.scope = client.registered_scope.as_ref().map(|s| s.to_string());
        metadata.serves_api = client.serves_api.as_ref().map(|a| a.as_str().to_owned());
        metadata.token_exchange_targets = (!client.exchange_targets.is_empty()).then(|| {
            client
                .exchange_targets
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect()
        });
        metadata.token_endpoint_auth_signing_alg =
            client.auth_signing_alg.map(|a| a.as_str().to_owned());
        // RFC 8705: the current certificate identity and binding (the CLI may change them).
        metadata.tls_client_auth_subject_dn = client.tls.subject_dn.clone();
        metadata.tls_client_auth_san_dns = client.tls.san_dns.clone();
        metadata.tls_client_auth_san_uri = client.tls.san_uri.clone();
        metadata.tls_client_auth_san_ip = client.tls.san_ip.clone();
        metadata.tls_client_auth_san_email = client.tls.san_email.clone();
        if client.binding.certificate_bound {
            metadata.tls_client_certificate_bound_access_tokens = Some(true);
        } else if metadata
            .tls_client_certificate_bound_access_tokens
            .is_some()
        {
            metadata.tls_client_certificate_bound_access_tokens = Some(false);
        }
        // RFC 9449 §5.2: the current DPoP binding (the CLI may change it).
        if client.binding.dpop_bound {
            metadata.dpop_bound_access_tokens = Some(true);
        } else if metadata.dpop_bound_access_tokens.is_some() {
            metadata.dpop_bound_access_tokens = Some(false);
        }
        let grants = (!client.grants.is_empty()).then(|| {
            client
                .grants
                .iter()
                .map(|(api, scope)| (api.as_str().to_owned(), scope.to_string()))
                .collect()
        });
        ClientInformation {
            client_id: client.client_id.as_str().to_owned(),
            client_secret: None,
            client_id_issued_at: client.created_at,
            client_secret_expires_at: client.secret.as_ref().map(|_| 0),
            registration_access_token: None,
            registration_client_uri: client
                .registration_token_hash
                .as_ref()
                .map(|_| format!("{}/{}", self.config.registration_endpoint, client.client_id)),
            metadata,
            grants,
        }
    }

    /// RFC 7591 §3: registers a client. `bearer` is the initial access token, if sent.
    pub async fn register(
        &self,
        body: &[u8],
        bearer: Option<&str>,
        now: UnixTime,
    ) -> Result<ClientInformation, OAuthError> {
        let token = if self.config.registration_requires_token {
            let Some(token) = bearer else {
                return Err(OAuthError::invalid_token(
                    "an initial access token is required",
                ));
            };
            if !well_formed(token, INITIAL_ACCESS_TOKEN_PREFIX) {
                return Err(OAuthError::invalid_token(
                    "the initial access token is invalid",
                ));
            }
            Some(token)
        } else {
            None
        };
        // Validate before the token is used, so a malformed request does not spend a
        // single-use token.
        let validated = validate_metadata(parse_metadata(body)?)?;
        self.check_server_support(&validated)?;
        let policy = self.exchange_policy(&validated.metadata)?;
        if !policy.is_empty() && token.is_none() {
            return Err(meta_err(
                "serves_api and token_exchange_targets need an initial access token",
            ));
        }
        let allowed_apis = match token {
            Some(token) => {
                let Some(record) = self
                    .store
                    .use_initial_access_token(&token_hash(token), now)
                    .await?
                else {
                    return Err(OAuthError::invalid_token(
                        "the initial access token is invalid, expired or used",
                    ));
                };
                if let Some(allowed) = &record.allowed_apis
                    && let Some(outside) = policy.apis().find(|api| !allowed.contains(api))
                {
                    // Refused for what the token allows, which is known only once it is
                    // taken: give a single-use token back, so a bad request does not spend it.
                    if record.once {
                        self.store.insert_initial_access_token(&record).await?;
                    }
                    return Err(meta_err(format!(
                        "the initial access token does not cover the API {outside}"
                    )));
                }
                record.allowed_apis
            }
            None => None,
        };
        let (mut client, secret) = self.build_client(validated, "", now)?;
        if client.name.is_empty() {
            client.name = client.client_id.as_str().to_owned();
        }
        client.serves_api = policy.serves_api;
        client.exchange_targets = policy.exchange_targets;
        client.allowed_apis = allowed_apis;
        let rat = generate_token(REGISTRATION_TOKEN_PREFIX);
        client.registration_token_hash = Some(token_hash(rat.expose()));
        client.registration_token_sealed = Some(self.seal_client_secret(
            &registration_token_aad(client.client_id.as_str()),
            rat.expose(),
        )?);
        self.store.insert_client(&client).await?;
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_created"),
            actor: Some(String::from("registration")),
            source: None,
            detail: serde_json::json!({ "client_id": client.client_id.as_str(), "method": client.auth_method.as_str() }),
        });
        self.reload_quietly().await;
        let mut info = self.client_information(&client);
        info.client_secret = secret.map(|s| s.expose().to_owned());
        info.registration_access_token = Some(rat.expose().to_owned());
        Ok(info)
    }

    /// The token exchange policy named in registration metadata; every API must exist.
    pub(crate) fn exchange_policy(
        &self,
        meta: &ClientMetadata,
    ) -> Result<ExchangePolicy, OAuthError> {
        let registry = self.registry();
        let known = |id: &str, field: &str| -> Result<ApiIdentifier, OAuthError> {
            match registry.api(id) {
                Some(api) => Ok(api.identifier.clone()),
                None => Err(meta_err(format!("{field}: unknown API"))),
            }
        };
        let serves_api = match &meta.serves_api {
            Some(id) => Some(known(id, "serves_api")?),
            None => None,
        };
        let mut exchange_targets = Vec::new();
        for id in meta.token_exchange_targets.iter().flatten() {
            let api = known(id, "token_exchange_targets")?;
            if !exchange_targets.contains(&api) {
                exchange_targets.push(api);
            }
        }
        Ok(ExchangePolicy {
            serves_api,
            exchange_targets,
        })
    }

    async fn reload_quietly(&self) {
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "registry reload after a change failed");
        }
    }

    /// RFC 7592 §2: checks the registration access token and returns the client.
    async fn managed_client(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let Some(token) = bearer else {
            return Err(OAuthError::invalid_token(
                "a registration access token is required",
            ));
        };
        let invalid = || OAuthError::invalid_token("the registration access token is invalid");
        if !well_formed(token, REGISTRATION_TOKEN_PREFIX) {
            return Err(invalid());
        }
        // Client ids are short printable strings; anything else names no client and must not
        // reach the database (PostgreSQL refuses NUL bytes in text).
        if client_id.is_empty() || client_id.len() > 256 || client_id.chars().any(char::is_control)
        {
            return Err(invalid());
        }
        // Read from the database, not the cache: management must see the latest state.
        let Some(client) = self.store.client(client_id).await? else {
            return Err(invalid());
        };
        let Some(stored) = &client.registration_token_hash else {
            return Err(invalid());
        };
        if !constant_time_eq(token_hash(token).as_bytes(), stored.as_bytes()) {
            return Err(invalid());
        }
        Ok(client)
    }

    /// RFC 7592 §2.1 read.
    pub async fn read_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
    ) -> Result<ClientInformation, OAuthError> {
        let client = self.managed_client(client_id, bearer).await?;
        let mut info = self.client_information(&client);
        info.registration_access_token = self.registration_token(&client)?;
        Ok(info)
    }

    /// The client's registration access token, opened from its sealed copy.
    fn registration_token(&self, client: &Client) -> Result<Option<String>, OAuthError> {
        let Some(sealed) = &client.registration_token_sealed else {
            return Ok(None);
        };
        let token =
            self.open_client_secret(&registration_token_aad(client.client_id.as_str()), sealed)?;
        Ok(Some(String::from_utf8_lossy(&token).into_owned()))
    }

    /// RFC 7592 §2.2 update: the body replaces the metadata.
    pub async fn update_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        body: &[u8],
        now: UnixTime,
    ) -> Result<ClientInformation, OAuthError> {
        let mut client = self.managed_client(client_id, bearer).await?;
        let raw: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| OAuthError::invalid_request("the request body must be a JSON object"))?;
        // RFC 7592 §2.2: "The client MUST include its client_id field in the request, and it
        // MUST be the same as its currently issued client identifier."
        if raw.get("client_id").and_then(|v| v.as_str()) != Some(client_id) {
            return Err(OAuthError::invalid_request(
                "client_id must be present and match the client being updated",
            ));
        }
        // "If the client includes the client_secret field in the request, the value of this
        // field MUST match the currently issued client secret for that client."
        if let Some(presented) = raw.get("client_secret") {
            let ok = match (presented.as_str(), &client.secret) {
                (Some(p), Some(stored)) => self.hasher.verify(p, &stored.hash),
                _ => false,
            };
            if !ok {
                return Err(OAuthError::invalid_request(
                    "client_secret does not match the current secret",
                ));
            }
        }
        for forbidden in [
            "registration_access_token",
            "registration_client_uri",
            "client_secret_expires_at",
            "client_id_issued_at",
        ] {
            if raw.get(forbidden).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "{forbidden} must not be sent in an update"
                )));
            }
        }
        let validated = validate_metadata(parse_metadata(body)?)?;
        self.check_server_support(&validated)?;
        let method_changed = validated.auth_method != client.auth_method;
        let mut new_secret = None;
        if method_changed
            || (validated.auth_method == TokenEndpointAuthMethod::ClientSecretJwt
                && client.secret.as_ref().is_some_and(|s| s.sealed.is_none()))
        {
            let (stored, secret) = self.new_secret(client_id, validated.auth_method)?;
            client.secret = stored;
            new_secret = secret;
        }
        client.auth_method = validated.auth_method;
        if let Some(name) = validated.client_name.clone() {
            client.name = name;
        }
        client.grant_types = validated.grant_types;
        client.redirect_uris = validated.redirect_uris;
        client.jwks = validated.jwks;
        client.jwks_uri = validated.jwks_uri;
        client.auth_signing_alg = validated.auth_signing_alg;
        client.tls = validated.tls;
        client.binding.certificate_bound = validated.certificate_bound;
        client.binding.dpop_bound = validated.metadata.dpop_bound_access_tokens == Some(true);
        // The exchange policy may be kept or narrowed here, never widened: widening is for
        // an administrator, or a new registration with an initial access token.
        let policy = self.exchange_policy(&validated.metadata)?;
        if policy
            .serves_api
            .as_ref()
            .is_some_and(|s| client.serves_api.as_ref() != Some(s))
            || policy
                .exchange_targets
                .iter()
                .any(|t| !client.exchange_targets.contains(t))
        {
            return Err(meta_err(
                "serves_api and token_exchange_targets can only be kept or narrowed in an update",
            ));
        }
        client.serves_api = policy.serves_api;
        client.exchange_targets = policy.exchange_targets;
        client.registered_scope = validated.scope;
        // The body replaces the metadata; `first_party` is the administrator's and stays.
        let first_party = client.oidc.first_party;
        client.oidc = validated.oidc;
        client.oidc.first_party = first_party;
        client.metadata = validated.metadata;
        client.updated_at = now.max(client.updated_at + 1);
        if !self.store.update_client(&client).await? {
            return Err(OAuthError::invalid_token(
                "the registration access token is invalid",
            ));
        }
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_updated"),
            actor: Some(client_id.to_owned()),
            source: None,
            detail: serde_json::json!({ "client_id": client_id, "via": "registration" }),
        });
        self.reload_quietly().await;
        let mut info = self.client_information(&client);
        info.client_secret = new_secret.map(|s| s.expose().to_owned());
        info.registration_access_token = self.registration_token(&client)?;
        Ok(info)
    }

    /// RFC 7592 §2.3 delete.
    pub async fn delete_registration(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        self.managed_client(client_id, bearer).await?;
        self.store.delete_client(client_id).await?;
        self.audit(AuditEvent {
            at: now,
            kind: String::from("client_deleted"),
            actor: Some(client_id.to_owned()),
            source: None,
            detail: serde_json::json!({ "client_id": client_id, "via": "registration" }),
        });
        self.reload_quietly().await;
        Ok(())
    }
}

/// The token exchange policy fields of a client (Warden registration extensions).
#[derive(Debug, Default)]
pub(crate) struct ExchangePolicy {
    pub(crate) serves_api: Option<ApiIdentifier>,
    pub(crate) exchange_targets: Vec<ApiIdentifier>,
}

impl ExchangePolicy {
    fn is_empty(&self) -> bool {
        self.serves_api.is_none() && self.exchange_targets.is_empty()
    }

    fn apis(&self) -> impl Iterator<Item = &ApiIdentifier> {
        self.serves_api.iter().chain(&self.exchange_targets)
    }
}

#[cfg(test)]
mod tests {
    use warden_types::ErrorCode;

    use super::*;

    fn meta(json: &str) -> Result<ValidatedMetadata, OAuthError> {
        validate_metadata(parse_metadata(json.as_bytes())?)
    }

    #[test]
    fn defaults() {
        let v = meta("{}").unwrap();
        assert_eq!(v.auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert_eq!(v.grant_types, vec![GrantType::ClientCredentials]);
    }

    #[test]
    fn precise_errors() {
        let cases = [
            (
                r#"{"token_endpoint_auth_method":"magic"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"grant_types":["password"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["http://evil.example/cb"]}"#,
                ErrorCode::InvalidRedirectUri,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb#x"]}"#,
                ErrorCode::InvalidRedirectUri,
            ),
            (
                r#"{"redirect_uris":"https://a.example/cb"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"token_endpoint_auth_method":"private_key_jwt"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"jwks":{"keys":[]},"jwks_uri":"https://a.example/jwks"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"token_endpoint_auth_method":"none"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (r#"{"scope":"a\"b"}"#, ErrorCode::InvalidClientMetadata),
            (
                r#"{"jwks_uri":"http://keys.example/jwks","token_endpoint_auth_method":"private_key_jwt"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"token_endpoint_auth_method":"client_secret_jwt","token_endpoint_auth_signing_alg":"RS256"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            ("[]", ErrorCode::InvalidRequest),
            ("not json", ErrorCode::InvalidRequest),
        ];
        for (body, code) in cases {
            assert_eq!(meta(body).unwrap_err().code, code, "{body}");
        }
    }

    fn code_client(extra: serde_json::Value) -> Result<ValidatedMetadata, OAuthError> {
        let mut body = serde_json::json!({
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["https://app.example/cb"],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        meta(&body.to_string())
    }

    fn enc_jwk(alg: JweAlgorithm) -> serde_json::Value {
        let signing_alg = match alg {
            JweAlgorithm::RsaOaep256 => SigningAlg::RS256,
            JweAlgorithm::EcdhEs => SigningAlg::ES256,
        };
        let pair =
            warden_jose::SigningKey::generate(signing_alg, warden_types::Kid::new("enc")).unwrap();
        let key = warden_jose::JweDecrypter::from_pkcs8(
            pair.pkcs8_der(),
            &[alg],
            &[JweEncryption::A256GCM],
        )
        .unwrap();
        serde_json::to_value(key.public_jwk()).unwrap()
    }

    #[test]
    fn authorization_code_clients() {
        let v = code_client(serde_json::json!({})).unwrap();
        assert_eq!(
            v.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(v.oidc.response_types, vec!["code"]);
        assert_eq!(v.metadata.response_types, Some(vec![String::from("code")]));
        assert_eq!(v.metadata.application_type.as_deref(), Some("web"));
        assert!(!v.oidc.first_party && !v.oidc.allow_public_refresh);
        // response_types alone implies authorization_code.
        let v = meta(r#"{"response_types":["code"],"redirect_uris":["https://a.example/cb"]}"#)
            .unwrap();
        assert_eq!(v.grant_types, vec![GrantType::AuthorizationCode]);
        // Order inside a response type does not matter.
        let v =
            code_client(serde_json::json!({"response_types": ["id_token code", "code"]})).unwrap();
        assert_eq!(v.oidc.response_types, vec!["code id_token", "code"]);
        // With client_credentials too.
        let v = meta(r#"{"grant_types":["client_credentials","authorization_code"],"redirect_uris":["https://a.example/cb"]}"#).unwrap();
        assert_eq!(v.grant_types.len(), 2);
        // M2M clients register no response type.
        assert_eq!(meta("{}").unwrap().metadata.response_types, Some(vec![]));
    }

    #[test]
    fn public_clients() {
        let v = code_client(serde_json::json!({"token_endpoint_auth_method": "none"})).unwrap();
        assert_eq!(v.auth_method, TokenEndpointAuthMethod::None);
        assert!(v.oidc.allow_public_refresh);
        for (body, why) in [
            (
                serde_json::json!({"token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "client_credentials"]}),
                "client_credentials",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "none", "response_types": ["code id_token"]}),
                "confidential",
            ),
        ] {
            let e = code_client(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
            assert!(e.description.contains(why), "{}", e.description);
        }
    }

    #[test]
    fn grant_and_response_type_rules() {
        let cases = [
            (
                serde_json::json!({"grant_types": ["refresh_token"]}),
                ErrorCode::InvalidClientMetadata,
            ),
            (
                serde_json::json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
                ErrorCode::InvalidClientMetadata,
            ),
            (
                serde_json::json!({"response_types": ["token"]}),
                ErrorCode::InvalidClientMetadata,
            ),
            (
                serde_json::json!({"response_types": ["code token"]}),
                ErrorCode::InvalidClientMetadata,
            ),
            (
                serde_json::json!({"response_types": ["id_token"]}),
                ErrorCode::InvalidClientMetadata,
            ),
            (
                serde_json::json!({"redirect_uris": []}),
                ErrorCode::InvalidRedirectUri,
            ),
            (
                serde_json::json!({"redirect_uris": null}),
                ErrorCode::InvalidRedirectUri,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(code_client(body.clone()).unwrap_err().code, code, "{body}");
        }
    }

    #[test]
    fn redirect_uri_rules() {
        use ApplicationType::{Native, Web};
        let ok = [
            ("https://app.example/cb", Web),
            ("https://app.example/cb?x=1", Web),
            ("http://localhost:3000/cb", Web),
            ("http://127.0.0.1:8080/cb", Web),
            ("http://[::1]/cb", Web),
            ("https://app.example/cb", Native),
            ("http://127.0.0.1/cb", Native),
            ("http://[::1]:5000/cb", Native),
            ("http://localhost/cb", Native),
            ("com.example.app:/oauth2redirect", Native),
        ];
        for (uri, app) in ok {
            assert_eq!(redirect_uri_problem(uri, app), None, "{uri} {app:?}");
        }
        let bad = [
            ("/cb", Web),
            ("cb", Native),
            ("https://app.example/cb#frag", Web),
            ("https://app.example/cb#", Web),
            ("https://user:pw@app.example/cb", Web),
            ("https://user@app.example/cb", Native),
            ("http://app.example/cb", Web),
            ("http://app.example/cb", Native),
            ("http://127.0.0.2/cb", Web),
            ("com.example.app:/cb", Web),
            ("myapp:/cb", Native),
            ("javascript:alert(1)", Native),
            ("data:text/html,x", Web),
        ];
        for (uri, app) in bad {
            assert!(redirect_uri_problem(uri, app).is_some(), "{uri} {app:?}");
        }
        let e =
            code_client(serde_json::json!({"redirect_uris": ["com.example.app:/cb"]})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRedirectUri);
        let v = code_client(serde_json::json!({"redirect_uris": ["com.example.app:/cb"], "application_type": "native"})).unwrap();
        assert_eq!(v.oidc.application_type.as_deref(), Some("native"));
        assert_eq!(
            code_client(serde_json::json!({"application_type": "desktop"}))
                .unwrap_err()
                .code,
            ErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn logout_metadata() {
        let v = code_client(serde_json::json!({
            "post_logout_redirect_uris": ["https://app.example/bye"],
            "backchannel_logout_uri": "https://app.example/bcl",
            "backchannel_logout_session_required": true,
        }))
        .unwrap();
        assert_eq!(
            v.oidc.post_logout_redirect_uris,
            ["https://app.example/bye"]
        );
        assert_eq!(
            v.oidc.backchannel_logout_uri.as_deref(),
            Some("https://app.example/bcl")
        );
        assert!(v.oidc.backchannel_logout_session_required);
        assert!(
            code_client(serde_json::json!({"backchannel_logout_uri": "http://127.0.0.1:9/bcl"}))
                .is_ok()
        );
        for body in [
            serde_json::json!({"post_logout_redirect_uris": ["http://app.example/bye"]}),
            serde_json::json!({"post_logout_redirect_uris": ["https://app.example/bye#x"]}),
            serde_json::json!({"backchannel_logout_uri": "http://app.example/bcl"}),
            serde_json::json!({"backchannel_logout_uri": "https://app.example/bcl#x"}),
            serde_json::json!({"backchannel_logout_uri": "/bcl"}),
            serde_json::json!({"backchannel_logout_session_required": "yes"}),
        ] {
            assert_eq!(
                code_client(body.clone()).unwrap_err().code,
                ErrorCode::InvalidClientMetadata,
                "{body}"
            );
        }
    }

    #[test]
    fn id_token_algorithms() {
        let v = code_client(serde_json::json!({"id_token_signed_response_alg": "ES256"})).unwrap();
        assert_eq!(v.oidc.id_token_signed_response_alg, Some(SigningAlg::ES256));
        for alg in ["none", "HS256", "RS384", "rs256"] {
            let e =
                code_client(serde_json::json!({"id_token_signed_response_alg": alg})).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata, "{alg}");
        }
    }

    #[test]
    fn id_token_encryption() {
        let rsa = enc_jwk(JweAlgorithm::RsaOaep256);
        let ec = enc_jwk(JweAlgorithm::EcdhEs);
        let v = code_client(serde_json::json!({
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
            "jwks": {"keys": [rsa]},
        }))
        .unwrap();
        assert_eq!(
            v.oidc.id_token_encrypted_response_alg.as_deref(),
            Some("RSA-OAEP-256")
        );
        assert_eq!(
            v.oidc.id_token_encrypted_response_enc.as_deref(),
            Some("A256GCM")
        );
        assert_eq!(
            v.metadata.id_token_encrypted_response_enc.as_deref(),
            Some("A256GCM")
        );
        let v = code_client(serde_json::json!({
            "id_token_encrypted_response_alg": "ECDH-ES",
            "id_token_encrypted_response_enc": "A128GCM",
            "jwks": {"keys": [ec]},
        }))
        .unwrap();
        assert_eq!(
            v.oidc.id_token_encrypted_response_enc.as_deref(),
            Some("A128GCM")
        );
        assert!(
            code_client(serde_json::json!({
                "id_token_encrypted_response_alg": "RSA-OAEP-256",
                "jwks_uri": "https://app.example/jwks",
            }))
            .is_ok()
        );
        for body in [
            // No keys at all.
            serde_json::json!({"id_token_encrypted_response_alg": "RSA-OAEP-256"}),
            // Keys of the wrong type for the algorithm.
            serde_json::json!({"id_token_encrypted_response_alg": "RSA-OAEP-256", "jwks": {"keys": [ec]}}),
            serde_json::json!({"id_token_encrypted_response_alg": "RSA1_5", "jwks": {"keys": [rsa]}}),
            serde_json::json!({"id_token_encrypted_response_alg": "dir", "jwks": {"keys": [rsa]}}),
            serde_json::json!({"id_token_encrypted_response_alg": "RSA-OAEP-256", "id_token_encrypted_response_enc": "A128CBC-HS256", "jwks": {"keys": [rsa]}}),
            serde_json::json!({"id_token_encrypted_response_enc": "A256GCM", "jwks": {"keys": [rsa]}}),
        ] {
            assert_eq!(
                code_client(body.clone()).unwrap_err().code,
                ErrorCode::InvalidClientMetadata,
                "{body}"
            );
        }
    }

    #[test]
    fn other_oidc_metadata() {
        let v = code_client(serde_json::json!({
            "require_pushed_authorization_requests": true,
            "subject_type": "public",
            "default_max_age": 3600,
        }))
        .unwrap();
        assert!(v.oidc.require_par);
        assert_eq!(v.metadata.default_max_age, Some(3600));
        for body in [
            serde_json::json!({"require_pushed_authorization_requests": "yes"}),
            serde_json::json!({"subject_type": "pairwise"}),
            serde_json::json!({"default_max_age": -1}),
        ] {
            assert_eq!(
                code_client(body.clone()).unwrap_err().code,
                ErrorCode::InvalidClientMetadata,
                "{body}"
            );
        }
    }

    #[test]
    fn loopback_jwks_uri_is_allowed() {
        assert!(meta(r#"{"jwks_uri":"http://127.0.0.1:9999/jwks","token_endpoint_auth_method":"private_key_jwt"}"#).is_ok());
    }
}
