//! Small building blocks used across Warden: base64url, SHA-256, HMAC-SHA256, the CSPRNG, and
//! the OpenID Connect left-half hash (`at_hash`, `c_hash`).
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

/// The OpenID Connect left-half hash of `value`, for the `at_hash`, `c_hash` (and `s_hash`)
/// ID token claims (OpenID Connect Core §3.1.3.6, §3.3.2.11): hash the ASCII octets of `value`
/// with the hash of the ID token's JWS `alg`, keep the left-most half of the digest, and
/// base64url-encode it without padding.
///
/// SHA-256 for `*256`, SHA-384 for `*384`, SHA-512 for `*512`; for `EdDSA` (Ed25519) SHA-512,
/// the hash Ed25519 itself uses, as the OpenID Foundation specifies for that algorithm.
pub fn left_half_hash(alg: JwsAlgorithm, value: &str) -> String {
    let hash = match alg {
        JwsAlgorithm::HS256 | JwsAlgorithm::RS256 | JwsAlgorithm::PS256 | JwsAlgorithm::ES256 => {
            &digest::SHA256
        }
        JwsAlgorithm::HS384 | JwsAlgorithm::RS384 | JwsAlgorithm::PS384 | JwsAlgorithm::ES384 => {
            &digest::SHA384
        }
        JwsAlgorithm::HS512 | JwsAlgorithm::RS512 | JwsAlgorithm::PS512 | JwsAlgorithm::EdDSA => {
            &digest::SHA512
        }
    };
    let digest = digest::digest(hash, value.as_bytes());
    let digest = digest.as_ref();
    base64url_encode(digest.get(..digest.len() / 2).unwrap_or_default())
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
    fn left_half_hash_openid_examples() {
        // OpenID Connect Core Appendix A.3 (at_hash) and A.4 (c_hash), both RS256.
        assert_eq!(
            left_half_hash(
                JwsAlgorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(
            left_half_hash(
                JwsAlgorithm::RS256,
                "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
            ),
            "LDktKdoQak3Pk0cnXxCltA"
        );
        // Same hash for every *256 algorithm.
        for alg in [
            JwsAlgorithm::ES256,
            JwsAlgorithm::PS256,
            JwsAlgorithm::HS256,
        ] {
            assert_eq!(
                left_half_hash(alg, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
                "77QmUPtjPfzWtF2AnpK9RQ"
            );
        }
    }

    #[test]
    fn left_half_hash_lengths_follow_the_hash() {
        // Half of 32, 48 and 64 bytes: 16, 24 and 32 bytes, i.e. 22, 32 and 43 characters.
        let len = |alg| left_half_hash(alg, "token").len();
        assert_eq!(len(JwsAlgorithm::RS256), 22);
        assert_eq!(len(JwsAlgorithm::ES384), 32);
        assert_eq!(len(JwsAlgorithm::PS512), 43);
        assert_eq!(len(JwsAlgorithm::EdDSA), 43);
        // EdDSA uses SHA-512: the left half of SHA-512("abc") (FIPS 180-2 Appendix C.1).
        let sha512_abc_left = [
            0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba, 0xcc, 0x41, 0x73, 0x49, 0xae, 0x20,
            0x41, 0x31, 0x12, 0xe6, 0xfa, 0x4e, 0x89, 0xa9, 0x7e, 0xa2, 0x0a, 0x9e, 0xee, 0xe6,
            0x4b, 0x55, 0xd3, 0x9a,
        ];
        assert_eq!(
            left_half_hash(JwsAlgorithm::EdDSA, "abc"),
            base64url_encode(&sha512_abc_left)
        );
        assert_eq!(
            left_half_hash(JwsAlgorithm::RS512, "abc"),
            left_half_hash(JwsAlgorithm::EdDSA, "abc")
        );
    }

    #[test]
    fn random_bytes_differ() {
        let a: [u8; 32] = random_bytes();
        let b: [u8; 32] = random_bytes();
        assert_ne!(a, b);
    }
}
