//! The bundle's manifest and its signature: plain data and pure checks.

use std::path::Path;

use base64::Engine as _;
use jiff::Timestamp;
use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use super::{io_at, UpdateError};

/// Format of [`Manifest`]; bumped on an incompatible change.
pub const FORMAT: u32 = 1;

/// The product a bundle is for: a bundle for anything else is refused.
pub const COMPATIBLE: &str = "relais-box";

/// The payload file every bundle carries: the new daemon.
pub const BINARY: &str = "relais";

/// What a bundle holds, signed by the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`]
    pub format: u32,
    /// [`COMPATIBLE`]
    pub compatible: String,
    /// The Relais version inside (what `relais --version` prints).
    pub version: String,
    /// When the fleet made the bundle.
    pub created_at: Timestamp,
    /// The payload files, in the bundle's order.
    pub files: Vec<FileEntry>,
}

/// One payload file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Plain file name (no folder).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, lower-case hex.
    pub sha256: String,
}

impl Manifest {
    /// Checks what the signature cannot: the format, the product, and
    /// names that stay inside the slot.
    pub fn check(&self) -> Result<(), UpdateError> {
        if self.format != FORMAT {
            return Err(UpdateError::BadManifest(format!(
                "format {}, this relais reads format {FORMAT}",
                self.format
            )));
        }
        if self.compatible != COMPATIBLE {
            return Err(UpdateError::BadManifest(format!(
                "bundle for {:?}, this box is {COMPATIBLE:?}",
                self.compatible
            )));
        }
        for file in &self.files {
            if !is_plain_name(&file.name) {
                return Err(UpdateError::BadManifest(format!(
                    "file name {:?}: expected a plain name without folders",
                    file.name
                )));
            }
        }
        if !self.files.iter().any(|f| f.name == BINARY) {
            return Err(UpdateError::BadManifest(format!(
                "no {BINARY:?} file in the manifest"
            )));
        }
        Ok(())
    }

    /// The entry of a file, by name.
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && name != "manifest.json"
        && name != "manifest.sig"
        && name != "slot.json"
}

/// Verifies the signature (base64 text) of the manifest's exact bytes,
/// then reads and checks the manifest.
pub fn verify_signed(
    manifest: &[u8],
    signature: &[u8],
    public_key: &[u8],
    key_path: &Path,
) -> Result<Manifest, UpdateError> {
    let bad = || UpdateError::BadSignature {
        key: key_path.to_path_buf(),
    };
    let text = std::str::from_utf8(signature).map_err(|_| bad())?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| bad())?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(manifest, &signature)
        .map_err(|_| bad())?;
    let manifest: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| UpdateError::BadManifest(format!("not a manifest: {e}")))?;
    manifest.check()?;
    Ok(manifest)
}

/// Signs a manifest (the fleet side): its JSON bytes and the base64
/// signature of exactly those bytes.
pub fn sign(manifest: &Manifest, key: &Ed25519KeyPair) -> Result<(Vec<u8>, String), UpdateError> {
    let bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|e| UpdateError::BadManifest(format!("cannot write JSON: {e}")))?;
    let signature = key.sign(&bytes);
    let text = base64::engine::general_purpose::STANDARD.encode(signature.as_ref());
    Ok((bytes, text))
}

/// Reads a public key file: base64 of the raw 32-byte Ed25519 key.
pub fn read_public_key(path: &Path) -> Result<Vec<u8>, UpdateError> {
    let text = std::fs::read_to_string(path).map_err(io_at("read", path))?;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .filter(|key| key.len() == 32)
        .ok_or_else(|| UpdateError::Key {
            path: path.to_path_buf(),
            reason: "expected the base64 of a 32-byte Ed25519 public key".into(),
        })
}

/// Reads a private key file: base64 of the PKCS#8 document
/// ([`write_key_pair`] writes one).
pub fn read_private_key(path: &Path) -> Result<Ed25519KeyPair, UpdateError> {
    let text = std::fs::read_to_string(path).map_err(io_at("read", path))?;
    let bad = |reason: &str| UpdateError::Key {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| bad("expected base64 text"))?;
    Ed25519KeyPair::from_pkcs8(&der).map_err(|_| bad("not an Ed25519 PKCS#8 key"))
}

/// Makes a new fleet update key: the private half (readable by its owner
/// only) and the public half that goes into the image.
pub fn write_key_pair(private: &Path, public: &Path) -> Result<(), UpdateError> {
    use ring::signature::KeyPair as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let rng = ring::rand::SystemRandom::new();
    let der = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| UpdateError::Key {
        path: private.to_path_buf(),
        reason: "the system's random source failed".into(),
    })?;
    let pair = Ed25519KeyPair::from_pkcs8(der.as_ref()).map_err(|_| UpdateError::Key {
        path: private.to_path_buf(),
        reason: "cannot read back the new key".into(),
    })?;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(private)
        .map_err(io_at("create", private))?;
    writeln!(file, "{}", engine.encode(der.as_ref())).map_err(io_at("write", private))?;
    file.sync_all().map_err(io_at("sync", private))?;
    let public_text = format!("{}\n", engine.encode(pair.public_key().as_ref()));
    super::write_atomic(public, public_text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT,
            compatible: COMPATIBLE.into(),
            version: "0.2.0".into(),
            created_at: Timestamp::UNIX_EPOCH,
            files: vec![FileEntry {
                name: BINARY.into(),
                size: 3,
                sha256: "00".into(),
            }],
        }
    }

    #[test]
    fn names_that_leave_the_slot_are_refused() {
        for name in ["../relais", "/usr/bin/relais", "a/b", "..", "", "slot.json"] {
            let mut m = manifest();
            m.files.push(FileEntry {
                name: name.into(),
                size: 0,
                sha256: String::new(),
            });
            assert!(
                matches!(m.check(), Err(UpdateError::BadManifest(_))),
                "{name:?} accepted"
            );
        }
        assert!(manifest().check().is_ok());
    }

    #[test]
    fn a_bundle_for_another_product_or_without_the_binary_is_refused() {
        let mut other = manifest();
        other.compatible = "toaster".into();
        assert!(matches!(other.check(), Err(UpdateError::BadManifest(m)) if m.contains("toaster")));
        let mut empty = manifest();
        empty.files.clear();
        assert!(matches!(empty.check(), Err(UpdateError::BadManifest(m)) if m.contains("relais")));
    }
}
