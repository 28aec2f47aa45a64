//! `relais invoices check`: read an export with a site's dialect and say,
//! per invoice, what it holds and what is wrong, with line numbers. Used to
//! set a site up and by support, on files, without the daemon.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use pos_bridge::dialect::Dialect;
use pos_bridge::export::{ExportItem, ExportReader};
use rust_decimal::Decimal;
use serde::Serialize;

/// One invoice as the check saw it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedInvoice {
    /// Invoice number.
    pub number: String,
    /// ERP customer code.
    pub customer: String,
    /// First line of its rows in the file.
    pub first_line: u64,
    /// Number of rows.
    pub lines: usize,
    /// Totals, when every row was readable.
    pub ht: Option<Decimal>,
    /// VAT total.
    pub vat: Option<Decimal>,
    /// Total incl. VAT.
    pub ttc: Option<Decimal>,
    /// True for a credit note (negative total).
    pub credit_note: bool,
    /// Every problem, with line and column.
    pub problems: Vec<String>,
}

/// The whole file.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The file read.
    pub file: String,
    /// Its invoices in file order.
    pub invoices: Vec<CheckedInvoice>,
    /// A problem that stopped the reading, if any.
    pub fatal: Option<String>,
}

impl CheckReport {
    /// True if anything is wrong.
    pub fn problems_found(&self) -> bool {
        self.fatal.is_some() || self.invoices.iter().any(|i| !i.problems.is_empty())
    }
}

/// Reads `file` with the dialect in `profile` (or the French ERP dialect).
pub fn check_file(file: &Path, profile: Option<&Path>) -> anyhow::Result<CheckReport> {
    let dialect = match profile {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the profile {}", path.display()))?;
            toml::from_str::<Dialect>(&text)
                .with_context(|| format!("profile {}", path.display()))?
        }
        None => Dialect::french_erp(),
    };
    let source =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut report = CheckReport {
        file: file.display().to_string(),
        invoices: Vec::new(),
        fatal: None,
    };
    let reader = match ExportReader::new(source, &dialect) {
        Ok(reader) => reader,
        Err(e) => {
            report.fatal = Some(e.to_string());
            return Ok(report);
        }
    };
    for item in reader {
        match item {
            Ok(ExportItem::Invoice(invoice)) => {
                let totals = invoice.totals();
                report.invoices.push(CheckedInvoice {
                    first_line: invoice.lines.first().map_or(0, |l| l.source_line),
                    number: invoice.number.clone(),
                    customer: invoice.customer.code.clone(),
                    lines: invoice.lines.len(),
                    credit_note: invoice.is_credit_note(),
                    ht: Some(totals.ht),
                    vat: Some(totals.vat),
                    ttc: Some(totals.ttc),
                    problems: Vec::new(),
                });
            }
            Ok(ExportItem::Held(held)) => report.invoices.push(CheckedInvoice {
                number: held.number.clone(),
                customer: String::new(),
                first_line: held.first_line,
                lines: held.rows,
                ht: None,
                vat: None,
                ttc: None,
                credit_note: false,
                problems: held.problems.iter().map(ToString::to_string).collect(),
            }),
            Err(e) => {
                report.fatal = Some(e.to_string());
                break;
            }
        }
    }
    Ok(report)
}

/// Text rendering of a report.
pub fn render(report: &CheckReport) -> String {
    let mut out = format!("{}\n", report.file);
    let amount = |d: Option<Decimal>| d.map_or("-".to_string(), |d| d.to_string());
    for i in &report.invoices {
        let kind = if i.credit_note {
            "credit note"
        } else {
            "invoice"
        };
        let _ = writeln!(
            out,
            "  {kind} {} customer {} line {}: {} rows, HT {} VAT {} TTC {}",
            i.number,
            i.customer,
            i.first_line,
            i.lines,
            amount(i.ht),
            amount(i.vat),
            amount(i.ttc)
        );
        for p in &i.problems {
            let _ = writeln!(out, "    problem: {p}");
        }
    }
    if let Some(fatal) = &report.fatal {
        let _ = writeln!(out, "  stopped: {fatal}");
    }
    let held = report
        .invoices
        .iter()
        .filter(|i| !i.problems.is_empty())
        .count();
    let _ = writeln!(
        out,
        "  {} invoices, {held} with problems",
        report.invoices.len()
    );
    out
}
