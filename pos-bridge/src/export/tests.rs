//! The export reader on small in-memory files.

use super::*;
use crate::dialect::Encoding;
use rust_decimal_macros::dec;

const HEADER: &str = "NumFacture;DateFacture;CodeClient;RaisonSociale;SIRET;TVAIntra;Adresse;CP;\
    Ville;EmailClient;Origine;RefCommande;CodeArticle;Libelle;Qte;Unite;PUHT;MontantHT;TauxTVA;\
    MontantTVA;MontantTTC;Echeance;ModeReglement";

fn row(number: &str, origin: &str, qty: &str, ht: &str, vat: &str, ttc: &str) -> String {
    format!(
        "{number};02/12/2026;C004100;Le Petit Zinc;148;FR91;70 quai;75011;Paris;a@b.test;\
         {origin};383124;FL-SAL;Salade batavia;{qty};colis;9,60;{ht};5,5;{vat};{ttc};\
         01/01/2027;LCR 30 jours"
    )
}

fn read(text: &str) -> Vec<ExportItem> {
    let bytes = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
    ExportReader::new(&bytes[..], &Dialect::french_erp())
        .expect("header")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows")
}

#[test]
fn rows_are_grouped_into_invoices_in_file_order() {
    let text = [
        HEADER.to_string(),
        row("FA1", "WEB", "6", "57,60", "3,17", "60,77"),
        row("FA1", "CPT", "12,873", "123,58", "6,80", "130,38"),
        row("FA2", "WEB", "1", "9,60", "0,53", "10,13"),
    ]
    .join("\r\n");
    let items = read(&text);
    assert_eq!(items.len(), 2);
    let ExportItem::Invoice(first) = &items[0] else {
        panic!("held: {:?}", items[0])
    };
    assert_eq!(first.number, "FA1");
    assert_eq!(first.lines.len(), 2);
    assert_eq!(first.lines[1].quantity, dec!(12.873));
    assert_eq!(first.lines[1].source_line, 3);
    assert_eq!(first.totals().ttc, dec!(191.15));
}

#[test]
fn a_bad_amount_holds_its_invoice_and_names_line_and_column() {
    let text = [
        HEADER.to_string(),
        row("FA1", "WEB", "6", "57.60", "3,17", "60,77"),
        row("FA2", "WEB", "1", "9,60", "0,53", "10,13"),
    ]
    .join("\r\n");
    let items = read(&text);
    let ExportItem::Held(held) = &items[0] else {
        panic!("not held")
    };
    let message = held.problems[0].to_string();
    assert!(message.contains("line 2, column MontantHT"), "{message}");
    assert!(message.contains("\"57.60\""), "{message}");
    assert!(matches!(items[1], ExportItem::Invoice(_)));
}

#[test]
fn lines_that_do_not_add_up_are_held() {
    let text = [
        HEADER.to_string(),
        row("FA1", "WEB", "6", "57,60", "3,17", "60,78"),
    ];
    let items = read(&text.join("\n"));
    let ExportItem::Held(held) = &items[0] else {
        panic!("not held")
    };
    assert_eq!(held.problems[0].column.as_deref(), Some("MontantTTC"));
}

#[test]
fn a_utf8_file_in_a_windows_1252_site_is_refused_not_garbled() {
    let text = [
        HEADER.to_string(),
        row("FA1", "WEB", "6", "57,60", "3,17", "60,77"),
    ];
    let utf8 = text.join("\r\n").replace("Salade", "Échalotes");
    let err = ExportReader::new(utf8.as_bytes(), &Dialect::french_erp())
        .err()
        .expect("error");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn a_windows_1252_file_read_as_utf8_holds_the_invoice_with_the_field() {
    let text = [
        HEADER.to_string(),
        row("FA1", "WEB", "6", "57,60", "3,17", "60,77"),
    ];
    let latin = text.join("\n").replace("Salade", "Échalotes");
    let bytes = encoding_rs::WINDOWS_1252.encode(&latin).0.into_owned();
    let dialect = Dialect {
        encoding: Encoding::Utf8,
        ..Dialect::french_erp()
    };
    let items: Vec<_> = ExportReader::new(&bytes[..], &dialect)
        .expect("header")
        .collect();
    let Ok(ExportItem::Held(held)) = &items[0] else {
        panic!("not held: {items:?}")
    };
    assert!(
        held.problems[0].to_string().contains("field 14"),
        "{:?}",
        held.problems
    );
}

#[test]
fn a_short_row_is_one_problem_not_a_cascade() {
    let short = row("FA1", "WEB", "6", "57,60", "3,17", "60,77").replacen(";colis", "", 1);
    let items = read(&[HEADER.to_string(), short.clone(), String::new()].join("\r\n"));
    let ExportItem::Held(held) = &items[0] else {
        panic!("not held")
    };
    assert_eq!(held.problems.len(), 1, "{:?}", held.problems);
    assert!(held.problems[0].to_string().contains("23 fields"));
}

#[test]
fn a_short_last_row_without_a_line_end_is_a_file_still_being_written() {
    let whole = row("FA1", "WEB", "6", "57,60", "3,17", "60,77");
    let cut = &row("FA2", "WEB", "1", "9,60", "0,53", "10,13")[..60];
    let text = [HEADER, &whole, cut].join("\r\n");
    let bytes = encoding_rs::WINDOWS_1252.encode(&text).0.into_owned();
    let items: Vec<_> = ExportReader::new(&bytes[..], &Dialect::french_erp())
        .expect("header")
        .collect();
    assert_eq!(
        items.len(),
        1,
        "only the error: the invoices next to the cut wait for the whole file: {items:?}"
    );
    let err = items[0].as_ref().expect_err("unfinished");
    assert!(err.is_still_being_written());
    assert!(
        err.to_string().contains("line 3: incomplete last line"),
        "{err}"
    );
}

#[test]
fn a_credit_note_names_the_invoice_it_corrects_when_the_export_says() {
    let header = format!("{HEADER};FactureOrigine");
    let credit = row("AV1", "WEB", "-6", "-57,60", "-3,17", "-60,77") + ";FA595001";
    let items = read(&[header, credit].join("\r\n"));
    let ExportItem::Invoice(note) = &items[0] else {
        panic!("held: {:?}", items[0])
    };
    assert!(note.is_credit_note());
    assert_eq!(note.corrects.as_deref(), Some("FA595001"));
}

#[test]
fn a_missing_column_is_named() {
    let bytes = b"NumFacture;DateFacture\r\nFA1;02/12/2026\r\n";
    let err = ExportReader::new(&bytes[..], &Dialect::french_erp())
        .err()
        .expect("error");
    assert!(err.to_string().contains("CodeClient"), "{err}");
}

#[test]
fn an_invoice_split_across_the_file_is_held_the_second_time() {
    let text = [
        HEADER.to_string(),
        row("FA1", "WEB", "6", "57,60", "3,17", "60,77"),
        row("FA2", "WEB", "1", "9,60", "0,53", "10,13"),
        row("FA1", "WEB", "1", "9,60", "0,53", "10,13"),
    ];
    let items = read(&text.join("\r\n"));
    assert!(matches!(items[2], ExportItem::Held(_)));
}

#[test]
fn a_line_whose_figures_contradict_each_other_holds_its_invoice_with_the_difference() {
    let text = [
        HEADER.to_string(),
        // 5,5 % of 57,60 is 3,168, but the VAT says 3,22.
        row("FA1", "WEB", "6", "57,60", "3,22", "60,82"),
        row("FA2", "WEB", "1", "9,60", "0,53", "10,13"),
    ]
    .join("\r\n");
    let items = read(&text);
    let ExportItem::Held(held) = &items[0] else {
        panic!("not held: {:?}", items[0])
    };
    assert_eq!(held.problems.len(), 1, "{:?}", held.problems);
    let problem = &held.problems[0];
    assert_eq!(problem.column.as_deref(), Some("MontantTVA"));
    assert!(problem.expected.contains("3,17"), "{}", problem.expected);
    assert!(
        problem.expected.contains("difference of 0,052"),
        "{}",
        problem.expected
    );
    assert!(
        matches!(items[1], ExportItem::Invoice(_)),
        "the rest goes on"
    );
}
