//! RFC 7591 metadata parsing and validation never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(meta) = warden_core::registration::parse_metadata(data) {
        let _ = warden_core::registration::validate_metadata(meta);
    }
});
