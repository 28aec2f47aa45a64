//! One invoice from its rows: every field parsed through the dialect, every
//! row checked against the first, every problem kept with where it is.

use std::io::Read;

use jiff::civil::Date;
use rust_decimal::Decimal;

use super::{ExportItem, ExportProblem, ExportReader, HeldInvoice, COLUMNS};
use crate::dialect::Dialect;
use crate::invoice::{Invoice, InvoiceCustomer, InvoiceLine, Origin};
use crate::records::Record;

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

    fn date(&mut self, line: u64, column: &str, text: &str) -> Option<Date> {
        match self.dialect.parse_date(text) {
            Ok(date) => Some(date),
            Err(expected) => {
                self.problem(line, column, expected, text);
                None
            }
        }
    }
}

/// Per-invoice fields while an invoice is assembled.
struct Head {
    date: Option<Date>,
    due_date: Option<Date>,
    payment_terms: String,
    customer: InvoiceCustomer,
    corrects: Option<String>,
}

impl Head {
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

impl<R: Read> ExportReader<R> {
    pub(super) fn assemble(&self, number: String, rows: Vec<Record>, repeated: bool) -> ExportItem {
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
    fn invoice_head(&self, row: &Record, check: &mut Checker<'_>) -> Head {
        let f = |c| self.field(row, c).to_string();
        if row.shape.is_some() {
            // Shifted fields: the row's own problem says so (see invoice_line).
            return Head {
                date: None,
                due_date: None,
                payment_terms: String::new(),
                customer: InvoiceCustomer {
                    code: f(2),
                    ..empty_customer()
                },
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
                .map(|at| row.get(at).trim().to_string())
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

    fn invoice_line(&self, row: &Record, head: &Head, check: &mut Checker<'_>) -> InvoiceLine {
        if let Some(shape) = &row.shape {
            // Fields after a missing or extra one are shifted: reporting
            // each of them would only hide the real cause.
            check.problems.push(ExportProblem {
                line: row.line,
                column: shape.column.clone(),
                expected: shape.expected.clone(),
                found: shape.found.clone(),
            });
            return placeholder_line(row);
        }
        if let Some(column) = row.fields.iter().position(|f| f.contains('\u{FFFD}')) {
            check.problems.push(ExportProblem {
                line: row.line,
                column: Some(self.column_name(column)),
                expected: format!("text in the site's encoding ({:?})", self.dialect.encoding),
                found: row.get(column).to_string(),
            });
        }
        self.agrees_with_head(row, head, check);
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
        // The VAT is the rate applied to the amount before tax, to within a
        // cent (a cent, not half: some ERPs round VAT per invoice and spread
        // the cent over the lines). The amount before tax is not checked
        // against quantity x unit price: line discounts and unit prices
        // rounded from the net amount make them differ in real exports.
        let cent = Decimal::new(1, 2);
        let vat = line.amount_ht * line.vat_rate / Decimal::ONE_HUNDRED;
        if (vat - line.amount_vat).abs() > cent {
            let expected = format!(
                "MontantHT x TauxTVA = {} (to the cent), a difference of {}",
                self.dialect.format_decimal(vat.round_dp(2), 2),
                self.dialect
                    .format_decimal((line.amount_vat - vat).round_dp(3), 3)
            );
            check.problem(row.line, "MontantTVA", &expected, self.field(row, 19));
        }
        if line.amount_ht + line.amount_vat != line.amount_ttc {
            let sum = line.amount_ht + line.amount_vat;
            let expected = format!(
                "MontantHT + MontantTVA = {}",
                self.dialect.format_decimal(sum, 2)
            );
            check.problem(row.line, "MontantTTC", &expected, self.field(row, 20));
        }
        line
    }

    /// Date and customer are per invoice: a row that says otherwise means
    /// rows of two invoices were mixed.
    fn agrees_with_head(&self, row: &Record, head: &Head, check: &mut Checker<'_>) {
        let Some(date) = head.date else { return };
        let found = self.field(row, 1);
        if self.dialect.parse_date(found).ok() != Some(date) {
            let expected = format!(
                "{} as on the invoice's first row",
                self.dialect.format_date(date)
            );
            check.problem(row.line, COLUMNS[1], &expected, found);
        }
        let found = self.field(row, 2);
        if !head.customer.code.is_empty() && found != head.customer.code {
            let expected = format!("{} as on the invoice's first row", head.customer.code);
            check.problem(row.line, COLUMNS[2], &expected, found);
        }
    }

    /// The header's name of a field, or its position when it has none.
    fn column_name(&self, index: usize) -> String {
        match self.records.header().get(index).filter(|h| !h.is_empty()) {
            Some(name) => format!("{name} (field {})", index + 1),
            None => format!("field {}", index + 1),
        }
    }
}

fn empty_customer() -> InvoiceCustomer {
    InvoiceCustomer {
        code: String::new(),
        name: String::new(),
        siret: String::new(),
        vat_number: String::new(),
        address: String::new(),
        postcode: String::new(),
        city: String::new(),
        email: String::new(),
    }
}

/// A line that stands in for a row that could not be read, so the invoice
/// is still held whole with its problems.
fn placeholder_line(row: &Record) -> InvoiceLine {
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
