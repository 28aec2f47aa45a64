//! Invoices out: each invoice of the ERP's export is rendered as a PDF and
//! published to its customer's account at the shop.

pub mod check;
pub mod money_fmt;
pub mod publish;
pub mod render;
