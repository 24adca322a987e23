//! Browser-facing protections shared by the login, consent and logout forms.
//!
//! CSRF (RFC 6749 §10.12, OWASP "double submit, signed"): the browser holds a random
//! binding cookie; each form carries `HMAC(key, binding || form id)`. A forged form from
//! another site cannot know the binding cookie's value, and a token from one form does not fit
//! another. The key is derived from the master key, so every instance agrees.

use warden_jose::{base64url_decode, base64url_encode, hmac_sha256, random_bytes};
use warden_types::secret::constant_time_eq;

use crate::engine::Engine;

/// A fresh CSRF binding cookie value.
pub fn new_csrf_binding() -> String {
    base64url_encode(&random_bytes::<32>())
}

impl Engine {
    /// The CSRF token for a form identified by `form_id` in a browser holding `binding`.
    pub fn csrf_token(&self, binding: &str, form_id: &str) -> String {
        let mut data = Vec::with_capacity(binding.len() + form_id.len() + 1);
        data.extend_from_slice(binding.as_bytes());
        data.push(0);
        data.extend_from_slice(form_id.as_bytes());
        base64url_encode(&hmac_sha256(self.csrf_key.as_slice(), &data))
    }

    /// Whether a submitted CSRF token fits the browser's binding and the form.
    pub fn verify_csrf(&self, binding: Option<&str>, form_id: &str, token: Option<&str>) -> bool {
        let (Some(binding), Some(token)) = (binding, token) else {
            return false;
        };
        // The binding must be one we could have issued.
        if base64url_decode(binding).map(|b| b.len()).ok() != Some(32) {
            return false;
        }
        let expected = self.csrf_token(binding, form_id);
        constant_time_eq(expected.as_bytes(), token.as_bytes())
    }
}
