//! For any generated web order (coupons across VAT rates, fees including
//! negative ones, several shipping lines, split payments), the import rows
//! add up exactly to the shop's total, and mapping twice gives the same bytes.

use pos_bridge::dialect::Dialect;
use pos_bridge::money::round_cents;
use proptest::prelude::*;
use relais::mapping::import::{render_file, RowType};
use relais::mapping::order::{map_order, Context, OrderDecision};
use relais::mapping::site::{ClientEntry, Clients, SiteRules};
use relais::shop::order::Order;
use rust_decimal::Decimal;
use serde_json::json;

#[derive(Debug, Clone)]
struct Spec {
    lines: Vec<(u32, i64, bool)>, // quantity, unit price in cents, reduced rate
    coupons: Vec<u32>,            // percent off, 0 = free-shipping style coupon
    fees: Vec<i64>,               // cents, may be negative
    shipping: Vec<i64>,           // cents
    split: Option<u8>,            // percent paid by gift card
    guest: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec((1u32..20, 1i64..20_000, any::<bool>()), 1..8),
        prop::collection::vec(0u32..40, 0..3),
        prop::collection::vec(-1_000i64..2_000, 0..3),
        prop::collection::vec(0i64..3_000, 0..3),
        prop::option::of(1u8..99),
        any::<bool>(),
    )
        .prop_map(|(lines, coupons, fees, shipping, split, guest)| Spec {
            lines,
            coupons,
            fees,
            shipping,
            split,
            guest,
        })
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn rate(reduced: bool) -> Decimal {
    if reduced {
        Decimal::new(55, 1)
    } else {
        Decimal::from(20)
    }
}

fn tax(amount: Decimal, reduced: bool) -> Decimal {
    round_cents(amount * rate(reduced) / Decimal::ONE_HUNDRED)
}

/// Builds an order the way WooCommerce computes one (tax rounded per line).
fn order_json(s: &Spec) -> serde_json::Value {
    let mut total = Decimal::ZERO;
    let mut discounts = vec![Decimal::ZERO; s.coupons.len()];
    let mut items = Vec::new();
    for (i, &(qty, price, reduced)) in s.lines.iter().enumerate() {
        let subtotal = cents(price) * Decimal::from(qty);
        let mut line_total = subtotal;
        for (k, &pct) in s.coupons.iter().enumerate() {
            let off = round_cents(subtotal * Decimal::from(pct) / Decimal::ONE_HUNDRED);
            let off = off.min(line_total);
            line_total -= off;
            discounts[k] += off;
        }
        let line_tax = tax(line_total, reduced);
        total += line_total + line_tax;
        items.push(json!({
            "id": i, "name": format!("Article {i}"), "product_id": 200 + i, "quantity": qty,
            "tax_class": if reduced { "taux-reduit" } else { "" },
            "subtotal": subtotal.to_string(), "subtotal_tax": tax(subtotal, reduced).to_string(),
            "total": line_total.to_string(), "total_tax": line_tax.to_string(),
            "taxes": [{"id": if reduced { 2 } else { 1 }}],
            "sku": format!("SKU-{i}"), "meta_data": []
        }));
    }
    let mut fees = Vec::new();
    for (i, &fee) in s.fees.iter().enumerate() {
        let t = tax(cents(fee), false);
        total += cents(fee) + t;
        fees.push(
            json!({"name": format!("Frais {i}"), "tax_class": "", "total": cents(fee).to_string(),
                         "total_tax": t.to_string(), "taxes": [{"id": 1}]}),
        );
    }
    let mut shipping = Vec::new();
    for (i, &ship) in s.shipping.iter().enumerate() {
        let t = tax(cents(ship), false);
        total += cents(ship) + t;
        shipping.push(
            json!({"method_title": format!("Livraison {i}"), "method_id": "flat_rate",
                             "total": cents(ship).to_string(), "total_tax": t.to_string(),
                             "taxes": [{"id": 1}]}),
        );
    }
    let coupons: Vec<_> = s
        .coupons
        .iter()
        .zip(&discounts)
        .enumerate()
        .map(|(k, (_, d))| {
            json!({"code": format!("promo{k}"), "discount": d.to_string(), "discount_tax": "0.00"})
        })
        .collect();
    let mut meta = vec![];
    if let Some(pct) = s.split {
        let gift = round_cents(total * Decimal::from(pct) / Decimal::ONE_HUNDRED);
        meta.push(json!({"key": "_payments", "value": [
            {"method": "gift_card", "transaction_id": "GC-1", "amount": gift.to_string()},
            {"method": "stripe", "transaction_id": "pi_1",
             "amount": (total - gift).to_string()}]}));
    }
    json!({
        "id": 1, "number": "1", "status": "processing", "currency": "EUR",
        "date_created_gmt": "2026-12-02T10:00:00", "date_modified_gmt": "2026-12-02T10:05:00",
        "date_paid_gmt": "2026-12-02T10:00:00", "prices_include_tax": false,
        "total": total.to_string(), "customer_id": if s.guest { 0 } else { 1000 },
        "billing": {"first_name": "Léa", "last_name": "Moreau", "company": "",
                    "email": "lea@example.test"},
        "payment_method": "stripe", "transaction_id": "pi_1", "meta_data": meta,
        "line_items": items,
        "tax_lines": [{"rate_id": 1, "rate_percent": 20}, {"rate_id": 2, "rate_percent": 5.5}],
        "shipping_lines": shipping, "fee_lines": fees, "coupon_lines": coupons, "refunds": []
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn rows_add_up_to_the_total_and_mapping_is_repeatable(s in spec()) {
        let order: Order = serde_json::from_value(order_json(&s)).expect("order parses");
        let rules = SiteRules::default();
        let mut clients = Clients::default();
        clients.insert(ClientEntry { code: "C004100".into(), shop_id: 1000, name: "X".into() });
        let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
        let cx = Context { rules: &rules, clients: &clients, tz: &tz };
        let OrderDecision::Send(rows) = map_order(&order, &cx).expect("maps") else {
            panic!("a processing order is sent");
        };
        let sum = |payments: bool| -> Decimal {
            rows.iter().filter(|r| (r.kind == RowType::Reg) == payments).map(|r| r.amount_ttc).sum()
        };
        let (goods, paid) = (sum(false), sum(true));
        prop_assert_eq!(goods, order.total);
        prop_assert_eq!(paid, order.total);
        for row in &rows {
            if let (Some(ht), Some(vat)) = (row.amount_ht, row.amount_vat) {
                prop_assert_eq!(ht + vat, row.amount_ttc);
            }
        }
        let again = map_order(&order, &cx).expect("maps again");
        let OrderDecision::Send(rows_again) = again else { panic!("sent again") };
        let dialect = Dialect::french_erp();
        prop_assert_eq!(render_file(&rows, &dialect), render_file(&rows_again, &dialect));
    }
}
