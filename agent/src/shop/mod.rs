//! The web shop side: WooCommerce orders in, invoices out.

pub mod client;
pub mod notes;
pub mod order;
pub mod pull;
