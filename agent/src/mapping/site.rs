//! What one site declares about its ERP: customer codes, payment codes, the
//! article codes for deleted products and guests, which order statuses go.
//!
//! The customer table is the ERP's own client file (`clients.csv`: ERP code
//! to shop customer id), read in the site's dialect.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use pos_bridge::dialect::Dialect;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The site's mapping rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteRules {
    /// Shop order statuses that go to the ERP; others are held and reported.
    pub statuses_to_erp: Vec<String>,
    /// Shop order statuses held back on purpose (waiting for payment,
    /// cancelled...); an order in a status listed in neither list is
    /// quarantined so a person looks at it.
    pub statuses_held: Vec<String>,
    /// ERP customer code used for guest orders (shop customer id 0); the
    /// guest's e-mail and name go in the `Info` column.
    pub guest_customer: String,
    /// ERP article code for a line whose product was deleted at the shop
    /// and which has no SKU left.
    pub deleted_product_article: String,
    /// ERP article code for coupon and discount rows (`REM`).
    pub discount_article: String,
    /// ERP article code for shipping rows (`PORT`).
    pub shipping_article: String,
    /// ERP article code for fee rows (`FRAIS`).
    pub fee_article: String,
    /// Shop or POS payment method -> ERP payment code.
    pub payment_codes: BTreeMap<String, String>,
    /// Shop tax class -> VAT rate, used when a line carries no tax id.
    pub vat_by_tax_class: BTreeMap<String, Decimal>,
    /// Currency the ERP keeps its books in; orders in another are refused.
    pub currency: String,
    /// Statuses that call an order off: one already sent to the ERP is
    /// then credited in full by an amendment.
    pub statuses_cancelled: Vec<String>,
    /// ERP article code of an `AVO` row: an amount refunded without line
    /// detail.
    pub refund_article: String,
    /// Columns the ERP refuses empty; checked before a document is queued.
    pub required_columns: Vec<String>,
    /// Longest text (in characters) the ERP accepts per column; checked
    /// before a document is queued. A column not listed has no limit.
    pub max_lengths: BTreeMap<String, usize>,
}

impl Default for SiteRules {
    fn default() -> Self {
        let codes = [
            ("bacs", "VIR"),
            ("stripe", "CB"),
            ("cheque", "CHQ"),
            ("cod", "LIV"),
            ("gift_card", "BCA"),
            ("CB", "CB"),
            ("especes", "ESP"),
            ("compte", "CPTE"),
        ];
        SiteRules {
            statuses_to_erp: ["processing", "on-hold", "completed"]
                .map(String::from)
                .to_vec(),
            statuses_held: [
                "pending",
                "cancelled",
                "failed",
                "refunded",
                "checkout-draft",
            ]
            .map(String::from)
            .to_vec(),
            guest_customer: "CWEBINVITE".to_string(),
            deleted_product_article: "ARTICLE-SUPPRIME".to_string(),
            discount_article: "REMISE".to_string(),
            shipping_article: "PORT".to_string(),
            fee_article: "FRAIS".to_string(),
            payment_codes: codes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            vat_by_tax_class: [
                ("".to_string(), Decimal::from(20)),
                ("taux-reduit".into(), Decimal::new(55, 1)),
            ]
            .into_iter()
            .collect(),
            currency: "EUR".to_string(),
            statuses_cancelled: vec!["cancelled".to_string()],
            refund_article: "AVOIR".to_string(),
            required_columns: ["RefExterne", "CodeClient", "CodeArticle"]
                .map(String::from)
                .to_vec(),
            max_lengths: [
                ("RefExterne", 30),
                ("CodeClient", 20),
                ("CodeArticle", 30),
                ("Libelle", 80),
                ("Info", 120),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        }
    }
}

/// One customer of the ERP's client file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEntry {
    /// ERP code.
    pub code: String,
    /// Shop customer id.
    pub shop_id: u64,
    /// Company name.
    pub name: String,
}

/// The ERP's client file, indexed both ways.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    by_shop_id: HashMap<u64, ClientEntry>,
    by_code: HashMap<String, u64>,
}

/// A client file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    /// The header lacks a column.
    #[error("client file: the header has no column {0:?}")]
    MissingColumn(&'static str),
    /// A row is malformed.
    #[error("client file line {line}: column {column}: expected {expected}, found {found:?}")]
    Row {
        line: u64,
        column: &'static str,
        expected: &'static str,
        found: String,
    },
    /// CSV or I/O failure.
    #[error("client file: {0}")]
    Csv(#[from] csv::Error),
}

impl Clients {
    /// Reads the client file (`CodeClient;IdBoutique;RaisonSociale;...`).
    pub fn read(source: impl Read, dialect: &Dialect) -> Result<Clients, ClientsError> {
        let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(dialect.encoding.encoding()))
            .build(source);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(dialect.separator as u8)
            .from_reader(pos_bridge::line_ends::NormalizeLineEnds::new(decoded));
        let header = reader.headers()?.clone();
        let column = |name: &'static str| {
            header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or(ClientsError::MissingColumn(name))
        };
        let (code_at, id_at, name_at) = (
            column("CodeClient")?,
            column("IdBoutique")?,
            column("RaisonSociale")?,
        );
        let mut clients = Clients::default();
        for record in reader.records() {
            let record = record?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or("").trim().to_string();
            let id_text = field(id_at);
            if id_text.is_empty() {
                continue; // an ERP customer with no shop account
            }
            let shop_id = id_text.parse().map_err(|_| ClientsError::Row {
                line,
                column: "IdBoutique",
                expected: "a shop customer id (a whole number)",
                found: id_text.clone(),
            })?;
            clients.insert(ClientEntry {
                code: field(code_at),
                shop_id,
                name: field(name_at),
            });
        }
        Ok(clients)
    }

    /// Adds one entry.
    pub fn insert(&mut self, entry: ClientEntry) {
        self.by_code.insert(entry.code.clone(), entry.shop_id);
        self.by_shop_id.insert(entry.shop_id, entry);
    }

    /// ERP code of a shop customer.
    pub fn erp_code(&self, shop_id: u64) -> Option<&str> {
        self.by_shop_id.get(&shop_id).map(|e| e.code.as_str())
    }

    /// Shop customer id of an ERP code.
    pub fn shop_id(&self, code: &str) -> Option<u64> {
        self.by_code.get(code).copied()
    }

    /// Number of customers with a shop account.
    pub fn len(&self) -> usize {
        self.by_shop_id.len()
    }

    /// True if no customer has a shop account.
    pub fn is_empty(&self) -> bool {
        self.by_shop_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_file_maps_both_ways() {
        let text =
            "CodeClient;IdBoutique;RaisonSociale;Email\r\nC004100;1000;Le Petit Zinc;a@b\r\n\
                    C009999;;Comptoir seul;c@d\r\n";
        let clients = Clients::read(text.as_bytes(), &Dialect::french_erp()).expect("read");
        assert_eq!(clients.erp_code(1000), Some("C004100"));
        assert_eq!(clients.shop_id("C004100"), Some(1000));
        assert_eq!(clients.len(), 1);
    }

    #[test]
    fn a_bad_shop_id_names_line_and_column() {
        let text = "CodeClient;IdBoutique;RaisonSociale\nC1;12a;X\n";
        let err = Clients::read(text.as_bytes(), &Dialect::french_erp()).expect_err("bad id");
        let message = err.to_string();
        assert!(
            message.contains("line 2") && message.contains("IdBoutique"),
            "{message}"
        );
    }
}
