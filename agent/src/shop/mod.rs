//! The web shop side: WooCommerce orders in, invoices out.

pub mod client;
pub mod order;
pub mod pull;
