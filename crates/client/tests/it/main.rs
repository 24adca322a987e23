//! Integration tests of warden-client: against a real Warden (`warden`, `warden_bound`) and
//! against small local mock servers (`cache`, `exchange`, `send`, `discovery`, `dpop`).

// Test code: a failed expectation is a test failure, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod discovery;
mod dpop;
mod exchange;
mod send;
mod support;
mod warden;
mod warden_bound;
