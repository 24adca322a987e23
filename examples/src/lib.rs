//! What every OpenID Connect relying party does the same way, shared by the three example
//! programs in `src/bin/` (and written to be read next to them and the guides in `docs/`):
//!
//! 1. [`discover`] the provider: its endpoints come from
//!    `/.well-known/openid-configuration`, and its `issuer` must be exactly the one configured.
//! 2. Make the per-login secrets: [`random_value`] for `state` and `nonce`, [`Pkce`] for the
//!    code verifier and its S256 challenge. Keep them until the browser comes back.
//! 3. [`authorization_url`]: send the browser to the authorization endpoint.
//! 4. [`check_authorization_response`]: when the browser returns, compare `state` and `iss`
//!    before anything else, then take the `code` (or the `error`).
//! 5. [`exchange_code`] at the token endpoint, with the PKCE verifier.
//! 6. [`verify_id_token`]: signature against the provider's JWKS, `iss`, `aud`, `azp`, `exp`,
//!    `nonce`, and the hashes (`at_hash`, `c_hash`, `s_hash`) that bind it to what came with it.
//! 7. [`userinfo`]: the claims the granted scopes release, for the same `sub`.
//!
//! Nothing here is Warden-specific: these are the steps of OpenID Connect Core 1.0 and the
//! OAuth RFCs, and any certified client library performs them too. The JOSE work is done by the
//! `jsonwebtoken` crate, randomness and hashing by `aws-lc-rs`.
//!
//! The [`shop`] module is the other half of the examples: services calling each other with
//! Warden's tokens (client credentials and token exchange), run by the `services_demo` program.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

pub mod shop;

/// Every failure of the examples: a message for the person running them.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The members of the OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2)
/// the examples use.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer identifier; equal to the configured one (checked by [`discover`]).
    pub issuer: String,
    /// Where the browser goes to sign in.
    pub authorization_endpoint: String,
    /// Where codes are exchanged for tokens.
    pub token_endpoint: String,
    /// The provider's public signing keys.
    pub jwks_uri: String,
    /// Claims about the signed-in user.
    pub userinfo_endpoint: Option<String>,
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
    pub end_session_endpoint: Option<String>,
    /// RFC 9207 §3: when true, every authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Fetches the provider's metadata (OpenID Connect Discovery 1.0 §4).
///
/// §4.3: "The issuer value returned MUST be identical to the Issuer URL that was used as the
/// prefix to /.well-known/openid-configuration to retrieve the configuration information."
/// Everything later (the `iss` of responses and ID tokens) is compared with this value, so a
/// mismatch here is a configuration error worth stopping for.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<ProviderMetadata> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e} (is Warden running?)"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered HTTP {}", response.status()).into());
    }
    let metadata: ProviderMetadata = response
        .json()
        .await
        .map_err(|e| format!("{url} is not OpenID Provider metadata: {e}"))?;
    if metadata.issuer != issuer {
        return Err(format!(
            "the provider says its issuer is {:?}, not {issuer:?}: use exactly that value",
            metadata.issuer
        )
        .into());
    }
    Ok(metadata)
}

/// 256 random bits, base64url without padding (43 characters): unguessable values for
/// `state`, `nonce`, PKCE verifiers and session ids.
pub fn random_value() -> Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "the system random generator failed")?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A PKCE pair (RFC 7636 §4.1, §4.2): the verifier stays with the client, the challenge goes in
/// the authorization request. Whoever redeems the code must know the verifier, so a code
/// stolen on its way back through the browser is useless.
pub struct Pkce {
    /// `code_verifier`: 43 characters from the unreserved set.
    pub verifier: String,
    /// `code_challenge` = BASE64URL(SHA256(ASCII(code_verifier))), sent with
    /// `code_challenge_method=S256` (Warden refuses `plain`).
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair.
    pub fn new() -> Result<Self> {
        let verifier = random_value()?;
        let challenge = s256(&verifier);
        Ok(Self {
            verifier,
            challenge,
        })
    }
}

/// The S256 PKCE challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The parameters of an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
pub struct AuthorizationRequest<'a> {
    /// `code`, or `code id_token` for the hybrid flow.
    pub response_type: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// Exactly as registered (a loopback URI may use any port, RFC 8252 §7.3).
    pub redirect_uri: &'a str,
    /// Space-separated; `openid` makes it an OpenID Connect request.
    pub scope: &'a str,
    /// Binds the response to this browser (CSRF, RFC 6749 §10.12).
    pub state: &'a str,
    /// Binds the ID token to this login (replay, OIDC Core §15.5.2).
    pub nonce: &'a str,
    /// The S256 challenge of the verifier.
    pub code_challenge: &'a str,
    /// `query` (default of `code`), `fragment` or `form_post`.
    pub response_mode: Option<&'a str>,
}

/// The URL to send the browser to. Built with `url::Url`, so every value is encoded (never
/// concatenate query strings by hand).
pub fn authorization_url(
    provider: &ProviderMetadata,
    request: &AuthorizationRequest<'_>,
) -> Result<String> {
    let mut url = url::Url::parse(&provider.authorization_endpoint)
        .map_err(|e| format!("authorization_endpoint is not a URL: {e}"))?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", request.response_type)
            .append_pair("client_id", request.client_id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("scope", request.scope)
            .append_pair("state", request.state)
            .append_pair("nonce", request.nonce)
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(mode) = request.response_mode {
            query.append_pair("response_mode", mode);
        }
    }
    Ok(url.into())
}

/// An error the authorization server sent back to the redirect URI (RFC 6749 §4.1.2.1), e.g.
/// `access_denied` when the person pressed Deny.
#[derive(Debug)]
pub struct AuthorizationError {
    /// The RFC 6749 error code.
    pub error: String,
    /// The server's explanation, if any.
    pub description: Option<String>,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the authorization server answered {}", self.error)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthorizationError {}

/// Checks what arrived at the redirect URI and returns the authorization code.
///
/// The order matters: `state` and `iss` are checked before the response is believed at all,
/// error responses included (a forged `error=access_denied` is still forged).
pub fn check_authorization_response(
    params: &HashMap<String, String>,
    expected_state: &str,
    provider: &ProviderMetadata,
) -> Result<String> {
    // RFC 6749 §10.12: the client "MUST implement CSRF protection for its redirection URI":
    // the response must carry the state this browser was given, else an attacker could make
    // the victim's browser deliver the attacker's code.
    match params.get("state") {
        Some(state) if state == expected_state => {}
        Some(_) => return Err("the response's state does not match this login: refused".into()),
        None => return Err("the response has no state: refused".into()),
    }
    // RFC 9207 §2.4: "Clients that have received an iss parameter MUST compare it to the
    // issuer identifier"; when the server advertises the parameter, its absence is an error
    // too. This defeats mix-up attacks when a client talks to several providers.
    match params.get("iss") {
        Some(iss) if *iss == provider.issuer => {}
        Some(iss) => {
            return Err(format!(
                "the response comes from issuer {iss:?}, not {:?}: refused (mix-up attack?)",
                provider.issuer
            )
            .into());
        }
        None if provider.authorization_response_iss_parameter_supported => {
            return Err("the response has no iss parameter (RFC 9207): refused".into());
        }
        None => {}
    }
    if let Some(error) = params.get("error") {
        return Err(Box::new(AuthorizationError {
            error: error.clone(),
            description: params.get("error_description").cloned(),
        }));
    }
    params
        .get("code")
        .cloned()
        .ok_or_else(|| "the response has neither code nor error".into())
}

/// How the client authenticates at the token endpoint.
pub enum ClientAuth<'a> {
    /// `client_secret_basic`: a confidential client (a server-side web app).
    Basic {
        /// Client id.
        client_id: &'a str,
        /// Client secret.
        client_secret: &'a str,
    },
    /// `none`: a public client (SPA, CLI, mobile app) sends only its id; PKCE is what proves
    /// the code is its own.
    Public {
        /// Client id.
        client_id: &'a str,
    },
}

/// RFC 6749 §2.3.1: the Basic header of a client is built from the form-urlencoded id and
/// secret (many libraries forget the encoding; Warden's ids and secrets need none, but others'
/// may).
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(client_secret));
    format!("Basic {}", STANDARD.encode(pair))
}

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3). No `Debug`: it holds
/// bearer tokens, which must not end up in logs.
#[derive(Deserialize)]
pub struct TokenResponse {
    /// The access token (for `/userinfo`, or the API named with `resource`).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: Option<u64>,
    /// What was granted (may be less than requested).
    pub scope: Option<String>,
    /// Only with `offline_access`, for clients allowed the refresh_token grant.
    pub refresh_token: Option<String>,
    /// With the `openid` scope.
    pub id_token: Option<String>,
}

/// An RFC 6749 §5.2 error body.
#[derive(Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

/// Redeems an authorization code (RFC 6749 §4.1.3 with RFC 7636 §4.5). `redirect_uri` must be
/// the one of the authorization request, character for character.
pub async fn exchange_code(
    http: &reqwest::Client,
    provider: &ProviderMetadata,
    auth: &ClientAuth<'_>,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<TokenResponse> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier),
    ];
    let mut request = http.post(&provider.token_endpoint);
    match auth {
        ClientAuth::Basic {
            client_id,
            client_secret,
        } => {
            request = request.header(
                reqwest::header::AUTHORIZATION,
                basic_authorization(client_id, client_secret),
            );
        }
        ClientAuth::Public { client_id } => form.push(("client_id", client_id)),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("token endpoint unreachable: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("token endpoint: {e}"))?;
    if !status.is_success() {
        return Err(match serde_json::from_slice::<TokenError>(&body) {
            Ok(e) => format!(
                "token endpoint refused the code: {} ({})",
                e.error,
                e.error_description.unwrap_or_default()
            ),
            Err(_) => format!("token endpoint answered HTTP {status}"),
        }
        .into());
    }
    let tokens: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| format!("token endpoint: unexpected response: {e}"))?;
    // RFC 6749 §7.1: the client must understand the token type; here only Bearer.
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!("unexpected token_type {:?}", tokens.token_type).into());
    }
    Ok(tokens)
}

/// What an ID token must satisfy besides its signature.
pub struct IdTokenChecks<'a> {
    /// The algorithm this client registered (`id_token_signed_response_alg`; Warden's default
    /// is RS256). Never taken from the token's own header.
    pub alg: Algorithm,
    /// The issuer from discovery.
    pub issuer: &'a str,
    /// This client's id: the audience.
    pub client_id: &'a str,
    /// The nonce sent in the authorization request.
    pub nonce: &'a str,
    /// Hash claims that must be present and match: `("at_hash", access_token)`,
    /// `("c_hash", code)`, `("s_hash", state)`.
    pub hashes: &'a [(&'a str, &'a str)],
}

/// The verified claims of an ID token.
#[derive(Debug, Clone, Deserialize)]
pub struct IdTokenClaims {
    /// The user's stable, opaque identifier at this issuer.
    pub sub: String,
    /// Every claim, `sub` included.
    #[serde(flatten)]
    pub all: Map<String, Value>,
}

/// Verifies an ID token as OpenID Connect Core 1.0 §3.1.3.7 lists (and §3.3.2.12 for the hybrid
/// flow's front-channel token), and returns its claims.
pub async fn verify_id_token(
    http: &reqwest::Client,
    provider: &ProviderMetadata,
    id_token: &str,
    checks: &IdTokenChecks<'_>,
) -> Result<IdTokenClaims> {
    let header =
        jsonwebtoken::decode_header(id_token).map_err(|e| format!("ID token header: {e}"))?;
    // §3.1.3.7 step 7: "The alg value SHOULD be the default of RS256 or the algorithm sent by
    // the Client in the id_token_signed_response_alg parameter during Registration." A token
    // that names another algorithm is refused before any key is chosen.
    if header.alg != checks.alg {
        return Err(format!(
            "ID token signed with {:?}, expected {:?}",
            header.alg, checks.alg
        )
        .into());
    }
    // §3.1.3.7 step 6: validate the signature "using the keys provided by the Issuer", found by
    // `kid` in the JWK Set named by discovery (never a key or URL named by the token itself).
    // The set is fetched on each login here; a busy application would cache it and refetch
    // when an unknown `kid` appears (keys rotate).
    let kid = header.kid.ok_or("the ID token has no kid")?;
    let keys: JwkSet = http
        .get(&provider.jwks_uri)
        .send()
        .await
        .map_err(|e| format!("JWKS unreachable: {e}"))?
        .json()
        .await
        .map_err(|e| format!("JWKS: {e}"))?;
    let jwk = keys
        .find(&kid)
        .ok_or_else(|| format!("no key {kid:?} in the provider's JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key {kid:?}: {e}"))?;

    let mut validation = Validation::new(checks.alg);
    // Step 2: "The Issuer Identifier ... MUST exactly match the value of the iss Claim."
    validation.set_issuer(&[checks.issuer]);
    // Step 3: the aud Claim "MUST contain its client_id value".
    validation.set_audience(&[checks.client_id]);
    // Step 9: "The current time MUST be before the time represented by the exp Claim"
    // (jsonwebtoken allows 60 s of clock skew by default).
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let mut claims = jsonwebtoken::decode::<IdTokenClaims>(id_token, &key, &validation)
        .map_err(|e| format!("ID token rejected: {e}"))?
        .claims;
    // `flatten` collects the claims not named in the struct; keep the full set in `all`.
    claims
        .all
        .insert(String::from("sub"), Value::String(claims.sub.clone()));

    // Steps 4-5: with an azp Claim, it must be this client.
    if let Some(azp) = claims.all.get("azp")
        && azp.as_str() != Some(checks.client_id)
    {
        return Err("ID token azp is another client".into());
    }
    // Step 11: "If a nonce value was sent in the Authentication Request, a nonce Claim MUST be
    // present and its value checked to verify that it is the same value as the one that was
    // sent". This is what stops a replayed ID token.
    if claims.all.get("nonce").and_then(Value::as_str) != Some(checks.nonce) {
        return Err("ID token nonce does not match this login: refused".into());
    }
    // §3.1.3.8 / §3.3.2.11 (and FAPI's s_hash): the left half of the hash of the access token,
    // code or state, which ties this token to the values that came with it.
    for (claim, value) in checks.hashes {
        let expected = left_half_hash(checks.alg, value)?;
        if claims.all.get(*claim).and_then(Value::as_str) != Some(expected.as_str()) {
            return Err(format!("ID token {claim} does not match: refused").into());
        }
    }
    Ok(claims)
}

/// base64url of the left-most half of the hash of `value`, with the hash of the JWS algorithm
/// (OIDC Core §3.1.3.6 `at_hash`; SHA-512 for EdDSA/Ed25519).
pub fn left_half_hash(alg: Algorithm, value: &str) -> Result<String> {
    use aws_lc_rs::digest::{SHA256, SHA384, SHA512, digest};
    let hash = match alg {
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => &SHA256,
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => &SHA384,
        Algorithm::RS512 | Algorithm::PS512 | Algorithm::EdDSA => &SHA512,
        other => return Err(format!("no hash claims for {other:?}").into()),
    };
    let d = digest(hash, value.as_bytes());
    let bytes = d.as_ref();
    Ok(URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2]))
}

/// Calls the UserInfo endpoint (OIDC Core §5.3) and checks the answer is about `expected_sub`.
pub async fn userinfo(
    http: &reqwest::Client,
    provider: &ProviderMetadata,
    access_token: &str,
    expected_sub: &str,
) -> Result<Map<String, Value>> {
    let endpoint = provider
        .userinfo_endpoint
        .as_deref()
        .ok_or("the provider has no userinfo_endpoint")?;
    let response = http
        .get(endpoint)
        .bearer_auth(access_token)
        .send()
        .await
        .map_err(|e| format!("userinfo unreachable: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("userinfo answered HTTP {}", response.status()).into());
    }
    let claims: Map<String, Value> = response
        .json()
        .await
        .map_err(|e| format!("userinfo: {e}"))?;
    // §5.3.2: "The sub Claim in the UserInfo Response MUST be verified to exactly match the
    // sub Claim in the ID Token; if they do not match, the UserInfo Response values MUST NOT
    // be used."
    if claims.get("sub").and_then(Value::as_str) != Some(expected_sub) {
        return Err("userinfo is about another user: refused".into());
    }
    Ok(claims)
}

/// Text made safe to put in HTML (element content and quoted attributes).
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_values_are_43_url_safe_characters() {
        let v = random_value().unwrap();
        assert_eq!(v.len(), 43);
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(v, random_value().unwrap());
    }

    #[test]
    fn at_hash_of_oidc_core_appendix_a3() {
        // OIDC Core Appendix A.3: access token and its at_hash (RS256).
        assert_eq!(
            left_half_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            )
            .unwrap(),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    fn provider() -> ProviderMetadata {
        ProviderMetadata {
            issuer: String::from("https://id.example"),
            authorization_endpoint: String::from("https://id.example/authorize"),
            token_endpoint: String::from("https://id.example/token"),
            jwks_uri: String::from("https://id.example/jwks"),
            userinfo_endpoint: None,
            end_session_endpoint: None,
            authorization_response_iss_parameter_supported: true,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn callback_checks_state_then_iss_then_error() {
        let p = provider();
        let ok = params(&[("code", "c"), ("state", "s"), ("iss", "https://id.example")]);
        assert_eq!(check_authorization_response(&ok, "s", &p).unwrap(), "c");
        let wrong_state = params(&[("code", "c"), ("state", "x"), ("iss", "https://id.example")]);
        assert!(check_authorization_response(&wrong_state, "s", &p).is_err());
        let no_iss = params(&[("code", "c"), ("state", "s")]);
        assert!(check_authorization_response(&no_iss, "s", &p).is_err());
        let other_iss = params(&[("code", "c"), ("state", "s"), ("iss", "https://evil")]);
        assert!(check_authorization_response(&other_iss, "s", &p).is_err());
        let denied = params(&[
            ("error", "access_denied"),
            ("state", "s"),
            ("iss", "https://id.example"),
        ]);
        let err = check_authorization_response(&denied, "s", &p).unwrap_err();
        assert!(err.to_string().contains("access_denied"), "{err}");
        // A forged error (wrong state) is refused as forged, not reported as the error.
        let forged = params(&[("error", "access_denied"), ("state", "x")]);
        let err = check_authorization_response(&forged, "s", &p).unwrap_err();
        assert!(err.to_string().contains("state"), "{err}");
    }

    #[test]
    fn authorization_url_encodes_every_value() {
        let url = authorization_url(
            &provider(),
            &AuthorizationRequest {
                response_type: "code",
                client_id: "a b",
                redirect_uri: "http://127.0.0.1:5000/callback",
                scope: "openid profile",
                state: "s&t",
                nonce: "n",
                code_challenge: "c",
                response_mode: None,
            },
        )
        .unwrap();
        assert_eq!(
            url,
            "https://id.example/authorize?response_type=code&client_id=a+b\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&scope=openid+profile\
             &state=s%26t&nonce=n&code_challenge=c&code_challenge_method=S256"
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        assert_eq!(basic_authorization("a:b", "c d"), "Basic YSUzQWI6Yytk");
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
