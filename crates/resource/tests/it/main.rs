//! Integration tests of warden-resource: JWT validation against a local issuer whose keys the
//! tests control (`jwt`, `keys`, `discovery`; sender-constrained and encrypted tokens in
//! `dpop`, `binding`, `jwe`), and against a real Warden (`warden`, `introspection`, `axum`,
//! `warden_jwe`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

mod axum;
mod binding;
mod discovery;
mod dpop;
mod introspection;
mod jwe;
mod jwt;
mod keys;
mod support;
mod warden;
mod warden_jwe;
