//! Where audit events go. The engine hands events to an [`AuditSink`] without waiting, so the
//! token endpoint never blocks on the audit trail; the server's sink batches them into the
//! database.

use std::sync::Mutex;

use crate::model::AuditEvent;

/// Receives audit events.
pub trait AuditSink: Send + Sync + 'static {
    /// Records one event. Must not block.
    fn record(&self, event: AuditEvent);
}

/// Keeps events in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryAudit(pub Mutex<Vec<AuditEvent>>);

impl AuditSink for MemoryAudit {
    fn record(&self, event: AuditEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

/// Drops events.
#[derive(Debug, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _event: AuditEvent) {}
}
