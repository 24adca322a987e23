//! Warden's protocol engine: every OAuth decision, with no HTTP and no SQL in it.
//!
//! Modules, in the order a token request meets them:
//! - [`request`]: the form body parsed into parameters (repeats refused) and the presented
//!   client credentials;
//! - [`client_auth`]: one module per authentication method — [`client_auth::secret`]
//!   (`client_secret_basic`/`_post`) and [`client_auth::assertion`] (`client_secret_jwt`,
//!   `private_key_jwt`, with [`client_auth::jwks`] for client keys);
//! - [`grants`]: the token endpoint's dispatch, one module per grant
//!   ([`grants::client_credentials`]);
//! - [`target`]: which API (`resource`/`audience`) and which scopes;
//! - [`mint`]: RFC 9068 JWTs signed from the [`keys`] ring (encrypted to the API's key by
//!   [`access_encryption`] when it asks), or opaque tokens;
//! - [`introspection`] and [`revocation`] for RFC 7662 and RFC 7009;
//! - [`registration`] for RFC 7591/7592 and the shared metadata rules; [`admin`] for the CLI;
//! - [`discovery`] for RFC 8414 metadata.
//!
//! A client-credentials request walks: `Engine::token` → `FormParams::parse` →
//! `Engine::authenticate_client` → `Engine::client_credentials` → `target::resolve_api` /
//! `resolve_scope` → `Engine::mint_access_token` → `TokenResponse`.
//!
//! State lives behind [`store::Store`]; the [`engine::Engine`] keeps an in-memory
//! [`registry::Registry`] and [`keys::KeyRing`] that the hot path reads, refreshed when the
//! store's registry version moves. Time always arrives as a `now` parameter ([`clock`]).

pub mod access_encryption;
pub mod admin;
pub mod audit;
pub mod authorize;
pub mod binding;
pub mod client_auth;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod dpop;
pub mod encryption;
pub mod engine;
pub mod error;
pub mod grants;
pub mod id_token;
pub mod introspection;
pub mod issuers;
pub mod keys;
pub mod logout;
pub mod mint;
pub mod model;
pub mod password;
pub mod registration;
pub mod registry;
pub mod request;
pub mod revocation;
pub mod secrets;
pub mod session;
pub mod store;
pub mod target;
pub mod userinfo;
pub mod users;

pub use binding::{Confirmation, PresentedCertificate};
pub use client_auth::{AuthenticatedClient, CallContext};
pub use engine::{Engine, EngineError};
pub use error::{Challenge, OAuthError};
