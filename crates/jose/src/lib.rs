//! Warden's JOSE layer: signing keys, JWKs, compact JWS signing and verification with a strict
//! algorithm allow-list, and the master key that protects keys at rest. All cryptography goes
//! through aws-lc-rs.
//!
//! - [`signing`]: [`SigningKey`], Warden's own keys (RS256, PS256, ES256, EdDSA), parsed once
//!   from PKCS#8 and used for every token; compact JWS creation (RFC 7515 §7.1).
//! - [`verify`]: [`parse_compact`] → [`Unverified`] → [`Verified`], the RFC 7515 §5.2
//!   validation steps with the RFC 8725 rules (allow-list, no `none`, no header-chosen keys).
//! - [`jwk`]: [`VerifyingKey`] and [`VerifyingKeySet`] from RFC 7517 JWKs, and the RFC 7638
//!   [`jwk_thumbprint`].
//! - [`jwe`]: compact JWE (RFC 7516): [`JweEncrypter`] to a recipient's public JWK
//!   (`RSA-OAEP-256` or `ECDH-ES`, with `A256GCM` or `A128GCM`) and [`JweDecrypter`] with an
//!   explicit allow-list, e.g. for encrypted ID tokens (OpenID Connect Core §10.2).
//! - [`master`]: [`MasterKey`], AES-256-GCM sealing of private keys and secrets, and derived
//!   sub-keys such as the client-secret pepper.
//! - [`primitives`]: base64url, SHA-256, HMAC-SHA256, random bytes and the OpenID Connect
//!   [`left_half_hash`] (`at_hash`, `c_hash`) for the other crates.
//! - [`error`]: [`JoseError`], whose messages never carry key material or token contents.
//!
//! # One token's journey
//!
//! At startup the server opens each stored key with [`MasterKey::open`] (the `kid` is the AAD)
//! and loads it with [`SigningKey::from_pkcs8`]; the JWKS endpoint serves
//! [`SigningKey::public_jwk`]. When a client is granted an access token,
//! [`SigningKey::sign_jwt`] writes the header `{"alg":"ES256","typ":"at+jwt","kid":..}`,
//! base64url-encodes header and claims and signs them with the already parsed key pair.
//!
//! When that token comes back (say, to introspection), [`parse_compact`] checks its shape and
//! header and returns an [`Unverified`] token; [`Unverified::verify_with_set`] picks the key by
//! `kid` from a [`VerifyingKeySet`] built from [`SigningKey::verifying_key`], refuses any `alg`
//! that is not both on the caller's allow-list and supported by that key, checks the signature
//! and hands back a [`Verified`] whose claims the caller then checks (`exp`, `aud`, `iss`).
//! A `private_key_jwt` client assertion takes the same path with a [`VerifyingKeySet`] built
//! from the client's registered JWK Set; a `client_secret_jwt` assertion uses
//! [`Unverified::verify_with_secret`].

#![warn(missing_docs)]

pub mod dpop;
pub mod error;
pub mod jwe;
pub mod jwk;
pub mod master;
pub mod primitives;
pub mod signing;
pub mod verify;

pub use error::JoseError;
pub use jwe::{
    JweAlgorithm, JweDecrypter, JweEncrypter, JweEncryption, JweError, JweHeader,
    MAX_COMPACT_JWE_LEN,
};
pub use jwk::{KeyType, VerifyingKey, VerifyingKeySet, jwk_thumbprint};
pub use master::MasterKey;
pub use primitives::{
    base64url_decode, base64url_encode, hmac_sha256, hmac_sha256_verify, left_half_hash,
    random_bytes, sha256,
};
pub use signing::{SigningKey, sign_jwt_with_secret};
pub use verify::{MAX_COMPACT_JWS_LEN, Unverified, Verified, parse_compact};
