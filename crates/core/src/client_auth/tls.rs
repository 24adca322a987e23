//! Mutual-TLS client authentication (RFC 8705 §2): the client proves itself with the
//! certificate of the TLS connection, which the transport hands over as a
//! [`PresentedCertificate`].
//!
//! - `tls_client_auth` (§2.1): the certificate chains to one of the configured client CAs and
//!   is within its validity period (the transport checked both: `chain_verified`), and it
//!   carries the one identity the client registered: its subject DN
//!   (`tls_client_auth_subject_dn`) or a subject alternative name (`tls_client_auth_san_dns`,
//!   `_san_uri`, `_san_ip`, `_san_email`).
//! - `self_signed_tls_client_auth` (§2.2): the certificate is, byte for byte, the first `x5c`
//!   entry of a key in the client's registered `jwks` or `jwks_uri`. No chain is checked: the
//!   registration pins the certificate.
//!
//! Matching rules for the registered identity:
//! - subject DN: the RFC 4514 string and the certificate's subject are compared as sequences
//!   of RDNs. Attribute types are matched by OID, so `CN`, `cn`, `commonName`, `2.5.4.3` and
//!   `OID.2.5.4.3` are the same type; spaces around `=`, `,` and `+` are ignored, RFC 4514
//!   escapes (`\,`, `\2C`, ...) and `#`-hex values are understood, and the attributes of a
//!   multi-valued RDN may come in any order. Values themselves are compared exactly
//!   (case-sensitive), after dropping unescaped leading and trailing spaces.
//! - `dNSName`: ASCII case-insensitive. `uniformResourceIdentifier`: exact. `iPAddress`: as
//!   addresses (`::ffff:10.0.0.1` is `10.0.0.1`). `rfc822Name`: the local part exactly, the
//!   domain case-insensitively.

use std::net::IpAddr;

use base64::Engine as _;
use warden_types::TokenEndpointAuthMethod;
use warden_types::jwk::{Jwk, JwkSet};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::der::asn1::UintRef;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::oid::db::DB;
use x509_cert::der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use super::{AuthenticatedClient, CallContext};
use crate::binding::PresentedCertificate;
use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::{Client, ClientTls};

/// Longest registered identity value we accept (DN string, SAN).
const MAX_IDENTITY_LEN: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Subject DN patterns (RFC 4514 strings)

/// A value in a registered DN: text, or the DER of the value (`#hex` form).
#[derive(Debug, Clone, PartialEq, Eq)]
enum DnValue {
    Text(String),
    Der(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DnAttribute {
    oid: ObjectIdentifier,
    value: DnValue,
}

/// A subject DN as registered (RFC 4514 string), parsed for comparison with certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnPattern {
    /// RDNs in string order: the most specific (the certificate's last) first.
    rdns: Vec<Vec<DnAttribute>>,
}

/// One character of a DN string, and whether it was escaped.
#[derive(Clone, Copy)]
struct DnChar {
    byte: u8,
    escaped: bool,
}

/// Splits `s` at the unescaped occurrences of `sep` (a backslash escapes the next character).
fn split_unescaped(s: &str, sep: u8) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == sep => {
                parts.push(&s[start..i]);
                start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    parts.push(&s[start.min(s.len())..]);
    parts
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Undoes RFC 4514 §2.4 escaping, marking escaped characters.
fn unescape(raw: &str) -> Result<Vec<DnChar>, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(DnChar {
                byte: bytes[i],
                escaped: false,
            });
            i += 1;
            continue;
        }
        let Some(&next) = bytes.get(i + 1) else {
            return Err(String::from("a value ends with a lone backslash"));
        };
        if let (Some(h), Some(l)) = (
            hex_digit(next),
            bytes.get(i + 2).copied().and_then(hex_digit),
        ) {
            out.push(DnChar {
                byte: (h << 4) | l,
                escaped: true,
            });
            i += 3;
        } else if matches!(
            next,
            b' ' | b'"' | b'#' | b'+' | b',' | b';' | b'<' | b'=' | b'>' | b'\\'
        ) {
            out.push(DnChar {
                byte: next,
                escaped: true,
            });
            i += 2;
        } else {
            return Err(format!("invalid escape '\\{}'", char::from(next)));
        }
    }
    Ok(out)
}

fn attribute_type(raw: &str) -> Result<ObjectIdentifier, String> {
    let name = raw.trim();
    let dotted = name
        .strip_prefix("oid.")
        .or_else(|| name.strip_prefix("OID."))
        .unwrap_or(name);
    if dotted.starts_with(|c: char| c.is_ascii_digit()) {
        return ObjectIdentifier::new(dotted)
            .map_err(|_| format!("'{}' is not a valid attribute type OID", shown(name)));
    }
    DB.by_name(name)
        .copied()
        .ok_or_else(|| format!("unknown attribute type '{}'", shown(name)))
}

fn shown(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(80).collect()
}

fn parse_attribute(raw: &str) -> Result<DnAttribute, String> {
    let Some((kind, value)) = raw.split_once('=') else {
        return Err(format!("'{}' is not TYPE=VALUE", shown(raw.trim())));
    };
    let oid = attribute_type(kind)?;
    let value = value.trim_start();
    if let Some(hex) = value.strip_prefix('#') {
        let hex = hex.trim_end();
        if hex.is_empty() || !hex.len().is_multiple_of(2) {
            return Err(String::from("malformed #hex value"));
        }
        let der = hex
            .as_bytes()
            .chunks(2)
            .map(|p| Some((hex_digit(p[0])? << 4) | hex_digit(p[1])?))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| String::from("malformed #hex value"))?;
        return Ok(DnAttribute {
            oid,
            value: DnValue::Der(der),
        });
    }
    let chars = unescape(value)?;
    // Unescaped trailing spaces are not part of the value (RFC 4514 §2.4 escapes the ones
    // that are).
    let end = chars
        .iter()
        .rposition(|c| c.escaped || c.byte != b' ')
        .map_or(0, |p| p + 1);
    let bytes: Vec<u8> = chars[..end].iter().map(|c| c.byte).collect();
    let text = String::from_utf8(bytes).map_err(|_| String::from("a value is not valid UTF-8"))?;
    Ok(DnAttribute {
        oid,
        value: DnValue::Text(text),
    })
}

impl DnPattern {
    /// Parses an RFC 4514 string; the error says what is wrong, for the registrant.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() > MAX_IDENTITY_LEN {
            return Err(String::from("too long"));
        }
        if s.trim().is_empty() {
            return Err(String::from("empty"));
        }
        let mut rdns = Vec::new();
        for rdn in split_unescaped(s, b',') {
            if rdn.trim().is_empty() {
                return Err(String::from("an RDN is empty"));
            }
            let attributes = split_unescaped(rdn, b'+')
                .into_iter()
                .map(parse_attribute)
                .collect::<Result<Vec<_>, _>>()?;
            rdns.push(attributes);
        }
        Ok(Self { rdns })
    }

    /// Whether the certificate subject `name` is this DN.
    pub fn matches(&self, name: &Name) -> bool {
        let subject = &name.0;
        if subject.len() != self.rdns.len() {
            return false;
        }
        // RFC 4514 §2.1: the string starts with the last RDN of the sequence.
        subject.iter().rev().zip(&self.rdns).all(|(rdn, pattern)| {
            rdn.0.len() == pattern.len()
                && pattern
                    .iter()
                    .all(|want| rdn.0.iter().any(|atv| attribute_matches(want, atv)))
        })
    }
}

fn attribute_matches(want: &DnAttribute, atv: &AttributeTypeAndValue) -> bool {
    if want.oid != atv.oid {
        return false;
    }
    match &want.value {
        DnValue::Der(der) => atv.value.to_der().is_ok_and(|d| &d == der),
        DnValue::Text(text) => {
            directory_string(atv.value.tag(), atv.value.value()).is_some_and(|v| v == *text)
        }
    }
}

/// The text of a DirectoryString-like value (RFC 5280 §4.1.2.4), or `None` for other types.
fn directory_string(tag: Tag, bytes: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::VisibleString
        | Tag::NumericString => String::from_utf8(bytes.to_vec()).ok(),
        // T.61 in theory; Latin-1 in practice.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Registered identities

/// Which identity a `tls_client_auth` client registered, parsed.
#[derive(Debug, Clone)]
enum Identity {
    SubjectDn(DnPattern),
    Dns(String),
    Uri(String),
    Ip(IpAddr),
    Email(String),
}

impl Identity {
    fn describe(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => "subject DN",
            Self::Dns(_) => "dNSName subject alternative name",
            Self::Uri(_) => "URI subject alternative name",
            Self::Ip(_) => "iPAddress subject alternative name",
            Self::Email(_) => "rfc822Name subject alternative name",
        }
    }
}

/// Checks that exactly one identity is registered and that it is well formed (RFC 8705
/// §2.1.2). The error names the metadata field, for `invalid_client_metadata`.
pub fn validate_tls_identity(tls: &ClientTls) -> Result<(), String> {
    identity(tls).map(|_| ())
}

fn identity(tls: &ClientTls) -> Result<Identity, String> {
    let set: Vec<(&str, &String)> = [
        ("tls_client_auth_subject_dn", &tls.subject_dn),
        ("tls_client_auth_san_dns", &tls.san_dns),
        ("tls_client_auth_san_uri", &tls.san_uri),
        ("tls_client_auth_san_ip", &tls.san_ip),
        ("tls_client_auth_san_email", &tls.san_email),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| (name, v)))
    .collect();
    let [(field, value)] = set.as_slice() else {
        return Err(String::from(
            "tls_client_auth requires exactly one of tls_client_auth_subject_dn, \
             tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip and \
             tls_client_auth_san_email",
        ));
    };
    let (field, value) = (*field, value.as_str());
    if value.len() > MAX_IDENTITY_LEN || value.chars().any(char::is_control) {
        return Err(format!(
            "{field} must be at most {MAX_IDENTITY_LEN} printable characters"
        ));
    }
    if value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    match field {
        "tls_client_auth_subject_dn" => DnPattern::parse(value)
            .map(Identity::SubjectDn)
            .map_err(|e| format!("{field} is not a valid RFC 4514 distinguished name: {e}")),
        "tls_client_auth_san_dns" => {
            if value.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
                return Err(format!("{field} is not a DNS name"));
            }
            Ok(Identity::Dns(value.to_owned()))
        }
        "tls_client_auth_san_uri" => {
            url::Url::parse(value).map_err(|_| format!("{field} is not an absolute URI"))?;
            Ok(Identity::Uri(value.to_owned()))
        }
        "tls_client_auth_san_ip" => value
            .parse::<IpAddr>()
            .map(Identity::Ip)
            .map_err(|_| format!("{field} is not an IPv4 or IPv6 address")),
        _ => match value.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                Ok(Identity::Email(value.to_owned()))
            }
            _ => Err(format!("{field} is not an email address")),
        },
    }
}

fn email_matches(want: &str, have: &str) -> bool {
    match (want.rsplit_once('@'), have.rsplit_once('@')) {
        (Some((wl, wd)), Some((hl, hd))) => wl == hl && wd.eq_ignore_ascii_case(hd),
        _ => false,
    }
}

fn ip_from_octets(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Parses a DER certificate.
pub fn parse_certificate(der: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der).map_err(|e| format!("not a valid X.509 certificate: {e}"))
}

/// The subject alternative names of `cert` (none when it has no such extension).
fn subject_alt_names(cert: &Certificate) -> Vec<GeneralName> {
    match cert.tbs_certificate.get::<SubjectAltName>() {
        Ok(Some((_, san))) => san.0,
        _ => Vec::new(),
    }
}

fn certificate_has(identity: &Identity, cert: &Certificate) -> bool {
    if let Identity::SubjectDn(pattern) = identity {
        return pattern.matches(&cert.tbs_certificate.subject);
    }
    subject_alt_names(cert)
        .iter()
        .any(|name| match (identity, name) {
            (Identity::Dns(want), GeneralName::DnsName(have)) => {
                want.eq_ignore_ascii_case(have.as_str())
            }
            (Identity::Uri(want), GeneralName::UniformResourceIdentifier(have)) => {
                want == have.as_str()
            }
            (Identity::Ip(want), GeneralName::IpAddress(have)) => ip_from_octets(have.as_bytes())
                .is_some_and(|have| have.to_canonical() == want.to_canonical()),
            (Identity::Email(want), GeneralName::Rfc822Name(have)) => {
                email_matches(want, have.as_str())
            }
            _ => false,
        })
}

// ---------------------------------------------------------------------------------------------
// Self-signed certificates pinned in a JWK Set

/// The DER certificates a JWK Set pins for `self_signed_tls_client_auth`: the first `x5c`
/// entry of each key (standard base64, RFC 7517 §4.7). Undecodable entries are skipped.
pub fn pinned_certificates(set: &JwkSet) -> Vec<Vec<u8>> {
    set.keys
        .iter()
        .filter_map(|k| k.x5c.as_ref()?.first())
        .filter_map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .collect()
}

/// Checks a `jwks` registered by value for `self_signed_tls_client_auth`: at least one key
/// has an `x5c` whose first entry is a certificate.
pub fn validate_pinned_jwks(set: &JwkSet) -> Result<(), String> {
    let mut found = false;
    for key in &set.keys {
        let Some(first) = key.x5c.as_ref().and_then(|c| c.first()) else {
            continue;
        };
        let der = base64::engine::general_purpose::STANDARD
            .decode(first.trim())
            .map_err(|_| String::from("jwks: an x5c entry is not standard base64"))?;
        parse_certificate(&der).map_err(|e| format!("jwks: x5c[0] is {e}"))?;
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(String::from(
            "self_signed_tls_client_auth requires a key with an x5c certificate in jwks",
        ))
    }
}

/// A public JWK for the key of a certificate, with the certificate as its `x5c` (for
/// registering a `self_signed_tls_client_auth` client from its certificate). RSA, EC P-256 /
/// P-384 and Ed25519 keys.
pub fn jwk_from_certificate(der: &[u8]) -> Result<Jwk, String> {
    let cert = parse_certificate(der)?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key = spki.subject_public_key.raw_bytes();
    let b64u = warden_jose::base64url_encode;
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    let x5c = base64::engine::general_purpose::STANDARD.encode(der);
    let mut jwk = match spki.algorithm.oid {
        RSA => {
            let (n, e) = SliceReader::new(key)
                .and_then(|mut r| {
                    r.sequence(|r| {
                        let n = UintRef::decode(r)?;
                        let e = UintRef::decode(r)?;
                        Ok((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
                    })
                })
                .map_err(|_| String::from("the certificate's RSA key is malformed"))?;
            serde_json::json!({"kty": "RSA", "n": b64u(&n), "e": b64u(&e)})
        }
        EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            let (crv, len) = match curve {
                Some(P256) => ("P-256", 32),
                Some(P384) => ("P-384", 48),
                _ => return Err(String::from("the certificate's EC curve is not supported")),
            };
            if key.len() != 1 + 2 * len || key[0] != 4 {
                return Err(String::from(
                    "the certificate's EC key is not an uncompressed point",
                ));
            }
            serde_json::json!({
                "kty": "EC",
                "crv": crv,
                "x": b64u(&key[1..=len]),
                "y": b64u(&key[1 + len..]),
            })
        }
        ED25519 if key.len() == 32 => {
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(key)})
        }
        _ => {
            return Err(String::from(
                "the certificate's key type is not supported (RSA, EC P-256/P-384, Ed25519)",
            ));
        }
    };
    jwk["x5c"] = serde_json::json!([x5c]);
    serde_json::from_value(jwk).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Authentication

fn bad(reason: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_client(reason)
}

impl Engine {
    /// Authenticates `client`, registered for a mutual-TLS method, by the connection's
    /// certificate.
    pub(super) async fn authenticate_mtls(
        &self,
        client: std::sync::Arc<Client>,
        ctx: &CallContext<'_>,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let method = client.auth_method;
        let Some(certificate) = ctx.certificate else {
            return Err(bad(format!(
                "client {method} requires a client certificate on the TLS connection, and none \
                 was presented"
            )));
        };
        match method {
            TokenEndpointAuthMethod::TlsClientAuth => check_pki_certificate(&client, certificate)?,
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth => {
                self.check_pinned_certificate(&client, certificate, ctx)
                    .await?
            }
            _ => {
                return Err(bad(
                    "client is not registered for mutual-TLS authentication",
                ));
            }
        }
        Ok(AuthenticatedClient { client, method })
    }

    /// `self_signed_tls_client_auth`: the certificate must be one the client pinned in its
    /// `jwks`, or in the document at its `jwks_uri` (cached; refetched once, rate-limited,
    /// when the certificate is not in the cached copy, since the client may have rotated).
    async fn check_pinned_certificate(
        &self,
        client: &Client,
        certificate: &PresentedCertificate,
        ctx: &CallContext<'_>,
    ) -> Result<(), OAuthError> {
        let mismatch = || {
            bad(
                "the client certificate is not one of the certificates registered for this \
                 client (x5c in its jwks)",
            )
        };
        if let Some(jwks) = &client.jwks {
            return if pinned_certificates(jwks).contains(&certificate.der) {
                Ok(())
            } else {
                Err(mismatch())
            };
        }
        let Some(uri) = &client.jwks_uri else {
            return Err(bad(
                "client has no registered certificates (jwks or jwks_uri)",
            ));
        };
        let cfg = &self.config;
        let cache = &self.client_keys;
        let cached = match cache.cached_uri_document(uri, ctx.now, cfg.jwks_cache_ttl) {
            Some(set) => Some(set),
            None => {
                cache
                    .fetch_uri_document(
                        self.fetcher.as_ref(),
                        uri,
                        ctx.now,
                        cfg.jwks_refetch_interval,
                    )
                    .await
            }
        };
        if cached.is_some_and(|set| pinned_certificates(&set).contains(&certificate.der)) {
            return Ok(());
        }
        let refetched = cache
            .fetch_uri_document(
                self.fetcher.as_ref(),
                uri,
                ctx.now,
                cfg.jwks_refetch_interval,
            )
            .await;
        match refetched {
            Some(set) if pinned_certificates(&set).contains(&certificate.der) => Ok(()),
            Some(_) => Err(mismatch()),
            None => Err(bad(
                "client certificates could not be retrieved from its jwks_uri",
            )),
        }
    }
}

/// `tls_client_auth`: a trusted, current certificate carrying the registered identity.
fn check_pki_certificate(
    client: &Client,
    certificate: &PresentedCertificate,
) -> Result<(), OAuthError> {
    if !certificate.chain_verified {
        return Err(bad(
            "the client certificate is not trusted: it does not chain to a configured client \
             CA, or it is expired or not yet valid",
        ));
    }
    let identity = identity(&client.tls).map_err(|e| {
        tracing::warn!(client_id = %client.client_id, error = %e, "tls_client_auth client has no usable registered identity");
        bad("client has no usable registered certificate identity")
    })?;
    let cert = parse_certificate(&certificate.der)
        .map_err(|_| bad("the client certificate could not be parsed"))?;
    if certificate_has(&identity, &cert) {
        Ok(())
    } else if matches!(identity, Identity::SubjectDn(_)) {
        // The caller's own certificate subject, in RFC 4514 order (last RDN first), is the
        // usual cause: a DN registered in the encoding order instead.
        let subject: String = cert
            .tbs_certificate
            .subject
            .to_string()
            .chars()
            .take(300)
            .collect();
        Err(bad(format!(
            "the client certificate does not match the registered subject DN (the \
             certificate's subject is \"{subject}\" in RFC 4514 form)"
        )))
    } else {
        Err(bad(format!(
            "the client certificate does not match the registered {}",
            identity.describe()
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::str::FromStr;

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    #[test]
    fn dn_matching_is_tolerant_of_spacing_and_type_spelling() {
        let cert = name("CN=svc,O=Example Corp,C=US");
        for ok in [
            "CN=svc,O=Example Corp,C=US",
            "CN=svc, O=Example Corp, C=US",
            "cn = svc ,  o=Example Corp,c=US",
            "commonName=svc,organizationName=Example Corp,countryName=US",
            "2.5.4.3=svc,OID.2.5.4.10=Example Corp,C=US",
            "CN=\\73vc,O=Example\\20Corp,C=US",
        ] {
            assert!(DnPattern::parse(ok).unwrap().matches(&cert), "{ok}");
        }
        for bad in [
            "CN=svc,O=Example Corp",
            "CN=SVC,O=Example Corp,C=US",
            "CN=svc,O=Example Corp,C=US,DC=x",
            "O=Example Corp,CN=svc,C=US",
            "CN=other,O=Example Corp,C=US",
        ] {
            assert!(!DnPattern::parse(bad).unwrap().matches(&cert), "{bad}");
        }
    }

    #[test]
    fn dn_escapes_and_multivalued_rdns() {
        let cert = name("CN=a\\,b+UID=7,O=x");
        assert!(
            DnPattern::parse("UID=7+CN=a\\,b,O=x")
                .unwrap()
                .matches(&cert)
        );
        assert!(
            DnPattern::parse("CN=a\\2Cb + UID=7, O=x")
                .unwrap()
                .matches(&cert)
        );
        assert!(!DnPattern::parse("CN=a\\,b,O=x").unwrap().matches(&cert));
        let trailing = name("CN=a\\ ");
        assert!(DnPattern::parse("CN=a\\ ").unwrap().matches(&trailing));
        assert!(!DnPattern::parse("CN=a ").unwrap().matches(&trailing));
    }

    #[test]
    fn bad_dns_are_refused() {
        for bad in [
            "",
            "   ",
            "CN",
            "XX=1",
            "CN=a,,O=b",
            "CN=a\\",
            "CN=a\\q",
            "1.2.x=3",
            "CN=#zz",
        ] {
            assert!(DnPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exactly_one_identity() {
        assert!(validate_tls_identity(&ClientTls::default()).is_err());
        let two = ClientTls {
            san_dns: Some("a.example".into()),
            san_uri: Some("spiffe://x/y".into()),
            ..Default::default()
        };
        assert!(validate_tls_identity(&two).is_err());
        let ip = ClientTls {
            san_ip: Some("10.0.0.300".into()),
            ..Default::default()
        };
        assert!(validate_tls_identity(&ip).is_err());
        let ok = ClientTls {
            san_ip: Some("2001:db8::1".into()),
            ..Default::default()
        };
        assert!(validate_tls_identity(&ok).is_ok());
    }

    #[test]
    fn email_domain_is_case_insensitive() {
        assert!(email_matches("Svc@Example.com", "Svc@example.COM"));
        assert!(!email_matches("svc@example.com", "Svc@example.com"));
    }
}
