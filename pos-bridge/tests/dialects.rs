//! The dialect corpus: one small ERP export per shape in `tests/dialects/`
//! (written by `make_corpus.py` there), each read with the dialect a site
//! file would declare, and checked for its values or for the error it must
//! give. Files named `fail_*` must fail, naming where and what.

use std::path::PathBuf;

use pos_bridge::dialect::Dialect;
use pos_bridge::export::{ExportError, ExportItem, ExportReader, HeldInvoice};
use pos_bridge::invoice::Invoice;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dialects")
        .join(name)
}

/// A dialect as a site file declares it.
fn dialect(toml_text: &str) -> Dialect {
    toml::from_str(toml_text).expect("dialect")
}

const FRENCH: &str = r#"
    encoding = "windows-1252"
    separator = ";"
    decimal_mark = ","
    date_format = "dd-mm-yyyy"
    line_end = "\r\n"
"#;

fn with(changes: &str) -> Dialect {
    let mut text = String::new();
    for line in FRENCH.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        let changed = changes
            .lines()
            .any(|c| c.split('=').next().unwrap_or("").trim() == key);
        if !changed {
            text.push_str(line);
            text.push('\n');
        }
    }
    dialect(&(text + changes))
}

fn read(name: &str, dialect: &Dialect) -> Result<Vec<ExportItem>, ExportError> {
    let file = std::fs::File::open(corpus(name)).expect("corpus file");
    ExportReader::new(file, dialect)?.collect()
}

fn invoices(name: &str, dialect: &Dialect) -> Vec<Invoice> {
    read(name, dialect)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter()
        .map(|item| match item {
            ExportItem::Invoice(invoice) => *invoice,
            ExportItem::Held(held) => panic!("{name}: held: {:?}", held.problems),
        })
        .collect()
}

fn held(name: &str, dialect: &Dialect) -> HeldInvoice {
    let items = read(name, dialect).unwrap_or_else(|e| panic!("{name}: {e}"));
    items
        .into_iter()
        .find_map(|item| match item {
            ExportItem::Held(held) => Some(held),
            ExportItem::Invoice(_) => None,
        })
        .unwrap_or_else(|| panic!("{name}: nothing held"))
}

fn file_error(name: &str, dialect: &Dialect) -> ExportError {
    match read(name, dialect) {
        Err(e) => e,
        Ok(items) => panic!("{name}: expected an error, read {items:?}"),
    }
}

/// The two base invoices every corpus file holds, whatever its shape.
fn assert_base(name: &str, read: &[Invoice], label: &str) {
    assert_eq!(read.len(), 2, "{name}");
    let (first, second) = (&read[0], &read[1]);
    assert_eq!(first.number, "FA000101", "{name}");
    assert_eq!(first.date, jiff::civil::date(2026, 12, 2), "{name}");
    assert_eq!(first.due_date, jiff::civil::date(2027, 1, 1), "{name}");
    assert_eq!(first.customer.code, "0041007", "{name}: leading zeros kept");
    assert_eq!(first.customer.postcode, "01000", "{name}");
    assert_eq!(first.customer.name, "Café de l'Église", "{name}");
    assert_eq!(first.lines[0].article, "000123", "{name}");
    assert_eq!(first.lines[0].label, label, "{name}");
    assert_eq!(first.lines[1].label, "Entrecôte", "{name}");
    assert_eq!(first.lines[1].quantity, dec!(4.276), "{name}");
    assert_eq!(first.totals().ttc, dec!(232.93), "{name}");
    assert_eq!(second.number, "FA000102", "{name}");
    assert_eq!(second.customer.siret, "", "{name}");
    assert_eq!(second.lines[0].vat_rate, dec!(20), "{name}");
    assert_eq!(second.totals().ttc, dec!(44.64), "{name}");
}

const ECHALOTES: &str = "Échalotes longues 5 kg";

#[test]
fn windows_1252_with_semicolons_and_crlf_reads_exactly() {
    let name = "windows1252_semicolon_crlf.csv";
    let read = invoices(name, &with(""));
    assert_base(name, &read, ECHALOTES);
    assert_eq!(read[0].lines[1].source_line, 3);
    assert_eq!(read[1].lines[0].source_line, 4);
}

#[test]
fn lf_lone_cr_and_no_final_line_end_read_the_same() {
    for name in [
        "lf_line_ends.csv",
        "lone_cr_line_ends.csv",
        "no_final_line_end.csv",
    ] {
        let read = invoices(name, &with(""));
        assert_base(name, &read, ECHALOTES);
        assert_eq!(read[1].lines[0].source_line, 4, "{name}");
    }
}

#[test]
fn iso_8859_15_keeps_the_euro_sign_and_the_oe_ligature() {
    let name = "iso885915_euro.csv";
    let read = invoices(name, &with(r#"encoding = "iso-8859-15""#));
    assert_base(name, &read, "Bœuf haché 5 € le kg");
}

#[test]
fn a_dos_export_in_cp850_reads_its_accents() {
    let name = "cp850_dos.csv";
    assert_base(
        name,
        &invoices(name, &with(r#"encoding = "cp850""#)),
        ECHALOTES,
    );
}

#[test]
fn utf8_with_a_byte_order_mark_reads_and_the_mark_is_not_in_the_first_column() {
    let name = "utf8_bom.csv";
    assert_base(
        name,
        &invoices(name, &with(r#"encoding = "utf-8""#)),
        ECHALOTES,
    );
}

#[test]
fn utf8_with_commas_a_decimal_point_and_iso_dates_reads_quoted_commas() {
    let name = "utf8_comma_decimal_point.csv";
    let dialect = with(
        r#"encoding = "utf-8"
        separator = ","
        decimal_mark = "."
        date_format = "yyyy-mm-dd""#,
    );
    assert_base(name, &invoices(name, &dialect), "Échalotes, longues, 5 kg");
}

#[test]
fn a_tab_separated_export_reads() {
    let name = "tab_separated.tsv";
    assert_base(
        name,
        &invoices(name, &with("separator = \"\\t\"")),
        ECHALOTES,
    );
}

#[test]
fn excels_sep_line_is_skipped_and_line_numbers_stay_the_files() {
    let name = "excel_sep_line.csv";
    let read = invoices(name, &with(""));
    assert_base(name, &read, ECHALOTES);
    assert_eq!(
        read[0].lines[0].source_line, 3,
        "line 1 is sep=, line 2 the header"
    );
}

#[test]
fn two_digit_years_read_in_this_century() {
    let name = "short_year_dates.csv";
    let read = invoices(name, &with(r#"date_format = "dd-mm-yy""#));
    assert_base(name, &read, ECHALOTES);
}

#[test]
fn a_quoted_field_may_hold_a_line_end_and_the_separator() {
    let name = "quoted_newline_and_separator.csv";
    let read = invoices(name, &with(""));
    assert_base(
        name,
        &read,
        "Échalotes; longues\r\n(sac de 5 kg)"
            .replace('\r', "")
            .as_str(),
    );
    // The quoted line end counts: the next row starts one line later.
    assert_eq!(read[0].lines[1].source_line, 4);
    assert_eq!(read[1].lines[0].source_line, 5);
}

#[test]
fn every_kind_of_space_separates_thousands() {
    let read = invoices("thousands_spaces.csv", &with(r#"encoding = "utf-8""#));
    let line = &read[0].lines[0];
    assert_eq!(line.unit_price_ht, dec!(1234.56));
    assert_eq!(line.amount_ht, dec!(123456.00));
    assert_eq!(line.amount_vat, dec!(24691.20));
    assert_eq!(line.amount_ttc, dec!(148147.20));
}

#[test]
fn a_declared_dot_separates_thousands() {
    let read = invoices("thousands_dot.csv", &with(r#"thousands = ".""#));
    assert_eq!(read[0].lines[0].amount_ttc, dec!(148147.20));
}

#[test]
fn the_three_ways_of_writing_a_negative_amount_make_a_credit_note() {
    let read = invoices("negative_amounts.csv", &with(""));
    let note = &read[0];
    assert!(note.is_credit_note());
    assert_eq!(note.corrects.as_deref(), Some("FA000101"));
    let line = &note.lines[0];
    assert_eq!(
        (
            line.quantity,
            line.amount_ht,
            line.amount_vat,
            line.amount_ttc
        ),
        (dec!(-6), dec!(-97.20), dec!(-5.35), dec!(-102.55))
    );
}

#[test]
fn a_fixed_width_export_reads_by_declared_positions() {
    let layout = std::fs::read_to_string(corpus("fixed_width.dialect.toml")).expect("layout");
    let name = "fixed_width.txt";
    let read = invoices(name, &dialect(&layout));
    assert_base(name, &read, ECHALOTES);
    assert_eq!(read[0].lines[0].source_line, 2, "line 1 is the title");
    assert_eq!(read[1].payment_terms, "Virement");
}

// --- Files that must fail, with where and what. ---

#[test]
fn a_file_cut_short_by_its_writer_is_still_being_written_not_a_bad_value() {
    let err = file_error("fail_still_being_written.csv", &with(""));
    assert!(err.is_still_being_written(), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("line 4: incomplete last line, the file is still being written"));
    assert!(text.contains("expected 23 fields, found 14"), "{text}");
}

#[test]
fn a_comma_file_read_as_semicolons_names_both_separators() {
    let err = file_error("fail_wrong_separator.csv", &with(""));
    assert_eq!(
        err.to_string(),
        "line 1: expected fields separated by ';' as the site's dialect says, \
         found a header separated by ','"
    );
}

#[test]
fn a_sep_line_naming_another_separator_is_refused() {
    let err = file_error("fail_sep_line_names_another_separator.csv", &with(""));
    assert_eq!(
        err.to_string(),
        "line 1: expected sep=';' (the site's separator), found \"sep=,\""
    );
}

#[test]
fn a_utf8_file_in_a_windows_1252_site_is_refused() {
    let err = file_error("fail_utf8_in_a_windows1252_site.csv", &with(""));
    assert!(err.to_string().contains("the file is UTF-8"), "{err}");
}

#[test]
fn a_decimal_point_in_a_comma_dialect_names_line_column_and_value() {
    let held = held("fail_decimal_point_in_a_comma_dialect.csv", &with(""));
    assert_eq!(held.number, "FA000101");
    assert_eq!(
        held.problems[0].to_string(),
        "line 2, column MontantHT: expected a number with a decimal comma, found \"97.20\""
    );
}

#[test]
fn an_undeclared_dot_is_not_taken_for_a_thousands_separator() {
    let held = held("fail_thousands_dot_not_declared.csv", &with(""));
    assert_eq!(
        held.problems[0].to_string(),
        "line 2, column MontantHT: expected a number with a decimal comma, found \"1.037,20\""
    );
}

#[test]
fn an_unquoted_separator_is_a_shape_problem_not_a_shifted_field() {
    let items = read("fail_unquoted_separator_shifts_fields.csv", &with("")).expect("file");
    let ExportItem::Held(held) = &items[0] else {
        panic!("not held: {items:?}")
    };
    assert_eq!(held.problems.len(), 1, "{:?}", held.problems);
    assert_eq!(
        held.problems[0].to_string(),
        "line 3: expected 23 fields as in the header, found \"24\""
    );
    assert!(
        matches!(items[1], ExportItem::Invoice(_)),
        "the next invoice goes on"
    );
}

#[test]
fn a_two_digit_year_in_a_four_digit_dialect_is_refused() {
    let held = held("fail_short_year_in_a_long_year_dialect.csv", &with(""));
    assert_eq!(
        held.problems[0].to_string(),
        "line 2, column DateFacture: expected a date dd/mm/yyyy, found \"02/12/26\""
    );
}

#[test]
fn a_negative_written_two_ways_at_once_is_refused() {
    let held = held("fail_negative_written_twice.csv", &with(""));
    assert_eq!(held.number, "FA000102");
    assert_eq!(
        held.problems[0].to_string(),
        "line 4, column MontantTTC: expected a number with a decimal comma, found \"-(44,64)\""
    );
}

#[test]
fn a_fixed_width_line_past_the_declared_columns_is_a_shape_problem() {
    let layout = std::fs::read_to_string(corpus("fixed_width.dialect.toml")).expect("layout");
    let mut dialect = dialect(&layout);
    if let Some(fixed) = dialect.fixed_width.as_mut() {
        fixed.title_line = false;
    }
    let held = held("fail_fixed_width_shifted.txt", &dialect);
    assert_eq!(
        held.problems[0].to_string(),
        "line 2: expected at most 275 characters (the declared columns), found \"276 characters\""
    );
}

#[test]
fn a_cp850_file_decodes_byte_for_byte_like_the_reference_table() {
    // É is 0x90 in CP850 and a control code in Windows-1252: reading the DOS
    // file with the right dialect is the only way to get it back.
    let bytes = std::fs::read(corpus("cp850_dos.csv")).expect("file");
    assert!(bytes.windows(2).any(|w| w == [b'l', 0x27]) && bytes.contains(&0x90));
    let total: Decimal = invoices("cp850_dos.csv", &with(r#"encoding = "cp850""#))
        .iter()
        .map(|i| i.totals().ttc)
        .sum();
    assert_eq!(total, dec!(277.57));
}
