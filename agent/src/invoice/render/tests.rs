//! Tests of the invoice renderer, on invoices built by hand.

use jiff::civil::date;
use pos_bridge::invoice::{Invoice, InvoiceCustomer, InvoiceLine, Origin};
use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;

use super::fonts::{fonts, Weight};
use super::layout::{self, PageRow, Room};
use super::{render, RenderError, Seller, MAX_LINES};

fn line(origin: Origin, reference: &str, label: &str, qty: Decimal, unit: &str) -> InvoiceLine {
    let unit_price_ht = dec!(4.85);
    let vat_rate = if label.contains("Couteau") {
        dec!(20)
    } else {
        dec!(5.5)
    };
    line_priced(origin, reference, label, qty, unit, unit_price_ht, vat_rate)
}

fn line_priced(
    origin: Origin,
    reference: &str,
    label: &str,
    quantity: Decimal,
    unit: &str,
    unit_price_ht: Decimal,
    vat_rate: Decimal,
) -> InvoiceLine {
    let round = |d: Decimal| d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let amount_ht = round(quantity * unit_price_ht);
    let amount_vat = round(amount_ht * vat_rate / dec!(100));
    InvoiceLine {
        source_line: 2,
        origin,
        reference: reference.to_string(),
        article: format!("A{:05}", label.len() * 37),
        label: label.to_string(),
        quantity,
        unit: unit.to_string(),
        unit_price_ht,
        amount_ht,
        vat_rate,
        amount_vat,
        amount_ttc: amount_ht + amount_vat,
    }
}

fn customer() -> InvoiceCustomer {
    InvoiceCustomer {
        code: "004217".to_string(),
        name: "Brasserie Le Zinc Gourmand".to_string(),
        siret: "987 654 324 00017".to_string(),
        vat_number: "FR52987654324".to_string(),
        address: "18 rue des Halles".to_string(),
        postcode: "75001".to_string(),
        city: "Paris".to_string(),
        email: "compta@zinc-gourmand.example".to_string(),
    }
}

fn invoice(number: &str, lines: Vec<InvoiceLine>) -> Invoice {
    Invoice {
        number: number.to_string(),
        date: date(2026, 12, 2),
        due_date: date(2027, 1, 1),
        payment_terms: "LCR 30 jours".to_string(),
        customer: customer(),
        lines,
        corrects: None,
    }
}

/// A designation that takes two lines in the table.
const BATAVIA: &str = "Salade batavia blonde de plein champ, origine France, colis de 12 pièces";

/// Five lines: a web order, a counter ticket, and the web order again.
fn mixed_invoice() -> Invoice {
    let (web, counter) = (Origin::Web, Origin::Counter);
    invoice(
        "F2026-012345",
        vec![
            line(
                web,
                "383124",
                "Tomates grappe France cat. 1",
                dec!(4.276),
                "kg",
            ),
            line(web, "383124", BATAVIA, dec!(6), "pièce"),
            line(
                counter,
                "T261202-3-00001",
                "Citrons jaunes Espagne",
                dec!(2.5),
                "kg",
            ),
            line(
                counter,
                "T261202-3-00001",
                "Couteau d'office inox",
                dec!(2),
                "pièce",
            ),
            line(web, "383124", "Échalotes longues", dec!(250), "colis"),
        ],
    )
}

/// A refund of two lines: negative quantities, negative totals.
fn credit_note() -> Invoice {
    let note = invoice(
        "A2026-000077",
        vec![
            line(
                Origin::Web,
                "383124",
                "Tomates grappe France cat. 1",
                dec!(-1.5),
                "kg",
            ),
            line(
                Origin::Web,
                "383124",
                "Couteau d'office inox",
                dec!(-1),
                "pièce",
            ),
        ],
    );
    Invoice {
        corrects: Some("F2026-012345".to_string()),
        ..note
    }
}

/// `count` lines over ten web orders and ten counter tickets.
fn long_invoice(count: usize) -> Invoice {
    let lines = (0..count)
        .map(|i| {
            let (origin, reference) = match i % 20 {
                n if n < 10 => (Origin::Web, format!("{}", 383_100 + n)),
                n => (Origin::Counter, format!("T261202-3-{:05}", n)),
            };
            let label = format!("Article de test numéro {i}, caisse de 5 kg");
            line(
                origin,
                &reference,
                &label,
                Decimal::from(i % 7 + 1),
                "colis",
            )
        })
        .collect();
    invoice("F2026-099999", lines)
}

fn render_sample(invoice: &Invoice) -> Vec<u8> {
    match render(invoice, &Seller::sample()) {
        Ok(bytes) => bytes,
        Err(e) => panic!("render failed: {e}"),
    }
}

#[test]
fn an_invoice_renders_as_a_pdf_file() {
    let bytes = render_sample(&mixed_invoice());
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(bytes.trim_ascii_end().ends_with(b"%%EOF"));
}

#[test]
fn the_same_invoice_gives_the_same_bytes() {
    let first = render_sample(&mixed_invoice());
    // Other renders in between move printpdf's process-wide id counter.
    render_sample(&credit_note());
    render_sample(&long_invoice(40));
    let second = render_sample(&mixed_invoice());
    assert!(first == second, "two renders of one invoice differ");
}

#[test]
fn a_changed_invoice_gets_another_document_id() {
    let mut changed = mixed_invoice();
    changed.lines[1].quantity = dec!(7);
    let a = render_sample(&mixed_invoice());
    let b = render_sample(&changed);
    assert_ne!(trailer_id(&a), trailer_id(&b));
}

fn trailer_id(pdf: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(pdf);
    let at = text.rfind("/ID").expect("trailer has an /ID");
    text[at..at + 40].as_bytes().to_vec()
}

#[test]
fn a_one_page_invoice_stays_small() {
    let bytes = render_sample(&mixed_invoice());
    assert!(
        bytes.len() < 60_000,
        "one-page invoice is {} bytes",
        bytes.len()
    );
}

#[test]
fn an_invoice_without_lines_is_refused_with_its_number() {
    let empty = invoice("F2026-000001", Vec::new());
    let err = render(&empty, &Seller::sample()).expect_err("no lines must fail");
    assert!(matches!(err, RenderError::NoLines { .. }));
    assert!(err.to_string().contains("F2026-000001"));
}

#[test]
fn an_oversized_invoice_is_refused() {
    let one = line(Origin::Web, "1", "Pommes", dec!(1), "kg");
    let huge = invoice("F2026-000002", vec![one; MAX_LINES + 1]);
    let err = render(&huge, &Seller::sample()).expect_err("too many lines must fail");
    assert!(matches!(err, RenderError::TooManyLines { .. }));
}

#[test]
fn lines_are_grouped_by_origin_in_order_of_first_appearance() {
    let fonts = fonts().expect("fonts parse");
    let groups = layout::groups(&mixed_invoice(), fonts);
    let titles: Vec<&str> = groups.iter().map(|g| g.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Commande web n° 383124", "Ticket comptoir T261202-3-00001"]
    );
    assert_eq!(groups[0].items.len(), 3);
    assert_eq!(groups[0].items[1].label_lines.len(), 2);
    assert_eq!(groups[0].items[2].label_lines, ["Échalotes longues"]);
}

#[test]
fn long_designations_wrap_and_are_cut_after_three_lines() {
    let fonts = fonts().expect("fonts parse");
    let text = "Filet de bar de ligne ".repeat(12);
    let lines = layout::wrap(fonts, Weight::Regular, &text, 8.5, 180.0, 3);
    assert_eq!(lines.len(), 3);
    assert!(lines[2].ends_with('…'));
    for line in &lines {
        assert!(fonts.regular.width(line, 8.5) <= 180.0, "too wide: {line}");
    }
}

#[test]
fn a_word_wider_than_the_column_is_broken() {
    let fonts = fonts().expect("fonts parse");
    let word = "X".repeat(80);
    let lines = layout::wrap(fonts, Weight::Regular, &word, 8.5, 100.0, 10);
    assert!(lines.len() > 1);
    assert_eq!(lines.concat(), word);
}

#[test]
fn unprintable_characters_are_replaced_not_dropped() {
    let fonts = fonts().expect("fonts parse");
    assert_eq!(fonts.printable("Pêches\tplates\n"), "Pêches plates ");
    assert_eq!(fonts.printable("Crabe 🦀"), "Crabe \u{FFFD}");
}

#[test]
fn pagination_keeps_every_row_and_repeats_a_cut_group() {
    let fonts = fonts().expect("fonts parse");
    let groups = layout::groups(&long_invoice(300), fonts);
    let room = Room {
        first_page: 500.0,
        other_pages: 650.0,
        summary: 200.0,
    };
    let pages = layout::paginate(&groups, &room);
    assert!(pages.len() > 5);

    let items: usize = pages.iter().map(|p| count_items(&p.rows)).sum();
    assert_eq!(items, 300);
    for page in &pages[1..] {
        if let Some(PageRow::Group { continued, .. }) = page.rows.first() {
            let starts_group = matches!(page.rows.get(1), Some(PageRow::Item(_)));
            assert!(starts_group || !continued);
        }
    }
    for page in &pages {
        assert!(!matches!(page.rows.last(), Some(PageRow::Group { .. })));
    }
    assert_eq!(pages.iter().filter(|p| p.summary).count(), 1);
    assert!(pages.last().is_some_and(|p| p.summary));
}

#[test]
fn a_summary_that_does_not_fit_gets_its_own_page() {
    let fonts = fonts().expect("fonts parse");
    let groups = layout::groups(&mixed_invoice(), fonts);
    // Two headings and five rows, one of two lines, take 111.5 pt: they fit,
    // the summary does not.
    let room = Room {
        first_page: 120.0,
        other_pages: 650.0,
        summary: 200.0,
    };
    let pages = layout::paginate(&groups, &room);
    assert_eq!(pages.len(), 2);
    assert!(pages[1].rows.is_empty() && pages[1].summary);
}

fn count_items(rows: &[PageRow]) -> usize {
    rows.iter()
        .filter(|r| matches!(r, PageRow::Item(_)))
        .count()
}

mod text {
    //! What a reader (and a text extractor) finds in the PDF.

    use super::*;

    /// The PDF's text as pdftotext gives it, with every run of whitespace
    /// made one space. `None` when poppler-utils is not installed, unless
    /// RELAIS_REQUIRE_PDFTOTEXT=1 (CI sets it): then a missing tool fails.
    fn pdf_text(pdf: &[u8]) -> Option<String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("invoice.pdf");
        std::fs::write(&path, pdf).expect("write pdf");
        let output = match std::process::Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&path)
            .arg("-")
            .output()
        {
            Ok(output) => output,
            Err(e) => {
                let required = std::env::var("RELAIS_REQUIRE_PDFTOTEXT").is_ok_and(|v| v == "1");
                assert!(!required, "pdftotext is required but cannot run: {e}");
                println!("skipped: pdftotext not found (apt-get install poppler-utils)");
                return None;
            }
        };
        assert!(output.status.success(), "pdftotext failed: {output:?}");
        let text = String::from_utf8(output.stdout).expect("utf-8 text");
        Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    fn assert_contains_all(text: &str, expected: &[&str]) {
        let missing: Vec<&&str> = expected.iter().filter(|e| !text.contains(**e)).collect();
        assert!(missing.is_empty(), "missing {missing:?} in:\n{text}");
    }

    #[test]
    fn an_invoice_shows_every_mention_an_accountant_checks() {
        let Some(text) = pdf_text(&render_sample(&mixed_invoice())) else {
            return;
        };
        let seller = Seller::sample();
        let mut expected = vec![
            "FACTURE",
            "F2026-012345",
            "02/12/2026",
            "01/01/2027",
            "LCR 30 jours",
            "SAS au capital de 50 000 EUR",
            "SIREN 123 456 782",
            "SIRET 123 456 782 00010",
            "RCS Créteil 123 456 782",
            "FR11123456782",
            "Brasserie Le Zinc Gourmand",
            "18 rue des Halles",
            "75001 Paris",
            "SIRET 987 654 324 00017",
            "FR52987654324",
            "004217",
            "3 fois le taux d'intérêt légal",
            "Pas d'escompte pour paiement anticipé",
            "indemnité forfaitaire pour frais de recouvrement de 40 EUR",
            "Commande web n° 383124",
            "Ticket comptoir T261202-3-00001",
            "Page 1 / 1",
        ];
        expected.extend(seller.address_lines.iter().map(String::as_str));
        expected.push(seller.name.as_str());
        assert_contains_all(&text, &expected);
    }

    #[test]
    fn an_invoice_shows_lines_vat_per_rate_and_totals() {
        let invoice = mixed_invoice();
        let Some(text) = pdf_text(&render_sample(&invoice)) else {
            return;
        };
        // 4,276 kg x 4,85 = 20,74; 250 colis x 4,85 = 1 212,50.
        assert_contains_all(
            &text,
            &[
                "4,276",
                "kg",
                "4,85 EUR",
                "20,74 EUR",
                "250",
                "1 212,50 EUR",
                "5,5 %",
                "20 %",
                "Échalotes longues",
                "Couteau d'office inox",
            ],
        );
        let totals = invoice.totals();
        for subtotal in &totals.by_rate {
            assert!(text.contains(&crate::invoice::money_fmt::eur(subtotal.base_ht)));
            assert!(text.contains(&crate::invoice::money_fmt::eur(subtotal.vat)));
        }
        for (label, amount) in [("Total HT", totals.ht), ("Total TVA", totals.vat)] {
            let expected = format!("{label} {}", crate::invoice::money_fmt::eur(amount));
            assert!(text.contains(&expected), "missing {expected:?} in {text}");
        }
        assert!(text.contains(&crate::invoice::money_fmt::eur(totals.ttc)));
    }

    #[test]
    fn a_credit_note_is_titled_avoir_with_negative_totals() {
        let note = credit_note();
        let Some(text) = pdf_text(&render_sample(&note)) else {
            return;
        };
        assert!(text.contains("AVOIR"));
        assert!(!text.contains("FACTURE"));
        let ttc = crate::invoice::money_fmt::eur(note.totals().ttc);
        assert!(ttc.starts_with('-'));
        assert_contains_all(&text, &[ttc.as_str(), "-1,5", "A2026-000077"]);
        assert_contains_all(&text, &["Avoir sur", "F2026-012345"]);
    }

    #[test]
    fn a_300_line_invoice_flows_over_numbered_pages() {
        let invoice = long_invoice(300);
        let Some(text) = pdf_text(&render_sample(&invoice)) else {
            return;
        };
        let pages = text.matches("Page ").count();
        assert!(pages >= 5, "only {pages} pages");
        assert!(text.contains(&format!("Page 1 / {pages}")));
        assert!(text.contains(&format!("Page {pages} / {pages}")));
        // The table header is on every page with rows; the last page may
        // hold only the summary.
        let headers = text.matches("Désignation").count();
        assert!(
            (pages - 1..=pages).contains(&headers),
            "{headers} headers, {pages} pages"
        );
        assert!(text.contains("(suite)"));
        for i in [0, 1, 150, 299] {
            let label = format!("Article de test numéro {i},");
            assert!(text.contains(&label), "missing {label}");
        }
        let ttc = crate::invoice::money_fmt::eur(invoice.totals().ttc);
        assert!(text.contains(&format!("Total TTC {ttc}")));
    }
}
