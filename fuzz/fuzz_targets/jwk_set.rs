//! JWK Set decoding and key import never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_types::jwk::JwkSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = serde_json::from_slice::<JwkSet>(data) {
        let keys = warden_jose::VerifyingKeySet::from_jwk_set(&set);
        let _ = keys.len();
        for jwk in &set.keys {
            let _ = warden_jose::jwk_thumbprint(jwk);
        }
    }
});
