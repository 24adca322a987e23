//! Warden's HTTP layer and the `warden` binary.
//!
//! - [`cli`] and [`config`]: the command line and typed settings (file < env < flags);
//! - [`state`]: startup — settings → store → engine → [`state::AppState`];
//! - [`routes`]: every route in one file; [`handlers`]: thin handlers, one module per
//!   endpoint family; [`extract`]: body and header extraction with RFC-shaped rejections;
//! - [`http_error`]: the one place errors become HTTP;
//! - [`observe`], [`metrics`]: request ids, logs, Prometheus;
//! - [`audit_writer`]: batched audit trail; [`jwks_fetch`]: client `jwks_uri` fetching;
//! - [`serve`]: `run(listener, state, audit, shutdown)` with the background tasks;
//! - [`tls`]: HTTPS with reloadable certificates, client certificates (mutual TLS) and the
//!   client certificate header of a TLS-terminating proxy;
//! - [`admin_cmd`]: the admin subcommands.
//!
//! A token request: `routes` → `observe` → `handlers::token` → `Engine::token` →
//! `http_error` or a `Cache-Control: no-store` JSON response.

pub mod admin_cmd;
pub mod audit_writer;
pub mod cli;
pub mod config;
pub mod cookies;
pub mod duration;
pub mod extract;
pub mod handlers;
pub mod http_error;
pub mod jwks_fetch;
pub mod master_key;
pub mod metrics;
pub mod observe;
pub mod pages;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tls;
