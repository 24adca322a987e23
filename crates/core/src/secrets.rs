//! Generation and hashing of the secrets Warden hands out: client secrets, opaque access
//! tokens, registration and initial access tokens.
//!
//! Every one is 256 bits from the system CSPRNG, so a fast keyed hash is enough to store it
//! (DESIGN.md: no slow password hash on the hot path). Client secrets are hashed with
//! HMAC-SHA256 under a pepper derived from the master key, so a stolen database alone does not
//! allow offline checking of guesses; tokens are looked up by plain SHA-256.

use warden_jose::{base64url_encode, hmac_sha256, random_bytes, sha256};
use warden_types::SecretString;
use warden_types::secret::constant_time_eq;

/// Prefix of opaque access tokens (greppable by secret scanners).
pub const ACCESS_TOKEN_PREFIX: &str = "wdn_at_";
/// Prefix of RFC 7592 registration access tokens.
pub const REGISTRATION_TOKEN_PREFIX: &str = "wdn_rat_";
/// Prefix of RFC 7591 initial access tokens.
pub const INITIAL_ACCESS_TOKEN_PREFIX: &str = "wdn_iat_";
/// Prefix of client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "wdn_cs_";
/// Prefix of authorization codes.
pub const AUTHORIZATION_CODE_PREFIX: &str = "wdn_ac_";
/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "wdn_rt_";
/// Prefix of browser session cookies.
pub const SESSION_PREFIX: &str = "wdn_ss_";
/// Prefix of login/consent interaction references.
pub const INTERACTION_PREFIX: &str = "wdn_ix_";
/// Prefix of pushed authorization request references.
pub const PAR_PREFIX: &str = "wdn_par_";

const CHECKSUM_LEN: usize = 6;

/// A fresh random identifier (128 bits, base64url) for `jti`s, client ids, user subjects and
/// key ids. It never starts with `-` or `_`, so it can be passed to a command line as a
/// positional argument (`warden client show ID`) without being taken for an option.
pub fn random_id() -> String {
    loop {
        let id = base64url_encode(&random_bytes::<16>());
        if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return id;
        }
    }
}

/// A fresh secret: prefix + 256 random bits (base64url) + a 6-character checksum, so a
/// mistyped or truncated token is refused without touching the database.
pub fn generate_token(prefix: &str) -> SecretString {
    let body = base64url_encode(&random_bytes::<32>());
    let mut token = String::with_capacity(prefix.len() + body.len() + CHECKSUM_LEN);
    token.push_str(prefix);
    token.push_str(&body);
    let checksum = checksum(&token);
    token.push_str(&checksum);
    SecretString::new(token)
}

fn checksum(prefix_and_body: &str) -> String {
    let digest = sha256(prefix_and_body.as_bytes());
    let mut encoded = base64url_encode(&digest[..6]);
    encoded.truncate(CHECKSUM_LEN);
    encoded
}

/// Whether `token` has the given prefix and a valid checksum.
pub fn well_formed(token: &str, prefix: &str) -> bool {
    let Some(rest) = token.strip_prefix(prefix) else {
        return false;
    };
    if rest.len() != 43 + CHECKSUM_LEN || !rest.is_ascii() {
        return false;
    }
    let (head, sum) = token.split_at(token.len() - CHECKSUM_LEN);
    constant_time_eq(checksum(head).as_bytes(), sum.as_bytes())
}

/// A fresh client secret: prefix + 384 random bits (64 base64url characters). At 71 bytes it
/// is long enough to be an HMAC key for every `client_secret_jwt` algorithm (RFC 7518 §3.2:
/// a key at least as long as the hash output, 64 bytes for HS512).
pub fn generate_client_secret() -> SecretString {
    let body = base64url_encode(&random_bytes::<48>());
    SecretString::new(format!("{CLIENT_SECRET_PREFIX}{body}"))
}

/// SHA-256 of a token, base64url: the database key of tokens Warden stores.
pub fn token_hash(token: &str) -> String {
    base64url_encode(&sha256(token.as_bytes()))
}

/// Keyed hashing of client secrets.
#[derive(Clone)]
pub struct SecretHasher {
    pepper: [u8; 32],
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher(<redacted>)")
    }
}

impl SecretHasher {
    /// A hasher with the given pepper (derived from the master key).
    pub fn new(pepper: [u8; 32]) -> Self {
        Self { pepper }
    }

    /// The stored form of a client secret.
    pub fn hash(&self, secret: &str) -> String {
        base64url_encode(&hmac_sha256(&self.pepper, secret.as_bytes()))
    }

    /// Constant-time check of a presented secret against its stored hash.
    pub fn verify(&self, presented: &str, stored_hash: &str) -> bool {
        constant_time_eq(self.hash(presented).as_bytes(), stored_hash.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_never_look_like_command_line_options() {
        // 1 in 32 base64url strings starts with `-` or `_`; 2,000 draws miss that with
        // probability (31/32)^2000, about 1e-28, if the guard were gone.
        for _ in 0..2000 {
            let id = random_id();
            assert_eq!(id.len(), 22);
            assert!(id.starts_with(|c: char| c.is_ascii_alphanumeric()), "{id}");
        }
    }

    #[test]
    fn tokens_carry_a_checksum() {
        let t = generate_token(ACCESS_TOKEN_PREFIX);
        assert!(well_formed(t.expose(), ACCESS_TOKEN_PREFIX));
        assert!(!well_formed(t.expose(), REGISTRATION_TOKEN_PREFIX));
        let mut broken = t.expose().to_owned();
        let last = broken.pop().unwrap();
        broken.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!well_formed(&broken, ACCESS_TOKEN_PREFIX));
        assert!(!well_formed("wdn_at_short", ACCESS_TOKEN_PREFIX));
    }

    #[test]
    fn client_secrets_fit_hs512() {
        let s = generate_client_secret();
        assert!(s.len() >= 64);
        assert!(s.expose().starts_with(CLIENT_SECRET_PREFIX));
    }

    #[test]
    fn secrets_hash_and_verify() {
        let h = SecretHasher::new([7; 32]);
        let stored = h.hash("s3cret");
        assert!(h.verify("s3cret", &stored));
        assert!(!h.verify("s3cret ", &stored));
        assert_ne!(SecretHasher::new([8; 32]).hash("s3cret"), stored);
    }
}
