//! The master key: encryption at rest for signing keys and `client_secret_jwt` secrets, and
//! the root that named sub-keys (such as the client-secret pepper) are derived from.
//!
//! Sealing is AES-256-GCM with a fresh random 96-bit nonce per seal. The additional
//! authenticated data binds each blob to its context (e.g. the `kid` of the key it holds), so a
//! blob copied to another row fails to open instead of becoming another key. Seals are rare
//! (key rotation, client registration), far below the 2^32 random-nonce seals NIST SP 800-38D
//! §8.3 allows under one key.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use zeroize::Zeroizing;

use crate::JoseError;
use crate::primitives::{base64url_encode, random_bytes};

/// Length of a master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// First byte of every sealed blob, so the format can change without guessing.
const SEAL_VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Domain separation between [`MasterKey::derive`] and [`MasterKey::check_value`].
const DERIVE_PREFIX: &[u8] = b"warden/derive/v1\0";
const CHECK_VALUE_LABEL: &[u8] = b"warden/check-value/v1";

/// Accepts both padded and unpadded input; operators paste keys from many tools.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A 32-byte master key. Zeroized on drop; `Debug` is redacted; not `Clone`.
pub struct MasterKey {
    bytes: Zeroizing<[u8; MASTER_KEY_LEN]>,
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Self {
        Self {
            bytes: Zeroizing::new(random_bytes()),
        }
    }

    /// A master key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, JoseError> {
        let bytes = <[u8; MASTER_KEY_LEN]>::try_from(bytes)
            .map_err(|_| JoseError::InvalidKey("a master key is exactly 32 bytes"))?;
        Ok(Self {
            bytes: Zeroizing::new(bytes),
        })
    }

    /// A master key from standard or URL-safe base64, padded or not, surrounding whitespace
    /// trimmed (the form in which it sits in an environment variable or a secrets file).
    pub fn from_base64(s: &str) -> Result<Self, JoseError> {
        let s = s.trim();
        let engine = if s.contains(['-', '_']) {
            URL_SAFE_LENIENT
        } else {
            STANDARD_LENIENT
        };
        // Decode into a fixed buffer that is wiped afterwards, so no stray heap copy remains.
        let mut buffer = Zeroizing::new([0u8; 48]);
        let len = engine
            .decode_slice(s, buffer.as_mut_slice())
            .map_err(|_| JoseError::InvalidKey("master key is not base64 of 32 bytes"))?;
        Self::from_bytes(buffer.get(..len).unwrap_or_default())
    }

    /// The key as standard base64 with padding, for writing a generated key to configuration.
    ///
    /// # Security
    /// The returned string is the master key: it unlocks every stored signing key and secret.
    /// Never log it; the `String` is not zeroized, so drop it as soon as it is written.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes.as_slice())
    }

    /// Encrypts `plaintext`, authenticating `aad` with it.
    ///
    /// Output: `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
    /// `aad` is not stored; [`MasterKey::open`] must be given the same bytes.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, JoseError> {
        let nonce: [u8; NONCE_LEN] = random_bytes();
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.push(SEAL_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        // Encrypt in place, so no second plaintext copy is left behind.
        let tag = self
            .aead_key()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed[1 + NONCE_LEN..],
            )
            .map_err(|_| JoseError::Crypto)?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(sealed)
    }

    /// Decrypts a blob from [`MasterKey::seal`] made with the same `aad`.
    ///
    /// [`JoseError::Unseal`] if the master key or `aad` differ or the blob was altered;
    /// [`JoseError::Malformed`] if it is not a sealed blob at all.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(JoseError::Malformed("sealed data is empty"));
        };
        if version != SEAL_VERSION {
            return Err(JoseError::Malformed("unknown sealed data version"));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(JoseError::Malformed("sealed data is too short"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| JoseError::Malformed("sealed data nonce"))?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = self
            .aead_key()?
            .open_in_place(nonce, Aad::from(aad), buffer.as_mut_slice())
            .map_err(|_| JoseError::Unseal)?
            .len();
        buffer.truncate(plaintext_len);
        Ok(buffer)
    }

    /// A 32-byte sub-key for a named purpose, e.g. `"client-secret-pepper"`:
    /// HMAC-SHA256(master, `"warden/derive/v1\0"` || label). Different labels give
    /// independent keys; the master key cannot be recovered from them.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.hmac_key());
        context.update(DERIVE_PREFIX);
        context.update(label.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(context.sign().as_ref());
        out
    }

    /// A short, non-reversible fingerprint of the key (11 base64url characters, 64 bits), to
    /// store beside sealed data so the server can tell "wrong master key configured" from
    /// "corrupted data" at startup. Safe to log.
    pub fn check_value(&self) -> String {
        let tag = hmac::sign(&self.hmac_key(), CHECK_VALUE_LABEL);
        base64url_encode(tag.as_ref().get(..8).unwrap_or_default())
    }

    /// The AES-256-GCM key. Built per call: seal and open are cold paths, and this keeps the
    /// key schedule out of memory between uses.
    fn aead_key(&self) -> Result<LessSafeKey, JoseError> {
        let key =
            UnboundKey::new(&AES_256_GCM, self.bytes.as_slice()).map_err(|_| JoseError::Crypto)?;
        Ok(LessSafeKey::new(key))
    }

    fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, self.bytes.as_slice())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"private key bytes", b"kid-1").unwrap();
        assert_eq!(sealed.len(), 1 + 12 + 17 + 16);
        assert_eq!(sealed[0], SEAL_VERSION);
        assert_eq!(
            key.open(&sealed, b"kid-1").unwrap().as_slice(),
            b"private key bytes"
        );

        // Fresh nonce each time: the same input never seals to the same bytes.
        assert_ne!(key.seal(b"private key bytes", b"kid-1").unwrap(), sealed);
        // Empty plaintext works too.
        let empty = key.seal(b"", b"").unwrap();
        assert!(key.open(&empty, b"").unwrap().is_empty());
    }

    #[test]
    fn wrong_aad_wrong_key_and_tampering_fail() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret", b"kid-1").unwrap();
        assert_eq!(key.open(&sealed, b"kid-2").unwrap_err(), JoseError::Unseal);
        assert_eq!(
            MasterKey::generate().open(&sealed, b"kid-1").unwrap_err(),
            JoseError::Unseal
        );
        for i in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x80;
            assert_eq!(
                key.open(&tampered, b"kid-1").unwrap_err(),
                JoseError::Unseal
            );
        }
        let mut other_version = sealed.clone();
        other_version[0] = 2;
        assert!(matches!(
            key.open(&other_version, b"kid-1"),
            Err(JoseError::Malformed(_))
        ));
        assert!(matches!(
            key.open(&sealed[..28], b"kid-1"),
            Err(JoseError::Malformed(_))
        ));
        assert!(matches!(
            key.open(&[], b"kid-1"),
            Err(JoseError::Malformed(_))
        ));
    }

    #[test]
    fn base64_forms() {
        let key = MasterKey::generate();
        let encoded = key.to_base64();
        assert_eq!(encoded.len(), 44);
        let same = MasterKey::from_base64(&format!("  {encoded}\n")).unwrap();
        assert_eq!(same.check_value(), key.check_value());

        let bytes: Vec<u8> = (0u8..32)
            .map(|b| b.wrapping_mul(37).wrapping_add(251))
            .collect();
        let expected = MasterKey::from_bytes(&bytes).unwrap().check_value();
        for form in [
            STANDARD.encode(&bytes),
            STANDARD.encode(&bytes).trim_end_matches('=').to_owned(),
            base64::engine::general_purpose::URL_SAFE.encode(&bytes),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes),
        ] {
            assert_eq!(
                MasterKey::from_base64(&form).unwrap().check_value(),
                expected,
                "{form}"
            );
        }

        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 31])).is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 33])).is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 64])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_bytes(&[0u8; 16]).is_err());
    }

    #[test]
    fn derive_and_check_value() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let pepper = key.derive("client-secret-pepper");
        assert_eq!(pepper, key.derive("client-secret-pepper"));
        assert_ne!(pepper, key.derive("other"));
        assert_ne!(
            pepper,
            MasterKey::from_bytes(&[8u8; 32])
                .unwrap()
                .derive("client-secret-pepper")
        );
        assert_ne!(&pepper, &[7u8; 32]);

        let check = key.check_value();
        assert_eq!(check.len(), 11);
        assert_eq!(
            check,
            MasterKey::from_bytes(&[7u8; 32]).unwrap().check_value()
        );
        assert_ne!(
            check,
            MasterKey::from_bytes(&[8u8; 32]).unwrap().check_value()
        );
    }

    #[test]
    fn debug_is_redacted() {
        let key = MasterKey::from_bytes(&[0x41; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }
}
