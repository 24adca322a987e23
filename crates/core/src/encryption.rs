//! Encryption of tokens to a client's public key (RFC 7516 JWE; OIDC Core §10.2: "signed
//! then encrypted", the nested JWT carrying `cty: "JWT"`). Seed 004: tokens carrying personal
//! information MUST be encrypted; clients opt in by registering
//! `id_token_encrypted_response_alg` (or `userinfo_encrypted_response_alg`) and an encryption
//! key.

use warden_jose::jwe::{JweAlgorithm, JweEncrypter, JweEncryption};

use crate::engine::Engine;
use crate::error::OAuthError;
use crate::model::Client;

impl Engine {
    /// Encrypts a signed ID token for `client` if it asked for encryption; returns it as is
    /// otherwise.
    pub(crate) async fn encrypt_for_client(
        &self,
        client: &Client,
        signed: String,
    ) -> Result<String, OAuthError> {
        let Some(alg) = client.oidc.id_token_encrypted_response_alg.as_deref() else {
            return Ok(signed);
        };
        let enc = client.oidc.id_token_encrypted_response_enc.as_deref();
        self.encrypt_to_client(client, "ID token", alg, enc, signed.as_bytes(), Some("JWT"))
            .await
    }

    /// Encrypts `plaintext` to `client`'s registered encryption key (its `jwks`, or the set
    /// behind its `jwks_uri`) with the `alg` and `enc` (default `A256GCM`) it registered for
    /// `purpose`. `cty` is `Some("JWT")` when the plaintext is a signed JWT (nested JWT).
    pub(crate) async fn encrypt_to_client(
        &self,
        client: &Client,
        purpose: &str,
        alg: &str,
        enc: Option<&str>,
        plaintext: &[u8],
        cty: Option<&str>,
    ) -> Result<String, OAuthError> {
        let fail = |what: &str| {
            tracing::error!(client_id = %client.client_id, "{purpose} encryption: {what}");
            OAuthError::server_error()
        };
        let alg: JweAlgorithm = alg.parse().map_err(|_| fail("unknown alg"))?;
        let enc: JweEncryption = match enc {
            None => JweEncryption::A256GCM,
            Some(e) => e.parse().map_err(|_| fail("unknown enc"))?,
        };
        let set = match (&client.jwks, &client.jwks_uri) {
            (Some(set), _) => set.clone(),
            (None, Some(uri)) => self
                .fetcher
                .fetch(uri)
                .await
                .map_err(|_| fail("jwks_uri could not be fetched"))?,
            (None, None) => return Err(fail("no client keys")),
        };
        let encrypter =
            JweEncrypter::from_jwk_set(&set, alg, enc).map_err(|_| fail("no usable key"))?;
        encrypter
            .encrypt(plaintext, cty)
            .map_err(|_| fail("encryption failed"))
    }
}
