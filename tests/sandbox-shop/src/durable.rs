//! Writing files so that a killed process or a power cut leaves either the old state or the
//! new one, never half of a file.
//!
//! Two shapes are used, always through these helpers:
//!
//! - a whole file handed over (an invoice PDF, the CA certificate): written under a temporary
//!   name in the destination folder, fsynced, renamed over the final name, then the folder is
//!   fsynced so the rename itself is on disk;
//! - a line appended to a journal (`uploads.log`): one `write` call of the whole line, then
//!   `fdatasync`, before anyone is told the line exists.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ShopError;

/// Suffix of temporary files; files ending with it are leftovers of an interrupted write.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Tells temporary names apart when two writes to one folder overlap.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `dir/file_name` atomically and durably.
pub(crate) fn write_atomically(dir: &Path, file_name: &str, bytes: &[u8]) -> Result<(), ShopError> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(
        ".{file_name}.{}.{n}{TEMP_SUFFIX}",
        std::process::id()
    ));
    let target = dir.join(file_name);

    let written = write_synced(&temp, bytes)
        .and_then(|()| fs::rename(&temp, &target).map_err(ShopError::io("rename into", &target)));
    if written.is_err() {
        // Best effort: a leftover temporary file is ignored on the next start anyway.
        let _ = fs::remove_file(&temp);
    }
    written?;

    sync_dir(dir)
}

/// Appends `line` and a newline to `path` and returns once the data is on disk.
pub(crate) fn append_line_synced(path: &Path, line: &str) -> Result<(), ShopError> {
    let is_new = !path.exists();
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(ShopError::io("open for appending", path))?;

    let mut record = String::with_capacity(line.len() + 1);
    record.push_str(line);
    record.push('\n');
    file.write_all(record.as_bytes())
        .map_err(ShopError::io("append to", path))?;
    file.sync_data().map_err(ShopError::io("fsync", path))?;

    if is_new {
        sync_dir(parent_of(path))?;
    }
    Ok(())
}

/// Creates `dir` and any missing parents, fsyncing each new folder's parent so the new
/// folders survive a power cut along with the files later put in them.
pub(crate) fn create_dir_durably(dir: &Path) -> Result<(), ShopError> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cursor = Some(dir);
    while let Some(path) = cursor.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        missing.push(path.to_path_buf());
        cursor = path.parent();
    }

    for path in missing.iter().rev() {
        match fs::create_dir(path) {
            Ok(()) => sync_dir(parent_of(path))?,
            // Another writer made it first: it is responsible for its durability.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ShopError::io("create the folder", path)(e)),
        }
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ShopError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(ShopError::io("create", path))?;
    file.write_all(bytes)
        .map_err(ShopError::io("write", path))?;
    file.sync_all().map_err(ShopError::io("fsync", path))
}

fn sync_dir(dir: &Path) -> Result<(), ShopError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(ShopError::io("fsync the folder", dir))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_atomically(dir.path(), "a.pdf", b"first").expect("first write");
        write_atomically(dir.path(), "a.pdf", b"second").expect("second write");

        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec!["a.pdf"]);
        assert_eq!(fs::read(dir.path().join("a.pdf")).expect("read"), b"second");
    }

    #[test]
    fn appended_lines_follow_each_other() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("nested").join("x.log");
        create_dir_durably(parent_of(&log)).expect("mkdir");
        append_line_synced(&log, "one").expect("append");
        append_line_synced(&log, "two").expect("append");

        assert_eq!(fs::read_to_string(&log).expect("read"), "one\ntwo\n");
    }
}
