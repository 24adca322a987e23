//! Parsing of the form-encoded requests of the token, introspection and revocation endpoints
//! into typed values, before any decision is made.

use std::collections::HashMap;

use base64::Engine as _;
use warden_types::SecretString;

use crate::error::OAuthError;

/// Parameters a request may repeat: RFC 8707 §2 `resource`, and `audience` (RFC 8693 §2.1).
const REPEATABLE: [&str; 2] = ["resource", "audience"];

/// Decoded `application/x-www-form-urlencoded` parameters with RFC 6749 §3.2's rule enforced:
/// "Request and response parameters MUST NOT be included more than once."
#[derive(Debug, Default)]
pub struct FormParams {
    single: HashMap<String, String>,
    repeated: HashMap<&'static str, Vec<String>>,
}

impl FormParams {
    /// Parses a raw body. Empty values count as absent (RFC 6749 §3.1: "Parameters sent
    /// without a value MUST be treated as if they were omitted").
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = FormParams::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if let Some(name) = REPEATABLE.iter().find(|n| **n == key) {
                params
                    .repeated
                    .entry(name)
                    .or_default()
                    .push(value.into_owned());
                continue;
            }
            if params.single.contains_key(key.as_ref()) {
                // Name the parameter, never echo its value (it may be a secret).
                let name: String = key.chars().take(40).collect();
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{name}' is repeated"
                )));
            }
            params.single.insert(key.into_owned(), value.into_owned());
        }
        Ok(params)
    }

    /// A single-valued parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.single.get(name).map(String::as_str)
    }

    /// Removes and returns a parameter (for secrets, so they do not linger in the map).
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.single.remove(name)
    }

    /// The values of a repeatable parameter (`resource`, `audience`).
    pub fn all(&self, name: &str) -> &[String] {
        self.repeated.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Client credentials as presented, before anything is checked.
#[derive(Debug, Default)]
pub struct PresentedCredentials {
    /// From `Authorization: Basic`.
    pub basic: Option<(String, SecretString)>,
    /// `client_id` form parameter.
    pub client_id: Option<String>,
    /// `client_secret` form parameter.
    pub client_secret: Option<SecretString>,
    /// `client_assertion_type` form parameter.
    pub assertion_type: Option<String>,
    /// `client_assertion` form parameter.
    pub assertion: Option<SecretString>,
    /// Whether an `Authorization` header was sent (any scheme; a non-Basic one is ignored, but
    /// a Basic challenge is still owed if authentication fails).
    pub basic_attempted: bool,
}

impl PresentedCredentials {
    /// Whether no credential was presented (a `client_id` alone identifies, it does not
    /// authenticate).
    pub fn identifies_only(&self) -> bool {
        self.basic.is_none()
            && !self.basic_attempted
            && self.client_secret.is_none()
            && self.assertion_type.is_none()
            && self.assertion.is_none()
    }

    /// Collects credentials from the form and the `Authorization` header value.
    pub fn extract(form: &mut FormParams, authorization: Option<&str>) -> Result<Self, OAuthError> {
        let mut presented = PresentedCredentials {
            client_id: form.take("client_id"),
            client_secret: form.take("client_secret").map(SecretString::new),
            assertion_type: form.take("client_assertion_type"),
            assertion: form.take("client_assertion").map(SecretString::new),
            ..Default::default()
        };
        if let Some(header) = authorization {
            // RFC 6749 §5.2: a client that used the Authorization header in any form is owed a
            // challenge if it fails; Basic is the scheme we accept there.
            presented.basic_attempted = true;
            let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
            if scheme.eq_ignore_ascii_case("basic") {
                presented.basic = Some(parse_basic(rest.trim())?);
            }
        }
        Ok(presented)
    }
}

/// RFC 6749 §2.3.1: the client id and secret are form-urlencoded, then joined by a colon and
/// base64-encoded.
fn parse_basic(encoded: &str) -> Result<(String, SecretString), OAuthError> {
    let malformed = || {
        OAuthError::invalid_client("malformed HTTP Basic credentials")
            .with_challenge(crate::error::Challenge::Basic)
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id, SecretString::new(secret)))
}

fn form_decode(value: &str) -> Option<String> {
    // `+` means space in application/x-www-form-urlencoded.
    let replaced = value.replace('+', " ");
    let bytes: Vec<u8> = percent_decode(replaced.as_bytes())?;
    String::from_utf8(bytes).ok()
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameter_is_invalid_request() {
        let err = FormParams::parse(b"grant_type=a&grant_type=b").unwrap_err();
        assert_eq!(err.code, warden_types::ErrorCode::InvalidRequest);
        assert!(
            !err.description.contains('a'.to_string().as_str())
                || err.description.contains("grant_type")
        );
        let ok = FormParams::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb").unwrap();
        assert_eq!(ok.all("resource").len(), 2);
    }

    #[test]
    fn empty_values_are_absent() {
        let p = FormParams::parse(b"scope=&grant_type=client_credentials").unwrap();
        assert_eq!(p.get("scope"), None);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        // "my%3Aclient" : "p%40ss+word" → id "my:client", secret "p@ss word"
        let raw = base64::engine::general_purpose::STANDARD.encode("my%3Aclient:p%40ss+word");
        let mut form = FormParams::default();
        let p = PresentedCredentials::extract(&mut form, Some(&format!("Basic {raw}"))).unwrap();
        let (id, secret) = p.basic.unwrap();
        assert_eq!(id, "my:client");
        assert_eq!(secret.expose(), "p@ss word");
    }

    #[test]
    fn bad_basic_is_invalid_client() {
        let mut form = FormParams::default();
        let err = PresentedCredentials::extract(&mut form, Some("Basic !!!")).unwrap_err();
        assert_eq!(err.code, warden_types::ErrorCode::InvalidClient);
    }
}
