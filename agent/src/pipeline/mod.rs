//! The middle of the box: documents that are stored but not yet decided on
//! are mapped for their destination, held, or quarantined.
//!
//! Work is read from the store's `stored` queue in chunks and every chunk's
//! decisions are one commit, so a crash repeats at most one chunk, and a
//! repeat decides the same way (mapping is pure). An invoice export is split
//! here into its invoices, stored as documents of their own before the
//! export is marked done: a crash between the two splits it again, and the
//! invoices, already held, are dedup no-ops.

use jiff::tz::TimeZone;
use pos_bridge::dialect::Dialect;
use pos_bridge::export::{ExportItem, ExportReader};
use pos_bridge::invoice::Invoice;
use pos_bridge::ticket::Ticket;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mapping::order::{map_order, Context, OrderDecision};
use crate::mapping::site::{Clients, SiteRules};
use crate::mapping::{check_rows, import::ImportRow, ticket::map_ticket};
use crate::shop::order::Order;
use crate::store::{encode, Dest, DocMeta, Intake, Kind, State, Store, StoreError, Transition};

mod amend;

/// Documents decided per commit.
const CHUNK: usize = 256;

/// What a site declares, as the pipeline needs it.
pub struct Site {
    /// Mapping rules.
    pub rules: SiteRules,
    /// The ERP's client file.
    pub clients: Clients,
    /// Site time zone.
    pub tz: TimeZone,
    /// Dialect of the import files Relais writes.
    pub import_dialect: Dialect,
    /// Dialect of the ERP's invoice export.
    pub export_dialect: Dialect,
}

/// The body stored for an invoice split from an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum InvoiceBody {
    /// A complete invoice.
    Ready(Box<Invoice>),
    /// An invoice the export reader could not accept, with its problems.
    Held {
        /// Invoice number as written.
        number: String,
        /// Every problem, with line and column.
        problems: Vec<String>,
    },
}

/// What one pass decided.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Queued for a destination.
    pub queued: usize,
    /// Held until the source changes.
    pub held: usize,
    /// Quarantined for a person.
    pub quarantined: usize,
    /// Invoices split from exports.
    pub invoices_split: usize,
    /// Amendments (credit notes) made for orders that changed.
    pub amendments: usize,
}

/// Decides on every stored document.
pub fn process_stored(store: &Store, site: &Site) -> Result<PassReport, StoreError> {
    process_stored_with(store, site, &|| {})
}

/// [`process_stored`], calling `progress` after every chunk it commits (of
/// decisions, or of invoices split from an export): the daemon beats its
/// watchdog there, so a long pass on a large backlog or export is not
/// taken for a hung one, while a pass stuck on a dead share still is.
pub fn process_stored_with(
    store: &Store,
    site: &Site,
    progress: &dyn Fn(),
) -> Result<PassReport, StoreError> {
    let mut report = PassReport::default();
    loop {
        progress();
        let docs = store.in_state(State::Stored, CHUNK)?;
        if docs.is_empty() {
            return Ok(report);
        }
        let mut transitions = Vec::with_capacity(docs.len());
        let mut amendments = Vec::new();
        for meta in &docs {
            let body = store.body(meta.id)?;
            let t = match meta.kind {
                Kind::WebOrder => {
                    let (t, amendment) = amend::decide_order(store, meta, &body, site)?;
                    amendments.extend(amendment);
                    t
                }
                Kind::Amendment => amend::decide_amendment(meta, &body, site),
                Kind::Ticket => decide_ticket(meta, &body, site),
                Kind::Invoice => decide_invoice(meta, &body, site),
                Kind::InvoiceExport => {
                    split_export(store, meta, &body, site, &mut report, progress)?
                }
                // Left in `stored` by a crash between its intake and its
                // queueing (see `fleet`): queue it now.
                Kind::Telemetry => {
                    Transition::to(meta.id, State::Queued(Dest::Fleet), "for the fleet")
                }
                Kind::ShopNote => {
                    Transition::to(meta.id, State::Queued(Dest::Shop), "for the shop")
                }
            };
            match t.to {
                State::Queued(_) => report.queued += 1,
                State::Held => report.held += 1,
                State::Quarantined => report.quarantined += 1,
                _ => {}
            }
            log_decision(meta, &t);
            transitions.push(t);
        }
        // An amendment is stored in the same commit that marks its revision
        // done: a crash leaves both or neither.
        report.amendments += amendments.len();
        store.intake_and_apply(amendments, transitions)?;
    }
}

fn log_decision(meta: &DocMeta, t: &Transition) {
    let (kind, id, state) = (meta.kind.name(), &meta.external_id, t.to.label());
    match t.to {
        State::Quarantined => tracing::error!(kind, id = %id, reason = %t.note, "quarantined"),
        State::Held => tracing::info!(kind, id = %id, reason = %t.note, "held"),
        _ => tracing::debug!(kind, id = %id, state = %state, "decided"),
    }
}

fn queue_rows(meta: &DocMeta, rows: Vec<ImportRow>, site: &Site) -> Transition {
    if let Err(e) = check_rows(&rows, &site.import_dialect, &site.rules) {
        return Transition::to(meta.id, State::Quarantined, e.to_string());
    }
    match encode(&rows) {
        Ok(bytes) => Transition {
            mapped: Some(bytes),
            ..Transition::to(meta.id, State::Queued(Dest::Erp), "mapped")
        },
        Err(e) => Transition::to(
            meta.id,
            State::Quarantined,
            format!("cannot encode rows: {e}"),
        ),
    }
}

/// Decides an order sent for the first time (see `amend` for the others).
fn decide_new_order(meta: &DocMeta, order: &Order, site: &Site) -> Transition {
    let cx = Context {
        rules: &site.rules,
        clients: &site.clients,
        tz: &site.tz,
    };
    match map_order(order, &cx) {
        Ok(OrderDecision::Send(rows)) => queue_rows(meta, rows, site),
        Ok(OrderDecision::Hold(reason)) => Transition::to(meta.id, State::Held, reason),
        Err(e) => Transition::to(meta.id, State::Quarantined, e.to_string()),
    }
}

fn decide_ticket(meta: &DocMeta, body: &[u8], site: &Site) -> Transition {
    let mapped = Ticket::parse(body)
        .map_err(|e| e.to_string())
        .and_then(|t| map_ticket(&t, &site.rules, &site.tz).map_err(|e| e.to_string()));
    match mapped {
        Ok(rows) => queue_rows(meta, rows, site),
        Err(reason) => Transition::to(meta.id, State::Quarantined, reason),
    }
}

fn decide_invoice(meta: &DocMeta, body: &[u8], site: &Site) -> Transition {
    let quarantine = |reason: String| Transition::to(meta.id, State::Quarantined, reason);
    let invoice = match serde_json::from_slice::<InvoiceBody>(body) {
        Ok(InvoiceBody::Ready(invoice)) => invoice,
        Ok(InvoiceBody::Held { number, problems }) => {
            return quarantine(format!("invoice {number}: {}", problems.join("; ")));
        }
        Err(e) => {
            return quarantine(format!(
                "invoice {}: unreadable body: {e}",
                meta.external_id
            ))
        }
    };
    let number_ok = !invoice.number.is_empty()
        && invoice.number.len() <= 64
        && invoice
            .number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !number_ok {
        // The shop files invoices by number in a URL path: anything else
        // could land under another number.
        return quarantine(format!(
            "invoice {:?}: expected a number of letters, digits, '-' or '_' (at most 64)",
            invoice.number
        ));
    }
    if let Some(missing) = missing_mention(&invoice) {
        return quarantine(format!(
            "invoice {}: the export has no {missing}, a mandatory mention of a French invoice",
            invoice.number
        ));
    }
    let Some(shop_id) = site.clients.shop_id(&invoice.customer.code) else {
        let reason = format!(
            "invoice {}: customer {} has no shop account in the ERP's client file",
            invoice.number, invoice.customer.code
        );
        return quarantine(reason);
    };
    match encode(&shop_id) {
        Ok(bytes) => Transition {
            mapped: Some(bytes),
            ..Transition::to(
                meta.id,
                State::Queued(Dest::Shop),
                format!("for shop customer {shop_id}"),
            )
        },
        Err(e) => quarantine(format!("cannot encode customer id: {e}")),
    }
}

/// The first mandatory mention (French B2B invoice) the export left empty.
/// The customer's SIRET and VAT number are printed only when present.
fn missing_mention(invoice: &Invoice) -> Option<&'static str> {
    let c = &invoice.customer;
    let mentions = [
        (c.name.as_str(), "customer name (RaisonSociale)"),
        (c.address.as_str(), "customer address (Adresse)"),
        (c.postcode.as_str(), "customer postcode (CP)"),
        (c.city.as_str(), "customer town (Ville)"),
        (
            invoice.payment_terms.as_str(),
            "payment terms (ModeReglement)",
        ),
    ];
    mentions
        .into_iter()
        .find(|(value, _)| value.trim().is_empty())
        .map(|(_, name)| name)
}

/// Splits an export into invoice documents (stored in their own commit),
/// and returns the export's own transition.
fn split_export(
    store: &Store,
    meta: &DocMeta,
    body: &[u8],
    site: &Site,
    report: &mut PassReport,
    progress: &dyn Fn(),
) -> Result<Transition, StoreError> {
    let reader = match ExportReader::new(body, &site.export_dialect) {
        Ok(reader) => reader,
        Err(e) => {
            let reason = format!("export {}: {e}", meta.external_id);
            return Ok(Transition::to(meta.id, State::Quarantined, reason));
        }
    };
    let mut intakes = Vec::new();
    for item in reader {
        let body = match item {
            Ok(ExportItem::Invoice(invoice)) => InvoiceBody::Ready(invoice),
            Ok(ExportItem::Held(held)) => InvoiceBody::Held {
                number: held.number.clone(),
                // Each problem names its line; the file is named here.
                problems: held
                    .problems
                    .iter()
                    .map(|p| format!("export {}, {p}", meta.external_id))
                    .collect(),
            },
            Err(e) => {
                // The rest of the file cannot be read; what was read is kept.
                let reason = format!("export {}: {e}", meta.external_id);
                store.intake(intakes)?;
                return Ok(Transition::to(meta.id, State::Quarantined, reason));
            }
        };
        intakes.push(invoice_intake(meta, body));
        if intakes.len() >= CHUNK {
            // Keep memory and each commit bounded on a large export; a
            // re-split after a crash finds these as dedup no-ops.
            report.invoices_split += intakes.len();
            store.intake(std::mem::take(&mut intakes))?;
            progress();
        }
    }
    report.invoices_split += intakes.len();
    store.intake(intakes)?;
    Ok(Transition::to(meta.id, State::Done, "split into invoices"))
}

fn invoice_intake(export: &DocMeta, body: InvoiceBody) -> Intake {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let (number, amount, day) = match &body {
        InvoiceBody::Ready(i) => (i.number.clone(), i.totals().ttc, i.date),
        InvoiceBody::Held { number, .. } => (number.clone(), Default::default(), export.day),
    };
    Intake {
        kind: Kind::Invoice,
        external_id: number,
        revision: hex::encode(Sha256::digest(&bytes)),
        day,
        amount,
        body: bytes,
        parent: Some(export.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::site::{Clients, SiteRules};

    /// A long pass reports progress after every chunk, so the daemon's
    /// watchdog hears from it while it works.
    #[test]
    fn a_long_pass_reports_progress_after_every_chunk() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("relais.redb")).expect("store");
        let snapshots: Vec<Intake> = (0..CHUNK * 2 + 10)
            .map(|n| Intake {
                kind: Kind::Telemetry,
                external_id: format!("snapshot-{n}"),
                revision: "1".into(),
                day: jiff::civil::date(2026, 12, 2),
                amount: rust_decimal::Decimal::ZERO,
                body: b"{}".to_vec(),
                parent: None,
            })
            .collect();
        store.intake(snapshots).expect("intake");
        let site = Site {
            rules: SiteRules::default(),
            clients: Clients::default(),
            tz: jiff::tz::TimeZone::UTC,
            import_dialect: Dialect::french_erp(),
            export_dialect: Dialect::french_erp(),
        };
        let calls = std::cell::Cell::new(0);
        let report =
            process_stored_with(&store, &site, &|| calls.set(calls.get() + 1)).expect("pass");
        assert_eq!(report.queued, CHUNK * 2 + 10);
        assert_eq!(calls.get(), 4, "three chunks, then the empty check");
    }
}
