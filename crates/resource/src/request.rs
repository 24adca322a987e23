//! [`RequestInfo`]: what [`Validator::validate_request`](crate::Validator::validate_request)
//! needs to know about an HTTP request, and [`PeerCertificate`], the client certificate of a
//! mutual-TLS connection.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use warden_jose::{base64url_encode, sha256};

use crate::AuthError;

/// The longest client certificate accepted from a proxy header, decoded.
const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// The DER-encoded client certificate of the TLS connection a request came on (RFC 8705
/// §3). An application that terminates mutual TLS itself inserts it as a request extension
/// (e.g. from `tokio_rustls::server::TlsStream::get_ref().1.peer_certificates()`), where
/// the axum extractor and layer find it. Only the end-entity certificate is needed; the TLS
/// layer (or the proxy) decides which certificates it accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerCertificate(pub Vec<u8>);

impl PeerCertificate {
    /// The base64url SHA-256 of the DER, as in a bound token's `cnf["x5t#S256"]`.
    pub fn thumbprint(&self) -> String {
        base64url_encode(&sha256(&self.0))
    }
}

impl fmt::Debug for PeerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PeerCertificate")
            .field(&self.thumbprint())
            .finish()
    }
}

/// The parts of an HTTP request that authenticate it: the `Authorization` header(s), the
/// `DPoP` proof header(s) ([RFC 9449 §7.1]), the method and externally visible URL (the
/// proof's `htm` and `htu`), and the client certificate of the connection ([RFC 8705 §3]).
///
/// The axum integration builds it with
/// [`Validator::request_info`](crate::Validator::request_info); without axum, build it
/// yourself. `Debug` does not show the token or the proof.
///
/// ```
/// use warden_resource::RequestInfo;
///
/// let request = RequestInfo::new("POST", "https://api.example.com/charges")
///     .authorization("DPoP eyJhbGciOi…")
///     .dpop_proof("eyJ0eXAiOiJkcG9w…");
/// ```
///
/// [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1
/// [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3
#[derive(Clone, Default)]
pub struct RequestInfo {
    pub(crate) authorization: Vec<String>,
    pub(crate) dpop: Vec<String>,
    pub(crate) method: String,
    pub(crate) url: Option<String>,
    pub(crate) peer_certificate: Option<Vec<u8>>,
    /// A header could not be read as text (not visible ASCII): `invalid_request`.
    pub(crate) malformed: bool,
}

impl RequestInfo {
    /// A request with `method` (e.g. `GET`) to `url`, the absolute URL the client used
    /// (`https://api.example.com/charges`; query and fragment are ignored).
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// Adds an `Authorization` header value (call once per header line; more than one is
    /// `invalid_request`).
    pub fn authorization(mut self, value: impl Into<String>) -> Self {
        self.authorization.push(value.into());
        self
    }

    /// Adds a `DPoP` header value (the proof JWT; more than one is refused, RFC 9449 §4.3).
    pub fn dpop_proof(mut self, value: impl Into<String>) -> Self {
        self.dpop.push(value.into());
        self
    }

    /// The DER client certificate of the connection.
    pub fn peer_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.peer_certificate = Some(der.into());
        self
    }

    /// The request method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request URL, if known.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

impl fmt::Debug for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestInfo")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("authorization", &self.authorization.len())
            .field("dpop", &self.dpop.len())
            .field(
                "peer_certificate",
                &self
                    .peer_certificate
                    .as_ref()
                    .map(|der| base64url_encode(&sha256(der))),
            )
            .finish()
    }
}

/// The authentication scheme of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

/// The scheme and token of the one `Authorization` header (RFC 6750 §2.1, RFC 9449 §7.1).
/// The scheme is case-insensitive (RFC 9110 §11.1); another scheme counts as no token at all
/// (RFC 6750 §3.1: no error code then).
pub(crate) fn credentials(request: &RequestInfo) -> Result<(Scheme, &str), AuthError> {
    if request.malformed {
        return Err(AuthError::InvalidRequest);
    }
    let value = match request.authorization.as_slice() {
        [] => return Err(AuthError::MissingToken),
        [one] => one.as_str(),
        _ => return Err(AuthError::InvalidRequest),
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(AuthError::MissingToken);
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::InvalidRequest);
    }
    Ok((scheme, token))
}

/// A client certificate forwarded by a TLS-terminating proxy: either an RFC 9440 byte
/// sequence `:BASE64(DER):`, or a URL-encoded PEM certificate (nginx
/// `$ssl_client_escaped_cert`). `None` for anything else.
pub(crate) fn parse_certificate_header(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    if value.is_empty() || value.len() > 4 * MAX_CERTIFICATE_LEN {
        return None;
    }
    let der = if let Some(b64) = value
        .strip_prefix(':')
        .and_then(|rest| rest.strip_suffix(':'))
    {
        STANDARD.decode(b64).ok()?
    } else {
        let pem = percent_decode(value)?;
        pem_block(&pem, "CERTIFICATE")?
    };
    (!der.is_empty() && der.len() <= MAX_CERTIFICATE_LEN).then_some(der)
}

/// `%XX` decoding; `+` stays `+` (it is part of the base64 alphabet of a PEM body).
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The DER of the first PEM block labelled `label` (RFC 7468).
pub(crate) fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let body = pem.get(start..)?;
    let stop = body.find(&end)?;
    let b64: String = body
        .get(..stop)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_schemes() {
        let req = |values: &[&str]| {
            let mut r = RequestInfo::new("GET", "http://h/");
            for v in values {
                r = r.authorization(*v);
            }
            r
        };
        assert_eq!(credentials(&req(&[])), Err(AuthError::MissingToken));
        assert_eq!(
            credentials(&req(&["Basic abc"])),
            Err(AuthError::MissingToken)
        );
        assert_eq!(
            credentials(&req(&["bearer abc"])),
            Ok((Scheme::Bearer, "abc"))
        );
        assert_eq!(credentials(&req(&["DPoP abc"])), Ok((Scheme::Dpop, "abc")));
        assert_eq!(credentials(&req(&["dpop abc"])), Ok((Scheme::Dpop, "abc")));
        assert_eq!(
            credentials(&req(&["DPoP "])),
            Err(AuthError::InvalidRequest)
        );
        assert_eq!(
            credentials(&req(&["Bearer a", "Bearer b"])),
            Err(AuthError::InvalidRequest)
        );
        let debug = format!(
            "{:?}",
            req(&["Bearer secret-token"]).dpop_proof("proof-jwt")
        );
        assert!(
            !debug.contains("secret") && !debug.contains("proof-jwt"),
            "{debug}"
        );
    }

    #[test]
    fn proxy_certificate_headers() {
        let der = vec![0x30, 0x82, 0x01, 0xfb, 0xff];
        let b64 = STANDARD.encode(&der);
        assert_eq!(
            parse_certificate_header(&format!(":{b64}:")),
            Some(der.clone())
        );
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let escaped: String = url::form_urlencoded::byte_serialize(pem.as_bytes()).collect();
        // form encoding writes spaces as '+'; nginx writes %20. Use the nginx form.
        let escaped = escaped.replace('+', "%20");
        assert_eq!(parse_certificate_header(&escaped), Some(der.clone()));
        // A '+' of the base64 alphabet left unescaped stays a '+'.
        assert_eq!(
            parse_certificate_header(&pem.replace('\n', "%0A")),
            Some(der)
        );
        assert_eq!(parse_certificate_header("garbage"), None);
        assert_eq!(parse_certificate_header(":not base64:"), None);
        assert_eq!(parse_certificate_header("%zz"), None);
        assert_eq!(parse_certificate_header(""), None);
    }
}
