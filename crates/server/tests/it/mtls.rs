//! Mutual-TLS client authentication (RFC 8705 §2) and certificate-bound access tokens (§3)
//! over real TLS handshakes, with a throwaway PKI made by rcgen (`warden_testkit::pki`):
//! right, wrong, missing, expired and foreign certificates for `tls_client_auth`; matching and
//! mismatching certificates for `self_signed_tls_client_auth`; `cnf.x5t#S256` in JWT and opaque
//! tokens and in introspection; mandatory binding per client and per API; `/userinfo`; dynamic
//! registration; the admin CLI; and certificates handed over by a trusted proxy.

use serde_json::{Value, json};
use warden_core::admin::{ClientTlsChange, NewClient};
use warden_core::clock::Clock;
use warden_core::model::{BindingRequirement, ClientTls};
use warden_testkit::pki::{ClientCertSpec, TestCert, TestPki};
use warden_testkit::{Backend, Options, TestServer};
use warden_types::{SigningAlg, TokenEndpointAuthMethod};

use crate::oidc_support::{Authz, Browser, confidential, create_alice};
use crate::support::{
    API, CliDb, CliOutput, JwksServer, Reply, jwt_api, jwt_part, new_client, opaque_api, reply,
    verify_jwt,
};

both!(
    subject_dn_right_certificate_gets_a_bound_token,
    wrong_missing_expired_or_foreign_certificates_are_refused,
    san_identities_match,
    mtls_clients_authenticate_only_by_certificate,
    introspection_and_revocation_with_tls_client_auth,
    par_with_tls_client_auth,
    self_signed_certificate_by_value,
    self_signed_certificate_from_jwks_uri_follows_rotation,
    opaque_tokens_are_bound_too,
    per_client_mandatory_binding,
    per_api_mandatory_binding,
    cert_bound_token_at_userinfo_needs_the_certificate,
    registration_with_mtls_metadata,
    registered_tls_client_authenticates,
    admin_update_changes_identity_and_binding,
    proxy_header_certificate,
);

// ---- setup -----------------------------------------------------------------------------------

/// A TLS server asking for client certificates issued by `pki`'s CA.
struct Mtls {
    server: TestServer,
    pki: TestPki,
    _dir: tempfile::TempDir,
}

impl Mtls {
    async fn start(backend: Backend) -> Self {
        Self::start_with(backend, Options::default()).await
    }

    async fn start_with(backend: Backend, options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new(&dir.path().join("pki"));
        let server = TestServer::start_with(
            backend,
            Options {
                tls: pki.tls_settings(true),
                ..options
            },
        )
        .await;
        jwt_api(&server, API, "read write", SigningAlg::ES256).await;
        Self {
            server,
            pki,
            _dir: dir,
        }
    }

    /// An HTTPS client presenting `cert` (or no certificate).
    fn http(&self, cert: Option<&TestCert>) -> reqwest::Client {
        self.pki.http_client(cert)
    }

    /// A client registered for `method` with `tweak` applied, granted [`API`].
    async fn client(
        &self,
        method: TokenEndpointAuthMethod,
        tweak: impl FnOnce(&mut NewClient),
    ) -> String {
        let mut new = new_client(method, &[API]);
        tweak(&mut new);
        self.server.client(new).await.client_id
    }

    /// A `tls_client_auth` client expecting the subject DN `dn`.
    async fn dn_client(&self, dn: &str) -> String {
        self.client(TokenEndpointAuthMethod::TlsClientAuth, |n| {
            n.tls = ClientTls {
                subject_dn: Some(dn.to_owned()),
                ..Default::default()
            }
        })
        .await
    }

    /// A client-credentials request identified by `client_id` only, over a connection
    /// presenting `cert`.
    async fn token(&self, client_id: &str, cert: Option<&TestCert>) -> Reply {
        self.post(
            cert,
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
            ],
            None,
        )
        .await
    }

    /// The access token of a successful [`Self::token`].
    async fn access_token(&self, client_id: &str, cert: &TestCert) -> String {
        let r = self.token(client_id, Some(cert)).await;
        r.ok();
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    async fn post(
        &self,
        cert: Option<&TestCert>,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        send(&self.http(cert), &self.server, path, form, basic, None).await
    }
}

/// POSTs a form with `http`, with Basic credentials and an extra header when given.
async fn send(
    http: &reqwest::Client,
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    header: Option<(&str, &str)>,
) -> Reply {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = http
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        req = req.header("authorization", warden_testkit::basic_header(id, secret));
    }
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    reply(req.send().await.expect("request")).await
}

/// RFC 8705 §3.1: base64url SHA-256 of the DER certificate, computed here independently.
fn x5t_s256(cert: &TestCert) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(warden_jose::sha256(&cert.der))
}

#[track_caller]
fn refused(r: &Reply, mentions: &str) {
    r.assert_error(401, "invalid_client");
    let description = r.body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "expected {mentions:?} in {description:?}"
    );
}

// ---- tls_client_auth -------------------------------------------------------------------------

async fn subject_dn_right_certificate_gets_a_bound_token(backend: Backend) {
    let t = Mtls::start(backend).await;
    let cert = t
        .pki
        .client_cert(&ClientCertSpec::new("svc-a").organization("Example Corp"));
    assert_eq!(cert.subject_dn, "CN=svc-a,O=Example Corp");
    // Registered with other spacing and type spelling: compared as parsed RDNs.
    let id = t.dn_client("cn=svc-a, O = Example Corp").await;
    let r = t.token(&id, Some(&cert)).await;
    r.ok();
    assert_eq!(
        r.body["token_type"], "Bearer",
        "RFC 8705 tokens stay Bearer"
    );
    let token = r.body["access_token"].as_str().unwrap();
    let (_, claims) = verify_jwt(&t.server, token, API).await;
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&cert).as_str());
    assert_eq!(claims["cnf"], json!({ "x5t#S256": cert.thumbprint() }));
}

async fn wrong_missing_expired_or_foreign_certificates_are_refused(backend: Backend) {
    let t = Mtls::start(backend).await;
    let id = t.dn_client("CN=svc-a,O=Example").await;
    let right = ClientCertSpec::new("svc-a").organization("Example");

    // Another DN from the same CA.
    let other = t
        .pki
        .client_cert(&ClientCertSpec::new("svc-b").organization("Example"));
    refused(
        &t.token(&id, Some(&other)).await,
        "does not match the registered subject DN",
    );
    // Case matters in values.
    let upper = t
        .pki
        .client_cert(&ClientCertSpec::new("SVC-A").organization("Example"));
    refused(&t.token(&id, Some(&upper)).await, "does not match");
    // No certificate.
    refused(&t.token(&id, None).await, "requires a client certificate");
    // Expired, from the right CA, with the right DN.
    let expired = t.pki.client_cert(&right.clone().valid(-2 * 86_400, -3600));
    refused(&t.token(&id, Some(&expired)).await, "not trusted");
    // Not yet valid.
    let future = t.pki.client_cert(&right.clone().valid(3600, 86_400));
    refused(&t.token(&id, Some(&future)).await, "not trusted");
    // The right DN from another CA.
    let dir = tempfile::tempdir().unwrap();
    let rogue = TestPki::with_ca_name(dir.path(), "Rogue CA");
    let foreign = rogue.client_cert(&right);
    refused(&t.token(&id, Some(&foreign)).await, "not trusted");
    // Self-signed with the right DN.
    let selfie = TestPki::self_signed("svc-a");
    let selfie_client = t.dn_client("CN=svc-a").await;
    refused(&t.token(&selfie_client, Some(&selfie)).await, "not trusted");
    // And the right one works.
    t.token(&id, Some(&t.pki.client_cert(&right))).await.ok();
}

async fn san_identities_match(backend: Backend) {
    let t = Mtls::start(backend).await;
    let with_tls = |tls: ClientTls| move |n: &mut NewClient| n.tls = tls;
    let cases: Vec<(ClientTls, ClientCertSpec, ClientCertSpec)> = vec![
        (
            ClientTls {
                san_dns: Some("Svc.Example.COM".into()),
                ..Default::default()
            },
            ClientCertSpec::new("x").dns("svc.example.com"),
            ClientCertSpec::new("x").dns("other.example.com"),
        ),
        (
            ClientTls {
                san_uri: Some("spiffe://example.org/ns/prod/sa/svc".into()),
                ..Default::default()
            },
            ClientCertSpec::new("x").uri("spiffe://example.org/ns/prod/sa/svc"),
            ClientCertSpec::new("x").uri("spiffe://example.org/ns/prod/sa/SVC"),
        ),
        (
            ClientTls {
                san_ip: Some("2001:db8::7".into()),
                ..Default::default()
            },
            ClientCertSpec::new("x").ip("2001:0db8:0:0::7".parse().unwrap()),
            ClientCertSpec::new("x").ip("2001:db8::8".parse().unwrap()),
        ),
        (
            ClientTls {
                san_ip: Some("10.1.2.3".into()),
                ..Default::default()
            },
            ClientCertSpec::new("x").ip("10.1.2.3".parse().unwrap()),
            ClientCertSpec::new("x").ip("10.1.2.4".parse().unwrap()),
        ),
        (
            ClientTls {
                san_email: Some("svc@Example.com".into()),
                ..Default::default()
            },
            ClientCertSpec::new("x").email("svc@example.COM"),
            ClientCertSpec::new("x").email("SVC@example.com"),
        ),
    ];
    for (tls, good, bad) in cases {
        let what = format!("{tls:?}");
        let id = t
            .client(TokenEndpointAuthMethod::TlsClientAuth, with_tls(tls))
            .await;
        let r = t.token(&id, Some(&t.pki.client_cert(&good))).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text);
        let r = t.token(&id, Some(&t.pki.client_cert(&bad))).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        assert_eq!(r.error(), "invalid_client");
        // A certificate without any SAN.
        let r = t.token(&id, Some(&t.pki.client("x"))).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
    }
}

/// RFC 6749 §2.3 / RFC 8705 §2: the registered method only. A certificate does not
/// authenticate a secret client, and a secret does not authenticate an mTLS client.
async fn mtls_clients_authenticate_only_by_certificate(backend: Backend) {
    let t = Mtls::start(backend).await;
    let cert = t.pki.client("svc");
    let tls_id = t.dn_client("CN=svc").await;
    // Basic credentials for an mTLS client, with its certificate on the connection.
    let r = t
        .post(
            Some(&cert),
            "/token",
            &[("grant_type", "client_credentials")],
            Some((&tls_id, "guess")),
        )
        .await;
    r.assert_error(401, "invalid_client");
    // A secret client presenting only its id and a (valid) certificate.
    let (secret_id, secret) = t
        .server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    refused(
        &t.token(&secret_id, Some(&cert)).await,
        "client authentication is required",
    );
    // The secret client with its secret and a certificate: authenticated by the secret, the
    // token bound to the certificate all the same (RFC 8705 §3).
    let r = t
        .post(
            Some(&cert),
            "/token",
            &[("grant_type", "client_credentials")],
            Some((&secret_id, &secret)),
        )
        .await;
    r.ok();
    let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["cnf"]["x5t#S256"], cert.thumbprint().as_str());
    // Without client_id, the certificate names no client.
    let r = t
        .post(
            Some(&cert),
            "/token",
            &[("grant_type", "client_credentials")],
            None,
        )
        .await;
    r.assert_error(401, "invalid_client");
}

async fn introspection_and_revocation_with_tls_client_auth(backend: Backend) {
    let t = Mtls::start(backend).await;
    let cert = t.pki.client("svc");
    let id = t.dn_client("CN=svc").await;
    let token = t.access_token(&id, &cert).await;

    let introspect = |cert: Option<&TestCert>, token: &str| {
        let (http, id, token) = (t.http(cert), id.clone(), token.to_owned());
        let server = &t.server;
        async move {
            send(
                &http,
                server,
                "/introspect",
                &[("token", &token), ("client_id", &id)],
                None,
                None,
            )
            .await
        }
    };
    let r = introspect(Some(&cert), &token).await;
    r.ok();
    assert_eq!(r.body["active"], true, "{}", r.text);
    assert_eq!(r.body["cnf"]["x5t#S256"], cert.thumbprint().as_str());
    assert_eq!(r.body["token_type"], "Bearer");
    // Without the certificate, or with another one, the caller is not authenticated.
    refused(
        &introspect(None, &token).await,
        "requires a client certificate",
    );
    let other = t.pki.client("other");
    refused(&introspect(Some(&other), &token).await, "does not match");

    // Revocation (RFC 7009) authenticated the same way.
    let revoke = |cert: Option<&TestCert>| {
        let (http, id, token) = (t.http(cert), id.clone(), token.clone());
        let server = &t.server;
        async move {
            send(
                &http,
                server,
                "/revoke",
                &[("token", &token), ("client_id", &id)],
                None,
                None,
            )
            .await
        }
    };
    refused(&revoke(None).await, "requires a client certificate");
    assert_eq!(introspect(Some(&cert), &token).await.body["active"], true);
    let r = revoke(Some(&cert)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(introspect(Some(&cert), &token).await.body["active"], false);
}

async fn par_with_tls_client_auth(backend: Backend) {
    let t = Mtls::start(backend).await;
    let cert = t.pki.client("web");
    let id = t
        .client(TokenEndpointAuthMethod::TlsClientAuth, |n| {
            n.tls.subject_dn = Some(String::from("CN=web"));
            n.grant_types = vec![String::from("authorization_code")];
            n.redirect_uris = vec![crate::oidc_support::CALLBACK.to_owned()];
        })
        .await;
    let authz = Authz::new(&id);
    let r = t.post(Some(&cert), "/par", &authz.pairs(), None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["request_uri"].as_str().is_some(), "{}", r.text);
    let r = t.post(None, "/par", &authz.pairs(), None).await;
    r.assert_error(401, "invalid_client");
}

// ---- self_signed_tls_client_auth -------------------------------------------------------------

async fn self_signed_certificate_by_value(backend: Backend) {
    let t = Mtls::start(backend).await;
    let cert = TestPki::self_signed("device-1");
    let id = t
        .client(TokenEndpointAuthMethod::SelfSignedTlsClientAuth, |n| {
            n.jwks = Some(serde_json::from_value(cert.jwks()).unwrap());
        })
        .await;
    let token = t.access_token(&id, &cert).await;
    assert_eq!(
        jwt_part(&token, 1)["cnf"]["x5t#S256"],
        x5t_s256(&cert).as_str()
    );
    // Another self-signed certificate, even with the same subject.
    let other = TestPki::self_signed("device-1");
    refused(
        &t.token(&id, Some(&other)).await,
        "not one of the certificates registered",
    );
    // A CA-issued certificate is not the pinned one either.
    refused(
        &t.token(&id, Some(&t.pki.client("device-1"))).await,
        "not one of",
    );
    refused(&t.token(&id, None).await, "requires a client certificate");
}

async fn self_signed_certificate_from_jwks_uri_follows_rotation(backend: Backend) {
    let t = Mtls::start(backend).await;
    let first = TestPki::self_signed("device-2");
    let second = TestPki::self_signed("device-2");
    let jwks = JwksServer::start(&serde_json::from_value(first.jwks()).unwrap()).await;
    let id = t
        .client(TokenEndpointAuthMethod::SelfSignedTlsClientAuth, |n| {
            n.jwks_uri = Some(jwks.url.clone());
        })
        .await;
    t.access_token(&id, &first).await;
    t.access_token(&id, &first).await;
    assert_eq!(jwks.hits(), 1, "the document is cached");
    // The client rotates to a new certificate. The cached copy does not have it, and a
    // refetch is allowed once per refetch interval (60 s).
    jwks.set(&serde_json::from_value(second.jwks()).unwrap());
    refused(&t.token(&id, Some(&second)).await, "not one of");
    refused(&t.token(&id, Some(&second)).await, "not one of");
    assert_eq!(jwks.hits(), 1, "refetches are rate-limited");
    t.server.clock.advance(61);
    t.access_token(&id, &second).await;
    assert_eq!(jwks.hits(), 2);
    // The old certificate is gone from the document.
    refused(&t.token(&id, Some(&first)).await, "not one of");
}

// ---- bound tokens ----------------------------------------------------------------------------

async fn opaque_tokens_are_bound_too(backend: Backend) {
    let t = Mtls::start(backend).await;
    let api = "https://opaque.example.com";
    opaque_api(&t.server, api, "read").await;
    let cert = t.pki.client("svc");
    let id = t
        .client(TokenEndpointAuthMethod::TlsClientAuth, |n| {
            n.tls.subject_dn = Some(String::from("CN=svc"));
            n.audiences = vec![api.to_owned()];
        })
        .await;
    let r = t
        .post(
            Some(&cert),
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("resource", api),
            ],
            None,
        )
        .await;
    r.ok();
    let token = r.body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 1, "opaque: {token}");
    let r = t
        .post(
            Some(&cert),
            "/introspect",
            &[("token", token), ("client_id", &id)],
            None,
        )
        .await;
    r.ok();
    assert_eq!(r.body["active"], true, "{}", r.text);
    assert_eq!(r.body["cnf"], json!({ "x5t#S256": x5t_s256(&cert) }));
}

async fn per_client_mandatory_binding(backend: Backend) {
    let t = Mtls::start(backend).await;
    let info = t
        .server
        .client(NewClient {
            certificate_bound: true,
            ..new_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API])
        })
        .await;
    let (id, secret) = (info.client_id, info.client_secret.unwrap());
    let form = [("grant_type", "client_credentials")];
    let r = t.post(None, "/token", &form, Some((&id, &secret))).await;
    r.assert_error(400, "invalid_request");
    assert!(r.text.contains("certificate-bound"), "{}", r.text);
    let cert = t.pki.client("anything");
    let r = t
        .post(Some(&cert), "/token", &form, Some((&id, &secret)))
        .await;
    r.ok();
    let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["cnf"]["x5t#S256"], cert.thumbprint().as_str());
    // Turned off by the administrator: bearer tokens again.
    t.server
        .engine
        .update_client_tls(
            &id,
            ClientTlsChange {
                certificate_bound: Some(false),
                ..Default::default()
            },
            t.server.clock.now(),
        )
        .await
        .unwrap();
    t.server.engine.reload().await.unwrap();
    let r = t.post(None, "/token", &form, Some((&id, &secret))).await;
    r.ok();
    assert!(
        jwt_part(r.body["access_token"].as_str().unwrap(), 1)
            .get("cnf")
            .is_none()
    );
}

async fn per_api_mandatory_binding(backend: Backend) {
    let t = Mtls::start(backend).await;
    t.server
        .engine
        .update_api_binding(API, BindingRequirement::Certificate, t.server.clock.now())
        .await
        .unwrap();
    t.server.engine.reload().await.unwrap();
    let (id, secret) = t
        .server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    let form = [("grant_type", "client_credentials")];
    let r = t.post(None, "/token", &form, Some((&id, &secret))).await;
    r.assert_error(400, "invalid_request");
    assert!(r.text.contains("sender-constrained"), "{}", r.text);
    let cert = t.pki.client("svc");
    let r = t
        .post(Some(&cert), "/token", &form, Some((&id, &secret)))
        .await;
    r.ok();
    let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["cnf"]["x5t#S256"], cert.thumbprint().as_str());
    // `dpop` is not satisfied by a certificate.
    t.server
        .engine
        .update_api_binding(API, BindingRequirement::Dpop, t.server.clock.now())
        .await
        .unwrap();
    t.server.engine.reload().await.unwrap();
    let r = t
        .post(Some(&cert), "/token", &form, Some((&id, &secret)))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// RFC 8705 §3: a certificate-bound token is only good on a connection with its certificate.
/// Here through a trusted proxy's header, so the browser flow runs over plain HTTP.
async fn cert_bound_token_at_userinfo_needs_the_certificate(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let server = TestServer::start_with(backend, proxy_options(&pki)).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    create_alice(&server).await;
    let app = confidential(&server, &[API]).await;
    let cert = pki.client("web-app");
    let header = ("x-client-cert", cert.escaped_pem());

    let authz = Authz::new(&app.id).with("scope", "openid email");
    let mut browser = Browser::new(&server);
    let cb = browser.authorize(&authz).await;
    let code = cb.code();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", authz.verifier.as_str()),
        ("redirect_uri", crate::oidc_support::CALLBACK),
    ];
    let r = send(
        &server.http,
        &server,
        "/token",
        &form,
        Some(app.creds()),
        Some((header.0, &header.1)),
    )
    .await;
    r.ok();
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        jwt_part(&access, 1)["cnf"]["x5t#S256"],
        cert.thumbprint().as_str()
    );

    let userinfo = |cert_header: Option<String>| {
        let mut req = server
            .http
            .get(server.url("/userinfo"))
            .bearer_auth(&access);
        if let Some(value) = cert_header {
            req = req.header("x-client-cert", value);
        }
        async move { reply(req.send().await.unwrap()).await }
    };
    let r = userinfo(None).await;
    assert_eq!((r.status, r.error()), (401, "invalid_token"), "{}", r.text);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer")),
        "{:?}",
        r.headers
    );
    let r = userinfo(Some(pki.client("web-app").escaped_pem())).await;
    assert_eq!((r.status, r.error()), (401, "invalid_token"), "{}", r.text);
    let r = userinfo(Some(cert.escaped_pem())).await;
    r.ok();
    assert_eq!(r.body["email"], crate::oidc_support::EMAIL);
    // RFC 9440 form of the same certificate.
    userinfo(Some(cert.rfc9440())).await.ok();
}

// ---- registration ----------------------------------------------------------------------------

async fn register(server: &TestServer, http: &reqwest::Client, body: &Value) -> Reply {
    reply(
        http.post(server.url("/register"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn registration_with_mtls_metadata(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        Options {
            registration_requires_token: false,
            ..Options::default()
        },
    )
    .await;
    let http = &server.http;
    let selfie = TestPki::self_signed("device");

    // tls_client_auth with a subject DN, certificate-bound tokens: no secret, echoed back.
    let r = register(
        &server,
        http,
        &json!({
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": "CN=svc, O=Example",
            "tls_client_certificate_bound_access_tokens": true,
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let b = &r.body;
    assert_eq!(b["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(b["tls_client_auth_subject_dn"], "CN=svc, O=Example");
    assert_eq!(b["tls_client_certificate_bound_access_tokens"], true);
    assert!(b.get("client_secret").is_none(), "{}", r.text);
    let id = b["client_id"].as_str().unwrap().to_owned();
    let rat = b["registration_access_token"].as_str().unwrap().to_owned();
    let stored = server.engine.store().client(&id).await.unwrap().unwrap();
    assert_eq!(stored.tls.subject_dn.as_deref(), Some("CN=svc, O=Example"));
    assert!(stored.binding.certificate_bound);
    assert!(stored.secret.is_none());

    // RFC 7592 read and update (to a SAN, binding off).
    let uri = b["registration_client_uri"].as_str().unwrap().to_owned();
    let read = reply(http.get(&uri).bearer_auth(&rat).send().await.unwrap()).await;
    read.ok();
    assert_eq!(read.body["tls_client_auth_subject_dn"], "CN=svc, O=Example");
    let update = json!({
        "client_id": id,
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": "spiffe://example.org/svc",
    });
    let r = reply(
        http.put(&uri)
            .bearer_auth(&rat)
            .header("content-type", "application/json")
            .body(update.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.ok();
    assert_eq!(
        r.body["tls_client_auth_san_uri"],
        "spiffe://example.org/svc"
    );
    assert!(
        r.body.get("tls_client_auth_subject_dn").is_none(),
        "{}",
        r.text
    );
    assert!(
        r.body
            .get("tls_client_certificate_bound_access_tokens")
            .is_none()
    );
    let stored = server.engine.store().client(&id).await.unwrap().unwrap();
    assert_eq!(stored.tls.subject_dn, None);
    assert_eq!(
        stored.tls.san_uri.as_deref(),
        Some("spiffe://example.org/svc")
    );
    assert!(!stored.binding.certificate_bound);

    // Every SAN kind.
    for (field, value) in [
        ("tls_client_auth_san_dns", "svc.example.com"),
        ("tls_client_auth_san_ip", "192.0.2.7"),
        ("tls_client_auth_san_ip", "2001:db8::1"),
        ("tls_client_auth_san_email", "svc@example.com"),
    ] {
        let r = register(
            &server,
            http,
            &json!({"token_endpoint_auth_method": "tls_client_auth", field: value}),
        )
        .await;
        assert_eq!(r.status, 201, "{field}: {}", r.text);
        assert_eq!(r.body[field], value);
    }

    // self_signed_tls_client_auth: jwks with x5c, or jwks_uri.
    let r = register(
        &server,
        http,
        &json!({"token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": selfie.jwks()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body.get("client_secret").is_none());
    assert_eq!(r.body["jwks"]["keys"][0]["x5c"][0], selfie.x5c().as_str());
    let r = register(
        &server,
        http,
        &json!({
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "jwks_uri": "https://device.example.com/jwks",
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Refused metadata.
    let mut without_x5c = selfie.public_jwk();
    without_x5c.as_object_mut().unwrap().remove("x5c");
    let mut garbage_x5c = selfie.public_jwk();
    garbage_x5c["x5c"] = json!(["bm90IGEgY2VydGlmaWNhdGU="]);
    for (body, mentions) in [
        (
            json!({"token_endpoint_auth_method": "tls_client_auth"}),
            "exactly one",
        ),
        (
            json!({
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_subject_dn": "CN=svc",
                "tls_client_auth_san_dns": "svc.example.com",
            }),
            "exactly one",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_ip": "300.1.2.3"}),
            "tls_client_auth_san_ip",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "svc"}),
            "tls_client_auth_subject_dn",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "XYZ=1"}),
            "unknown attribute type",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_uri": "not a uri"}),
            "tls_client_auth_san_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_email": "nobody"}),
            "tls_client_auth_san_email",
        ),
        (
            json!({"tls_client_auth_san_dns": "svc.example.com"}),
            "only for",
        ),
        (
            json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"}),
            "requires jwks or jwks_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": {"keys": [without_x5c]}}),
            "x5c",
        ),
        (
            json!({"token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": {"keys": [garbage_x5c]}}),
            "x5c",
        ),
    ] {
        let r = register(&server, http, &body).await;
        r.assert_error(400, "invalid_client_metadata");
        let d = r.body["error_description"].as_str().unwrap();
        assert!(d.contains(mentions), "{body}: {d}");
    }
}

/// A client registered over RFC 7591 authenticates with its certificate right away.
async fn registered_tls_client_authenticates(backend: Backend) {
    let t = Mtls::start_with(
        backend,
        Options {
            registration_requires_token: false,
            ..Options::default()
        },
    )
    .await;
    let cert = t
        .pki
        .client_cert(&ClientCertSpec::new("reg").dns("reg.example.com"));
    let r = register(
        &t.server,
        &t.http(None),
        &json!({
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "reg.example.com",
            "scope": "read",
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["client_id"].as_str().unwrap();
    let token = t.access_token(id, &cert).await;
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["cnf"]["x5t#S256"], cert.thumbprint().as_str());
    assert_eq!(claims["scope"], "read");
}

// ---- administration --------------------------------------------------------------------------

async fn admin_update_changes_identity_and_binding(backend: Backend) {
    let t = Mtls::start(backend).await;
    let old = t.pki.client("old-name");
    let new = t
        .pki
        .client_cert(&ClientCertSpec::new("x").dns("new.example.com"));
    let id = t.dn_client("CN=old-name").await;
    t.token(&id, Some(&old)).await.ok();
    let info = t
        .server
        .engine
        .update_client_tls(
            &id,
            ClientTlsChange {
                tls: Some(ClientTls {
                    san_dns: Some("new.example.com".into()),
                    ..Default::default()
                }),
                certificate_bound: Some(true),
            },
            t.server.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(
        info.metadata.tls_client_auth_san_dns.as_deref(),
        Some("new.example.com")
    );
    assert_eq!(info.metadata.tls_client_auth_subject_dn, None);
    assert_eq!(
        info.metadata.tls_client_certificate_bound_access_tokens,
        Some(true)
    );
    t.server.engine.reload().await.unwrap();
    t.token(&id, Some(&new)).await.ok();
    refused(&t.token(&id, Some(&old)).await, "does not match");
    // Two identities, or an identity for a secret client, are refused.
    let err = t
        .server
        .engine
        .update_client_tls(
            &id,
            ClientTlsChange {
                tls: Some(ClientTls {
                    san_dns: Some("a.example".into()),
                    san_ip: Some("10.0.0.1".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            t.server.clock.now(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exactly one"), "{err}");
    let (secret_id, _) = t
        .server
        .secret_client(TokenEndpointAuthMethod::ClientSecretBasic, &[API], None)
        .await;
    let err = t
        .server
        .engine
        .update_client_tls(
            &secret_id,
            ClientTlsChange {
                tls: Some(ClientTls {
                    san_dns: Some("a.example".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            t.server.clock.now(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("only for tls_client_auth"),
        "{err}"
    );
}

/// The `warden` CLI: mTLS clients and binding settings.
#[test]
fn cli_mtls_flags() {
    let db = CliDb::new();
    let run = |args: &[&str]| -> CliOutput { db.run(args) };
    let failed = |out: &CliOutput, mentions: &str| {
        assert!(!out.success, "expected failure: {out:?}");
        assert!(out.stderr.contains(mentions), "{mentions:?}: {out:?}");
    };

    // APIs: --require-binding on create and update, shown by api show.
    let api = run(&[
        "api",
        "create",
        API,
        "--scopes",
        "read",
        "--require-binding",
        "certificate",
    ])
    .json();
    assert_eq!(api["require_binding"], "certificate");
    let api = run(&["api", "update", API, "--require-binding", "any"]).json();
    assert_eq!(api["require_binding"], "any");
    assert_eq!(run(&["api", "show", API]).json()["require_binding"], "any");
    run(&["api", "update", API, "--require-binding", "none"]).json();
    failed(
        &run(&["api", "update", API, "--require-binding", "always"]),
        "--require-binding",
    );

    // tls_client_auth with a subject DN and mandatory binding; no secret.
    let c = run(&[
        "client",
        "create",
        "--name",
        "svc",
        "--auth-method",
        "tls_client_auth",
        "--tls-subject-dn",
        "CN=svc,O=Example",
        "--audience",
        API,
        "--certificate-bound-tokens",
    ])
    .json();
    assert!(c.get("client_secret").is_none(), "{c}");
    assert_eq!(c["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(c["tls_client_auth_subject_dn"], "CN=svc,O=Example");
    assert_eq!(c["tls_client_certificate_bound_access_tokens"], true);
    assert_eq!(c["binding"]["certificate_bound"], true);
    let id = c["client_id"].as_str().unwrap().to_owned();

    // update: another identity, binding off; show prints both.
    let c = run(&[
        "client",
        "update",
        &id,
        "--tls-san-ip",
        "10.0.0.9",
        "--no-certificate-bound-tokens",
    ])
    .json();
    assert_eq!(c["tls_client_auth_san_ip"], "10.0.0.9");
    assert!(c.get("tls_client_auth_subject_dn").is_none(), "{c}");
    assert_eq!(c["binding"]["certificate_bound"], false);
    let shown = run(&["client", "show", &id]).json();
    assert_eq!(shown["tls_client_auth_san_ip"], "10.0.0.9");
    assert_eq!(shown["binding"]["certificate_bound"], false);
    let c = run(&["client", "update", &id, "--certificate-bound-tokens"]).json();
    assert_eq!(c["binding"]["certificate_bound"], true);

    // Bad identities.
    failed(
        &run(&[
            "client",
            "create",
            "--name",
            "x",
            "--auth-method",
            "tls_client_auth",
        ]),
        "exactly one",
    );
    failed(
        &run(&[
            "client",
            "create",
            "--name",
            "x",
            "--auth-method",
            "tls_client_auth",
            "--tls-san-ip",
            "10.0.0.300",
        ]),
        "tls_client_auth_san_ip",
    );
    failed(
        &run(&[
            "client",
            "create",
            "--name",
            "x",
            "--auth-method",
            "tls_client_auth",
            "--tls-san-dns",
            "a.example",
            "--tls-san-uri",
            "spiffe://x/y",
        ]),
        "cannot be used with",
    );
    failed(
        &run(&["client", "update", &id, "--tls-subject-dn", "not a dn"]),
        "tls_client_auth_subject_dn",
    );
    // A secret client: no identity, but binding can be made mandatory; its secret is shown.
    let s = run(&[
        "client",
        "create",
        "--name",
        "s",
        "--auth-method",
        "client_secret_basic",
    ])
    .json();
    assert!(s["client_secret"].as_str().is_some());
    let sid = s["client_id"].as_str().unwrap().to_owned();
    failed(
        &run(&["client", "update", &sid, "--tls-san-dns", "a.example"]),
        "only for tls_client_auth",
    );
    let s = run(&["client", "update", &sid, "--certificate-bound-tokens"]).json();
    assert_eq!(s["binding"]["certificate_bound"], true);

    // self_signed_tls_client_auth from a certificate file: a JWK with x5c.
    let cert = TestPki::self_signed("device");
    let (cert_path, _) = cert.write(db.dir.path(), "device");
    let c = run(&[
        "client",
        "create",
        "--name",
        "device",
        "--auth-method",
        "self_signed_tls_client_auth",
        "--cert-file",
        cert_path.to_str().unwrap(),
    ])
    .json();
    assert!(c.get("client_secret").is_none(), "{c}");
    let key = &c["jwks"]["keys"][0];
    assert_eq!(key["x5c"][0], cert.x5c().as_str());
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(*key, cert.public_jwk(), "the key is the certificate's");
    // ... or a JWKS file.
    let jwks_path = db.dir.path().join("device.jwks");
    std::fs::write(&jwks_path, cert.jwks().to_string()).unwrap();
    run(&[
        "client",
        "create",
        "--name",
        "device2",
        "--auth-method",
        "self_signed_tls_client_auth",
        "--jwks-file",
        jwks_path.to_str().unwrap(),
    ])
    .json();
    failed(
        &run(&[
            "client",
            "create",
            "--name",
            "d3",
            "--auth-method",
            "self_signed_tls_client_auth",
        ]),
        "requires jwks or jwks_uri",
    );
    let garbage = db.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello").unwrap();
    failed(
        &run(&[
            "client",
            "create",
            "--name",
            "d4",
            "--auth-method",
            "self_signed_tls_client_auth",
            "--cert-file",
            garbage.to_str().unwrap(),
        ]),
        "--cert-file",
    );
}

// ---- behind a proxy --------------------------------------------------------------------------

/// Plain HTTP, client certificates from the `X-Client-Cert` header of 127.0.0.1, checked
/// against `pki`'s CA.
fn proxy_options(pki: &TestPki) -> Options {
    Options {
        tls: warden_server::config::TlsSettings {
            client_ca: Some(pki.ca_path.clone()),
            client_cert_header: Some(String::from("X-Client-Cert")),
            trusted_proxies: vec![String::from("127.0.0.1")],
            ..Default::default()
        },
        ..Options::default()
    }
}

async fn proxy_header_certificate(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    let server = TestServer::start_with(backend, proxy_options(&pki)).await;
    jwt_api(&server, API, "read", SigningAlg::ES256).await;
    let mut new = new_client(TokenEndpointAuthMethod::TlsClientAuth, &[API]);
    new.tls.subject_dn = Some(String::from("CN=behind-proxy"));
    let id = server.client(new).await.client_id;
    let cert = pki.client("behind-proxy");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
    ];
    for value in [cert.escaped_pem(), cert.rfc9440()] {
        let r = send(
            &server.http,
            &server,
            "/token",
            &form,
            None,
            Some(("x-client-cert", &value)),
        )
        .await;
        r.ok();
        let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
        assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&cert).as_str());
    }
    let expired = pki.expired_client_cert("behind-proxy");
    let r = send(
        &server.http,
        &server,
        "/token",
        &form,
        None,
        Some(("x-client-cert", &expired.escaped_pem())),
    )
    .await;
    refused(&r, "not trusted");
    let r = send(&server.http, &server, "/token", &form, None, None).await;
    refused(&r, "requires a client certificate");
}
