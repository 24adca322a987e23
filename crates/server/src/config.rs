//! Typed configuration: built-in defaults, overridden by the TOML file, overridden by
//! `WARDEN_*` environment variables, overridden by flags. [`Settings::resolve`] collects every
//! problem instead of stopping at the first, so `warden check-config` reports them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use warden_types::SigningAlg;

use crate::cli::{Cli, ServeArgs};
use crate::duration::parse_duration;

/// The TOML file. Unknown keys are errors, so a typo is reported rather than ignored.
/// A duration in the file: `"15m"` or a number of seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Seconds(i64),
    Text(String),
}

impl DurationValue {
    fn text(self) -> String {
        match self {
            Self::Seconds(n) => n.to_string(),
            Self::Text(t) => t,
        }
    }
}

fn duration_text(value: &Option<DurationValue>) -> Option<String> {
    value.clone().map(DurationValue::text)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    database: Option<String>,
    listen: Option<String>,
    issuer: Option<String>,
    master_key_file: Option<PathBuf>,
    log_format: Option<String>,
    log_level: Option<String>,
    clock_skew: Option<DurationValue>,
    request_timeout: Option<DurationValue>,
    request_body_limit: Option<usize>,
    audit_retention: Option<DurationValue>,
    #[serde(default)]
    keys: KeysSection,
    #[serde(default)]
    registration: RegistrationSection,
    #[serde(default)]
    login: LoginSection,
    #[serde(default)]
    oidc: OidcSection,
    #[serde(default)]
    token_exchange: TokenExchangeSection,
    #[serde(default)]
    tls: TlsSection,
    #[serde(default)]
    dpop: DpopSection,
}

/// `[dpop]`: DPoP proofs (RFC 9449) at the token endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DpopSection {
    require_nonce: Option<bool>,
    proof_max_age: Option<DurationValue>,
    nonce_lifetime: Option<DurationValue>,
}

/// `[tls]`: TLS serving, client certificates, the proxy header, the mTLS alias host.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    client_cert_header: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    mtls_endpoint_base: Option<String>,
}

/// `[token_exchange]`: RFC 8693 limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenExchangeSection {
    max_chain_depth: Option<usize>,
}

/// `[login]`: the look of the login, consent and logout pages.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginSection {
    product_name: Option<String>,
    logo_url: Option<String>,
    primary_color: Option<String>,
    background_color: Option<String>,
}

/// `[oidc]`: lifetimes and switches of the browser flows.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcSection {
    code_lifetime: Option<DurationValue>,
    id_token_lifetime: Option<DurationValue>,
    userinfo_token_lifetime: Option<DurationValue>,
    refresh_token_lifetime: Option<DurationValue>,
    refresh_reuse_grace: Option<DurationValue>,
    session_lifetime: Option<DurationValue>,
    interaction_lifetime: Option<DurationValue>,
    par_lifetime: Option<DurationValue>,
    require_par: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysSection {
    rotation_interval: Option<DurationValue>,
    algorithms: Option<Vec<String>>,
    jwks_max_age: Option<DurationValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationSection {
    enabled: Option<bool>,
    require_initial_access_token: Option<bool>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `WARDEN_MASTER_KEY`, base64.
    Env,
    /// A file holding the base64 key; created (0600) if missing and `create` is set.
    File {
        /// Path.
        path: PathBuf,
        /// Whether Warden may create it (the default location, not an explicit path).
        create: bool,
    },
    /// In-memory databases get an ephemeral key.
    Ephemeral,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Database URL.
    pub database: String,
    /// Listen address.
    pub listen: SocketAddr,
    /// Issuer, exactly as configured.
    pub issuer: String,
    /// Master key source.
    pub master_key: MasterKeySource,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (tracing-subscriber EnvFilter syntax).
    pub log_level: String,
    /// Clock skew allowed on assertions, seconds.
    pub clock_skew: i64,
    /// Request timeout, seconds.
    pub request_timeout: u64,
    /// Largest request body, bytes.
    pub request_body_limit: usize,
    /// Key rotation interval, seconds.
    pub key_rotation_interval: i64,
    /// Algorithms with signing keys.
    pub signing_algs: Vec<SigningAlg>,
    /// JWKS max-age, seconds.
    pub jwks_max_age: i64,
    /// Whether `/register` is served.
    pub registration_enabled: bool,
    /// Whether `/register` needs an initial access token.
    pub registration_requires_token: bool,
    /// Audit retention, seconds (0 = forever).
    pub audit_retention: i64,
    /// Look of the login, consent and logout pages.
    pub branding: crate::pages::Branding,
    /// Lifetimes and switches of the browser flows.
    pub people: warden_core::config::PeopleConfig,
    /// Longest delegation chain (nesting of `act`) token exchange may produce.
    pub max_exchange_chain_depth: usize,
    /// TLS serving and client certificates.
    pub tls: TlsSettings,
    /// DPoP (RFC 9449) at the token endpoint.
    pub dpop: warden_core::config::DpopConfig,
}

/// TLS serving (`[tls]`, `--tls-*`) and client certificates from a TLS-terminating proxy.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// PEM certificate chain; with `key`, Warden serves HTTPS.
    pub cert: Option<std::path::PathBuf>,
    /// PEM private key.
    pub key: Option<std::path::PathBuf>,
    /// PEM bundle of CAs that issue client certificates; set, Warden asks for client
    /// certificates during the handshake (optional for the client).
    pub client_ca: Option<std::path::PathBuf>,
    /// Header carrying the client certificate when a proxy terminates TLS.
    pub client_cert_header: Option<String>,
    /// Addresses or CIDR ranges of the proxies allowed to set that header.
    pub trusted_proxies: Vec<String>,
    /// Base URL of a separate mutual-TLS host, advertised as `mtls_endpoint_aliases`.
    pub mtls_endpoint_base: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn pick(
    flag_or_env: Option<String>,
    env_name: Option<&str>,
    file: Option<String>,
) -> Option<String> {
    flag_or_env.or_else(|| env_name.and_then(env)).or(file)
}

impl Settings {
    /// Resolves settings from the CLI, the environment and the file. Returns every problem.
    pub fn resolve(cli: &Cli, serve: &ServeArgs) -> Result<Settings, Vec<String>> {
        let mut problems = Vec::new();
        let file = match &cli.config {
            None => FileConfig::default(),
            Some(path) => load_file(path, &mut problems),
        };

        let database = pick(cli.database.clone(), None, file.database.clone())
            .unwrap_or_else(|| String::from("sqlite://warden.db"));
        if !(database.starts_with("sqlite:")
            || database.starts_with("postgres://")
            || database.starts_with("postgresql://"))
        {
            problems.push(format!(
                "database: '{}' is not a sqlite: or postgres:// URL",
                redact_url(&database)
            ));
        }

        let listen_raw = pick(serve.listen.clone(), None, file.listen.clone())
            .unwrap_or_else(|| String::from("127.0.0.1:8080"));
        let listen = match listen_raw.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                problems.push(format!(
                    "listen: '{listen_raw}' is not an address like 127.0.0.1:8080"
                ));
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };

        let tls = resolve_tls(serve, &file.tls, &mut problems);
        // Serving TLS, the default issuer is https (and with it every advertised endpoint).
        let scheme = if tls.cert.is_some() { "https" } else { "http" };
        let issuer = pick(serve.issuer.clone(), None, file.issuer.clone())
            .unwrap_or_else(|| format!("{scheme}://{listen_raw}"));
        match url::Url::parse(&issuer) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                // RFC 8414 §2: "a URL that uses the "https" scheme and has no query or
                // fragment components".
                if u.query().is_some() || u.fragment().is_some() {
                    problems.push(format!(
                        "issuer: '{issuer}' must not have a query or fragment"
                    ));
                }
            }
            _ => problems.push(format!("issuer: '{issuer}' is not an http(s) URL")),
        }

        let master_key = if env("WARDEN_MASTER_KEY").is_some() {
            MasterKeySource::Env
        } else if let Some(path) = cli.master_key_file.clone().or(file.master_key_file.clone()) {
            MasterKeySource::File {
                path,
                create: false,
            }
        } else {
            default_master_key(&database)
        };

        let log_format =
            match pick(None, Some("WARDEN_LOG_FORMAT"), file.log_format.clone()).as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    problems.push(format!("log_format: '{other}' must be text or json"));
                    LogFormat::Text
                }
            };
        let log_level = pick(None, Some("WARDEN_LOG"), file.log_level.clone())
            .unwrap_or_else(|| String::from("info"));
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            problems.push(format!("log_level: '{log_level}' is not a valid filter"));
        }

        let mut duration = |name: &str,
                            env_name: &str,
                            file_value: Option<String>,
                            default: i64| {
            match pick(None, Some(env_name), file_value) {
                None => default,
                Some(raw) => match parse_duration(&raw) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(format!("{name}: {e}"));
                        default
                    }
                },
            }
        };
        let clock_skew = duration(
            "clock_skew",
            "WARDEN_CLOCK_SKEW",
            duration_text(&file.clock_skew),
            30,
        );
        let request_timeout = duration(
            "request_timeout",
            "WARDEN_REQUEST_TIMEOUT",
            duration_text(&file.request_timeout),
            10,
        );
        let key_rotation_interval = duration(
            "keys.rotation_interval",
            "WARDEN_KEY_ROTATION_INTERVAL",
            duration_text(&file.keys.rotation_interval),
            30 * 86_400,
        );
        let jwks_max_age = duration(
            "keys.jwks_max_age",
            "WARDEN_JWKS_MAX_AGE",
            duration_text(&file.keys.jwks_max_age),
            300,
        );
        let audit_retention = duration(
            "audit_retention",
            "WARDEN_AUDIT_RETENTION",
            duration_text(&file.audit_retention),
            90 * 86_400,
        );
        let people_defaults = warden_core::config::PeopleConfig::default();
        let mut people = warden_core::config::PeopleConfig {
            code_lifetime: duration(
                "oidc.code_lifetime",
                "WARDEN_CODE_LIFETIME",
                duration_text(&file.oidc.code_lifetime),
                people_defaults.code_lifetime,
            ),
            id_token_lifetime: duration(
                "oidc.id_token_lifetime",
                "WARDEN_ID_TOKEN_LIFETIME",
                duration_text(&file.oidc.id_token_lifetime),
                people_defaults.id_token_lifetime,
            ),
            userinfo_token_lifetime: duration(
                "oidc.userinfo_token_lifetime",
                "WARDEN_USERINFO_TOKEN_LIFETIME",
                duration_text(&file.oidc.userinfo_token_lifetime),
                people_defaults.userinfo_token_lifetime,
            ),
            refresh_token_lifetime: duration(
                "oidc.refresh_token_lifetime",
                "WARDEN_REFRESH_TOKEN_LIFETIME",
                duration_text(&file.oidc.refresh_token_lifetime),
                people_defaults.refresh_token_lifetime,
            ),
            refresh_reuse_grace: duration(
                "oidc.refresh_reuse_grace",
                "WARDEN_REFRESH_REUSE_GRACE",
                duration_text(&file.oidc.refresh_reuse_grace),
                people_defaults.refresh_reuse_grace,
            ),
            session_lifetime: duration(
                "oidc.session_lifetime",
                "WARDEN_SESSION_LIFETIME",
                duration_text(&file.oidc.session_lifetime),
                people_defaults.session_lifetime,
            ),
            interaction_lifetime: duration(
                "oidc.interaction_lifetime",
                "WARDEN_INTERACTION_LIFETIME",
                duration_text(&file.oidc.interaction_lifetime),
                people_defaults.interaction_lifetime,
            ),
            par_lifetime: duration(
                "oidc.par_lifetime",
                "WARDEN_PAR_LIFETIME",
                duration_text(&file.oidc.par_lifetime),
                people_defaults.par_lifetime,
            ),
            require_par: false,
        };
        if clock_skew > 300 {
            problems.push(String::from("clock_skew: at most 5m"));
        }
        if request_timeout == 0 {
            problems.push(String::from("request_timeout: must be positive"));
        }
        if key_rotation_interval < 3600 {
            problems.push(String::from("keys.rotation_interval: at least 1h"));
        }
        if jwks_max_age > 86_400 {
            problems.push(String::from("keys.jwks_max_age: at most 1d"));
        }
        if key_rotation_interval < 2 * jwks_max_age {
            problems.push(String::from(
                "keys.rotation_interval must be at least twice keys.jwks_max_age, so a new key is cached everywhere before it signs",
            ));
        }

        for (name, value, min, max) in [
            ("oidc.code_lifetime", people.code_lifetime, 1, 60),
            (
                "oidc.id_token_lifetime",
                people.id_token_lifetime,
                60,
                86_400,
            ),
            (
                "oidc.userinfo_token_lifetime",
                people.userinfo_token_lifetime,
                60,
                3600,
            ),
            (
                "oidc.refresh_token_lifetime",
                people.refresh_token_lifetime,
                60,
                90 * 86_400,
            ),
            (
                "oidc.refresh_reuse_grace",
                people.refresh_reuse_grace,
                0,
                60,
            ),
            (
                "oidc.session_lifetime",
                people.session_lifetime,
                60,
                30 * 86_400,
            ),
            (
                "oidc.interaction_lifetime",
                people.interaction_lifetime,
                60,
                3600,
            ),
            ("oidc.par_lifetime", people.par_lifetime, 10, 600),
        ] {
            if !(min..=max).contains(&value) {
                problems.push(format!("{name}: must be between {min} and {max} seconds"));
            }
        }

        let max_exchange_chain_depth = match env("WARDEN_TOKEN_EXCHANGE_MAX_CHAIN_DEPTH") {
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "WARDEN_TOKEN_EXCHANGE_MAX_CHAIN_DEPTH: '{raw}' is not a number"
                ));
                warden_core::config::DEFAULT_MAX_EXCHANGE_CHAIN_DEPTH
            }),
            None => file
                .token_exchange
                .max_chain_depth
                .unwrap_or(warden_core::config::DEFAULT_MAX_EXCHANGE_CHAIN_DEPTH),
        };
        if !(1..=16).contains(&max_exchange_chain_depth) {
            problems.push(String::from(
                "token_exchange.max_chain_depth: between 1 and 16",
            ));
        }

        let request_body_limit = match env("WARDEN_REQUEST_BODY_LIMIT") {
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "WARDEN_REQUEST_BODY_LIMIT: '{raw}' is not a number of bytes"
                ));
                65_536
            }),
            None => file.request_body_limit.unwrap_or(65_536),
        };
        if !(1024..=10 * 1024 * 1024).contains(&request_body_limit) {
            problems.push(String::from(
                "request_body_limit: between 1024 and 10485760 bytes",
            ));
        }

        let algs_raw: Option<Vec<String>> = env("WARDEN_SIGNING_ALGS")
            .map(|v| {
                v.split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .or(file.keys.algorithms.clone());
        let signing_algs = match algs_raw {
            None => SigningAlg::ALL.to_vec(),
            Some(list) => {
                let mut out = Vec::new();
                for raw in list {
                    match raw.parse::<SigningAlg>() {
                        Ok(a) if !out.contains(&a) => out.push(a),
                        Ok(_) => {}
                        Err(_) => problems.push(format!(
                            "keys.algorithms: '{raw}' is not one of RS256, PS256, ES256, EdDSA"
                        )),
                    }
                }
                if out.is_empty() {
                    problems.push(String::from("keys.algorithms: at least one algorithm"));
                }
                out
            }
        };

        let bool_setting = |name: &str,
                            env_name: &str,
                            file_value: Option<bool>,
                            default: bool,
                            problems: &mut Vec<String>| {
            match env(env_name) {
                Some(v) => match v.as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => {
                        problems.push(format!("{name}: '{v}' is not true or false"));
                        default
                    }
                },
                None => file_value.unwrap_or(default),
            }
        };
        let registration_enabled = bool_setting(
            "registration.enabled",
            "WARDEN_REGISTRATION_ENABLED",
            file.registration.enabled,
            true,
            &mut problems,
        );
        let registration_requires_token = bool_setting(
            "registration.require_initial_access_token",
            "WARDEN_REGISTRATION_REQUIRE_TOKEN",
            file.registration.require_initial_access_token,
            true,
            &mut problems,
        );

        people.require_par = bool_setting(
            "oidc.require_par",
            "WARDEN_REQUIRE_PAR",
            file.oidc.require_par,
            false,
            &mut problems,
        );

        let default_branding = crate::pages::Branding::default();
        let branding = crate::pages::Branding {
            product_name: pick(
                None,
                Some("WARDEN_LOGIN_PRODUCT_NAME"),
                file.login.product_name.clone(),
            )
            .unwrap_or(default_branding.product_name),
            logo_url: pick(
                None,
                Some("WARDEN_LOGIN_LOGO_URL"),
                file.login.logo_url.clone(),
            ),
            primary_color: pick(
                None,
                Some("WARDEN_LOGIN_PRIMARY_COLOR"),
                file.login.primary_color.clone(),
            )
            .unwrap_or(default_branding.primary_color),
            background_color: pick(
                None,
                Some("WARDEN_LOGIN_BACKGROUND_COLOR"),
                file.login.background_color.clone(),
            )
            .unwrap_or(default_branding.background_color),
        };
        if let Err(e) = crate::pages::Pages::new(branding.clone()) {
            problems.push(format!("login: {e}"));
        }

        let dpop = resolve_dpop(&file.dpop, &mut problems);

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            database,
            listen,
            issuer,
            master_key,
            log_format,
            log_level,
            clock_skew,
            request_timeout: request_timeout as u64,
            request_body_limit,
            key_rotation_interval,
            signing_algs,
            jwks_max_age,
            registration_enabled,
            registration_requires_token,
            audit_retention,
            branding,
            people,
            max_exchange_chain_depth,
            tls,
            dpop,
        })
    }

    /// The engine's settings.
    pub fn engine_config(&self) -> warden_core::config::EngineConfig {
        let mut cfg = warden_core::config::EngineConfig::for_issuer(&self.issuer);
        cfg.clock_skew = self.clock_skew;
        cfg.key_rotation_interval = self.key_rotation_interval;
        cfg.jwks_max_age = self.jwks_max_age;
        cfg.key_publish_lead = 2 * self.jwks_max_age;
        cfg.signing_algs = self.signing_algs.clone();
        cfg.registration_enabled = self.registration_enabled;
        cfg.registration_requires_token = self.registration_requires_token;
        cfg.audit_retention = self.audit_retention;
        cfg.people = self.people.clone();
        cfg.max_exchange_chain_depth = self.max_exchange_chain_depth;
        cfg.dpop = self.dpop.clone();
        cfg.mtls_endpoint_base = self.tls.mtls_endpoint_base.clone();
        cfg
    }
}

/// `[tls]`, `WARDEN_TLS_*` and `--tls-*`: flags (and their environment variables, read by
/// clap) over the file. Only the shape is checked here; the files are loaded by
/// [`crate::tls::TlsReloader::from_settings`] (`serve` and `check-config`).
fn resolve_tls(serve: &ServeArgs, file: &TlsSection, problems: &mut Vec<String>) -> TlsSettings {
    let path = |flag: &Option<PathBuf>, file: &Option<PathBuf>| {
        flag.clone()
            .or_else(|| file.clone())
            .filter(|p| !p.as_os_str().is_empty())
    };
    let mut cert = path(&serve.tls_cert, &file.cert);
    let mut key = path(&serve.tls_key, &file.key);
    if cert.is_some() != key.is_some() {
        problems.push(String::from(
            "tls: a certificate and a private key must be given together (--tls-cert and --tls-key, WARDEN_TLS_CERT and WARDEN_TLS_KEY, or tls.cert and tls.key)",
        ));
        cert = None;
        key = None;
    }
    let client_ca = path(&serve.tls_client_ca, &file.client_ca);
    let client_cert_header = pick(
        None,
        Some("WARDEN_TLS_CLIENT_CERT_HEADER"),
        file.client_cert_header.clone(),
    )
    .map(|h| h.trim().to_owned())
    .filter(|h| !h.is_empty());
    let trusted_proxies: Vec<String> = match env("WARDEN_TLS_TRUSTED_PROXIES") {
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => file.trusted_proxies.clone().unwrap_or_default(),
    };
    if let Err(e) = crate::tls::TrustedProxies::parse(&trusted_proxies) {
        problems.push(format!("tls.trusted_proxies: {e}"));
    }
    if let Some(name) = &client_cert_header {
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(format!(
                "tls.client_cert_header: '{name}' is not a valid header name"
            ));
        }
        if trusted_proxies.is_empty() {
            problems.push(String::from(
                "tls.client_cert_header needs tls.trusted_proxies (WARDEN_TLS_TRUSTED_PROXIES): the addresses of the proxies allowed to set it",
            ));
        }
    }
    if client_ca.is_some() && cert.is_none() && client_cert_header.is_none() {
        problems.push(String::from(
            "tls.client_ca is only used when Warden serves TLS (tls.cert, tls.key) or reads client certificates from a proxy (tls.client_cert_header)",
        ));
    }
    let mtls_endpoint_base = pick(
        None,
        Some("WARDEN_TLS_MTLS_ENDPOINT_BASE"),
        file.mtls_endpoint_base.clone(),
    );
    if let Some(base) = &mtls_endpoint_base {
        match url::Url::parse(base) {
            Ok(u)
                if u.scheme() == "https"
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none() => {}
            _ => problems.push(format!(
                "tls.mtls_endpoint_base: '{base}' must be an absolute https URL without query or fragment"
            )),
        }
    }
    TlsSettings {
        cert,
        key,
        client_ca,
        client_cert_header,
        trusted_proxies,
        mtls_endpoint_base,
    }
}

/// `[dpop]` and `WARDEN_DPOP_*` over the defaults: whether token-endpoint proofs need a server
/// nonce, how old a proof may be, how long a nonce lives.
fn resolve_dpop(file: &DpopSection, problems: &mut Vec<String>) -> warden_core::config::DpopConfig {
    let defaults = warden_core::config::DpopConfig::default();
    let require_nonce = match env("WARDEN_DPOP_REQUIRE_NONCE") {
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => {
                problems.push(format!("dpop.require_nonce: '{v}' is not true or false"));
                defaults.require_nonce
            }
        },
        None => file.require_nonce.unwrap_or(defaults.require_nonce),
    };
    let mut duration =
        |name: &str, env_name: &str, value: &Option<DurationValue>, default, min, max| {
            let value = match pick(None, Some(env_name), duration_text(value)) {
                None => return default,
                Some(raw) => match parse_duration(&raw) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(format!("{name}: {e}"));
                        return default;
                    }
                },
            };
            if !(min..=max).contains(&value) {
                problems.push(format!("{name}: must be between {min} and {max} seconds"));
            }
            value
        };
    let proof_max_age = duration(
        "dpop.proof_max_age",
        "WARDEN_DPOP_PROOF_MAX_AGE",
        &file.proof_max_age,
        defaults.proof_max_age,
        1,
        600,
    );
    let nonce_lifetime = duration(
        "dpop.nonce_lifetime",
        "WARDEN_DPOP_NONCE_LIFETIME",
        &file.nonce_lifetime,
        defaults.nonce_lifetime,
        10,
        3600,
    );
    warden_core::config::DpopConfig {
        require_nonce,
        proof_max_age,
        nonce_lifetime,
    }
}

/// Keys the file may hold, per table ("" is the top level).
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "database",
            "listen",
            "issuer",
            "master_key_file",
            "log_format",
            "log_level",
            "clock_skew",
            "request_timeout",
            "request_body_limit",
            "audit_retention",
            "keys",
            "registration",
            "login",
            "oidc",
            "token_exchange",
            "tls",
            "dpop",
        ],
    ),
    (
        "dpop",
        &["require_nonce", "proof_max_age", "nonce_lifetime"],
    ),
    (
        "tls",
        &[
            "cert",
            "key",
            "client_ca",
            "client_cert_header",
            "trusted_proxies",
            "mtls_endpoint_base",
        ],
    ),
    ("token_exchange", &["max_chain_depth"]),
    ("keys", &["rotation_interval", "algorithms", "jwks_max_age"]),
    ("registration", &["enabled", "require_initial_access_token"]),
    (
        "login",
        &[
            "product_name",
            "logo_url",
            "primary_color",
            "background_color",
        ],
    ),
    (
        "oidc",
        &[
            "code_lifetime",
            "id_token_lifetime",
            "userinfo_token_lifetime",
            "refresh_token_lifetime",
            "refresh_reuse_grace",
            "session_lifetime",
            "interaction_lifetime",
            "par_lifetime",
            "require_par",
        ],
    ),
];

/// Reads the file. Unknown keys are reported (all of them) and then dropped, so the values
/// that are known are still checked in the same run.
fn load_file(path: &Path, problems: &mut Vec<String>) -> FileConfig {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("config file {shown}: {e}"));
            return FileConfig::default();
        }
    };
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("config file {shown}: {e}"));
            return FileConfig::default();
        }
    };
    for &(section, known) in KNOWN_KEYS {
        let target = if section.is_empty() {
            Some(&mut table)
        } else {
            match table.get_mut(section) {
                Some(toml::Value::Table(t)) => Some(t),
                Some(_) => {
                    problems.push(format!("config file {shown}: [{section}] must be a table"));
                    table.remove(section);
                    None
                }
                None => None,
            }
        };
        if let Some(target) = target {
            let unknown: Vec<String> = target
                .keys()
                .filter(|k| !known.contains(&k.as_str()))
                .cloned()
                .collect();
            for key in unknown {
                let name = if section.is_empty() {
                    key.clone()
                } else {
                    format!("{section}.{key}")
                };
                problems.push(format!("config file {shown}: unknown key '{name}'"));
                target.remove(&key);
            }
        }
    }
    match table.try_into() {
        Ok(file) => file,
        Err(e) => {
            problems.push(format!("config file {shown}: {e}"));
            FileConfig::default()
        }
    }
}

/// Default master-key location: beside the SQLite file, or `warden-master.key` in the working
/// directory for PostgreSQL (set WARDEN_MASTER_KEY in production).
fn default_master_key(database: &str) -> MasterKeySource {
    if database.contains(":memory:") || database.contains("mode=memory") {
        return MasterKeySource::Ephemeral;
    }
    if let Some(path) = sqlite_path(database) {
        let mut key = path.into_os_string();
        key.push(".key");
        return MasterKeySource::File {
            path: PathBuf::from(key),
            create: true,
        };
    }
    MasterKeySource::File {
        path: PathBuf::from("warden-master.key"),
        create: true,
    }
}

/// The file path of a sqlite: URL.
pub fn sqlite_path(database: &str) -> Option<PathBuf> {
    let rest = database.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// A database URL with any password removed, for messages.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // Not a URL: show only the scheme, never text that may hold a password.
        return raw
            .split(':')
            .next()
            .map(|s| format!("{s}:…"))
            .unwrap_or_default();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("****"));
    }
    // libpq-style URLs may also carry the password as a query parameter.
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "****".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://warden.db"),
            Some(PathBuf::from("warden.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:****@h/db"
        );
        assert_eq!(
            redact_url("postgres://h/db?user=u&password=secret"),
            "postgres://h/db?user=u&password=****"
        );
    }
}
