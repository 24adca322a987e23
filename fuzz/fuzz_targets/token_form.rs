//! The token endpoint's form parsing and credential extraction never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::request::{FormParams, PresentedCredentials};

fuzz_target!(|data: &[u8]| {
    // First line: an Authorization header value; the rest: the form body.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    if let Ok(mut form) = FormParams::parse(body) {
        let _ = PresentedCredentials::extract(&mut form, header);
        let _ = form.all("resource");
        let _ = form.get("grant_type");
    }
});
