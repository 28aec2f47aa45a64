//! What the store keeps about each document, and how it is encoded.
//!
//! Values are postcard, prefixed by one format byte, so that a later layout
//! can be read beside this one (a box upgraded in place keeps its store).

use jiff::civil::Date;
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Format byte of every encoded value in this version.
const FORMAT_V1: u8 = 1;

/// The kinds of document Relais moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A web shop order, as pulled from WooCommerce.
    WebOrder,
    /// A counter ticket from a POS register.
    Ticket,
    /// An ERP invoice export file, as dropped in the export spool.
    InvoiceExport,
    /// One invoice split from an export.
    Invoice,
    /// A snapshot of the box's health for the fleet.
    Telemetry,
    /// A credit note (or other change) for a web order already sent to the
    /// ERP: a refund, a partial cancellation, an edit.
    Amendment,
    /// A private note (and optional status change) for a web order at the
    /// shop: taken by the ERP, invoiced.
    ShopNote,
}

impl Kind {
    /// Short name used in dedup keys, logs and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::WebOrder => "order",
            Kind::Ticket => "ticket",
            Kind::InvoiceExport => "export",
            Kind::Invoice => "invoice",
            Kind::Telemetry => "telemetry",
            Kind::Amendment => "amendment",
            Kind::ShopNote => "note",
        }
    }
}

/// Where a document is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dest {
    /// The ERP import spool folder.
    Erp,
    /// The web shop (invoice publishing).
    Shop,
    /// The fleet's MQTT broker (telemetry).
    Fleet,
}

impl Dest {
    /// Every destination, for reports.
    pub const ALL: [Dest; 3] = [Dest::Erp, Dest::Shop, Dest::Fleet];

    /// Short name for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Dest::Erp => "erp",
            Dest::Shop => "shop",
            Dest::Fleet => "fleet",
        }
    }

    /// Its number in the store's open-batch index (persisted: only ever
    /// added to, never renumbered).
    pub fn code(self) -> u8 {
        match self {
            Dest::Erp => 0,
            Dest::Shop => 1,
            Dest::Fleet => 2,
        }
    }
}

/// Where a document is in its life (see DESIGN.md, "Document life").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// Durably stored, not yet mapped.
    Stored,
    /// Waiting for a change at the source (an order still `pending`, say).
    Held,
    /// Mapped and waiting for its destination.
    Queued(Dest),
    /// Part of a batch being written to its destination.
    Batched(Dest),
    /// Handed to its destination.
    Delivered(Dest),
    /// Processed in full with nothing to deliver (an export once split).
    Done,
    /// Needs a person: the reason says why.
    Quarantined,
    /// Replaced by a newer revision before it was delivered.
    Superseded,
    /// The destination said it took the document in (the ERP moved its
    /// import file to the done folder without rejecting it).
    Confirmed(Dest),
}

impl State {
    /// A compact code for the state index table; queues sort by it.
    pub fn code(self) -> u8 {
        match self {
            State::Stored => 1,
            State::Held => 2,
            State::Queued(Dest::Erp) => 10,
            State::Queued(Dest::Shop) => 11,
            State::Queued(Dest::Fleet) => 12,
            State::Batched(Dest::Erp) => 20,
            State::Batched(Dest::Shop) => 21,
            State::Batched(Dest::Fleet) => 22,
            State::Delivered(Dest::Erp) => 30,
            State::Delivered(Dest::Shop) => 31,
            State::Delivered(Dest::Fleet) => 32,
            State::Done => 40,
            State::Quarantined => 50,
            State::Superseded => 60,
            State::Confirmed(Dest::Erp) => 70,
            State::Confirmed(Dest::Shop) => 71,
            State::Confirmed(Dest::Fleet) => 72,
        }
    }

    /// Every state, for reports.
    pub const ALL: [State; 17] = [
        State::Stored,
        State::Held,
        State::Queued(Dest::Erp),
        State::Queued(Dest::Shop),
        State::Queued(Dest::Fleet),
        State::Batched(Dest::Erp),
        State::Batched(Dest::Shop),
        State::Batched(Dest::Fleet),
        State::Delivered(Dest::Erp),
        State::Delivered(Dest::Shop),
        State::Delivered(Dest::Fleet),
        State::Done,
        State::Quarantined,
        State::Superseded,
        State::Confirmed(Dest::Erp),
        State::Confirmed(Dest::Shop),
        State::Confirmed(Dest::Fleet),
    ];

    /// Human name, e.g. `queued:erp`.
    pub fn label(self) -> String {
        match self {
            State::Stored => "stored".into(),
            State::Held => "held".into(),
            State::Queued(d) => format!("queued:{}", d.name()),
            State::Batched(d) => format!("batched:{}", d.name()),
            State::Delivered(d) => format!("delivered:{}", d.name()),
            State::Done => "done".into(),
            State::Quarantined => "quarantined".into(),
            State::Superseded => "superseded".into(),
            State::Confirmed(d) => format!("confirmed:{}", d.name()),
        }
    }
}

/// Everything the store knows about one document, except its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMeta {
    /// Store id, increasing in order of intake.
    pub id: u64,
    /// What it is.
    pub kind: Kind,
    /// Its id at the source: order number, ticket number, invoice number, file name.
    pub external_id: String,
    /// Its revision at the source (an order's modification time, a file's hash).
    pub revision: String,
    /// Business day it belongs to, in the site's time zone.
    pub day: Date,
    /// When Relais stored it.
    pub received_at: Timestamp,
    /// Total including VAT as the source states it.
    pub amount: Decimal,
    /// Where it is now.
    pub state: State,
    /// Why it is held or quarantined.
    pub reason: Option<String>,
    /// What the destination calls it once delivered (file name, URL).
    pub delivered_as: Option<String>,
    /// The document it was split from (an invoice's export), the revision
    /// an amendment brings to the ERP, or, for a revision of an order
    /// already sent, the revision whose content the ERP holds (the base
    /// its amendment is computed from).
    pub parent: Option<u64>,
}

/// One line of a document's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the transition was committed.
    pub at: Timestamp,
    /// The state it entered.
    pub state: State,
    /// Why, or what happened.
    pub note: String,
}

/// A set of documents delivered together under one stable name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Batch id.
    pub id: u64,
    /// Destination.
    pub dest: Dest,
    /// Stable name at the destination (the ERP import file name).
    pub name: String,
    /// Its documents, in order.
    pub docs: Vec<u64>,
    /// True once its file is complete and fsynced under the temporary name:
    /// from then on, the file is renamed into place at most once, and never
    /// written again (the ERP may already have taken it).
    pub staged: bool,
    /// True once the destination has it.
    pub delivered: bool,
}

/// An encoding or decoding failure of a stored value.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Unknown format byte: written by a newer Relais.
    #[error("stored value has format {0}, this Relais reads format {FORMAT_V1}")]
    Format(u8),
    /// postcard failed.
    #[error("stored value is damaged: {0}")]
    Postcard(#[from] postcard::Error),
}

/// Encodes a value with its format byte.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    // One buffer, sized for a document's metadata, grown in place.
    let mut out = Vec::with_capacity(160);
    out.push(FORMAT_V1);
    Ok(postcard::to_extend(value, out)?)
}

/// Decodes a value written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&other, _)) => Err(CodecError::Format(other)),
        None => Err(CodecError::Format(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_are_distinct_and_never_renumbered() {
        // Codes are persisted in the state index: these are fixed forever.
        let fixed = [
            (State::Stored, 1),
            (State::Held, 2),
            (State::Queued(Dest::Erp), 10),
            (State::Batched(Dest::Erp), 20),
            (State::Delivered(Dest::Erp), 30),
            (State::Done, 40),
            (State::Quarantined, 50),
            (State::Superseded, 60),
            (State::Confirmed(Dest::Erp), 70),
        ];
        for (state, code) in fixed {
            assert_eq!(state.code(), code, "{state:?}");
        }
        let mut codes: Vec<u8> = State::ALL.iter().map(|s| s.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), State::ALL.len());
    }

    #[test]
    fn a_document_round_trips_through_its_encoding() {
        let meta = DocMeta {
            id: 7,
            kind: Kind::Ticket,
            external_id: "T261202-3-00001".into(),
            revision: "1".into(),
            day: jiff::civil::date(2026, 12, 2),
            received_at: Timestamp::UNIX_EPOCH,
            amount: Decimal::new(1039, 2),
            state: State::Queued(Dest::Erp),
            reason: None,
            delivered_as: None,
            parent: None,
        };
        let bytes = encode(&meta).expect("encode");
        assert_eq!(decode::<DocMeta>(&bytes).expect("decode"), meta);
        assert!(matches!(
            decode::<DocMeta>(&[9, 0]),
            Err(CodecError::Format(9))
        ));
    }
}
