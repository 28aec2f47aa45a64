//! A quarantined order, released after its cause is fixed, is delivered once.

use std::path::PathBuf;

use pos_bridge::dialect::Dialect;
use relais::erp::{deliver_imports, ErpSettings};
use relais::mapping::import::read_file;
use relais::mapping::site::{ClientEntry, Clients, SiteRules};
use relais::pipeline::{process_stored, Site};
use relais::store::{Intake, Kind, State, Store};

fn one_order() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02/woocommerce/orders-2026-12-02.json");
    let orders: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(path).expect("sample orders")).expect("json");
    let mut order = orders
        .into_iter()
        .find(|o| o["status"] == "processing" && o["customer_id"] != 0)
        .expect("a processing order");
    order["payment_method"] = "paypal".into();
    serde_json::to_vec(&order).expect("json")
}

fn site(rules: SiteRules, customer: u64) -> Site {
    let mut clients = Clients::default();
    clients.insert(ClientEntry {
        code: "C000001".into(),
        shop_id: customer,
        name: "Test".into(),
    });
    Site {
        rules,
        clients,
        tz: jiff::tz::TimeZone::get("Europe/Paris").expect("tz"),
        import_dialect: Dialect::french_erp(),
        export_dialect: Dialect::french_erp(),
    }
}

#[test]
fn a_released_order_is_delivered_once_after_its_cause_is_fixed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let body = one_order();
    let order: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let customer = order["customer_id"].as_u64().expect("customer id");
    let number = order["number"].as_str().expect("number").to_string();
    store
        .intake(vec![Intake {
            kind: Kind::WebOrder,
            external_id: number.clone(),
            revision: "r1".into(),
            day: jiff::civil::date(2026, 12, 2),
            amount: Default::default(),
            body,
            parent: None,
        }])
        .expect("intake");
    let settings = ErpSettings {
        max_docs_per_file: 10,
        ..ErpSettings::under(dir.path())
    };

    let strict = site(SiteRules::default(), customer);
    process_stored(&store, &strict).expect("pipeline");
    let meta = store
        .find(Kind::WebOrder, &number)
        .expect("find")
        .expect("stored");
    assert_eq!(meta.state, State::Quarantined);
    assert!(meta.reason.as_deref().unwrap_or("").contains("paypal"));

    // The site adds the missing payment code; the operator releases.
    let mut rules = SiteRules::default();
    rules.payment_codes.insert("paypal".into(), "PPL".into());
    let fixed = site(rules, customer);
    assert!(store.release(meta.id, "operator").expect("release"));
    assert!(!store
        .release(meta.id, "operator")
        .expect("second release is a no-op"));
    process_stored(&store, &fixed).expect("pipeline");
    deliver_imports(&store, &settings, &fixed.tz).expect("deliver");
    deliver_imports(&store, &settings, &fixed.tz).expect("deliver again");

    let files: Vec<_> = std::fs::read_dir(&settings.import_dir)
        .expect("import dir")
        .collect();
    assert_eq!(files.len(), 1);
    let path = files[0].as_ref().expect("entry").path();
    let rows =
        read_file(&std::fs::read(path).expect("file"), &Dialect::french_erp()).expect("rows");
    assert!(rows.iter().all(|r| r.reference == number));
    assert!(rows.iter().any(|r| r.kind == "REG"));
    let history = store.audit(meta.id).expect("audit");
    assert!(history.iter().any(|e| e.note == "released by operator"));
    assert_eq!(
        store.meta(meta.id).expect("meta").state,
        State::Delivered(relais::store::Dest::Erp)
    );
}
