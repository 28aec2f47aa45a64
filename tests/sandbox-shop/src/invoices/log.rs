//! `uploads.log`: one JSON line per answered invoice `PUT`, so tests can count how often each
//! invoice was created, even after the shop's process was killed.
//!
//! A line is on disk before the client gets its answer. A crash can only tear the line being
//! written when the power goes mid-write; that line was never answered, so on start the torn
//! tail is cut off before anything is appended after it.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::durable;
use crate::error::ShopError;

/// File name of the journal inside the data folder.
pub(crate) const LOG_FILE: &str = "uploads.log";

/// What a `PUT` of an invoice came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadOutcome {
    /// The invoice was stored (201).
    Created,
    /// The same invoice was held already; nothing was stored (200).
    Identical,
    /// The number is held with other bytes or for another customer; refused (409).
    Conflict,
}

/// One line of `uploads.log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Invoice number of the upload.
    pub number: String,
    /// Customer named by the upload (`X-Relais-Customer`).
    pub customer_id: u64,
    /// SHA-256 of the uploaded bytes, lowercase hex.
    pub sha256: String,
    /// What the upload came to.
    pub outcome: UploadOutcome,
    /// When the shop decided, UTC.
    pub at: Timestamp,
    /// True on a `created` line written at start for a PDF that was stored but whose answer
    /// and log line were lost to a crash; `at` is then the file's modification time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
}

/// Path of the journal in `data_dir`.
pub(crate) fn log_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LOG_FILE)
}

/// Appends one record, durably.
pub(crate) fn append(path: &Path, record: &UploadRecord) -> Result<(), ShopError> {
    let line = serde_json::to_string(record)
        .map_err(|e| ShopError::io("encode a record for", path)(e.into()))?;
    durable::append_line_synced(path, &line)
}

/// Reads the journal of a data folder; a missing file is an empty journal.
pub fn read_upload_log(data_dir: &Path) -> Result<Vec<UploadRecord>, ShopError> {
    let path = log_path(data_dir);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(parse(&text, &path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ShopError::io("read", path)(e)),
    }
}

/// Cuts an unterminated last line, left by a write the power cut short.
pub(crate) fn repair_torn_tail(path: &Path) -> Result<(), ShopError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ShopError::io("read", path)(e)),
    };
    let whole = complete_lines_len(&bytes);
    if whole == bytes.len() {
        return Ok(());
    }

    tracing::warn!(path = %path.display(), cut = bytes.len() - whole, "cutting a torn log line");
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(ShopError::io("open for repair", path))?;
    file.set_len(whole as u64)
        .and_then(|()| file.sync_all())
        .map_err(ShopError::io("truncate the torn line of", path))
}

/// Length of the part of `bytes` made of newline-terminated lines.
fn complete_lines_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

fn parse(text: &str, path: &Path) -> Vec<UploadRecord> {
    let mut records = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(e) => {
                tracing::warn!(path = %path.display(), line = index + 1, error = %e, "skipping")
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(number: &str, outcome: UploadOutcome) -> UploadRecord {
        UploadRecord {
            number: number.to_owned(),
            customer_id: 3,
            sha256: "ab".to_owned(),
            outcome,
            at: Timestamp::UNIX_EPOCH,
            recovered: false,
        }
    }

    #[test]
    fn a_line_reads_back_as_written() {
        let line = serde_json::to_string(&record("F1", UploadOutcome::Created)).expect("json");
        assert_eq!(
            line,
            concat!(
                r#"{"number":"F1","customer_id":3,"sha256":"ab","#,
                r#""outcome":"created","at":"1970-01-01T00:00:00Z"}"#
            )
        );
        assert_eq!(
            parse(&line, Path::new("x")),
            vec![record("F1", UploadOutcome::Created)]
        );
    }

    #[test]
    fn a_torn_last_line_is_cut_and_earlier_lines_stay() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(LOG_FILE);
        append(&path, &record("F1", UploadOutcome::Created)).expect("append");
        let mut bytes = fs::read(&path).expect("read");
        bytes.extend_from_slice(br#"{"number":"F2","cust"#);
        fs::write(&path, &bytes).expect("tear");

        repair_torn_tail(&path).expect("repair");
        append(&path, &record("F3", UploadOutcome::Conflict)).expect("append");

        let numbers: Vec<String> = read_upload_log(dir.path())
            .expect("read")
            .into_iter()
            .map(|r| r.number)
            .collect();
        assert_eq!(numbers, ["F1", "F3"]);
    }
}
