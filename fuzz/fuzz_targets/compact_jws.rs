//! Compact JWS parsing and claim decoding never panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        if let Ok(jws) = warden_jose::parse_compact(token) {
            let _ = jws.alg();
            let _ = jws.kid();
            let _ = jws.unverified_claims::<serde_json::Value>();
            let _ = jws.verify_with_secret::<serde_json::Value>(
                &[7u8; 64],
                &warden_types::JwsAlgorithm::SYMMETRIC,
            );
        }
    }
});
