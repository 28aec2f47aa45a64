//! What one site declares about its ERP: customer codes, payment codes, the
//! ERP's article for each shop SKU, the article codes for deleted products
//! and guests, which order statuses go, how the shop rounds VAT and whether
//! the ERP books in cents.
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
    /// Shop SKU -> ERP article code, for a catalogue whose codes differ from
    /// the ERP's. A SKU not listed follows `unknown_sku`. Empty by default:
    /// every SKU is sent as the ERP's article code.
    pub articles: BTreeMap<String, String>,
    /// What to do with a SKU that `articles` does not list.
    pub unknown_sku: UnknownSku,
    /// What to do with a product line that has no SKU (its product was
    /// deleted at the shop, `product_id` 0, or never had one).
    pub deleted_product: DeletedProduct,
    /// How the shop rounds VAT; the import always carries the shop's own
    /// figures, never a recomputation from the rate.
    pub vat_rounding: VatRounding,
    /// Decimals the ERP books amounts with: 2 when it books in cents. An
    /// order in a currency without cents (JPY...) is then refused, and so is
    /// an amount finer than this.
    pub erp_decimals: u32,
}

/// A SKU missing from the site's `articles` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownSku {
    /// Send the SKU as the article code (`unknown_sku = "keep"`): right when
    /// the table only lists the SKUs whose code differs.
    #[default]
    Keep,
    /// Quarantine the order, naming the SKU (`unknown_sku = "hold"`): right
    /// when the table is the ERP's complete article file.
    Hold,
    /// Send this article code and keep the SKU in `Info`
    /// (`unknown_sku = { article = "DIVERS" }`).
    Article(String),
}

/// A product line with no SKU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletedProduct {
    /// Send it under `deleted_product_article`, its name and line id in
    /// `Info`: the order and its totals reach the ERP on time, but the ERP's
    /// stock and sales by article are wrong until someone recodes the line.
    #[default]
    Article,
    /// Quarantine the order, naming the line, until the shop's order is
    /// repaired or the rule changed and the order released: the ERP's
    /// articles stay right, but the order waits for a person.
    Hold,
}

/// How the shop rounds the VAT of an order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VatRounding {
    /// Per line (WooCommerce's default): every line's VAT is already in
    /// cents and goes as it is. A line figure finer than `erp_decimals` is
    /// refused, naming the row.
    #[default]
    Line,
    /// Per total ("round tax at subtotal level"): the shop keeps unrounded
    /// line VAT and rounds each rate's total. Rows are brought to cents so
    /// that each rate adds up to the shop's rounded total (largest
    /// remainder: the cents left go to the rows that lost most).
    Total,
}

/// Currencies with no minor unit (ISO 4217 exponent 0).
const ZERO_DECIMAL_CURRENCIES: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// The number of decimals a currency's amounts have (2 unless it is one of
/// the zero-decimal currencies).
pub fn currency_decimals(code: &str) -> u32 {
    if ZERO_DECIMAL_CURRENCIES.contains(&code.to_ascii_uppercase().as_str()) {
        0
    } else {
        2
    }
}

/// Why a currency cannot go to this ERP, if it cannot.
pub fn currency_problem(code: &str, erp_decimals: u32) -> Option<String> {
    (currency_decimals(code) < erp_decimals).then(|| {
        format!(
            "{code} has no cents but the ERP books in hundredths (erp_decimals = \
             {erp_decimals}): set up an ERP ledger for {code} first"
        )
    })
}

/// What the site maps a SKU to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleCode<'a> {
    /// The ERP's article.
    Known(&'a str),
    /// The fallback article for a SKU the ERP lacks.
    Fallback(&'a str),
    /// The SKU is unknown and the site holds such orders.
    Held,
}

impl SiteRules {
    /// The ERP article of a (non-empty) shop SKU.
    pub fn article_for<'a>(&'a self, sku: &'a str) -> ArticleCode<'a> {
        if let Some(code) = self.articles.get(sku) {
            return ArticleCode::Known(code);
        }
        match &self.unknown_sku {
            UnknownSku::Keep => ArticleCode::Known(sku),
            UnknownSku::Hold => ArticleCode::Held,
            UnknownSku::Article(code) => ArticleCode::Fallback(code),
        }
    }

    /// Checks rules that contradict each other; the error names the key
    /// (under `site.rules`), what it needs and what it has.
    pub fn check(&self) -> Result<(), (&'static str, &'static str, String)> {
        if currency_problem(&self.currency, self.erp_decimals).is_some() {
            let expected = "a currency with cents, since the ERP books in hundredths \
                            (a currency without cents needs erp_decimals = 0)";
            return Err(("currency", expected, self.currency.clone()));
        }
        if self.articles.is_empty() && self.unknown_sku != UnknownSku::Keep {
            let expected = "\"keep\" while the articles table is empty (any other rule \
                            would apply to every SKU)";
            return Err(("unknown_sku", expected, format!("{:?}", self.unknown_sku)));
        }
        if let UnknownSku::Article(code) = &self.unknown_sku {
            if code.trim().is_empty() {
                return Err(("unknown_sku", "a fallback article code", code.clone()));
            }
        }
        let empty = self
            .articles
            .iter()
            .find(|(_, code)| code.trim().is_empty());
        if let Some((sku, _)) = empty {
            return Err(("articles", "an ERP article code for every SKU", sku.clone()));
        }
        Ok(())
    }
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
            articles: BTreeMap::new(),
            unknown_sku: UnknownSku::Keep,
            deleted_product: DeletedProduct::Article,
            vat_rounding: VatRounding::Line,
            erp_decimals: 2,
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
    pub fn read(mut source: impl Read, dialect: &Dialect) -> Result<Clients, ClientsError> {
        // A client file is small: decode it whole, with the dialect's own
        // decoder (CP850 has no encoding_rs decoder).
        let mut bytes = Vec::new();
        source
            .read_to_end(&mut bytes)
            .map_err(|e| ClientsError::Csv(csv::Error::from(e)))?;
        let text = dialect.encoding.decode(&bytes).into_owned();
        let decoded = std::io::Cursor::new(text.into_bytes());
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
