//! `warden-client`: the client side of Warden (or any OAuth 2.0 authorization server) for
//! services that call APIs.
//!
//! - [`client`]: [`Client`], built by [`Client::builder`] (discovery from the issuer) or
//!   [`Client::builder_for_token_endpoint`]. [`Client::token`] runs the client credentials
//!   grant ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)) for one API
//!   ([RFC 8707](https://www.rfc-editor.org/rfc/rfc8707) `resource`) and caches the result;
//!   [`Client::exchange`] runs token exchange
//!   ([RFC 8693](https://www.rfc-editor.org/rfc/rfc8693)); [`Client::authorize`] and
//!   [`Client::send`] attach tokens to `reqwest` requests.
//! - [`credentials`]: [`Credentials`], one variant per client authentication method:
//!   `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//!   ([RFC 7523](https://www.rfc-editor.org/rfc/rfc7523)), and `tls_client_auth` /
//!   `self_signed_tls_client_auth` ([RFC 8705](https://www.rfc-editor.org/rfc/rfc8705)) with
//!   the certificate on the HTTP client ([`ClientBuilder::identity`]).
//! - [`dpop`]: [`DpopKey`] and DPoP proofs
//!   ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)); with [`ClientBuilder::dpop`] tokens
//!   are bound to the key and sent as `Authorization: DPoP` with a proof per request.
//! - [`key`]: loading the `private_key_jwt` key from PKCS#8 (PEM, DER) or a private JWK.
//! - [`token`]: [`AccessToken`] and the parsing of token responses and RFC 6749 §5.2 errors.
//! - [`discovery`](crate::Client::builder): the token endpoint from OpenID Connect Discovery
//!   or RFC 8414 metadata.
//! - [`error`]: [`Error`], whose `Display` and `Debug` never carry a secret or a token.
//!
//! # One request's journey
//!
//! `client.send(http.get(url), "https://api.example.com/payments", &["payments:charge"])`
//! asks [`Client::token`] for a token. The cache key is the audience and the sorted scopes;
//! its slot's lock is taken, so fifty tasks asking at once wait for one request. On a miss (or
//! when the cached token is within its refresh margin of expiry) the token request is built:
//! `grant_type=client_credentials&resource=…&scope=…`, plus the credentials (a Basic header,
//! body parameters, or a freshly signed client assertion with a random `jti`). The response is
//! parsed into an [`AccessToken`] or an [`Error::OAuth`] with the server's `error` code. The
//! token goes into `Authorization: Bearer`; if the API answers `401` with
//! `error="invalid_token"`, the cached token is dropped and the request sent once more.
//!
//! # Example
//!
//! ```no_run
//! use warden_client::{Client, Credentials};
//!
//! # async fn run() -> Result<(), warden_client::Error> {
//! let secret = std::env::var("CLIENT_SECRET").unwrap_or_default();
//! let client = Client::builder(
//!     "https://auth.example.com",
//!     Credentials::client_secret_basic("orders-service", secret),
//! )
//! .build() // fetches https://auth.example.com/.well-known/openid-configuration
//! .await?;
//!
//! // A cached token for one API; refreshed shortly before it expires.
//! let token = client
//!     .token("https://api.example.com/payments", &["payments:charge"])
//!     .await?;
//! println!("scope {:?}, expires at {:?}", token.scope(), token.expires_at());
//!
//! // Or let the client attach it (and retry once on a 401 invalid_token).
//! let http = reqwest::Client::new();
//! let response = client
//!     .send(
//!         http.post("https://api.example.com/payments/charges").body("{}"),
//!         "https://api.example.com/payments",
//!         &["payments:charge"],
//!     )
//!     .await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! With `private_key_jwt`, load the key with [`key::from_pkcs8_pem`] or [`key::from_jwk`]
//! and pass [`Credentials::private_key_jwt`].
//!
//! # Sender-constrained tokens
//!
//! ```no_run
//! use warden_client::{Client, Credentials, DpopKey};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // DPoP: tokens bound to a key only this process holds.
//! let client = Client::builder("https://auth.example.com", Credentials::client_secret_basic("orders", "…"))
//!     .dpop(DpopKey::generate_es256()?)
//!     .build()
//!     .await?;
//!
//! // Mutual TLS: client authentication and certificate-bound tokens.
//! let pem = std::fs::read("orders-client.pem")?; // certificate and PKCS#8 key
//! let mtls = Client::builder("https://auth.example.com", Credentials::tls_client_auth("orders"))
//!     .identity(reqwest::Identity::from_pem(&pem)?)
//!     .build()
//!     .await?;
//! # let _ = (client, mtls); Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod client;
mod clock;
pub mod credentials;
mod discovery;
pub mod dpop;
pub mod error;
pub mod key;
pub mod token;

pub use client::{ACCESS_TOKEN_TYPE, Client, ClientBuilder, TOKEN_EXCHANGE_GRANT_TYPE};
pub use credentials::{Credentials, JWT_BEARER_ASSERTION_TYPE};
pub use dpop::DpopKey;
pub use error::{Error, OAuthErrorCode};
pub use token::AccessToken;
pub use warden_jose::SigningKey;
pub use warden_types::{SecretString, SigningAlg};
