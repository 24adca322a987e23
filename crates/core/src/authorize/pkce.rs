//! PKCE (RFC 7636) with the S256 method only.

use warden_jose::{base64url_encode, sha256};
use warden_types::secret::constant_time_eq;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `challenge` can be an S256 challenge: base64url without padding of a SHA-256
/// digest, which is exactly 43 characters.
pub fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved)
}

/// RFC 7636 §4.6: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge`,
/// compared in constant time.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    let computed = base64url_encode(&sha256(verifier.as_bytes()));
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b() {
        assert!(is_valid_verifier(RFC_VERIFIER));
        assert!(is_valid_challenge(RFC_CHALLENGE));
        assert!(verify_s256(RFC_VERIFIER, RFC_CHALLENGE));
        assert!(!verify_s256(RFC_CHALLENGE, RFC_CHALLENGE));
    }

    #[test]
    fn verifier_shape() {
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(is_valid_verifier(&"a~._-".repeat(10)));
        assert!(!is_valid_challenge(&"a".repeat(44)));
        assert!(!is_valid_challenge(&"=".repeat(43)));
    }
}
