//! From the shop's and the POS's documents to the ERP's import rows.
//!
//! Pure functions on plain data: the same document and the same site rules
//! always give the same rows, so a re-run writes the same bytes.

pub mod amend;
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

/// Checks rows before they are queued, by the rules the site declares for
/// its ERP: every text in the file's encoding, the required columns filled,
/// no text longer than the ERP takes. What fails here is quarantined with
/// the column at fault instead of being rejected by the ERP later.
pub fn check_rows(
    rows: &[ImportRow],
    dialect: &Dialect,
    rules: &site::SiteRules,
) -> Result<(), MappingError> {
    for (n, row) in rows.iter().enumerate() {
        row.check_encoding(dialect).map_err(|e| MappingError {
            document: e.reference.clone(),
            field: e.field.to_string(),
            expected: format!("text that {} can hold", dialect.encoding.name()),
            found: e.found,
        })?;
        for (column, text) in row.texts() {
            let fault = |expected: String| MappingError {
                document: row.reference.clone(),
                field: format!(
                    "{column} (row {} of {}, {})",
                    n + 1,
                    rows.len(),
                    row.kind.code()
                ),
                expected,
                found: text.to_string(),
            };
            if text.trim().is_empty() && rules.required_columns.iter().any(|c| c == column) {
                return Err(fault("a value (the ERP refuses it empty)".to_string()));
            }
            let limit = rules.max_lengths.get(column).copied().unwrap_or(usize::MAX);
            if text.chars().count() > limit {
                return Err(fault(format!(
                    "at most {limit} characters (the ERP's limit)"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use import::RowType;

    fn row(article: &str, label: &str) -> ImportRow {
        ImportRow {
            kind: RowType::Art,
            reference: "383124".into(),
            origin: "WEB".into(),
            date: jiff::civil::date(2026, 12, 2),
            customer: "C004100".into(),
            article: article.into(),
            label: label.into(),
            quantity: None,
            unit_price_ht: None,
            vat_rate: None,
            amount_ht: None,
            amount_vat: None,
            amount_ttc: Default::default(),
            info: String::new(),
        }
    }

    #[test]
    fn an_empty_required_column_or_a_text_too_long_is_caught_before_sending() {
        let rules = site::SiteRules::default();
        let dialect = Dialect::french_erp();
        assert!(check_rows(&[row("FL-ECHAL-5K", "Échalotes")], &dialect, &rules).is_ok());
        let err = check_rows(&[row("", "Échalotes")], &dialect, &rules).expect_err("empty");
        assert!(err.field.starts_with("CodeArticle"), "{err}");
        let long = "x".repeat(81);
        let err = check_rows(&[row("A", &long)], &dialect, &rules).expect_err("long");
        assert!(err.to_string().contains("at most 80 characters"), "{err}");
        let err = check_rows(&[row("A", "鶏")], &dialect, &rules).expect_err("encoding");
        assert!(err.to_string().contains("windows-1252"), "{err}");
    }
}
