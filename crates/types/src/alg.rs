//! JOSE algorithm names (RFC 7518 §3.1, RFC 8037 §3.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A JWS `alg` value Warden knows. `none` is deliberately absent: it can never be parsed
/// into this type, so no code path can accept an unsigned token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwsAlgorithm {
    /// HMAC SHA-256 (client_secret_jwt only).
    HS256,
    /// HMAC SHA-384 (client_secret_jwt only).
    HS384,
    /// HMAC SHA-512 (client_secret_jwt only).
    HS512,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl JwsAlgorithm {
    /// Every algorithm Warden verifies, in the order it advertises them.
    pub const ALL: [JwsAlgorithm; 12] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
        Self::HS256,
        Self::HS384,
        Self::HS512,
    ];

    /// Asymmetric algorithms accepted for `private_key_jwt` (RFC 7523 with public keys).
    pub const ASYMMETRIC: [JwsAlgorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// Symmetric algorithms accepted for `client_secret_jwt`.
    pub const SYMMETRIC: [JwsAlgorithm; 3] = [Self::HS256, Self::HS384, Self::HS512];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Whether this is an HMAC algorithm.
    pub fn is_symmetric(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `alg` string Warden does not accept (this includes `none`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWS algorithm")]
pub struct UnsupportedAlgorithm;

impl FromStr for JwsAlgorithm {
    type Err = UnsupportedAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or(UnsupportedAlgorithm)
    }
}

/// An algorithm Warden signs its own tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 SHA-256 with a 2048-bit key; the default, understood by every library.
    RS256,
    /// RSASSA-PSS SHA-256 with a 2048-bit key.
    PS256,
    /// ECDSA P-256; the fastest to sign and the smallest tokens.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlg {
    /// All signing algorithms.
    pub const ALL: [SigningAlg; 4] = [Self::RS256, Self::PS256, Self::ES256, Self::EdDSA];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.jws().as_str()
    }

    /// The matching JWS algorithm.
    pub fn jws(self) -> JwsAlgorithm {
        match self {
            Self::RS256 => JwsAlgorithm::RS256,
            Self::PS256 => JwsAlgorithm::PS256,
            Self::ES256 => JwsAlgorithm::ES256,
            Self::EdDSA => JwsAlgorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = UnsupportedAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or(UnsupportedAlgorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_never_parses() {
        assert!("none".parse::<JwsAlgorithm>().is_err());
        assert!("NONE".parse::<JwsAlgorithm>().is_err());
        assert_eq!("ES256".parse::<JwsAlgorithm>(), Ok(JwsAlgorithm::ES256));
        assert_eq!("EdDSA".parse::<SigningAlg>(), Ok(SigningAlg::EdDSA));
        assert!("HS256".parse::<SigningAlg>().is_err());
    }
}
