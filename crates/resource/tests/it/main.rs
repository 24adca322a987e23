//! Integration tests of warden-resource: JWT validation against a local issuer whose keys the
//! tests control (`jwt`, `keys`, `discovery`), and against a real Warden (`warden`,
//! `introspection`, `axum`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

mod axum;
mod discovery;
mod introspection;
mod jwt;
mod keys;
mod support;
mod warden;
