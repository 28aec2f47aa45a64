//! A web order becomes ERP import rows.
//!
//! The shop's own figures are kept: articles at their amount before coupons
//! (`subtotal`, `subtotal_tax`), then one `REM` row per coupon and VAT rate
//! carrying what the coupons took off each line, so the ERP sees both the
//! list price and the discount. Shipping and fee lines follow, then payments
//! (`REG`), one per transaction when the order was split-paid. Nothing is
//! recomputed from rates: the shop may round VAT per line or per total, and
//! its figure is the one the customer paid. When it rounds per total, its
//! unrounded line figures are brought to cents so that each rate adds up to
//! the shop's rounded total ([`SiteRules::vat_rounding`]).
//!
//! Product lines go under the ERP's article for their SKU (the site's
//! `articles` table); a SKU the ERP lacks and a line with no SKU follow the
//! site's `unknown_sku` and `deleted_product` rules.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use super::import::{ImportRow, RowType};
use super::site::{currency_problem, ArticleCode, Clients, DeletedProduct, SiteRules, VatRounding};
use super::MappingError;
use crate::shop::order::{LineItem, LineTax, Order};

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
    if let Some(problem) = currency_problem(&order.currency, cx.rules.erp_decimals) {
        return Err(err("currency", &problem, &order.currency));
    }
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
    if cx.rules.vat_rounding == VatRounding::Total {
        spread_to_cents(&mut builder.rows);
    }
    check_decimals(order, &builder.rows, cx.rules.erp_decimals)?;
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

    /// The ERP article of product line `n`, and the `Info` to write when
    /// it is not the line's own SKU.
    fn article_of(
        &self,
        n: usize,
        item: &LineItem,
        rules: &SiteRules,
    ) -> Result<(String, Option<String>), MappingError> {
        let fault = |expected: String| MappingError {
            document: format!("order {}", self.order.number),
            field: format!("line {} (id {}, {:?}) sku", n + 1, item.id, item.name),
            expected,
            found: item.sku.clone(),
        };
        let sku = item.sku.trim();
        if sku.is_empty() {
            if rules.deleted_product == DeletedProduct::Hold {
                let expected = "a SKU (deleted_product = \"hold\": a line with no SKU waits \
                                for repair at the shop)";
                return Err(fault(expected.to_string()));
            }
            let why = match item.product_id {
                0 => "produit supprimé de la boutique".to_string(),
                id => format!("produit {id} sans SKU"),
            };
            let info = format!("{why} (ligne {})", item.id);
            return Ok((rules.deleted_product_article.clone(), Some(info)));
        }
        match rules.article_for(sku) {
            ArticleCode::Known(code) => Ok((code.to_string(), None)),
            ArticleCode::Fallback(code) => {
                Ok((code.to_string(), Some(format!("SKU boutique {sku}"))))
            }
            ArticleCode::Held => Err(fault(
                "a SKU listed in the site's articles table (unknown_sku = \"hold\")".into(),
            )),
        }
    }

    fn articles(&mut self, cx: &Context<'_>) -> Result<(), MappingError> {
        for (n, item) in self.order.line_items.iter().enumerate() {
            let (article, note) = self.article_of(n, item, cx.rules)?;
            let mut row = self.priced(
                RowType::Art,
                &article,
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
            if let Some(note) = note {
                row.info = note;
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

/// Brings the rows of a shop that rounds VAT per total to cents: per VAT
/// rate, the HT and VAT columns each add up to their exact total rounded to
/// cents, and the cents left by rounding every row down go to the rows with
/// the largest remainders (the first such row on a tie), so the same order
/// always gives the same rows.
fn spread_to_cents(rows: &mut [ImportRow]) {
    let mut rates: Vec<Decimal> = rows.iter().filter_map(|r| r.vat_rate).collect();
    rates.sort();
    rates.dedup();
    for rate in rates {
        let at_rate: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].vat_rate == Some(rate) && rows[i].amount_ht.is_some())
            .collect();
        spread_column(rows, &at_rate, |r| &mut r.amount_ht);
        spread_column(rows, &at_rate, |r| &mut r.amount_vat);
        for &i in &at_rate {
            let row = &mut rows[i];
            row.amount_ttc = row.amount_ht.unwrap_or_default() + row.amount_vat.unwrap_or_default();
        }
    }
}

fn spread_column(
    rows: &mut [ImportRow],
    at: &[usize],
    column: impl Fn(&mut ImportRow) -> &mut Option<Decimal>,
) {
    let cent = Decimal::new(1, 2);
    let mut exact = Decimal::ZERO;
    let mut floored = Decimal::ZERO;
    let mut remainders = Vec::with_capacity(at.len());
    for &i in at {
        let value = column(&mut rows[i]).unwrap_or_default();
        let down =
            value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToNegativeInfinity);
        exact += value;
        floored += down;
        remainders.push((value - down, i));
        *column(&mut rows[i]) = Some(down);
    }
    let mut cents_left = (pos_bridge::money::round_cents(exact) - floored) / cent;
    // Largest remainder first; a stable sort keeps row order on ties.
    remainders.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (_, i) in remainders {
        if cents_left <= Decimal::ZERO {
            break;
        }
        if let Some(value) = column(&mut rows[i]).as_mut() {
            *value += cent;
        }
        cents_left -= Decimal::ONE;
    }
}

/// Refuses an amount finer than the ERP books, naming the row and column.
fn check_decimals(order: &Order, rows: &[ImportRow], decimals: u32) -> Result<(), MappingError> {
    for (n, row) in rows.iter().enumerate() {
        let columns = [
            ("MontantHT", row.amount_ht),
            ("MontantTVA", row.amount_vat),
            ("MontantTTC", Some(row.amount_ttc)),
        ];
        for (column, value) in columns {
            let Some(value) = value else { continue };
            if value.normalize().scale() > decimals {
                let expected = format!(
                    "an amount with at most {decimals} decimals, as the ERP books (a shop \
                     rounding VAT per total needs vat_rounding = \"total\")"
                );
                let field = format!(
                    "{column} (row {} {} {})",
                    n + 1,
                    row.kind.code(),
                    row.article
                );
                return Err(error(order, &field, &expected, &value.to_string()));
            }
        }
    }
    Ok(())
}
