//! TLS serving (issue 5): HTTPS with rustls, client certificates requested but optional,
//! certificate reload without dropping connections, the proxy client-certificate header,
//! `mtls_endpoint_aliases`, and the `[tls]` settings.
//!
//! Transport only, so SQLite is enough. What a client certificate proves (tls_client_auth,
//! bound tokens) is tested with the mTLS client authentication.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use warden_testkit::pki::{TestCert, TestPki};
use warden_testkit::{Backend, Options, TestServer, json};

use crate::support::run_warden;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(pki: &TestPki) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    roots
}

fn key_of(cert: &TestCert) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap()
}

/// A rustls client: TLS 1.3 and 1.2 (or only `versions`), trusting the test CA, presenting
/// `identity` when given.
fn client_config(
    pki: &TestPki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    identity: Option<&TestCert>,
) -> rustls::ClientConfig {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots(pki));
    let mut config = match identity {
        Some(cert) => builder
            .with_client_auth_cert(vec![CertificateDer::from(cert.der.clone())], key_of(cert))
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

const ALL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A TLS connection to the server, and the end-entity certificate it presented.
async fn connect(
    server: &TestServer,
    config: rustls::ClientConfig,
) -> std::io::Result<(TlsStream<TcpStream>, Vec<u8>)> {
    let addr = server.state.settings.listen;
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::IpAddress(addr.ip().into());
    let stream = connector.connect(name, tcp).await?;
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok((stream, leaf))
}

/// `GET path` on an open keep-alive connection: (status, body).
async fn get(stream: &mut TlsStream<TcpStream>, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("response in time")
            .unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap())
                .expect("content-length");
            break (pos + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    (status, body)
}

async fn tls_server(pki: &TestPki, client_ca: bool) -> TestServer {
    TestServer::start_with(
        Backend::Sqlite,
        Options {
            tls: pki.tls_settings(client_ca),
            ..Options::default()
        },
    )
    .await
}

/// Waits until a new connection sees `expected` (the mtime poll runs every 2 s).
async fn wait_for_certificate(server: &TestServer, pki: &TestPki, expected: &[u8]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok((_, leaf)) = connect(server, client_config(pki, ALL_VERSIONS, None)).await
            && leaf == expected
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let server = tls_server(&pki, false).await;
    assert!(server.base_url.starts_with("https://127.0.0.1:"));
    assert_eq!(server.issuer, server.base_url);

    for http in [pki.http_client(None), server.http.clone()] {
        let (status, meta) = json(
            http.get(server.url("/.well-known/oauth-authorization-server"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{meta}");
        assert_eq!(meta["issuer"], server.base_url.as_str());
        for endpoint in [
            "token_endpoint",
            "jwks_uri",
            "introspection_endpoint",
            "revocation_endpoint",
            "authorization_endpoint",
            "userinfo_endpoint",
        ] {
            let url = meta[endpoint].as_str().unwrap();
            assert!(url.starts_with(&server.base_url), "{endpoint}: {url}");
        }
        assert!(meta.get("mtls_endpoint_aliases").is_none());
    }

    // The server's certificate, over TLS 1.3 and TLS 1.2, ALPN http/1.1.
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (mut stream, leaf) = connect(&server, client_config(&pki, versions, None))
            .await
            .unwrap();
        assert_eq!(leaf, pki.server.der);
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    }

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(server.url("/healthz").replace("https://", "http://"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

/// Records whether (and with which CA hints) the server asked for a client certificate.
#[derive(Debug, Default)]
struct RecordingResolver {
    hints: Mutex<Option<usize>>,
    certificate: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        *self.hints.lock().unwrap() = Some(root_hint_subjects.len());
        self.certificate.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn recording_config(
    pki: &TestPki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    resolver: Arc<RecordingResolver>,
) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots(pki))
        .with_client_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_requested_only_with_a_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());

    // Without --tls-client-ca, no certificate request.
    let server = tls_server(&pki, false).await;
    let resolver = Arc::new(RecordingResolver::default());
    let (mut stream, _) = connect(
        &server,
        recording_config(&pki, ALL_VERSIONS, resolver.clone()),
    )
    .await
    .unwrap();
    assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    assert_eq!(*resolver.hints.lock().unwrap(), None);
    drop(server);

    // With it: requested, with the CA as hint, and optional.
    let server = tls_server(&pki, true).await;
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let resolver = Arc::new(RecordingResolver::default());
        let (mut stream, _) = connect(&server, recording_config(&pki, versions, resolver.clone()))
            .await
            .unwrap();
        assert_eq!(get(&mut stream, "/healthz").await.0, 200);
        assert_eq!(*resolver.hints.lock().unwrap(), Some(1));
    }

    // Any well-formed certificate passes the handshake: from the CA, self-signed, expired;
    // over TLS 1.3 and 1.2.
    let certs = [
        pki.client("client-a"),
        TestPki::self_signed("self-signed"),
        pki.expired_client_cert("expired"),
    ];
    for cert in &certs {
        for versions in [
            &[&rustls::version::TLS13][..],
            &[&rustls::version::TLS12][..],
        ] {
            let (mut stream, _) = connect(&server, client_config(&pki, versions, Some(cert)))
                .await
                .unwrap_or_else(|e| panic!("{cert:?}: {e}"));
            assert_eq!(get(&mut stream, "/healthz").await.0, 200);
        }
        // reqwest with an identity too.
        let resp = pki
            .http_client(Some(cert))
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // No certificate at all.
    let resp = pki
        .http_client(None)
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The handshake signature is checked: a certificate with someone else's key fails.
    let victim = pki.client("victim");
    let attacker = pki.client("attacker");
    let wrong_key = provider()
        .key_provider
        .load_private_key(key_of(&attacker))
        .unwrap();
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let resolver = Arc::new(RecordingResolver {
            hints: Mutex::new(None),
            certificate: Some(Arc::new(CertifiedKey::new(
                vec![CertificateDer::from(victim.der.clone())],
                wrong_key.clone(),
            ))),
        });
        let result = connect(&server, recording_config(&pki, versions, resolver)).await;
        let refused = match result {
            Err(_) => true,
            // TLS 1.3: the client finishes first; the server's alert arrives on first use.
            Ok((mut stream, _)) => {
                let _ = stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await;
                let mut buf = [0u8; 64];
                !matches!(
                    tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await,
                    Ok(Ok(n)) if n > 0
                )
            }
        };
        assert!(refused, "a forged certificate was accepted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_reload_keeps_connections() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let server = tls_server(&pki, true).await;
    let reloader = server.tls.clone().expect("TLS reloader");

    let (mut old, leaf) = connect(&server, client_config(&pki, ALL_VERSIONS, None))
        .await
        .unwrap();
    assert_eq!(leaf, pki.server.der);
    assert_eq!(get(&mut old, "/healthz").await.0, 200);

    // Replace the files: the poll notices, new handshakes get the new certificate.
    let rotated = pki.server_cert("Rotated Server");
    assert_ne!(rotated.der, pki.server.der);
    pki.install_server(&rotated);
    assert!(
        wait_for_certificate(&server, &pki, &rotated.der).await,
        "the new certificate was not picked up"
    );
    // The established connection still answers (on the old certificate).
    assert_eq!(get(&mut old, "/healthz").await.0, 200);
    let resp = pki
        .http_client(None)
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // A bad replacement (a key that does not fit, then no PEM at all) keeps the last good
    // certificate, on the poll and on an explicit reload (SIGHUP).
    let third = pki.server_cert("Third Server");
    std::fs::write(&pki.server_cert_path, &third.cert_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, leaf) = connect(&server, client_config(&pki, ALL_VERSIONS, None))
        .await
        .unwrap();
    assert_eq!(leaf, rotated.der);
    std::fs::write(&pki.server_key_path, "not a key").unwrap();
    assert!(reloader.reload().is_err());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (mut stream, leaf) = connect(&server, client_config(&pki, ALL_VERSIONS, None))
        .await
        .unwrap();
    assert_eq!(leaf, rotated.der);
    assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    assert_eq!(get(&mut old, "/healthz").await.0, 200);

    // Fixed: an explicit reload picks it up at once.
    pki.install_server(&third);
    reloader.reload().unwrap();
    let (_, leaf) = connect(&server, client_config(&pki, ALL_VERSIONS, None))
        .await
        .unwrap();
    assert_eq!(leaf, third.der);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_endpoint_aliases_are_advertised() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let mut tls = pki.tls_settings(true);
    tls.mtls_endpoint_base = Some(String::from("https://mtls.example.com/"));
    let server = TestServer::start_with(
        Backend::Sqlite,
        Options {
            issuer: Some(String::from("{base}/tenant")),
            tls,
            ..Options::default()
        },
    )
    .await;
    assert!(server.issuer.starts_with("https://"));
    for doc in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/tenant",
    ] {
        let (status, meta) = json(server.http.get(server.url(doc)).send().await.unwrap()).await;
        assert_eq!(status, 200, "{doc}: {meta}");
        let aliases = &meta["mtls_endpoint_aliases"];
        assert_eq!(
            aliases,
            &serde_json::json!({
                "token_endpoint": "https://mtls.example.com/tenant/token",
                "introspection_endpoint": "https://mtls.example.com/tenant/introspect",
                "revocation_endpoint": "https://mtls.example.com/tenant/revoke",
                "pushed_authorization_request_endpoint": "https://mtls.example.com/tenant/par",
                "userinfo_endpoint": "https://mtls.example.com/tenant/userinfo",
            }),
            "{doc}"
        );
    }
}

async fn proxy_server(proxies: &[&str], client_ca: Option<&TestPki>) -> TestServer {
    TestServer::start_with(
        Backend::Sqlite,
        Options {
            tls: warden_server::config::TlsSettings {
                client_ca: client_ca.map(|p| p.ca_path.clone()),
                client_cert_header: Some(String::from("X-Client-Cert")),
                trusted_proxies: proxies.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            ..Options::default()
        },
    )
    .await
}

/// The header from a trusted proxy is read (a malformed one is a 400, observed like any other
/// response); from anyone else it is ignored. (What the certificate then proves is tested with
/// mTLS client authentication.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_header_only_from_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let cert = pki.client("behind-proxy");

    let trusted = proxy_server(&["10.0.0.0/8", "127.0.0.1"], Some(&pki)).await;
    assert!(trusted.base_url.starts_with("http://"));
    for value in [cert.escaped_pem(), cert.rfc9440()] {
        let resp = trusted
            .http
            .get(trusted.url("/healthz"))
            .header("x-client-cert", value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    for bad in [
        "%ZZ",
        ":!!!:",
        "-----BEGIN CERTIFICATE-----AAAA",
        ":aGVsbG8=:",
    ] {
        let resp = trusted
            .http
            .post(trusted.url("/token"))
            .header("x-client-cert", bad)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        // The refusal passes through `observe` like any other response.
        assert!(resp.headers().contains_key("x-request-id"), "{bad}");
        let (status, body) = json(resp).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_request", "{bad}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("client certificate header"),
            "{body}"
        );
    }

    // 127.0.0.1 is not a trusted proxy here: the header is ignored, even malformed.
    let untrusted = proxy_server(&["10.0.0.0/8"], Some(&pki)).await;
    for value in [cert.escaped_pem(), String::from("%ZZ")] {
        let resp = untrusted
            .http
            .get(untrusted.url("/healthz"))
            .header("x-client-cert", value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

struct Files {
    dir: tempfile::TempDir,
    pki: TestPki,
    db: String,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new(&dir.path().join("pki"));
        let db = format!("sqlite://{}", dir.path().join("w.db").display());
        Files { dir, pki, db }
    }

    fn path(&self, p: &std::path::Path) -> String {
        p.display().to_string()
    }

    fn config(&self, text: &str) -> String {
        let path = self.dir.path().join("warden.toml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn check(&self, args: &[&str], envs: &[(&str, &str)]) -> crate::support::CliOutput {
        let mut full = vec!["check-config", "--database", self.db.as_str()];
        full.extend(args);
        run_warden(&full, envs)
    }
}

#[test]
fn serve_needs_both_certificate_and_key() {
    let out = run_warden(&["serve", "--tls-cert", "/nonexistent/cert.pem"], &[]);
    assert!(!out.success, "{out:?}");
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--tls-key"), "{}", out.stderr);
    let out = run_warden(&["check-config", "--tls-key", "/nonexistent/key.pem"], &[]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--tls-cert"), "{}", out.stderr);
    let out = run_warden(&["check-config"], &[("WARDEN_TLS_CERT", "/x/cert.pem")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("WARDEN_TLS_KEY"), "{}", out.stderr);
}

#[test]
fn check_config_reports_tls_settings() {
    let f = Files::new();
    let cert = f.path(&f.pki.server_cert_path);
    let key = f.path(&f.pki.server_key_path);
    let ca = f.path(&f.pki.ca_path);

    // Flags; the default issuer becomes https.
    let out = f.check(
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca,
        ],
        &[],
    );
    let summary = out.json();
    assert_eq!(summary["issuer"], "https://127.0.0.1:8080");
    assert_eq!(summary["tls"]["serving"], true);
    assert_eq!(summary["tls"]["cert"], cert.as_str());
    assert_eq!(summary["tls"]["key"], key.as_str());
    assert_eq!(summary["tls"]["client_ca"], ca.as_str());
    // Paths, never contents.
    assert!(!out.stdout.contains("PRIVATE KEY"));
    assert!(!out.stdout.contains("BEGIN"));

    // Environment.
    let summary = f
        .check(&[], &[("WARDEN_TLS_CERT", &cert), ("WARDEN_TLS_KEY", &key)])
        .json();
    assert_eq!(summary["tls"]["cert"], cert.as_str());
    assert_eq!(summary["issuer"], "https://127.0.0.1:8080");

    // File, with the proxy settings; an explicit issuer wins.
    let config = f.config(&format!(
        "issuer = \"https://auth.example.com\"\n\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = \"{ca}\"\nclient_cert_header = \"X-Client-Cert\"\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\", \"fd00::/8\"]\nmtls_endpoint_base = \"https://mtls.example.com\"\n"
    ));
    let summary = f.check(&["--config", &config], &[]).json();
    assert_eq!(summary["issuer"], "https://auth.example.com");
    assert_eq!(summary["tls"]["client_cert_header"], "X-Client-Cert");
    assert_eq!(
        summary["tls"]["trusted_proxies"],
        serde_json::json!(["10.0.0.0/8", "127.0.0.1", "fd00::/8"])
    );
    assert_eq!(
        summary["tls"]["mtls_endpoint_base"],
        "https://mtls.example.com"
    );

    // Flags over environment over file.
    let missing = f.config("[tls]\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"\n");
    let summary = f
        .check(
            &["--config", &missing, "--tls-cert", &cert],
            &[("WARDEN_TLS_KEY", &key)],
        )
        .json();
    assert_eq!(summary["tls"]["cert"], cert.as_str());
    assert_eq!(summary["tls"]["key"], key.as_str());
    let summary = f
        .check(
            &[],
            &[
                ("WARDEN_TLS_CERT", &cert),
                ("WARDEN_TLS_KEY", &key),
                ("WARDEN_TLS_CLIENT_CA", &ca),
                ("WARDEN_TLS_CLIENT_CERT_HEADER", "X-SSL-Cert"),
                ("WARDEN_TLS_TRUSTED_PROXIES", "10.1.0.0/16, ::1"),
            ],
        )
        .json();
    assert_eq!(summary["tls"]["client_cert_header"], "X-SSL-Cert");
    assert_eq!(
        summary["tls"]["trusted_proxies"],
        serde_json::json!(["10.1.0.0/16", "::1"])
    );

    // Without TLS: plain http issuer, nothing served over TLS.
    let summary = f.check(&[], &[]).json();
    assert_eq!(summary["issuer"], "http://127.0.0.1:8080");
    assert_eq!(summary["tls"]["serving"], false);
    assert_eq!(summary["tls"]["cert"], Value::Null);
}

#[test]
fn check_config_rejects_bad_tls_settings() {
    let f = Files::new();
    let cert = f.path(&f.pki.server_cert_path);
    let key = f.path(&f.pki.server_key_path);
    let ca = f.path(&f.pki.ca_path);

    let fails = |args: &[&str], envs: &[(&str, &str)], needles: &[&str]| {
        let out = f.check(args, envs);
        assert!(!out.success, "{args:?} {envs:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        for needle in needles {
            assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
        }
        // Never the key material.
        assert!(!out.stderr.contains("PRIVATE KEY"), "{}", out.stderr);
    };

    // Files that do not load.
    fails(
        &["--tls-cert", "/nonexistent/c.pem", "--tls-key", &key],
        &[],
        &["/nonexistent/c.pem"],
    );
    fails(
        &["--tls-cert", &key, "--tls-key", &key],
        &[],
        &["CERTIFICATE"],
    );
    fails(
        &["--tls-cert", &cert, "--tls-key", &cert],
        &[],
        &["private key"],
    );
    let other = f.pki.client("someone");
    let (_, other_key) = other.write(f.dir.path(), "other");
    fails(
        &["--tls-cert", &cert, "--tls-key", &f.path(&other_key)],
        &[],
        &["does not fit"],
    );
    fails(
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &key,
        ],
        &[],
        &["client CA"],
    );

    // Shapes.
    let config = f.config(
        "[tls]\nclient_cert_header = \"X-Client-Cert\"\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/40\"]\nmtls_endpoint_base = \"http://mtls.example.com\"\n",
    );
    fails(
        &["--config", &config],
        &[],
        &["10.0.0.0/40", "tls.mtls_endpoint_base"],
    );
    let config = f.config("[tls]\nclient_cert_header = \"X-Client-Cert\"\n");
    fails(&["--config", &config], &[], &["tls.trusted_proxies"]);
    fails(
        &[],
        &[
            ("WARDEN_TLS_CLIENT_CERT_HEADER", "X-Client-Cert"),
            ("WARDEN_TLS_TRUSTED_PROXIES", "10.0.0.1,example.com"),
        ],
        &["'example.com'"],
    );
    fails(
        &[],
        &[(
            "WARDEN_TLS_MTLS_ENDPOINT_BASE",
            "https://mtls.example.com/?x=1",
        )],
        &["tls.mtls_endpoint_base"],
    );
    fails(&["--tls-client-ca", &ca], &[], &["tls.client_ca"]);
    let config = f.config("[tls]\ncertificate = \"x\"\n");
    fails(&["--config", &config], &[], &["tls.certificate"]);
}
