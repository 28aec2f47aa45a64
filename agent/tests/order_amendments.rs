//! An order that changes after it went to the ERP reaches the ERP as an
//! amendment (a credit note referring to it), once, never as a second copy.

use std::path::{Path, PathBuf};

use pos_bridge::dialect::Dialect;
use relais::erp::{deliver_imports, ErpSettings};
use relais::mapping::import::{read_file, ReadRow};
use relais::mapping::site::{Clients, SiteRules};
use relais::pipeline::{process_stored, Site};
use relais::store::{Dest, Intake, Kind, State, Store};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn sample(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02")
        .join(rel)
}

fn site() -> Site {
    let clients = std::fs::File::open(sample("erp/clients.csv")).expect("clients");
    Site {
        rules: SiteRules::default(),
        clients: Clients::read(clients, &Dialect::french_erp()).expect("client file"),
        tz: jiff::tz::TimeZone::get("Europe/Paris").expect("tz"),
        import_dialect: Dialect::french_erp(),
        export_dialect: Dialect::french_erp(),
    }
}

fn sample_orders() -> Vec<Value> {
    let bytes = std::fs::read(sample("woocommerce/orders-2026-12-02.json")).expect("orders");
    serde_json::from_slice(&bytes).expect("json")
}

/// A processing order of a known customer, paid by card, with no refund.
fn plain_order(site: &Site, skip: usize) -> Value {
    sample_orders()
        .into_iter()
        .filter(|o| o["status"] == "processing" && o["payment_method"] == "stripe")
        .filter(|o| o["refunds"].as_array().is_none_or(Vec::is_empty))
        .filter(|o| {
            o["meta_data"]
                .as_array()
                .is_none_or(|m| m.iter().all(|x| x["key"] != "_payments"))
        })
        .filter(|o| {
            site.clients
                .erp_code(o["customer_id"].as_u64().unwrap_or(0))
                .is_some()
        })
        .nth(skip)
        .expect("a plain order")
}

fn intake(store: &Store, order: &Value, revision: &str) {
    store
        .intake(vec![Intake {
            kind: Kind::WebOrder,
            external_id: order["number"].as_str().expect("number").to_string(),
            revision: revision.to_string(),
            day: jiff::civil::date(2026, 12, 2),
            amount: order["total"]
                .as_str()
                .expect("total")
                .parse()
                .expect("total"),
            body: serde_json::to_vec(order).expect("json"),
            parent: None,
        }])
        .expect("intake");
}

fn rows_of(dir: &Path, reference: &str) -> Vec<ReadRow> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("import folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        let rows =
            read_file(&std::fs::read(&file).expect("file"), &Dialect::french_erp()).expect("rows");
        out.extend(rows.into_iter().filter(|r| r.reference == reference));
    }
    out
}

fn sum(rows: &[ReadRow], payments: bool) -> Decimal {
    rows.iter()
        .filter(|r| (r.kind == "REG") == payments)
        .map(|r| r.amount_ttc)
        .sum()
}

struct Bench {
    _dir: tempfile::TempDir,
    store: Store,
    site: Site,
    settings: ErpSettings,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("relais.redb")).expect("store");
        let settings = ErpSettings::under(dir.path());
        Bench {
            _dir: dir,
            store,
            site: site(),
            settings,
        }
    }

    fn run(&self) {
        process_stored(&self.store, &self.site).expect("decide");
        deliver_imports(&self.store, &self.settings, &self.site.tz).expect("deliver");
    }

    fn files(&self) -> usize {
        std::fs::read_dir(&self.settings.import_dir)
            .expect("import folder")
            .count()
    }
}

/// A refund of one unit of the order's first line, as the shop's refunds
/// endpoint gives it.
fn refund_of_first_line(order: &Value) -> Value {
    let line = &order["line_items"][0];
    let qty: Decimal = line["quantity"]
        .to_string()
        .trim_matches('"')
        .parse()
        .expect("qty");
    let total: Decimal = line["total"]
        .as_str()
        .expect("total")
        .parse()
        .expect("total");
    let tax: Decimal = line["total_tax"]
        .as_str()
        .expect("tax")
        .parse()
        .expect("tax");
    let unit = (total / qty).round_dp(2);
    let unit_tax = (tax / qty).round_dp(2);
    json!({
        "id": 9001, "date_created_gmt": "2026-12-03T09:00:00", "amount": (unit + unit_tax).to_string(),
        "reason": "Produit abîmé à la livraison", "refunded_by": 1, "refunded_payment": true,
        "meta_data": [],
        "line_items": [{
            "id": 77, "name": line["name"], "product_id": line["product_id"], "variation_id": 0,
            "quantity": -1, "tax_class": line["tax_class"], "subtotal": (-unit).to_string(),
            "subtotal_tax": (-unit_tax).to_string(), "total": (-unit).to_string(),
            "total_tax": (-unit_tax).to_string(), "taxes": [], "sku": line["sku"],
            "price": -unit.to_string().parse::<f64>().expect("f64"),
            "meta_data": [{"id": 1, "key": "_refunded_item_id", "value": line["id"].to_string()}]
        }],
        "shipping_lines": [], "fee_lines": [], "tax_lines": []
    })
}

#[test]
fn a_refund_after_sending_becomes_one_credit_note_referring_to_the_order() {
    let b = Bench::new();
    let mut order = plain_order(&b.site, 0);
    let number = order["number"].as_str().expect("number").to_string();
    intake(&b.store, &order, "r1");
    b.run();
    assert_eq!(b.files(), 1);

    let refund = refund_of_first_line(&order);
    let amount: Decimal = refund["amount"]
        .as_str()
        .expect("amount")
        .parse()
        .expect("amount");
    order["relais_refunds"] = json!([refund]);
    order["refunds"] =
        json!([{"id": 9001, "reason": "Produit abîmé", "total": (-amount).to_string()}]);
    intake(&b.store, &order, "r2");
    let r2 = b
        .store
        .find(Kind::WebOrder, &number)
        .expect("find")
        .expect("r2");
    assert_eq!(r2.state, State::Stored, "not held: it becomes an amendment");
    b.run();
    assert_eq!(b.files(), 2, "the credit note goes in a new file");

    let r2 = b.store.meta(r2.id).expect("meta");
    assert_eq!(r2.state, State::Done);
    let reference = format!("{number}-AV1");
    let credit = rows_of(&b.settings.import_dir, &reference);
    assert!(credit.iter().all(|r| r.origin == "AVO"), "{credit:?}");
    assert_eq!(sum(&credit, false), -amount);
    assert_eq!(sum(&credit, true), -amount);
    assert!(credit.iter().any(|r| r.kind == "ART"));
    let amendment = b
        .store
        .find(Kind::Amendment, &reference)
        .expect("find")
        .expect("amendment");
    assert_eq!(amendment.state, State::Delivered(Dest::Erp));
    assert_eq!(amendment.parent, Some(r2.id));
    // The original's rows are there once, untouched.
    let original = rows_of(&b.settings.import_dir, &number);
    let total: Decimal = order["total"]
        .as_str()
        .expect("total")
        .parse()
        .expect("total");
    assert_eq!(sum(&original, false), total);

    // The shop touches the order again without a new refund: nothing more.
    intake(&b.store, &order, "r3");
    b.run();
    assert_eq!(b.files(), 2);
    assert!(b
        .store
        .find(Kind::Amendment, &format!("{number}-AV2"))
        .expect("find")
        .is_none());
    let r3 = b
        .store
        .find(Kind::WebOrder, &number)
        .expect("find")
        .expect("r3");
    assert_eq!(r3.state, State::Done);
}

#[test]
fn a_weight_cut_and_a_cancellation_after_sending_are_credited_by_their_difference() {
    let b = Bench::new();
    let mut order = plain_order(&b.site, 1);
    let number = order["number"].as_str().expect("number").to_string();
    let total: Decimal = order["total"]
        .as_str()
        .expect("total")
        .parse()
        .expect("total");
    intake(&b.store, &order, "r1");
    b.run();

    // The first line weighed less than ordered: 0.5 less, at its price.
    let dec = |v: &Value| -> Decimal { v.to_string().trim_matches('"').parse().expect("decimal") };
    let line = order["line_items"][0].clone();
    let (qty, ht, tax) = (
        dec(&line["quantity"]),
        dec(&line["total"]),
        dec(&line["total_tax"]),
    );
    let new_qty = qty - Decimal::new(5, 1);
    let new_ht = (ht * new_qty / qty).round_dp(2);
    let new_tax = (tax * new_qty / qty).round_dp(2);
    let cut = (ht + tax) - (new_ht + new_tax);
    let subtotal_cut = dec(&line["subtotal"]) - dec(&line["total"]);
    let subtotal_tax_cut = dec(&line["subtotal_tax"]) - dec(&line["total_tax"]);
    order["line_items"][0]["quantity"] = json!(new_qty.to_string());
    order["line_items"][0]["total"] = json!(new_ht.to_string());
    order["line_items"][0]["total_tax"] = json!(new_tax.to_string());
    order["line_items"][0]["subtotal"] = json!((new_ht + subtotal_cut).to_string());
    order["line_items"][0]["subtotal_tax"] = json!((new_tax + subtotal_tax_cut).to_string());
    order["total"] = json!((total - cut).to_string());
    intake(&b.store, &order, "r2");
    b.run();
    let credit = rows_of(&b.settings.import_dir, &format!("{number}-AV1"));
    assert_eq!(sum(&credit, false), -cut, "{credit:?}");
    assert_eq!(sum(&credit, true), -cut);
    assert_eq!(
        credit.iter().filter(|r| r.kind == "ART").count(),
        1,
        "{credit:?}"
    );

    order["status"] = json!("cancelled");
    intake(&b.store, &order, "r3");
    b.run();
    let total = total - cut;
    let credit = rows_of(&b.settings.import_dir, &format!("{number}-AV2"));
    assert_eq!(sum(&credit, false), -total, "cancelled: credited in full");
    assert_eq!(sum(&credit, true), -total, "and the payment paid back");
    let arts: Vec<&ReadRow> = credit.iter().filter(|r| r.kind == "ART").collect();
    let lines = order["line_items"].as_array().expect("lines").len();
    assert_eq!(arts.len(), lines, "one negative row per line");
}

#[test]
fn refunds_known_at_the_first_sending_go_as_a_credit_note_beside_the_order() {
    let b = Bench::new();
    let order = sample_orders()
        .into_iter()
        .find(|o| {
            o["status"] == "completed"
                && o["refunds"].as_array().is_some_and(|r| !r.is_empty())
                && b.site
                    .clients
                    .erp_code(o["customer_id"].as_u64().unwrap_or(0))
                    .is_some()
        })
        .expect("a refunded order");
    let number = order["number"].as_str().expect("number").to_string();
    let refunded: Decimal = order["refunds"]
        .as_array()
        .expect("refunds")
        .iter()
        .map(|r| {
            r["total"]
                .as_str()
                .expect("total")
                .parse::<Decimal>()
                .expect("dec")
        })
        .sum();
    intake(&b.store, &order, "r1");
    b.run();
    b.run();
    let credit = rows_of(&b.settings.import_dir, &format!("{number}-AV1"));
    assert_eq!(sum(&credit, false), refunded, "{credit:?}");
    assert_eq!(sum(&credit, true), refunded);
    assert!(
        credit.iter().any(|r| r.kind == "AVO"),
        "amount only: {credit:?}"
    );
    let original = rows_of(&b.settings.import_dir, &number);
    let total: Decimal = order["total"]
        .as_str()
        .expect("total")
        .parse()
        .expect("total");
    assert_eq!(sum(&original, false), total);

    // Released and decided again (say the ERP refused it), it gets no
    // second credit note.
    let meta = b
        .store
        .find(Kind::WebOrder, &number)
        .expect("find")
        .expect("order");
    assert_eq!(meta.state, State::Delivered(Dest::Erp));
    assert!(b
        .store
        .find(Kind::Amendment, &format!("{number}-AV2"))
        .expect("find")
        .is_none());
}
