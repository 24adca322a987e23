//! TLS serving and client certificates (RFC 8705).
//!
//! - [`TlsReloader`] holds what the files say: the server's rustls configuration (certificate
//!   chain and key, TLS 1.2 and 1.3, ALPN `http/1.1`, the aws-lc-rs provider) and the client
//!   CA bundle. It re-reads them on SIGHUP and when a file's modification time changes; a
//!   failed reload keeps what was loaded and logs an error. The accept loop takes a snapshot
//!   per connection, so new handshakes see the new certificate and established connections
//!   carry on.
//! - With a client CA bundle, the server asks for a client certificate without requiring one.
//!   [`AnyClientCert`] accepts any well-formed certificate (self-signed ones are how
//!   `self_signed_tls_client_auth` works) and still checks the handshake signature, so the
//!   peer proves it holds the key. Whether the certificate chains to the bundle is computed
//!   afterwards ([`ClientCa::verify`]) and travels with it as
//!   [`PresentedCertificate::chain_verified`]; the engine decides what that is worth.
//! - Behind a TLS-terminating proxy, [`ProxyHeader`] reads the certificate from a header
//!   (URL-encoded PEM, or RFC 9440 `:base64-DER:`), only on connections from
//!   [`TrustedProxies`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConfig};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor, UnixTime};
use tokio::sync::watch;
use warden_core::PresentedCertificate;
use warden_types::ErrorCode;

use crate::config::TlsSettings;
use crate::extract::ClientCertificate;
use crate::http_error::HttpError;

/// How often the files' modification times are checked.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// Longest client certificate header accepted (a certificate with a few intermediates).
const MAX_HEADER_LEN: usize = 32 * 1024;

fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

// ---------------------------------------------------------------------------------------------
// Files

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// Every `CERTIFICATE` block of a PEM file; at least one.
fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {}: not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {}: no PEM CERTIFICATE block",
            path.display()
        ));
    }
    for cert in &certs {
        if webpki::EndEntityCert::try_from(cert).is_err() {
            return Err(format!(
                "{what} {}: a certificate could not be parsed",
                path.display()
            ));
        }
    }
    Ok(certs)
}

/// The private key of a PEM file. The messages never quote the file.
fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read_file(path, "TLS key")?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        format!(
            "TLS key {}: no PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)",
            path.display()
        )
    })
}

/// The server certificate chain and its key, checked to match.
fn load_certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let chain = read_certificates(cert, "TLS certificate")?;
    let key_der = read_private_key(key)?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(|e| {
        format!(
            "TLS key {} does not fit certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Client CAs and chain verification

/// The CAs that issue client certificates (`tls.client_ca`).
#[derive(Debug)]
pub struct ClientCa {
    anchors: Vec<TrustAnchor<'static>>,
    subjects: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCa {
    /// Reads a PEM bundle of CA certificates.
    pub fn load(path: &Path) -> Result<ClientCa, String> {
        let bytes = read_file(path, "client CA bundle")?;
        Self::from_pem(&bytes).map_err(|e| format!("client CA bundle {}: {e}", path.display()))
    }

    /// A bundle from PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<ClientCa, String> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not valid PEM: {e}"))?;
        Self::from_der(&certs)
    }

    /// A bundle from DER certificates.
    pub fn from_der(certs: &[CertificateDer<'_>]) -> Result<ClientCa, String> {
        if certs.is_empty() {
            return Err(String::from("no PEM CERTIFICATE block"));
        }
        let mut anchors = Vec::with_capacity(certs.len());
        for cert in certs {
            let anchor = webpki::anchor_from_trusted_cert(cert)
                .map_err(|e| format!("a CA certificate could not be parsed: {e}"))?;
            anchors.push(anchor.to_owned());
        }
        let subjects = anchors
            .iter()
            .map(|a| DistinguishedName::in_sequence(a.subject.as_ref()))
            .collect();
        Ok(ClientCa {
            anchors,
            subjects,
            algorithms: provider().signature_verification_algorithms,
        })
    }

    /// Whether `end_entity` (with the `intermediates` the client sent) chains to one of the
    /// CAs, is within its validity period at `now` and, if it lists extended key usages,
    /// allows client authentication.
    pub fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> bool {
        let Ok(cert) = webpki::EndEntityCert::try_from(end_entity) else {
            return false;
        };
        cert.verify_for_usage(
            self.algorithms.all,
            &self.anchors,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .is_ok()
    }
}

/// What the transport tells the engine about a certificate chain (end entity first): the
/// end-entity certificate and whether it chains to `ca` now. `None` for an empty chain.
pub fn presented_certificate(
    chain: &[CertificateDer<'_>],
    ca: Option<&ClientCa>,
) -> Option<PresentedCertificate> {
    let (end_entity, intermediates) = chain.split_first()?;
    let chain_verified = ca.is_some_and(|ca| ca.verify(end_entity, intermediates, UnixTime::now()));
    Some(PresentedCertificate {
        der: end_entity.to_vec(),
        chain_verified,
    })
}

/// Asks for a client certificate without requiring one, and accepts any well-formed
/// certificate: trust is decided later, per client, by the engine. The handshake signature
/// is still verified, so the peer holds the certificate's private key.
#[derive(Debug)]
pub struct AnyClientCert {
    subjects: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    /// Hints the subjects of `ca` to clients.
    pub fn new(ca: &ClientCa) -> AnyClientCert {
        AnyClientCert {
            subjects: ca.subjects.clone(),
            algorithms: ca.algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.subjects
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Always the same certificate (a configuration is rebuilt per reload).
#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The rustls configuration of the server: TLS 1.3 and 1.2, ALPN `http/1.1`, a client
/// certificate requested (never required) when `client_ca` is given.
pub fn server_config(
    certified: CertifiedKey,
    client_ca: Option<&ClientCa>,
) -> Result<ServerConfig, String> {
    let builder = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(Arc::new(AnyClientCert::new(ca))),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(FixedCert(Arc::new(certified))));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

// ---------------------------------------------------------------------------------------------
// Loading and reloading

/// One consistent view of the TLS files.
pub struct TlsState {
    /// The acceptor for new connections, when Warden serves TLS.
    pub acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// The client CA bundle, when configured.
    pub client_ca: Option<Arc<ClientCa>>,
    /// The served end-entity certificate, DER (for logs and tests).
    pub certificate: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsState")
            .field("serves_tls", &self.acceptor.is_some())
            .field("client_ca", &self.client_ca)
            .finish()
    }
}

impl std::fmt::Debug for TlsReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsReloader")
            .field("cert", &self.cert)
            .field("client_ca", &self.client_ca)
            .finish()
    }
}

/// Modification time and length of a file, to notice replacements.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The TLS files and what was last loaded from them.
pub struct TlsReloader {
    cert: Option<(PathBuf, PathBuf)>,
    client_ca: Option<PathBuf>,
    current: RwLock<Arc<TlsState>>,
    stamps: Mutex<Vec<Stamp>>,
}

impl TlsReloader {
    /// Loads the files of `settings`; `Ok(None)` when there is nothing to load (no
    /// certificate and no client CA bundle).
    pub fn from_settings(settings: &TlsSettings) -> Result<Option<Arc<TlsReloader>>, String> {
        let cert = match (&settings.cert, &settings.key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            _ => {
                return Err(String::from(
                    "tls: a certificate and a private key must be given together",
                ));
            }
        };
        if cert.is_none() && settings.client_ca.is_none() {
            return Ok(None);
        }
        let reloader = TlsReloader {
            cert,
            client_ca: settings.client_ca.clone(),
            current: RwLock::new(Arc::new(TlsState {
                acceptor: None,
                client_ca: None,
                certificate: None,
            })),
            stamps: Mutex::new(Vec::new()),
        };
        reloader.reload()?;
        Ok(Some(Arc::new(reloader)))
    }

    /// Whether Warden serves TLS itself.
    pub fn serves_tls(&self) -> bool {
        self.cert.is_some()
    }

    /// What new connections use.
    pub fn state(&self) -> Arc<TlsState> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn paths(&self) -> Vec<&Path> {
        let mut paths = Vec::new();
        if let Some((cert, key)) = &self.cert {
            paths.push(cert.as_path());
            paths.push(key.as_path());
        }
        if let Some(ca) = &self.client_ca {
            paths.push(ca.as_path());
        }
        paths
    }

    fn current_stamps(&self) -> Vec<Stamp> {
        self.paths().into_iter().map(stamp).collect()
    }

    /// Re-reads every file. On failure what was loaded stays in use.
    pub fn reload(&self) -> Result<(), String> {
        // Stamps first: a file replaced while it is being read is read again next poll.
        *self.stamps.lock().unwrap_or_else(PoisonError::into_inner) = self.current_stamps();
        let provider = provider();
        let client_ca = match &self.client_ca {
            Some(path) => Some(Arc::new(ClientCa::load(path)?)),
            None => None,
        };
        let (acceptor, certificate) = match &self.cert {
            Some((cert, key)) => {
                let certified = load_certified_key(cert, key, &provider)?;
                let leaf = certified.cert.first().map(|c| c.to_vec());
                let config = server_config(certified, client_ca.as_deref())?;
                (
                    Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
                    leaf,
                )
            }
            None => (None, None),
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(TlsState {
            acceptor,
            client_ca,
            certificate,
        });
        Ok(())
    }

    /// Reloads, logging the outcome.
    pub fn reload_logged(&self, why: &str) {
        match self.reload() {
            Ok(()) => tracing::info!(reason = why, "TLS files reloaded"),
            Err(e) => tracing::error!(
                reason = why,
                error = %e,
                "TLS reload failed; still using the previously loaded certificate"
            ),
        }
    }

    /// Reloads if a file's modification time or size changed since the last load; returns
    /// whether it tried.
    pub fn reload_if_changed(&self) -> bool {
        let now = self.current_stamps();
        let changed = *self.stamps.lock().unwrap_or_else(PoisonError::into_inner) != now;
        if changed {
            self.reload_logged("a TLS file changed");
        }
        changed
    }

    /// Watches for SIGHUP and file changes until `stop` changes.
    pub fn watch(self: Arc<Self>, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut ticker = tokio::time::interval(POLL_EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                #[cfg(unix)]
                let hup = async {
                    match hangup.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                #[cfg(not(unix))]
                let hup = std::future::pending::<()>();
                tokio::select! {
                    _ = ticker.tick() => {
                        self.reload_if_changed();
                    }
                    () = hup => self.reload_logged("SIGHUP"),
                    _ = stop.changed() => break,
                }
            }
        })
    }
}

/// The client certificate of an established TLS connection.
pub fn connection_certificate(
    conn: &rustls::ServerConnection,
    ca: Option<&ClientCa>,
) -> Option<PresentedCertificate> {
    presented_certificate(conn.peer_certificates()?, ca)
}

// ---------------------------------------------------------------------------------------------
// Trusted proxies

/// An address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(raw: &str) -> Result<IpNet, String> {
        let bad = || format!("'{raw}' is not an IP address or a CIDR range like 10.0.0.0/8");
        let (addr, prefix) = match raw.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw.trim(), None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(p) if p <= max => p,
                    _ => return Err(bad()),
                }
            }
            Some(_) => return Err(bad()),
        };
        // An IPv4-mapped IPv6 range (::ffff:a.b.c.d/n) is the IPv4 range it maps.
        let canonical = addr.to_canonical();
        let prefix = if canonical.is_ipv4() && addr.is_ipv6() {
            prefix.saturating_sub(96)
        } else {
            prefix
        };
        Ok(IpNet {
            addr: canonical,
            prefix,
        })
    }
}

impl IpNet {
    /// Whether `ip` is inside this range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies allowed to pass client certificates in a header.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses and CIDR ranges; the error names the first bad entry.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| e.parse::<IpNet>())
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of them.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy header

/// Why a client certificate header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Longer than we accept.
    TooLong,
    /// Not URL-encoded PEM, RFC 9440 `:base64:` or base64 DER.
    Malformed,
    /// Decoded, but not an X.509 certificate.
    NotACertificate,
}

/// Decodes a client certificate header: RFC 9440 `:base64(DER):`, URL-encoded PEM (nginx
/// `$ssl_client_escaped_cert`; several blocks are the certificate then intermediates), or
/// bare base64 DER. `Ok(None)` for an empty value.
pub fn parse_certificate_header(
    value: &[u8],
) -> Result<Option<Vec<CertificateDer<'static>>>, HeaderError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(HeaderError::TooLong);
    }
    let value = value.trim_ascii();
    if value.is_empty() {
        return Ok(None);
    }
    let ders: Vec<Vec<u8>> = if value.len() >= 2 && value.starts_with(b":") && value.ends_with(b":")
    {
        // RFC 9440 §2.2: an RFC 8941 byte sequence.
        vec![base64_lenient(&value[1..value.len() - 1])?]
    } else {
        // Form encoding (`+` for a space) shows in the marker; then `+` is a space and a
        // base64 `+` arrives as `%2B`. Otherwise `+` is itself.
        let form_encoded = value.windows(17).any(|w| w == b"BEGIN+CERTIFICATE");
        let decoded = percent_decode(value, form_encoded)?;
        if decoded.windows(10).any(|w| w == b"-----BEGIN") {
            pem_blocks(&decoded)?
        } else {
            vec![base64_lenient(&decoded)?]
        }
    };
    let chain: Vec<CertificateDer<'static>> = ders.into_iter().map(CertificateDer::from).collect();
    for cert in &chain {
        webpki::EndEntityCert::try_from(cert).map_err(|_| HeaderError::NotACertificate)?;
    }
    Ok(Some(chain))
}

fn base64_lenient(text: &[u8]) -> Result<Vec<u8>, HeaderError> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let der = engine.decode(compact).map_err(|_| HeaderError::Malformed)?;
    if der.is_empty() {
        return Err(HeaderError::Malformed);
    }
    Ok(der)
}

/// `%XX` escapes decoded; `+` is a space only in form encoding (`plus_is_space`).
fn percent_decode(value: &[u8], plus_is_space: bool) -> Result<Vec<u8>, HeaderError> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let hex = value.get(i + 1..i + 3).ok_or(HeaderError::Malformed)?;
            let hex = std::str::from_utf8(hex).map_err(|_| HeaderError::Malformed)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| HeaderError::Malformed)?);
            i += 3;
        } else if plus_is_space && value[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The `CERTIFICATE` blocks of PEM text, whatever the line breaks became (some proxies turn
/// them into spaces).
fn pem_blocks(text: &[u8]) -> Result<Vec<Vec<u8>>, HeaderError> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = find(rest, BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let end = find(body, END).ok_or(HeaderError::Malformed)?;
        blocks.push(base64_lenient(&body[..end])?);
        rest = &body[end + END.len()..];
    }
    if blocks.is_empty() || !rest.trim_ascii().is_empty() {
        return Err(HeaderError::Malformed);
    }
    Ok(blocks)
}

/// Client certificates from a TLS-terminating proxy: the header named by
/// `tls.client_cert_header`, honoured only from `tls.trusted_proxies`.
#[derive(Debug)]
pub struct ProxyHeader {
    name: HeaderName,
    proxies: TrustedProxies,
    tls: Option<Arc<TlsReloader>>,
    /// When the last warning about an untrusted sender was logged.
    last_warning: Mutex<Option<Instant>>,
    /// Headers ignored since that warning.
    ignored: AtomicU64,
}

/// Least time between two warnings about the header from an untrusted address.
const WARN_EVERY: Duration = Duration::from_secs(60);

impl ProxyHeader {
    /// The header settings, if a header is configured. `tls` provides the client CA bundle.
    pub fn from_settings(
        settings: &TlsSettings,
        tls: Option<Arc<TlsReloader>>,
    ) -> Result<Option<ProxyHeader>, String> {
        let Some(name) = &settings.client_cert_header else {
            return Ok(None);
        };
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("tls.client_cert_header: '{name}' is not a header name"))?;
        let proxies = TrustedProxies::parse(&settings.trusted_proxies)
            .map_err(|e| format!("tls.trusted_proxies: {e}"))?;
        if proxies.is_empty() {
            return Err(String::from(
                "tls.client_cert_header needs tls.trusted_proxies",
            ));
        }
        Ok(Some(ProxyHeader {
            name,
            proxies,
            tls,
            last_warning: Mutex::new(None),
            ignored: AtomicU64::new(0),
        }))
    }

    /// The certificate the header carries for a request from `peer`: `Ok(None)` without the
    /// header, or when `peer` is not a trusted proxy (then the header is ignored, with a
    /// warning at most once a minute).
    pub fn certificate(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<Option<PresentedCertificate>, HeaderError> {
        let mut values = headers.get_all(&self.name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if !peer.is_some_and(|ip| self.proxies.contains(ip)) {
            self.warn_untrusted(peer);
            return Ok(None);
        }
        if values.next().is_some() {
            return Err(HeaderError::Malformed);
        }
        let Some(chain) = parse_certificate_header(first.as_bytes())? else {
            return Ok(None);
        };
        let state = self.tls.as_ref().map(|t| t.state());
        let ca = state.as_ref().and_then(|s| s.client_ca.as_deref());
        Ok(presented_certificate(&chain, ca))
    }

    fn warn_untrusted(&self, peer: Option<IpAddr>) {
        let ignored = self.ignored.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < WARN_EVERY) {
            return;
        }
        *last = Some(now);
        self.ignored.store(0, Ordering::Relaxed);
        tracing::warn!(
            peer = ?peer,
            header = %self.name,
            ignored,
            "ignoring a client certificate header from an address that is not in tls.trusted_proxies"
        );
    }
}

/// Middleware: puts the proxy header's certificate into the request as
/// [`ClientCertificate`]; a malformed header from a trusted proxy is a 400. The header is
/// removed either way, so nothing downstream can mistake it for a verified value.
pub async fn proxy_certificate(
    State(proxy): State<Arc<ProxyHeader>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match proxy.certificate(peer, req.headers()) {
        Ok(Some(cert)) => {
            req.extensions_mut()
                .insert(ClientCertificate(Some(Arc::new(cert))));
        }
        Ok(None) => {}
        Err(e) => {
            let description = match e {
                HeaderError::TooLong => "the client certificate header is too long",
                HeaderError::Malformed => "the client certificate header is malformed",
                HeaderError::NotACertificate => {
                    "the client certificate header does not hold an X.509 certificate"
                }
            };
            return HttpError::with_status(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                description,
            )
            .into_response();
        }
    }
    req.headers_mut().remove(&proxy.name);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };

    struct Ca {
        issuer: CertifiedIssuer<'static, KeyPair>,
    }

    #[allow(clippy::disallowed_methods)] // certificates are valid in real time
    fn validity(params: &mut CertificateParams, from: i64, until: i64) {
        let now = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        params.not_before = epoch + Duration::from_secs((now + from) as u64);
        params.not_after = epoch + Duration::from_secs((now + until) as u64);
    }

    impl Ca {
        fn new(name: &str) -> Ca {
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            validity(&mut params, -86_400, 86_400);
            Ca {
                issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
            }
        }

        fn pem(&self) -> String {
            self.issuer.pem()
        }

        fn client_ca(&self) -> ClientCa {
            ClientCa::from_pem(self.pem().as_bytes()).unwrap()
        }

        /// (cert PEM, key PEM, DER)
        fn leaf(
            &self,
            cn: &str,
            sans: &[&str],
            eku: ExtendedKeyUsagePurpose,
            from: i64,
            until: i64,
        ) -> (String, String, Vec<u8>) {
            let mut params =
                CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![eku];
            validity(&mut params, from, until);
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            (cert.pem(), key.serialize_pem(), cert.der().to_vec())
        }

        fn client(&self, cn: &str) -> (String, String, Vec<u8>) {
            self.leaf(cn, &[], ExtendedKeyUsagePurpose::ClientAuth, -60, 3600)
        }
    }

    fn self_signed(cn: &str) -> (String, Vec<u8>) {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, -60, 3600);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), cert.der().to_vec())
    }

    fn der(bytes: &[u8]) -> CertificateDer<'_> {
        CertificateDer::from(bytes)
    }

    #[test]
    fn addresses_and_ranges() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")));
        assert!(net("192.168.1.77/24").contains(ip("192.168.1.1")));
        assert!(net("::1").contains(ip("::1")));
        assert!(net("fd00::/8").contains(ip("fd12:3456::1")));
        assert!(!net("fd00::/8").contains(ip("fe80::1")));
        // IPv4-mapped IPv6 peers (dual-stack listeners) count as IPv4, both ways.
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(net("::ffff:10.0.0.0/104").contains(ip("10.9.9.9")));
        assert!(!net("::ffff:10.0.0.0/104").contains(ip("11.9.9.9")));
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "::1/129",
            "localhost",
            "10.0.0",
            "10.0.0.0/ 8",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
        let err = TrustedProxies::parse(&["10.0.0.0/8".into(), "nope".into()]).unwrap_err();
        assert!(err.contains("'nope'"), "{err}");
        assert!(TrustedProxies::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn header_formats() {
        let ca = Ca::new("Header CA");
        let (pem, _, der_bytes) = ca.client("header-client");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der_bytes);
        let escaped: String = url::form_urlencoded::byte_serialize(pem.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        let spaced = pem.replace('\n', " ");
        let form: String = url::form_urlencoded::byte_serialize(pem.as_bytes()).collect();
        let unpadded = b64.trim_end_matches('=').to_owned();
        for value in [
            escaped.clone(),
            form,
            format!(":{b64}:"),
            format!(":{unpadded}:"),
            format!("  :{b64}:  "),
            pem.clone(),
            spaced,
            b64.clone(),
        ] {
            let chain = parse_certificate_header(value.as_bytes())
                .unwrap_or_else(|e| panic!("{value}: {e:?}"))
                .unwrap();
            assert_eq!(chain.len(), 1);
            assert_eq!(chain[0].as_ref(), der_bytes.as_slice());
        }
        // A certificate and its intermediates.
        let two = format!("{pem}{}", ca.pem());
        assert_eq!(
            parse_certificate_header(two.as_bytes())
                .unwrap()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(parse_certificate_header(b"").unwrap(), None);
        assert_eq!(parse_certificate_header(b"   ").unwrap(), None);
        let not_cert = base64::engine::general_purpose::STANDARD.encode(b"hello, world");
        for (value, expected) in [
            (String::from("%ZZ"), HeaderError::Malformed),
            (String::from("abc%2"), HeaderError::Malformed),
            (String::from("::"), HeaderError::Malformed),
            (String::from(":not base64!:"), HeaderError::Malformed),
            (String::from("not a certificate!"), HeaderError::Malformed),
            (
                String::from("-----BEGIN CERTIFICATE-----MIIB"),
                HeaderError::Malformed,
            ),
            (format!("{pem}trailing"), HeaderError::Malformed),
            (format!(":{not_cert}:"), HeaderError::NotACertificate),
            (not_cert.clone(), HeaderError::NotACertificate),
            ("A".repeat(MAX_HEADER_LEN + 1), HeaderError::TooLong),
        ] {
            assert_eq!(
                parse_certificate_header(value.as_bytes()),
                Err(expected),
                "{value:.60}"
            );
        }
        let _ = escaped;
    }

    #[test]
    fn chain_verification() {
        let ca = Ca::new("Chain CA");
        let other = Ca::new("Other CA");
        let bundle = ca.client_ca();
        let now = UnixTime::now();
        let (_, _, good) = ca.client("good");
        assert!(bundle.verify(&der(&good), &[], now));
        // Another CA, self-signed, expired, not yet valid, server-only usage: not verified.
        let (_, _, foreign) = other.client("foreign");
        assert!(!bundle.verify(&der(&foreign), &[], now));
        let (_, ss) = self_signed("self");
        assert!(!bundle.verify(&der(&ss), &[], now));
        let (_, _, expired) = ca.leaf(
            "expired",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            -7200,
            -3600,
        );
        assert!(!bundle.verify(&der(&expired), &[], now));
        let (_, _, future) = ca.leaf(
            "future",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            3600,
            7200,
        );
        assert!(!bundle.verify(&der(&future), &[], now));
        let (_, _, server_only) = ca.leaf(
            "server",
            &["localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            -60,
            3600,
        );
        assert!(!bundle.verify(&der(&server_only), &[], now));
        assert!(!bundle.verify(&der(b"garbage"), &[], now));

        // A bundle of two CAs verifies both.
        let both = ClientCa::from_pem(format!("{}{}", ca.pem(), other.pem()).as_bytes()).unwrap();
        assert!(both.verify(&der(&foreign), &[], now));
        assert_eq!(both.subjects.len(), 2);

        let presented = presented_certificate(&[der(&good).into_owned()], Some(&bundle)).unwrap();
        assert!(presented.chain_verified);
        assert_eq!(presented.der, good);
        let without_ca = presented_certificate(&[der(&good).into_owned()], None).unwrap();
        assert!(!without_ca.chain_verified);
        assert!(presented_certificate(&[], Some(&bundle)).is_none());

        assert!(ClientCa::from_pem(b"").is_err());
        assert!(
            ClientCa::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }

    #[test]
    fn any_well_formed_client_certificate_passes_the_handshake_check() {
        let ca = Ca::new("Verifier CA");
        let verifier = AnyClientCert::new(&ca.client_ca());
        assert!(verifier.offer_client_auth());
        assert!(!verifier.client_auth_mandatory());
        assert_eq!(verifier.root_hint_subjects().len(), 1);
        assert!(!verifier.supported_verify_schemes().is_empty());
        let (_, ss) = self_signed("anyone");
        let (_, _, expired) = ca.leaf(
            "expired",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            -7200,
            -3600,
        );
        for cert in [ss, expired] {
            assert!(
                verifier
                    .verify_client_cert(&der(&cert), &[], UnixTime::now())
                    .is_ok()
            );
        }
        assert!(
            verifier
                .verify_client_cert(&der(b"not DER"), &[], UnixTime::now())
                .is_err()
        );
    }

    fn proxy(proxies: &[&str], ca: Option<&Ca>, dir: &Path) -> ProxyHeader {
        let client_ca = ca.map(|ca| {
            let path = dir.join("proxy-ca.pem");
            std::fs::write(&path, ca.pem()).unwrap();
            path
        });
        let settings = TlsSettings {
            client_ca,
            client_cert_header: Some(String::from("X-Client-Cert")),
            trusted_proxies: proxies.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let tls = TlsReloader::from_settings(&settings).unwrap();
        ProxyHeader::from_settings(&settings, tls).unwrap().unwrap()
    }

    #[test]
    fn proxy_header_trust() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("Proxy CA");
        let (pem, _, der_bytes) = ca.client("behind-proxy");
        let escaped: String = url::form_urlencoded::byte_serialize(pem.as_bytes()).collect();
        let mut headers = HeaderMap::new();
        headers.insert("x-client-cert", escaped.parse().unwrap());
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let outside: IpAddr = "192.0.2.10".parse().unwrap();

        let trusting = proxy(&["127.0.0.1", "10.0.0.0/8"], Some(&ca), dir.path());
        let cert = trusting
            .certificate(Some(local), &headers)
            .unwrap()
            .unwrap();
        assert_eq!(cert.der, der_bytes);
        assert!(cert.chain_verified);
        assert!(
            trusting
                .certificate(Some(mapped), &headers)
                .unwrap()
                .is_some()
        );
        // Untrusted peer, or no peer: ignored (and warned about once).
        assert_eq!(trusting.certificate(Some(outside), &headers).unwrap(), None);
        assert!(trusting.last_warning.lock().unwrap().is_some());
        // Warned once a minute at most: the next ones are only counted.
        assert_eq!(trusting.certificate(Some(outside), &headers).unwrap(), None);
        assert_eq!(trusting.ignored.load(Ordering::Relaxed), 1);
        assert_eq!(trusting.certificate(None, &headers).unwrap(), None);
        // No header: nothing.
        assert_eq!(
            trusting
                .certificate(Some(local), &HeaderMap::new())
                .unwrap(),
            None
        );
        // Two headers, or a malformed one, from a trusted proxy: an error.
        let mut twice = headers.clone();
        twice.append("x-client-cert", escaped.parse().unwrap());
        assert_eq!(
            trusting.certificate(Some(local), &twice),
            Err(HeaderError::Malformed)
        );
        let mut bad = HeaderMap::new();
        bad.insert("x-client-cert", "%%%".parse().unwrap());
        assert_eq!(
            trusting.certificate(Some(local), &bad),
            Err(HeaderError::Malformed)
        );
        // ... but ignored from anyone else.
        assert_eq!(trusting.certificate(Some(outside), &bad), Ok(None));

        // Trusted proxies that do not include the peer.
        let elsewhere = proxy(&["10.0.0.0/8"], Some(&ca), dir.path());
        assert_eq!(elsewhere.certificate(Some(local), &headers).unwrap(), None);

        // Without a client CA bundle the certificate is passed on, unverified.
        let no_ca = proxy(&["127.0.0.1"], None, dir.path());
        let cert = no_ca.certificate(Some(local), &headers).unwrap().unwrap();
        assert!(!cert.chain_verified);

        // RFC 9440 form, from a foreign CA: passed on, not chain-verified.
        let other = Ca::new("Foreign CA");
        let (_, _, foreign) = other.client("foreign");
        let mut rfc = HeaderMap::new();
        rfc.insert(
            "x-client-cert",
            format!(
                ":{}:",
                base64::engine::general_purpose::STANDARD.encode(&foreign)
            )
            .parse()
            .unwrap(),
        );
        let cert = trusting.certificate(Some(local), &rfc).unwrap().unwrap();
        assert_eq!(cert.der, foreign);
        assert!(!cert.chain_verified);
    }

    #[test]
    fn proxy_settings_are_checked() {
        let settings = |header: Option<&str>, proxies: &[&str]| TlsSettings {
            client_cert_header: header.map(str::to_owned),
            trusted_proxies: proxies.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert!(
            ProxyHeader::from_settings(&settings(None, &[]), None)
                .unwrap()
                .is_none()
        );
        assert!(ProxyHeader::from_settings(&settings(Some("X-Client-Cert"), &[]), None).is_err());
        assert!(
            ProxyHeader::from_settings(&settings(Some("X Client"), &["127.0.0.1"]), None).is_err()
        );
        assert!(
            ProxyHeader::from_settings(&settings(Some("X-Client-Cert"), &["10.0.0.0/99"]), None)
                .is_err()
        );
    }

    #[test]
    fn reloads_keep_the_old_certificate_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("Reload CA");
        let cert_path = dir.path().join("server.pem");
        let key_path = dir.path().join("server.key");
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let server = |cn: &str| {
            ca.leaf(
                cn,
                &["localhost"],
                ExtendedKeyUsagePurpose::ServerAuth,
                -60,
                3600,
            )
        };
        let (pem1, key1, der1) = server("one");
        std::fs::write(&cert_path, &pem1).unwrap();
        std::fs::write(&key_path, &key1).unwrap();
        let settings = TlsSettings {
            cert: Some(cert_path.clone()),
            key: Some(key_path.clone()),
            client_ca: Some(ca_path.clone()),
            ..Default::default()
        };
        let reloader = TlsReloader::from_settings(&settings).unwrap().unwrap();
        assert!(reloader.serves_tls());
        assert_eq!(
            reloader.state().certificate.as_deref(),
            Some(der1.as_slice())
        );
        assert!(reloader.state().client_ca.is_some());
        assert!(!reloader.reload_if_changed());

        // A key that does not match: refused, the old certificate stays.
        let (pem2, key2, der2) = server("two");
        std::fs::write(&cert_path, &pem2).unwrap();
        let err = reloader.reload().unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        assert_eq!(
            reloader.state().certificate.as_deref(),
            Some(der1.as_slice())
        );
        // Not PEM: refused.
        std::fs::write(&key_path, "garbage").unwrap();
        let err = reloader.reload().unwrap_err();
        assert!(err.contains("no PEM private key"), "{err}");
        assert!(!err.contains("garbage"));
        assert_eq!(
            reloader.state().certificate.as_deref(),
            Some(der1.as_slice())
        );
        // The matching key: the new certificate.
        std::fs::write(&key_path, &key2).unwrap();
        assert!(reloader.reload_if_changed());
        assert_eq!(
            reloader.state().certificate.as_deref(),
            Some(der2.as_slice())
        );
        // A broken CA bundle also keeps everything.
        std::fs::write(
            &ca_path,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(reloader.reload().is_err());
        assert_eq!(
            reloader.state().certificate.as_deref(),
            Some(der2.as_slice())
        );
        assert!(reloader.state().client_ca.is_some());

        // Startup with missing or mismatched files fails with the path in the message.
        let missing = TlsSettings {
            cert: Some(dir.path().join("nope.pem")),
            key: Some(key_path.clone()),
            ..Default::default()
        };
        let err = TlsReloader::from_settings(&missing).unwrap_err();
        assert!(err.contains("nope.pem"), "{err}");
        let half = TlsSettings {
            cert: Some(cert_path),
            ..Default::default()
        };
        assert!(TlsReloader::from_settings(&half).is_err());
        assert!(
            TlsReloader::from_settings(&TlsSettings::default())
                .unwrap()
                .is_none()
        );
    }
}
