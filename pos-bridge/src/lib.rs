//! The LAN side of Relais: ERP spool folders, the ERP's CSV dialects, and the
//! POS ticket protocol over MQTT. It knows nothing of the web shop.

pub mod dialect;
pub mod export;
pub mod invoice;
pub mod line_ends;
pub mod money;
pub mod protocol;
pub mod register;
pub mod spool;
pub mod ticket;
