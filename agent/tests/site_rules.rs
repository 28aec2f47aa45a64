//! The site's mapping rules for articles, deleted products, VAT rounding and
//! currencies, on the daemon's mapping and on `relais orders convert`.

use std::path::PathBuf;

use pos_bridge::dialect::Dialect;
use relais::mapping::convert;
use relais::mapping::import::{ImportRow, RowType};
use relais::mapping::order::{map_order, Context, OrderDecision};
use relais::mapping::site::{Clients, DeletedProduct, SiteRules, UnknownSku, VatRounding};
use relais::mapping::MappingError;
use relais::shop::order::Order;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};

fn day() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/samples/day-2026-12-02")
}

fn sample_orders() -> Vec<Value> {
    let text = std::fs::read(day().join("woocommerce/orders-2026-12-02.json")).expect("orders");
    serde_json::from_slice(&text).expect("orders parse")
}

fn sample_order(number: &str) -> Value {
    sample_orders()
        .into_iter()
        .find(|o| o["number"] == number)
        .unwrap_or_else(|| panic!("no order {number} in the sample day"))
}

fn map(order: &Value, rules: &SiteRules) -> Result<OrderDecision, MappingError> {
    let order: Order = serde_json::from_value(order.clone()).expect("order");
    let clients = Clients::read(
        std::fs::File::open(day().join("erp/clients.csv")).expect("client file"),
        &Dialect::french_erp(),
    )
    .expect("clients");
    let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
    let cx = Context {
        rules,
        clients: &clients,
        tz: &tz,
    };
    map_order(&order, &cx)
}

fn sent(decision: Result<OrderDecision, MappingError>) -> Vec<ImportRow> {
    match decision {
        Ok(OrderDecision::Send(rows)) => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

fn articles(rows: &[ImportRow]) -> Vec<&ImportRow> {
    rows.iter().filter(|r| r.kind == RowType::Art).collect()
}

/// A guest order of 5.5 % lines at 37.90 excl. tax, with the VAT figures
/// the shop computed, paid by card.
fn order_at_37_90(line_vat: &[&str], total: &str) -> Value {
    let lines: Vec<Value> = line_vat
        .iter()
        .enumerate()
        .map(|(k, vat)| {
            json!({
                "id": 900 + k, "name": "Huile d'olive 5 L", "product_id": 214,
                "quantity": 1, "tax_class": "taux-reduit", "sku": format!("EP-HUILE-{k}"),
                "subtotal": "37.90", "subtotal_tax": vat, "total": "37.90", "total_tax": vat,
                "taxes": [{"id": 2}],
            })
        })
        .collect();
    json!({
        "id": 9, "number": "389001", "status": "processing", "currency": "EUR",
        "date_created_gmt": "2026-12-02T08:00:00", "date_modified_gmt": "2026-12-02T08:00:00",
        "date_paid_gmt": "2026-12-02T08:00:00", "total": total, "customer_id": 0,
        "billing": {"email": "guest@example.test"}, "payment_method": "stripe",
        "transaction_id": "ch_1", "line_items": lines,
        "tax_lines": [{"rate_id": 2, "rate_percent": 5.5}],
    })
}

#[test]
fn a_sku_goes_under_the_erp_article_the_site_lists() {
    let order = sample_order("383124");
    let sku = order["line_items"][0]["sku"]
        .as_str()
        .expect("sku")
        .to_string();
    let mut rules = SiteRules::default();
    rules.articles.insert(sku.clone(), "100234".into());

    let rows = sent(map(&order, &rules));

    let art = articles(&rows);
    assert_eq!(art[0].article, "100234");
    assert!(
        art[1..]
            .iter()
            .all(|r| r.article != "100234" && !r.article.is_empty()),
        "the other SKUs go as they are under unknown_sku = keep"
    );
}

#[test]
fn an_unknown_sku_is_quarantined_with_its_name_when_the_site_holds_them() {
    let order = sample_order("383124");
    let first = order["line_items"][0]["sku"]
        .as_str()
        .expect("sku")
        .to_string();
    let second = order["line_items"][1]["sku"]
        .as_str()
        .expect("sku")
        .to_string();
    let mut rules = SiteRules::default();
    rules.articles.insert(first, "100234".into());
    rules.unknown_sku = UnknownSku::Hold;

    let err = map(&order, &rules).expect_err("the second SKU is unknown");

    assert_eq!(err.document, "order 383124");
    assert!(err.field.starts_with("line 2 (id "), "{err}");
    assert!(err.field.ends_with(" sku"), "{err}");
    assert_eq!(err.found, second);
    assert!(err.expected.contains("articles table"), "{err}");
}

#[test]
fn an_unknown_sku_goes_under_the_fallback_article_with_the_sku_in_info() {
    let order = sample_order("383124");
    let second = order["line_items"][1]["sku"]
        .as_str()
        .expect("sku")
        .to_string();
    let mut rules = SiteRules::default();
    rules.articles.insert("SOMETHING-ELSE".into(), "1".into());
    rules.unknown_sku = UnknownSku::Article("DIVERS".into());

    let rows = sent(map(&order, &rules));

    let art = articles(&rows);
    assert!(art.iter().all(|r| r.article == "DIVERS"));
    assert_eq!(art[1].info, format!("SKU boutique {second}"));
}

#[test]
fn a_line_without_sku_or_product_goes_under_the_deleted_article_by_default() {
    let order = sample_order("383002");
    let rows = sent(map(&order, &SiteRules::default()));
    let deleted: Vec<_> = articles(&rows)
        .into_iter()
        .filter(|r| r.article == "ARTICLE-SUPPRIME")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert!(deleted[0]
        .info
        .starts_with("produit supprimé de la boutique (ligne "));
}

#[test]
fn a_line_without_sku_or_product_is_held_for_repair_when_the_site_says_hold() {
    let order = sample_order("383002");
    let position = order["line_items"]
        .as_array()
        .expect("lines")
        .iter()
        .position(|l| l["sku"] == "" && l["product_id"] == 0)
        .expect("a deleted line");
    let rules = SiteRules {
        deleted_product: DeletedProduct::Hold,
        ..SiteRules::default()
    };

    let err = map(&order, &rules).expect_err("held");

    let line_id = &order["line_items"][position]["id"];
    let at = format!("line {} (id {line_id}, ", position + 1);
    assert!(err.field.starts_with(&at), "{err}");
    assert!(err.expected.contains("deleted_product = \"hold\""), "{err}");
    assert_eq!(err.found, "");
}

#[test]
fn the_import_carries_the_shops_vat_figure_not_a_recomputation() {
    // 5.5 % of 37.90 is 2.0845: a shop rounding the line gives 2.08, a shop
    // whose price was entered tax included (39.99) gives 2.09.
    for (vat, total) in [("2.08", "39.98"), ("2.09", "39.99")] {
        let rows = sent(map(&order_at_37_90(&[vat], total), &SiteRules::default()));
        let art = articles(&rows);
        assert_eq!(art[0].amount_vat, Some(vat.parse().expect("vat")), "{vat}");
        assert_eq!(art[0].amount_ttc.to_string(), total);
    }
}

#[test]
fn a_shop_rounding_per_total_gives_rows_in_cents_that_add_up_to_its_total() {
    // Two lines of 37.90 at 5.5 %: 2.0845 each unrounded, 4.169 for the
    // rate, which the shop rounds to 4.17 (per line it would be 4.16).
    let order = order_at_37_90(&["2.0845", "2.0845"], "79.97");
    let rules = SiteRules {
        vat_rounding: VatRounding::Total,
        ..SiteRules::default()
    };

    let rows = sent(map(&order, &rules));

    let vat: Vec<Option<Decimal>> = articles(&rows).iter().map(|r| r.amount_vat).collect();
    assert_eq!(vat, [Some(dec!(2.09)), Some(dec!(2.08))]);
    let paid: Decimal = rows
        .iter()
        .filter(|r| r.kind == RowType::Reg)
        .map(|r| r.amount_ttc)
        .sum();
    assert_eq!(paid, dec!(79.97));
}

#[test]
fn unrounded_line_vat_is_refused_naming_the_row_when_the_site_rounds_per_line() {
    let order = order_at_37_90(&["2.0845", "2.0845"], "79.97");

    let err = map(&order, &SiteRules::default()).expect_err("finer than cents");

    assert!(
        err.field.starts_with("MontantTVA (row 1 ART EP-HUILE-0)"),
        "{err}"
    );
    assert_eq!(err.found, "2.0845");
    assert!(err.expected.contains("vat_rounding = \"total\""), "{err}");
}

#[test]
fn an_order_in_a_currency_without_cents_is_refused_when_the_erp_books_in_cents() {
    let mut order = order_at_37_90(&["2.08"], "39.98");
    order["currency"] = json!("JPY");

    let err = map(&order, &SiteRules::default()).expect_err("JPY");

    assert_eq!(err.field, "currency");
    assert_eq!(err.found, "JPY");
    assert!(err.expected.contains("no cents"), "{err}");
}

#[test]
fn orders_convert_follows_the_mapping_files_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let orders = day().join("woocommerce/orders-2026-12-02.json");
    let mapping = dir.path().join("mapping.toml");
    let clients = day().join("erp/clients.csv");
    let write_mapping = |rules: &str| {
        let text = format!(
            "clients = {:?}\n[rules]\n{rules}\n",
            clients.display().to_string()
        );
        std::fs::write(&mapping, text).expect("mapping file");
    };

    write_mapping("deleted_product = \"article\"");
    let kept = convert::orders(&orders, Some(&mapping), &dir.path().join("a")).expect("a");
    write_mapping("deleted_product = \"hold\"");
    let held = convert::orders(&orders, Some(&mapping), &dir.path().join("b")).expect("b");

    assert_eq!((kept.read, kept.converted), (455, 427));
    assert_eq!(
        held.converted, 417,
        "ten sendable orders have a deleted line"
    );
    let for_repair = held
        .held
        .iter()
        .filter(|(_, reason)| reason.contains("deleted_product = \"hold\""))
        .count();
    assert_eq!(for_repair, 10, "{:?}", held.held);

    write_mapping("unknown_sku = \"hold\"");
    let err = convert::orders(&orders, Some(&mapping), &dir.path().join("c"))
        .expect_err("a hold rule with no table");
    assert!(err.to_string().contains("rules.unknown_sku"), "{err}");
}
