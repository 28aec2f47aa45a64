//! The LAN side of Relais: ERP spool folders, the ERP's file dialects, and
//! the POS ticket protocol over MQTT. It knows nothing of the web shop.

pub mod bridge;
pub mod dialect;
pub mod export;
pub mod invoice;
pub mod line_ends;
pub mod money;
pub mod protocol;
pub mod records;
pub mod register;
pub mod spool;
pub mod text;
pub mod ticket;
