//! French number formatting for invoices: `1 234,56 EUR`, `4,276`, `5,5 %`.
//!
//! rust_decimal only knows the English form (`1234.56`), and a French
//! accountant expects a decimal comma and grouped thousands. The thousands
//! separator is a plain space (U+0020): the PDF fonts have it, every text
//! extractor gives it back as a space, and since the renderer places each
//! amount itself there is no line to break inside a number.

use rust_decimal::{Decimal, RoundingStrategy};

/// Separator between groups of three digits.
const THOUSANDS_SEPARATOR: char = ' ';

/// An amount in euros with two decimals: `1 234,56 EUR`, `-12,00 EUR`.
///
/// Amounts with more than two decimals are rounded half away from zero, the
/// commercial rule; the ERP already sends two decimals, so this only guards.
///
/// ```
/// # use rust_decimal::Decimal;
/// # use relais::invoice::money_fmt::eur;
/// assert_eq!(eur(Decimal::new(123456, 2)), "1 234,56 EUR");
/// ```
pub fn eur(d: Decimal) -> String {
    let rounded = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    format!("{} EUR", fixed_fr(rounded, 2))
}

/// A decimal without trailing zeros: `4,276`, `6`, `5,5`, `1 250`.
///
/// Used for quantities (a weight keeps its three decimals, a count has none)
/// and VAT rates.
///
/// ```
/// # use rust_decimal::Decimal;
/// # use relais::invoice::money_fmt::decimal_fr;
/// assert_eq!(decimal_fr(Decimal::new(4276, 3)), "4,276");
/// assert_eq!(decimal_fr(Decimal::new(6000, 3)), "6");
/// ```
pub fn decimal_fr(d: Decimal) -> String {
    let normalized = d.normalize();
    fixed_fr(normalized, normalized.scale())
}

/// A VAT rate given in percent: `5,5 %`, `20 %`.
///
/// French typography puts a space before the percent sign.
pub fn percent_fr(rate: Decimal) -> String {
    format!("{} %", decimal_fr(rate))
}

/// Formats `d` with exactly `scale` decimals, French style.
fn fixed_fr(d: Decimal, scale: u32) -> String {
    let mut value = d;
    value.rescale(scale);
    let digits = value.abs().to_string();
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (digits.as_str(), None),
    };

    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    if value.is_sign_negative() && !value.is_zero() {
        out.push('-');
    }
    push_grouped(&mut out, int_part);
    if let Some(frac_part) = frac_part {
        out.push(',');
        out.push_str(frac_part);
    }
    out
}

/// Appends the ASCII digits `int_part` with a separator every three digits.
fn push_grouped(out: &mut String, int_part: &str) {
    let len = int_part.len();
    for (i, digit) in int_part.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push(THOUSANDS_SEPARATOR);
        }
        out.push(digit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_have_a_decimal_comma_and_two_decimals() {
        assert_eq!(eur(dec!(0)), "0,00 EUR");
        assert_eq!(eur(dec!(7.5)), "7,50 EUR");
        assert_eq!(eur(dec!(12)), "12,00 EUR");
        assert_eq!(eur(dec!(999.99)), "999,99 EUR");
    }

    #[test]
    fn amounts_group_thousands_with_a_space() {
        assert_eq!(eur(dec!(1000)), "1 000,00 EUR");
        assert_eq!(eur(dec!(1234.56)), "1 234,56 EUR");
        assert_eq!(eur(dec!(123456.7)), "123 456,70 EUR");
        assert_eq!(eur(dec!(1234567.89)), "1 234 567,89 EUR");
    }

    #[test]
    fn negative_amounts_have_a_leading_minus() {
        assert_eq!(eur(dec!(-1234.56)), "-1 234,56 EUR");
        assert_eq!(eur(dec!(-0.5)), "-0,50 EUR");
    }

    #[test]
    fn a_negative_zero_prints_without_sign() {
        assert_eq!(eur(dec!(-0.00)), "0,00 EUR");
        assert_eq!(eur(dec!(-0.001)), "0,00 EUR");
    }

    #[test]
    fn amounts_round_half_away_from_zero() {
        assert_eq!(eur(dec!(2.345)), "2,35 EUR");
        assert_eq!(eur(dec!(-2.345)), "-2,35 EUR");
        assert_eq!(eur(dec!(2.344)), "2,34 EUR");
    }

    #[test]
    fn quantities_drop_trailing_zeros() {
        assert_eq!(decimal_fr(dec!(4.276)), "4,276");
        assert_eq!(decimal_fr(dec!(6)), "6");
        assert_eq!(decimal_fr(dec!(6.000)), "6");
        assert_eq!(decimal_fr(dec!(2.500)), "2,5");
        assert_eq!(decimal_fr(dec!(0.125)), "0,125");
    }

    #[test]
    fn large_quantities_are_grouped_and_negatives_signed() {
        assert_eq!(decimal_fr(dec!(1250)), "1 250");
        assert_eq!(decimal_fr(dec!(-3.5)), "-3,5");
        assert_eq!(decimal_fr(dec!(-0)), "0");
    }

    #[test]
    fn rates_are_percentages_with_a_space() {
        assert_eq!(percent_fr(dec!(5.5)), "5,5 %");
        assert_eq!(percent_fr(dec!(20.00)), "20 %");
        assert_eq!(percent_fr(dec!(0)), "0 %");
    }
}
