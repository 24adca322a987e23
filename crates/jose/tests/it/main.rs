//! Integration tests for warden-jose: published RFC vectors, and interoperability with second
//! JOSE implementations (the `jsonwebtoken` crate for JWS; fixed Python jwcrypto vectors for JWE).

// `cfg(test)` tells clippy these helpers are test code, where `unwrap` is allowed.
#[cfg(test)]
mod interop;
#[cfg(test)]
mod jwe_vectors;
#[cfg(test)]
mod rfc_vectors;
