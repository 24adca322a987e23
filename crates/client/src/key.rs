//! Loading the client's private key for `private_key_jwt`
//! ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)) into a
//! [`SigningKey`]: from an unencrypted PKCS#8 document (PEM or DER,
//! [RFC 5958](https://www.rfc-editor.org/rfc/rfc5958)) or from a private JWK
//! ([RFC 7517](https://www.rfc-editor.org/rfc/rfc7517), RFC 7518 §6.2.2 / §6.3.2, RFC 8037 §2).
//!
//! Keys Warden's JOSE layer signs with: RSA (RS256, PS256; at least 2048 bits), P-256 (ES256)
//! and Ed25519 (EdDSA). A JWK is re-encoded as PKCS#8 DER and loaded through
//! [`SigningKey::from_pkcs8`], so both paths check the key the same way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use warden_jose::{SigningKey, base64url_decode, jwk_thumbprint};
use warden_types::{Kid, SigningAlg};

use crate::Error;

/// Loads a PKCS#8 private key from PEM (`-----BEGIN PRIVATE KEY-----`).
///
/// `kid` goes into every assertion's header (RFC 7515 §4.1.4) so the server picks the
/// registered key directly; use the `kid` of the public JWK you registered.
pub fn from_pkcs8_pem(alg: SigningAlg, kid: &str, pem: &str) -> Result<SigningKey, Error> {
    let der = pem_to_der(pem)?;
    from_pkcs8_der(alg, kid, &der)
}

/// Loads a PKCS#8 private key from DER (RFC 5958 `OneAsymmetricKey`, unencrypted).
pub fn from_pkcs8_der(alg: SigningAlg, kid: &str, der: &[u8]) -> Result<SigningKey, Error> {
    Ok(SigningKey::from_pkcs8(alg, Kid::new(kid), der)?)
}

/// Loads a private JWK (JSON text): `kty` `RSA` (with `n`, `e`, `d`, `p`, `q`, `dp`, `dq`,
/// `qi`), `EC` with `crv` `P-256` (`x`, `y`, `d`) or `OKP` with `crv` `Ed25519` (`x`, `d`).
///
/// The algorithm is the JWK's `alg` member, else RS256 for RSA, ES256 for P-256 and EdDSA for
/// Ed25519. The `kid` is the JWK's `kid`, else its RFC 7638 thumbprint.
pub fn from_jwk(json: &str) -> Result<SigningKey, Error> {
    let jwk: PrivateJwk =
        serde_json::from_str(json).map_err(|_| Error::Key("not a JSON Web Key".into()))?;
    let alg = match (jwk.alg.as_deref(), jwk.kty.as_str()) {
        (Some(alg), _) => alg
            .parse::<SigningAlg>()
            .map_err(|_| Error::Key("unsupported JWK alg".into()))?,
        (None, "RSA") => SigningAlg::RS256,
        (None, "EC") => SigningAlg::ES256,
        (None, "OKP") => SigningAlg::EdDSA,
        (None, _) => return Err(Error::Key("unsupported JWK kty".into())),
    };
    let der = jwk.to_pkcs8()?;
    match jwk.kid {
        Some(kid) => from_pkcs8_der(alg, &kid, &der),
        None => {
            // Load once to learn the public key, then again under its RFC 7638 thumbprint.
            let key = from_pkcs8_der(alg, "thumbprint", &der)?;
            let mut public = key.public_jwk();
            public.kid = None;
            let kid = jwk_thumbprint(&public)?;
            from_pkcs8_der(alg, &kid, &der)
        }
    }
}

/// Strips the PEM armour (RFC 7468 §10) and decodes the base64 body.
pub(crate) fn pem_to_der(pem: &str) -> Result<Vec<u8>, Error> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let start = pem
        .find(BEGIN)
        .ok_or_else(|| Error::Key("expected a PEM \"PRIVATE KEY\" (PKCS#8) block".into()))?;
    let body = &pem[start + BEGIN.len()..];
    let end = body
        .find(END)
        .ok_or_else(|| Error::Key("unterminated PEM block".into()))?;
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|_| Error::Key("PEM body is not base64".into()))
}

/// The members of a private JWK this crate reads. `Debug` is deliberately not derived.
#[derive(Deserialize)]
struct PrivateJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
}

impl PrivateJwk {
    /// Re-encodes the key as a PKCS#8 `PrivateKeyInfo` (RFC 5208 §5).
    fn to_pkcs8(&self) -> Result<Vec<u8>, Error> {
        let member = |value: &Option<String>, name: &str| -> Result<Vec<u8>, Error> {
            let value = value
                .as_deref()
                .ok_or_else(|| Error::Key(format!("JWK member '{name}' is missing")))?;
            base64url_decode(value)
                .map_err(|_| Error::Key(format!("JWK member '{name}' is not base64url")))
        };
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => {
                // RFC 8017 A.1.2 RSAPrivateKey (two-prime, version 0).
                let mut key = der_uint(&[0]);
                for (value, name) in [
                    (&self.n, "n"),
                    (&self.e, "e"),
                    (&self.d, "d"),
                    (&self.p, "p"),
                    (&self.q, "q"),
                    (&self.dp, "dp"),
                    (&self.dq, "dq"),
                    (&self.qi, "qi"),
                ] {
                    key.extend(der_uint(&member(value, name)?));
                }
                // rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
                let algorithm = [
                    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
                    0x05, 0x00,
                ];
                Ok(private_key_info(&algorithm, &der(0x30, &key)))
            }
            ("EC", Some("P-256")) => {
                let (d, x, y) = (
                    member(&self.d, "d")?,
                    member(&self.x, "x")?,
                    member(&self.y, "y")?,
                );
                if d.len() != 32 || x.len() != 32 || y.len() != 32 {
                    return Err(Error::Key("P-256 JWK members must be 32 bytes".into()));
                }
                // RFC 5915 ECPrivateKey: version 1, privateKey, [1] publicKey (uncompressed).
                let mut point = vec![0x00, 0x04];
                point.extend(&x);
                point.extend(&y);
                let mut key = der_uint(&[1]);
                key.extend(der(0x04, &d));
                key.extend(der(0xa1, &der(0x03, &point)));
                // id-ecPublicKey (1.2.840.10045.2.1) with prime256v1 (1.2.840.10045.3.1.7).
                let algorithm = [
                    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
                    0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                ];
                Ok(private_key_info(&algorithm, &der(0x30, &key)))
            }
            ("OKP", Some("Ed25519")) => {
                let d = member(&self.d, "d")?;
                if d.len() != 32 {
                    return Err(Error::Key("Ed25519 JWK 'd' must be 32 bytes".into()));
                }
                // RFC 8410 §7: id-Ed25519 (1.3.101.112), CurvePrivateKey OCTET STRING.
                let algorithm = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
                Ok(private_key_info(&algorithm, &der(0x04, &d)))
            }
            _ => Err(Error::Key(
                "unsupported JWK: expected RSA, EC P-256 or OKP Ed25519".into(),
            )),
        }
    }
}

/// `PrivateKeyInfo ::= SEQUENCE { version 0, algorithm, privateKey OCTET STRING }`.
fn private_key_info(algorithm: &[u8], private_key: &[u8]) -> Vec<u8> {
    let mut body = der_uint(&[0]);
    body.extend(algorithm);
    body.extend(der(0x04, private_key));
    der(0x30, &body)
}

/// A DER TLV with a definite length (X.690 §8.1.3).
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | significant.len() as u8);
        out.extend(significant);
    }
    out.extend(content);
    out
}

/// A DER INTEGER from unsigned big-endian bytes: minimal, with a leading zero when the high
/// bit is set (X.690 §8.3).
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der(0x02, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_jwk_from_rfc_7515_a_3_loads() {
        let key = from_jwk(
            r#"{"kty":"EC","crv":"P-256",
                "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#,
        )
        .unwrap();
        let public = key.public_jwk();
        assert_eq!(key.alg(), SigningAlg::ES256);
        assert_eq!(
            public.x.as_deref(),
            Some("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
        );
        // No kid in the JWK: the RFC 7638 thumbprint is used.
        assert_eq!(key.kid().as_str().len(), 43);
    }

    #[test]
    fn ed25519_jwk_from_rfc_8037_a_1_loads() {
        let key = from_jwk(
            r#"{"kty":"OKP","crv":"Ed25519","kid":"ed",
                "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
                "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        )
        .unwrap();
        assert_eq!(key.alg(), SigningAlg::EdDSA);
        assert_eq!(key.kid().as_str(), "ed");
        assert_eq!(
            key.public_jwk().x.as_deref(),
            Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        );
    }

    #[test]
    fn pem_round_trips_a_generated_key() {
        let key = SigningKey::generate(SigningAlg::ES256, Kid::new("k")).unwrap();
        let b64 = STANDARD.encode(key.pkcs8_der());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        let loaded = from_pkcs8_pem(SigningAlg::ES256, "k", &pem).unwrap();
        assert_eq!(loaded.public_jwk(), key.public_jwk());
        assert!(from_pkcs8_pem(SigningAlg::ES256, "k", "garbage").is_err());
    }

    /// Splits DER into (tag, content) TLVs (test helper; definite lengths only).
    fn tlvs(mut der: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        while let [tag, first, rest @ ..] = der {
            let (len, rest) = if first & 0x80 == 0 {
                (usize::from(*first), rest)
            } else {
                let n = usize::from(first & 0x7f);
                let len = rest[..n]
                    .iter()
                    .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
                (len, &rest[n..])
            };
            out.push((*tag, &rest[..len]));
            der = &rest[len..];
        }
        out
    }

    #[test]
    fn rsa_jwk_round_trips_a_generated_key() {
        let key = SigningKey::generate(SigningAlg::PS256, Kid::new("r")).unwrap();
        // PrivateKeyInfo -> privateKey OCTET STRING -> RSAPrivateKey integers.
        let info = tlvs(tlvs(key.pkcs8_der())[0].1);
        let rsa = tlvs(tlvs(info[2].1)[0].1);
        let b64 = |i: usize| {
            let bytes = rsa[i].1;
            let trimmed = bytes.strip_prefix(&[0u8]).unwrap_or(bytes);
            warden_jose::base64url_encode(trimmed)
        };
        let json = serde_json::json!({
            "kty": "RSA", "alg": "PS256", "kid": "r",
            "n": b64(1), "e": b64(2), "d": b64(3), "p": b64(4), "q": b64(5),
            "dp": b64(6), "dq": b64(7), "qi": b64(8),
        });
        let loaded = from_jwk(&json.to_string()).unwrap();
        assert_eq!(loaded.alg(), SigningAlg::PS256);
        assert_eq!(loaded.public_jwk(), key.public_jwk());
        // A member missing is an error naming it, not a panic.
        let mut partial = json.clone();
        partial.as_object_mut().unwrap().remove("qi");
        let Err(Error::Key(message)) = from_jwk(&partial.to_string()) else {
            panic!("expected a key error");
        };
        assert_eq!(message, "JWK member 'qi' is missing");
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der(0x04, &[1; 3]), [0x04, 3, 1, 1, 1]);
        assert_eq!(&der(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(&der(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(der_uint(&[0x80]), [0x02, 2, 0, 0x80]);
        assert_eq!(der_uint(&[0, 0, 5]), [0x02, 1, 5]);
        assert_eq!(der_uint(&[0]), [0x02, 1, 0]);
    }
}
