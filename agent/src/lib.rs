//! Relais: the box on a wholesaler's LAN that moves web orders and counter
//! tickets to the ERP, and the ERP's invoices back to the web shop, without
//! losing or doubling a document.
//!
//! The folders follow the shape of DESIGN.md: `store` keeps every document
//! durably; `shop` and `pos` take documents in; `mapping` turns them into
//! the ERP's import rows; `erp` and `invoice` deliver them.

pub mod bench;
pub mod config;
pub mod control;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod erp;
pub mod fleet;
pub mod invoice;
pub mod mapping;
pub mod ops;
pub mod pipeline;
pub mod pos;
pub mod retry;
pub mod schedule;
pub mod shop;
pub mod status_page;
pub mod store;
pub mod update;
