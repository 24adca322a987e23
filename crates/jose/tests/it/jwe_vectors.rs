//! JWEs produced by a second implementation (Python jwcrypto, run once offline; see the
//! `source` member of `tests/data/jwe-jwcrypto.json`) decrypt here, and the public JWKs from
//! that file encrypt tokens that Warden's own decrypter reads back.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use warden_jose::{
    JweAlgorithm, JweDecrypter, JweEncrypter, JweEncryption, JweError, JweHeader, base64url_decode,
    base64url_encode,
};
use warden_types::jwk::Jwk;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    /// The recipient's private key, PKCS#8 DER in standard base64.
    pkcs8: String,
    jwk: Jwk,
    compact: String,
    plaintext: String,
    alg: String,
    enc: String,
    kid: String,
}

fn vectors() -> Vec<Vector> {
    let path = format!(
        "{}/tests/data/jwe-jwcrypto.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str::<File>(&text).unwrap().vectors
}

fn decrypter(vector: &Vector) -> JweDecrypter {
    let der = STANDARD.decode(&vector.pkcs8).unwrap();
    JweDecrypter::from_pkcs8(&der, &JweAlgorithm::ALL, &JweEncryption::ALL)
        .unwrap()
        .with_kid(vector.kid.clone())
}

#[test]
fn jwcrypto_tokens_decrypt() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 6);
    for vector in &vectors {
        let (header, plaintext) = decrypter(vector).decrypt(&vector.compact).unwrap();
        assert_eq!(plaintext, vector.plaintext.as_bytes(), "{}", vector.name);
        assert_eq!(header.alg().as_str(), vector.alg, "{}", vector.name);
        assert_eq!(header.enc().as_str(), vector.enc, "{}", vector.name);
        assert_eq!(header.kid(), Some(vector.kid.as_str()));
        assert_eq!(header.cty(), Some("JWT"));
        assert_eq!(JweHeader::peek(&vector.compact).unwrap(), header);
    }
}

#[test]
fn jwcrypto_ecdh_es_with_party_info_decrypts() {
    // One vector carries apu "Alice" and apv "Bob", which enter the Concat KDF
    // (RFC 7518 §4.6.2); decrypting it shows both sides build OtherInfo the same way.
    let vectors = vectors();
    let vector = vectors
        .iter()
        .find(|v| {
            let header = v.compact.split('.').next().unwrap();
            let header = String::from_utf8(base64url_decode(header).unwrap()).unwrap();
            header.contains(r#""apu":"QWxpY2U""#) && header.contains(r#""apv":"Qm9i""#)
        })
        .unwrap();
    let (_, plaintext) = decrypter(vector).decrypt(&vector.compact).unwrap();
    assert_eq!(plaintext, b"Live long and prosper.");
}

#[test]
fn jwcrypto_tokens_fail_when_altered() {
    for vector in &vectors() {
        let decrypter = decrypter(vector);
        let mut parts: Vec<String> = vector.compact.split('.').map(str::to_owned).collect();
        let mut tag = base64url_decode(&parts[4]).unwrap();
        tag[0] ^= 0x80;
        parts[4] = base64url_encode(&tag);
        assert_eq!(
            decrypter.decrypt(&parts.join(".")).unwrap_err(),
            JweError::Decryption,
            "{}",
            vector.name
        );
    }
}

#[test]
fn round_trip_through_the_published_jwks() {
    // The JWKs jwcrypto exported (with `use` "enc") are valid recipient keys here.
    for vector in &vectors() {
        let alg: JweAlgorithm = vector.alg.parse().unwrap();
        let enc: JweEncryption = vector.enc.parse().unwrap();
        let token = JweEncrypter::new(&vector.jwk, alg, enc)
            .unwrap()
            .encrypt(b"warden", Some("JWT"))
            .unwrap();
        let (header, plaintext) = decrypter(vector).decrypt(&token).unwrap();
        assert_eq!(plaintext, b"warden");
        assert_eq!(header.kid(), Some(vector.kid.as_str()));
    }
}
