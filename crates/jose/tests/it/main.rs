//! Integration tests for warden-jose: published RFC vectors, and interoperability with a second
//! JOSE implementation (the `jsonwebtoken` crate).

// `cfg(test)` tells clippy these helpers are test code, where `unwrap` is allowed.
#[cfg(test)]
mod interop;
#[cfg(test)]
mod rfc_vectors;
