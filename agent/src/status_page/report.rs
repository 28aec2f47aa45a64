//! What the status page shows, read from the store in one go: the same
//! value feeds the HTML page and `/status.json`.
//!
//! Only metadata is read, never a document's body, and the quarantine list
//! is cut at [`QUARANTINE_SHOWN`] so a bad day cannot make the page (or a
//! phone) hold thousands of entries. Texts that came from outside (ids at
//! the source, quarantine reasons) pass through a [`Redactor`] that masks
//! the shop's credentials, should an error message ever have quoted them.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ops::{self, DayFigures};
use crate::store::{Dest, DocMeta, State, Store, StoreError};

/// Quarantined documents listed on the page at most; the count is always
/// the full one.
pub const QUARANTINE_SHOWN: usize = 100;

/// Everything on the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// When it was read.
    pub generated_at: Timestamp,
    /// The site's time zone, in which days and times are shown.
    pub time_zone: String,
    /// One queue per destination.
    pub queues: Vec<Queue>,
    /// When each peer last answered well.
    pub last_success: Vec<PeerSuccess>,
    /// How many documents are quarantined in all.
    pub quarantined: u64,
    /// The oldest quarantined documents, at most `QUARANTINE_SHOWN`.
    pub quarantine: Vec<Quarantined>,
    /// What came in today, in the site's time zone.
    pub today: DayFigures,
    /// Number of documents per state (`queued:erp`, `quarantined`...).
    pub states: Vec<(String, u64)>,
}

/// The documents waiting for one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// erp, shop, fleet.
    pub dest: String,
    /// Queued or in a batch being written.
    pub waiting: u64,
    /// The one received first, if any waits.
    pub oldest: Option<WaitingDoc>,
}

/// A waiting document, as the page names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingDoc {
    /// Store id.
    pub id: u64,
    /// order, ticket, export, invoice, telemetry.
    pub kind: String,
    /// Its id at the source.
    pub external_id: String,
    /// When Relais received it.
    pub received_at: Timestamp,
}

/// When a peer last answered well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSuccess {
    /// shop, erp, pos.
    pub peer: String,
    /// `None`: never since the store was made.
    pub at: Option<Timestamp>,
}

/// A quarantined document and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// Store id, for `relais quarantine release`.
    pub id: u64,
    /// order, ticket, export, invoice.
    pub kind: String,
    /// Its id at the source.
    pub external_id: String,
    /// Its business day.
    pub day: jiff::civil::Date,
    /// When Relais received it.
    pub received_at: Timestamp,
    /// Its amount including VAT.
    pub amount: Decimal,
    /// What a person must fix.
    pub reason: String,
}

/// Masks known secrets in texts that came from outside.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// What replaces a secret.
    pub const MASK: &'static str = "[hidden]";

    /// A redactor for these secrets; empty and very short ones are ignored
    /// (masking every `a` would garble the page, not protect anything).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        Redactor {
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
        }
    }

    /// `text` with every secret in it masked.
    pub fn clean(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), Self::MASK))
    }
}

/// Reads the report from the store, as of `now` in the site's `tz`.
pub fn gather(
    store: &Store,
    tz: &TimeZone,
    now: Timestamp,
    redactor: &Redactor,
) -> Result<Report, StoreError> {
    let status = ops::status(store)?;
    let queues = Dest::ALL
        .into_iter()
        .map(|dest| queue(store, dest, &status, redactor))
        .collect::<Result<_, _>>()?;
    let quarantine = store
        .in_state(State::Quarantined, QUARANTINE_SHOWN)?
        .into_iter()
        .map(|meta| quarantined(meta, redactor))
        .collect();
    let today = ops::received_on(store, tz, now.to_zoned(tz.clone()).date())?;

    Ok(Report {
        generated_at: now,
        time_zone: tz.iana_name().unwrap_or("UTC").to_string(),
        queues,
        last_success: status
            .last_success
            .into_iter()
            .map(|(peer, at)| PeerSuccess { peer, at })
            .collect(),
        quarantined: status.quarantined,
        quarantine,
        today,
        states: status.states,
    })
}

fn queue(
    store: &Store,
    dest: Dest,
    status: &ops::Status,
    redactor: &Redactor,
) -> Result<Queue, StoreError> {
    let waiting = status
        .queues
        .iter()
        .find(|q| q.dest == dest.name())
        .map_or(0, |q| q.waiting);
    let mut oldest: Option<DocMeta> = None;
    for state in [State::Batched(dest), State::Queued(dest)] {
        let first = store.in_state(state, 1)?.into_iter().next();
        oldest = match (oldest, first) {
            (Some(a), Some(b)) => Some(if b.received_at < a.received_at { b } else { a }),
            (a, b) => a.or(b),
        };
    }
    Ok(Queue {
        dest: dest.name().into(),
        waiting,
        oldest: oldest.map(|m| WaitingDoc {
            id: m.id,
            kind: m.kind.name().into(),
            external_id: redactor.clean(&m.external_id),
            received_at: m.received_at,
        }),
    })
}

fn quarantined(meta: DocMeta, redactor: &Redactor) -> Quarantined {
    Quarantined {
        id: meta.id,
        kind: meta.kind.name().into(),
        external_id: redactor.clean(&meta.external_id),
        day: meta.day,
        received_at: meta.received_at,
        amount: meta.amount,
        reason: redactor.clean(meta.reason.as_deref().unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redactor_masks_every_secret_and_ignores_tiny_ones() {
        let r = Redactor::new(["ck_live_1234".to_string(), "cs_9876".into(), "a".into()]);
        assert_eq!(
            r.clean("401 for ck_live_1234:cs_9876 at a shop"),
            "401 for [hidden]:[hidden] at a shop"
        );
        assert_eq!(Redactor::default().clean("as is"), "as is");
    }
}
