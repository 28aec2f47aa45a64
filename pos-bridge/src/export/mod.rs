//! Reading the ERP's invoice export: one row per invoice line, invoices one
//! after the other, in the site's [`Dialect`].
//!
//! The reader streams: it holds one invoice's rows at a time, so a file of a
//! million rows reads in constant memory. A bad row does not stop the file:
//! the invoice it belongs to comes out as [`ExportItem::Held`] with every
//! problem found (line, column, expected, found) and the next invoice goes on.
//!
//! A file whose last line a writer has not finished ends with
//! [`ExportError::is_still_being_written`]: the invoices before it came out,
//! the one in progress did not, and the caller reads the file again later.

mod assemble;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use crate::dialect::Dialect;
use crate::invoice::Invoice;
use crate::records::{Record, RecordError, RecordReader};

pub use crate::records::Sniffed;

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

/// A failure that stops the whole file: it cannot be read as an export at
/// all, or not yet.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The header row lacks a column the reader needs.
    #[error("line 1: the header has no column {column:?} (found: {found})")]
    MissingColumn {
        /// The column looked for.
        column: String,
        /// The header's columns.
        found: String,
    },
    /// The header is one field holding another separator: the dialect's
    /// separator is not the file's.
    #[error(
        "line 1: expected fields separated by {declared:?} as the site's dialect says, \
         found a header separated by {found:?}"
    )]
    Separator {
        /// The dialect's separator.
        declared: char,
        /// The separator the header seems to use.
        found: char,
    },
    /// The records could not be read (encoding, CSV, unfinished file...).
    #[error(transparent)]
    Read(#[from] RecordError),
}

impl ExportError {
    /// Is the file only not finished yet, worth reading again later?
    pub fn is_still_being_written(&self) -> bool {
        matches!(self, ExportError::Read(e) if e.is_still_being_written())
    }
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
    fn from_header(header: &[String], separator: char) -> Result<ColumnMap, ExportError> {
        let mut positions = [0usize; COLUMNS.len()];
        for (slot, name) in positions.iter_mut().zip(COLUMNS) {
            *slot = header.iter().position(|h| h == name).ok_or_else(|| {
                misread_separator(header, separator).unwrap_or_else(|| ExportError::MissingColumn {
                    column: name.to_string(),
                    found: header.join(", "),
                })
            })?;
        }
        let corrects = header.iter().position(|h| h == "FactureOrigine");
        Ok(ColumnMap {
            required: positions,
            corrects,
        })
    }
}

/// A header read as one field that holds another usual separator: the file
/// was written with that one.
fn misread_separator(header: &[String], declared: char) -> Option<ExportError> {
    let [only] = header else { return None };
    [';', ',', '\t', '|']
        .into_iter()
        .filter(|c| *c != declared)
        .max_by_key(|c| only.matches(*c).count())
        .filter(|c| only.contains(*c))
        .map(|found| ExportError::Separator { declared, found })
}

/// Streams the invoices of an export. Build it with [`ExportReader::new`].
pub struct ExportReader<R: Read> {
    records: RecordReader<R>,
    columns: ColumnMap,
    dialect: Dialect,
    carry: Option<Record>,
    seen: HashSet<String>,
}

impl<R: Read> ExportReader<R> {
    /// Reads the header and prepares to stream invoices.
    ///
    /// ```
    /// use pos_bridge::dialect::Dialect;
    /// use pos_bridge::export::ExportReader;
    /// let err = ExportReader::new(&b"NumFacture,DateFacture\n"[..], &Dialect::french_erp())
    ///     .err()
    ///     .expect("wrong separator");
    /// assert!(err.to_string().contains("separated by ','"));
    /// ```
    pub fn new(source: R, dialect: &Dialect) -> Result<ExportReader<Sniffed<R>>, ExportError> {
        let records = RecordReader::new(source, dialect)?;
        let columns = ColumnMap::from_header(records.header(), dialect.separator)?;
        Ok(ExportReader {
            records,
            columns,
            dialect: dialect.clone(),
            carry: None,
            seen: HashSet::new(),
        })
    }

    fn next_row(&mut self) -> Option<Result<Record, ExportError>> {
        if let Some(row) = self.carry.take() {
            return Some(Ok(row));
        }
        Some(self.records.next()?.map_err(ExportError::from))
    }

    fn field<'r>(&self, row: &'r Record, column: usize) -> &'r str {
        row.get(self.columns.required[column]).trim()
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
                // The invoice being gathered is dropped with the error: its
                // rows may not all be there.
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
