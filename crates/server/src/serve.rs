//! Running the server: `run(listener, state, shutdown)` serves HTTP (or HTTPS, see
//! [`crate::tls`]) and the background tasks (registry refresh, key maintenance, pruning, audit
//! writing, TLS file reloads) until `shutdown` resolves, then drains in-flight requests and
//! flushes the audit trail.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::audit_writer::AuditWriter;
use crate::extract::ClientCertificate;
use crate::routes::router;
use crate::state::AppState;
use crate::tls::{ProxyHeader, TlsReloader};

/// How often each instance checks the database for registry and key changes.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// How often key rotation is considered.
const KEYS_EVERY: Duration = Duration::from_secs(60);
/// How often expired rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Time a client has to send a request's headers; bounds slow-header (slowloris) attacks,
/// which the per-request timeout cannot see because it starts once the headers are in.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The accept loop: HTTP/1.1 with keep-alive and a header read timeout; each request carries
/// the peer address (and, over TLS, the client certificate); on shutdown the listener closes
/// and connections drain.
async fn serve_http(
    listener: TcpListener,
    state: &Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut stop: watch::Receiver<bool>,
    tls: Option<Arc<TlsReloader>>,
) -> std::io::Result<()> {
    let proxy = ProxyHeader::from_settings(&state.settings.tls, tls.clone())
        .map_err(std::io::Error::other)?;
    let app = router(state.clone(), proxy);
    let tls = tls.filter(|t| t.serves_tls());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        if let Some(tls) = &tls {
            let watcher = graceful.watcher();
            tokio::spawn(serve_tls_connection(
                stream,
                peer,
                tls.state(),
                app.clone(),
                watcher,
            ));
            continue;
        }
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not drain in time");
    }
    Ok(())
}

/// One TLS connection: the handshake (bounded by [`TLS_HANDSHAKE_TIMEOUT`]), then HTTP/1.1
/// as on plain TCP, every request carrying the connection's client certificate, if any.
async fn serve_tls_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    tls: Arc<crate::tls::TlsState>,
    app: axum::Router,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let Some(acceptor) = tls.acceptor.clone() else {
        return;
    };
    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let certificate =
        crate::tls::connection_certificate(stream.get_ref().1, tls.client_ca.as_deref())
            .map(Arc::new);
    drop(tls);
    let service = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(cert) = &certificate {
            req.extensions_mut()
                .insert(ClientCertificate(Some(cert.clone())));
        }
        req
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Serves until `shutdown` resolves, over TLS when the settings give a certificate.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    audit: AuditWriter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = TlsReloader::from_settings(&state.settings.tls).map_err(std::io::Error::other)?;
    run_with_tls(listener, state, audit, shutdown, tls).await
}

/// [`run`] with TLS files already loaded (`None`: plain HTTP, no client CA bundle).
pub async fn run_with_tls(
    listener: TcpListener,
    state: Arc<AppState>,
    audit: AuditWriter,
    shutdown: impl Future<Output = ()> + Send + 'static,
    tls: Option<Arc<TlsReloader>>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let store = state.engine.store().clone();
    let audit_task = tokio::spawn(audit.run(store, stop_rx.clone()));
    let mut background = spawn_background(state.clone(), stop_rx.clone());
    if let Some(tls) = &tls {
        background.push(tls.clone().watch(stop_rx.clone()));
    }

    let result = serve_http(listener, &state, shutdown, stop_rx.clone(), tls).await;
    let _ = stop_tx.send(true);
    for task in background {
        let _ = task.await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), audit_task).await;
    result
}

fn spawn_background(
    state: Arc<AppState>,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    {
        let state = state.clone();
        tasks.push(every(REFRESH_EVERY, stop.clone(), move || {
            let state = state.clone();
            async move {
                if let Err(e) = state.engine.refresh().await {
                    tracing::warn!(error = %e, "registry refresh failed");
                }
            }
        }));
    }
    {
        let state = state.clone();
        tasks.push(every(KEYS_EVERY, stop.clone(), move || {
            let state = state.clone();
            async move {
                match state.engine.maintain_keys(state.clock.now(), &[]).await {
                    Ok(actions) if !actions.is_empty() => {
                        tracing::info!(?actions, "signing keys maintained");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "key maintenance failed"),
                }
            }
        }));
    }
    tasks.push(every(PRUNE_EVERY, stop, move || {
        let state = state.clone();
        async move {
            match state.engine.prune(state.clock.now()).await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "pruned expired rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning failed"),
            }
        }
    }));
    tasks
}

fn every<F, Fut>(
    period: Duration,
    mut stop: watch::Receiver<bool>,
    mut job: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => job().await,
                _ = stop.changed() => break,
            }
        }
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
