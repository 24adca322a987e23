//! The `private_key_jwt` client: its ES256 key as JWK files, and client assertions
//! (RFC 7523 §3, OpenID Connect Core §9) signed with it.

use std::path::Path;

use aws_lc_rs::encoding::AsBigEndian as _;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Fallible;

/// Lifetime of an assertion. Pre-signed assertions are used within seconds of signing, and a
/// short `exp` keeps the servers' replay sets small.
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 120;

/// Length of a P-256 coordinate or scalar, in bytes.
const P256_FIELD_LEN: usize = 32;

/// An ES256 (ECDSA P-256, SHA-256) key pair with its `kid`.
pub(crate) struct ClientKey {
    kid: String,
    pair: EcdsaKeyPair,
}

/// The private JWK file as `keygen` writes it (RFC 7518 §6.2).
#[derive(Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: String,
    x: String,
    y: String,
    d: String,
    kid: String,
}

impl ClientKey {
    pub(crate) fn generate(kid: &str) -> Fallible<Self> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| "generating an ES256 key failed")?;
        Ok(Self {
            kid: kid.to_owned(),
            pair,
        })
    }

    pub(crate) fn load(path: &Path) -> Fallible<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let jwk: PrivateJwk = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a private JWK: {e}", path.display()))?;
        if jwk.kty != "EC" || jwk.crv != "P-256" {
            return Err(format!("{}: expected an EC P-256 key", path.display()).into());
        }
        let d = B64.decode(&jwk.d)?;
        // SEC 1 uncompressed point: 0x04 || x || y.
        let mut point = vec![0x04];
        point.extend(B64.decode(&jwk.x)?);
        point.extend(B64.decode(&jwk.y)?);
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &d,
            &point,
        )
        .map_err(|e| format!("{}: inconsistent EC key: {e}", path.display()))?;
        Ok(Self { kid: jwk.kid, pair })
    }

    /// The public JWK, as registered with both servers.
    pub(crate) fn public_jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        // Skip the 0x04 tag of the uncompressed point; x and y follow, 32 bytes each.
        let coordinates = point.get(1..).unwrap_or_default();
        let (x, y) = coordinates.split_at(coordinates.len().min(P256_FIELD_LEN));
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": B64.encode(x),
            "y": B64.encode(y),
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    /// The private JWK (public members plus `d`).
    ///
    /// # Security
    /// Holds the private key: only ever written to the bench's temporary directory.
    pub(crate) fn private_jwk(&self) -> Fallible<Value> {
        let d = self
            .pair
            .private_key()
            .as_be_bytes()
            .map_err(|_| "exporting the private key failed")?;
        let mut jwk = self.public_jwk();
        if let Value::Object(members) = &mut jwk {
            members.insert("d".to_owned(), Value::String(B64.encode(d.as_ref())));
        }
        Ok(jwk)
    }
}

/// Signs client assertions for one client and one audience, each with a distinct `jti`.
pub(crate) struct AssertionFactory {
    key: ClientKey,
    header_b64: String,
    client_id: String,
    audience: String,
    /// Random per run, so two runs against the same server never collide in its replay set.
    jti_prefix: String,
    rng: SystemRandom,
}

impl AssertionFactory {
    pub(crate) fn new(key: ClientKey, client_id: &str, audience: &str) -> Fallible<Self> {
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": key.kid });
        let rng = SystemRandom::new();
        let mut nonce = [0u8; 12];
        rng.fill(&mut nonce)
            .map_err(|_| "no randomness for the jti prefix")?;
        Ok(Self {
            header_b64: B64.encode(serde_json::to_vec(&header)?),
            key,
            client_id: client_id.to_owned(),
            audience: audience.to_owned(),
            jti_prefix: B64.encode(nonce),
            rng,
        })
    }

    /// The `n`th assertion, issued at `now` (seconds since the epoch).
    pub(crate) fn sign(&self, n: u64, now: u64) -> Fallible<String> {
        // RFC 7523 §3: iss and sub are the client_id, aud the token endpoint, exp required;
        // jti makes each assertion single-use (the servers keep it until exp).
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "jti": format!("{}-{n}", self.jti_prefix),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let mut jwt = format!(
            "{}.{}",
            self.header_b64,
            B64.encode(serde_json::to_vec(&claims)?)
        );
        let signature = self
            .key
            .pair
            .sign(&self.rng, jwt.as_bytes())
            .map_err(|_| "ES256 signing failed")?;
        jwt.push('.');
        jwt.push_str(&B64.encode(signature.as_ref()));
        Ok(jwt)
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    use super::*;

    #[test]
    fn assertions_verify_with_the_published_key() {
        let dir = std::env::temp_dir().join(format!("warden-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.json");
        let key = ClientKey::generate("k1").unwrap();
        std::fs::write(
            &path,
            serde_json::to_string(&key.private_jwk().unwrap()).unwrap(),
        )
        .unwrap();
        let public = key.public_jwk();

        let loaded = ClientKey::load(&path).unwrap();
        assert_eq!(loaded.public_jwk(), public);
        let factory =
            AssertionFactory::new(loaded, "client-1", "http://127.0.0.1:1/token").unwrap();
        let a = factory.sign(1, 1_000).unwrap();
        let b = factory.sign(2, 1_000).unwrap();

        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "http://127.0.0.1:1/token");
        assert_eq!(claims["exp"], 1_120);
        let claims_b: Value =
            serde_json::from_slice(&B64.decode(b.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_ne!(claims["jti"], claims_b["jti"]);

        let x = B64.decode(public["x"].as_str().unwrap()).unwrap();
        let y = B64.decode(public["y"].as_str().unwrap()).unwrap();
        let point = [&[0x04][..], &x, &y].concat();
        let signature = B64.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(signed.as_bytes(), &signature)
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
