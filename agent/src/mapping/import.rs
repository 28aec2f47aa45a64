//! The ERP's order import file: the default format Relais writes.
//!
//! Windows-1252, `;`, CRLF, decimal comma, a header row, one row per line of
//! an order or ticket. `TypeLigne` says what a row is: `ART` an article,
//! `PORT` shipping, `FRAIS` a fee, `REM` a discount or coupon, `REG` a
//! payment, `AVO` an amount credited without detail. For every order the
//! `MontantTTC` of its non-`REG` rows add up to the order's total, and so
//! do its `REG` rows. Credit notes (see `amend`) travel in the same files
//! with `Origine` = `AVO`.

use jiff::civil::Date;
use pos_bridge::dialect::Dialect;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The columns, in file order.
pub const COLUMNS: [&str; 14] = [
    "TypeLigne",
    "RefExterne",
    "Origine",
    "DateCommande",
    "CodeClient",
    "CodeArticle",
    "Libelle",
    "Qte",
    "PUHT",
    "TauxTVA",
    "MontantHT",
    "MontantTVA",
    "MontantTTC",
    "Info",
];

/// What a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowType {
    /// An article sold.
    Art,
    /// Shipping.
    Port,
    /// A fee (can be negative).
    Frais,
    /// A discount or coupon (negative).
    Rem,
    /// A payment (negative on a credit note: money paid back).
    Reg,
    /// An amount credited without line detail (a refund the shop recorded
    /// as an amount only); its VAT split is left to the ERP.
    Avo,
}

impl RowType {
    /// The code written in `TypeLigne`.
    pub fn code(self) -> &'static str {
        match self {
            RowType::Art => "ART",
            RowType::Port => "PORT",
            RowType::Frais => "FRAIS",
            RowType::Rem => "REM",
            RowType::Reg => "REG",
            RowType::Avo => "AVO",
        }
    }
}

/// One import row. Amount fields are empty on `REG` rows except `MontantTTC`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    /// `TypeLigne`.
    pub kind: RowType,
    /// `RefExterne`: shop order number or ticket number.
    pub reference: String,
    /// `Origine`: `WEB` or `CPT`.
    pub origin: String,
    /// `DateCommande`, Paris date.
    pub date: Date,
    /// `CodeClient`.
    pub customer: String,
    /// `CodeArticle` (or payment code on `REG` rows).
    pub article: String,
    /// `Libelle`.
    pub label: String,
    /// `Qte`.
    pub quantity: Option<Decimal>,
    /// `PUHT`.
    pub unit_price_ht: Option<Decimal>,
    /// `TauxTVA`.
    pub vat_rate: Option<Decimal>,
    /// `MontantHT`.
    pub amount_ht: Option<Decimal>,
    /// `MontantTVA`.
    pub amount_vat: Option<Decimal>,
    /// `MontantTTC`.
    pub amount_ttc: Decimal,
    /// `Info`: free text (coupon code, transaction id, guest e-mail...).
    pub info: String,
}

/// A row that cannot be written in the file's encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reference}: field {field}: {found:?} has a character that Windows-1252 cannot hold")]
pub struct EncodingError {
    /// Order or ticket.
    pub reference: String,
    /// Column.
    pub field: &'static str,
    /// Text.
    pub found: String,
}

impl ImportRow {
    fn fields(&self, dialect: &Dialect) -> [String; 14] {
        let amount =
            |v: Option<Decimal>| v.map(|d| dialect.format_decimal(d, 2)).unwrap_or_default();
        let plain = |v: Option<Decimal>| v.map(|d| dialect.format_quantity(d)).unwrap_or_default();
        let price = |v: Option<Decimal>| {
            v.map(|d| dialect.format_decimal(d, d.normalize().scale().max(2)))
                .unwrap_or_default()
        };
        [
            self.kind.code().to_string(),
            self.reference.clone(),
            self.origin.clone(),
            dialect.format_date(self.date),
            self.customer.clone(),
            self.article.clone(),
            self.label.clone(),
            plain(self.quantity),
            price(self.unit_price_ht),
            plain(self.vat_rate),
            amount(self.amount_ht),
            amount(self.amount_vat),
            dialect.format_decimal(self.amount_ttc, 2),
            self.info.clone(),
        ]
    }

    /// Checks that every text field can be written in the file's encoding,
    /// so the ERP never receives a replaced character.
    pub fn check_encoding(&self, dialect: &Dialect) -> Result<(), EncodingError> {
        for (field, text) in self.texts() {
            if dialect.encoding.encode(text).is_err() {
                let reference = self.reference.clone();
                return Err(EncodingError {
                    reference,
                    field,
                    found: text.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The text columns, by their name in the file.
    pub fn texts(&self) -> [(&'static str, &str); 5] {
        [
            ("RefExterne", &self.reference),
            ("CodeClient", &self.customer),
            ("CodeArticle", &self.article),
            ("Libelle", &self.label),
            ("Info", &self.info),
        ]
    }
}

/// Renders rows as the bytes of an import file, header first. Rows must
/// have passed [`ImportRow::check_encoding`].
pub fn render_file<'a>(
    rows: impl IntoIterator<Item = &'a ImportRow>,
    dialect: &Dialect,
) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(dialect.separator as u8)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; the results are checked anyway.
    let mut ok = writer.write_record(COLUMNS).is_ok();
    for row in rows {
        ok &= writer.write_record(row.fields(dialect)).is_ok();
    }
    debug_assert!(ok, "writing CSV to memory failed");
    let text = String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default();
    let text = if dialect.line_end == "\n" {
        text
    } else {
        text.replace('\n', &dialect.line_end)
    };
    // Every text was checked by `check_encoding`; a character that still
    // cannot be written (a row that skipped the check) becomes `?`, never
    // a silent byte of another code page.
    match dialect.encoding.encode(&text) {
        Ok(bytes) => bytes,
        Err(_) => {
            let safe: String = text
                .chars()
                .map(|c| {
                    if dialect.encoding.encode(c.encode_utf8(&mut [0; 4])).is_ok() {
                        c
                    } else {
                        '?'
                    }
                })
                .collect();
            dialect.encoding.encode(&safe).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn row(label: &str) -> ImportRow {
        ImportRow {
            kind: RowType::Art,
            reference: "383124".into(),
            origin: "WEB".into(),
            date: jiff::civil::date(2026, 12, 2),
            customer: "C004100".into(),
            article: "FL-ECHAL-5K".into(),
            label: label.into(),
            quantity: Some(dec!(6)),
            unit_price_ht: Some(dec!(16.20)),
            vat_rate: Some(dec!(5.5)),
            amount_ht: Some(dec!(97.20)),
            amount_vat: Some(dec!(5.35)),
            amount_ttc: dec!(102.55),
            info: String::new(),
        }
    }

    #[test]
    fn the_default_file_is_windows_1252_semicolon_crlf_decimal_comma() {
        let bytes = render_file(&[row("Échalotes; longues")], &Dialect::french_erp());
        let text = encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].starts_with("TypeLigne;RefExterne;Origine;DateCommande;"));
        assert_eq!(
            lines[1],
            "ART;383124;WEB;02/12/2026;C004100;FL-ECHAL-5K;\"Échalotes; longues\";6;16,20;5,5;\
             97,20;5,35;102,55;"
        );
        assert_eq!(
            bytes.iter().filter(|&&b| b == 0xC9).count(),
            1,
            "É is one byte"
        );
    }

    #[test]
    fn a_character_outside_windows_1252_is_refused_with_the_field() {
        let err = row("Poulet 鶏")
            .check_encoding(&Dialect::french_erp())
            .expect_err("refused");
        assert_eq!(err.field, "Libelle");
        assert!(row("Crème brûlée €")
            .check_encoding(&Dialect::french_erp())
            .is_ok());
    }
}

/// One row read back from an import file (for reconciliation and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRow {
    /// 1-based line in the file.
    pub line: u64,
    /// `TypeLigne` as written.
    pub kind: String,
    /// `RefExterne`.
    pub reference: String,
    /// `Origine`.
    pub origin: String,
    /// `MontantTTC`.
    pub amount_ttc: Decimal,
}

/// Reads an import file written by [`render_file`] back into rows.
pub fn read_file(bytes: &[u8], dialect: &Dialect) -> Result<Vec<ReadRow>, String> {
    let text = dialect.encoding.decode(bytes).into_owned();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(dialect.separator as u8)
        .from_reader(pos_bridge::line_ends::NormalizeLineEnds::new(
            text.as_bytes(),
        ));
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").to_string();
        let amount_ttc = dialect
            .parse_decimal(&field(12))
            .map_err(|expected| format!("line {line}: MontantTTC: expected {expected}"))?;
        rows.push(ReadRow {
            line,
            kind: field(0),
            reference: field(1),
            origin: field(2),
            amount_ttc,
        });
    }
    Ok(rows)
}
