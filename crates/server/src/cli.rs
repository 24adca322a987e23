//! The command line of the interface contract (DESIGN.md). Global options are accepted before
//! or after the subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Warden: OAuth 2.0 authorization server for machine-to-machine authorization.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    /// Database URL: sqlite://FILE (default sqlite://warden.db) or postgres://...
    #[arg(long, global = true, env = "WARDEN_DATABASE_URL")]
    pub database: Option<String>,
    /// TOML configuration file; environment overrides it, flags override the environment.
    #[arg(long, global = true, env = "WARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// File holding the base64 master key that encrypts keys at rest.
    #[arg(long, global = true, env = "WARDEN_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
// Parsed once per process: the size of the larger variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server.
    Serve(ServeArgs),
    /// Check the configuration and report every problem.
    CheckConfig(ServeArgs),
    /// Manage APIs (resource servers).
    #[command(subcommand)]
    Api(ApiCommand),
    /// Manage clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage users (people who log in).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage trusted external issuers (workload identity).
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Manage RFC 7591 initial access tokens.
    #[command(subcommand, name = "registration-token")]
    RegistrationToken(RegistrationTokenCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// Options of `serve` and `check-config`.
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "WARDEN_LISTEN")]
    pub listen: Option<String>,
    /// Issuer URL, used exactly as given (default http://LISTEN, or https://LISTEN when
    /// serving TLS).
    #[arg(long, env = "WARDEN_ISSUER")]
    pub issuer: Option<String>,
    /// PEM certificate chain to serve HTTPS with (needs --tls-key). Reloaded on SIGHUP and
    /// when the file changes.
    #[arg(long, env = "WARDEN_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "WARDEN_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// PEM bundle of the CAs that issue client certificates; set, Warden asks TLS clients
    /// for a certificate (optional for them).
    #[arg(long, env = "WARDEN_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
}

/// `warden api ...`
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Create an API.
    Create {
        /// Identifier: an absolute URI, the `aud` of its tokens.
        identifier: String,
        /// Space-separated scopes.
        #[arg(long, visible_alias = "scope", default_value = "")]
        scopes: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// jwt or opaque.
        #[arg(long, default_value = "jwt")]
        token_format: String,
        /// Access-token lifetime, at most 60m.
        #[arg(long, default_value = "15m")]
        token_lifetime: String,
        /// RS256, ES256, PS256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        signing_alg: String,
        /// Encryption of the API's access tokens.
        #[command(flatten)]
        encryption: ApiEncryptionArgs,
        /// Proof of possession its tokens need: none, certificate (mutual TLS), dpop or any.
        #[arg(long, default_value = "none", value_name = "KIND")]
        require_binding: String,
    },
    /// Change an API's settings; prints the API.
    Update {
        /// Identifier.
        identifier: String,
        /// Encryption of the API's access tokens (replaces the current key).
        #[command(flatten)]
        encryption: ApiEncryptionArgs,
        /// Stop encrypting the API's access tokens.
        #[arg(long, conflicts_with = "encryption_key_file")]
        no_encryption: bool,
        /// Proof of possession its tokens need: none, certificate (mutual TLS), dpop or any.
        #[arg(long, value_name = "KIND")]
        require_binding: Option<String>,
    },
    /// List APIs.
    List,
    /// Show one API.
    Show {
        /// Identifier.
        identifier: String,
    },
    /// Delete an API.
    Delete {
        /// Identifier.
        identifier: String,
    },
}

/// Encrypted access tokens (JWE) for an API: `api create` and `api update`.
#[derive(Debug, Args, Default)]
pub struct ApiEncryptionArgs {
    /// The API's public encryption key, a JWK or a JWK Set holding one encryption key (RSA of
    /// 2048 bits or more, or EC P-256/P-384). JWT access tokens for the API are then signed
    /// and encrypted to it; only the API, holding the private key, can read them.
    #[arg(long, value_name = "FILE")]
    pub encryption_key_file: Option<PathBuf>,
    /// Key management: RSA-OAEP-256 (default for RSA keys) or ECDH-ES (default for EC keys).
    #[arg(long, requires = "encryption_key_file")]
    pub encryption_alg: Option<String>,
    /// Content encryption: A256GCM (default) or A128GCM.
    #[arg(long, requires = "encryption_key_file")]
    pub encryption_enc: Option<String>,
}

/// `warden client ...`
// Parsed once per process: the size of the `create` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client; prints JSON with client_id and client_secret (shown once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt,
        /// tls_client_auth, self_signed_tls_client_auth or none.
        #[arg(long)]
        auth_method: String,
        /// Grant type (repeatable; default client_credentials).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// Space-separated scopes.
        #[arg(long, visible_alias = "scopes")]
        scope: Option<String>,
        /// API identifier the client may get tokens for (repeatable).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// Redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// File with the client's public JWK Set.
        #[arg(long, conflicts_with = "jwks_uri")]
        jwks_file: Option<PathBuf>,
        /// URL of the client's public JWK Set.
        #[arg(long)]
        jwks_uri: Option<String>,
        /// The only algorithm accepted for its assertions.
        #[arg(long)]
        signing_alg: Option<String>,
        /// Response type: code or "code id_token" (repeatable; default code with the
        /// authorization_code grant).
        #[arg(long = "response-type")]
        response_types: Vec<String>,
        /// A first-party client: users are not asked for consent.
        #[arg(long)]
        first_party: bool,
        /// Authorization requests must be pushed first (RFC 9126 PAR).
        #[arg(long)]
        require_par: bool,
        /// Let this public client (auth method none) receive refresh tokens.
        #[arg(long)]
        allow_public_refresh: bool,
        /// Where RP-initiated logout may return the browser (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// OpenID Connect back-channel logout endpoint.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// ID token signing algorithm: RS256 (default), PS256, ES256 or EdDSA.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// Sign userinfo responses (a JWT instead of JSON): RS256, PS256, ES256 or EdDSA.
        #[arg(long)]
        userinfo_alg: Option<String>,
        /// web (default) or native (RFC 8252: loopback and private-use redirect URIs).
        #[arg(long)]
        application_type: Option<String>,
        /// The API this client is the service behind: it may exchange tokens issued for that
        /// API (RFC 8693 token exchange).
        #[arg(long)]
        serves: Option<String>,
        /// An API this client may obtain tokens for by token exchange (repeatable).
        #[arg(long = "exchange-target")]
        exchange_targets: Vec<String>,
        /// Mutual TLS (RFC 8705): certificate identity, pinned certificate, bound tokens.
        #[command(flatten)]
        mtls: ClientMtlsArgs,
        /// Its access tokens must be DPoP-bound: token requests without a DPoP proof are
        /// refused (RFC 9449 dpop_bound_access_tokens).
        #[arg(long)]
        dpop_bound_tokens: bool,
    },
    /// Change a client's token exchange policy or mutual-TLS settings; prints the client.
    Update {
        /// Client id.
        client_id: String,
        /// The API this client is the service behind.
        #[arg(long, conflicts_with = "no_serves")]
        serves: Option<String>,
        /// The client serves no API (it may not exchange tokens).
        #[arg(long)]
        no_serves: bool,
        /// An API it may exchange tokens toward (repeatable; replaces the list).
        #[arg(long = "exchange-target", conflicts_with = "no_exchange_targets")]
        exchange_targets: Vec<String>,
        /// Remove every exchange target.
        #[arg(long)]
        no_exchange_targets: bool,
        /// Mutual TLS (RFC 8705): certificate identity and bound tokens.
        #[command(flatten)]
        mtls: ClientMtlsUpdateArgs,
        /// Require DPoP-bound access tokens from now on (RFC 9449 dpop_bound_access_tokens).
        #[arg(long, conflicts_with = "no_dpop_bound_tokens")]
        dpop_bound_tokens: bool,
        /// Stop requiring DPoP-bound access tokens.
        #[arg(long)]
        no_dpop_bound_tokens: bool,
    },
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// Client id.
        client_id: String,
    },
    /// Delete a client.
    Delete {
        /// Client id.
        client_id: String,
    },
    /// Replace a client's secret; prints the new one once.
    RotateSecret {
        /// Client id.
        client_id: String,
    },
}

/// The certificate identity of a `tls_client_auth` client (RFC 8705 §2.1.2): exactly one.
#[derive(Debug, Args, Default)]
#[group(multiple = false)]
pub struct ClientTlsIdentityArgs {
    /// Subject DN its certificate must have (RFC 4514, e.g. "CN=svc,O=Example").
    #[arg(long, value_name = "DN")]
    pub tls_subject_dn: Option<String>,
    /// A dNSName subject alternative name its certificate must carry.
    #[arg(long, value_name = "NAME")]
    pub tls_san_dns: Option<String>,
    /// A URI subject alternative name its certificate must carry (e.g. a SPIFFE ID).
    #[arg(long, value_name = "URI")]
    pub tls_san_uri: Option<String>,
    /// An iPAddress subject alternative name its certificate must carry.
    #[arg(long, value_name = "IP")]
    pub tls_san_ip: Option<String>,
    /// An rfc822Name (email) subject alternative name its certificate must carry.
    #[arg(long, value_name = "EMAIL")]
    pub tls_san_email: Option<String>,
}

/// Mutual-TLS options of `client create`.
#[derive(Debug, Args, Default)]
pub struct ClientMtlsArgs {
    /// Certificate identity (with --auth-method tls_client_auth).
    #[command(flatten)]
    pub identity: ClientTlsIdentityArgs,
    /// The client's self-signed certificate (PEM), for --auth-method
    /// self_signed_tls_client_auth: registered as a JWK with the certificate as its x5c.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["jwks_file", "jwks_uri"])]
    pub cert_file: Option<PathBuf>,
    /// Every token request must present the client certificate, and its access tokens are
    /// bound to it (RFC 8705 §3).
    #[arg(long)]
    pub certificate_bound_tokens: bool,
}

/// Mutual-TLS options of `client update`.
#[derive(Debug, Args, Default)]
pub struct ClientMtlsUpdateArgs {
    /// New certificate identity of a tls_client_auth client (replaces the current one).
    #[command(flatten)]
    pub identity: ClientTlsIdentityArgs,
    /// Make certificate-bound access tokens mandatory for this client.
    #[arg(long, conflicts_with = "no_certificate_bound_tokens")]
    pub certificate_bound_tokens: bool,
    /// Stop requiring certificate-bound access tokens.
    #[arg(long)]
    pub no_certificate_bound_tokens: bool,
}

/// `warden user ...`. ID is the user's sub, username or email.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read as one line from stdin.
    Create {
        /// Login name (stored lower-cased).
        username: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from stdin (one line; the newline is not part of it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Show one user.
    Show {
        /// Sub, username or email.
        id: String,
    },
    /// Disable a user: no login, sessions and refresh tokens end.
    Disable {
        /// Sub, username or email.
        id: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Sub, username or email.
        id: String,
    },
    /// Delete a user with its sessions, consents and tokens.
    Delete {
        /// Sub, username or email.
        id: String,
    },
    /// Set a new password, read as one line from stdin; sessions and refresh tokens end.
    SetPassword {
        /// Sub, username or email.
        id: String,
        /// Read the password from stdin (one line; the newline is not part of it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// `warden issuer ...`: identity platforms whose tokens authenticate workloads.
#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// Trust an issuer; prints it as JSON.
    Create {
        /// The exact `iss` value of its tokens.
        issuer: String,
        /// URL of its JWK Set.
        #[arg(
            long,
            conflicts_with = "jwks_file",
            required_unless_present = "jwks_file"
        )]
        jwks_uri: Option<String>,
        /// File with its JWK Set (read now and stored in the database).
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// The `aud` its tokens must carry (default: Warden's issuer URL or token endpoint).
        #[arg(long)]
        audience: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Longest accepted token lifetime (default 1h, at most 24h).
        #[arg(long)]
        max_lifetime: Option<String>,
        /// SUB=CLIENT_ID: tokens with this subject authenticate as this client (repeatable).
        #[arg(long = "subject")]
        subjects: Vec<String>,
    },
    /// Change an issuer's keys, audience, lifetime bound or name.
    Update {
        /// The issuer.
        issuer: String,
        /// URL of its JWK Set.
        #[arg(long, conflicts_with = "jwks_file")]
        jwks_uri: Option<String>,
        /// File with its JWK Set.
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// The `aud` its tokens must carry.
        #[arg(long, conflicts_with = "default_audience")]
        audience: Option<String>,
        /// Go back to the default audience (Warden's issuer URL or token endpoint).
        #[arg(long)]
        default_audience: bool,
        /// Longest accepted token lifetime.
        #[arg(long)]
        max_lifetime: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Map a subject of the issuer to a client.
    Map {
        /// The issuer.
        issuer: String,
        /// The `sub` of the workload's tokens, exactly.
        #[arg(long)]
        subject: String,
        /// The client it authenticates as.
        #[arg(long)]
        client: String,
    },
    /// Remove a subject mapping.
    Unmap {
        /// The issuer.
        issuer: String,
        /// The subject.
        #[arg(long)]
        subject: String,
    },
    /// List trusted issuers.
    List,
    /// Show one trusted issuer.
    Show {
        /// The issuer.
        issuer: String,
    },
    /// Stop trusting an issuer.
    Delete {
        /// The issuer.
        issuer: String,
    },
}

/// `warden registration-token ...`
#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Create an initial access token; prints the bare token.
    Create {
        /// Lifetime.
        #[arg(long, default_value = "1h")]
        expires_in: String,
        /// Single use.
        #[arg(long)]
        once: bool,
        /// Limit registered clients to these APIs (repeatable).
        #[arg(long = "audience")]
        audiences: Vec<String>,
    },
}

/// `warden keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys.
    List,
    /// Rotate now: the published next key starts signing, the active one retires.
    Rotate {
        /// Only this algorithm (default: all).
        #[arg(long)]
        alg: Option<String>,
    },
}

/// `warden audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Most recent events, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}
