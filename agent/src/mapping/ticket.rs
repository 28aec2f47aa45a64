//! A counter ticket becomes ERP import rows: one `ART` row per line with the
//! amounts rounded as the register printed them, one `REG` row per payment.

use jiff::tz::TimeZone;
use pos_bridge::ticket::Ticket;

use super::import::{ImportRow, RowType};
use super::site::SiteRules;
use super::MappingError;

/// Maps one checked ticket (pure: same ticket, same rows).
pub fn map_ticket(
    ticket: &Ticket,
    rules: &SiteRules,
    tz: &TimeZone,
) -> Result<Vec<ImportRow>, MappingError> {
    let date = ticket.at.to_zoned(tz.clone()).date();
    let base = ImportRow {
        kind: RowType::Art,
        reference: ticket.ticket.clone(),
        origin: "CPT".to_string(),
        date,
        customer: ticket.customer.clone(),
        article: String::new(),
        label: String::new(),
        quantity: None,
        unit_price_ht: None,
        vat_rate: None,
        amount_ht: None,
        amount_vat: None,
        amount_ttc: Default::default(),
        info: String::new(),
    };
    let mut rows = Vec::with_capacity(ticket.lines.len() + ticket.payments.len());
    for line in &ticket.lines {
        let ht = Ticket::line_ht(line);
        let ttc = Ticket::line_ttc(line);
        rows.push(ImportRow {
            article: line.sku.clone(),
            label: line.label.clone(),
            quantity: Some(line.qty),
            unit_price_ht: Some(line.unit_price_ht),
            vat_rate: Some(line.vat_rate),
            amount_ht: Some(ht),
            amount_vat: Some(ttc - ht),
            amount_ttc: ttc,
            info: format!("{} {}", ticket.register, ticket.operator)
                .trim()
                .to_string(),
            ..base.clone()
        });
    }
    for payment in &ticket.payments {
        let code = rules
            .payment_codes
            .get(&payment.method)
            .ok_or_else(|| MappingError {
                document: format!("ticket {}", ticket.ticket),
                field: "payments.method".to_string(),
                expected: "a payment method listed in the site's payment_codes".to_string(),
                found: payment.method.clone(),
            })?;
        rows.push(ImportRow {
            kind: RowType::Reg,
            article: code.clone(),
            label: format!("Règlement {}", payment.method),
            amount_ttc: payment.amount,
            ..base.clone()
        });
    }
    Ok(rows)
}
