//! From the shop's and the POS's documents to the ERP's import rows.
//!
//! Pure functions on plain data: the same document and the same site rules
//! always give the same rows, so a re-run writes the same bytes.

pub mod convert;
pub mod import;
pub mod order;
pub mod site;
pub mod ticket;

use pos_bridge::dialect::Dialect;

use import::ImportRow;

/// A document the ERP would not accept as it is, with where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{document}: field {field}: expected {expected}, found {found:?}")]
pub struct MappingError {
    /// `order 383000` or `ticket T261202-3-00001`.
    pub document: String,
    /// The field at fault.
    pub field: String,
    /// What the ERP needs.
    pub expected: String,
    /// What the document has.
    pub found: String,
}

/// Checks rows against the import file's encoding before they are queued.
pub fn check_rows(rows: &[ImportRow], dialect: &Dialect) -> Result<(), MappingError> {
    for row in rows {
        row.check_encoding(dialect).map_err(|e| MappingError {
            document: e.reference.clone(),
            field: e.field.to_string(),
            expected: "text that Windows-1252 can hold".to_string(),
            found: e.found,
        })?;
    }
    Ok(())
}
