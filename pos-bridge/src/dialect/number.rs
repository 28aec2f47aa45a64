//! Decimal numbers as ERPs write them.
//!
//! Three ways of writing a negative amount are in use and none is ambiguous,
//! so all are read: `-12,50`, `12,50-` (accounting exports) and `(12,50)`
//! (spreadsheets). Thousands separators are only accepted between groups of
//! exactly three digits, so a value written with the other decimal mark is
//! an error rather than a number a thousand times too large.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Parses `text` with the given decimal mark and accepted thousands
/// separators. `Err` says what was expected.
pub(super) fn parse(
    text: &str,
    decimal_mark: char,
    thousands: &str,
) -> Result<Decimal, &'static str> {
    let expected = if decimal_mark == ',' {
        "a number with a decimal comma"
    } else {
        "a number with a decimal point"
    };
    let (negative, body) = split_sign(text.trim()).ok_or(expected)?;
    let (integer, fraction) = match body.split_once(decimal_mark) {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (body, None),
    };
    let integer = ungroup(integer, thousands).ok_or(expected)?;
    let mut plain = String::with_capacity(body.len() + 2);
    if negative {
        plain.push('-');
    }
    plain.push_str(if integer.is_empty() { "0" } else { &integer });
    if let Some(fraction) = fraction {
        let digits_only = fraction.bytes().all(|b| b.is_ascii_digit());
        if fraction.is_empty() || !digits_only {
            return Err(expected);
        }
        plain.push('.');
        plain.push_str(fraction);
    } else if integer.is_empty() {
        return Err(expected);
    }
    Decimal::from_str(&plain).map_err(|_| expected)
}

/// Splits the sign off: `(x)`, `x-`, `-x` or `+x`. `None` when more than one
/// form is used (`-(12,50)`) or nothing is left.
fn split_sign(text: &str) -> Option<(bool, &str)> {
    let (negative, body) = if let Some(inner) = text.strip_prefix('(') {
        (true, inner.strip_suffix(')')?)
    } else if let Some(inner) = text.strip_suffix('-') {
        (true, inner)
    } else if let Some(inner) = text.strip_prefix('-') {
        (true, inner)
    } else {
        (false, text.strip_prefix('+').unwrap_or(text))
    };
    let body = body.trim();
    let signed_again = body.starts_with(['-', '+', '(']) || body.ends_with(['-', ')']);
    (!body.is_empty() && !signed_again).then_some((negative, body))
}

/// The integer part's digits without thousands separators, if it is digits
/// in groups of three after a first group of one to three, all separated by
/// the same separator.
fn ungroup(integer: &str, thousands: &str) -> Option<String> {
    let separator = integer.chars().find(|c| !c.is_ascii_digit());
    let Some(separator) = separator else {
        return Some(integer.to_string());
    };
    if !thousands.contains(separator) {
        return None;
    }
    let mut groups = integer.split(separator);
    let head = groups.next()?;
    if head.is_empty() || head.len() > 3 || !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = head.to_string();
    for group in groups {
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.push_str(group);
    }
    Some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const SPACES: &str = " \u{a0}\u{202f}";

    #[test]
    fn the_three_negative_forms_read_the_same() {
        for text in ["-12,50", "12,50-", "(12,50)", " ( 12,50 ) "] {
            assert_eq!(parse(text, ',', SPACES), Ok(dec!(-12.50)), "{text}");
        }
        assert_eq!(parse("+12,50", ',', SPACES), Ok(dec!(12.50)));
    }

    #[test]
    fn two_negative_forms_at_once_are_refused() {
        for text in [
            "-(12,50)", "-12,50-", "(12,50)-", "--12", "(12,50", "12,50)",
        ] {
            assert!(parse(text, ',', SPACES).is_err(), "{text}");
        }
    }

    #[test]
    fn every_kind_of_space_groups_thousands() {
        for text in [
            "1 234 567,89",
            "1\u{a0}234\u{a0}567,89",
            "1\u{202f}234\u{202f}567,89",
        ] {
            assert_eq!(parse(text, ',', SPACES), Ok(dec!(1234567.89)), "{text:?}");
        }
        assert_eq!(parse("1.234.567,89", ',', "."), Ok(dec!(1234567.89)));
        assert_eq!(parse("1,234,567.89", '.', ","), Ok(dec!(1234567.89)));
    }

    #[test]
    fn badly_grouped_digits_are_refused() {
        for text in [
            "1 23,45",
            "1234 567,89",
            "1 234.567,89",
            "1  234,5",
            "12 34",
        ] {
            assert!(parse(text, ',', " .").is_err(), "{text:?}");
        }
        assert!(parse("1.234", ',', SPACES).is_err(), "undeclared dot");
    }

    #[test]
    fn a_bare_fraction_or_integer_reads() {
        assert_eq!(parse(",50", ',', SPACES), Ok(dec!(0.50)));
        assert_eq!(parse("12", ',', SPACES), Ok(dec!(12)));
        assert_eq!(parse("12.5", '.', SPACES), Ok(dec!(12.5)));
        for text in [",", "12,", "-", "()", "1e5", "0x10", "12,5a"] {
            assert!(parse(text, ',', SPACES).is_err(), "{text:?}");
        }
    }
}
