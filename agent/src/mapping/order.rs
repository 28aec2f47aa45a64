//! A web order becomes ERP import rows.
//!
//! The shop's own figures are kept: articles at their amount before coupons
//! (`subtotal`, `subtotal_tax`), then one `REM` row per coupon and VAT rate
//! carrying what the coupons took off each line, so the ERP sees both the
//! list price and the discount. Shipping and fee lines follow, then payments
//! (`REG`), one per transaction when the order was split-paid. Nothing is
//! recomputed from rates: the shop may round VAT per line or per total, and
//! its figure is the one the customer paid.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use super::import::{ImportRow, RowType};
use super::site::{Clients, SiteRules};
use super::MappingError;
use crate::shop::order::{LineTax, Order};

/// What to do with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderDecision {
    /// Send these rows to the ERP.
    Send(Vec<ImportRow>),
    /// Keep it back until the shop changes it; the reason says why.
    Hold(String),
}

/// Everything the mapping reads besides the order.
pub struct Context<'a> {
    /// The site's rules.
    pub rules: &'a SiteRules,
    /// The ERP's client file.
    pub clients: &'a Clients,
    /// The site's time zone, for the order date.
    pub tz: &'a TimeZone,
}

fn error(order: &Order, field: &str, expected: &str, found: &str) -> MappingError {
    MappingError {
        document: format!("order {}", order.number),
        field: field.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Maps one order (pure: same order, same rows).
pub fn map_order(order: &Order, cx: &Context<'_>) -> Result<OrderDecision, MappingError> {
    let status = order.status.as_str();
    if !cx.rules.statuses_to_erp.iter().any(|s| s == status) {
        let allowed = cx.rules.statuses_to_erp.join(", ");
        if cx.rules.statuses_held.iter().any(|s| s == status) {
            let reason = format!("status {status:?} at the shop; only {allowed} go to the ERP");
            return Ok(OrderDecision::Hold(reason));
        }
        let held = cx.rules.statuses_held.join(", ");
        let known = format!("a status the site lists ({allowed}; held: {held})");
        return Err(error(order, "status", &known, status));
    }
    map_sold(order, cx).map(OrderDecision::Send)
}

/// The rows of an order as sold, whatever its status now (an amendment
/// compares a refunded order's sale with what the ERP holds).
pub fn map_sold(order: &Order, cx: &Context<'_>) -> Result<Vec<ImportRow>, MappingError> {
    let err = |field: &str, expected: &str, found: &str| error(order, field, expected, found);
    if order.currency != cx.rules.currency {
        return Err(err("currency", &cx.rules.currency, &order.currency));
    }
    let created = order
        .created()
        .map_err(|e| err(e.field, "a UTC date", &e.found))?;
    let mut builder = RowBuilder {
        order,
        date: created.to_zoned(cx.tz.clone()).date(),
        customer: customer_code(order, cx).map_err(|(e, f)| err("customer_id", &e, &f))?,
        rows: Vec::new(),
    };
    builder.articles(cx)?;
    builder.coupons(cx);
    builder.shipping_and_fees(cx)?;
    let goods: Decimal = builder.rows.iter().map(|r| r.amount_ttc).sum();
    if goods != order.total {
        let expected = format!("rows adding up to the order total {}", order.total);
        return Err(err("total", &expected, &goods.to_string()));
    }
    builder.payments(cx)?;
    if order.customer_id == 0 {
        let guest = format!("invité: {} {}", order.billing.email, guest_name(order));
        builder.rows[0].info = guest.trim().to_string();
    }
    Ok(builder.rows)
}

/// The VAT rate of one of the order's product lines, as its mapping used.
pub fn line_rate(order: &Order, line_id: u64, cx: &Context<'_>) -> Option<Decimal> {
    let item = order.line_items.iter().find(|i| i.id == line_id)?;
    let builder = RowBuilder {
        order,
        date: jiff::civil::Date::default(),
        customer: String::new(),
        rows: Vec::new(),
    };
    builder.rate(&item.taxes, &item.tax_class, cx).ok()
}

fn guest_name(order: &Order) -> String {
    let b = &order.billing;
    [
        b.company.as_str(),
        b.first_name.as_str(),
        b.last_name.as_str(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" ")
}

fn customer_code(order: &Order, cx: &Context<'_>) -> Result<String, (String, String)> {
    if order.customer_id == 0 {
        return Ok(cx.rules.guest_customer.clone());
    }
    cx.clients
        .erp_code(order.customer_id)
        .map(str::to_string)
        .ok_or_else(|| {
            (
                "a customer listed in the ERP's client file".into(),
                order.customer_id.to_string(),
            )
        })
}

/// Accumulates the rows of one order.
struct RowBuilder<'o> {
    order: &'o Order,
    date: jiff::civil::Date,
    customer: String,
    rows: Vec<ImportRow>,
}

impl RowBuilder<'_> {
    fn row(&self, kind: RowType, article: &str, label: &str) -> ImportRow {
        ImportRow {
            kind,
            reference: self.order.number.clone(),
            origin: "WEB".to_string(),
            date: self.date,
            customer: self.customer.clone(),
            article: article.to_string(),
            label: label.to_string(),
            quantity: None,
            unit_price_ht: None,
            vat_rate: None,
            amount_ht: None,
            amount_vat: None,
            amount_ttc: Decimal::ZERO,
            info: String::new(),
        }
    }

    fn priced(
        &self,
        kind: RowType,
        article: &str,
        label: &str,
        ht: Decimal,
        vat: Decimal,
    ) -> ImportRow {
        ImportRow {
            amount_ht: Some(ht),
            amount_vat: Some(vat),
            amount_ttc: ht + vat,
            ..self.row(kind, article, label)
        }
    }

    fn rate(
        &self,
        taxes: &[LineTax],
        class: &str,
        cx: &Context<'_>,
    ) -> Result<Decimal, MappingError> {
        let from_tax = taxes.first().and_then(|t| {
            self.order
                .tax_lines
                .iter()
                .find(|l| l.rate_id == t.id)
                .map(|l| l.rate_percent)
        });
        from_tax
            .or_else(|| cx.rules.vat_by_tax_class.get(class).copied())
            .ok_or_else(|| MappingError {
                document: format!("order {}", self.order.number),
                field: "tax_class".to_string(),
                expected: "a tax class listed in the site's vat_by_tax_class".to_string(),
                found: class.to_string(),
            })
    }

    fn articles(&mut self, cx: &Context<'_>) -> Result<(), MappingError> {
        for item in &self.order.line_items {
            let deleted = item.sku.trim().is_empty();
            let article = if deleted {
                &cx.rules.deleted_product_article
            } else {
                &item.sku
            };
            let mut row = self.priced(
                RowType::Art,
                article,
                &item.name,
                item.subtotal,
                item.subtotal_tax,
            );
            row.quantity = Some(item.quantity);
            if !item.quantity.is_zero() {
                row.unit_price_ht = Some((item.subtotal / item.quantity).round_dp(4).normalize());
            }
            row.vat_rate = Some(self.rate(&item.taxes, &item.tax_class, cx)?);
            let unit = item.meta_data.iter().find(|m| m.key == "unite");
            row.info = unit
                .and_then(|m| m.value.as_str())
                .unwrap_or_default()
                .to_string();
            if deleted {
                row.info = format!("produit supprimé de la boutique (ligne {})", item.id);
            }
            self.rows.push(row);
        }
        Ok(())
    }

    /// What the coupons took off, per VAT rate, as the shop's line figures say.
    fn discount_pool(&self) -> BTreeMap<Decimal, (Decimal, Decimal)> {
        let mut pool = BTreeMap::new();
        for (item, row) in self.order.line_items.iter().zip(&self.rows) {
            let ht = item.subtotal - item.total;
            let vat = item.subtotal_tax - item.total_tax;
            if ht.is_zero() && vat.is_zero() {
                continue;
            }
            let entry = pool
                .entry(row.vat_rate.unwrap_or_default())
                .or_insert((Decimal::ZERO, Decimal::ZERO));
            entry.0 += ht;
            entry.1 += vat;
        }
        pool
    }

    fn coupons(&mut self, cx: &Context<'_>) {
        let pool = self.discount_pool();
        let coupons = &self.order.coupon_lines;
        let weight_total: Decimal = coupons.iter().map(|c| c.discount).sum();
        let mut left = pool.clone();
        let paying: Vec<usize> = (0..coupons.len())
            .filter(|&i| !coupons[i].discount.is_zero())
            .collect();
        let mut rows = Vec::new();
        for (i, coupon) in coupons.iter().enumerate() {
            let label = format!("Coupon {}", coupon.code.to_uppercase());
            if coupon.discount.is_zero() || weight_total.is_zero() {
                let mut row = self.priced(
                    RowType::Rem,
                    &cx.rules.discount_article,
                    &label,
                    Decimal::ZERO,
                    Decimal::ZERO,
                );
                row.info = coupon.code.clone();
                rows.push(row);
                continue;
            }
            let last = paying.last() == Some(&i);
            for (rate, (ht, vat)) in &pool {
                let share = |amount: Decimal| {
                    pos_bridge::money::round_cents(amount * coupon.discount / weight_total)
                };
                let (ht_part, vat_part) = if last {
                    left[rate]
                } else {
                    (share(*ht), share(*vat))
                };
                if let Some(rest) = left.get_mut(rate) {
                    rest.0 -= ht_part;
                    rest.1 -= vat_part;
                }
                let mut row = self.priced(
                    RowType::Rem,
                    &cx.rules.discount_article,
                    &label,
                    -ht_part,
                    -vat_part,
                );
                row.vat_rate = Some(*rate);
                row.info = coupon.code.clone();
                rows.push(row);
            }
        }
        if paying.is_empty() {
            // Lines discounted without a coupon (a manual price cut): one row per rate.
            for (rate, (ht, vat)) in pool {
                let mut row = self.priced(
                    RowType::Rem,
                    &cx.rules.discount_article,
                    "Remise",
                    -ht,
                    -vat,
                );
                row.vat_rate = Some(rate);
                rows.push(row);
            }
        }
        self.rows.extend(rows);
    }

    fn shipping_and_fees(&mut self, cx: &Context<'_>) -> Result<(), MappingError> {
        for ship in &self.order.shipping_lines {
            if ship.total.is_zero() && ship.total_tax.is_zero() {
                continue;
            }
            let mut row = self.priced(
                RowType::Port,
                &cx.rules.shipping_article,
                &ship.method_title,
                ship.total,
                ship.total_tax,
            );
            row.quantity = Some(Decimal::ONE);
            row.unit_price_ht = Some(ship.total);
            row.vat_rate = Some(self.rate(&ship.taxes, "", cx)?);
            row.info = ship.method_id.clone();
            self.rows.push(row);
        }
        for fee in &self.order.fee_lines {
            let mut row = self.priced(
                RowType::Frais,
                &cx.rules.fee_article,
                &fee.name,
                fee.total,
                fee.total_tax,
            );
            row.quantity = Some(Decimal::ONE);
            row.unit_price_ht = Some(fee.total);
            row.vat_rate = Some(self.rate(&fee.taxes, &fee.tax_class, cx)?);
            self.rows.push(row);
        }
        Ok(())
    }

    fn payments(&mut self, cx: &Context<'_>) -> Result<(), MappingError> {
        let order = self.order;
        let err = |field: &str, expected: String, found: String| MappingError {
            document: format!("order {}", order.number),
            field: field.to_string(),
            expected,
            found,
        };
        let payments = match order.split_payments() {
            Some(Ok(split)) => split
                .into_iter()
                .map(|p| (p.method, p.transaction_id, p.amount))
                .collect(),
            Some(Err(e)) => {
                return Err(err(
                    "meta_data._payments",
                    "a list of payments".into(),
                    e.to_string(),
                ))
            }
            None => vec![(
                order.payment_method.clone(),
                order.transaction_id.clone(),
                order.total,
            )],
        };
        let paid: Decimal = payments.iter().map(|p| p.2).sum();
        if paid != order.total {
            let expected = format!("payments adding up to the order total {}", order.total);
            return Err(err("meta_data._payments", expected, paid.to_string()));
        }
        for (method, transaction, amount) in payments {
            let code = cx.rules.payment_codes.get(&method).ok_or_else(|| {
                let known: Vec<&str> = cx.rules.payment_codes.keys().map(String::as_str).collect();
                err(
                    "payment_method",
                    format!("one of the site's payment methods ({})", known.join(", ")),
                    method.clone(),
                )
            })?;
            let mut row = self.row(RowType::Reg, code, &format!("Règlement {method}"));
            row.amount_ttc = amount;
            row.info = if order.date_paid_gmt.is_none() {
                format!("{transaction} non encaissé").trim().to_string()
            } else {
                transaction
            };
            self.rows.push(row);
        }
        Ok(())
    }
}
