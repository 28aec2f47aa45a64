//! The web shop side: WooCommerce orders in, invoices out.

pub mod order;
