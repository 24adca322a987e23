//! The error type of this crate's JWS, JWK and sealing operations ([`JweError`](crate::JweError)
//! is JWE's own).
//!
//! Every variant is a fixed string: no key material, token content, claim or header value ever
//! reaches `Display`, so callers may log a `JoseError` as it is. The `&'static str` details are
//! written by this crate and name the rule that failed, never the input that failed it.

/// Why a JOSE operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// The input is not a well-formed compact JWS, JSON document, base64url string or sealed
    /// blob. The detail names the rule that failed (e.g. "expected three parts").
    #[error("malformed input: {0}")]
    Malformed(&'static str),
    /// The JWS `alg` header is not one Warden knows; this includes `none` (RFC 7518 §3.6).
    #[error("unsupported JWS algorithm")]
    UnsupportedAlgorithm,
    /// The JWS `alg` is known but not in the caller's allow-list (RFC 8725 §3.1).
    #[error("JWS algorithm not allowed here")]
    AlgorithmNotAllowed,
    /// The key cannot be used with the token's `alg` (wrong key type, curve, or the JWK's own
    /// `alg` member says otherwise). This is what an algorithm-confusion attempt produces.
    #[error("key cannot be used with this JWS algorithm")]
    KeyMismatch,
    /// No key of the set matches the token's `kid` and `alg`.
    #[error("no matching verification key")]
    NoMatchingKey,
    /// The signature or MAC does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// A key was refused; the detail names the rule (e.g. "RSA modulus shorter than 2048 bits").
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// Sealed data could not be opened: wrong master key, wrong context (AAD), or corruption.
    #[error("sealed data could not be opened")]
    Unseal,
    /// The cryptographic library reported an internal failure (key generation, signing).
    #[error("cryptographic operation failed")]
    Crypto,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_fixed_text() {
        assert_eq!(
            JoseError::Malformed("expected three parts").to_string(),
            "malformed input: expected three parts"
        );
        assert_eq!(JoseError::InvalidSignature.to_string(), "invalid signature");
        assert_eq!(
            JoseError::InvalidKey("symmetric keys are not accepted").to_string(),
            "invalid key: symmetric keys are not accepted"
        );
    }
}
