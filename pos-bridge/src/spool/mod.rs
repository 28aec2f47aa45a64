//! Spool folders: files handed to someone else on the LAN, written
//! atomically, always the same way; and folders watched for files dropped
//! by others ([`watch`]).
//!
//! A reader on the other side (the ERP polling its import folder, a person
//! opening a share) must never see half a file, and a power cut must never
//! leave an empty file under the final name. So: write under a temporary name
//! in the same folder, fsync the file, rename it over the final name, fsync
//! the folder so the rename itself is durable.

mod ledger;
pub mod settle;
pub mod watch;

pub use watch::{SpoolConfig, SpoolCounters, SpoolFile, SpoolWatcher, WatchMode};

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Prefix of temporary files; spool readers skip names that start with it.
pub const TEMP_PREFIX: &str = ".relais-tmp-";

/// An I/O failure with the path it happened on.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct SpoolError {
    /// What was being done ("write", "rename", ...).
    pub action: &'static str,
    /// The file or folder concerned.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}

fn at<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> SpoolError + 'p {
    move |source| SpoolError {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically and durably (see the module doc).
/// Returns once the file and its name are on disk.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let temp = write_temp(path, bytes)?;
    publish_temp(&temp, path)
}

/// The folder a file is in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The temporary name a file for `path` is written under first.
pub fn temp_path(path: &Path) -> PathBuf {
    let folder = folder_of(path);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    folder.join(format!("{TEMP_PREFIX}{name}"))
}

/// First half of an atomic write: the bytes under the temporary name,
/// fsynced. Readers of the folder ignore that name.
pub fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, SpoolError> {
    if path.file_name().is_none() {
        return Err(SpoolError {
            action: "name",
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "no file name"),
        });
    }
    let temp = temp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .map_err(at("create", &temp))?;
    file.write_all(bytes).map_err(at("write", &temp))?;
    file.sync_all().map_err(at("sync", &temp))?;
    Ok(temp)
}

/// Second half: rename the temporary file to its final name and fsync the
/// folder, so the new name survives a power cut.
pub fn publish_temp(temp: &Path, path: &Path) -> Result<(), SpoolError> {
    fs::rename(temp, path).map_err(at("rename", path))?;
    sync_dir(folder_of(path))
}

/// Fsyncs a folder so that renames and new names in it are durable.
pub fn sync_dir(folder: &Path) -> Result<(), SpoolError> {
    File::open(folder)
        .and_then(|dir| dir.sync_all())
        .map_err(at("sync folder", folder))
}

/// Creates a folder and its parents, and makes the new names durable.
pub fn ensure_dir(folder: &Path) -> Result<(), SpoolError> {
    fs::create_dir_all(folder).map_err(at("create folder", folder))?;
    if let Some(parent) = folder.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Is this a name a spool reader must leave alone (temporary or partial)?
pub fn is_temporary_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
        || name.starts_with("~$")
        || name.starts_with('.')
        || name.ends_with(".tmp")
        || name.ends_with(".part")
}

/// Moves a taken file into `done/<yyyy-mm-dd>/` beside it, durably.
pub fn move_to_done(path: &Path, day: &str) -> Result<PathBuf, SpoolError> {
    let folder = folder_of(path);
    let done = folder.join("done").join(day);
    ensure_dir(&done)?;
    let target = done.join(path.file_name().unwrap_or_default());
    fs::rename(path, &target).map_err(at("move to done", path))?;
    sync_dir(&done)?;
    sync_dir(folder)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_leaves_only_the_final_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("CMD_0001.csv");
        write_atomic(&path, b"first").expect("write");
        write_atomic(&path, b"second").expect("rewrite");
        assert_eq!(fs::read(&path).expect("read"), b"second");
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn temporary_and_office_lock_files_are_not_taken() {
        assert!(is_temporary_name(".relais-tmp-x.csv"));
        assert!(is_temporary_name("~$FACTURES.csv"));
        assert!(is_temporary_name("FACTURES.csv.part"));
        assert!(!is_temporary_name("FACTURES_20261202.csv"));
    }
}
