//! Test helpers: a real Warden server on 127.0.0.1 port 0 with a fresh database (SQLite in a
//! temporary directory, or a fresh PostgreSQL database when `WARDEN_TEST_POSTGRES_URL` is set),
//! a test clock, and small HTTP helpers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support code

pub mod browser;
pub mod pki;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use tokio::sync::oneshot;
use warden_core::Engine;
use warden_core::admin::{NewApi, NewClient};
use warden_core::clock::{Clock, SystemClock, TestClock};
use warden_server::config::{LogFormat, MasterKeySource, Settings};
use warden_server::state::AppState;
use warden_types::metadata::ClientInformation;
use warden_types::{Scope, SigningAlg, TokenEndpointAuthMethod, TokenFormat};

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `WARDEN_TEST_POSTGRES_URL`.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL, if `WARDEN_TEST_POSTGRES_URL` is set.
    pub fn postgres() -> Option<Backend> {
        std::env::var("WARDEN_TEST_POSTGRES_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .map(Backend::Postgres)
    }

    /// A database URL for a fresh database of this backend, inside `dir` for SQLite.
    pub fn fresh_url(&self, dir: &std::path::Path) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}", dir.join("warden.db").display()),
            Backend::Postgres(base) => {
                let mut url = url::Url::parse(base).expect("WARDEN_TEST_POSTGRES_URL is a URL");
                let name = format!("warden_it_{}", random_suffix());
                url.set_path(&format!("/{name}"));
                url.to_string()
            }
        }
    }
}

fn random_suffix() -> String {
    let bytes = warden_jose::random_bytes::<8>();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs a test body on SQLite, and again on PostgreSQL when configured.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::Backend::postgres() {
                    $body(backend).await;
                }
            }
        }
    };
}

/// Knobs for a test server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Issuer override; `{base}` is replaced by `http://127.0.0.1:PORT` (`https://` when
    /// `tls.cert` is set).
    pub issuer: Option<String>,
    /// Use this database URL instead of a fresh one (to share a database between servers).
    pub database: Option<String>,
    /// Use this master key file (to share keys between servers).
    pub master_key_file: Option<PathBuf>,
    /// Request body limit.
    pub request_body_limit: usize,
    /// Whether registration needs an initial access token.
    pub registration_requires_token: bool,
    /// Browser-flow lifetimes.
    pub people: warden_core::config::PeopleConfig,
    /// Longest token exchange delegation chain.
    pub max_exchange_chain_depth: usize,
    /// TLS serving, client certificates, proxy header (see `warden_server::config`).
    pub tls: warden_server::config::TlsSettings,
    /// DPoP settings.
    pub dpop: warden_core::config::DpopConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            issuer: None,
            database: None,
            master_key_file: None,
            request_body_limit: 65_536,
            registration_requires_token: true,
            people: warden_core::config::PeopleConfig::default(),
            max_exchange_chain_depth: warden_core::config::DEFAULT_MAX_EXCHANGE_CHAIN_DEPTH,
            tls: Default::default(),
            dpop: Default::default(),
        }
    }
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` when serving TLS.
    pub base_url: String,
    /// The issuer.
    pub issuer: String,
    /// The database URL (to start a second server on it).
    pub database: String,
    /// The master key file.
    pub master_key_file: PathBuf,
    /// The engine (for admin operations).
    pub engine: Arc<Engine>,
    /// Shared state.
    pub state: Arc<AppState>,
    /// The clock requests see.
    pub clock: TestClock,
    /// An HTTP client (over TLS: trusting every certificate of `tls.cert`, no client
    /// certificate; see [`pki::TestPki::http_client`] for one).
    pub http: reqwest::Client,
    /// The TLS files the server loaded (to force a reload), when TLS or a client CA is on.
    pub tls: Option<Arc<warden_server::tls::TlsReloader>>,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: Arc<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh database.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, Options::default()).await
    }

    /// Starts a server with options.
    pub async fn start_with(backend: Backend, options: Options) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let scheme = if options.tls.cert.is_some() {
            "https"
        } else {
            "http"
        };
        let base_url = format!("{scheme}://{addr}");
        let issuer = options
            .issuer
            .as_deref()
            .map(|i| i.replace("{base}", &base_url))
            .unwrap_or_else(|| base_url.clone());
        let database = options
            .database
            .clone()
            .unwrap_or_else(|| backend.fresh_url(dir.path()));
        let master_key_file = options
            .master_key_file
            .clone()
            .unwrap_or_else(|| dir.path().join("master.key"));
        let settings = Settings {
            database: database.clone(),
            listen: addr,
            issuer: issuer.clone(),
            master_key: MasterKeySource::File {
                path: master_key_file.clone(),
                create: true,
            },
            log_format: LogFormat::Text,
            log_level: String::from("warn"),
            clock_skew: 30,
            request_timeout: 10,
            request_body_limit: options.request_body_limit,
            key_rotation_interval: 30 * 86_400,
            signing_algs: SigningAlg::ALL.to_vec(),
            jwks_max_age: 300,
            registration_enabled: true,
            registration_requires_token: options.registration_requires_token,
            audit_retention: 90 * 86_400,
            branding: Default::default(),
            people: options.people.clone(),
            max_exchange_chain_depth: options.max_exchange_chain_depth,
            tls: options.tls.clone(),
            dpop: options.dpop.clone(),
        };
        let clock = TestClock::new(SystemClock.now());
        let (state, audit) = warden_server::state::build(settings, Arc::new(clock.clone()))
            .await
            .expect("server state");
        let (tx, rx) = oneshot::channel::<()>();
        let run_state = state.clone();
        let tls = warden_server::tls::TlsReloader::from_settings(&options.tls).expect("TLS files");
        let run_tls = tls.clone();
        tokio::spawn(async move {
            let _ = warden_server::serve::run_with_tls(
                listener,
                run_state,
                audit,
                async move {
                    let _ = rx.await;
                },
                run_tls,
            )
            .await;
        });
        let http = match &options.tls.cert {
            Some(cert) => {
                let pem = std::fs::read(cert).expect("read tls.cert");
                let roots = reqwest::Certificate::from_pem_bundle(&pem).expect("tls.cert PEM");
                reqwest::Client::builder()
                    .tls_certs_only(roots)
                    .build()
                    .expect("HTTP client")
            }
            None => reqwest::Client::new(),
        };
        TestServer {
            base_url,
            issuer,
            database,
            master_key_file,
            engine: state.engine.clone(),
            state,
            clock,
            http,
            tls,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    /// Starts a second server on the same database and master key.
    pub async fn start_sibling(&self) -> TestServer {
        let mut sibling = Self::start_with(
            Backend::Sqlite,
            Options {
                database: Some(self.database.clone()),
                master_key_file: Some(self.master_key_file.clone()),
                ..Options::default()
            },
        )
        .await;
        sibling._dir = self._dir.clone();
        sibling
    }

    /// Stops the server (graceful shutdown).
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The token endpoint URL as advertised.
    pub fn token_endpoint(&self) -> String {
        self.engine.config().token_endpoint.clone()
    }

    /// Creates an API and makes the server see it.
    pub async fn api(&self, identifier: &str, scopes: &str, format: TokenFormat, alg: SigningAlg) {
        self.engine
            .create_api(
                NewApi {
                    identifier: identifier.to_owned(),
                    name: None,
                    scopes: Scope::parse(scopes).unwrap(),
                    token_format: format,
                    token_lifetime: 900,
                    signing_alg: alg,
                },
                self.clock.now(),
            )
            .await
            .expect("create api");
        self.engine.reload().await.unwrap();
    }

    /// Creates a client and makes the server see it; returns id and secret.
    pub async fn client(&self, new: NewClient) -> ClientInformation {
        let info = self
            .engine
            .create_client(new, self.clock.now())
            .await
            .expect("create client");
        self.engine.reload().await.unwrap();
        info
    }

    /// A secret client granted `scope` (all scopes if None) on `audiences`.
    pub async fn secret_client(
        &self,
        method: TokenEndpointAuthMethod,
        audiences: &[&str],
        scope: Option<&str>,
    ) -> (String, String) {
        let info = self
            .client(NewClient {
                name: String::from("test client"),
                auth_method: method,
                grant_types: vec![],
                scope: scope.map(|s| Scope::parse(s).unwrap()),
                audiences: audiences.iter().map(|s| (*s).to_owned()).collect(),
                redirect_uris: vec![],
                jwks: None,
                jwks_uri: None,
                auth_signing_alg: None,
                ..NewClient::default()
            })
            .await;
        (info.client_id, info.client_secret.unwrap_or_default())
    }

    /// POSTs a form, with HTTP Basic credentials when given.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some((id, secret)) = basic {
            req = req.header("authorization", basic_header(id, secret));
        }
        req.send().await.expect("request")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// RFC 6749 §2.3.1 Basic header: form-urlencode id and secret, then base64.
pub fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The JSON body of a response, with its status.
pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, value)
}
