//! What an operator asks the box: `status`, `trace`, `quarantine`.
//!
//! Each answer is a plain serializable value (for `--json`) with a text
//! rendering. They read the store directly.
// TODO: while a daemon holds the store, these must go through its control
// socket (redb allows one writer process); the daemon arrives with issue 8.

use std::fmt::Write;

use jiff::Timestamp;
use serde::Serialize;

use crate::store::{AuditEntry, Dest, DocMeta, Kind, State, Store, StoreError};

/// Counts per state, oldest waiting document, last success per peer.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// State label -> number of documents.
    pub states: Vec<(String, u64)>,
    /// Per destination: waiting documents and the oldest one's intake time.
    pub queues: Vec<QueueStatus>,
    /// Documents needing a person.
    pub quarantined: u64,
    /// Peer -> last time it answered well.
    pub last_success: Vec<(String, Option<Timestamp>)>,
}

/// One destination's queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStatus {
    /// erp, shop.
    pub dest: String,
    /// Queued or in a batch.
    pub waiting: u64,
    /// When the oldest of them was received.
    pub oldest: Option<Timestamp>,
}

/// Builds the status report.
pub fn status(store: &Store) -> Result<Status, StoreError> {
    let counts = store.count_states()?;
    let count = |s: State| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
    let mut queues = Vec::new();
    for dest in Dest::ALL {
        let waiting = count(State::Queued(dest)) + count(State::Batched(dest));
        let oldest = [State::Batched(dest), State::Queued(dest)]
            .into_iter()
            .filter_map(|s| store.in_state(s, 1).ok()?.first().map(|m| m.received_at))
            .min();
        queues.push(QueueStatus {
            dest: dest.name().into(),
            waiting,
            oldest,
        });
    }
    let mut last_success = Vec::new();
    for peer in ["shop", "erp"] {
        last_success.push((peer.to_string(), store.last_success(peer)?));
    }
    Ok(Status {
        states: counts.iter().map(|(s, n)| (s.label(), *n)).collect(),
        queues,
        quarantined: count(State::Quarantined),
        last_success,
    })
}

/// Text rendering of [`status`].
pub fn render_status(s: &Status) -> String {
    let mut out = String::from("documents by state:\n");
    for (label, n) in s.states.iter().filter(|(_, n)| *n > 0) {
        let _ = writeln!(out, "  {label:<16} {n:>7}");
    }
    out.push_str("queues:\n");
    for q in &s.queues {
        let oldest = q.oldest.map_or("-".to_string(), |t| t.to_string());
        let _ = writeln!(
            out,
            "  {:<5} {:>7} waiting, oldest received {oldest}",
            q.dest, q.waiting
        );
    }
    let _ = writeln!(out, "quarantined: {}", s.quarantined);
    out.push_str("last success:\n");
    for (peer, at) in &s.last_success {
        let at = at.map_or("never".to_string(), |t| t.to_string());
        let _ = writeln!(out, "  {peer:<5} {at}");
    }
    out
}

/// The whole life of one document.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    /// The document as it is now.
    pub document: DocMeta,
    /// Every transition, oldest first.
    pub history: Vec<AuditEntry>,
}

/// Finds documents by store id or by their id at the source (order
/// number, ticket number, invoice number, export file name).
pub fn find(store: &Store, id: &str) -> Result<Vec<DocMeta>, StoreError> {
    let mut found = Vec::new();
    if let Ok(n) = id.parse::<u64>() {
        if let Ok(meta) = store.meta(n) {
            found.push(meta);
        }
    }
    for kind in [
        Kind::WebOrder,
        Kind::Ticket,
        Kind::Invoice,
        Kind::InvoiceExport,
    ] {
        if let Some(meta) = store.find(kind, id)? {
            if !found.iter().any(|m| m.id == meta.id) {
                found.push(meta);
            }
        }
    }
    Ok(found)
}

/// Traces every document matching `id`.
pub fn trace(store: &Store, id: &str) -> Result<Vec<Trace>, StoreError> {
    find(store, id)?
        .into_iter()
        .map(|document| {
            Ok(Trace {
                history: store.audit(document.id)?,
                document,
            })
        })
        .collect()
}

/// Text rendering of [`trace`].
pub fn render_trace(traces: &[Trace]) -> String {
    let mut out = String::new();
    for t in traces {
        let d = &t.document;
        let _ = writeln!(
            out,
            "{} {} (store id {}, revision {}, day {}, amount {}): {}",
            d.kind.name(),
            d.external_id,
            d.id,
            d.revision,
            d.day,
            d.amount,
            d.state.label()
        );
        if let Some(reason) = &d.reason {
            let _ = writeln!(out, "  reason: {reason}");
        }
        if let Some(at) = &d.delivered_as {
            let _ = writeln!(out, "  delivered as: {at}");
        }
        for e in &t.history {
            let _ = writeln!(out, "  {}  {:<16} {}", e.at, e.state.label(), e.note);
        }
    }
    out
}

/// Quarantined documents, oldest first.
pub fn quarantine_list(store: &Store) -> Result<Vec<DocMeta>, StoreError> {
    store.in_state(State::Quarantined, usize::MAX)
}

/// Text rendering of a quarantine list.
pub fn render_quarantine(docs: &[DocMeta]) -> String {
    let mut out = String::new();
    for d in docs {
        let reason = d.reason.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "{:>6}  {:<8} {:<18} {reason}",
            d.id,
            d.kind.name(),
            d.external_id
        );
    }
    if docs.is_empty() {
        out.push_str("nothing in quarantine\n");
    }
    out
}
