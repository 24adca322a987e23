//! Startup: typed settings → store → engine → shared state.

use std::sync::Arc;

use warden_core::Engine;
use warden_core::audit::AuditSink;
use warden_core::clock::Clock;

use crate::audit_writer::{self, AuditWriter};
use crate::config::Settings;
use crate::cookies::CookieConfig;
use crate::jwks_fetch::HttpJwksFetcher;
use crate::master_key;
use crate::metrics::Metrics;
use crate::pages::Pages;

/// What every handler shares.
pub struct AppState {
    /// The protocol engine.
    pub engine: Arc<Engine>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub settings: Settings,
    /// The login, consent and logout pages.
    pub(crate) pages: Arc<Pages>,
    /// Browser cookie names and attributes.
    pub(crate) cookies: CookieConfig,
    /// Outbound HTTP (back-channel logout).
    pub(crate) http: reqwest::Client,
}

/// Opens the database and the engine. `create_keys` creates signing keys on first need
/// (`serve` and `keys` commands).
pub async fn open_engine(
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
    create_keys: bool,
) -> Result<Engine, String> {
    let store = warden_store::connect(&settings.database)
        .await
        .map_err(|e| {
            format!(
                "database {}: {e}",
                crate::config::redact_url(&settings.database)
            )
        })?;
    let master = master_key::load(&settings.master_key)?;
    let fetcher = Arc::new(HttpJwksFetcher::new()?);
    Engine::open(
        settings.engine_config(),
        store,
        master,
        fetcher,
        audit,
        clock.now(),
        create_keys,
    )
    .await
    .map_err(|e| e.to_string())
}

/// Builds the state of a server, with its audit writer.
pub async fn build(
    settings: Settings,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<AppState>, AuditWriter), String> {
    let metrics = Arc::new(Metrics::new());
    let (sink, writer) = audit_writer::channel(metrics.clone());
    let engine = open_engine(&settings, &clock, Arc::new(sink), true).await?;
    let pages = Pages::new(settings.branding.clone()).map_err(|e| format!("branding: {e}"))?;
    let cookies = CookieConfig::for_issuer(&engine.config().issuer);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    Ok((
        Arc::new(AppState {
            engine: Arc::new(engine),
            metrics,
            clock,
            settings,
            pages: Arc::new(pages),
            cookies,
            http,
        }),
        writer,
    ))
}
