//! Warden's HTTP integration tests: one binary, one module per endpoint family.
//!
//! Every server test starts its own server on a fresh database (SQLite in a temporary
//! directory, and again on PostgreSQL when `WARDEN_TEST_POSTGRES_URL` is set), so tests share
//! nothing and run in any order. Issued JWTs are verified with `jsonwebtoken`, a second JOSE
//! implementation, against the keys the server publishes at `/jwks`; client assertions are
//! signed with it too.

// Test code: a failed expectation is a test failure, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// `name::sqlite` and `name::postgres` tests for each async fn `name(Backend)` of the module.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $( warden_testkit::on_both_backends!($name, super::$name); )*
    };
}

mod oidc_support;
mod support;

mod audience_scope;
mod authorization_code;
mod browser;
mod cli;
mod cli_exchange;
mod client_auth;
mod discovery;
mod dpop;
mod encrypted_tokens;
mod id_token_encryption;
mod introspection;
mod jwt_tokens;
mod keys;
mod mtls;
mod multi_instance;
mod operations;
mod registration;
mod revocation;
mod tls;
mod token_client_credentials;
mod token_exchange;
mod workload_identity;
