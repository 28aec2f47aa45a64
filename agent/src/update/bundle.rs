//! Reading and writing update bundles (tar: manifest, signature, payload).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{self, FileEntry, Manifest};
use super::{io_at, UpdateError};

/// Largest manifest read.
const MAX_MANIFEST: u64 = 64 * 1024;
/// Largest signature file read.
const MAX_SIGNATURE: u64 = 1024;
/// Largest payload file accepted (a release binary is about 20 MiB).
pub const MAX_FILE: u64 = 512 * 1024 * 1024;

/// Checks a bundle without installing it: signature, manifest, and the
/// size and hash of every payload file.
pub fn verify(bundle: &Path, key: &Path) -> Result<Manifest, UpdateError> {
    verify_into(bundle, key, None)
}

/// Checks a bundle and, with `dest`, writes its payload files there as they
/// are checked. Nothing is left in `dest` under a final name unless the
/// whole bundle verified; on a refusal the partial files are removed.
pub fn verify_into(
    bundle: &Path,
    key: &Path,
    dest: Option<&Path>,
) -> Result<Manifest, UpdateError> {
    let public = manifest::read_public_key(key)?;
    let file = File::open(bundle).map_err(io_at("open", bundle))?;
    let mut archive = tar::Archive::new(file);
    let not_a_bundle = |reason: String| UpdateError::NotABundle {
        path: bundle.to_path_buf(),
        reason,
    };
    let mut entries = archive
        .entries()
        .map_err(|e| not_a_bundle(format!("cannot read the tar: {e}")))?;

    let mut next = |want: &str, limit: u64| -> Result<Vec<u8>, UpdateError> {
        let mut entry = entries
            .next()
            .ok_or_else(|| not_a_bundle(format!("ends before {want}")))?
            .map_err(|e| not_a_bundle(format!("cannot read {want}: {e}")))?;
        let name = entry_name(&entry);
        if name != want {
            return Err(not_a_bundle(format!(
                "expected {want} here, found {name:?}"
            )));
        }
        read_limited(&mut entry, limit).map_err(|e| not_a_bundle(format!("{want}: {e}")))
    };
    let manifest_bytes = next("manifest.json", MAX_MANIFEST)?;
    let signature = next("manifest.sig", MAX_SIGNATURE)?;
    let manifest = manifest::verify_signed(&manifest_bytes, &signature, &public, key)?;

    let mut written = Vec::new();
    let result = payload(&mut entries, &manifest, dest, &mut written, bundle);
    if result.is_err() {
        for temp in &written {
            let _ = std::fs::remove_file(temp);
        }
        return result.map(|_| manifest);
    }
    if let Some(dest) = dest {
        for (temp, entry) in written.iter().zip(&manifest.files) {
            pos_bridge::spool::publish_temp(temp, &dest.join(&entry.name))
                .map_err(|e| io_at("install", temp)(std::io::Error::other(e.to_string())))?;
        }
    }
    Ok(manifest)
}

/// Reads the payload entries in the manifest's order, checking each.
fn payload<R: Read>(
    entries: &mut tar::Entries<'_, R>,
    manifest: &Manifest,
    dest: Option<&Path>,
    written: &mut Vec<PathBuf>,
    bundle: &Path,
) -> Result<(), UpdateError> {
    let mut expected = manifest.files.iter();
    for entry in entries {
        let mut entry = entry.map_err(|e| UpdateError::NotABundle {
            path: bundle.to_path_buf(),
            reason: format!("cannot read a payload entry: {e}"),
        })?;
        let name = entry_name(&entry);
        let Some(file) = manifest.file(&name) else {
            return Err(UpdateError::Unlisted(name));
        };
        if expected.next() != Some(file) {
            return Err(UpdateError::NotABundle {
                path: bundle.to_path_buf(),
                reason: format!("payload file {name} is out of the manifest's order"),
            });
        }
        let temp = dest.map(|d| pos_bridge::spool::temp_path(&d.join(&file.name)));
        check_file(&mut entry, file, temp.as_deref(), written, bundle)?;
    }
    match expected.next() {
        Some(missing) => Err(UpdateError::Missing(missing.name.clone())),
        None => Ok(()),
    }
}

/// Hashes one payload file (and writes it to `temp`), then compares.
fn check_file(
    entry: &mut impl Read,
    file: &FileEntry,
    temp: Option<&Path>,
    written: &mut Vec<PathBuf>,
    bundle: &Path,
) -> Result<(), UpdateError> {
    let mut out = match temp {
        Some(path) => {
            let out = File::create(path).map_err(io_at("create", path))?;
            written.push(path.to_path_buf());
            Some((out, path))
        }
        None => None,
    };
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut limited = entry.take(file.size.min(MAX_FILE) + 1);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = limited
            .read(&mut buf)
            .map_err(|e| UpdateError::NotABundle {
                path: bundle.to_path_buf(),
                reason: format!("cannot read payload file {}: {e}", file.name),
            })?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
        if let Some((out, path)) = out.as_mut() {
            out.write_all(&buf[..n]).map_err(io_at("write", path))?;
        }
    }
    if size != file.size {
        return Err(UpdateError::SizeMismatch {
            file: file.name.clone(),
            expected: file.size,
            found: size,
        });
    }
    let found = hex::encode(hasher.finalize());
    if found != file.sha256 {
        return Err(UpdateError::HashMismatch {
            file: file.name.clone(),
            expected: file.sha256.clone(),
            found,
        });
    }
    if let Some((out, path)) = out {
        out.sync_all().map_err(io_at("sync", path))?;
    }
    Ok(())
}

fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    entry
        .path()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "(unreadable name)".into())
}

fn read_limited(reader: &mut impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!("over {limit} bytes")));
    }
    Ok(bytes)
}

/// Makes a bundle (the fleet side): hashes the files, signs the manifest,
/// writes the tar. Time stamps in the tar are zero, so the same inputs give
/// the same bytes except for the manifest's `created_at`.
pub fn pack(
    out: &Path,
    version: &str,
    files: &[PathBuf],
    key: &ring::signature::Ed25519KeyPair,
) -> Result<Manifest, UpdateError> {
    let mut entries = Vec::new();
    for path in files {
        entries.push(describe(path)?);
    }
    let manifest = Manifest {
        format: manifest::FORMAT,
        compatible: manifest::COMPATIBLE.into(),
        version: version.into(),
        created_at: jiff::Timestamp::now(),
        files: entries,
    };
    manifest.check()?;
    let (manifest_bytes, signature) = manifest::sign(&manifest, key)?;

    let temp = pos_bridge::spool::temp_path(out);
    let file = File::create(&temp).map_err(io_at("create", &temp))?;
    let mut tar = tar::Builder::new(file);
    append(&mut tar, "manifest.json", 0o644, &manifest_bytes[..], &temp)?;
    append(&mut tar, "manifest.sig", 0o644, signature.as_bytes(), &temp)?;
    for (path, entry) in files.iter().zip(&manifest.files) {
        let payload = File::open(path).map_err(io_at("open", path))?;
        append_sized(&mut tar, &entry.name, 0o755, entry.size, payload, &temp)?;
    }
    let file = tar.into_inner().map_err(io_at("write", &temp))?;
    file.sync_all().map_err(io_at("sync", &temp))?;
    pos_bridge::spool::publish_temp(&temp, out)
        .map_err(|e| io_at("publish", out)(std::io::Error::other(e.to_string())))?;
    Ok(manifest)
}

fn describe(path: &Path) -> Result<FileEntry, UpdateError> {
    let mut file = File::open(path).map_err(io_at("open", path))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(io_at("read", path))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(FileEntry {
        name,
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    mode: u32,
    bytes: &[u8],
    out: &Path,
) -> Result<(), UpdateError> {
    append_sized(tar, name, mode, bytes.len() as u64, bytes, out)
}

fn append_sized<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    mode: u32,
    size: u64,
    data: impl Read,
    out: &Path,
) -> Result<(), UpdateError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    tar.append_data(&mut header, name, data)
        .map_err(io_at("write", out))
}
