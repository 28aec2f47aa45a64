//! A counter ticket as the POS registers publish it, and its checks.
//!
//! The payload is the registers' own JSON (one object per ticket). Quantities
//! arrive as JSON numbers (a weight like `4.276`); they are read through
//! their decimal text so no binary rounding creeps in. Each line's amount
//! including VAT is rounded half up to the cent, as the register prints it,
//! and the payments must add up to the sum of those amounts.

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::round_cents;

/// Version of the ticket payload this code reads. Payloads without a `v`
/// field are version 1 (the registers in service today).
pub const PAYLOAD_VERSION: u32 = 1;

/// One counter sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Payload version (absent means 1).
    #[serde(default = "default_version")]
    pub v: u32,
    /// Ticket number, unique across registers: the dedup key.
    pub ticket: String,
    /// Register that sold it, e.g. `CAISSE-2`.
    pub register: String,
    /// Operator initials.
    #[serde(default)]
    pub operator: String,
    /// Time of sale, UTC.
    pub at: Timestamp,
    /// ERP customer code.
    pub customer: String,
    /// Lines sold.
    pub lines: Vec<TicketLine>,
    /// Payments received.
    pub payments: Vec<TicketPayment>,
}

fn default_version() -> u32 {
    1
}

/// One line of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketLine {
    /// Article code (the ERP's, shared with the shop's SKU).
    pub sku: String,
    /// Designation as printed.
    pub label: String,
    /// Quantity or weight.
    #[serde(deserialize_with = "crate::money::decimal")]
    pub qty: Decimal,
    /// Unit price excluding VAT.
    #[serde(deserialize_with = "crate::money::decimal")]
    pub unit_price_ht: Decimal,
    /// VAT rate in percent.
    #[serde(deserialize_with = "crate::money::decimal")]
    pub vat_rate: Decimal,
}

/// One payment on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPayment {
    /// `CB`, `especes`, `cheque`, `compte`...
    pub method: String,
    /// Amount paid.
    #[serde(deserialize_with = "crate::money::decimal")]
    pub amount: Decimal,
}

/// What is wrong with a ticket, naming the ticket and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The payload is not a ticket at all.
    #[error("ticket payload is not valid: {0}")]
    Malformed(String),
    /// A newer payload version than this code reads.
    #[error("ticket {ticket}: field v: expected version {PAYLOAD_VERSION}, found {found}")]
    Version { ticket: String, found: u32 },
    /// A field has a value that cannot be right.
    #[error("ticket {ticket}: field {field}: expected {expected}, found {found}")]
    Field {
        ticket: String,
        field: String,
        expected: String,
        found: String,
    },
}

impl Ticket {
    /// Parses and checks a payload as published by a register.
    pub fn parse(payload: &[u8]) -> Result<Ticket, TicketError> {
        let ticket: Ticket = serde_json::from_slice(payload)
            .map_err(|e| TicketError::Malformed(malformed(payload, &e)))?;
        ticket.check()?;
        Ok(ticket)
    }

    /// Amount including VAT of one line, rounded half up to the cent.
    pub fn line_ttc(line: &TicketLine) -> Decimal {
        let rate = Decimal::ONE + line.vat_rate / Decimal::ONE_HUNDRED;
        round_cents(line.qty * line.unit_price_ht * rate)
    }

    /// Amount excluding VAT of one line, rounded half up to the cent.
    pub fn line_ht(line: &TicketLine) -> Decimal {
        round_cents(line.qty * line.unit_price_ht)
    }

    /// Sum of the lines including VAT.
    pub fn total_ttc(&self) -> Decimal {
        self.lines.iter().map(Ticket::line_ttc).sum()
    }

    /// Sum of the payments.
    pub fn total_paid(&self) -> Decimal {
        self.payments.iter().map(|p| p.amount).sum()
    }

    fn field_error(&self, field: String, expected: &str, found: String) -> TicketError {
        TicketError::Field {
            ticket: self.ticket.clone(),
            field,
            expected: expected.to_string(),
            found,
        }
    }

    /// Checks what the ERP will rely on.
    pub fn check(&self) -> Result<(), TicketError> {
        if self.v != PAYLOAD_VERSION {
            return Err(TicketError::Version {
                ticket: self.ticket.clone(),
                found: self.v,
            });
        }
        let required = [("ticket", &self.ticket), ("register", &self.register)];
        for (field, value) in required.into_iter().chain([("customer", &self.customer)]) {
            if value.trim().is_empty() {
                return Err(self.field_error(field.into(), "a value", "nothing".into()));
            }
        }
        if self.lines.is_empty() {
            return Err(self.field_error("lines".into(), "at least one line", "none".into()));
        }
        for (i, line) in self.lines.iter().enumerate() {
            self.check_line(i, line)?;
        }
        if self.total_paid() != self.total_ttc() {
            return Err(self.field_error(
                "payments".into(),
                &format!("a sum of {} (the lines incl. VAT)", self.total_ttc()),
                self.total_paid().to_string(),
            ));
        }
        Ok(())
    }

    fn check_line(&self, index: usize, line: &TicketLine) -> Result<(), TicketError> {
        let at = |name: &str| format!("lines[{index}].{name}");
        if line.sku.trim().is_empty() {
            return Err(self.field_error(at("sku"), "an article code", "nothing".into()));
        }
        if line.qty.is_zero() {
            return Err(self.field_error(at("qty"), "a non-zero quantity", "0".into()));
        }
        if line.unit_price_ht.is_sign_negative() {
            let found = line.unit_price_ht.to_string();
            return Err(self.field_error(at("unit_price_ht"), "a price of 0 or more", found));
        }
        if line.vat_rate.is_sign_negative() || line.vat_rate > Decimal::ONE_HUNDRED {
            let found = line.vat_rate.to_string();
            return Err(self.field_error(at("vat_rate"), "a rate between 0 and 100", found));
        }
        Ok(())
    }
}

/// Why a payload is not a ticket, in words: "not JSON" for text that is
/// not JSON at all, the field's path when serde names it (`lines[1].qty`),
/// and the position without serde's "line 1" when the payload is one line
/// (a ticket file's line number is the one that counts).
fn malformed(payload: &[u8], error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let one_line = !payload.trim_ascii().contains(&b'\n');
    let object = payload.trim_ascii_start().starts_with(b"{");
    let at = if one_line {
        format!("column {}", error.column())
    } else {
        format!("line {} column {}", error.line(), error.column())
    };
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let text = error.to_string();
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    match error.classify() {
        Category::Io => message.to_string(),
        Category::Syntax | Category::Eof if !object => {
            format!(
                "not JSON (a ticket is one JSON object), found {:?}",
                start_of(payload)
            )
        }
        Category::Data if !object => format!(
            "not a JSON object (a ticket is one JSON object), found {:?}",
            start_of(payload)
        ),
        Category::Syntax => format!("not valid JSON at {at}: {message}"),
        Category::Eof => format!("JSON cut short at {at}: {message}"),
        Category::Data => {
            // Read again, on this slow path only, to learn where serde was.
            let mut reader = serde_json::Deserializer::from_slice(payload);
            let path = match serde_path_to_error::deserialize::<_, Ticket>(&mut reader) {
                Err(e) => e.path().to_string(),
                Ok(_) => ".".to_string(),
            };
            if path == "." {
                message.to_string()
            } else {
                format!("field {path}: {message}")
            }
        }
    }
}

/// The first characters of a payload, to show what it is instead.
fn start_of(payload: &[u8]) -> String {
    const SHOWN: usize = 40;
    let text = String::from_utf8_lossy(payload.trim_ascii());
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const SAMPLE: &str = r#"{"ticket": "T261202-2-00002", "register": "CAISSE-2",
        "operator": "SLA", "at": "2026-12-02T03:38:07Z", "customer": "C004329",
        "lines": [{"sku": "VO-POUL-FERM-PC", "label": "Poulet fermier", "qty": 5,
                   "unit_price_ht": "9.85", "vat_rate": "5.5"},
                  {"sku": "VI-BOEUF-ENTR-KG", "label": "Entrecôte", "qty": 4.276,
                   "unit_price_ht": "28.90", "vat_rate": "5.5"}],
        "payments": [{"method": "compte", "amount": "182.33"}]}"#;

    #[test]
    fn a_sample_ticket_reads_with_exact_weights() {
        let ticket = Ticket::parse(SAMPLE.as_bytes()).expect("valid ticket");
        assert_eq!(ticket.lines[1].qty, dec!(4.276));
        assert_eq!(ticket.total_ttc(), dec!(182.33));
        assert_eq!(ticket.v, 1);
    }

    #[test]
    fn a_ticket_with_a_bad_amount_names_the_ticket_and_field() {
        let bad = SAMPLE.replace("182.33", "182.30");
        let err = Ticket::parse(bad.as_bytes()).expect_err("must fail");
        let text = err.to_string();
        assert!(
            text.contains("T261202-2-00002") && text.contains("payments"),
            "{text}"
        );
        assert!(text.contains("182.33") && text.contains("182.30"), "{text}");
    }

    fn one_line() -> String {
        SAMPLE.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn a_quantity_written_as_words_names_the_field_without_an_inner_line() {
        let bad = one_line().replacen("\"qty\": 5", "\"qty\": \"deux\"", 1);
        let err = Ticket::parse(bad.as_bytes()).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "ticket payload is not valid: field lines[0].qty: expected a decimal number, \
             found \"deux\""
        );
    }

    #[test]
    fn a_missing_field_names_where_it_is_missing() {
        let bad = one_line().replacen("\"sku\": \"VO-POUL-FERM-PC\", ", "", 1);
        let err = Ticket::parse(bad.as_bytes()).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "ticket payload is not valid: field lines[0]: missing field `sku`"
        );
    }

    #[test]
    fn a_line_that_is_not_json_is_called_so() {
        let line = "T261202-2-00002;CAISSE-2;SLA;2026-12-02T03:38:07Z;C004329";
        let err = Ticket::parse(line.as_bytes()).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "ticket payload is not valid: not JSON (a ticket is one JSON object), found \
             \"T261202-2-00002;CAISSE-2;SLA;2026-12-02T...\""
        );
        let err = Ticket::parse(b"ticket;register").expect_err("must fail");
        assert!(err.to_string().contains("not JSON"), "{err}");
        let err = Ticket::parse(b"[1, 2]").expect_err("JSON, but not an object");
        assert_eq!(
            err.to_string(),
            "ticket payload is not valid: not a JSON object (a ticket is one JSON object), \
             found \"[1, 2]\""
        );
    }

    #[test]
    fn broken_json_gives_its_column_and_the_line_only_when_there_are_several() {
        let line = one_line();
        let cut = &line[..60];
        let err = Ticket::parse(cut.as_bytes()).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "ticket payload is not valid: JSON cut short at column 60: EOF while parsing a string"
        );
        let err = Ticket::parse(SAMPLE.replace("\"SLA\",", "\"SLA\",,").as_bytes())
            .expect_err("must fail");
        assert!(
            err.to_string()
                .starts_with("ticket payload is not valid: not valid JSON at line 2 column "),
            "{err}"
        );
    }

    #[test]
    fn a_price_written_as_words_is_refused_with_the_value() {
        let bad = SAMPLE.replace("\"9.85\"", "\"neuf\"");
        let err = Ticket::parse(bad.as_bytes()).expect_err("must fail");
        assert!(err.to_string().contains("neuf"), "{err}");
    }
}
