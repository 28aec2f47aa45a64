//! `relais invoices check` names every problem with its line, and the rest
//! of the file is still read.

use std::process::Command;

#[test]
fn a_broken_row_is_reported_with_its_line_and_the_rest_is_read() {
    let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02/erp/FACTURES_20261202.csv");
    let bytes = std::fs::read(sample).expect("sample export");
    let text = encoding_rs::WINDOWS_1252
        .decode(&bytes)
        .0
        .replacen(";57,60;", ";57.60;", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("FACTURES.csv");
    std::fs::write(&file, encoding_rs::WINDOWS_1252.encode(&text).0).expect("write");

    let output = Command::new(env!("CARGO_BIN_EXE_relais"))
        .args(["invoices", "check", "--json"])
        .arg(&file)
        .output()
        .expect("run relais");
    assert_eq!(output.status.code(), Some(2), "problems give exit code 2");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let invoices = report["invoices"].as_array().expect("invoices");
    assert_eq!(invoices.len(), 219);
    let held: Vec<_> = invoices
        .iter()
        .filter(|i| i["problems"] != serde_json::json!([]))
        .collect();
    assert_eq!(held.len(), 1);
    let problem = held[0]["problems"][0].as_str().expect("problem text");
    assert!(problem.starts_with("line 2, column MontantHT"), "{problem}");
    assert!(problem.contains("\"57.60\""), "{problem}");
}
