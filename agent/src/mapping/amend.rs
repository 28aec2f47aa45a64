//! An order that changes after it went to the ERP becomes an amendment: a
//! credit note referring to the original, never a second copy of the order.
//!
//! Two things make one. The difference between the rows the ERP holds (the
//! base revision's) and the rows of the order as it is now, line by line:
//! a quantity or weight cut, a line removed, a price changed, the whole
//! order cancelled. And the refunds the shop made that no earlier amendment
//! credited, by refund id: each refunded line as an `ART` row with a
//! negative quantity, refunded shipping and fees, and what the shop refunded
//! beyond its lines as one `AVO` amount row; then a negative `REG` row, the
//! money paid back. When the pull could not fetch a refund's detail, only
//! the order's own list (id, reason, total) is known: the refund is one
//! `AVO` row and its `REG` row.
//!
//! A credit note's rows carry `Origine` = `AVO` and `RefExterne` =
//! `<order>-AV<n>`: its own reference, the original's number first, `n`
//! counting the order's amendments from 1. Like an order, its non-`REG`
//! rows add up to its total (negative for a credit) and so do its `REG`
//! rows, so the original's rows plus its amendments' add up to what the
//! shop finally charged.
//!
//! Pure: the same base, order and refunds always give the same rows.

use std::collections::BTreeSet;

use pos_bridge::money::decimal;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::import::{ImportRow, RowType};
use super::order::{line_rate, Context};
use super::site::ArticleCode;
use super::MappingError;
use crate::shop::order::{Meta, Order};

/// `Origine` of a credit note's rows.
pub const ORIGIN: &str = "AVO";

/// A WooCommerce refund, as `GET /wp-json/wc/v3/orders/<id>/refunds`
/// returns it (the shop pull stores the list as `relais_refunds` on the
/// order).
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    /// Refund id.
    pub id: u64,
    /// When it was made, UTC.
    #[serde(default)]
    pub date_created_gmt: String,
    /// Amount refunded, positive.
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
    /// Reason given at the shop.
    #[serde(default)]
    pub reason: String,
    /// Lines refunded, quantities and amounts negative.
    #[serde(default)]
    pub line_items: Vec<RefundLine>,
    /// Shipping refunded, amounts negative.
    #[serde(default)]
    pub shipping_lines: Vec<RefundCharge>,
    /// Fees refunded, amounts negative.
    #[serde(default)]
    pub fee_lines: Vec<RefundCharge>,
}

/// One refunded product line.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundLine {
    /// Product name.
    #[serde(default)]
    pub name: String,
    /// Product id (0 if deleted since).
    #[serde(default)]
    pub product_id: u64,
    /// Quantity or weight given back, negative.
    #[serde(deserialize_with = "decimal")]
    pub quantity: Decimal,
    /// Amount excl. tax, negative.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    /// Tax, negative.
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    /// SKU, possibly empty.
    #[serde(default)]
    pub sku: String,
    /// `_refunded_item_id`: the order line this refunds.
    #[serde(default)]
    pub meta_data: Vec<Meta>,
}

/// Refunded shipping or fee.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundCharge {
    /// Amount excl. tax, negative.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    /// Tax, negative.
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
}

impl RefundLine {
    /// The order line this refunds, from `_refunded_item_id`.
    fn refunded_item(&self) -> Option<u64> {
        let meta = self
            .meta_data
            .iter()
            .find(|m| m.key == "_refunded_item_id")?;
        match &meta.value {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// What an amendment document holds: enough to say where it comes from,
/// and its rows, frozen when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    /// The original order's number.
    pub order: String,
    /// Its rank among the order's amendments, from 1.
    pub sequence: u32,
    /// The order revision (store id) it brings to the ERP.
    pub revision_doc: u64,
    /// The revision (store id) the ERP held before, if the order had been
    /// sent already; none for refunds known at the first sending.
    pub base_doc: Option<u64>,
    /// The refunds it credits, by shop refund id.
    pub refunds: Vec<u64>,
    /// What changed, for the operator.
    pub note: String,
    /// The credit note's rows.
    pub rows: Vec<ImportRow>,
}

impl Amendment {
    /// `<order>-AV<n>`, the credit note's reference and external id.
    pub fn reference(order: &str, sequence: u32) -> String {
        format!("{order}-AV{sequence}")
    }

    /// Total incl. VAT (negative for a credit).
    pub fn total(&self) -> Decimal {
        self.rows
            .iter()
            .filter(|r| r.kind != RowType::Reg)
            .map(|r| r.amount_ttc)
            .sum()
    }
}

/// The order's refunds: the full detail where the pull fetched it
/// (`relais_refunds`), else the order's own list as amount-only refunds.
pub fn read_refunds(body: &[u8], order: &Order) -> Result<Vec<Refund>, MappingError> {
    #[derive(Deserialize)]
    struct Detail {
        #[serde(default)]
        relais_refunds: Option<Vec<Refund>>,
    }
    let detail: Detail = serde_json::from_slice(body).map_err(|e| MappingError {
        document: format!("order {}", order.number),
        field: "relais_refunds".into(),
        expected: "the list of refunds as GET /orders/<id>/refunds returns it".into(),
        found: e.to_string(),
    })?;
    let mut refunds = detail.relais_refunds.unwrap_or_default();
    let known: BTreeSet<u64> = refunds.iter().map(|r| r.id).collect();
    for listed in order.refunds.iter().filter(|r| !known.contains(&r.id)) {
        refunds.push(Refund {
            id: listed.id,
            date_created_gmt: String::new(),
            amount: -listed.total,
            reason: listed.reason.clone(),
            line_items: Vec::new(),
            shipping_lines: Vec::new(),
            fee_lines: Vec::new(),
        });
    }
    refunds.sort_by_key(|r| r.id);
    Ok(refunds)
}

/// The credit rows of refunds, dated and addressed like `template` (one of
/// the order's rows). The rows still carry the order's reference; [`finish`]
/// gives them the credit note's.
///
/// `already` is what earlier refunds of the order, credited before, paid
/// back: the money of these is paid back through what those left (see
/// [`RefundPayments`]).
pub fn refund_credit(
    template: &ImportRow,
    refunds: &[Refund],
    already: Decimal,
    order: &Order,
    cx: &Context<'_>,
) -> Result<Vec<ImportRow>, MappingError> {
    let mut payments = RefundPayments::of(order, already)?;
    let mut rows = Vec::new();
    for refund in refunds {
        rows.extend(refund_rows(template, refund, &mut payments, order, cx)?);
    }
    Ok(rows)
}

/// Where a refund's money goes back, for an order paid several ways: first
/// through the order's own gateway (`payment_method`, the one WooCommerce
/// refunds through), up to what it took; then through the other payments,
/// the last made first (a gift card used with a card gets back what the
/// card could not). An order paid one way gets everything back that way.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundPayments {
    /// Method and what it can still give back, in the order they are used.
    left: Vec<(String, Decimal)>,
    /// The order's own method, for anything past every payment.
    main: String,
}

impl RefundPayments {
    /// The order's payments less `already` paid back by earlier refunds.
    pub fn of(order: &Order, already: Decimal) -> Result<RefundPayments, MappingError> {
        let main = order.payment_method.clone();
        let mut left: Vec<(String, Decimal)> = match order.split_payments() {
            Some(Ok(split)) => {
                let (own, others): (Vec<_>, Vec<_>) =
                    split.into_iter().partition(|p| p.method == main);
                own.into_iter()
                    .chain(others.into_iter().rev())
                    .map(|p| (p.method, p.amount))
                    .collect()
            }
            Some(Err(e)) => {
                return Err(MappingError {
                    document: format!("order {}", order.number),
                    field: "meta_data._payments".into(),
                    expected: "a list of payments".into(),
                    found: e.to_string(),
                })
            }
            None => vec![(main.clone(), order.total)],
        };
        let mut payments = RefundPayments {
            left: Vec::new(),
            main,
        };
        let _ = payments.take_from(&mut left, already);
        payments.left = left;
        Ok(payments)
    }

    /// Splits `amount` over what is left, in order; anything past every
    /// payment goes to the order's own method.
    pub fn pay_back(&mut self, amount: Decimal) -> Vec<(String, Decimal)> {
        let mut left = std::mem::take(&mut self.left);
        let shares = self.take_from(&mut left, amount);
        self.left = left;
        shares
    }

    fn take_from(&self, left: &mut [(String, Decimal)], amount: Decimal) -> Vec<(String, Decimal)> {
        let mut rest = amount;
        let mut shares: Vec<(String, Decimal)> = Vec::new();
        for (method, room) in left.iter_mut() {
            if rest <= Decimal::ZERO {
                break;
            }
            let share = rest.min(*room);
            if share > Decimal::ZERO {
                *room -= share;
                rest -= share;
                shares.push((method.clone(), share));
            }
        }
        if rest > Decimal::ZERO {
            match shares.iter_mut().find(|(m, _)| *m == self.main) {
                Some((_, share)) => *share += rest,
                None => shares.push((self.main.clone(), rest)),
            }
        }
        shares
    }
}

/// What the refunds already credited paid back.
pub fn credited_amount(refunds: &[Refund], credited: &BTreeSet<u64>) -> Decimal {
    refunds
        .iter()
        .filter(|r| credited.contains(&r.id))
        .map(|r| r.amount)
        .sum()
}

/// Gives every row the credit note's reference and origin; the payment
/// rows say which order they pay back.
pub fn finish(rows: &mut [ImportRow], order: &str, sequence: u32) {
    let reference = Amendment::reference(order, sequence);
    for row in rows.iter_mut() {
        row.reference.clone_from(&reference);
        row.origin = ORIGIN.to_string();
        if row.kind == RowType::Reg && !row.info.starts_with("avoir") {
            row.info = format!("avoir sur commande {order} {}", row.info)
                .trim()
                .to_string();
        }
    }
}

/// The key rows are compared by: a line is the same line if it is the same
/// kind of row, article, rate and label.
fn key(row: &ImportRow) -> (&'static str, &str, Option<Decimal>, &str) {
    (
        row.kind.code(),
        row.article.as_str(),
        row.vat_rate.map(|r| r.normalize()),
        row.label.as_str(),
    )
}

fn add(a: Option<Decimal>, b: Option<Decimal>) -> Option<Decimal> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
    }
}

fn neg(v: Option<Decimal>) -> Option<Decimal> {
    v.map(|d| -d)
}

/// `target - base`, line by line, in the target's order then the lines the
/// target no longer has. Lines that did not change give no row.
pub fn diff_rows(base: &[ImportRow], target: &[ImportRow]) -> Vec<ImportRow> {
    let mut out: Vec<ImportRow> = Vec::new();
    let signed = target
        .iter()
        .map(|r| (r, false))
        .chain(base.iter().map(|r| (r, true)));
    for (row, minus) in signed {
        let sign = |v: Option<Decimal>| if minus { neg(v) } else { v };
        let amount = if minus {
            -row.amount_ttc
        } else {
            row.amount_ttc
        };
        match out.iter_mut().find(|o| key(o) == key(row)) {
            Some(acc) => {
                acc.quantity = add(acc.quantity, sign(row.quantity));
                acc.amount_ht = add(acc.amount_ht, sign(row.amount_ht));
                acc.amount_vat = add(acc.amount_vat, sign(row.amount_vat));
                acc.amount_ttc += amount;
            }
            None => out.push(ImportRow {
                quantity: sign(row.quantity),
                amount_ht: sign(row.amount_ht),
                amount_vat: sign(row.amount_vat),
                amount_ttc: amount,
                ..row.clone()
            }),
        }
    }
    let zero = |v: Option<Decimal>| v.is_none_or(|d| d.is_zero());
    out.retain(|r| {
        !(zero(r.quantity) && zero(r.amount_ht) && zero(r.amount_vat) && r.amount_ttc.is_zero())
    });
    out
}

/// One refund as credit rows: its lines, shipping and fees, what it
/// refunded beyond them as an `AVO` row, and the money paid back.
fn refund_rows(
    template: &ImportRow,
    refund: &Refund,
    payments: &mut RefundPayments,
    order: &Order,
    cx: &Context<'_>,
) -> Result<Vec<ImportRow>, MappingError> {
    let info = format!("remboursement {}", refund.id);
    let base = ImportRow {
        kind: RowType::Art,
        quantity: None,
        unit_price_ht: None,
        vat_rate: None,
        amount_ht: None,
        amount_vat: None,
        amount_ttc: Decimal::ZERO,
        info: info.clone(),
        ..template.clone()
    };
    let priced = |kind, article: &str, label: &str, ht: Decimal, vat: Decimal| ImportRow {
        kind,
        article: article.to_string(),
        label: label.to_string(),
        amount_ht: Some(ht),
        amount_vat: Some(vat),
        amount_ttc: ht + vat,
        ..base.clone()
    };
    let mut rows = Vec::new();
    for line in &refund.line_items {
        rows.push(refund_line(&priced, line, order, cx));
    }
    for ship in &refund.shipping_lines {
        let article = &cx.rules.shipping_article;
        rows.push(priced(
            RowType::Port,
            article,
            "Livraison remboursée",
            ship.total,
            ship.total_tax,
        ));
    }
    for fee in &refund.fee_lines {
        let article = &cx.rules.fee_article;
        rows.push(priced(
            RowType::Frais,
            article,
            "Frais remboursés",
            fee.total,
            fee.total_tax,
        ));
    }
    let credited: Decimal = rows.iter().map(|r| r.amount_ttc).sum();
    let rest = -refund.amount - credited;
    let label = match refund.reason.trim() {
        "" => "Remboursement".to_string(),
        reason => format!("Remboursement: {reason}"),
    };
    if !rest.is_zero() {
        rows.push(ImportRow {
            kind: RowType::Avo,
            article: cx.rules.refund_article.clone(),
            label: label.clone(),
            amount_ttc: rest,
            ..base.clone()
        });
    }
    for (method, share) in payments.pay_back(refund.amount) {
        let code = cx
            .rules
            .payment_codes
            .get(&method)
            .ok_or_else(|| MappingError {
                document: format!("order {} refund {}", order.number, refund.id),
                field: "payment_method".into(),
                expected: "a payment method listed in the site's payment_codes".into(),
                found: method.clone(),
            })?;
        rows.push(ImportRow {
            kind: RowType::Reg,
            article: code.clone(),
            label: label.clone(),
            amount_ttc: -share,
            ..base.clone()
        });
    }
    Ok(rows)
}

fn refund_line(
    priced: &impl Fn(RowType, &str, &str, Decimal, Decimal) -> ImportRow,
    line: &RefundLine,
    order: &Order,
    cx: &Context<'_>,
) -> ImportRow {
    let item = line.refunded_item();
    let original = item.and_then(|id| order.line_items.iter().find(|i| i.id == id));
    let sku = if line.sku.trim().is_empty() {
        original.map(|i| i.sku.as_str()).unwrap_or_default()
    } else {
        line.sku.as_str()
    };
    // The order itself went through, so its SKU had an article: a rule
    // changed since to `hold` still credits under the SKU rather than lose
    // the refund.
    let article = match cx.rules.article_for(sku.trim()) {
        _ if sku.trim().is_empty() => cx.rules.deleted_product_article.as_str(),
        ArticleCode::Known(code) | ArticleCode::Fallback(code) => code,
        ArticleCode::Held => sku,
    };
    let name = if line.name.is_empty() {
        original.map(|i| i.name.as_str()).unwrap_or_default()
    } else {
        line.name.as_str()
    };
    let mut row = priced(RowType::Art, article, name, line.total, line.total_tax);
    row.quantity = Some(line.quantity);
    if !line.quantity.is_zero() {
        row.unit_price_ht = Some((line.total / line.quantity).round_dp(4).normalize());
    }
    row.vat_rate = item.and_then(|id| line_rate(order, id, cx));
    if let Some(unit) = original
        .and_then(|i| i.meta_data.iter().find(|m| m.key == "unite"))
        .and_then(|m| m.value.as_str())
    {
        row.info = format!("{} ({unit})", row.info);
    }
    row
}

/// The refunds not credited yet: those whose id no amendment holds.
pub fn new_refunds(refunds: Vec<Refund>, credited: &BTreeSet<u64>) -> Vec<Refund> {
    refunds
        .into_iter()
        .filter(|r| !credited.contains(&r.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn row(kind: RowType, article: &str, qty: Option<Decimal>, ht: Decimal) -> ImportRow {
        let vat = (ht * dec!(0.055)).round_dp(2);
        ImportRow {
            kind,
            reference: "383060".into(),
            origin: "WEB".into(),
            date: jiff::civil::date(2026, 12, 2),
            customer: "C004100".into(),
            article: article.into(),
            label: article.into(),
            quantity: qty,
            unit_price_ht: Some(dec!(16.20)),
            vat_rate: Some(dec!(5.5)),
            amount_ht: Some(ht),
            amount_vat: Some(vat),
            amount_ttc: ht + vat,
            info: String::new(),
        }
    }

    #[test]
    fn a_weight_cut_gives_one_negative_line_and_unchanged_lines_give_none() {
        let base = [
            row(RowType::Art, "ECHAL", Some(dec!(6)), dec!(97.20)),
            row(RowType::Art, "POIRE", Some(dec!(2)), dec!(10.00)),
        ];
        let target = [
            row(RowType::Art, "ECHAL", Some(dec!(4.276)), dec!(69.27)),
            row(RowType::Art, "POIRE", Some(dec!(2)), dec!(10.00)),
        ];
        let diff = diff_rows(&base, &target);
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert_eq!(diff[0].quantity, Some(dec!(-1.724)));
        assert_eq!(diff[0].amount_ht, Some(dec!(-27.93)));
        assert_eq!(
            diff[0].amount_ttc,
            target[0].amount_ttc - base[0].amount_ttc
        );
    }

    #[test]
    fn a_cancelled_order_is_credited_in_full() {
        let base = [
            row(RowType::Art, "ECHAL", Some(dec!(6)), dec!(97.20)),
            row(RowType::Port, "PORT", Some(dec!(1)), dec!(9.00)),
        ];
        let diff = diff_rows(&base, &[]);
        assert_eq!(diff.len(), 2);
        let total: Decimal = diff.iter().map(|r| r.amount_ttc).sum();
        let sold: Decimal = base.iter().map(|r| r.amount_ttc).sum();
        assert_eq!(total, -sold);
        assert_eq!(diff[0].quantity, Some(dec!(-6)));
    }

    fn paid(payments: Option<serde_json::Value>) -> Order {
        let mut order = serde_json::json!({
            "id": 383001, "number": "383001", "status": "completed", "currency": "EUR",
            "date_created_gmt": "2026-12-02T05:00:00", "date_modified_gmt": "2026-12-02T05:00:00",
            "total": "120.00", "customer_id": 1000, "payment_method": "stripe",
            "billing": {"first_name": "A", "last_name": "B", "company": "", "email": "a@b"},
        });
        if let Some(split) = payments {
            order["meta_data"] = serde_json::json!([{"key": "_payments", "value": split}]);
        }
        serde_json::from_value(order).expect("order")
    }

    fn money(shares: Vec<(String, Decimal)>) -> Vec<(&'static str, Decimal)> {
        shares
            .into_iter()
            .map(|(m, d)| (if m == "stripe" { "stripe" } else { "gift_card" }, d))
            .collect()
    }

    #[test]
    fn a_refund_goes_back_through_the_gateway_first_then_the_other_payments() {
        let split = serde_json::json!([
            {"method": "gift_card", "amount": "100.00"},
            {"method": "stripe", "amount": "20.00"},
        ]);
        let order = paid(Some(split));
        let mut payments = RefundPayments::of(&order, Decimal::ZERO).expect("payments");
        assert_eq!(money(payments.pay_back(dec!(15))), [("stripe", dec!(15))]);
        assert_eq!(
            money(payments.pay_back(dec!(30))),
            [("stripe", dec!(5)), ("gift_card", dec!(25))],
            "the card took 20 in all: the rest goes back to the gift card"
        );
        // The same order later: 45 already paid back by credited refunds.
        let mut later = RefundPayments::of(&order, dec!(45)).expect("payments");
        assert_eq!(money(later.pay_back(dec!(10))), [("gift_card", dec!(10))]);
        // Past every payment (a refund larger than the order): the gateway.
        assert_eq!(
            money(later.pay_back(dec!(70))),
            [("gift_card", dec!(65)), ("stripe", dec!(5))]
        );
    }

    #[test]
    fn an_order_paid_one_way_is_paid_back_that_way() {
        let mut payments = RefundPayments::of(&paid(None), dec!(100)).expect("payments");
        assert_eq!(money(payments.pay_back(dec!(50))), [("stripe", dec!(50))]);
    }

    #[test]
    fn finishing_gives_the_credit_note_its_own_reference_naming_the_order() {
        let mut rows = vec![row(RowType::Reg, "CB", None, dec!(-10))];
        finish(&mut rows, "383060", 2);
        assert_eq!(rows[0].reference, "383060-AV2");
        assert_eq!(rows[0].origin, "AVO");
        assert!(rows[0].info.starts_with("avoir sur commande 383060"));
    }
}
