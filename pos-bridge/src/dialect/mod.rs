//! How one ERP writes its files: encoding, separator or column positions,
//! decimal mark, thousands separators, dates.
//!
//! ERPs differ from site to site, so nothing here is hard-wired to one file:
//! a [`Dialect`] is declared in the site file and every value is parsed
//! through it. Parsing functions return `Err(expected)` with a short text of
//! what was expected; the caller adds where (file, line, column) and what was
//! found.
//!
//! A dialect never guesses: a value that could be read two ways under the
//! declared dialect (`4.276` in a decimal-comma file, `26` as a year) is an
//! error, because a wrong guess would put a silently wrong amount on an
//! invoice.

mod date;
mod number;

use std::borrow::Cow;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::text::cp850;

/// Text encodings that ERP exports come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    #[serde(alias = "utf-8")]
    Utf8,
    /// Windows-1252 (the usual "ANSI" of French Windows ERPs).
    #[serde(alias = "windows-1252", alias = "cp1252")]
    Windows1252,
    /// ISO-8859-15 (Latin-9, has the euro sign).
    #[serde(alias = "iso-8859-15", alias = "latin9")]
    Iso885915,
    /// Code page 850, the DOS code page that old ERPs running in a console
    /// still write. encoding_rs does not have it: see [`crate::text::cp850`].
    #[serde(alias = "ibm850")]
    Cp850,
}

impl Encoding {
    /// The encoding_rs encoding for this variant.
    ///
    /// encoding_rs has no CP850, so for [`Encoding::Cp850`] this returns
    /// `encoding_rs::REPLACEMENT`, which decodes any text to U+FFFD: a caller
    /// not yet updated fails loudly instead of garbling accents. Prefer
    /// [`Encoding::decode`] and [`Encoding::encode`], which handle every
    /// variant.
    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252,
            Encoding::Iso885915 => encoding_rs::ISO_8859_15,
            Encoding::Cp850 => encoding_rs::REPLACEMENT,
        }
    }

    /// The encoding's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "windows-1252",
            Encoding::Iso885915 => "ISO-8859-15",
            Encoding::Cp850 => "CP850",
        }
    }

    /// Decodes a whole text; bytes that are not valid in the encoding become
    /// U+FFFD (callers check for it to name the field). A UTF-8 byte-order
    /// mark is removed.
    pub fn decode(self, bytes: &[u8]) -> Cow<'_, str> {
        match self {
            Encoding::Cp850 => Cow::Owned(cp850::decode(bytes)),
            Encoding::Utf8 => {
                let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
                String::from_utf8_lossy(bytes)
            }
            other => other.encoding().decode_without_bom_handling(bytes).0,
        }
    }

    /// Encodes a text; `Err` names the first character the encoding cannot
    /// write (a file for the ERP must not carry a silent `?`).
    pub fn encode(self, text: &str) -> Result<Vec<u8>, char> {
        match self {
            Encoding::Cp850 => cp850::encode(text),
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            other => {
                let (bytes, _, unmappable) = other.encoding().encode(text);
                if unmappable {
                    let bad = text
                        .chars()
                        .find(|c| other.encoding().encode(c.encode_utf8(&mut [0; 4])).2);
                    return Err(bad.unwrap_or('\u{FFFD}'));
                }
                Ok(bytes.into_owned())
            }
        }
    }

    /// Is this a single-byte code page (every byte is one character)?
    pub fn is_single_byte(self) -> bool {
        !matches!(self, Encoding::Utf8)
    }
}

/// Date layouts seen in ERP files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateFormat {
    /// `02/12/2026`
    DdMmYyyy,
    /// `02/12/26`: the year is taken in 2000–2099 (these are invoices of
    /// the current century; a pivot year would put due dates in 1970).
    DdMmYy,
    /// `2026-12-02`
    YyyyMmDd,
}

/// One column of a fixed-width export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedColumn {
    /// Column name, as the CSV header would have it (`NumFacture`...).
    pub name: String,
    /// 1-based position of the column's first character, as the ERP's
    /// documentation counts them.
    pub start: usize,
    /// Number of characters.
    pub width: usize,
}

/// A fixed-width export: columns declared by position instead of a separator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedWidth {
    /// The columns, in any order; they must not overlap.
    pub columns: Vec<FixedColumn>,
    /// Whether the first line is a title line to skip.
    #[serde(default)]
    pub title_line: bool,
}

impl FixedWidth {
    /// Characters a complete line spans (end of the last column).
    pub fn line_width(&self) -> usize {
        self.columns
            .iter()
            .map(|c| c.start + c.width - 1)
            .max()
            .unwrap_or(0)
    }

    /// Checks the declaration itself: positions start at 1, widths are not
    /// zero, columns do not overlap.
    pub fn check(&self) -> Result<(), String> {
        let mut spans: Vec<&FixedColumn> = self.columns.iter().collect();
        spans.sort_by_key(|c| c.start);
        for column in &spans {
            if column.start == 0 || column.width == 0 {
                return Err(format!(
                    "column {}: expected a start of 1 or more and a width of 1 or more, \
                     found start {} width {}",
                    column.name, column.start, column.width
                ));
            }
        }
        for pair in spans.windows(2) {
            if pair[0].start + pair[0].width > pair[1].start {
                return Err(format!(
                    "columns {} and {} overlap: {} ends at {}, {} starts at {}",
                    pair[0].name,
                    pair[1].name,
                    pair[0].name,
                    pair[0].start + pair[0].width - 1,
                    pair[1].name,
                    pair[1].start
                ));
            }
        }
        Ok(())
    }
}

/// A site's file dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialect {
    /// Text encoding of the file.
    pub encoding: Encoding,
    /// Field separator, one ASCII character. A leading `sep=X` line (written
    /// by Excel) is skipped when X is this separator and refused otherwise.
    pub separator: char,
    /// Decimal mark in amounts and quantities: `,` or `.`.
    pub decimal_mark: char,
    /// Layout of dates.
    pub date_format: DateFormat,
    /// Line end written in files Relais produces (`"\r\n"` or `"\n"`).
    pub line_end: String,
    /// Characters accepted between groups of three digits (`1 234,56`).
    /// Absent: the spaces (ordinary, no-break U+00A0, narrow no-break
    /// U+202F). The other mark (`.` with a decimal comma) must be declared
    /// on purpose: with it, `4.276` reads as 4276, not 4,276.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thousands: Option<String>,
    /// When set, the file is fixed-width: fields are cut at these positions
    /// and `separator` is not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_width: Option<FixedWidth>,
}

/// Thousands separators accepted when a dialect declares none.
pub const DEFAULT_THOUSANDS: &str = " \u{a0}\u{202f}";

impl Dialect {
    /// The usual French ERP dialect: Windows-1252, `;`, decimal comma,
    /// dd/mm/yyyy, CRLF. The sample day's export is written in it.
    pub fn french_erp() -> Dialect {
        Dialect {
            encoding: Encoding::Windows1252,
            separator: ';',
            decimal_mark: ',',
            date_format: DateFormat::DdMmYyyy,
            line_end: "\r\n".to_string(),
            thousands: None,
            fixed_width: None,
        }
    }

    /// The thousands separators this dialect accepts.
    pub fn thousands_separators(&self) -> &str {
        self.thousands.as_deref().unwrap_or(DEFAULT_THOUSANDS)
    }

    /// Parses a decimal written in this dialect: `1 234,56`, `-12,50`,
    /// `12,50-`, `(12,50)`. See [`Dialect::thousands`] for grouping.
    ///
    /// ```
    /// use pos_bridge::dialect::Dialect;
    /// let d = Dialect::french_erp();
    /// assert_eq!(d.parse_decimal("(1 234,50)").unwrap().to_string(), "-1234.50");
    /// assert!(d.parse_decimal("57.60").is_err());
    /// ```
    pub fn parse_decimal(&self, text: &str) -> Result<Decimal, &'static str> {
        number::parse(text, self.decimal_mark, self.thousands_separators())
    }

    /// Writes a decimal in this dialect with exactly `places` decimals.
    pub fn format_decimal(&self, value: Decimal, places: u32) -> String {
        let text = format!("{:.*}", places as usize, value);
        if self.decimal_mark == '.' {
            text
        } else {
            text.replace('.', &self.decimal_mark.to_string())
        }
    }

    /// Writes a decimal with as few decimals as it needs (quantities: `6`, `4,276`).
    pub fn format_quantity(&self, value: Decimal) -> String {
        self.format_decimal(value.normalize(), value.normalize().scale())
    }

    /// Parses a date in this dialect. The shape is checked digit by digit:
    /// `02/12/26` is not read as the year 26 in a dd/mm/yyyy dialect.
    pub fn parse_date(&self, text: &str) -> Result<Date, &'static str> {
        date::parse(text.trim(), self.date_format)
    }

    /// Writes a date in this dialect.
    pub fn format_date(&self, date: Date) -> String {
        match self.date_format {
            DateFormat::DdMmYyyy => date.strftime("%d/%m/%Y").to_string(),
            DateFormat::DdMmYy => date.strftime("%d/%m/%y").to_string(),
            DateFormat::YyyyMmDd => date.strftime("%Y-%m-%d").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn french_amounts_parse_exactly() {
        let d = Dialect::french_erp();
        assert_eq!(d.parse_decimal("1 234,56"), Ok(dec!(1234.56)));
        assert_eq!(d.parse_decimal("-12,50"), Ok(dec!(-12.50)));
        assert_eq!(d.parse_decimal("5,5"), Ok(dec!(5.5)));
        assert_eq!(d.parse_decimal("4,276"), Ok(dec!(4.276)));
    }

    #[test]
    fn a_decimal_point_in_a_comma_dialect_is_not_silently_accepted_as_thousands() {
        let d = Dialect::french_erp();
        assert!(d.parse_decimal("12,5,0").is_err());
        assert!(d.parse_decimal("57.60").is_err());
        assert!(d.parse_decimal("4.276").is_err());
        assert!(d.parse_decimal("1.234,56").is_err());
        assert!(d.parse_decimal("").is_err());
        assert!(d.parse_decimal("abc").is_err());
        let dotted = Dialect {
            thousands: Some(".".into()),
            ..Dialect::french_erp()
        };
        assert_eq!(dotted.parse_decimal("1.234,56"), Ok(dec!(1234.56)));
        assert!(dotted.parse_decimal("57.60").is_err());
    }

    #[test]
    fn amounts_and_quantities_are_written_in_the_dialect() {
        let d = Dialect::french_erp();
        assert_eq!(d.format_decimal(dec!(60.77), 2), "60,77");
        assert_eq!(d.format_decimal(dec!(-5), 2), "-5,00");
        assert_eq!(d.format_quantity(dec!(6)), "6");
        assert_eq!(d.format_quantity(dec!(4.2760)), "4,276");
    }

    #[test]
    fn dates_round_trip_in_every_format() {
        let day = jiff::civil::date(2026, 12, 2);
        for (format, text) in [
            (DateFormat::DdMmYyyy, "02/12/2026"),
            (DateFormat::DdMmYy, "02/12/26"),
            (DateFormat::YyyyMmDd, "2026-12-02"),
        ] {
            let d = Dialect {
                date_format: format,
                ..Dialect::french_erp()
            };
            assert_eq!(d.parse_date(text), Ok(day), "{format:?}");
            assert_eq!(d.format_date(day), text);
        }
        assert!(Dialect::french_erp().parse_date("2026-12-02").is_err());
    }

    #[test]
    fn every_encoding_decodes_and_encodes_the_same_text() {
        let text = "Échalotes à 9,60 €";
        for encoding in [Encoding::Utf8, Encoding::Windows1252, Encoding::Iso885915] {
            let bytes = encoding.encode(text).expect("encodable");
            assert_eq!(encoding.decode(&bytes), text, "{encoding:?}");
        }
        // CP850 has no euro sign: the encoder names it instead of writing `?`.
        assert_eq!(Encoding::Cp850.encode(text), Err('€'));
        let bytes = Encoding::Cp850
            .encode("Échalotes à 9,60")
            .expect("encodable");
        assert_eq!(Encoding::Cp850.decode(&bytes), "Échalotes à 9,60");
    }

    #[test]
    fn a_site_file_may_spell_encodings_the_usual_ways() {
        for (spelled, encoding) in [
            ("utf-8", Encoding::Utf8),
            ("windows-1252", Encoding::Windows1252),
            ("iso-8859-15", Encoding::Iso885915),
            ("cp850", Encoding::Cp850),
        ] {
            let json = format!("\"{spelled}\"");
            let read: Encoding = serde_json::from_str(&json).expect("known encoding");
            assert_eq!(read, encoding);
        }
    }

    #[test]
    fn overlapping_fixed_columns_are_refused_with_both_names() {
        let layout = FixedWidth {
            columns: vec![
                FixedColumn {
                    name: "NumFacture".into(),
                    start: 1,
                    width: 10,
                },
                FixedColumn {
                    name: "DateFacture".into(),
                    start: 10,
                    width: 10,
                },
            ],
            title_line: false,
        };
        let err = layout.check().expect_err("overlap");
        assert!(
            err.contains("NumFacture") && err.contains("DateFacture"),
            "{err}"
        );
    }
}
