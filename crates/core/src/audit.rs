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

/// Keeps events in memory until the owner writes them (the admin CLI, tests).
#[derive(Debug, Default)]
pub struct MemoryAudit(Mutex<Vec<AuditEvent>>);

impl MemoryAudit {
    /// Takes the events recorded so far.
    pub fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, event: AuditEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}
