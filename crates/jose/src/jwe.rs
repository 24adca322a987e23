//! Compact JWE (RFC 7516 §7.1): encryption to a recipient's public JWK and decryption with a
//! private key, for encrypted ID tokens (OpenID Connect Core §10.2) and similar payloads.
//!
//! Key management: `RSA-OAEP-256` (RFC 7518 §4.3, RSAES-OAEP with SHA-256 and MGF1-SHA-256)
//! and `ECDH-ES` in Direct Key Agreement mode (RFC 7518 §4.6, P-256 and P-384, Concat KDF with
//! SHA-256). Content encryption: `A128GCM` and `A256GCM` (RFC 7518 §5.3). Nothing else is
//! understood: `none`, `dir`, key wrapping, `RSA1_5` and CBC-HMAC all fail to parse, so no
//! code path can be talked into them (RFC 8725 §3.1, §3.2).
//!
//! A [`JweEncrypter`] is built once per recipient key and used for every token to that
//! recipient; a [`JweDecrypter`] holds one private key and an explicit allow-list of `alg` and
//! `enc` values. All cryptography goes through aws-lc-rs.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, EphemeralPrivateKey, ParsedPublicKey, UnparsedPublicKey};
use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use warden_types::jwk::{Jwk, JwkSet};
use zeroize::Zeroizing;

use crate::JoseError;
use crate::jwk::{KeyMaterial, MIN_RSA_BITS, public_jwk};
use crate::primitives::{base64url_decode, base64url_encode, random_bytes};
use crate::verify::Present;

/// The longest compact JWE accepted, in bytes. An encrypted ID token or request object is a few
/// KiB; the bound caps what a hostile token can cost (base64, JSON and one AEAD pass).
pub const MAX_COMPACT_JWE_LEN: usize = 256 * 1024;

/// Length of the GCM authentication tag (RFC 7518 §5.3: 128 bits).
const TAG_LEN: usize = 16;

/// The longest `apu`/`apv` accepted, decoded (RFC 7518 §4.6.1.2-3 set no bound; real ones are
/// short identifiers).
const MAX_PARTY_INFO_LEN: usize = 256;

/// Why a JWE operation failed.
///
/// Like [`JoseError`], every message is fixed text written by this crate: no key material,
/// header value or token content reaches `Display`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// Not a well-formed compact JWE (RFC 7516 §7.1), or a header Warden refuses; the detail
    /// names the rule that failed.
    #[error("malformed JWE: {0}")]
    Malformed(&'static str),
    /// The `alg` or `enc` is not one Warden implements: `none`, `dir`, `RSA1_5`, `RSA-OAEP`,
    /// key wrapping, CBC-HMAC and every unknown name.
    #[error("unsupported JWE algorithm")]
    UnsupportedAlgorithm,
    /// The `alg` or `enc` is known but not in the caller's allow-list (RFC 8725 §3.1).
    #[error("JWE algorithm not allowed here")]
    AlgorithmNotAllowed,
    /// The key cannot be used with the algorithm (wrong key type or curve, the JWK's `use`,
    /// `key_ops` or `alg` say otherwise, or the token's `kid` names another key).
    #[error("key cannot be used with this JWE algorithm")]
    KeyMismatch,
    /// A key was refused; the detail names the rule (e.g. "RSA modulus shorter than 2048 bits").
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The JWE does not decrypt: wrong key, or ciphertext, tag, IV, encrypted key or protected
    /// header altered. Deliberately one error for all of them (RFC 7516 §11.5).
    #[error("JWE could not be decrypted")]
    Decryption,
    /// The cryptographic library reported an internal failure.
    #[error("cryptographic operation failed")]
    Crypto,
}

impl From<JoseError> for JweError {
    fn from(error: JoseError) -> Self {
        match error {
            JoseError::Malformed(detail) => Self::Malformed(detail),
            JoseError::InvalidKey(detail) => Self::InvalidKey(detail),
            JoseError::UnsupportedAlgorithm => Self::UnsupportedAlgorithm,
            JoseError::AlgorithmNotAllowed => Self::AlgorithmNotAllowed,
            JoseError::KeyMismatch | JoseError::NoMatchingKey => Self::KeyMismatch,
            JoseError::InvalidSignature | JoseError::Unseal => Self::Decryption,
            JoseError::Crypto => Self::Crypto,
        }
    }
}

/// A JWE key management algorithm (`alg`, RFC 7518 §4.1) Warden implements. These are the
/// values allowed for `id_token_encrypted_response_alg` (OpenID Connect Registration §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JweAlgorithm {
    /// `RSA-OAEP-256`: the CEK encrypted with RSAES-OAEP, SHA-256 and MGF1-SHA-256
    /// (RFC 7518 §4.3).
    #[serde(rename = "RSA-OAEP-256")]
    RsaOaep256,
    /// `ECDH-ES`: the CEK agreed directly by ECDH with an ephemeral key and the Concat KDF
    /// (RFC 7518 §4.6), on P-256 or P-384.
    #[serde(rename = "ECDH-ES")]
    EcdhEs,
}

impl JweAlgorithm {
    /// Every key management algorithm Warden implements, in the order it advertises them.
    pub const ALL: [JweAlgorithm; 2] = [Self::RsaOaep256, Self::EcdhEs];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaOaep256 => "RSA-OAEP-256",
            Self::EcdhEs => "ECDH-ES",
        }
    }
}

impl fmt::Display for JweAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JweAlgorithm {
    type Err = JweError;

    /// Exact, case-sensitive match of a wire name; anything else (including `none` and `dir`)
    /// is [`JweError::UnsupportedAlgorithm`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or(JweError::UnsupportedAlgorithm)
    }
}

/// A JWE content encryption algorithm (`enc`, RFC 7518 §5.1) Warden implements. These are the
/// values allowed for `id_token_encrypted_response_enc` (OpenID Connect Registration §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JweEncryption {
    /// AES-128 in GCM mode (RFC 7518 §5.3).
    A128GCM,
    /// AES-256 in GCM mode (RFC 7518 §5.3).
    A256GCM,
}

impl JweEncryption {
    /// Every content encryption algorithm Warden implements, in the order it advertises them.
    pub const ALL: [JweEncryption; 2] = [Self::A256GCM, Self::A128GCM];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A128GCM => "A128GCM",
            Self::A256GCM => "A256GCM",
        }
    }

    /// Length of the content encryption key in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::A128GCM => 16,
            Self::A256GCM => 32,
        }
    }

    fn aead(self) -> &'static aead::Algorithm {
        match self {
            Self::A128GCM => &aead::AES_128_GCM,
            Self::A256GCM => &aead::AES_256_GCM,
        }
    }
}

impl fmt::Display for JweEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JweEncryption {
    type Err = JweError;

    /// Exact, case-sensitive match of a wire name; anything else is
    /// [`JweError::UnsupportedAlgorithm`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|enc| enc.as_str() == s)
            .ok_or(JweError::UnsupportedAlgorithm)
    }
}

/// The EC curves `ECDH-ES` is implemented for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    /// Length of one coordinate in bytes (RFC 7518 §6.2.1.2).
    fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    fn agreement(self) -> &'static agreement::Algorithm {
        match self {
            Self::P256 => &agreement::ECDH_P256,
            Self::P384 => &agreement::ECDH_P384,
        }
    }

    /// The uncompressed SEC1 point `0x04 || x || y` from JWK coordinates.
    fn point(self, x: &str, y: &str) -> Result<Vec<u8>, JweError> {
        let x = base64url_decode(x)?;
        let y = base64url_decode(y)?;
        let len = self.coordinate_len();
        if x.len() != len || y.len() != len {
            return Err(JweError::InvalidKey("EC coordinate has the wrong length"));
        }
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    }

    /// Splits an uncompressed SEC1 point into its base64url `x` and `y`.
    fn coordinates(self, point: &[u8]) -> Result<(String, String), JweError> {
        let len = self.coordinate_len();
        match point.split_first() {
            Some((0x04, xy)) if xy.len() == 2 * len => {
                let (x, y) = xy.split_at(len);
                Ok((base64url_encode(x), base64url_encode(y)))
            }
            _ => Err(JweError::Crypto),
        }
    }
}

/// Encrypts payloads to one recipient public key as compact JWEs (RFC 7516 §5.1, §7.1).
///
/// Built once from the recipient's JWK (e.g. a client's registered encryption key) and the
/// `alg`/`enc` pair the recipient asked for; each [`JweEncrypter::encrypt`] uses a fresh CEK
/// (or ephemeral key) and IV. Cloning is cheap enough for per-client caching.
#[derive(Clone)]
pub struct JweEncrypter {
    kid: Option<String>,
    alg: JweAlgorithm,
    enc: JweEncryption,
    key: RecipientKey,
}

#[derive(Clone)]
enum RecipientKey {
    Rsa(PublicEncryptingKey),
    /// The recipient's static public key, an uncompressed point already checked to lie on
    /// the curve.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
}

impl JweEncrypter {
    /// An encrypter to the public JWK `jwk` (RFC 7517) with key management `alg` and content
    /// encryption `enc`.
    ///
    /// `RSA-OAEP-256` needs an `RSA` key of 2048 to 8192 bits; `ECDH-ES` an `EC` key on `P-256`
    /// or `P-384` whose point lies on the curve. Refused as well: JWKs carrying private
    /// material, a `use` other than `enc` (RFC 7517 §4.2), `key_ops` that do not permit the
    /// operation (RFC 7517 §4.3: `encrypt`/`wrapKey` for RSA, `deriveKey`/`deriveBits` for
    /// ECDH), and an `alg` member other than `alg` (RFC 7517 §4.4).
    pub fn new(jwk: &Jwk, alg: JweAlgorithm, enc: JweEncryption) -> Result<Self, JweError> {
        if jwk.has_private_material() {
            return Err(JweError::InvalidKey("JWK carries private key material"));
        }
        if jwk.use_.as_deref().is_some_and(|u| u != "enc") {
            return Err(JweError::KeyMismatch);
        }
        let permitted: &[&str] = match alg {
            JweAlgorithm::RsaOaep256 => &["encrypt", "wrapKey"],
            JweAlgorithm::EcdhEs => &["deriveKey", "deriveBits"],
        };
        let ops_permit = |ops: &Vec<String>| ops.iter().any(|op| permitted.contains(&op.as_str()));
        if !jwk.key_ops.as_ref().is_none_or(ops_permit) {
            return Err(JweError::KeyMismatch);
        }
        if jwk.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
            return Err(JweError::KeyMismatch);
        }

        let key = match (alg, KeyMaterial::from_jwk(jwk)?) {
            (JweAlgorithm::RsaOaep256, KeyMaterial::Rsa { n, e, .. }) => {
                // `KeyMaterial` already holds the modulus to 2048..=8192 bits and the exponent
                // to an odd value aws-lc accepts.
                let key: PublicEncryptingKey = PublicKeyComponents { n, e }
                    .try_into()
                    .map_err(|_| JweError::InvalidKey("public key is not valid for its type"))?;
                RecipientKey::Rsa(key)
            }
            (JweAlgorithm::EcdhEs, KeyMaterial::P256(point)) => ec_recipient(Curve::P256, point)?,
            (JweAlgorithm::EcdhEs, KeyMaterial::P384(point)) => ec_recipient(Curve::P384, point)?,
            _ => return Err(JweError::KeyMismatch),
        };
        Ok(Self {
            kid: jwk.kid.clone(),
            alg,
            enc,
            key,
        })
    }

    /// An encrypter to the first key of a JWK Set (e.g. a client's `jwks`) that can be used
    /// with `alg`: keys with `use` `enc` first, then keys without `use` (OpenID Connect
    /// Registration §2, `jwks`: when both kinds are present, `use` is required).
    ///
    /// [`JweError::KeyMismatch`] when no key fits.
    pub fn from_jwk_set(
        set: &JwkSet,
        alg: JweAlgorithm,
        enc: JweEncryption,
    ) -> Result<Self, JweError> {
        let marked = set.keys.iter().filter(|k| k.use_.as_deref() == Some("enc"));
        let unmarked = set.keys.iter().filter(|k| k.use_.is_none());
        marked
            .chain(unmarked)
            .find_map(|jwk| Self::new(jwk, alg, enc).ok())
            .ok_or(JweError::KeyMismatch)
    }

    /// The recipient key's `kid`, written into every header it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key management algorithm.
    pub fn alg(&self) -> JweAlgorithm {
        self.alg
    }

    /// The content encryption algorithm.
    pub fn enc(&self) -> JweEncryption {
        self.enc
    }

    /// Encrypts `plaintext` as a compact JWE (RFC 7516 §5.1, §7.1).
    ///
    /// The protected header is `{"alg":..,"enc":..,"kid":..,"cty":..,"epk":..}`: `kid` when
    /// the recipient JWK has one, `cty` when given (`"JWT"` for a nested signed JWT, RFC 7519
    /// §5.2 and OpenID Connect Core §10.2), `epk` for `ECDH-ES`. The whole encoded protected
    /// header is the AEAD's additional authenticated data (RFC 7516 §5.1 step 14).
    pub fn encrypt(&self, plaintext: &[u8], cty: Option<&str>) -> Result<String, JweError> {
        if plaintext.len() > MAX_COMPACT_JWE_LEN {
            return Err(JweError::Malformed("plaintext too long"));
        }
        // RFC 7516 §5.1 steps 1-6: determine the CEK and the JWE Encrypted Key.
        let (cek, encrypted_key, epk) = match &self.key {
            RecipientKey::Rsa(public) => {
                let cek = random_cek(self.enc);
                let oaep =
                    OaepPublicEncryptingKey::new(public.clone()).map_err(|_| JweError::Crypto)?;
                let mut encrypted = vec![0u8; oaep.ciphertext_size()];
                let len = oaep
                    .encrypt(&OAEP_SHA256_MGF1SHA256, &cek, &mut encrypted, None)
                    .map_err(|_| JweError::Crypto)?
                    .len();
                encrypted.truncate(len);
                (cek, encrypted, None)
            }
            RecipientKey::Ec { curve, point } => {
                // RFC 7518 §4.6: a fresh ephemeral key per message; with Direct Key Agreement
                // the derived key is the CEK and the Encrypted Key is empty.
                let ephemeral =
                    EphemeralPrivateKey::generate(curve.agreement(), &SystemRandom::new())
                        .map_err(|_| JweError::Crypto)?;
                let ephemeral_public = ephemeral
                    .compute_public_key()
                    .map_err(|_| JweError::Crypto)?;
                let (x, y) = curve.coordinates(ephemeral_public.as_ref())?;
                let cek = agreement::agree_ephemeral(
                    ephemeral,
                    UnparsedPublicKey::new(curve.agreement(), point),
                    JweError::Crypto,
                    |z| Ok(concat_kdf(z, self.enc, &[], &[])),
                )?;
                let epk = EpkOut {
                    kty: "EC",
                    crv: curve.name(),
                    x,
                    y,
                };
                (cek, Vec::new(), Some(epk))
            }
        };

        // Steps 7-8: the JWE Initialization Vector, 96 bits for GCM (RFC 7518 §5.3).
        let iv: [u8; NONCE_LEN] = random_bytes();
        // Steps 11-14: the encoded protected header is the AAD.
        let header = HeaderOut {
            alg: self.alg.as_str(),
            enc: self.enc.as_str(),
            kid: self.kid.as_deref(),
            cty,
            epk,
        };
        let header = serde_json::to_vec(&header)
            .map_err(|_| JweError::Malformed("header could not be serialized"))?;
        let header_b64 = base64url_encode(&header);

        // Step 15: encrypt, tag separate.
        let mut ciphertext = plaintext.to_vec();
        let tag = aead_key(self.enc, &cek)?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header_b64.as_bytes()),
                &mut ciphertext,
            )
            .map_err(|_| JweError::Crypto)?;

        // Step 19 / §7.1: five base64url parts separated by dots.
        let mut token = String::with_capacity(
            header_b64.len() + (encrypted_key.len() + ciphertext.len() + 64) * 4 / 3 + 8,
        );
        token.push_str(&header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&encrypted_key, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(iv, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&ciphertext, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
        Ok(token)
    }
}

impl fmt::Debug for JweEncrypter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JweEncrypter")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("enc", &self.enc)
            .finish_non_exhaustive()
    }
}

fn ec_recipient(curve: Curve, point: Vec<u8>) -> Result<RecipientKey, JweError> {
    // Parsing checks that the point lies on the curve, so an invalid-curve key is refused
    // when the encrypter is built rather than on first use.
    ParsedPublicKey::try_from(UnparsedPublicKey::new(curve.agreement(), &point))
        .map_err(|_| JweError::InvalidKey("public key is not valid for its type"))?;
    Ok(RecipientKey::Ec { curve, point })
}

/// Decrypts compact JWEs addressed to one private key, with an explicit allow-list of `alg`
/// and `enc` values (RFC 8725 §3.1).
///
/// Deliberately not `Clone`: share it behind an `Arc`. `Debug` shows no key material.
pub struct JweDecrypter {
    kid: Option<String>,
    key: PrivateKey,
    /// The one key management algorithm this key decrypts; the caller allowed it.
    alg: JweAlgorithm,
    allowed_encs: Vec<JweEncryption>,
    public_jwk: Jwk,
}

enum PrivateKey {
    Rsa(OaepPrivateDecryptingKey),
    Ec {
        curve: Curve,
        key: agreement::PrivateKey,
    },
}

impl JweDecrypter {
    /// Loads a private key from an unencrypted PKCS#8 DER document (RFC 5208 / RFC 5958): RSA
    /// of 2048 to 8192 bits (for `RSA-OAEP-256`) or EC on P-256 or P-384 (for `ECDH-ES`).
    ///
    /// Only the algorithms in `allowed_algs` and `allowed_encs` are ever used. The key's own
    /// algorithm must be in `allowed_algs` ([`JweError::KeyMismatch`] otherwise), and
    /// `allowed_encs` must not be empty.
    pub fn from_pkcs8(
        der: &[u8],
        allowed_algs: &[JweAlgorithm],
        allowed_encs: &[JweEncryption],
    ) -> Result<Self, JweError> {
        let (key, jwk) = if let Ok(rsa) = PrivateDecryptingKey::from_pkcs8(der) {
            if rsa.key_size_bits() < MIN_RSA_BITS {
                return Err(JweError::InvalidKey("RSA modulus shorter than 2048 bits"));
            }
            // aws-lc's decrypting key does not expose n and e; the signing view of the same
            // document does.
            let pair = RsaKeyPair::from_pkcs8(der)
                .map_err(|_| JweError::InvalidKey("not a usable RSA PKCS#8 private key"))?;
            let public = pair.public_key();
            let mut jwk = public_jwk("RSA");
            jwk.n = Some(base64url_encode(
                public.modulus().big_endian_without_leading_zero(),
            ));
            jwk.e = Some(base64url_encode(
                public.exponent().big_endian_without_leading_zero(),
            ));
            let oaep = OaepPrivateDecryptingKey::new(rsa).map_err(|_| JweError::Crypto)?;
            (PrivateKey::Rsa(oaep), jwk)
        } else {
            let (curve, key) = [Curve::P256, Curve::P384]
                .into_iter()
                .find_map(|curve| {
                    agreement::PrivateKey::from_private_key_der(curve.agreement(), der)
                        .ok()
                        .map(|key| (curve, key))
                })
                .ok_or(JweError::InvalidKey(
                    "not an RSA, P-256 or P-384 PKCS#8 private key",
                ))?;
            let public = key.compute_public_key().map_err(|_| JweError::Crypto)?;
            let (x, y) = curve.coordinates(public.as_ref())?;
            let mut jwk = public_jwk("EC");
            jwk.crv = Some(curve.name().to_owned());
            jwk.x = Some(x);
            jwk.y = Some(y);
            (PrivateKey::Ec { curve, key }, jwk)
        };
        let own_alg = match key {
            PrivateKey::Rsa(_) => JweAlgorithm::RsaOaep256,
            PrivateKey::Ec { .. } => JweAlgorithm::EcdhEs,
        };
        if !allowed_algs.contains(&own_alg) {
            return Err(JweError::KeyMismatch);
        }
        if allowed_encs.is_empty() {
            return Err(JweError::AlgorithmNotAllowed);
        }
        let mut public_jwk = jwk;
        public_jwk.use_ = Some("enc".to_owned());
        public_jwk.alg = Some(own_alg.as_str().to_owned());
        Ok(Self {
            kid: None,
            key,
            alg: own_alg,
            allowed_encs: allowed_encs.to_vec(),
            public_jwk,
        })
    }

    /// Sets the key's `kid`. A token whose header names a different `kid` is then refused with
    /// [`JweError::KeyMismatch`]; a token without `kid` is still tried.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        self.public_jwk.kid = Some(kid.clone());
        self.kid = Some(kid);
        self
    }

    /// The key's `kid`, if one was set.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key management algorithm this key decrypts.
    pub fn alg(&self) -> JweAlgorithm {
        self.alg
    }

    /// The public JWK to give to senders: `kty` with `n`/`e` or `crv`/`x`/`y`; `use` `enc`;
    /// `alg`; and `kid` when one was set.
    pub fn public_jwk(&self) -> Jwk {
        self.public_jwk.clone()
    }

    /// Decrypts a compact JWE (RFC 7516 §5.2) and returns its protected header and plaintext.
    ///
    /// Refused: more than [`MAX_COMPACT_JWE_LEN`] bytes; anything but five base64url parts; a
    /// header that is not a JSON object, repeats a member Warden reads, or carries `crit` or
    /// `zip`; an `alg` or `enc` Warden does not implement (so `none` and `dir`) or that is not
    /// allowed; an IV other than 96 bits or a tag other than 128 bits; for `ECDH-ES`, a
    /// missing or invalid `epk` (wrong type or curve, private member, point not on the curve)
    /// or a non-empty Encrypted Key. A wrong key or any altered part fails as
    /// [`JweError::Decryption`].
    pub fn decrypt(&self, compact: &str) -> Result<(JweHeader, Vec<u8>), JweError> {
        let parts = Parts::split(compact)?;
        let parsed = HeaderIn::parse(&base64url_decode(parts.header)?)?;
        let header = parsed.checked_header()?;
        if header.alg != self.alg || !self.allowed_encs.contains(&header.enc) {
            return Err(JweError::AlgorithmNotAllowed);
        }
        if let (Some(ours), Some(theirs)) = (self.kid.as_deref(), header.kid.as_deref())
            && ours != theirs
        {
            return Err(JweError::KeyMismatch);
        }

        let encrypted_key = base64url_decode(parts.encrypted_key)?;
        let iv = base64url_decode(parts.iv)?;
        let mut ciphertext = Zeroizing::new(base64url_decode(parts.ciphertext)?);
        let tag = base64url_decode(parts.tag)?;
        let nonce = Nonce::try_assume_unique_for_key(&iv)
            .map_err(|_| JweError::Malformed("the IV must be 96 bits"))?;
        if tag.len() != TAG_LEN {
            return Err(JweError::Malformed(
                "the authentication tag must be 128 bits",
            ));
        }

        // RFC 7516 §5.2 steps 6-10: determine the CEK.
        let cek = match (&self.key, header.alg) {
            (PrivateKey::Rsa(key), JweAlgorithm::RsaOaep256) => {
                if parsed.epk.is_some() || parsed.apu.is_some() || parsed.apv.is_some() {
                    return Err(JweError::Malformed("unexpected ECDH header parameter"));
                }
                if encrypted_key.len() != key.key_size_bytes() {
                    return Err(JweError::Decryption);
                }
                let mut buffer = Zeroizing::new(vec![0u8; key.min_output_size()]);
                match key.decrypt(&OAEP_SHA256_MGF1SHA256, &encrypted_key, &mut buffer, None) {
                    Ok(cek) if cek.len() == header.enc.key_len() => Zeroizing::new(cek.to_vec()),
                    // RFC 7516 §11.5: on a failed or wrong-length key decryption, carry on
                    // with a random CEK so the failure shows only as a bad tag, in the same
                    // time, and cannot serve as a decryption oracle.
                    _ => random_cek(header.enc),
                }
            }
            (PrivateKey::Ec { curve, key }, JweAlgorithm::EcdhEs) => {
                // RFC 7518 §4.6: Direct Key Agreement, so the Encrypted Key MUST be empty.
                if !encrypted_key.is_empty() {
                    return Err(JweError::Malformed(
                        "ECDH-ES requires an empty encrypted key",
                    ));
                }
                let epk = parsed
                    .epk
                    .as_ref()
                    .ok_or(JweError::Malformed("ECDH-ES requires an epk header"))?;
                let peer = epk.point(*curve)?;
                let apu = party_info(parsed.apu.as_deref())?;
                let apv = party_info(parsed.apv.as_deref())?;
                let peer =
                    ParsedPublicKey::try_from(UnparsedPublicKey::new(curve.agreement(), &peer))
                        .map_err(|_| JweError::Malformed("epk is not a valid public key"))?;
                agreement::agree(key, peer, JweError::Decryption, |z| {
                    Ok(concat_kdf(z, header.enc, &apu, &apv))
                })?
            }
            _ => return Err(JweError::KeyMismatch),
        };

        // Steps 14-16: the encoded protected header is the AAD; decrypt and check the tag.
        let plaintext_len = aead_key(header.enc, &cek)?
            .open_in_place_separate_tag(
                nonce,
                Aad::from(parts.header.as_bytes()),
                &tag,
                ciphertext.as_mut_slice(),
            )
            .map_err(|_| JweError::Decryption)?
            .len();
        let mut plaintext = std::mem::take(&mut *ciphertext);
        plaintext.truncate(plaintext_len);
        Ok((header, plaintext))
    }
}

impl fmt::Debug for JweDecrypter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JweDecrypter")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("allowed_encs", &self.allowed_encs)
            .finish_non_exhaustive()
    }
}

/// The protected header of a JWE that decrypted, as Warden reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JweHeader {
    alg: JweAlgorithm,
    enc: JweEncryption,
    kid: Option<String>,
    cty: Option<String>,
    typ: Option<String>,
}

impl JweHeader {
    /// Reads the protected header of a compact JWE **without** decrypting it, e.g. to pick the
    /// decryption key by `kid`. Applies the same structural and header checks as
    /// [`JweDecrypter::decrypt`], but none of its values is authenticated yet.
    pub fn peek(compact: &str) -> Result<Self, JweError> {
        let parts = Parts::split(compact)?;
        HeaderIn::parse(&base64url_decode(parts.header)?)?.checked_header()
    }

    /// The key management algorithm.
    pub fn alg(&self) -> JweAlgorithm {
        self.alg
    }

    /// The content encryption algorithm.
    pub fn enc(&self) -> JweEncryption {
        self.enc
    }

    /// The `kid` (RFC 7516 §4.1.6).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The content type (RFC 7516 §4.1.12); `JWT` for a nested JWT (RFC 7519 §5.2).
    pub fn cty(&self) -> Option<&str> {
        self.cty.as_deref()
    }

    /// The type (RFC 7516 §4.1.11).
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
}

/// The five parts of a compact JWE (RFC 7516 §7.1), still encoded.
struct Parts<'a> {
    header: &'a str,
    encrypted_key: &'a str,
    iv: &'a str,
    ciphertext: &'a str,
    tag: &'a str,
}

impl<'a> Parts<'a> {
    fn split(compact: &'a str) -> Result<Self, JweError> {
        if compact.len() > MAX_COMPACT_JWE_LEN {
            return Err(JweError::Malformed("token too long"));
        }
        let mut parts = compact.split('.');
        let (Some(header), Some(encrypted_key), Some(iv), Some(ciphertext), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(JweError::Malformed("a compact JWE has exactly five parts"));
        };
        Ok(Self {
            header,
            encrypted_key,
            iv,
            ciphertext,
            tag,
        })
    }
}

/// The JWE protected header Warden writes. Field order is the order on the wire.
#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    enc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epk: Option<EpkOut>,
}

/// The ephemeral public key (RFC 7518 §4.6.1.1), public members only.
#[derive(Serialize)]
struct EpkOut {
    kty: &'static str,
    crv: &'static str,
    x: String,
    y: String,
}

/// The JWE header members Warden reads. Every other member is ignored; in particular `jwk`,
/// `jku`, `x5u` and `x5c` never choose the decryption key.
#[derive(Deserialize)]
struct HeaderIn {
    alg: String,
    enc: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    cty: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    epk: Option<EpkIn>,
    #[serde(default)]
    apu: Option<String>,
    #[serde(default)]
    apv: Option<String>,
    #[serde(default)]
    crit: Present,
    #[serde(default)]
    zip: Present,
}

impl HeaderIn {
    fn parse(json: &[u8]) -> Result<Self, JweError> {
        // serde would also read a struct from a JSON array; RFC 7516 §5.2 step 3 wants an
        // object.
        let first = json.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(JweError::Malformed("JWE header is not a JSON object"));
        }
        // Derived deserialization rejects duplicates of every member read here (RFC 7516 §4).
        serde_json::from_slice(json).map_err(|_| JweError::Malformed("JWE header is not valid"))
    }

    /// RFC 7516 §5.2 step 5: refuse what Warden does not understand; then the algorithms.
    fn checked_header(&self) -> Result<JweHeader, JweError> {
        if self.crit.0 {
            return Err(JweError::Malformed(
                "critical header extensions are not supported",
            ));
        }
        // RFC 7516 §4.1.3: with `zip` the plaintext would have to be decompressed; Warden does
        // not (and RFC 8725 §3.6 advises against compressing before encryption).
        if self.zip.0 {
            return Err(JweError::Malformed("compression (zip) is not supported"));
        }
        Ok(JweHeader {
            alg: self.alg.parse()?,
            enc: self.enc.parse()?,
            kid: self.kid.clone(),
            cty: self.cty.clone(),
            typ: self.typ.clone(),
        })
    }
}

/// An `epk` as received.
#[derive(Deserialize)]
struct EpkIn {
    kty: String,
    crv: String,
    x: String,
    y: String,
    #[serde(default)]
    d: Present,
}

impl EpkIn {
    /// The uncompressed point, if the `epk` is a public key on `curve`.
    fn point(&self, curve: Curve) -> Result<Vec<u8>, JweError> {
        if self.d.0 {
            return Err(JweError::Malformed("epk carries private key material"));
        }
        if self.kty != "EC" || self.crv != curve.name() {
            return Err(JweError::Malformed(
                "epk is not a key on the recipient's curve",
            ));
        }
        curve
            .point(&self.x, &self.y)
            .map_err(|_| JweError::Malformed("epk coordinates are not valid"))
    }
}

/// Decodes `apu`/`apv` (RFC 7518 §4.6.1.2-3); absent means empty.
fn party_info(value: Option<&str>) -> Result<Vec<u8>, JweError> {
    let decoded = value.map(base64url_decode).transpose()?.unwrap_or_default();
    if decoded.len() > MAX_PARTY_INFO_LEN {
        return Err(JweError::Malformed("apu or apv too long"));
    }
    Ok(decoded)
}

/// The Concat KDF of NIST SP 800-56A §5.8.1 with SHA-256, as RFC 7518 §4.6.2 instantiates it
/// for Direct Key Agreement:
///
/// `K = SHA-256(counter || Z || OtherInfo)` for counter = 1, 2, … (32-bit big-endian),
/// truncated to the key length, where `OtherInfo` is
/// `AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo`: each of the first three a 32-bit
/// big-endian length followed by the octets (AlgorithmID is the `enc` value), SuppPubInfo the
/// key length in bits as 32-bit big-endian, and SuppPrivInfo empty.
fn concat_kdf(z: &[u8], enc: JweEncryption, apu: &[u8], apv: &[u8]) -> Zeroizing<Vec<u8>> {
    let key_len = enc.key_len();
    let algorithm_id = enc.as_str().as_bytes();
    let mut key = Zeroizing::new(Vec::with_capacity(key_len + digest::SHA256_OUTPUT_LEN));
    let mut counter: u32 = 1;
    while key.len() < key_len {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&counter.to_be_bytes());
        ctx.update(z);
        for field in [algorithm_id, apu, apv] {
            // Every field is far below 4 GiB (header size is capped), so the cast is exact.
            ctx.update(&(field.len() as u32).to_be_bytes());
            ctx.update(field);
        }
        ctx.update(&((key_len * 8) as u32).to_be_bytes());
        key.extend_from_slice(ctx.finish().as_ref());
        counter += 1;
    }
    key.truncate(key_len);
    key
}

/// A fresh random content encryption key for `enc`.
fn random_cek(enc: JweEncryption) -> Zeroizing<Vec<u8>> {
    let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(random_bytes());
    Zeroizing::new(bytes.get(..enc.key_len()).unwrap_or_default().to_vec())
}

fn aead_key(enc: JweEncryption, cek: &[u8]) -> Result<LessSafeKey, JweError> {
    let key = UnboundKey::new(enc.aead(), cek).map_err(|_| JweError::Crypto)?;
    Ok(LessSafeKey::new(key))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::rsa::KeySize;
    use serde_json::{Value, json};

    use super::*;

    fn rsa_pkcs8() -> Vec<u8> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let der: Pkcs8V1Der<'static> = key.as_der().unwrap();
        der.as_ref().to_vec()
    }

    fn ec_pkcs8(alg: &'static agreement::Algorithm) -> Vec<u8> {
        let key = agreement::PrivateKey::generate(alg).unwrap();
        let der: Pkcs8V1Der<'static> = key.as_der().unwrap();
        der.as_ref().to_vec()
    }

    const ALL_ALGS: &[JweAlgorithm] = &JweAlgorithm::ALL;
    const ALL_ENCS: &[JweEncryption] = &JweEncryption::ALL;

    /// One RSA key for the whole module: generating 2048-bit keys is the slow part.
    fn rsa_der() -> &'static [u8] {
        static KEY: OnceLock<Vec<u8>> = OnceLock::new();
        KEY.get_or_init(rsa_pkcs8)
    }

    fn decrypters() -> Vec<JweDecrypter> {
        [
            rsa_der().to_vec(),
            ec_pkcs8(&agreement::ECDH_P256),
            ec_pkcs8(&agreement::ECDH_P384),
        ]
        .iter()
        .map(|der| {
            JweDecrypter::from_pkcs8(der, ALL_ALGS, ALL_ENCS)
                .unwrap()
                .with_kid("enc-1")
        })
        .collect()
    }

    fn encrypter_for(decrypter: &JweDecrypter, enc: JweEncryption) -> JweEncrypter {
        JweEncrypter::new(&decrypter.public_jwk(), decrypter.alg(), enc).unwrap()
    }

    fn header_json(token: &str) -> Value {
        let header = token.split('.').next().unwrap();
        serde_json::from_slice(&base64url_decode(header).unwrap()).unwrap()
    }

    /// Replaces part `index` of a compact JWE.
    fn with_part(token: &str, index: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[index] = part;
        parts.join(".")
    }

    /// Flips one bit of the decoded part `index`.
    fn flip_bit(token: &str, index: usize) -> String {
        let part = token.split('.').nth(index).unwrap();
        let mut bytes = base64url_decode(part).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        with_part(token, index, &base64url_encode(&bytes))
    }

    #[test]
    fn names_round_trip_and_none_never_parses() {
        for alg in JweAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<JweAlgorithm>(), Ok(alg));
            assert_eq!(
                serde_json::to_value(alg).unwrap(),
                Value::String(alg.to_string())
            );
        }
        for enc in JweEncryption::ALL {
            assert_eq!(enc.as_str().parse::<JweEncryption>(), Ok(enc));
        }
        assert_eq!(
            serde_json::from_value::<JweAlgorithm>(json!("ECDH-ES")).unwrap(),
            JweAlgorithm::EcdhEs
        );
        for bad in [
            "none",
            "dir",
            "RSA-OAEP",
            "RSA1_5",
            "A256KW",
            "ECDH-ES+A256KW",
            "rsa-oaep-256",
            "",
        ] {
            assert_eq!(
                bad.parse::<JweAlgorithm>(),
                Err(JweError::UnsupportedAlgorithm),
                "{bad}"
            );
        }
        for bad in [
            "A128CBC-HS256",
            "A256CBC-HS512",
            "A192GCM",
            "a256gcm",
            "none",
        ] {
            assert!(bad.parse::<JweEncryption>().is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trip_every_alg_and_enc() {
        for decrypter in decrypters() {
            for enc in JweEncryption::ALL {
                let encrypter = encrypter_for(&decrypter, enc);
                let token = encrypter.encrypt(b"a.nested.jwt", Some("JWT")).unwrap();
                assert_eq!(token.split('.').count(), 5);

                let header = header_json(&token);
                assert_eq!(header["alg"], decrypter.alg().as_str());
                assert_eq!(header["enc"], enc.as_str());
                assert_eq!(header["kid"], "enc-1");
                assert_eq!(header["cty"], "JWT");
                match decrypter.alg() {
                    JweAlgorithm::EcdhEs => {
                        let epk = header["epk"].as_object().unwrap();
                        assert_eq!(epk["kty"], "EC");
                        assert_eq!(epk["crv"], decrypter.public_jwk().crv.unwrap().as_str());
                        assert!(!epk.contains_key("d"));
                        // Direct Key Agreement: empty Encrypted Key.
                        assert_eq!(token.split('.').nth(1), Some(""));
                    }
                    JweAlgorithm::RsaOaep256 => {
                        assert!(header.get("epk").is_none());
                        let encrypted_key = token.split('.').nth(1).unwrap();
                        assert_eq!(base64url_decode(encrypted_key).unwrap().len(), 256);
                    }
                }

                let (decrypted_header, plaintext) = decrypter.decrypt(&token).unwrap();
                assert_eq!(plaintext, b"a.nested.jwt");
                assert_eq!(decrypted_header.alg(), decrypter.alg());
                assert_eq!(decrypted_header.enc(), enc);
                assert_eq!(decrypted_header.kid(), Some("enc-1"));
                assert_eq!(decrypted_header.cty(), Some("JWT"));
                assert_eq!(decrypted_header.typ(), None);
                assert_eq!(JweHeader::peek(&token).unwrap(), decrypted_header);

                // Every encryption is fresh.
                assert_ne!(
                    encrypter.encrypt(b"a.nested.jwt", Some("JWT")).unwrap(),
                    token
                );
            }
        }
    }

    #[test]
    fn header_without_kid_or_cty_and_empty_plaintext() {
        let der = ec_pkcs8(&agreement::ECDH_P256);
        let decrypter = JweDecrypter::from_pkcs8(&der, ALL_ALGS, ALL_ENCS).unwrap();
        let encrypter = encrypter_for(&decrypter, JweEncryption::A256GCM);
        assert_eq!(encrypter.kid(), None);
        let token = encrypter.encrypt(b"", None).unwrap();
        let header = header_json(&token);
        assert_eq!(
            header.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["alg", "enc", "epk"]
        );
        // The header is written in this exact order.
        let raw = base64url_decode(token.split('.').next().unwrap()).unwrap();
        assert!(raw.starts_with(br#"{"alg":"ECDH-ES","enc":"A256GCM","epk":{"kty":"EC""#));
        let (_, plaintext) = decrypter.decrypt(&token).unwrap();
        assert!(plaintext.is_empty());
    }

    #[test]
    fn tampering_fails() {
        for decrypter in decrypters() {
            let token = encrypter_for(&decrypter, JweEncryption::A256GCM)
                .encrypt(br#"{"sub":"alice"}"#, Some("JWT"))
                .unwrap();
            // Ciphertext, tag and IV.
            for index in [2, 3, 4] {
                assert_eq!(
                    decrypter.decrypt(&flip_bit(&token, index)).unwrap_err(),
                    JweError::Decryption,
                    "part {index}"
                );
            }
            // Encrypted key (RSA): same error, same path as a bad tag.
            if decrypter.alg() == JweAlgorithm::RsaOaep256 {
                assert_eq!(
                    decrypter.decrypt(&flip_bit(&token, 1)).unwrap_err(),
                    JweError::Decryption
                );
            }
            // Protected header: re-encode the same JSON with a changed member; the AAD differs.
            let mut header = header_json(&token);
            header["cty"] = json!("jwt");
            let header = base64url_encode(&serde_json::to_vec(&header).unwrap());
            assert_eq!(
                decrypter
                    .decrypt(&with_part(&token, 0, &header))
                    .unwrap_err(),
                JweError::Decryption
            );
            // Even a semantically equal header with other whitespace is another AAD.
            let raw = base64url_decode(token.split('.').next().unwrap()).unwrap();
            let mut spaced = b" ".to_vec();
            spaced.extend_from_slice(&raw);
            assert_eq!(
                decrypter
                    .decrypt(&with_part(&token, 0, &base64url_encode(&spaced)))
                    .unwrap_err(),
                JweError::Decryption
            );
            // Truncated ciphertext.
            assert_eq!(
                decrypter.decrypt(&with_part(&token, 3, "")).unwrap_err(),
                JweError::Decryption
            );
        }
    }

    #[test]
    fn wrong_key_fails() {
        let rsa_other = JweDecrypter::from_pkcs8(&rsa_pkcs8(), ALL_ALGS, ALL_ENCS).unwrap();
        let p256_other =
            JweDecrypter::from_pkcs8(&ec_pkcs8(&agreement::ECDH_P256), ALL_ALGS, ALL_ENCS).unwrap();
        let p384_other =
            JweDecrypter::from_pkcs8(&ec_pkcs8(&agreement::ECDH_P384), ALL_ALGS, ALL_ENCS).unwrap();
        let [rsa, p256, p384]: [JweDecrypter; 3] = decrypters().try_into().unwrap();

        let to_rsa = encrypter_for(&rsa, JweEncryption::A128GCM)
            .encrypt(b"x", None)
            .unwrap();
        let to_p256 = encrypter_for(&p256, JweEncryption::A128GCM)
            .encrypt(b"x", None)
            .unwrap();
        let to_p384 = encrypter_for(&p384, JweEncryption::A128GCM)
            .encrypt(b"x", None)
            .unwrap();
        assert_eq!(
            rsa_other.decrypt(&to_rsa).unwrap_err(),
            JweError::Decryption
        );
        assert_eq!(
            p256_other.decrypt(&to_p256).unwrap_err(),
            JweError::Decryption
        );
        assert_eq!(
            p384_other.decrypt(&to_p384).unwrap_err(),
            JweError::Decryption
        );
        // Another key type: the algorithm is not this key's.
        assert_eq!(
            p256.decrypt(&to_rsa).unwrap_err(),
            JweError::AlgorithmNotAllowed
        );
        assert_eq!(
            rsa.decrypt(&to_p256).unwrap_err(),
            JweError::AlgorithmNotAllowed
        );
        // Same algorithm, other curve.
        assert_eq!(
            p256.decrypt(&to_p384).unwrap_err(),
            JweError::Malformed("epk is not a key on the recipient's curve")
        );
    }

    #[test]
    fn kid_must_match_when_both_are_known() {
        let [_, p256, _]: [JweDecrypter; 3] = decrypters().try_into().unwrap();
        let mut jwk = p256.public_jwk();
        jwk.kid = Some("other".into());
        let token = JweEncrypter::new(&jwk, JweAlgorithm::EcdhEs, JweEncryption::A256GCM)
            .unwrap()
            .encrypt(b"x", None)
            .unwrap();
        assert_eq!(p256.decrypt(&token).unwrap_err(), JweError::KeyMismatch);
        jwk.kid = None;
        let token = JweEncrypter::new(&jwk, JweAlgorithm::EcdhEs, JweEncryption::A256GCM)
            .unwrap()
            .encrypt(b"x", None)
            .unwrap();
        assert!(p256.decrypt(&token).is_ok());
    }

    #[test]
    fn allow_lists_are_enforced() {
        let der = ec_pkcs8(&agreement::ECDH_P256);
        let only_a256 =
            JweDecrypter::from_pkcs8(&der, &[JweAlgorithm::EcdhEs], &[JweEncryption::A256GCM])
                .unwrap();
        let a128 = encrypter_for(&only_a256, JweEncryption::A128GCM)
            .encrypt(b"x", None)
            .unwrap();
        assert_eq!(
            only_a256.decrypt(&a128).unwrap_err(),
            JweError::AlgorithmNotAllowed
        );
        // The key's own algorithm must be allowed, and some enc must be.
        assert_eq!(
            JweDecrypter::from_pkcs8(&der, &[JweAlgorithm::RsaOaep256], ALL_ENCS).unwrap_err(),
            JweError::KeyMismatch
        );
        assert_eq!(
            JweDecrypter::from_pkcs8(rsa_der(), &[JweAlgorithm::EcdhEs], ALL_ENCS).unwrap_err(),
            JweError::KeyMismatch
        );
        assert_eq!(
            JweDecrypter::from_pkcs8(&der, ALL_ALGS, &[]).unwrap_err(),
            JweError::AlgorithmNotAllowed
        );
        assert!(matches!(
            JweDecrypter::from_pkcs8(b"not der", ALL_ALGS, ALL_ENCS),
            Err(JweError::InvalidKey(_))
        ));
    }

    /// A token with an arbitrary protected header and dummy other parts.
    fn forge(header: &Value) -> String {
        format!(
            "{}..{}.{}.{}",
            base64url_encode(&serde_json::to_vec(header).unwrap()),
            base64url_encode(&[0; 12]),
            base64url_encode(b"ciphertext"),
            base64url_encode(&[0; 16])
        )
    }

    #[test]
    fn unsupported_and_refused_headers() {
        let [rsa, p256, _]: [JweDecrypter; 3] = decrypters().try_into().unwrap();
        for alg in [
            "none",
            "dir",
            "RSA-OAEP",
            "RSA1_5",
            "A128KW",
            "ECDH-ES+A128KW",
            "HS256",
        ] {
            let token = forge(&json!({"alg": alg, "enc": "A256GCM"}));
            for decrypter in [&rsa, &p256] {
                assert_eq!(
                    decrypter.decrypt(&token).unwrap_err(),
                    JweError::UnsupportedAlgorithm,
                    "{alg}"
                );
            }
        }
        for enc in ["A128CBC-HS256", "A256CBC-HS512", "none", ""] {
            let token = forge(&json!({"alg": "ECDH-ES", "enc": enc}));
            assert_eq!(
                p256.decrypt(&token).unwrap_err(),
                JweError::UnsupportedAlgorithm,
                "{enc}"
            );
        }

        let malformed = |decrypter: &JweDecrypter, token: &str| {
            matches!(decrypter.decrypt(token), Err(JweError::Malformed(_)))
        };
        let header_b64 = |raw: &str| base64url_encode(raw.as_bytes());
        let valid = encrypter_for(&p256, JweEncryption::A256GCM)
            .encrypt(b"x", None)
            .unwrap();
        let epk = header_json(&valid)["epk"].clone();

        // Header shape.
        for raw in [
            r#"["alg","ECDH-ES"]"#,
            r#"{"alg":"ECDH-ES"}"#,
            r#"{"enc":"A256GCM"}"#,
            r#"{"alg":"ECDH-ES","alg":"ECDH-ES","enc":"A256GCM"}"#,
            r#"{"alg":"ECDH-ES","enc":"A256GCM","crit":["exp"],"exp":1}"#,
            r#"{"alg":"ECDH-ES","enc":"A256GCM","zip":"DEF"}"#,
            r#"{"alg":"ECDH-ES","enc":"A256GCM","kid":7}"#,
        ] {
            assert!(
                malformed(&p256, &with_part(&valid, 0, &header_b64(raw))),
                "{raw}"
            );
        }

        // epk: missing, wrong type, wrong curve, private member, bad coordinates.
        let ecdh = |epk: Value| forge(&json!({"alg": "ECDH-ES", "enc": "A256GCM", "epk": epk}));
        assert!(malformed(
            &p256,
            &forge(&json!({"alg": "ECDH-ES", "enc": "A256GCM"}))
        ));
        let mut bad = epk.clone();
        bad["kty"] = json!("OKP");
        assert!(malformed(&p256, &ecdh(bad)));
        let mut bad = epk.clone();
        bad["crv"] = json!("P-384");
        assert!(malformed(&p256, &ecdh(bad)));
        let mut bad = epk.clone();
        bad["d"] = json!("AAAA");
        assert!(malformed(&p256, &ecdh(bad)));
        let mut bad = epk.clone();
        bad["x"] = json!("AAAA");
        assert!(malformed(&p256, &ecdh(bad)));
        // Right length, but not on the curve: aws-lc refuses the point.
        let mut bad = epk.clone();
        let mut y = base64url_decode(bad["y"].as_str().unwrap()).unwrap();
        y[31] ^= 1;
        bad["y"] = json!(base64url_encode(&y));
        assert_eq!(
            p256.decrypt(&ecdh(bad)).unwrap_err(),
            JweError::Malformed("epk is not a valid public key")
        );
        // The point at infinity / all zeros.
        let mut bad = epk.clone();
        bad["x"] = json!(base64url_encode(&[0; 32]));
        bad["y"] = json!(base64url_encode(&[0; 32]));
        assert!(malformed(&p256, &ecdh(bad)));
        // ECDH-ES with a non-empty Encrypted Key.
        assert!(malformed(&p256, &with_part(&valid, 1, "AAAA")));
        // RSA with ECDH members.
        let rsa_token = forge(&json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "epk": epk}));
        assert!(malformed(&rsa, &rsa_token));
    }

    #[test]
    fn structure_is_strict() {
        let [_, p256, _]: [JweDecrypter; 3] = decrypters().try_into().unwrap();
        let token = encrypter_for(&p256, JweEncryption::A256GCM)
            .encrypt(b"x", None)
            .unwrap();
        for bad in [
            "",
            "a.b.c.d",
            "a.b.c.d.e.f",
            &format!("{token}."),
            &format!("{token}="),
        ] {
            assert!(
                matches!(p256.decrypt(bad), Err(JweError::Malformed(_))),
                "{bad}"
            );
        }
        // IV of the wrong length, tag of the wrong length.
        assert_eq!(
            p256.decrypt(&with_part(&token, 2, &base64url_encode(&[0; 16])))
                .unwrap_err(),
            JweError::Malformed("the IV must be 96 bits")
        );
        assert_eq!(
            p256.decrypt(&with_part(&token, 4, &base64url_encode(&[0; 12])))
                .unwrap_err(),
            JweError::Malformed("the authentication tag must be 128 bits")
        );
        // Oversized input is refused before any decoding.
        let long = with_part(&token, 3, &"A".repeat(MAX_COMPACT_JWE_LEN));
        assert_eq!(
            p256.decrypt(&long).unwrap_err(),
            JweError::Malformed("token too long")
        );
        let encrypter = encrypter_for(&p256, JweEncryption::A256GCM);
        assert!(
            encrypter
                .encrypt(&vec![0; MAX_COMPACT_JWE_LEN + 1], None)
                .is_err()
        );
    }

    #[test]
    fn encrypter_refuses_unfit_keys() {
        let [rsa, p256, _]: [JweDecrypter; 3] = decrypters().try_into().unwrap();
        let rsa_jwk = rsa.public_jwk();
        let ec_jwk = p256.public_jwk();
        let a256 = JweEncryption::A256GCM;

        // Key type must fit the alg.
        assert_eq!(
            JweEncrypter::new(&rsa_jwk, JweAlgorithm::EcdhEs, a256).unwrap_err(),
            JweError::KeyMismatch
        );
        assert_eq!(
            JweEncrypter::new(&ec_jwk, JweAlgorithm::RsaOaep256, a256).unwrap_err(),
            JweError::KeyMismatch
        );
        // The JWK's alg member narrows it.
        let mut wrong_alg = ec_jwk.clone();
        wrong_alg.alg = Some("ECDH-ES+A256KW".into());
        assert_eq!(
            JweEncrypter::new(&wrong_alg, JweAlgorithm::EcdhEs, a256).unwrap_err(),
            JweError::KeyMismatch
        );
        // use and key_ops.
        let mut sig = ec_jwk.clone();
        sig.use_ = Some("sig".into());
        assert_eq!(
            JweEncrypter::new(&sig, JweAlgorithm::EcdhEs, a256).unwrap_err(),
            JweError::KeyMismatch
        );
        let mut ops = ec_jwk.clone();
        ops.key_ops = Some(vec!["verify".into()]);
        assert!(JweEncrypter::new(&ops, JweAlgorithm::EcdhEs, a256).is_err());
        ops.key_ops = Some(vec!["deriveKey".into()]);
        assert!(JweEncrypter::new(&ops, JweAlgorithm::EcdhEs, a256).is_ok());
        let mut ops = rsa_jwk.clone();
        ops.key_ops = Some(vec!["wrapKey".into()]);
        assert!(JweEncrypter::new(&ops, JweAlgorithm::RsaOaep256, a256).is_ok());
        // Private material.
        let mut private = ec_jwk.clone();
        private.d = Some(json!("AAAA"));
        assert_eq!(
            JweEncrypter::new(&private, JweAlgorithm::EcdhEs, a256).unwrap_err(),
            JweError::InvalidKey("JWK carries private key material")
        );
        // Short RSA modulus.
        let mut short = rsa_jwk.clone();
        short.n = Some(base64url_encode(&[0xc5; 128]));
        assert_eq!(
            JweEncrypter::new(&short, JweAlgorithm::RsaOaep256, a256).unwrap_err(),
            JweError::InvalidKey("RSA modulus shorter than 2048 bits")
        );
        // Point not on the curve.
        let mut off_curve = ec_jwk.clone();
        let mut y = base64url_decode(off_curve.y.as_deref().unwrap()).unwrap();
        y[31] ^= 1;
        off_curve.y = Some(base64url_encode(&y));
        assert_eq!(
            JweEncrypter::new(&off_curve, JweAlgorithm::EcdhEs, a256).unwrap_err(),
            JweError::InvalidKey("public key is not valid for its type")
        );
        // Other key types.
        let okp: Jwk = serde_json::from_value(json!({"kty": "OKP", "crv": "X25519",
            "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}))
        .unwrap();
        assert!(JweEncrypter::new(&okp, JweAlgorithm::EcdhEs, a256).is_err());
        let p521: Jwk =
            serde_json::from_value(json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}))
                .unwrap();
        assert!(JweEncrypter::new(&p521, JweAlgorithm::EcdhEs, a256).is_err());
    }

    #[test]
    fn from_jwk_set_prefers_enc_keys() {
        let [rsa, p256, _]: [JweDecrypter; 3] = decrypters().try_into().unwrap();
        let mut sig = p256.public_jwk();
        sig.use_ = Some("sig".into());
        sig.kid = Some("sig-1".into());
        let mut unmarked = p256.public_jwk();
        unmarked.use_ = None;
        unmarked.kid = Some("plain-1".into());
        let mut enc = p256.public_jwk();
        enc.kid = Some("enc-1".into());
        let set = JwkSet {
            keys: vec![sig.clone(), unmarked.clone(), rsa.public_jwk(), enc],
        };
        let a256 = JweEncryption::A256GCM;
        let ecdh = JweEncrypter::from_jwk_set(&set, JweAlgorithm::EcdhEs, a256).unwrap();
        assert_eq!(ecdh.kid(), Some("enc-1"));
        let oaep = JweEncrypter::from_jwk_set(&set, JweAlgorithm::RsaOaep256, a256).unwrap();
        assert_eq!(oaep.kid(), Some("enc-1"));
        assert_eq!(oaep.alg(), JweAlgorithm::RsaOaep256);

        let set = JwkSet {
            keys: vec![sig.clone(), unmarked],
        };
        let ecdh = JweEncrypter::from_jwk_set(&set, JweAlgorithm::EcdhEs, a256).unwrap();
        assert_eq!(ecdh.kid(), Some("plain-1"));
        let set = JwkSet { keys: vec![sig] };
        assert_eq!(
            JweEncrypter::from_jwk_set(&set, JweAlgorithm::EcdhEs, a256).unwrap_err(),
            JweError::KeyMismatch
        );
    }

    #[test]
    fn public_jwk_members() {
        let [rsa, p256, p384]: [JweDecrypter; 3] = decrypters().try_into().unwrap();
        let json = serde_json::to_value(rsa.public_jwk()).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["alg", "e", "kid", "kty", "n", "use"]
        );
        assert_eq!(json["alg"], "RSA-OAEP-256");
        assert_eq!(json["use"], "enc");
        assert_eq!(json["e"], "AQAB");
        let json = serde_json::to_value(p384.public_jwk()).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["alg", "crv", "kid", "kty", "use", "x", "y"]
        );
        assert_eq!(json["crv"], "P-384");
        assert_eq!(
            base64url_decode(json["x"].as_str().unwrap()).unwrap().len(),
            48
        );
        assert_eq!(p256.public_jwk().crv.as_deref(), Some("P-256"));
        assert_eq!(p256.kid(), Some("enc-1"));
    }

    #[test]
    fn debug_is_redacted() {
        let [_, p256, _]: [JweDecrypter; 3] = decrypters().try_into().unwrap();
        assert_eq!(
            format!("{p256:?}"),
            r#"JweDecrypter { kid: Some("enc-1"), alg: EcdhEs, allowed_encs: [A256GCM, A128GCM], .. }"#
        );
        let encrypter = encrypter_for(&p256, JweEncryption::A128GCM);
        assert_eq!(
            format!("{encrypter:?}"),
            r#"JweEncrypter { kid: Some("enc-1"), alg: EcdhEs, enc: A128GCM, .. }"#
        );
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JweEncrypter>();
        assert_send_sync::<JweDecrypter>();
    }

    #[test]
    fn concat_kdf_rfc7518_appendix_c() {
        // RFC 7518 Appendix C: Bob's static key, Alice's ephemeral public key, A128GCM,
        // apu "Alice", apv "Bob"; the derived key is VqqN6vgjbSBcIijNcacQGg.
        let bob_d = base64url_decode("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw").unwrap();
        let bob = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &bob_d).unwrap();
        let alice = Curve::P256
            .point(
                "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
                "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
            )
            .unwrap();
        let apu = party_info(Some("QWxpY2U")).unwrap();
        let apv = party_info(Some("Qm9i")).unwrap();
        assert_eq!(
            (apu.as_slice(), apv.as_slice()),
            (&b"Alice"[..], &b"Bob"[..])
        );
        let key = agreement::agree(
            &bob,
            UnparsedPublicKey::new(&agreement::ECDH_P256, &alice),
            JweError::Crypto,
            |z| Ok(concat_kdf(z, JweEncryption::A128GCM, &apu, &apv)),
        )
        .unwrap();
        assert_eq!(base64url_encode(&key), "VqqN6vgjbSBcIijNcacQGg");
    }

    #[test]
    fn concat_kdf_output_lengths() {
        let z = [7u8; 32];
        let k128 = concat_kdf(&z, JweEncryption::A128GCM, &[], &[]);
        let k256 = concat_kdf(&z, JweEncryption::A256GCM, &[], &[]);
        assert_eq!((k128.len(), k256.len()), (16, 32));
        // AlgorithmID and SuppPubInfo differ, so one is not a prefix of the other.
        assert_ne!(&k256[..16], k128.as_slice());
    }
}
