//! Token validation for resource servers of a Warden (or any RFC 8414) authorization server.
//!
//! A resource server builds one [`Validator`] from the issuer URL and its own API identifier
//! (the expected audience), both required, and hands it every bearer token:
//!
//! - [`validator`]: [`Validator`] and [`ValidatorBuilder`]; the [RFC 9068 §4] validation steps
//!   (`typ`, `alg` allow-list, signature, `iss`, `aud`, `exp`/`nbf`/`iat` with bounded leeway).
//! - `discovery` (run by [`ValidatorBuilder::build`]): OpenID Connect Discovery, then
//!   [RFC 8414] metadata; its `issuer` must equal the configured issuer exactly.
//! - `jwks`: the cached JWK Set, refreshed in the background and, rate-limited and
//!   single-flight, when a token names an unknown `kid`.
//! - `introspection`: opaque tokens through [RFC 7662], cached by SHA-256 of the token, never
//!   beyond the token's `exp`.
//! - [`request`]: [`RequestInfo`] (the headers, method, URL and client certificate of a
//!   request) for [`Validator::validate_request`], and [`PeerCertificate`].
//! - `dpop`: DPoP proofs ([RFC 9449 §4.3]): `htm`, `htu`, `iat`, `ath`, nonces and the
//!   per-process replay cache of `jti`s.
//! - [`token`]: [`AccessToken`], the validated claims, with `cnf` for sender-constrained
//!   tokens.
//! - [`error`]: [`ValidationError`], [`AuthError`], [`BuildError`] and the [RFC 6750 §3]
//!   challenges.
//! - [`clock`]: [`Clock`], the one place the crate reads the time (injectable for tests).
//! - `axum` (feature `axum`, default): the [`Authenticated`] extractor and the
//!   [`RequireScopeLayer`].
//!
//! # One request's journey
//!
//! `Authorization: Bearer eyJ…` reaches a route behind [`RequireScopeLayer`]. The layer takes
//! the token from the header and calls [`Validator::validate`]: the token has three parts, so
//! it is a JWS; `typ` must be `at+jwt`; the `alg` must be on the allow-list; the key is picked
//! by `kid` from the cached JWK Set (if the `kid` is unknown, the set is refetched once, at most
//! every 30 s); the signature is checked with [`warden_jose`]; then `iss`, `aud`, `exp`, `nbf`
//! and `iat`. The layer checks the scopes, puts the [`AccessToken`] into the request's
//! extensions, and the handler's [`Authenticated`] extractor takes it from there. Any failure
//! becomes a `401` with `error="invalid_token"`, or a `403` with `error="insufficient_scope"`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use warden_resource::Validator;
//! use warden_types::JwsAlgorithm;
//!
//! let validator = Validator::builder("https://auth.example.com", "https://api.example.com/payments")
//!     .algorithms([JwsAlgorithm::ES256])
//!     .leeway(Duration::from_secs(30))
//!     .build()
//!     .await?;
//! # let bearer = "";
//! let token = validator.validate(bearer).await?;
//! if token.has_scopes(["payments:charge"]) { /* … */ }
//! # Ok(()) }
//! ```
//!
//! # Sender-constrained and encrypted tokens
//!
//! [`Validator::validate_request`] (used by the layer and the extractor) accepts, besides
//! plain bearer tokens:
//!
//! - **DPoP-bound tokens** ([RFC 9449]): `Authorization: DPoP <token>` with one `DPoP` proof
//!   header. The proof's signature (asymmetric `alg` only, public `jwk` only), `htm`, `htu`
//!   (see [`ValidatorBuilder::public_url`]), `iat`, `ath` and `jti` (single use, remembered
//!   per process) are checked, and the token's `cnf.jkt` must be the proof key's thumbprint.
//!   Optional nonces: [`ValidatorBuilder::dpop_nonce_secret`]. A DPoP-bound token sent as
//!   `Bearer` is refused. Failures answer `401` with `WWW-Authenticate: DPoP error="…",
//!   algs="…"`.
//! - **Certificate-bound tokens** ([RFC 8705 §3]): `cnf["x5t#S256"]` must be the SHA-256 of
//!   the client certificate of the connection: a [`PeerCertificate`] request extension put
//!   there by the application's TLS acceptor, or a trusted proxy's header
//!   ([`ValidatorBuilder::client_certificate_header`]).
//! - **Encrypted JWTs** (compact JWE, `RSA-OAEP-256` or `ECDH-ES` with `A256GCM`/`A128GCM`,
//!   `cty` `JWT`): decrypted with [`ValidatorBuilder::decryption_key_pem`], then validated
//!   like any JWT.
//!
//! Opaque tokens are bound the same way through the `cnf` (and `token_type` `DPoP`) of the
//! introspection answer. [`Validator::validate`] knows nothing about the request, so it
//! refuses every sender-constrained token.
//!
//! # Performance
//!
//! `cargo bench -p warden-resource` validates tokens against a cached key on one thread and
//! prints mean and p99 per validation; the crate README has the measured numbers. Almost all of
//! the cost is the signature check in `warden-jose` (RS256 ≈ 30–40 µs, ES256 ≈ 80–95 µs mean on a
//! busy 2-core VM); the claim checks add a few microseconds.
//!
//! [RFC 9068 §4]: https://www.rfc-editor.org/rfc/rfc9068#section-4
//! [RFC 8414]: https://www.rfc-editor.org/rfc/rfc8414
//! [RFC 7662]: https://www.rfc-editor.org/rfc/rfc7662
//! [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
//! [RFC 9449]: https://www.rfc-editor.org/rfc/rfc9449
//! [RFC 9449 §4.3]: https://www.rfc-editor.org/rfc/rfc9449#section-4.3
//! [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3

#![deny(missing_docs)]

#[cfg(feature = "axum")]
mod axum;
pub mod clock;
mod discovery;
mod dpop;
pub mod error;
mod http;
mod introspection;
mod jwks;
pub mod request;
pub mod token;
pub mod validator;

#[cfg(feature = "axum")]
pub use crate::axum::{Authenticated, BearerToken, Rejection, RequireScope, RequireScopeLayer};
pub use clock::{Clock, UnixTime};
pub use error::{AuthError, BuildError, ValidationError};
pub use request::{PeerCertificate, RequestInfo};
pub use token::{AccessToken, TokenSource};
pub(crate) use validator::Expectations;
pub use validator::{Validator, ValidatorBuilder};
pub use warden_types::JwsAlgorithm;
