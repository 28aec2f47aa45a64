//! What an operator asks the box: `status`, `trace`, `quarantine`.
//!
//! Each question is a [`Request`] and each answer an [`Answer`]: plain
//! serializable values (for `--json` and the control socket) with a text
//! rendering. [`execute`] answers on a store; the running daemon calls it
//! for requests on its control socket (redb lets one process hold the
//! file), and the command line calls it itself when no daemon runs.

use std::fmt::Write;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::store::{AuditEntry, Dest, DocMeta, Kind, State, Store, StoreError};

/// Counts per state, oldest waiting document, last success per peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    for peer in ["shop", "erp", "pos"] {
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

/// What came in on one local day, per kind of document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// The day, in the site's time zone.
    pub day: Date,
    /// One line per business kind, zeros included, in a fixed order.
    pub kinds: Vec<KindFigures>,
}

/// Documents of one kind received on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindFigures {
    /// order, ticket, export, invoice.
    pub kind: String,
    /// How many were received.
    pub documents: u64,
    /// Sum of their amounts including VAT, as their sources state them.
    pub amount: Decimal,
}

/// The kinds always listed in [`DayFigures`], in this order; any other
/// kind received that day follows them, except telemetry: snapshots are
/// the box's own and say nothing about the market's day.
const DAY_KINDS: [Kind; 4] = [
    Kind::WebOrder,
    Kind::Ticket,
    Kind::InvoiceExport,
    Kind::Invoice,
];

/// Documents received on `day` (Relais's intake time, in `tz`), per kind.
///
/// Superseded revisions are left out, or an order changed twice in the day
/// would count three times. Reads metadata only, never a body.
pub fn received_on(store: &Store, tz: &TimeZone, day: Date) -> Result<DayFigures, StoreError> {
    let start = day
        .to_zoned(tz.clone())
        .map_or(Timestamp::MIN, |z| z.timestamp());
    let end = day
        .tomorrow()
        .and_then(|d| d.to_zoned(tz.clone()))
        .map_or(Timestamp::MAX, |z| z.timestamp());
    let line = |kind: Kind| KindFigures {
        kind: kind.name().into(),
        documents: 0,
        amount: Decimal::ZERO,
    };
    let mut kinds: Vec<KindFigures> = DAY_KINDS.into_iter().map(line).collect();

    store.for_each_received(start, end, |meta| {
        let counted = meta.kind != Kind::Telemetry && meta.state != State::Superseded;
        if !counted {
            return;
        }
        let slot = match kinds.iter().position(|k| k.kind == meta.kind.name()) {
            Some(slot) => slot,
            None => {
                kinds.push(line(meta.kind));
                kinds.len() - 1
            }
        };
        kinds[slot].documents += 1;
        kinds[slot].amount += meta.amount;
    })?;
    Ok(DayFigures { day, kinds })
}

/// The whole life of one document.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        Kind::Amendment,
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

/// Text rendering of a quarantine list: a header line (store id, kind, id
/// at the source, reason), then one line per document.
pub fn render_quarantine(docs: &[DocMeta]) -> String {
    if docs.is_empty() {
        return "nothing in quarantine\n".to_string();
    }
    let mut out = format!(
        "{:>6}  {:<8} {:<18} {}\n",
        "id", "kind", "source id", "reason"
    );
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
    out
}

/// A question to the box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// [`status`]
    Status,
    /// [`trace`] of one id.
    Trace {
        /// Store id or source id.
        id: String,
    },
    /// [`quarantine_list`]
    QuarantineList,
    /// Release one document, or every quarantined one with `id: None`.
    Release {
        /// Store id or source id; `None` releases all.
        id: Option<String>,
    },
}

/// The box's answer to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "answer", content = "value", rename_all = "snake_case")]
pub enum Answer {
    /// To [`Request::Status`].
    Status(Status),
    /// To [`Request::Trace`]: every document matching the id.
    Traces(Vec<Trace>),
    /// To [`Request::QuarantineList`].
    Quarantine(Vec<DocMeta>),
    /// To [`Request::Release`]: the documents released.
    Released(Vec<String>),
    /// The request failed; the message says why.
    Failed(String),
}

/// Answers a request on the store.
pub fn execute(store: &Store, request: &Request) -> Answer {
    let answer = match request {
        Request::Status => status(store).map(Answer::Status),
        Request::Trace { id } => trace(store, id).map(Answer::Traces),
        Request::QuarantineList => quarantine_list(store).map(Answer::Quarantine),
        Request::Release { id } => release(store, id.as_deref()),
    };
    answer.unwrap_or_else(|e| Answer::Failed(e.to_string()))
}

/// Releases the documents matching `id`, or all quarantined ones, and
/// names those released. A released document is decided again from its
/// stored body, by the rules in force now. An `id` that names no document,
/// or none that is quarantined or held, is a failure that says so (an
/// operator's typo must not read as done).
pub fn release(store: &Store, id: Option<&str>) -> Result<Answer, StoreError> {
    let targets = match id {
        None => quarantine_list(store)?,
        Some(id) => find(store, id)?,
    };
    if let (Some(id), true) = (id, targets.is_empty()) {
        return Ok(Answer::Failed(format!("no document {id:?} in the store")));
    }
    let mut released = Vec::new();
    let mut left = Vec::new();
    for doc in targets {
        let name = format!("{} {}", doc.kind.name(), doc.external_id);
        if store.release(doc.id, "operator")? {
            released.push(name);
        } else {
            left.push(format!("{name} is {}", doc.state.label()));
        }
    }
    if id.is_some() && released.is_empty() {
        return Ok(Answer::Failed(format!(
            "nothing released: {}; only a quarantined or held document can be",
            left.join(", ")
        )));
    }
    Ok(Answer::Released(released))
}

/// Text rendering of any answer.
pub fn render(answer: &Answer) -> String {
    match answer {
        Answer::Status(s) => render_status(s),
        Answer::Traces(t) => render_trace(t),
        Answer::Quarantine(d) => render_quarantine(d),
        Answer::Released(r) if r.is_empty() => "nothing to release\n".to_string(),
        Answer::Released(r) => format!("released {} document(s): {}\n", r.len(), r.join(", ")),
        Answer::Failed(message) => format!("failed: {message}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quarantined(id: u64, external_id: &str, reason: &str) -> DocMeta {
        DocMeta {
            id,
            kind: Kind::WebOrder,
            external_id: external_id.to_string(),
            revision: "1".to_string(),
            day: jiff::civil::date(2026, 12, 2),
            received_at: Timestamp::UNIX_EPOCH,
            amount: Decimal::ZERO,
            state: State::Quarantined,
            reason: Some(reason.to_string()),
            delivered_as: None,
            parent: None,
        }
    }

    #[test]
    fn the_quarantine_list_has_column_headers() {
        let text = render_quarantine(&[quarantined(42, "383124", "status \"refunded-x\"")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "    id  kind     source id          reason");
        assert_eq!(
            lines[1],
            "    42  order    383124             status \"refunded-x\""
        );
        assert_eq!(render_quarantine(&[]), "nothing in quarantine\n");
    }

    #[test]
    fn releasing_nothing_says_so() {
        assert_eq!(render(&Answer::Released(vec![])), "nothing to release\n");
        assert_eq!(
            render(&Answer::Released(vec!["order 383124".into()])),
            "released 1 document(s): order 383124\n"
        );
    }
    fn intake(kind: Kind, external_id: &str) -> crate::store::Intake {
        crate::store::Intake {
            kind,
            external_id: external_id.to_string(),
            revision: "1".to_string(),
            day: jiff::civil::date(2026, 12, 2),
            amount: Decimal::ZERO,
            body: b"{}".to_vec(),
            parent: None,
        }
    }

    #[test]
    fn a_credit_note_is_found_by_its_reference() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("relais.redb")).expect("store");
        store
            .intake(vec![intake(Kind::Amendment, "383060-AV1")])
            .expect("intake");
        let found = find(&store, "383060-AV1").expect("find");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::Amendment);
    }

    #[test]
    fn releasing_an_unknown_or_unreleasable_id_fails_and_says_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("relais.redb")).expect("store");
        store
            .intake(vec![intake(Kind::Ticket, "T1")])
            .expect("intake");
        let unknown = release(&store, Some("424242")).expect("release");
        assert!(
            matches!(&unknown, Answer::Failed(m) if m.contains("no document \"424242\"")),
            "{unknown:?}"
        );
        let stored = release(&store, Some("T1")).expect("release");
        assert!(
            matches!(&stored, Answer::Failed(m) if m.contains("ticket T1 is stored")),
            "{stored:?}"
        );
        let all = release(&store, None).expect("release all");
        assert!(
            matches!(&all, Answer::Released(r) if r.is_empty()),
            "{all:?}"
        );
    }
}
