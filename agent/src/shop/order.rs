//! A WooCommerce v3 order, as much of it as Relais reads.
//!
//! Unknown fields are ignored (shops add plugins' fields freely); the raw
//! JSON is kept in the store anyway. Money fields are decimal strings in the
//! API and are read through their text. Dates are read from the `_gmt`
//! fields only: the others are the shop's local time without an offset.

use jiff::civil::DateTime;
use jiff::Timestamp;
use pos_bridge::money::{decimal, optional_decimal};
use rust_decimal::Decimal;
use serde::Deserialize;

/// One order.
#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    /// Internal id.
    pub id: u64,
    /// Order number shown to the customer (often the id).
    pub number: String,
    /// `processing`, `on-hold`, `completed`, `pending`, `cancelled`...
    pub status: String,
    /// ISO currency code.
    pub currency: String,
    /// Creation time, UTC, without offset.
    pub date_created_gmt: String,
    /// Last modification time, UTC, without offset.
    pub date_modified_gmt: String,
    /// Payment time, UTC, when paid.
    #[serde(default)]
    pub date_paid_gmt: Option<String>,
    /// Whether the shop entered prices with tax.
    #[serde(default)]
    pub prices_include_tax: bool,
    /// Grand total including tax.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    /// Shop customer id; 0 for a guest.
    pub customer_id: u64,
    /// Billing identity.
    pub billing: Billing,
    /// Payment method id (`bacs`, `stripe`...).
    #[serde(default)]
    pub payment_method: String,
    /// Payment reference at the gateway.
    #[serde(default)]
    pub transaction_id: String,
    /// Extra data; split payments live in `_payments`.
    #[serde(default)]
    pub meta_data: Vec<Meta>,
    /// Products sold.
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    /// Tax rates used, to read a line's rate from its tax id.
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
    /// Shipping charges (there can be several).
    #[serde(default)]
    pub shipping_lines: Vec<ShippingLine>,
    /// Fees, possibly negative.
    #[serde(default)]
    pub fee_lines: Vec<FeeLine>,
    /// Coupons applied.
    #[serde(default)]
    pub coupon_lines: Vec<CouponLine>,
    /// Refunds made after the sale (details at `/orders/<id>/refunds`).
    #[serde(default)]
    pub refunds: Vec<RefundRef>,
}

/// Billing identity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Billing {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// E-mail, the only identity of a guest.
    pub email: String,
}

/// A meta entry; the value can be any JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// A reference from a line to a tax rate.
#[derive(Debug, Clone, Deserialize)]
pub struct LineTax {
    /// The tax rate id (`rate_id` of a tax line).
    pub id: u64,
}

/// One product line.
#[derive(Debug, Clone, Deserialize)]
pub struct LineItem {
    /// Line id.
    pub id: u64,
    /// Product name at the time of sale.
    pub name: String,
    /// Product id, 0 if the product was deleted since.
    #[serde(default)]
    pub product_id: u64,
    /// Quantity.
    #[serde(deserialize_with = "decimal")]
    pub quantity: Decimal,
    /// Tax class (`""` is the standard rate).
    #[serde(default)]
    pub tax_class: String,
    /// Amount before coupons, excl. tax.
    #[serde(deserialize_with = "decimal")]
    pub subtotal: Decimal,
    /// Tax on the subtotal.
    #[serde(deserialize_with = "decimal")]
    pub subtotal_tax: Decimal,
    /// Amount after coupons, excl. tax.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    /// Tax on the total.
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    /// Tax rates applied.
    #[serde(default)]
    pub taxes: Vec<LineTax>,
    /// SKU, possibly empty.
    #[serde(default)]
    pub sku: String,
    /// Line meta (the unit lives here on this shop).
    #[serde(default)]
    pub meta_data: Vec<Meta>,
}

/// A tax rate used by the order.
#[derive(Debug, Clone, Deserialize)]
pub struct TaxLine {
    /// Rate id, referred to by lines' `taxes[].id`.
    pub rate_id: u64,
    /// Rate in percent.
    #[serde(deserialize_with = "decimal")]
    pub rate_percent: Decimal,
}

/// One shipping charge.
#[derive(Debug, Clone, Deserialize)]
pub struct ShippingLine {
    /// Shown title.
    pub method_title: String,
    /// Method id (`flat_rate`, `local_pickup`...).
    #[serde(default)]
    pub method_id: String,
    /// Amount excl. tax.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    /// Tax.
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    /// Tax rates applied.
    #[serde(default)]
    pub taxes: Vec<LineTax>,
}

/// One fee (negative for a discount given as a fee).
#[derive(Debug, Clone, Deserialize)]
pub struct FeeLine {
    /// Shown name.
    pub name: String,
    /// Tax class.
    #[serde(default)]
    pub tax_class: String,
    /// Amount excl. tax.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    /// Tax.
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    /// Tax rates applied.
    #[serde(default)]
    pub taxes: Vec<LineTax>,
}

/// One coupon.
#[derive(Debug, Clone, Deserialize)]
pub struct CouponLine {
    /// Coupon code.
    pub code: String,
    /// Discount excl. tax.
    #[serde(deserialize_with = "decimal")]
    pub discount: Decimal,
    /// Tax part of the discount.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub discount_tax: Option<Decimal>,
}

/// A refund as listed on the order.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundRef {
    /// Refund id.
    pub id: u64,
    /// Reason given.
    #[serde(default)]
    pub reason: String,
    /// Amount, negative.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
}

/// A split payment, from the `_payments` meta.
#[derive(Debug, Clone, Deserialize)]
pub struct SplitPayment {
    /// Method id.
    pub method: String,
    /// Gateway reference.
    #[serde(default)]
    pub transaction_id: String,
    /// Amount.
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
}

/// A WooCommerce date field that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("order {order}: field {field}: expected a date like 2026-12-02T15:52:15, found {found:?}")]
pub struct DateError {
    /// Order number.
    pub order: String,
    /// Field name.
    pub field: &'static str,
    /// Text found.
    pub found: String,
}

impl Order {
    /// Parses a `_gmt` date field (UTC without an offset).
    pub fn gmt(&self, field: &'static str, text: &str) -> Result<Timestamp, DateError> {
        text.parse::<DateTime>()
            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
            .map(|z| z.timestamp())
            .map_err(|_| DateError {
                order: self.number.clone(),
                field,
                found: text.to_string(),
            })
    }

    /// Creation time.
    pub fn created(&self) -> Result<Timestamp, DateError> {
        self.gmt("date_created_gmt", &self.date_created_gmt)
    }

    /// Split payments, when the `_payments` meta is present.
    pub fn split_payments(&self) -> Option<Result<Vec<SplitPayment>, serde_json::Error>> {
        let meta = self.meta_data.iter().find(|m| m.key == "_payments")?;
        Some(serde_json::from_value(meta.value.clone()))
    }
}
