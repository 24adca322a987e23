//! The audit sink of a running server: events go into a bounded channel without blocking the
//! request, and one task writes them to the database in batches.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use warden_core::audit::AuditSink;
use warden_core::model::AuditEvent;
use warden_core::store::Store;

use crate::metrics::Metrics;

/// Events buffered before new ones are dropped (and counted).
const CAPACITY: usize = 50_000;
/// Largest batch written in one transaction.
const BATCH: usize = 1_000;

/// Sends events to the writer task.
pub struct ChannelAudit {
    tx: mpsc::Sender<AuditEvent>,
    metrics: Arc<Metrics>,
}

impl AuditSink for ChannelAudit {
    fn record(&self, event: AuditEvent) {
        if self.tx.try_send(event).is_err() {
            self.metrics.audit_dropped();
        }
    }
}

/// The writer task's handle; dropping every sender ends the task after a final flush.
pub struct AuditWriter {
    rx: mpsc::Receiver<AuditEvent>,
}

/// Creates the sink and the writer.
pub fn channel(metrics: Arc<Metrics>) -> (ChannelAudit, AuditWriter) {
    let (tx, rx) = mpsc::channel(CAPACITY);
    (ChannelAudit { tx, metrics }, AuditWriter { rx })
}

impl AuditWriter {
    /// Writes batches until `stop` flips (then flushes what is queued) or every sender is gone.
    pub async fn run(
        mut self,
        store: Arc<dyn Store>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let n = tokio::select! {
                n = self.rx.recv_many(&mut batch, BATCH) => n,
                _ = stop.changed() => {
                    while let Ok(event) = self.rx.try_recv() {
                        batch.push(event);
                    }
                    write(&store, &batch).await;
                    return;
                }
            };
            if n == 0 {
                return;
            }
            write(&store, &batch).await;
            batch.clear();
            // Let events accumulate a little so writes are few and large under load.
            if n < BATCH {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn write(store: &Arc<dyn Store>, batch: &[AuditEvent]) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = store.append_audit_events(batch).await {
        // One bad row must not cost the whole batch: retry the events one by one and drop
        // only those that still fail.
        tracing::error!(error = %e, events = batch.len(), "writing an audit batch failed; retrying one by one");
        for event in batch {
            if let Err(e) = store.append_audit_events(std::slice::from_ref(event)).await {
                tracing::error!(error = %e, kind = %event.kind, "audit event dropped");
            }
        }
    }
}
