//! The ERP answers an import file: what it took in is confirmed, what it
//! refused is quarantined with its own reason, and a refused order, once
//! repaired and released, goes once more in a new file.

use std::path::{Path, PathBuf};

use pos_bridge::dialect::Dialect;
use relais::erp::replies::collect_replies;
use relais::erp::{deliver_imports, ErpSettings};
use relais::mapping::import::read_file;
use relais::mapping::site::{Clients, SiteRules};
use relais::pipeline::{process_stored, Site};
use relais::store::{Dest, DocMeta, Intake, Kind, State, Store};

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

/// Ten orders of the sample day that map without trouble and have no refund.
fn ten_orders(site: &Site) -> Vec<Intake> {
    let bytes = std::fs::read(sample("woocommerce/orders-2026-12-02.json")).expect("orders");
    let orders: Vec<serde_json::Value> = serde_json::from_slice(&bytes).expect("json");
    orders
        .into_iter()
        .filter(|o| {
            o["status"] == "processing" && o["refunds"].as_array().is_none_or(Vec::is_empty)
        })
        .filter(|o| {
            let id = o["customer_id"].as_u64().unwrap_or(0);
            id != 0 && site.clients.erp_code(id).is_some()
        })
        .take(10)
        .map(|o| Intake {
            kind: Kind::WebOrder,
            external_id: o["number"].as_str().expect("number").to_string(),
            revision: o["date_modified_gmt"]
                .as_str()
                .expect("modified")
                .to_string(),
            day: jiff::civil::date(2026, 12, 2),
            amount: o["total"]
                .as_str()
                .expect("total")
                .parse()
                .expect("decimal"),
            body: serde_json::to_vec(&o).expect("json"),
            parent: None,
        })
        .collect()
}

fn import_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("import folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}

fn orders(store: &Store) -> Vec<DocMeta> {
    let mut out = Vec::new();
    store
        .for_each_doc(|m| {
            if m.kind == Kind::WebOrder {
                out.push(m)
            }
        })
        .expect("docs");
    out
}

/// The ERP's side: it imports the file but refuses two of its orders,
/// one named by its reference, one only by the line of the file.
fn erp_refuses_two(file: &Path, first: &str, line_of_second: u64) {
    let text = format!(
        "RefExterne;Ligne;Motif\r\n{first};;Client bloqué : encours dépassé\r\n\
         ;{line_of_second};Quantité hors limite pour l'article\r\n"
    );
    let bytes = encoding_rs::WINDOWS_1252.encode(&text).0.into_owned();
    let name = format!("{}.rej", file.file_name().expect("name").to_string_lossy());
    std::fs::write(file.with_file_name(name), bytes).expect("rejection file");
}

/// The ERP's side: it took a file in full.
fn erp_takes(file: &Path, done: &Path) {
    std::fs::create_dir_all(done).expect("done folder");
    std::fs::rename(file, done.join(file.file_name().expect("name"))).expect("move to done");
}

#[test]
fn a_file_of_ten_with_two_refused_ends_eight_confirmed_two_quarantined_then_resent_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let site = site();
    let done = dir.path().join("import").join("done");
    let settings = ErpSettings {
        max_docs_per_file: 10,
        import_done_dir: Some(done.clone()),
        ..ErpSettings::under(dir.path())
    };
    let tz = site.tz.clone();
    store.intake(ten_orders(&site)).expect("intake");
    process_stored(&store, &site).expect("decide");
    deliver_imports(&store, &settings, &tz).expect("deliver");
    let files = import_files(&settings.import_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let first_file = files[0].clone();

    // Nothing is confirmed before the ERP answers.
    let report = collect_replies(&store, &settings).expect("replies");
    assert_eq!(report.files, 0);

    let rows = read_file(
        &std::fs::read(&first_file).expect("file"),
        &Dialect::french_erp(),
    )
    .expect("rows");
    let refs: Vec<String> = rows.iter().map(|r| r.reference.clone()).collect();
    let first_refused = refs[0].clone();
    let second = rows
        .iter()
        .find(|r| r.reference != first_refused)
        .expect("a second order");
    let second_refused = second.reference.clone();
    erp_refuses_two(&first_file, &first_refused, second.line);

    let report = collect_replies(&store, &settings).expect("replies");
    assert_eq!((report.files, report.confirmed, report.rejected), (1, 8, 2));
    let all = orders(&store);
    let confirmed = all
        .iter()
        .filter(|m| m.state == State::Confirmed(Dest::Erp))
        .count();
    assert_eq!(confirmed, 8);
    let refused: Vec<&DocMeta> = all
        .iter()
        .filter(|m| m.state == State::Quarantined)
        .collect();
    assert_eq!(refused.len(), 2);
    for meta in &refused {
        let reason = meta.reason.clone().unwrap_or_default();
        let expected = if meta.external_id == first_refused {
            "Client bloqué : encours dépassé"
        } else {
            assert_eq!(meta.external_id, second_refused);
            "Quantité hors limite pour l'article"
        };
        assert!(reason.contains(expected), "{reason}");
        assert!(reason.contains(&*first_file.file_name().unwrap().to_string_lossy()));
    }

    // Reading the same answer again changes nothing.
    let again = collect_replies(&store, &settings).expect("replies again");
    assert_eq!(again.files, 0);

    // The cause is fixed at the ERP; the operator releases both.
    for meta in &refused {
        assert!(store.release(meta.id, "operator").expect("release"));
    }
    process_stored(&store, &site).expect("decide again");
    deliver_imports(&store, &settings, &tz).expect("deliver again");
    deliver_imports(&store, &settings, &tz).expect("and again: nothing new");
    let files = import_files(&settings.import_dir);
    assert_eq!(files.len(), 2, "one new file: {files:?}");
    let second_file = files.iter().find(|f| **f != first_file).expect("new file");
    let resent = read_file(
        &std::fs::read(second_file).expect("file"),
        &Dialect::french_erp(),
    )
    .expect("rows");
    let mut resent_refs: Vec<&str> = resent.iter().map(|r| r.reference.as_str()).collect();
    resent_refs.dedup();
    let mut expected = vec![first_refused.as_str(), second_refused.as_str()];
    expected.sort();
    resent_refs.sort();
    assert_eq!(
        resent_refs, expected,
        "only the two released orders, once each"
    );

    erp_takes(second_file, &done);
    let report = collect_replies(&store, &settings).expect("replies");
    assert_eq!((report.confirmed, report.rejected), (2, 0));
    let all = orders(&store);
    assert!(all.iter().all(|m| m.state == State::Confirmed(Dest::Erp)));
    let history = store.audit(refused[0].id).expect("audit");
    let states: Vec<State> = history.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        vec![
            State::Stored,
            State::Queued(Dest::Erp),
            State::Batched(Dest::Erp),
            State::Delivered(Dest::Erp),
            State::Quarantined,
            State::Stored,
            State::Queued(Dest::Erp),
            State::Batched(Dest::Erp),
            State::Delivered(Dest::Erp),
            State::Confirmed(Dest::Erp),
        ]
    );
}

#[test]
fn a_refusal_that_names_no_document_of_the_file_confirms_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let site = site();
    let settings = ErpSettings {
        max_docs_per_file: 10,
        import_done_dir: Some(dir.path().join("import").join("done")),
        rejection_name: "{stem}.err".into(),
        ..ErpSettings::under(dir.path())
    };
    store.intake(ten_orders(&site)).expect("intake");
    process_stored(&store, &site).expect("decide");
    deliver_imports(&store, &settings, &site.tz).expect("deliver");
    let file = import_files(&settings.import_dir).remove(0);
    let text = "RefExterne;Ligne;Motif\r\n;;Fichier refusé : en-tête inconnu\r\n";
    let bytes = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
    std::fs::write(file.with_extension("err"), bytes).expect("rejection");
    let report = collect_replies(&store, &settings).expect("replies");
    assert_eq!((report.confirmed, report.rejected), (0, 10));
    for meta in orders(&store) {
        let reason = meta.reason.unwrap_or_default();
        assert!(reason.contains("en-tête inconnu"), "{reason}");
        assert!(reason.contains("cannot tell which documents"), "{reason}");
    }
}
