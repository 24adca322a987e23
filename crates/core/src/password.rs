//! End-user password hashing: argon2id (RFC 9106) in PHC string format, a timing-equalising
//! [`dummy_verify`] for unknown usernames, and the password policy.
//!
//! Hashes are written as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`: the OWASP Password
//! Storage Cheat Sheet's argon2id configuration (19 MiB of memory, 2 passes, 1 lane), a 128-bit
//! random salt from aws-lc ([`warden_jose::random_bytes`]) and a 256-bit output. Verification
//! reads the parameters from the stored string, so hashes made with older parameters keep
//! verifying; [`needs_rehash`] tells when to replace one after a successful login.
//!
//! # Blocking
//! [`hash_password`], [`verify_password`] and [`dummy_verify`] are synchronous and deliberately
//! expensive (tens of milliseconds of CPU and 19 MiB of memory each). Never call them on an
//! async executor thread: run them with `tokio::task::spawn_blocking` (or a dedicated pool),
//! and bound how many run at once (e.g. a semaphore), since each one holds its memory for the
//! whole computation.

use argon2::password_hash::{self, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use warden_jose::random_bytes;

/// The fewest characters (Unicode scalar values) a password may have (NIST SP 800-63B §5.1.1.2:
/// at least 8 characters for a memorized secret chosen by the subscriber).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The most bytes (UTF-8) a password may have. Generous for passphrases and password managers,
/// and a bound on what one login request can make the hash function read.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2id memory cost in KiB (OWASP Password Storage Cheat Sheet: m=19456, t=2, p=1).
pub const DEFAULT_M_COST_KIB: u32 = 19_456;
/// argon2id time cost (passes over memory).
pub const DEFAULT_T_COST: u32 = 2;
/// argon2id parallelism (lanes).
pub const DEFAULT_P_COST: u32 = 1;

/// Salt length in bytes (RFC 9106 §3.1 recommends 128 bits).
const SALT_LEN: usize = 16;

/// Upper bounds on the parameters accepted from a stored hash: a corrupted or planted row must
/// not make one login cost gigabytes of memory or minutes of CPU.
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

/// An argon2id hash with [the default parameters](DEFAULT_M_COST_KIB) of a random password
/// nobody knows, for [`dummy_verify`]. Made once, offline, with the reference implementation
/// (argon2-cffi).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$KqvU43Kw2kUpMdnMa7CsBw$FMkNa6+DkhTuc+4d6gcxqbXEwcrkNIg/cvmOQsYeszM";

/// Why a password was refused or could not be hashed or checked.
///
/// Messages are fixed text: never the password, never the stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("password must be at least 8 characters long")]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("password must be at most 1024 bytes long")]
    TooLong,
    /// Only whitespace.
    #[error("password must not be only whitespace")]
    Blank,
    /// The stored hash is not an argon2id PHC string Warden accepts (unparsable, another
    /// algorithm or version, or parameters beyond the accepted bounds).
    #[error("stored password hash is not a valid argon2id PHC string")]
    InvalidHash,
    /// The hash function itself failed (e.g. could not allocate its memory).
    #[error("password hashing failed")]
    Hashing,
}

/// Checks a new password against Warden's policy (NIST SP 800-63B §5.1.1.2): at least
/// [`MIN_PASSWORD_CHARS`] characters, at most [`MAX_PASSWORD_BYTES`] bytes, not only
/// whitespace. Every other character, including spaces and any Unicode, is allowed.
///
/// Cheap; call it before [`hash_password`] when a password is set or changed.
pub fn check_password_policy(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.chars().all(char::is_whitespace) {
        return Err(PasswordError::Blank);
    }
    Ok(())
}

/// Hashes `password` with argon2id and the default parameters ([`DEFAULT_M_COST_KIB`],
/// [`DEFAULT_T_COST`], [`DEFAULT_P_COST`]) and a fresh random salt; returns the PHC string to
/// store.
///
/// Only the length bound of the policy is enforced here ([`PasswordError::TooLong`]); call
/// [`check_password_policy`] first for new passwords.
///
/// # Blocking
/// CPU- and memory-heavy by design: run it in `spawn_blocking`, never on an async executor.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    Hasher::owasp()?.hash(password)
}

/// Checks `password` against a stored PHC string, in constant time in the comparison (the
/// argon2 crate compares the outputs with `subtle`).
///
/// `Ok(true)` on a match, `Ok(false)` on a mismatch (also for a password longer than
/// [`MAX_PASSWORD_BYTES`], which costs the same time as any other), and
/// [`PasswordError::InvalidHash`] when `phc` is not an argon2id (version 19) PHC string with
/// parameters within Warden's bounds.
///
/// # Blocking
/// CPU- and memory-heavy by design: run it in `spawn_blocking`, never on an async executor.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let hash = parse_stored(phc)?;
    // An over-long password can never match (none could have been set), but it still pays the
    // full price, so its length is not visible in the response time.
    let too_long = password.len() > MAX_PASSWORD_BYTES;
    let candidate = if too_long { "" } else { password };
    match Argon2::default().verify_password(candidate.as_bytes(), &hash) {
        Ok(()) => Ok(!too_long),
        Err(password_hash::Error::Password) => Ok(false),
        Err(_) => Err(PasswordError::InvalidHash),
    }
}

/// Spends the time and memory of one [`verify_password`] with the default parameters, against
/// a fixed hash no password is known for, and throws the result away.
///
/// Call it when a login names a username that does not exist (or has no password), so the
/// response takes as long as for a real account and its timing does not reveal which usernames
/// exist. Hashes stored with non-default parameters make real verifications cost differently;
/// [`needs_rehash`] upgrades them on the next successful login.
///
/// # Blocking
/// CPU- and memory-heavy by design: run it in `spawn_blocking`, never on an async executor.
pub fn dummy_verify(password: &str) {
    // The result is meaningless; `black_box` keeps the work from being optimised away.
    std::hint::black_box(verify_password(std::hint::black_box(password), DUMMY_HASH)).ok();
}

/// Whether a stored hash should be replaced by a fresh [`hash_password`] of the same password
/// (after it verified): true when it is not argon2id v19 with exactly the default parameters,
/// or cannot be parsed at all.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = parse_stored(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return true;
    };
    (params.m_cost(), params.t_cost(), params.p_cost())
        != (DEFAULT_M_COST_KIB, DEFAULT_T_COST, DEFAULT_P_COST)
        || params
            .output_len()
            .is_some_and(|len| len != Params::DEFAULT_OUTPUT_LEN)
}

/// Parses a stored PHC string and holds it to argon2id v19 within the parameter bounds.
fn parse_stored(phc: &str) -> Result<PasswordHash<'_>, PasswordError> {
    let hash = PasswordHash::new(phc).map_err(|_| PasswordError::InvalidHash)?;
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return Err(PasswordError::InvalidHash);
    }
    if hash.version != Some(Version::V0x13.into()) {
        return Err(PasswordError::InvalidHash);
    }
    let params = Params::try_from(&hash).map_err(|_| PasswordError::InvalidHash)?;
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return Err(PasswordError::InvalidHash);
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(PasswordError::InvalidHash);
    }
    Ok(hash)
}

/// argon2id with fixed parameters; the public functions use [`Hasher::owasp`], tests use
/// cheaper parameters through [`Hasher::with_costs`].
struct Hasher {
    params: Params,
}

impl Hasher {
    /// The OWASP-recommended parameters.
    fn owasp() -> Result<Self, PasswordError> {
        Self::with_costs(DEFAULT_M_COST_KIB, DEFAULT_T_COST, DEFAULT_P_COST)
    }

    /// Explicit costs: memory in KiB, passes, lanes; 32-byte output.
    fn with_costs(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, PasswordError> {
        let params = Params::new(m_cost_kib, t_cost, p_cost, Some(Params::DEFAULT_OUTPUT_LEN))
            .map_err(|_| PasswordError::Hashing)?;
        Ok(Self { params })
    }

    fn hash(&self, password: &str) -> Result<String, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        let salt: [u8; SALT_LEN] = random_bytes();
        let salt =
            password_hash::SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hashing)?;
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| PasswordError::Hashing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cheapest valid argon2id (8 KiB, one pass): fast tests, same code path.
    fn cheap() -> Hasher {
        Hasher::with_costs(8, 1, 1).unwrap()
    }

    /// argon2-cffi (the reference C implementation) with salt "warden-test-salt".
    const REFERENCE_CHEAP: &str = "$argon2id$v=19$m=8,t=1,p=1$d2FyZGVuLXRlc3Qtc2FsdA$BIbExMtotpHNfgfptlxhDxkoiejM8MnraZBTPs4r5nE";
    const REFERENCE_ARGON2I: &str = "$argon2i$v=19$m=8,t=1,p=1$d2FyZGVuLXRlc3Qtc2FsdA$ievrYHRy8SoCQKKyVIw+JZFNjZO770RydAuzQH3DELE";

    #[test]
    fn hash_and_verify_round_trip() {
        let hasher = cheap();
        let phc = hasher.hash("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc).unwrap());
        assert!(!verify_password("correct horse battery stapler", &phc).unwrap());
        assert!(!verify_password("", &phc).unwrap());

        // Salt: 16 random bytes (22 base64 characters), different every time.
        let fields: Vec<&str> = phc.split('$').collect();
        assert_eq!(fields.len(), 6);
        assert_eq!(fields[4].len(), 22);
        assert_eq!(fields[5].len(), 43); // 32-byte output
        let again = hasher.hash("correct horse battery staple").unwrap();
        assert_ne!(phc, again);
        assert!(verify_password("correct horse battery staple", &again).unwrap());
    }

    #[test]
    fn verifies_reference_implementation_hashes() {
        assert!(verify_password("correct horse battery staple", REFERENCE_CHEAP).unwrap());
        assert!(!verify_password("Correct horse battery staple", REFERENCE_CHEAP).unwrap());
    }

    #[test]
    fn unicode_passwords_are_bytes_exactly() {
        let phc = cheap().hash("pässwörd-ñ-🔑").unwrap();
        assert!(verify_password("pässwörd-ñ-🔑", &phc).unwrap());
        // NFC vs NFD "ä" are different byte strings, hence different passwords.
        assert!(!verify_password("pa\u{308}sswörd-ñ-🔑", &phc).unwrap());
    }

    #[test]
    fn refuses_invalid_stored_hashes() {
        let valid = cheap().hash("password-1").unwrap();
        for bad in [
            "",
            "password-1",
            "$argon2id$",
            "$argon2id$v=19$m=8,t=1,p=1$d2FyZGVuLXRlc3Qtc2FsdA",
            &valid.replace("$v=19", "$v=16"),
            &valid.replace("$argon2id$", "$argon2d$"),
            REFERENCE_ARGON2I,
            "$2b$12$GhvMmNVjRW29ulnudl.LbuAnUtN/LRfe1JsBm1Xu6LE3059z5Tr8m",
            "$pbkdf2-sha256$29000$N2bMOYuvb8b0zg$bYK.Fsx8nbvVapXLXhzqmO/XXo4zSg4e/fA8pQq2O7s",
            // Parameters beyond the bounds: 4 GiB of memory, 1000 passes, 64 lanes.
            &valid.replace("m=8,", "m=4194304,"),
            &valid.replace("t=1,", "t=1000,"),
            &valid.replace("p=1$", "p=64$"),
        ] {
            assert_eq!(
                verify_password("password-1", bad),
                Err(PasswordError::InvalidHash),
                "{bad}"
            );
        }
    }

    #[test]
    fn over_long_password_never_matches() {
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(cheap().hash(&long), Err(PasswordError::TooLong));
        // Even against a hash of the empty password, which is what it is replaced by.
        let empty = cheap().hash("").unwrap();
        assert!(verify_password("", &empty).unwrap());
        assert!(!verify_password(&long, &empty).unwrap());
        let max = "x".repeat(MAX_PASSWORD_BYTES);
        let phc = cheap().hash(&max).unwrap();
        assert!(verify_password(&max, &phc).unwrap());
    }

    #[test]
    fn default_parameters() {
        // The one test that pays for the production cost (19 MiB, 2 passes).
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc).unwrap());
        assert!(!needs_rehash(&phc));

        // The reference implementation agrees on the same parameters (argon2-cffi, salt
        // "warden-test-salt").
        let reference = "$argon2id$v=19$m=19456,t=2,p=1$d2FyZGVuLXRlc3Qtc2FsdA$jF/u+xPyPw4iYF4W/qgZOdUS2WDtKES35jGTpkMqKCU";
        assert!(verify_password("correct horse battery staple", reference).unwrap());

        // The dummy hash is valid, uses the default parameters, and matches no likely input.
        assert!(!needs_rehash(DUMMY_HASH));
        assert_eq!(verify_password("", DUMMY_HASH), Ok(false));
        dummy_verify("correct horse battery staple");
    }

    #[test]
    fn needs_rehash_for_other_parameters() {
        assert!(needs_rehash(&cheap().hash("password-1").unwrap()));
        assert!(needs_rehash(REFERENCE_CHEAP));
        assert!(needs_rehash(REFERENCE_ARGON2I));
        assert!(needs_rehash("not a hash"));
    }

    #[test]
    fn policy() {
        assert_eq!(check_password_policy(""), Err(PasswordError::TooShort));
        assert_eq!(
            check_password_policy("1234567"),
            Err(PasswordError::TooShort)
        );
        assert_eq!(check_password_policy("12345678"), Ok(()));
        // Characters, not bytes: 4 two-byte characters are too short, 8 are enough.
        assert_eq!(check_password_policy("ääää"), Err(PasswordError::TooShort));
        assert_eq!(check_password_policy("ääääääää"), Ok(()));
        assert_eq!(check_password_policy("        "), Err(PasswordError::Blank));
        assert_eq!(
            check_password_policy(" \t\n\u{a0}\u{3000}   "),
            Err(PasswordError::Blank)
        );
        // Spaces inside a passphrase are fine.
        assert_eq!(check_password_policy("  a b c d  "), Ok(()));
        assert_eq!(
            check_password_policy(&"x".repeat(MAX_PASSWORD_BYTES)),
            Ok(())
        );
        assert_eq!(
            check_password_policy(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordError::TooLong)
        );
        // 342 three-byte characters are 1026 bytes.
        assert_eq!(
            check_password_policy(&"€".repeat(342)),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn errors_never_show_input() {
        assert_eq!(
            PasswordError::InvalidHash.to_string(),
            "stored password hash is not a valid argon2id PHC string"
        );
        assert_eq!(
            PasswordError::TooShort.to_string(),
            "password must be at least 8 characters long"
        );
    }
}
