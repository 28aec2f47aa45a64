//! Every invoice of the sample day renders, its text carries the mentions a
//! French accountant checks, and its totals equal the export's to the cent.
//! Needs `pdftotext` (poppler-utils); skipped with a message without it,
//! unless RELAIS_REQUIRE_PDFTOTEXT=1 (CI).

use std::io::Write;
use std::process::{Command, Stdio};

use pos_bridge::dialect::Dialect;
use pos_bridge::export::{ExportItem, ExportReader};
use relais::invoice::money_fmt::eur;
use relais::invoice::render::{render, Seller};

fn pdf_text(pdf: &[u8]) -> Option<String> {
    let required = std::env::var("RELAIS_REQUIRE_PDFTOTEXT").is_ok_and(|v| v == "1");
    let child = Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            assert!(!required, "pdftotext is required but cannot run: {e}");
            eprintln!("skipped: no pdftotext (apt-get install poppler-utils)");
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pdf)
        .expect("feed pdftotext");
    let output = child.wait_with_output().expect("pdftotext output");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[test]
fn every_sample_invoice_renders_with_its_mentions_and_the_export_totals() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02/erp/FACTURES_20261202.csv");
    let file = std::fs::File::open(path).expect("sample export");
    let seller = Seller::sample();
    let mut checked = 0;
    for item in ExportReader::new(file, &Dialect::french_erp()).expect("header") {
        let ExportItem::Invoice(invoice) = item.expect("readable") else {
            panic!("a sample invoice is held");
        };
        let pdf = render(&invoice, &seller).expect("renders");
        let Some(text) = pdf_text(&pdf) else { return };
        let totals = invoice.totals();
        let c = &invoice.customer;
        let due = invoice.due_date.strftime("%d/%m/%Y").to_string();
        let expected = [
            "FACTURE",
            invoice.number.as_str(),
            c.name.as_str(),
            c.postcode.as_str(),
            c.siret.as_str(),
            c.vat_number.as_str(),
            seller.siret.as_str(),
            seller.vat_number.as_str(),
            seller.rcs.as_str(),
            invoice.payment_terms.as_str(),
            due.as_str(),
            "40 EUR",
            "Total HT",
            "Total TTC",
        ];
        for mention in expected {
            assert!(text.contains(mention), "{}: no {mention:?}", invoice.number);
        }
        for amount in [totals.ht, totals.vat, totals.ttc] {
            let shown = eur(amount);
            assert!(
                text.contains(&shown),
                "{}: total {shown} not shown",
                invoice.number
            );
        }
        for rate in &totals.by_rate {
            assert!(
                text.contains(&eur(rate.vat)),
                "{}: VAT at {}",
                invoice.number,
                rate.rate
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 219);
}
