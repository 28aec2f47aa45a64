//! Orders that change after they went to the ERP.
//!
//! A new revision of an order already sent carries, from intake, its base:
//! the revision whose rows the ERP holds (see the store's `supersede`). It
//! is not sent again. Its rows as sold are compared with the base's, the
//! refunds no amendment credited yet are added, and what comes out is one
//! amendment document (a credit note, `mapping::amend`) queued to the ERP;
//! the revision itself is `done`, keeping its rows as the next base. An
//! order sent for the first time with refunds already made is sent as sold,
//! and its refunds become an amendment at once.
//!
//! The amendment is stored in the commit that decides its revision, and an
//! order's refunds are credited once (by refund id, read back from the
//! order's amendments): deciding again after a crash or a release makes no
//! second credit note.

use std::collections::BTreeSet;

use crate::mapping::amend::{
    credited_amount, diff_rows, finish, new_refunds, read_refunds, refund_credit, Amendment, Refund,
};
use crate::mapping::import::ImportRow;
use crate::mapping::order::{map_sold, Context};
use crate::mapping::MappingError;
use crate::shop::order::Order;
use crate::store::{decode, encode, DocMeta, Intake, Kind, State, Store, StoreError, Transition};

use super::{decide_new_order, queue_rows, Site};

/// WooCommerce's status of an order refunded in full: its lines are still
/// the sale, and its refunds say what was paid back.
const REFUNDED: &str = "refunded";

/// Decides an order: sent as it is the first time, as an amendment after.
/// Returns its transition and the amendment to store with it, if any.
pub(super) fn decide_order(
    store: &Store,
    meta: &DocMeta,
    body: &[u8],
    site: &Site,
) -> Result<(Transition, Option<Intake>), StoreError> {
    let quarantine = |reason: String| Transition::to(meta.id, State::Quarantined, reason);
    let order: Order = match serde_json::from_slice(body) {
        Ok(order) => order,
        Err(e) => {
            let reason = format!(
                "order {}: not a readable WooCommerce order: {e}",
                meta.external_id
            );
            return Ok((quarantine(reason), None));
        }
    };
    let cx = Context {
        rules: &site.rules,
        clients: &site.clients,
        tz: &site.tz,
    };
    let made = match meta.parent {
        Some(base) => amend_sent(store, meta, body, &order, base, &cx),
        None => {
            let t = decide_new_order(meta, &order, site);
            if t.to != State::Queued(crate::store::Dest::Erp) {
                return Ok((t, None));
            }
            credit_first_refunds(store, meta, body, &order, &cx).map(|a| (t, a))
        }
    };
    match made {
        Ok(decided) => Ok(decided),
        Err(Stop::Quarantine(e)) => Ok((quarantine(e.to_string()), None)),
        Err(Stop::Store(e)) => Err(e),
    }
}

/// Why an amendment could not be made: the order needs a person, or the
/// store failed.
enum Stop {
    Quarantine(MappingError),
    Store(StoreError),
}

impl From<MappingError> for Stop {
    fn from(e: MappingError) -> Self {
        Stop::Quarantine(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

/// An order sent for the first time with refunds already made: the order
/// goes as sold (the caller's transition), its refunds as an amendment.
fn credit_first_refunds(
    store: &Store,
    meta: &DocMeta,
    body: &[u8],
    order: &Order,
    cx: &Context<'_>,
) -> Result<Option<Intake>, Stop> {
    let (credited, sequence) = amendments_of(store, &order.number)?;
    let all = read_refunds(body, order)?;
    let already = credited_amount(&all, &credited);
    let refunds = new_refunds(all, &credited);
    if refunds.is_empty() {
        return Ok(None);
    }
    let sold = map_sold(order, cx)?;
    let Some(template) = sold.first() else {
        return Ok(None);
    };
    let rows = refund_credit(template, &refunds, already, order, cx)?;
    let note = refunds_note(&refunds);
    Ok(Some(make(
        meta, order, sequence, None, &refunds, note, rows,
    )))
}

/// A revision of an order already sent: the difference with its base and
/// its new refunds become an amendment; the revision is done.
fn amend_sent(
    store: &Store,
    meta: &DocMeta,
    body: &[u8],
    order: &Order,
    base: u64,
    cx: &Context<'_>,
) -> Result<(Transition, Option<Intake>), Stop> {
    let base_meta = store.meta(base)?;
    let base_rows: Vec<ImportRow> =
        decode(&store.mapped(base)?).map_err(|source| StoreError::Damaged {
            what: format!("rows of order {} revision {base}", meta.external_id),
            source,
        })?;
    let target = sold_now(order, cx, &base_meta)?;
    let (credited, sequence) = amendments_of(store, &order.number)?;
    let all = read_refunds(body, order)?;
    let already = credited_amount(&all, &credited);
    let refunds = new_refunds(all, &credited);
    let mut rows = diff_rows(&base_rows, &target);
    let changed_lines = rows.len();
    if let Some(template) = target.first().or(base_rows.first()) {
        rows.extend(refund_credit(template, &refunds, already, order, cx)?);
    }
    let mapped = encode(&target).map_err(|source| StoreError::Codec {
        action: "encode an order's rows",
        source,
    })?;
    if rows.is_empty() {
        let note = format!("no change for the ERP since revision {base}");
        let t = Transition {
            mapped: Some(mapped),
            ..Transition::to(meta.id, State::Done, note)
        };
        return Ok((t, None));
    }
    let mut note = format!(
        "revision {} against revision {base}: {changed_lines} line(s) changed",
        meta.id
    );
    if !refunds.is_empty() {
        note = format!("{note}; {}", refunds_note(&refunds));
    }
    let amendment = make(meta, order, sequence, Some(base), &refunds, note, rows);
    let done = format!("amended by {}", amendment.external_id);
    let t = Transition {
        mapped: Some(mapped),
        ..Transition::to(meta.id, State::Done, done)
    };
    Ok((t, Some(amendment)))
}

/// The order's rows as sold now: none if it was called off.
fn sold_now(
    order: &Order,
    cx: &Context<'_>,
    base: &DocMeta,
) -> Result<Vec<ImportRow>, MappingError> {
    let status = order.status.as_str();
    if cx.rules.statuses_cancelled.iter().any(|s| s == status) {
        return Ok(Vec::new());
    }
    let sold = cx.rules.statuses_to_erp.iter().any(|s| s == status) || status == REFUNDED;
    if !sold {
        let sent_as = base
            .delivered_as
            .clone()
            .unwrap_or_else(|| base.state.label());
        return Err(MappingError {
            document: format!("order {}", order.number),
            field: "status".into(),
            expected: format!(
                "a status the ERP takes, {REFUNDED} or a cancellation, since revision {} \
                 went to the ERP ({sent_as}); a person decides",
                base.id
            ),
            found: status.to_string(),
        });
    }
    map_sold(order, cx)
}

/// The refund ids an order's amendments already credit, and the sequence
/// number of its next amendment.
fn amendments_of(store: &Store, order: &str) -> Result<(BTreeSet<u64>, u32), StoreError> {
    let mut credited = BTreeSet::new();
    let mut sequence = 1;
    while let Some(meta) = store.find(Kind::Amendment, &Amendment::reference(order, sequence))? {
        let body = store.body(meta.id)?;
        let amendment: Amendment = serde_json::from_slice(&body).map_err(|e| StoreError::Body {
            what: format!("amendment {}", meta.external_id),
            reason: e.to_string(),
        })?;
        credited.extend(amendment.refunds);
        sequence += 1;
    }
    Ok((credited, sequence))
}

fn refunds_note(refunds: &[Refund]) -> String {
    let ids: Vec<String> = refunds.iter().map(|r| r.id.to_string()).collect();
    format!("refund(s) {} credited", ids.join(", "))
}

fn make(
    meta: &DocMeta,
    order: &Order,
    sequence: u32,
    base_doc: Option<u64>,
    refunds: &[Refund],
    note: String,
    mut rows: Vec<ImportRow>,
) -> Intake {
    finish(&mut rows, &order.number, sequence);
    let amendment = Amendment {
        order: order.number.clone(),
        sequence,
        revision_doc: meta.id,
        base_doc,
        refunds: refunds.iter().map(|r| r.id).collect(),
        note,
        rows,
    };
    Intake {
        kind: Kind::Amendment,
        external_id: Amendment::reference(&order.number, sequence),
        revision: meta.id.to_string(),
        day: meta.day,
        amount: amendment.total(),
        // Serializing plain data to memory cannot fail.
        body: serde_json::to_vec(&amendment).unwrap_or_default(),
        parent: Some(meta.id),
    }
}

/// An amendment's rows were frozen when it was made: check and queue them.
pub(super) fn decide_amendment(meta: &DocMeta, body: &[u8], site: &Site) -> Transition {
    match serde_json::from_slice::<Amendment>(body) {
        Ok(amendment) => queue_rows(meta, amendment.rows, site),
        Err(e) => Transition::to(
            meta.id,
            State::Quarantined,
            format!("amendment {}: unreadable body: {e}", meta.external_id),
        ),
    }
}
