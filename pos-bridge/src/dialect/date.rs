//! Dates read digit by digit.
//!
//! A general date parser accepts `02/12/26` as the year 26 under a
//! dd/mm/yyyy pattern; here every part has a fixed number of digits, so a
//! file written with another layout than the declared one is an error.

use jiff::civil::Date;

use super::DateFormat;

/// Parses `text` in `format`; `Err` says what was expected.
pub(super) fn parse(text: &str, format: DateFormat) -> Result<Date, &'static str> {
    let (expected, separator, widths) = match format {
        DateFormat::DdMmYyyy => ("a date dd/mm/yyyy", '/', [2, 2, 4]),
        DateFormat::DdMmYy => ("a date dd/mm/yy", '/', [2, 2, 2]),
        DateFormat::YyyyMmDd => ("a date yyyy-mm-dd", '-', [4, 2, 2]),
    };
    let mut parts = [0i16; 3];
    let mut pieces = text.split(separator);
    for (slot, width) in parts.iter_mut().zip(widths) {
        let piece = pieces.next().ok_or(expected)?;
        if piece.len() != width || !piece.bytes().all(|b| b.is_ascii_digit()) {
            return Err(expected);
        }
        *slot = piece.parse().map_err(|_| expected)?;
    }
    if pieces.next().is_some() {
        return Err(expected);
    }
    let (year, month, day) = match format {
        DateFormat::DdMmYyyy => (parts[2], parts[1], parts[0]),
        DateFormat::DdMmYy => (2000 + parts[2], parts[1], parts[0]),
        DateFormat::YyyyMmDd => (parts[0], parts[1], parts[2]),
    };
    let (month, day) = (i8::try_from(month), i8::try_from(day));
    match (month, day) {
        (Ok(month), Ok(day)) => Date::new(year, month, day).map_err(|_| expected),
        _ => Err(expected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layout_refuses_the_others() {
        let day = jiff::civil::date(2026, 12, 2);
        assert_eq!(parse("02/12/2026", DateFormat::DdMmYyyy), Ok(day));
        assert_eq!(parse("02/12/26", DateFormat::DdMmYy), Ok(day));
        assert_eq!(parse("2026-12-02", DateFormat::YyyyMmDd), Ok(day));
        assert!(parse("02/12/26", DateFormat::DdMmYyyy).is_err());
        assert!(parse("02/12/2026", DateFormat::DdMmYy).is_err());
        assert!(parse("02-12-2026", DateFormat::YyyyMmDd).is_err());
    }

    #[test]
    fn impossible_days_and_stray_text_are_refused() {
        for text in [
            "31/02/2026",
            "00/12/2026",
            "02/13/2026",
            "2/12/2026",
            "02/12/2026 10:00",
        ] {
            assert!(parse(text, DateFormat::DdMmYyyy).is_err(), "{text}");
        }
        assert!(parse("2026-12-02-01", DateFormat::YyyyMmDd).is_err());
    }
}
