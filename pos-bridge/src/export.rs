//! Reading the ERP's invoice export: one CSV row per invoice line, invoices
//! one after the other, in the site's [`Dialect`].
//!
//! The reader streams: it holds one invoice's rows at a time, so a file of a
//! million rows reads in constant memory. A bad row does not stop the file:
//! the invoice it belongs to comes out as [`ExportItem::Held`] with every
//! problem found (line, column, expected, found) and the next invoice goes on.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use encoding_rs_io::DecodeReaderBytesBuilder;
use rust_decimal::Decimal;

use crate::dialect::Dialect;
use crate::invoice::{Invoice, InvoiceCustomer, InvoiceLine, Origin};
use crate::line_ends::NormalizeLineEnds;

/// The columns the reader needs, by the ERP's header names.
const COLUMNS: [&str; 23] = [
    "NumFacture",
    "DateFacture",
    "CodeClient",
    "RaisonSociale",
    "SIRET",
    "TVAIntra",
    "Adresse",
    "CP",
    "Ville",
    "EmailClient",
    "Origine",
    "RefCommande",
    "CodeArticle",
    "Libelle",
    "Qte",
    "Unite",
    "PUHT",
    "MontantHT",
    "TauxTVA",
    "MontantTVA",
    "MontantTTC",
    "Echeance",
    "ModeReglement",
];

/// One problem in an export file, with where it is and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProblem {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    /// Column name, when the problem is in one field.
    pub column: Option<String>,
    /// What the reader expected.
    pub expected: String,
    /// What it found.
    pub found: String,
}

impl fmt::Display for ExportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": expected {}, found {:?}", self.expected, self.found)
    }
}

/// A failure that stops the whole file: it cannot be read as an export at all.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The header row lacks a column the reader needs.
    #[error("line 1: the header has no column {column:?} (found: {found})")]
    MissingColumn { column: String, found: String },
    /// The file is UTF-8 while the site declares a single-byte code page.
    #[error(
        "the file is UTF-8 but the site's dialect says {declared}: accents would be garbled; \
             fix the dialect or the ERP's export setting"
    )]
    Encoding { declared: String },
    /// The file is empty or has no header.
    #[error("the file is empty: expected a header row")]
    Empty,
    /// The CSV layer failed (I/O or an unreadable record).
    #[error("line {line}: {source}")]
    Csv { line: u64, source: csv::Error },
}

/// What the reader yields for each invoice of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportItem {
    /// A complete invoice whose rows all parsed and agree with each other.
    Invoice(Box<Invoice>),
    /// An invoice that cannot be used as it is, kept with its problems.
    Held(HeldInvoice),
}

/// An invoice the reader could not accept, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldInvoice {
    /// The invoice number as written (may be empty if the column was).
    pub number: String,
    /// First line of its rows.
    pub first_line: u64,
    /// Number of rows it had.
    pub rows: usize,
    /// What is wrong.
    pub problems: Vec<ExportProblem>,
}

/// Column positions found in the header.
struct ColumnMap {
    required: [usize; COLUMNS.len()],
    /// `FactureOrigine`: the invoice a credit note corrects (optional).
    corrects: Option<usize>,
}

impl ColumnMap {
    fn from_header(header: &csv::StringRecord) -> Result<ColumnMap, ExportError> {
        let mut positions = [0usize; COLUMNS.len()];
        for (slot, name) in positions.iter_mut().zip(COLUMNS) {
            *slot = header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| ExportError::MissingColumn {
                    column: name.to_string(),
                    found: header.iter().collect::<Vec<_>>().join(", "),
                })?;
        }
        let corrects = header.iter().position(|h| h.trim() == "FactureOrigine");
        Ok(ColumnMap {
            required: positions,
            corrects,
        })
    }
}

/// One raw row with the line it started on.
struct Row {
    line: u64,
    record: csv::StringRecord,
}

/// The source with its first bytes read ahead for the encoding check.
pub type Sniffed<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

/// How much of the file is looked at to tell UTF-8 from a single-byte code page.
const SNIFF_BYTES: u64 = 64 * 1024;

/// A file declared in a single-byte code page (Windows-1252, ISO-8859-15)
/// that is in fact UTF-8 would read without error and garble every accent
/// ("Ã‰chalotes"), so it is refused: valid UTF-8 with multi-byte sequences
/// is almost never meant as Windows-1252.
fn sniff_encoding<R: Read>(mut source: R, dialect: &Dialect) -> Result<Sniffed<R>, ExportError> {
    let mut head = Vec::new();
    (&mut source)
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| ExportError::Csv {
            line: 0,
            source: csv::Error::from(e),
        })?;
    if dialect.encoding != crate::dialect::Encoding::Utf8 && looks_like_utf8(&head) {
        return Err(ExportError::Encoding {
            declared: format!("{:?}", dialect.encoding),
        });
    }
    Ok(std::io::Cursor::new(head).chain(source))
}

fn looks_like_utf8(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        // A multi-byte character cut by the end of the sniffed block.
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return false,
    };
    bytes[..valid].iter().any(|b| *b >= 0x80)
}

/// Streams the invoices of an export. Build it with [`ExportReader::new`].
pub struct ExportReader<R: Read> {
    records: csv::StringRecordsIntoIter<
        NormalizeLineEnds<encoding_rs_io::DecodeReaderBytes<R, Vec<u8>>>,
    >,
    columns: ColumnMap,
    width: usize,
    dialect: Dialect,
    carry: Option<Row>,
    seen: HashSet<String>,
}

impl<R: Read> ExportReader<R> {
    /// Reads the header and prepares to stream invoices.
    pub fn new(source: R, dialect: &Dialect) -> Result<ExportReader<Sniffed<R>>, ExportError> {
        let source = sniff_encoding(source, dialect)?;
        let decoded = DecodeReaderBytesBuilder::new()
            .encoding(Some(dialect.encoding.encoding()))
            .bom_sniffing(true)
            .build(source);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(dialect.separator as u8)
            .has_headers(false)
            .flexible(true)
            .from_reader(NormalizeLineEnds::new(decoded));
        let mut header = csv::StringRecord::new();
        let found = reader
            .read_record(&mut header)
            .map_err(|source| ExportError::Csv { line: 1, source })?;
        if !found {
            return Err(ExportError::Empty);
        }
        let columns = ColumnMap::from_header(&header)?;
        Ok(ExportReader {
            records: reader.into_records(),
            columns,
            width: header.len(),
            dialect: dialect.clone(),
            carry: None,
            seen: HashSet::new(),
        })
    }

    fn next_row(&mut self) -> Option<Result<Row, ExportError>> {
        if let Some(row) = self.carry.take() {
            return Some(Ok(row));
        }
        let record = self.records.next()?;
        Some(match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                Ok(Row { line, record })
            }
            Err(source) => {
                let line = source.position().map_or(0, |p| p.line());
                Err(ExportError::Csv { line, source })
            }
        })
    }

    fn field<'r>(&self, row: &'r Row, column: usize) -> &'r str {
        row.record
            .get(self.columns.required[column])
            .unwrap_or("")
            .trim()
    }
}

impl<R: Read> Iterator for ExportReader<R> {
    type Item = Result<ExportItem, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = match self.next_row()? {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let number = self.field(&first, 0).to_string();
        let mut rows = vec![first];
        loop {
            match self.next_row() {
                None => break,
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(row)) if self.field(&row, 0) == number => rows.push(row),
                Some(Ok(row)) => {
                    self.carry = Some(row);
                    break;
                }
            }
        }
        let repeated = !self.seen.insert(number.clone());
        Some(Ok(self.assemble(number, rows, repeated)))
    }
}

/// Collects problems while one invoice's rows are parsed.
struct Checker<'a> {
    dialect: &'a Dialect,
    problems: Vec<ExportProblem>,
}

impl Checker<'_> {
    fn problem(&mut self, line: u64, column: &str, expected: &str, found: &str) {
        self.problems.push(ExportProblem {
            line,
            column: Some(column.to_string()),
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }

    fn decimal(&mut self, line: u64, column: &str, text: &str) -> Decimal {
        self.dialect.parse_decimal(text).unwrap_or_else(|expected| {
            self.problem(line, column, expected, text);
            Decimal::ZERO
        })
    }

    fn date(&mut self, line: u64, column: &str, text: &str) -> Option<jiff::civil::Date> {
        match self.dialect.parse_date(text) {
            Ok(date) => Some(date),
            Err(expected) => {
                self.problem(line, column, expected, text);
                None
            }
        }
    }
}

impl<R: Read> ExportReader<R> {
    fn assemble(&self, number: String, rows: Vec<Row>, repeated: bool) -> ExportItem {
        let mut check = Checker {
            dialect: &self.dialect,
            problems: Vec::new(),
        };
        let first_line = rows[0].line;
        if number.is_empty() {
            check.problem(first_line, "NumFacture", "an invoice number", "");
        }
        if repeated {
            check.problem(
                first_line,
                "NumFacture",
                "the rows of one invoice next to each other",
                &format!("{number} again after other invoices"),
            );
        }
        let head = self.invoice_head(&rows[0], &mut check);
        let lines: Vec<InvoiceLine> = rows
            .iter()
            .map(|row| self.invoice_line(row, &head, &mut check))
            .collect();
        match head.into_invoice(number.clone(), lines) {
            Some(invoice) if check.problems.is_empty() => ExportItem::Invoice(Box::new(invoice)),
            _ => ExportItem::Held(HeldInvoice {
                number,
                first_line,
                rows: rows.len(),
                problems: check.problems,
            }),
        }
    }

    /// The per-invoice fields, read from the first row; later rows must agree.
    fn invoice_head(&self, row: &Row, check: &mut Checker<'_>) -> Head {
        let f = |c| self.field(row, c).to_string();
        if row.record.len() != self.width {
            // Shifted fields: the row's own problem says so (see invoice_line).
            let customer = InvoiceCustomer {
                code: f(2),
                name: String::new(),
                siret: String::new(),
                vat_number: String::new(),
                address: String::new(),
                postcode: String::new(),
                city: String::new(),
                email: String::new(),
            };
            return Head {
                date: None,
                due_date: None,
                payment_terms: String::new(),
                customer,
                corrects: None,
            };
        }
        Head {
            date: check.date(row.line, COLUMNS[1], self.field(row, 1)),
            due_date: check.date(row.line, COLUMNS[21], self.field(row, 21)),
            payment_terms: f(22),
            corrects: self
                .columns
                .corrects
                .and_then(|at| row.record.get(at))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            customer: InvoiceCustomer {
                code: f(2),
                name: f(3),
                siret: f(4),
                vat_number: f(5),
                address: f(6),
                postcode: f(7),
                city: f(8),
                email: f(9),
            },
        }
    }

    fn invoice_line(&self, row: &Row, head: &Head, check: &mut Checker<'_>) -> InvoiceLine {
        if row.record.len() != self.width {
            // Fields after a missing or extra one are shifted: reporting
            // each of them would only hide the real cause.
            check.problems.push(ExportProblem {
                line: row.line,
                column: None,
                expected: format!("{} fields as in the header", self.width),
                found: format!("{}", row.record.len()),
            });
            return self.placeholder_line(row);
        }
        if let Some(column) = row.record.iter().position(|f| f.contains('\u{FFFD}')) {
            check.problems.push(ExportProblem {
                line: row.line,
                column: Some(format!("field {}", column + 1)),
                expected: format!("text in the site's encoding ({:?})", self.dialect.encoding),
                found: row.record.get(column).unwrap_or("").to_string(),
            });
        }
        for (column, expected) in [(1, head.date_text()), (2, head.customer.code.clone())] {
            let found = self.field(row, column);
            if !expected.is_empty() && found != expected && head.date.is_some() {
                let what = format!("{expected} as on the invoice's first row");
                check.problem(row.line, COLUMNS[column], &what, found);
            }
        }
        let origin = match self.field(row, 10) {
            "WEB" => Origin::Web,
            "CPT" => Origin::Counter,
            other => {
                check.problem(row.line, "Origine", "WEB or CPT", other);
                Origin::Counter
            }
        };
        let line = InvoiceLine {
            source_line: row.line,
            origin,
            reference: self.field(row, 11).to_string(),
            article: self.field(row, 12).to_string(),
            label: self.field(row, 13).to_string(),
            quantity: check.decimal(row.line, "Qte", self.field(row, 14)),
            unit: self.field(row, 15).to_string(),
            unit_price_ht: check.decimal(row.line, "PUHT", self.field(row, 16)),
            amount_ht: check.decimal(row.line, "MontantHT", self.field(row, 17)),
            vat_rate: check.decimal(row.line, "TauxTVA", self.field(row, 18)),
            amount_vat: check.decimal(row.line, "MontantTVA", self.field(row, 19)),
            amount_ttc: check.decimal(row.line, "MontantTTC", self.field(row, 20)),
        };
        if line.amount_ht + line.amount_vat != line.amount_ttc {
            let expected = format!(
                "MontantHT + MontantTVA = {}",
                self.dialect
                    .format_decimal(line.amount_ht + line.amount_vat, 2)
            );
            check.problem(row.line, "MontantTTC", &expected, self.field(row, 20));
        }
        line
    }
}

impl<R: Read> ExportReader<R> {
    /// A line that stands in for a row that could not be read, so the
    /// invoice is still held whole with its problems.
    fn placeholder_line(&self, row: &Row) -> InvoiceLine {
        InvoiceLine {
            source_line: row.line,
            origin: Origin::Counter,
            reference: String::new(),
            article: String::new(),
            label: String::new(),
            quantity: Decimal::ZERO,
            unit: String::new(),
            unit_price_ht: Decimal::ZERO,
            amount_ht: Decimal::ZERO,
            vat_rate: Decimal::ZERO,
            amount_vat: Decimal::ZERO,
            amount_ttc: Decimal::ZERO,
        }
    }
}

/// Per-invoice fields while an invoice is assembled.
struct Head {
    date: Option<jiff::civil::Date>,
    due_date: Option<jiff::civil::Date>,
    payment_terms: String,
    customer: InvoiceCustomer,
    corrects: Option<String>,
}

impl Head {
    fn date_text(&self) -> String {
        self.date
            .map(|d| d.strftime("%d/%m/%Y").to_string())
            .unwrap_or_default()
    }

    fn into_invoice(self, number: String, lines: Vec<InvoiceLine>) -> Option<Invoice> {
        Some(Invoice {
            number,
            date: self.date?,
            due_date: self.due_date?,
            payment_terms: self.payment_terms,
            customer: self.customer,
            lines,
            corrects: self.corrects,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const HEADER: &str =
        "NumFacture;DateFacture;CodeClient;RaisonSociale;SIRET;TVAIntra;Adresse;CP;\
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
            row("FA1", "CPT", "4,276", "123,58", "6,80", "130,38"),
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
        assert_eq!(first.lines[1].quantity, dec!(4.276));
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
            encoding: crate::dialect::Encoding::Utf8,
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
        let items = read(&[HEADER.to_string(), short].join("\r\n"));
        let ExportItem::Held(held) = &items[0] else {
            panic!("not held")
        };
        assert_eq!(held.problems.len(), 1, "{:?}", held.problems);
        assert!(held.problems[0].to_string().contains("23 fields"));
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
}
