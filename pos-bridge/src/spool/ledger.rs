//! The content hashes of the files a spool folder has taken, so the same
//! content dropped again is a logged no-op.
//!
//! One line per file, appended and synced after the caller has stored the
//! file and before it is moved to `done/`. A crash between the store and the
//! append leaves the file in the inbox with no line: it is offered again and
//! the caller's own dedup (invariant 2) makes that a no-op. A crash between
//! the append and the move leaves a known hash in the inbox: it goes to
//! `done/` as a duplicate. A half-written last line (power cut during the
//! append) is skipped on reading.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::SpoolError;

/// The hashes already taken, loaded from and appended to one file.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    hashes: HashSet<String>,
}

impl Ledger {
    /// Loads the ledger at `path` (absent means empty).
    pub fn open(path: &Path) -> Result<Ledger, SpoolError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(SpoolError {
                    action: "read ledger",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let hashes = text
            .lines()
            .filter_map(|line| line.split(' ').next())
            .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string)
            .collect();
        Ok(Ledger {
            path: path.to_path_buf(),
            hashes,
        })
    }

    /// Has this content been taken before?
    pub fn contains(&self, sha256: &str) -> bool {
        self.hashes.contains(sha256)
    }

    /// Records a taken file durably.
    pub fn record(&mut self, sha256: &str, day: &str, name: &str) -> Result<(), SpoolError> {
        let at = |source| SpoolError {
            action: "append to ledger",
            path: self.path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(at)?;
        // A name with a line end would start a bogus line; the hash is what counts.
        let name = name.replace(['\n', '\r'], " ");
        file.write_all(format!("{sha256} {day} {name}\n").as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(at)?;
        self.hashes.insert(sha256.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_survive_a_reopen_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger");
        let hash = "a".repeat(64);
        let mut ledger = Ledger::open(&path).expect("open");
        ledger.record(&hash, "2026-12-02", "x.csv").expect("record");
        let mut file = OpenOptions::new().append(true).open(&path).expect("file");
        file.write_all(b"bbbbbbbb").expect("torn line");
        let ledger = Ledger::open(&path).expect("reopen");
        assert!(ledger.contains(&hash));
        assert!(!ledger.contains("bbbbbbbb"));
    }
}
