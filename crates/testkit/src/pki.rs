//! A throwaway PKI for TLS and mutual-TLS tests.
//!
//! [`TestPki::new`] makes a CA (`CN=Warden Test CA`), a server certificate for `127.0.0.1`
//! and `localhost` signed by it, and writes them to a directory:
//!
//! | file          | content                                              |
//! |---------------|------------------------------------------------------|
//! | `ca.pem`      | the CA certificate (use as `tls.client_ca`)          |
//! | `server.pem`  | server certificate, then the CA (use as `tls.cert`)  |
//! | `server.key`  | the server's PKCS#8 key (use as `tls.key`)           |
//!
//! Client certificates come from [`TestPki::client_cert`] (signed by the CA, so the server
//! computes `chain_verified = true` while they are valid), [`TestPki::expired_client_cert`]
//! and [`TestPki::self_signed`] (for `self_signed_tls_client_auth`). Every certificate is a
//! [`TestCert`]: PEM and DER, its key, its `x5t#S256` thumbprint, a public JWK with `x5c` to
//! register, and a [`reqwest::Identity`]. [`TestPki::http_client`] is a client trusting only
//! the CA, optionally presenting a client certificate.
//!
//! Keys are ECDSA P-256. With a `TestPki`, a server speaks TLS with
//! `Options { tls: pki.tls_settings(true), .. }`.
//!
//! ```ignore
//! let dir = tempfile::tempdir().unwrap();
//! let pki = TestPki::new(dir.path());
//! let server = TestServer::start_with(Backend::Sqlite, Options {
//!     tls: pki.tls_settings(true),
//!     ..Options::default()
//! }).await;
//! let cert = pki.client_cert(&ClientCertSpec::new("client-1").dns("client-1.example.com"));
//! let http = pki.http_client(Some(&cert));
//! // register the client with tls_client_auth_san_dns = "client-1.example.com" …
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use warden_core::PresentedCertificate;

/// A certificate and its private key.
#[derive(Clone)]
pub struct TestCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The subject as an RFC 4514 string: `CN=<cn>` or `CN=<cn>,O=<organization>`.
    pub subject_dn: String,
    /// The uncompressed P-256 public point (`04 || x || y`).
    public_point: Vec<u8>,
}

impl std::fmt::Debug for TestCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCert")
            .field("subject_dn", &self.subject_dn)
            .field("x5t#S256", &self.thumbprint())
            .finish()
    }
}

impl TestCert {
    /// Certificate then key, PEM: what [`reqwest::Identity::from_pem`] takes.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }

    /// A client identity presenting this certificate.
    pub fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(self.identity_pem().as_bytes()).expect("identity")
    }

    /// RFC 8705 `x5t#S256`: base64url SHA-256 of the DER certificate (the `cnf` value of a
    /// certificate-bound token).
    pub fn thumbprint(&self) -> String {
        self.presented(false).thumbprint()
    }

    /// The `x5c` entry: standard base64 DER.
    pub fn x5c(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.der)
    }

    /// The public key as a JWK with `x5c`: `{"kty":"EC","crv":"P-256","x","y","x5c":[..]}`,
    /// for a `self_signed_tls_client_auth` client's `jwks`.
    pub fn public_jwk(&self) -> serde_json::Value {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let (x, y) = self.public_point[1..].split_at(32);
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": b64(x),
            "y": b64(y),
            "x5c": [self.x5c()],
        })
    }

    /// `{"keys": [public_jwk]}`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.public_jwk()] })
    }

    /// What the server passes the engine for this certificate.
    pub fn presented(&self, chain_verified: bool) -> PresentedCertificate {
        PresentedCertificate {
            der: self.der.clone(),
            chain_verified,
        }
    }

    /// The certificate URL-encoded, as nginx's `$ssl_client_escaped_cert` sends it.
    pub fn escaped_pem(&self) -> String {
        url::form_urlencoded::byte_serialize(self.cert_pem.as_bytes())
            .collect::<String>()
            // form encoding turns spaces into '+'; a URL-encoded PEM has no spaces anyway.
            .replace('+', "%20")
    }

    /// The certificate as an RFC 9440 `Client-Cert` value: `:base64(DER):`.
    pub fn rfc9440(&self) -> String {
        format!(":{}:", self.x5c())
    }

    /// Writes `<name>.pem` and `<name>.key` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).expect("write certificate");
        std::fs::write(&key, &self.key_pem).expect("write key");
        (cert, key)
    }
}

/// What goes into a client certificate.
#[derive(Debug, Clone)]
pub struct ClientCertSpec {
    /// Subject common name.
    pub common_name: String,
    /// Subject organization (`O=`), after `CN` in the RFC 4514 string.
    pub organization: Option<String>,
    /// SAN dNSName.
    pub san_dns: Option<String>,
    /// SAN uniformResourceIdentifier.
    pub san_uri: Option<String>,
    /// SAN rfc822Name.
    pub san_email: Option<String>,
    /// SAN iPAddress.
    pub san_ip: Option<IpAddr>,
    /// Start of validity, seconds from now (default -3600).
    pub not_before: i64,
    /// End of validity, seconds from now (default one day; negative = already expired).
    pub not_after: i64,
}

impl ClientCertSpec {
    /// `CN=<common_name>`, no SAN, valid from an hour ago for a day.
    pub fn new(common_name: &str) -> ClientCertSpec {
        ClientCertSpec {
            common_name: common_name.to_owned(),
            organization: None,
            san_dns: None,
            san_uri: None,
            san_email: None,
            san_ip: None,
            not_before: -3600,
            not_after: 86_400,
        }
    }

    /// Adds `O=`.
    pub fn organization(mut self, o: &str) -> Self {
        self.organization = Some(o.to_owned());
        self
    }

    /// Adds a dNSName SAN.
    pub fn dns(mut self, name: &str) -> Self {
        self.san_dns = Some(name.to_owned());
        self
    }

    /// Adds a URI SAN.
    pub fn uri(mut self, uri: &str) -> Self {
        self.san_uri = Some(uri.to_owned());
        self
    }

    /// Adds an rfc822Name SAN.
    pub fn email(mut self, email: &str) -> Self {
        self.san_email = Some(email.to_owned());
        self
    }

    /// Adds an iPAddress SAN.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.san_ip = Some(ip);
        self
    }

    /// Validity window, seconds relative to now.
    pub fn valid(mut self, not_before: i64, not_after: i64) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }
}

/// A CA, a server certificate, and their files.
pub struct TestPki {
    /// Where the files are.
    pub dir: PathBuf,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// `ca.pem`.
    pub ca_path: PathBuf,
    /// The server certificate (`127.0.0.1`, `localhost`).
    pub server: TestCert,
    /// `server.pem`: the server certificate, then the CA.
    pub server_cert_path: PathBuf,
    /// `server.key`.
    pub server_key_path: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").field("dir", &self.dir).finish()
    }
}

#[allow(clippy::disallowed_methods)] // certificates are valid in real time, not test time
fn set_validity(params: &mut CertificateParams, not_before: i64, not_after: i64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + Duration::from_secs((now + not_before).max(0) as u64);
    params.not_after = epoch + Duration::from_secs((now + not_after).max(0) as u64);
}

fn test_cert(cert: &rcgen::Certificate, key: &KeyPair, subject_dn: String) -> TestCert {
    TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
        subject_dn,
        public_point: key.public_key_raw().to_vec(),
    }
}

fn subject(params: &mut CertificateParams, cn: &str, organization: Option<&str>) -> String {
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(o) = organization {
        params.distinguished_name.push(DnType::OrganizationName, o);
    }
    params.distinguished_name.push(DnType::CommonName, cn);
    match organization {
        Some(o) => format!("CN={cn},O={o}"),
        None => format!("CN={cn}"),
    }
}

impl TestPki {
    /// A CA `CN=Warden Test CA` and a server certificate, written to `dir`.
    pub fn new(dir: &Path) -> TestPki {
        Self::with_ca_name(dir, "Warden Test CA")
    }

    /// Like [`TestPki::new`] with another CA name (a second, untrusted CA).
    pub fn with_ca_name(dir: &Path, ca_name: &str) -> TestPki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let mut params = CertificateParams::default();
        subject(&mut params, ca_name, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, -86_400, 10 * 86_400);
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let ca_pem = issuer.pem();
        let ca_der = issuer.der().to_vec();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, &ca_pem).expect("write ca.pem");
        let mut pki = TestPki {
            dir: dir.to_owned(),
            ca_pem,
            ca_der,
            ca_path,
            server: TestCert {
                cert_pem: String::new(),
                key_pem: String::new(),
                der: Vec::new(),
                subject_dn: String::new(),
                public_point: Vec::new(),
            },
            server_cert_path: dir.join("server.pem"),
            server_key_path: dir.join("server.key"),
            issuer,
        };
        pki.server = pki.server_cert("Warden Test Server");
        pki.install_server(&pki.server.clone());
        pki
    }

    /// A new server certificate for `127.0.0.1` and `localhost` (not written; see
    /// [`TestPki::install_server`]).
    pub fn server_cert(&self, common_name: &str) -> TestCert {
        let mut params =
            CertificateParams::new(vec![String::from("localhost"), String::from("127.0.0.1")])
                .expect("server params");
        let dn = subject(&mut params, common_name, None);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        set_validity(&mut params, -3600, 86_400);
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("server cert");
        test_cert(&cert, &key, dn)
    }

    /// Writes `cert` as `server.pem` (with the CA) and `server.key`: the server picks it up
    /// on its next reload.
    pub fn install_server(&self, cert: &TestCert) {
        std::fs::write(
            &self.server_cert_path,
            format!("{}{}", cert.cert_pem, self.ca_pem),
        )
        .expect("write server.pem");
        std::fs::write(&self.server_key_path, &cert.key_pem).expect("write server.key");
    }

    /// TLS settings serving `server.pem`; with `client_ca`, client certificates are requested
    /// and checked against `ca.pem`.
    pub fn tls_settings(&self, client_ca: bool) -> warden_server::config::TlsSettings {
        warden_server::config::TlsSettings {
            cert: Some(self.server_cert_path.clone()),
            key: Some(self.server_key_path.clone()),
            client_ca: client_ca.then(|| self.ca_path.clone()),
            ..Default::default()
        }
    }

    /// A client certificate signed by the CA (extended key usage: client authentication).
    pub fn client_cert(&self, spec: &ClientCertSpec) -> TestCert {
        let (params, key, dn) = client_params(spec);
        let cert = params.signed_by(&key, &self.issuer).expect("client cert");
        test_cert(&cert, &key, dn)
    }

    /// Shorthand: a valid client certificate `CN=<common_name>` without SAN.
    pub fn client(&self, common_name: &str) -> TestCert {
        self.client_cert(&ClientCertSpec::new(common_name))
    }

    /// A client certificate signed by the CA that expired an hour ago.
    pub fn expired_client_cert(&self, common_name: &str) -> TestCert {
        self.client_cert(&ClientCertSpec::new(common_name).valid(-2 * 86_400, -3600))
    }

    /// A self-signed client certificate `CN=<common_name>` (not a CA), valid for a day.
    pub fn self_signed(common_name: &str) -> TestCert {
        let (params, key, dn) = client_params(&ClientCertSpec::new(common_name));
        let cert = params.self_signed(&key).expect("self-signed cert");
        test_cert(&cert, &key, dn)
    }

    /// A client builder trusting only the test CA, presenting `identity` when given.
    pub fn http_client_builder(&self, identity: Option<&TestCert>) -> reqwest::ClientBuilder {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("CA certificate");
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([ca])
            .redirect(reqwest::redirect::Policy::none());
        if let Some(cert) = identity {
            builder = builder.identity(cert.identity());
        }
        builder
    }

    /// [`TestPki::http_client_builder`], built.
    pub fn http_client(&self, identity: Option<&TestCert>) -> reqwest::Client {
        self.http_client_builder(identity)
            .build()
            .expect("HTTP client")
    }
}

fn client_params(spec: &ClientCertSpec) -> (CertificateParams, KeyPair, String) {
    let mut params = CertificateParams::default();
    let dn = subject(&mut params, &spec.common_name, spec.organization.as_deref());
    if let Some(dns) = &spec.san_dns {
        params
            .subject_alt_names
            .push(SanType::DnsName(dns.clone().try_into().expect("DNS SAN")));
    }
    if let Some(uri) = &spec.san_uri {
        params
            .subject_alt_names
            .push(SanType::URI(uri.clone().try_into().expect("URI SAN")));
    }
    if let Some(email) = &spec.san_email {
        params.subject_alt_names.push(SanType::Rfc822Name(
            email.clone().try_into().expect("email SAN"),
        ));
    }
    if let Some(ip) = spec.san_ip {
        params.subject_alt_names.push(SanType::IpAddress(ip));
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    set_validity(&mut params, spec.not_before, spec.not_after);
    let key = KeyPair::generate().expect("client key");
    (params, key, dn)
}
