//! Signed updates with an A/B layout that rolls back by itself.
//!
//! An update bundle is a tar file made by the fleet:
//!
//! | entry | what |
//! |---|---|
//! | `manifest.json` | format, compatible product, version, and per file its size and sha256 |
//! | `manifest.sig` | Ed25519 signature of `manifest.json`'s exact bytes, base64 |
//! | `relais`, ... | the payload files the manifest names, in its order |
//!
//! The box holds only the public half of the fleet's update key (in the
//! image, `/etc/relais/update.pub`, base64 of the raw 32 bytes, the same
//! form as `fleet.command_key`). A bundle is installed only if the
//! signature verifies and every payload file has the size and hash the
//! manifest gives; anything else is refused with an [`UpdateError`] naming
//! the file and what was expected. The manifest and signature come first in
//! the tar, so the payload is checked while it is written into the slot,
//! in one pass, and the checked bytes are the installed bytes.
//!
//! The slots folder emulates RAUC's A/B root file systems (see
//! [`slots`]): the bundle goes into the slot that is not booted, which is
//! marked `pending`; the `current` marker then points at it (the "reboot"),
//! and a health check of the new slot must pass within a timeout. If it
//! does, the slot is marked `good`; if not, it is marked `bad` and
//! `current` points back at the previous slot. A switch interrupted by a
//! crash leaves `current` on a `pending` slot, which the next open of the
//! slots treats as a failed boot and rolls back, as a boot loader whose
//! attempt counter ran out would.
//!
//! Before the switch the daemon is drained: it is sent SIGTERM (it stops
//! taking work, finishes its round and commits, see `daemon`) and the
//! update waits until it has let go of the store. The store is never in a
//! slot: it lives on the data partition and is only read by the health
//! check, so an update, good or rolled back, leaves every document where
//! it was. How this maps onto RAUC on the real image is in
//! `image/README.md`.

pub mod bundle;
pub mod cli;
pub mod health;
pub mod manifest;
pub mod slots;

use std::path::PathBuf;

pub use bundle::{pack, verify, verify_into};
pub use manifest::{FileEntry, Manifest};
pub use slots::{install, Installed, SlotName, SlotState, Slots};

/// What went wrong with an update, with the file and the reason.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is not a key of the expected form.
    #[error("key file {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a bundle, or its entries are not in the bundle's order.
    #[error("{path} is not an update bundle: {reason}")]
    NotABundle {
        /// The bundle.
        path: PathBuf,
        /// What was expected and what was found.
        reason: String,
    },
    /// The manifest's signature does not verify against the update key.
    #[error(
        "the manifest's signature does not verify against the update key {key}: \
         the manifest was changed or another key signed it"
    )]
    BadSignature {
        /// The key file checked against.
        key: PathBuf,
    },
    /// Signed, but the manifest is not usable.
    #[error("signed manifest refused: {0}")]
    BadManifest(String),
    /// A payload file's bytes are not the ones the manifest signed.
    #[error("payload file {file}: sha256 {found}, the signed manifest says {expected}")]
    HashMismatch {
        /// The payload file.
        file: String,
        /// Hash in the manifest.
        expected: String,
        /// Hash of the bytes in the bundle.
        found: String,
    },
    /// A payload file's size is not the manifest's.
    #[error("payload file {file}: {found} bytes, the signed manifest says {expected}")]
    SizeMismatch {
        /// The payload file.
        file: String,
        /// Size in the manifest.
        expected: u64,
        /// Size in the bundle (at least; reading stops past the manifest's).
        found: u64,
    },
    /// A file in the bundle that the manifest does not name.
    #[error("payload file {0} is not in the signed manifest")]
    Unlisted(String),
    /// A file the manifest names that the bundle lacks.
    #[error("payload file {0} is in the signed manifest but not in the bundle")]
    Missing(String),
    /// The slots folder is not in a state an update can start from.
    #[error("slots {path}: {reason}")]
    Slots {
        /// The slots folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The daemon could not be drained before the switch.
    #[error("draining the daemon (pid {pid}): {reason}")]
    Drain {
        /// The daemon's process id.
        pid: i32,
        /// What happened.
        reason: String,
    },
}

/// The `at` helper of this layer: an I/O error with its action and file.
fn io_at(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> UpdateError {
    let path = path.to_path_buf();
    move |source| UpdateError::Io {
        action,
        path,
        source,
    }
}

/// The spool layer's atomic write, under this layer's error.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), UpdateError> {
    pos_bridge::spool::write_atomic(path, bytes).map_err(|e| UpdateError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}
