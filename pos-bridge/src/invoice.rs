//! The invoice as the ERP exports it: one customer, one day, lines from the
//! counter and from the web shop mixed.
//!
//! This is plain data: the export reader (`export` module) builds it from CSV
//! rows, the agent renders and publishes it. Amounts are exact decimals as the
//! ERP wrote them; nothing here recomputes VAT.

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where an invoice line was sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Origin {
    /// A web shop order (`WEB` in the export); the reference is the order number.
    Web,
    /// A counter ticket from the POS (`CPT`); the reference is the ticket number.
    Counter,
}

impl Origin {
    /// The code the ERP files use for this origin.
    pub fn code(self) -> &'static str {
        match self {
            Origin::Web => "WEB",
            Origin::Counter => "CPT",
        }
    }
}

/// The customer block of an invoice, as the ERP knows the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceCustomer {
    /// ERP customer code (`CodeClient`), kept as text: leading zeros matter.
    pub code: String,
    /// Company name (`RaisonSociale`).
    pub name: String,
    /// SIRET number, empty when the export has none.
    pub siret: String,
    /// Intra-community VAT number, empty when the export has none.
    pub vat_number: String,
    /// Street address (`Adresse`).
    pub address: String,
    /// Postcode (`CP`).
    pub postcode: String,
    /// Town (`Ville`).
    pub city: String,
    /// E-mail (`EmailClient`).
    pub email: String,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// 1-based line number of this row in the export file, for error messages.
    pub source_line: u64,
    /// Counter or web.
    pub origin: Origin,
    /// Shop order number or ticket number (`RefCommande`).
    pub reference: String,
    /// ERP article code (`CodeArticle`).
    pub article: String,
    /// Designation (`Libelle`).
    pub label: String,
    /// Quantity, possibly a weight with three decimals (`Qte`).
    pub quantity: Decimal,
    /// Unit of the quantity (`Unite`): kg, colis, pièce...
    pub unit: String,
    /// Unit price excluding VAT (`PUHT`).
    pub unit_price_ht: Decimal,
    /// Amount excluding VAT (`MontantHT`).
    pub amount_ht: Decimal,
    /// VAT rate in percent, e.g. 5.5 or 20 (`TauxTVA`).
    pub vat_rate: Decimal,
    /// VAT amount (`MontantTVA`).
    pub amount_vat: Decimal,
    /// Amount including VAT (`MontantTTC`).
    pub amount_ttc: Decimal,
}

/// One invoice (or credit note, when its total is negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Invoice number (`NumFacture`), unique at the ERP.
    pub number: String,
    /// Invoice date (`DateFacture`).
    pub date: Date,
    /// Due date (`Echeance`).
    pub due_date: Date,
    /// Payment terms as the ERP words them (`ModeReglement`), e.g. "LCR 30 jours".
    pub payment_terms: String,
    /// The customer invoiced.
    pub customer: InvoiceCustomer,
    /// The lines, in export order.
    pub lines: Vec<InvoiceLine>,
    /// For a credit note, the invoice it corrects (`FactureOrigine`, when
    /// the site's export has that column).
    #[serde(default)]
    pub corrects: Option<String>,
}

/// VAT subtotal for one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatSubtotal {
    /// Rate in percent.
    pub rate: Decimal,
    /// Sum of the amounts excluding VAT at this rate.
    pub base_ht: Decimal,
    /// Sum of the VAT amounts at this rate.
    pub vat: Decimal,
}

/// Totals of an invoice, summed from its lines as the ERP computed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTotals {
    /// Total excluding VAT.
    pub ht: Decimal,
    /// Total VAT.
    pub vat: Decimal,
    /// Total including VAT.
    pub ttc: Decimal,
    /// Per rate, ascending.
    pub by_rate: Vec<VatSubtotal>,
}

impl Invoice {
    /// Sums the lines. VAT is taken line by line as the ERP rounded it.
    pub fn totals(&self) -> InvoiceTotals {
        let mut by_rate: Vec<VatSubtotal> = Vec::new();
        for line in &self.lines {
            match by_rate.iter_mut().find(|s| s.rate == line.vat_rate) {
                Some(s) => {
                    s.base_ht += line.amount_ht;
                    s.vat += line.amount_vat;
                }
                None => by_rate.push(VatSubtotal {
                    rate: line.vat_rate,
                    base_ht: line.amount_ht,
                    vat: line.amount_vat,
                }),
            }
        }
        by_rate.sort_by_key(|s| s.rate);
        InvoiceTotals {
            ht: self.lines.iter().map(|l| l.amount_ht).sum(),
            vat: self.lines.iter().map(|l| l.amount_vat).sum(),
            ttc: self.lines.iter().map(|l| l.amount_ttc).sum(),
            by_rate,
        }
    }

    /// A credit note ("avoir") is an invoice whose total is negative.
    pub fn is_credit_note(&self) -> bool {
        self.totals().ttc.is_sign_negative() && !self.totals().ttc.is_zero()
    }
}
