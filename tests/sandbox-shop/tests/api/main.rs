//! End-to-end tests of the sandbox shop over real HTTPS on 127.0.0.1, with a client that
//! trusts only the shop's own CA.

mod invoices;
mod orders;
mod restart;
mod support;
