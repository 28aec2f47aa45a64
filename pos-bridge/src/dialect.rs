//! How one ERP writes its CSV files: encoding, separator, decimal mark, dates.
//!
//! ERPs differ from site to site, so nothing here is hard-wired to one file:
//! a [`Dialect`] is declared in the site file and every value is parsed
//! through it. Parsing functions return `Err(expected)` with a short text of
//! what was expected; the caller adds where (file, line, column) and what was
//! found.

use std::str::FromStr;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Text encodings that ERP exports come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// Windows-1252 (the usual "ANSI" of French Windows ERPs).
    Windows1252,
    /// ISO-8859-15 (Latin-9, has the euro sign).
    Iso885915,
}

impl Encoding {
    /// The encoding_rs encoding for this variant.
    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252,
            Encoding::Iso885915 => encoding_rs::ISO_8859_15,
        }
    }
}

/// A thousands separator that is the other mark (`.` in `1.234,56`) is only
/// accepted between groups of exactly three digits, so `57.60` in a
/// decimal-comma file is an error, not 5760.
fn grouping_is_valid(text: &str, decimal_mark: char) -> bool {
    let thousands = if decimal_mark == ',' { '.' } else { ',' };
    let integer = text.split(decimal_mark).next().unwrap_or("");
    if text.matches(decimal_mark).count() > 1 {
        return false;
    }
    let mut groups = integer.split(thousands);
    let _head = groups.next();
    groups.all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()))
}

/// Date layouts seen in ERP files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateFormat {
    /// `02/12/2026`
    DdMmYyyy,
    /// `2026-12-02`
    YyyyMmDd,
}

/// A site's CSV dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialect {
    /// Text encoding of the file.
    pub encoding: Encoding,
    /// Field separator, one ASCII character.
    pub separator: char,
    /// Decimal mark in amounts and quantities: `,` or `.`.
    pub decimal_mark: char,
    /// Layout of dates.
    pub date_format: DateFormat,
    /// Line end written in files Relais produces (`"\r\n"` or `"\n"`).
    pub line_end: String,
}

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
        }
    }

    /// Parses a decimal written in this dialect: `1234,56`, `-12,50`.
    /// Spaces (also no-break ones) used as thousands separators are ignored.
    pub fn parse_decimal(&self, text: &str) -> Result<Decimal, &'static str> {
        let thousands = if self.decimal_mark == ',' { '.' } else { ',' };
        let cleaned: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}') && *c != thousands)
            .map(|c| if c == self.decimal_mark { '.' } else { c })
            .collect();
        if cleaned.is_empty() {
            return Err("a number");
        }
        if !grouping_is_valid(text.trim(), self.decimal_mark) {
            return Err(if self.decimal_mark == ',' {
                "a number with a decimal comma"
            } else {
                "a number with a decimal point"
            });
        }
        Decimal::from_str(&cleaned).map_err(|_| {
            if self.decimal_mark == ',' {
                "a number with a decimal comma"
            } else {
                "a number with a decimal point"
            }
        })
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

    /// Parses a date in this dialect.
    pub fn parse_date(&self, text: &str) -> Result<Date, &'static str> {
        let text = text.trim();
        let parsed = match self.date_format {
            DateFormat::DdMmYyyy => Date::strptime("%d/%m/%Y", text),
            DateFormat::YyyyMmDd => Date::strptime("%Y-%m-%d", text),
        };
        parsed.map_err(|_| match self.date_format {
            DateFormat::DdMmYyyy => "a date dd/mm/yyyy",
            DateFormat::YyyyMmDd => "a date yyyy-mm-dd",
        })
    }

    /// Writes a date in this dialect.
    pub fn format_date(&self, date: Date) -> String {
        match self.date_format {
            DateFormat::DdMmYyyy => date.strftime("%d/%m/%Y").to_string(),
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
        assert_eq!(d.parse_decimal("1.234,56"), Ok(dec!(1234.56)));
        assert!(d.parse_decimal("").is_err());
        assert!(d.parse_decimal("abc").is_err());
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
    fn dates_round_trip() {
        let d = Dialect::french_erp();
        let date = d.parse_date("02/12/2026").expect("valid date");
        assert_eq!(date, jiff::civil::date(2026, 12, 2));
        assert_eq!(d.format_date(date), "02/12/2026");
        assert!(d.parse_date("2026-12-02").is_err());
    }
}
