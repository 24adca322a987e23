//! RFC 7517 JSON Web Keys turned into verification keys, and RFC 7638 thumbprints.
//!
//! A [`VerifyingKey`] is parsed once from a public JWK and keeps one aws-lc
//! [`ParsedPublicKey`] per JWS algorithm it may verify, so verifying a token never re-parses a
//! key. The set of algorithms is fixed at parse time from the key type (and the JWK's own `alg`
//! member, when present): that set is the only thing that decides whether a token's `alg` may
//! be tried with the key, which is what stops algorithm confusion (RFC 8725 §2.1, §3.1).

use std::fmt;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use serde::Serialize;
use warden_types::JwsAlgorithm;
use warden_types::jwk::{Jwk, JwkSet};

use crate::JoseError;
use crate::primitives::{base64url_decode, base64url_encode, sha256};

/// The smallest RSA modulus accepted, in bits. RFC 7518 §3.3: "A key of size 2048 bits or
/// larger MUST be used with these algorithms."
pub const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus accepted, in bits: aws-lc's verification range ends here, and the
/// bound caps the work one hostile key can cause.
const MAX_RSA_BITS: usize = 8192;

/// The JWS algorithms an RSA key can verify (RFC 7518 §3.3, §3.5).
const RSA_ALGORITHMS: [JwsAlgorithm; 6] = [
    JwsAlgorithm::RS256,
    JwsAlgorithm::RS384,
    JwsAlgorithm::RS512,
    JwsAlgorithm::PS256,
    JwsAlgorithm::PS384,
    JwsAlgorithm::PS512,
];

/// What kind of public key a [`VerifyingKey`] holds; public facts only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA (`kty` `RSA`), with its modulus length in bits.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// ECDSA on P-256 (`kty` `EC`, `crv` `P-256`).
    P256,
    /// ECDSA on P-384 (`kty` `EC`, `crv` `P-384`).
    P384,
    /// Ed25519 (`kty` `OKP`, `crv` `Ed25519`, RFC 8037).
    Ed25519,
}

impl KeyType {
    /// Every JWS algorithm this kind of key can verify. Never an HMAC algorithm: a public key
    /// is not a shared secret, whatever a token's header claims (RFC 8725 §2.1).
    pub fn algorithms(self) -> &'static [JwsAlgorithm] {
        match self {
            Self::Rsa { .. } => &RSA_ALGORITHMS,
            Self::P256 => &[JwsAlgorithm::ES256],
            Self::P384 => &[JwsAlgorithm::ES384],
            Self::Ed25519 => &[JwsAlgorithm::EdDSA],
        }
    }
}

/// A public key that verifies JWS signatures, parsed once from a JWK.
///
/// Built by [`VerifyingKey::from_jwk`] (client JWKs, a resource server's JWKS) or by
/// [`SigningKey::verifying_key`](crate::SigningKey::verifying_key) (Warden's own keys).
/// Cloning is cheap: the parsed aws-lc keys are reference counted.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    jwk_alg: Option<JwsAlgorithm>,
    key_type: KeyType,
    /// One parsed key per algorithm this key may verify; nothing else may be tried.
    verifiers: Vec<(JwsAlgorithm, ParsedPublicKey)>,
}

impl VerifyingKey {
    /// Parses a public JWK (RFC 7517) into a verification key.
    ///
    /// Accepted: `RSA` (`n`, `e`; modulus of 2048 to 8192 bits), `EC` on `P-256` or `P-384`
    /// (`x`, `y`), `OKP` on `Ed25519` (`x`, RFC 8037). Refused: `oct` and any JWK carrying
    /// private material (`d`, `k`), a `use` other than `sig`, `key_ops` without `verify`, an
    /// `alg` member Warden does not know or that does not fit the key type. `x5c` is ignored:
    /// the key is the one in the JWK members.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        // A client that publishes its private key has lost it; refuse rather than use it.
        if jwk.has_private_material() {
            return Err(JoseError::InvalidKey("JWK carries private key material"));
        }
        // RFC 7517 §4.2: `use` "sig" is for signatures; "enc" keys must not verify tokens.
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(JoseError::InvalidKey("JWK use is not \"sig\""));
        }
        // RFC 7517 §4.3: when `key_ops` is present it lists every permitted operation.
        let may_verify = |ops: &Vec<String>| ops.iter().any(|op| op == "verify");
        if !jwk.key_ops.as_ref().is_none_or(may_verify) {
            return Err(JoseError::InvalidKey(
                "JWK key_ops does not allow \"verify\"",
            ));
        }
        let jwk_alg = jwk
            .alg
            .as_deref()
            .map(str::parse::<JwsAlgorithm>)
            .transpose()
            .map_err(|_| JoseError::InvalidKey("JWK alg is not a supported JWS algorithm"))?;

        let material = KeyMaterial::from_jwk(jwk)?;
        let key_type = material.key_type();
        let algorithms: &[JwsAlgorithm] = match &jwk_alg {
            // RFC 7517 §4.4: the `alg` member names "the algorithm intended for use with the
            // key"; we hold the key to exactly that one.
            Some(alg) if key_type.algorithms().contains(alg) => std::slice::from_ref(alg),
            Some(_) => return Err(JoseError::InvalidKey("JWK alg does not fit its key type")),
            None => key_type.algorithms(),
        };
        let verifiers = algorithms
            .iter()
            .map(|&alg| Ok((alg, material.parse_for(alg)?)))
            .collect::<Result<Vec<_>, JoseError>>()?;

        Ok(Self {
            kid: jwk.kid.clone(),
            jwk_alg,
            key_type,
            verifiers,
        })
    }

    /// The JWK's `kid`, if it has one (RFC 7517 §4.5).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWK's `alg` member, if it had one (RFC 7517 §4.4).
    pub fn jwk_alg(&self) -> Option<JwsAlgorithm> {
        self.jwk_alg
    }

    /// The kind of key.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Whether this key may verify a JWS with `alg`: RSA keys for RS*/PS*, P-256 for ES256,
    /// P-384 for ES384, Ed25519 for EdDSA, never HS*; and only the JWK's own `alg` when it has
    /// one.
    pub fn supports(&self, alg: JwsAlgorithm) -> bool {
        self.verifiers.iter().any(|(a, _)| *a == alg)
    }

    /// Every algorithm this key may verify.
    pub fn algorithms(&self) -> impl Iterator<Item = JwsAlgorithm> + '_ {
        self.verifiers.iter().map(|(alg, _)| *alg)
    }

    /// Verifies `signature` over `message` with `alg`.
    pub(crate) fn verify(
        &self,
        alg: JwsAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError> {
        let (_, key) = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or(JoseError::KeyMismatch)?;
        key.verify_sig(message, signature)
            .map_err(|_| JoseError::InvalidSignature)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("key_type", &self.key_type)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish()
    }
}

/// Decoded public key members, before they are bound to an algorithm. Also the starting point
/// of JWE recipient keys ([`JweEncrypter`](crate::JweEncrypter)).
pub(crate) enum KeyMaterial {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        bits: usize,
    },
    /// The uncompressed SEC1 point `0x04 || x || y`.
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

impl KeyMaterial {
    pub(crate) fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        match jwk.kty.as_str() {
            "RSA" => {
                let n = decode_member(jwk.n.as_deref())?;
                let e = decode_member(jwk.e.as_deref())?;
                // RFC 7518 §6.3.1.1 asks producers for the minimal encoding; some publish a
                // leading zero octet anyway. Stripping it is harmless and aws-lc needs it gone.
                let n = strip_leading_zeros(&n);
                let e = strip_leading_zeros(&e);
                let bits = bit_length(&n);
                if bits < MIN_RSA_BITS {
                    return Err(JoseError::InvalidKey("RSA modulus shorter than 2048 bits"));
                }
                if bits > MAX_RSA_BITS {
                    return Err(JoseError::InvalidKey("RSA modulus longer than 8192 bits"));
                }
                // An odd exponent of at most 33 bits, as aws-lc requires at verification time;
                // checked here so a bad key is refused when it is registered, not on first use.
                let e_is_odd = e.last().is_some_and(|b| b & 1 == 1);
                if !e_is_odd || e == [1] || bit_length(&e) > 33 {
                    return Err(JoseError::InvalidKey(
                        "RSA public exponent is not acceptable",
                    ));
                }
                Ok(Self::Rsa { n, e, bits })
            }
            "EC" => {
                let (curve_len, wrap): (usize, fn(Vec<u8>) -> Self) = match jwk.crv.as_deref() {
                    Some("P-256") => (32, Self::P256),
                    Some("P-384") => (48, Self::P384),
                    _ => return Err(JoseError::InvalidKey("unsupported EC curve")),
                };
                let x = decode_member(jwk.x.as_deref())?;
                let y = decode_member(jwk.y.as_deref())?;
                // RFC 7518 §6.2.1.2/§6.2.1.3: each coordinate is the full-length octet string.
                if x.len() != curve_len || y.len() != curve_len {
                    return Err(JoseError::InvalidKey("EC coordinate has the wrong length"));
                }
                let mut point = Vec::with_capacity(1 + 2 * curve_len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Ok(wrap(point))
            }
            "OKP" => {
                if jwk.crv.as_deref() != Some("Ed25519") {
                    return Err(JoseError::InvalidKey("unsupported OKP curve"));
                }
                let x = decode_member(jwk.x.as_deref())?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidKey("Ed25519 key has the wrong length"));
                }
                Ok(Self::Ed25519(x))
            }
            "oct" => Err(JoseError::InvalidKey("symmetric keys are not accepted")),
            _ => Err(JoseError::InvalidKey("unsupported key type")),
        }
    }

    fn key_type(&self) -> KeyType {
        match self {
            Self::Rsa { bits, .. } => KeyType::Rsa { bits: *bits },
            Self::P256(_) => KeyType::P256,
            Self::P384(_) => KeyType::P384,
            Self::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// Parses the key for one algorithm. The caller only passes algorithms from
    /// [`KeyType::algorithms`], so any other pairing is refused as a mismatch.
    fn parse_for(&self, alg: JwsAlgorithm) -> Result<ParsedPublicKey, JoseError> {
        let parsed = match (self, alg) {
            (Self::Rsa { n, e, .. }, _) => {
                let params = rsa_parameters(alg).ok_or(JoseError::KeyMismatch)?;
                RsaPublicKeyComponents { n, e }.to_parsed_public_key(params)
            }
            (Self::P256(point), JwsAlgorithm::ES256) => {
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            }
            (Self::P384(point), JwsAlgorithm::ES384) => {
                ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
            }
            (Self::Ed25519(x), JwsAlgorithm::EdDSA) => ParsedPublicKey::new(&signature::ED25519, x),
            _ => return Err(JoseError::KeyMismatch),
        };
        parsed.map_err(|_| JoseError::InvalidKey("public key is not valid for its type"))
    }
}

/// RFC 7518 §3.3 (PKCS#1 v1.5) and §3.5 (PSS, salt length = hash length, MGF1 with the same
/// hash) mapped to aws-lc verification parameters.
fn rsa_parameters(alg: JwsAlgorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        JwsAlgorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        JwsAlgorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        JwsAlgorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        JwsAlgorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        JwsAlgorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        JwsAlgorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn decode_member(value: Option<&str>) -> Result<Vec<u8>, JoseError> {
    let value = value.ok_or(JoseError::InvalidKey("JWK is missing a required member"))?;
    base64url_decode(value).map_err(|_| JoseError::InvalidKey("JWK member is not base64url"))
}

fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// Bit length of a big-endian unsigned integer without leading zero octets.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// A set of verification keys, e.g. a client's registered JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, Default)]
pub struct VerifyingKeySet {
    keys: Vec<VerifyingKey>,
}

impl VerifyingKeySet {
    /// Builds a set from a JWK Set, skipping (not failing on) keys it cannot use for signature
    /// verification: `enc` keys, symmetric keys, unknown key types or curves, short RSA keys.
    /// A set that mixes encryption and signing keys is normal (RFC 7517 §5).
    ///
    /// Refusing a JWK Set that carries private material is a registration decision; see
    /// [`Jwk::has_private_material`]. Such keys are skipped here.
    pub fn from_jwk_set(set: &JwkSet) -> Self {
        set.keys
            .iter()
            .filter_map(|jwk| VerifyingKey::from_jwk(jwk).ok())
            .collect()
    }

    /// A set of already parsed keys.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self { keys }
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no usable key remained.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every usable key.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.iter()
    }

    /// The keys a JWS with this `kid` and `alg` may be verified with: when `kid` is given, the
    /// keys with exactly that `kid` (RFC 7515 §4.1.4); otherwise every key. Either way only
    /// keys that [support](VerifyingKey::supports) `alg`.
    pub fn candidates(
        &self,
        kid: Option<&str>,
        alg: JwsAlgorithm,
    ) -> impl Iterator<Item = &VerifyingKey> {
        self.keys
            .iter()
            .filter(move |key| key.supports(alg) && kid.is_none_or(|kid| key.kid() == Some(kid)))
    }
}

impl From<&JwkSet> for VerifyingKeySet {
    fn from(set: &JwkSet) -> Self {
        Self::from_jwk_set(set)
    }
}

impl FromIterator<VerifyingKey> for VerifyingKeySet {
    fn from_iter<I: IntoIterator<Item = VerifyingKey>>(iter: I) -> Self {
        Self {
            keys: iter.into_iter().collect(),
        }
    }
}

/// The RFC 7638 JWK thumbprint: SHA-256 over the key's required members, base64url.
///
/// RFC 7638 §3.2: only the required members of the key type, in lexicographic order, with no
/// whitespace; their values are used as they appear in the JWK. Supported for `RSA` (`e`,
/// `kty`, `n`), `EC` (`crv`, `kty`, `x`, `y`), `OKP` (`crv`, `kty`, `x`, RFC 8037 §2) and `oct`
/// (`k`, `kty`).
pub fn jwk_thumbprint(jwk: &Jwk) -> Result<String, JoseError> {
    // serde_json writes struct fields in declaration order and escapes strings as RFC 7638
    // §3.3 expects, so each struct below lists its members already sorted.
    #[derive(Serialize)]
    struct Rsa<'a> {
        e: &'a str,
        kty: &'a str,
        n: &'a str,
    }
    #[derive(Serialize)]
    struct Ec<'a> {
        crv: &'a str,
        kty: &'a str,
        x: &'a str,
        y: &'a str,
    }
    #[derive(Serialize)]
    struct Okp<'a> {
        crv: &'a str,
        kty: &'a str,
        x: &'a str,
    }
    #[derive(Serialize)]
    struct Oct<'a> {
        k: &'a str,
        kty: &'a str,
    }

    let missing = JoseError::InvalidKey("JWK is missing a required member");
    let kty = jwk.kty.as_str();
    let json = match kty {
        "RSA" => serde_json::to_vec(&Rsa {
            e: jwk.e.as_deref().ok_or(missing)?,
            kty,
            n: jwk.n.as_deref().ok_or(missing)?,
        }),
        "EC" => serde_json::to_vec(&Ec {
            crv: jwk.crv.as_deref().ok_or(missing)?,
            kty,
            x: jwk.x.as_deref().ok_or(missing)?,
            y: jwk.y.as_deref().ok_or(missing)?,
        }),
        "OKP" => serde_json::to_vec(&Okp {
            crv: jwk.crv.as_deref().ok_or(missing)?,
            kty,
            x: jwk.x.as_deref().ok_or(missing)?,
        }),
        "oct" => serde_json::to_vec(&Oct {
            k: jwk.k.as_ref().and_then(|k| k.as_str()).ok_or(missing)?,
            kty,
        }),
        _ => return Err(JoseError::InvalidKey("unsupported key type")),
    }
    .map_err(|_| JoseError::Malformed("JWK members could not be serialized"))?;
    Ok(base64url_encode(&sha256(&json)))
}

/// A public JWK with only `kty` set; the caller fills in the key members.
pub(crate) fn public_jwk(kty: &str) -> Jwk {
    Jwk {
        kty: kty.to_owned(),
        kid: None,
        use_: None,
        alg: None,
        key_ops: None,
        n: None,
        e: None,
        crv: None,
        x: None,
        y: None,
        x5c: None,
        d: None,
        k: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(json: &str) -> Jwk {
        serde_json::from_str(json).unwrap()
    }

    // RFC 7515 Appendix A.3 public key.
    const EC_P256: &str = r#"{"kty":"EC","crv":"P-256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    // RFC 8037 Appendix A.2 public key.
    const ED25519: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn ec_key_supports_only_its_curve_algorithm() {
        let key = VerifyingKey::from_jwk(&jwk(EC_P256)).unwrap();
        assert_eq!(key.key_type(), KeyType::P256);
        assert!(key.supports(JwsAlgorithm::ES256));
        for alg in JwsAlgorithm::ALL {
            if alg != JwsAlgorithm::ES256 {
                assert!(!key.supports(alg), "{alg}");
            }
        }
    }

    #[test]
    fn okp_key_supports_eddsa() {
        let key = VerifyingKey::from_jwk(&jwk(ED25519)).unwrap();
        assert_eq!(key.algorithms().collect::<Vec<_>>(), [JwsAlgorithm::EdDSA]);
    }

    #[test]
    fn jwk_alg_member_narrows_support() {
        let mut with_alg = jwk(EC_P256);
        with_alg.alg = Some("ES256".into());
        let key = VerifyingKey::from_jwk(&with_alg).unwrap();
        assert_eq!(key.jwk_alg(), Some(JwsAlgorithm::ES256));

        with_alg.alg = Some("RS256".into());
        assert_eq!(
            VerifyingKey::from_jwk(&with_alg).unwrap_err(),
            JoseError::InvalidKey("JWK alg does not fit its key type")
        );
        with_alg.alg = Some("RSA-OAEP".into());
        assert!(VerifyingKey::from_jwk(&with_alg).is_err());
    }

    #[test]
    fn refuses_private_symmetric_and_encryption_keys() {
        let private = jwk(r#"{"kty":"EC","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#);
        assert_eq!(
            VerifyingKey::from_jwk(&private).unwrap_err(),
            JoseError::InvalidKey("JWK carries private key material")
        );

        let oct = jwk(r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ"}"#);
        assert!(VerifyingKey::from_jwk(&oct).is_err());
        let oct_without_k = jwk(r#"{"kty":"oct"}"#);
        assert_eq!(
            VerifyingKey::from_jwk(&oct_without_k).unwrap_err(),
            JoseError::InvalidKey("symmetric keys are not accepted")
        );

        let mut enc = jwk(EC_P256);
        enc.use_ = Some("enc".into());
        assert_eq!(
            VerifyingKey::from_jwk(&enc).unwrap_err(),
            JoseError::InvalidKey("JWK use is not \"sig\"")
        );

        let mut sign_only = jwk(EC_P256);
        sign_only.key_ops = Some(vec!["sign".into()]);
        assert!(VerifyingKey::from_jwk(&sign_only).is_err());
        sign_only.key_ops = Some(vec!["verify".into()]);
        assert!(VerifyingKey::from_jwk(&sign_only).is_ok());
    }

    #[test]
    fn refuses_bad_ec_points() {
        // Wrong coordinate length.
        let short = jwk(r#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#);
        assert_eq!(
            VerifyingKey::from_jwk(&short).unwrap_err(),
            JoseError::InvalidKey("EC coordinate has the wrong length")
        );
        // Right length, but (x, y+1) is not on the curve.
        let mut off_curve = jwk(EC_P256);
        let mut y = base64url_decode(off_curve.y.as_deref().unwrap()).unwrap();
        y[31] ^= 1;
        off_curve.y = Some(base64url_encode(&y));
        assert_eq!(
            VerifyingKey::from_jwk(&off_curve).unwrap_err(),
            JoseError::InvalidKey("public key is not valid for its type")
        );
        let p521 = jwk(r#"{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}"#);
        assert!(VerifyingKey::from_jwk(&p521).is_err());
        let x25519 = jwk(r#"{"kty":"OKP","crv":"X25519","x":"AA"}"#);
        assert!(VerifyingKey::from_jwk(&x25519).is_err());
    }

    #[test]
    fn refuses_short_rsa_modulus() {
        let n = base64url_encode(&[0xc5; 128]); // 1024 bits
        let short: Jwk = jwk(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#));
        assert_eq!(
            VerifyingKey::from_jwk(&short).unwrap_err(),
            JoseError::InvalidKey("RSA modulus shorter than 2048 bits")
        );
        // A leading zero octet does not count towards the length.
        let mut padded = vec![0u8];
        padded.extend_from_slice(&[0xc5; 255]); // 2040 bits
        let n = base64url_encode(&padded);
        let short: Jwk = jwk(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#));
        assert!(VerifyingKey::from_jwk(&short).is_err());
        // Even exponent.
        let n = base64url_encode(&[0xc5; 256]);
        let even_e: Jwk = jwk(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAA"}}"#));
        assert_eq!(
            VerifyingKey::from_jwk(&even_e).unwrap_err(),
            JoseError::InvalidKey("RSA public exponent is not acceptable")
        );
        let ok: Jwk = jwk(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#));
        let key = VerifyingKey::from_jwk(&ok).unwrap();
        assert_eq!(key.key_type(), KeyType::Rsa { bits: 2048 });
        assert!(key.supports(JwsAlgorithm::PS512));
        assert!(!key.supports(JwsAlgorithm::HS256));
        assert!(!key.supports(JwsAlgorithm::ES256));
    }

    #[test]
    fn key_set_skips_unusable_keys_and_selects_by_kid() {
        let set: JwkSet = serde_json::from_str(&format!(
            r#"{{"keys":[
                {{"kty":"oct","k":"c2VjcmV0"}},
                {{"kty":"EC","crv":"P-256","use":"enc","kid":"enc-1",
                  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                  "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}},
                {{"kty":"EC","crv":"P-256","kid":"ec-1",
                  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                  "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}},
                {ED25519}
            ]}}"#
        ))
        .unwrap();
        let keys = VerifyingKeySet::from(&set);
        assert_eq!(keys.len(), 2);

        let by_kid: Vec<_> = keys.candidates(Some("ec-1"), JwsAlgorithm::ES256).collect();
        assert_eq!(by_kid.len(), 1);
        assert_eq!(by_kid[0].kid(), Some("ec-1"));
        // A kid that names an unusable or absent key matches nothing.
        assert_eq!(
            keys.candidates(Some("enc-1"), JwsAlgorithm::ES256).count(),
            0
        );
        assert_eq!(
            keys.candidates(Some("ec-1"), JwsAlgorithm::EdDSA).count(),
            0
        );
        // Without kid: every key that supports the algorithm.
        assert_eq!(keys.candidates(None, JwsAlgorithm::EdDSA).count(), 1);
        assert_eq!(keys.candidates(None, JwsAlgorithm::HS256).count(), 0);
    }

    #[test]
    fn thumbprint_ignores_optional_members() {
        let plain = jwk(EC_P256);
        let mut decorated = plain.clone();
        decorated.kid = Some("k1".into());
        decorated.use_ = Some("sig".into());
        decorated.alg = Some("ES256".into());
        assert_eq!(
            jwk_thumbprint(&plain).unwrap(),
            jwk_thumbprint(&decorated).unwrap()
        );
        assert!(jwk_thumbprint(&jwk(r#"{"kty":"EC","crv":"P-256"}"#)).is_err());
        assert!(jwk_thumbprint(&jwk(r#"{"kty":"XYZ"}"#)).is_err());
    }

    #[test]
    fn thumbprint_rfc8037_ed25519() {
        // RFC 8037 Appendix A.3.
        assert_eq!(
            jwk_thumbprint(&jwk(ED25519)).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
