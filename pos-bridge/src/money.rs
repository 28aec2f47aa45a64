//! Exact money: decimals read from their text, rounded as French documents
//! round.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer};

/// Rounds half up (away from zero) to the cent, as registers and ERPs do.
pub fn round_cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Reads a decimal from a JSON string (`"9.85"`) or number (`4.276`) through
/// its text, never through a float computation. Use with
/// `#[serde(deserialize_with = "pos_bridge::money::decimal")]`.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    parse_json_decimal(&value).map_err(serde::de::Error::custom)
}

/// Like [`decimal`], for fields that may be absent, `null` or `""`.
pub fn optional_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => parse_json_decimal(&v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn parse_json_decimal(value: &serde_json::Value) -> Result<Decimal, String> {
    let text = match value {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        other => return Err(format!("expected a decimal number, found {other}")),
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| format!("expected a decimal number, found {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rounding_is_half_up_to_the_cent() {
        assert_eq!(round_cents(dec!(10.385)), dec!(10.39));
        assert_eq!(round_cents(dec!(-10.385)), dec!(-10.39));
        assert_eq!(round_cents(dec!(2.0845)), dec!(2.08));
    }

    #[test]
    fn json_numbers_keep_their_decimal_text() {
        let v: serde_json::Value = serde_json::from_str("4.276").expect("json");
        assert_eq!(parse_json_decimal(&v), Ok(dec!(4.276)));
        let v: serde_json::Value = serde_json::from_str("\"-12.50\"").expect("json");
        assert_eq!(parse_json_decimal(&v), Ok(dec!(-12.50)));
    }
}
