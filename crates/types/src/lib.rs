//! Wire types shared by every Warden crate. No I/O lives here.
//!
//! - [`ids`]: newtypes for protocol identifiers (`ClientId`, `ApiIdentifier`, `Kid`).
//! - [`scope`]: the space-delimited scope set of RFC 6749 §3.3.
//! - [`secret`]: secret-bearing strings with redacted `Debug` and zeroize-on-drop.
//! - [`error`]: RFC 6749 §5.2 / RFC 7591 §3.2.2 / RFC 8707 error codes and the JSON body.
//! - [`alg`]: JOSE algorithm names and the signing algorithms Warden issues with.
//! - [`client`]: client authentication methods and grant types.
//! - [`jwk`]: RFC 7517 JSON Web Key (set) serde types.
//! - [`metadata`]: RFC 8414 server metadata, RFC 7591 client metadata, token, introspection responses.
//!
//! A token request travels as: form → `warden-server` parses it into these types →
//! `warden-core` decides → the response types here are serialized back.

pub mod alg;
pub mod client;
pub mod error;
pub mod ids;
pub mod jwk;
pub mod metadata;
pub mod scope;
pub mod secret;

pub use alg::{JwsAlgorithm, SigningAlg};
pub use client::{GrantType, TokenEndpointAuthMethod, TokenFormat};
pub use error::{ErrorCode, ErrorResponse};
pub use ids::{ApiIdentifier, ClientId, Kid};
pub use scope::Scope;
pub use secret::SecretString;

/// Seconds since the Unix epoch. Every protocol decision takes one as `now`.
pub type UnixTime = i64;
