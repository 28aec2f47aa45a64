//! The one error type of the sandbox shop.
//!
//! Each variant names what was being done and on which file, order or address, so a test
//! failure that surfaces one of these can be fixed without reading the shop's code.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop the sandbox shop from starting or from storing an invoice.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// An order handed to the shop lacks a field the WooCommerce routes need.
    #[error("{origin} is not a usable WooCommerce order: {reason}")]
    InvalidOrder {
        /// Where the order came from, e.g. "configured order at index 3".
        origin: String,
        /// What is missing or malformed, with the value found.
        reason: String,
    },

    /// A file or folder operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What the shop was doing, e.g. "write the CA certificate to".
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// Two files in the invoice folder claim the same invoice number.
    #[error(
        "invoice {number} is stored twice, as {} and {}: remove the wrong one",
        first.display(),
        second.display()
    )]
    DuplicateInvoice {
        /// The invoice number held twice.
        number: String,
        /// The first file found.
        first: PathBuf,
        /// The second file found.
        second: PathBuf,
    },

    /// The CA or server certificate could not be generated.
    #[error("cannot generate the sandbox certificates: {0}")]
    Certificate(#[from] rcgen::Error),

    /// rustls refused the generated certificate or protocol settings.
    #[error("cannot configure TLS: {0}")]
    Tls(#[from] rustls::Error),

    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The site's time zone is missing from the system's time zone database.
    #[error("time zone {name} is unknown here (is tzdata installed?): {source}")]
    TimeZone {
        /// The IANA name looked up.
        name: &'static str,
        /// jiff's error.
        #[source]
        source: jiff::Error,
    },

    /// A blocking storage task died before it could report (a bug, or a panic in it).
    #[error("the storage task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl ShopError {
    /// Builds the [`ShopError::Io`] variant; used with `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
