//! For any generated order with refunds (line refunds of part of a line's
//! quantity, refunds with an amount beyond their lines, refunds the shop
//! listed without detail), the original's rows plus its credit note's add
//! up exactly to what the shop finally charged, each piece balances its
//! payments, and making the credit note twice gives the same bytes.

use pos_bridge::dialect::Dialect;
use pos_bridge::money::round_cents;
use proptest::prelude::*;
use relais::mapping::amend::{finish, read_refunds, refund_credit};
use relais::mapping::check_rows;
use relais::mapping::import::{render_file, ImportRow, RowType};
use relais::mapping::order::{map_sold, Context};
use relais::mapping::site::{ClientEntry, Clients, SiteRules};
use relais::shop::order::Order;
use rust_decimal::Decimal;
use serde_json::json;

#[derive(Debug, Clone)]
struct Spec {
    lines: Vec<(u32, i64, bool)>, // quantity, unit price in cents, reduced rate
    refunds: Vec<(usize, u32, i64)>, // line, units given back, extra cents
    listed: Option<i64>,          // an amount-only refund, in cents
    shipping: i64,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec((1u32..12, 1i64..20_000, any::<bool>()), 1..6),
        prop::collection::vec((0usize..6, 1u32..12, 0i64..500), 0..4),
        prop::option::of(1i64..5_000),
        0i64..2_000,
    )
        .prop_map(|(lines, refunds, listed, shipping)| Spec {
            lines,
            refunds,
            listed,
            shipping,
        })
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn tax(amount: Decimal, reduced: bool) -> Decimal {
    let rate = if reduced {
        Decimal::new(55, 1)
    } else {
        Decimal::from(20)
    };
    round_cents(amount * rate / Decimal::ONE_HUNDRED)
}

/// The order and the sum of its refunds, as WooCommerce would hold them.
fn order_json(s: &Spec) -> (serde_json::Value, Decimal) {
    let mut total = Decimal::ZERO;
    let mut items = Vec::new();
    for (i, &(qty, price, reduced)) in s.lines.iter().enumerate() {
        let ht = cents(price) * Decimal::from(qty);
        let vat = tax(ht, reduced);
        total += ht + vat;
        items.push(json!({
            "id": 100 + i, "name": format!("Article {i}"), "product_id": 200 + i,
            "quantity": qty, "tax_class": if reduced { "taux-reduit" } else { "" },
            "subtotal": ht.to_string(), "subtotal_tax": vat.to_string(),
            "total": ht.to_string(), "total_tax": vat.to_string(),
            "taxes": [{"id": if reduced { 2 } else { 1 }}], "sku": format!("SKU-{i}"),
            "meta_data": [{"key": "unite", "value": "kg"}]
        }));
    }
    let ship_tax = tax(cents(s.shipping), false);
    total += cents(s.shipping) + ship_tax;
    let mut refunds = Vec::new();
    let mut listed = Vec::new();
    let mut refunded = Decimal::ZERO;
    for (n, &(line, units, extra)) in s.refunds.iter().enumerate() {
        let Some(&(qty, price, reduced)) = s.lines.get(line) else {
            continue;
        };
        let units = units.min(qty);
        let ht = cents(price) * Decimal::from(units);
        let vat = tax(cents(price) * Decimal::from(qty), reduced) * Decimal::from(units)
            / Decimal::from(qty);
        let vat = round_cents(vat);
        let amount = ht + vat + cents(extra);
        refunded += amount;
        let id = 5000 + n as u64;
        refunds.push(json!({
            "id": id, "date_created_gmt": "2026-12-03T09:00:00", "amount": amount.to_string(),
            "reason": format!("Retour {n}"), "refunded_by": 1, "refunded_payment": true,
            "meta_data": [], "shipping_lines": [], "fee_lines": [], "tax_lines": [],
            "line_items": [{
                "id": 9000 + n, "name": format!("Article {line}"), "product_id": 200 + line,
                "quantity": -(units as i64), "subtotal": (-ht).to_string(),
                "subtotal_tax": (-vat).to_string(), "total": (-ht).to_string(),
                "total_tax": (-vat).to_string(), "sku": format!("SKU-{line}"),
                "meta_data": [
                    {"id": 1, "key": "_refunded_item_id", "value": (100 + line).to_string()}
                ]
            }]
        }));
        listed.push(
            json!({"id": id, "reason": format!("Retour {n}"), "total": (-amount).to_string()}),
        );
    }
    if let Some(amount) = s.listed {
        // The pull could not fetch this one's detail.
        refunded += cents(amount);
        listed.push(json!({
            "id": 7777,
            "reason": "Geste commercial",
            "total": (-cents(amount)).to_string()
        }));
    }
    let order = json!({
        "id": 1, "number": "383999", "status": "completed", "currency": "EUR",
        "date_created_gmt": "2026-12-02T10:00:00", "date_modified_gmt": "2026-12-03T10:05:00",
        "date_paid_gmt": "2026-12-02T10:00:00", "prices_include_tax": false,
        "total": total.to_string(), "customer_id": 1000,
        "billing": {"first_name": "Léa", "last_name": "Moreau", "company": "", "email": "l@e.test"},
        "payment_method": "stripe", "transaction_id": "pi_1", "meta_data": [],
        "line_items": items,
        "tax_lines": [{"rate_id": 1, "rate_percent": 20}, {"rate_id": 2, "rate_percent": 5.5}],
        "shipping_lines": [{"method_title": "Livraison", "method_id": "flat_rate",
            "total": cents(s.shipping).to_string(), "total_tax": ship_tax.to_string(),
            "taxes": [{"id": 1}]}],
        "fee_lines": [], "coupon_lines": [], "refunds": listed, "relais_refunds": refunds
    });
    (order, refunded)
}

fn sum(rows: &[ImportRow], payments: bool) -> Decimal {
    rows.iter()
        .filter(|r| (r.kind == RowType::Reg) == payments)
        .map(|r| r.amount_ttc)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_order_and_its_credit_note_add_up_to_the_shops_net_total(s in spec()) {
        let (json, refunded) = order_json(&s);
        let body = serde_json::to_vec(&json).expect("json");
        let order: Order = serde_json::from_slice(&body).expect("order parses");
        let rules = SiteRules::default();
        let mut clients = Clients::default();
        clients.insert(ClientEntry { code: "C004100".into(), shop_id: 1000, name: "X".into() });
        let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
        let cx = Context { rules: &rules, clients: &clients, tz: &tz };

        let sold = map_sold(&order, &cx).expect("maps");
        let make = || {
            let refunds = read_refunds(&body, &order).expect("refunds");
            let mut credit = refund_credit(&sold[0], &refunds, Decimal::ZERO, &order, &cx)
                .expect("credit");
            finish(&mut credit, &order.number, 1);
            credit
        };
        let credit = make();
        let net = order.total - refunded;
        prop_assert_eq!(sum(&sold, false) + sum(&credit, false), net);
        prop_assert_eq!(sum(&sold, true) + sum(&credit, true), net);
        prop_assert_eq!(sum(&credit, false), sum(&credit, true), "the credit note balances");
        prop_assert!(credit.iter().all(|r| r.reference == "383999-AV1" && r.origin == "AVO"));
        prop_assert!(check_rows(&credit, &Dialect::french_erp(), &rules).is_ok());
        let dialect = Dialect::french_erp();
        prop_assert_eq!(render_file(&credit, &dialect), render_file(&make(), &dialect));
    }
}
