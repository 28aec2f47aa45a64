//! The demo's reconciliation: what the sources hold, against what came out
//! at the destinations (the ERP import files on disk, the invoices the shop
//! holds), not against the store's own counters.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use pos_bridge::dialect::Dialect;
use pos_bridge::export::{ExportItem, ExportReader};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::mapping::import::read_file;

/// Figures read from the day's source files.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceFigures {
    /// Web orders in the shop.
    pub orders: usize,
    /// Their total.
    pub orders_total: Decimal,
    /// Orders whose status sends them to the ERP.
    pub orders_sendable: usize,
    /// Their total.
    pub orders_sendable_total: Decimal,
    /// Tickets published by the registers.
    pub tickets: usize,
    /// Sum of their payments.
    pub tickets_total: Decimal,
    /// Invoices in the ERP export.
    pub invoices: usize,
    /// Sum of their totals incl. VAT.
    pub invoices_total: Decimal,
    /// Invoices of the export that cannot be read as they are.
    pub invoices_unreadable: usize,
    /// Invoice number -> total incl. VAT.
    #[serde(skip)]
    pub invoice_totals: HashMap<String, Decimal>,
}

/// Figures read from the ERP import folder.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportFigures {
    /// Files read.
    pub files: usize,
    /// Distinct web orders.
    pub orders: usize,
    /// Their total (non-`REG` rows).
    pub orders_total: Decimal,
    /// Distinct tickets.
    pub tickets: usize,
    /// Their total (non-`REG` rows).
    pub tickets_total: Decimal,
    /// Distinct credit notes (amendments, `Origine` = `AVO`).
    pub credit_notes: usize,
    /// Their total (non-`REG` rows; negative for credits).
    pub credit_notes_total: Decimal,
    /// References found in more than one file: duplicates.
    pub duplicated: Vec<String>,
    /// References whose `REG` rows do not add up to their other rows.
    pub unbalanced: Vec<String>,
}

/// Reads every import file of the folder (and of its `done/` subfolders, in
/// case the ERP moved them there).
pub fn read_imports(dir: &Path, dialect: &Dialect) -> anyhow::Result<ImportFigures> {
    let mut figures = ImportFigures::default();
    // reference -> (file, goods, paid)
    let mut seen: BTreeMap<(String, String), (String, Decimal, Decimal)> = BTreeMap::new();
    for path in csv_files(dir)? {
        let name = path.display().to_string();
        let bytes = std::fs::read(&path)?;
        let rows = read_file(&bytes, dialect).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        figures.files += 1;
        let mut in_file: BTreeMap<(String, String), (Decimal, Decimal)> = BTreeMap::new();
        for row in rows {
            let entry = in_file
                .entry((row.origin.clone(), row.reference.clone()))
                .or_default();
            if row.kind == "REG" {
                entry.1 += row.amount_ttc;
            } else {
                entry.0 += row.amount_ttc;
            }
        }
        for (key, (goods, paid)) in in_file {
            if seen.contains_key(&key) {
                figures.duplicated.push(format!("{} {}", key.0, key.1));
                continue;
            }
            seen.insert(key, (name.clone(), goods, paid));
        }
    }
    for ((origin, reference), (_, goods, paid)) in &seen {
        if goods != paid {
            figures.unbalanced.push(format!("{origin} {reference}"));
        }
        match origin.as_str() {
            "WEB" => {
                figures.orders += 1;
                figures.orders_total += goods;
            }
            crate::mapping::amend::ORIGIN => {
                figures.credit_notes += 1;
                figures.credit_notes_total += goods;
            }
            _ => {
                figures.tickets += 1;
                figures.tickets_total += goods;
            }
        }
    }
    Ok(figures)
}

fn csv_files(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.file_type()?.is_dir() {
            out.extend(csv_files(&path)?);
        } else if name.ends_with(".csv") && !pos_bridge::spool::is_temporary_name(&name) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the invoice export independently of the pipeline.
pub fn read_export(
    path: &Path,
    dialect: &Dialect,
) -> anyhow::Result<(usize, HashMap<String, Decimal>)> {
    let file = std::fs::File::open(path)?;
    let mut totals = HashMap::new();
    let mut held = 0;
    for item in ExportReader::new(file, dialect)? {
        match item? {
            ExportItem::Invoice(invoice) => {
                totals.insert(invoice.number.clone(), invoice.totals().ttc);
            }
            ExportItem::Held(_) => held += 1,
        }
    }
    Ok((held, totals))
}

/// One reconciliation check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is compared.
    pub name: String,
    /// Whether it holds.
    pub ok: bool,
    /// The figures compared.
    pub detail: String,
}

/// Compares two figures.
pub fn check<T: PartialEq + std::fmt::Display>(name: &str, expected: T, found: T) -> Check {
    Check {
        name: name.to_string(),
        ok: expected == found,
        detail: format!("expected {expected}, found {found}"),
    }
}
