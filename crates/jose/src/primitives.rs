//! Small building blocks used across Warden: base64url, SHA-256, HMAC-SHA256 and the CSPRNG.
//!
//! All of them go through aws-lc-rs (or the `base64` crate for encoding), so the rest of the
//! workspace never picks its own crypto crate.

use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warden_types::JwsAlgorithm;

use crate::JoseError;

/// Encodes bytes as base64url without padding (RFC 7515 §2, "Base64url Encoding").
pub fn base64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding (RFC 7515 §2).
///
/// Strict: padding characters, characters outside the URL-safe alphabet, and non-canonical
/// trailing bits are refused, so one value has exactly one encoding.
pub fn base64url_decode(s: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JoseError::Malformed("invalid base64url"))
}

/// `N` bytes from the operating system's CSPRNG (via aws-lc).
///
/// AWS-LC's `RAND_bytes` never reports failure (it aborts the process itself if its entropy
/// source breaks); the error branch below exists only because the Rust binding returns a
/// `Result`. Aborting there too is deliberate: returning predictable bytes to a caller that
/// builds keys, nonces or tokens from them would be far worse than stopping.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if rand::fill(&mut out).is_err() {
        std::process::abort();
    }
    out
}

/// SHA-256 of `data` (FIPS 180-4).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// HMAC-SHA256 of `data` under `key` (RFC 2104).
///
/// To compare a MAC received from outside, use [`hmac_sha256_verify`], which is constant time.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Checks an HMAC-SHA256 `tag` over `data` in constant time.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), data, tag).is_ok()
}

/// The HMAC behind a JWS `HS*` algorithm (RFC 7518 §3.2); `None` for every other algorithm.
pub(crate) fn hmac_algorithm(alg: JwsAlgorithm) -> Option<hmac::Algorithm> {
    match alg {
        JwsAlgorithm::HS256 => Some(hmac::HMAC_SHA256),
        JwsAlgorithm::HS384 => Some(hmac::HMAC_SHA384),
        JwsAlgorithm::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trip_and_strictness() {
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        // Padding, the standard alphabet and non-canonical trailing bits are all refused.
        assert!(base64url_decode("-_8=").is_err());
        assert!(base64url_decode("+/8").is_err());
        assert!(base64url_decode("-_9").is_err());
        assert_eq!(base64url_decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2 Appendix B.1: SHA-256("abc").
        assert_eq!(
            base64url_encode(&sha256(b"abc")),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn hmac_sha256_known_answer() {
        // RFC 4231 test case 2.
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hmac_sha256_verify(
            b"Jefe",
            b"what do ya want for nothing?",
            &tag
        ));
        assert!(!hmac_sha256_verify(
            b"Jefe",
            b"what do ya want for nothing!",
            &tag
        ));
    }

    #[test]
    fn random_bytes_differ() {
        let a: [u8; 32] = random_bytes();
        let b: [u8; 32] = random_bytes();
        assert_ne!(a, b);
    }
}
