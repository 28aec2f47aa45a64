//! A one-million-row invoice export read as a stream.
//!
//! Writes the export to a temporary folder (Windows-1252, `;`, CRLF, ten
//! rows per invoice), reads it back with [`ExportReader`], and prints rows
//! per second and the process's peak resident memory (VmHWM). The target is
//! under 30 MB whatever the file's size: the reader holds one invoice at a
//! time.
//!
//! `cargo bench -p pos-bridge --bench export_stream` runs the million rows;
//! without `--bench` (as `cargo test --benches` runs it) it reads 10 000
//! rows as a smoke test. `EXPORT_ROWS` sets the count.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use pos_bridge::dialect::Dialect;
use pos_bridge::export::{ExportItem, ExportReader};

const HEADER: &str = "NumFacture;DateFacture;CodeClient;RaisonSociale;SIRET;TVAIntra;Adresse;\
    CP;Ville;EmailClient;Origine;RefCommande;CodeArticle;Libelle;Qte;Unite;PUHT;MontantHT;\
    TauxTVA;MontantTVA;MontantTTC;Echeance;ModeReglement";

const ROWS_PER_INVOICE: u64 = 10;
const TARGET_BYTES: u64 = 30 * 1024 * 1024;

fn write_export(path: &Path, rows: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(256 * 1024, File::create(path)?);
    out.write_all(HEADER.as_bytes())?;
    out.write_all(b"\r\n")?;
    for row in 0..rows {
        let invoice = row / ROWS_PER_INVOICE;
        // \xE9 and \xC9 are é and É in Windows-1252: the decoder does real
        // work on every row.
        write!(out, "FA{:07};02/12/2026;C{:06};", invoice, invoice % 700)?;
        out.write_all(
            b"Caf\xE9 du March\xE9;14801065522249;FR91148010655;70 quai de la Seine;75011;\
              Paris;client@example.test;WEB;",
        )?;
        write!(out, "{};", 380_000 + row)?;
        out.write_all(
            b"FL-ECHAL-5K;\xC9chalotes longues 5 kg;6;sac;16,20;97,20;5,5;5,35;102,55;\
              01/01/2027;LCR 30 jours\r\n",
        )?;
    }
    out.flush()?;
    Ok(out.get_ref().metadata()?.len())
}

/// Peak resident memory of this process, from /proc/self/status.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let benching = std::env::args().any(|a| a == "--bench");
    let default_rows = if benching { 1_000_000 } else { 10_000 };
    let rows: u64 = match std::env::var("EXPORT_ROWS") {
        Ok(text) => text.parse()?,
        Err(_) => default_rows,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("FACTURES.csv");
    let bytes = write_export(&path, rows)?;
    let before = peak_rss_bytes().unwrap_or(0);

    let start = Instant::now();
    let (mut invoices, mut lines, mut held) = (0u64, 0u64, 0u64);
    for item in ExportReader::new(File::open(&path)?, &Dialect::french_erp())? {
        match item? {
            ExportItem::Invoice(invoice) => {
                invoices += 1;
                lines += invoice.lines.len() as u64;
            }
            ExportItem::Held(_) => held += 1,
        }
    }
    let elapsed = start.elapsed();
    let peak = peak_rss_bytes().unwrap_or(0);

    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "export: {rows} rows, {:.1} MiB, {invoices} invoices, {held} held",
        mib(bytes)
    );
    println!(
        "read: {lines} rows in {:.2} s = {:.0} rows/s",
        elapsed.as_secs_f64(),
        lines as f64 / elapsed.as_secs_f64()
    );
    println!(
        "peak RSS (VmHWM): {:.1} MiB (before reading {:.1} MiB); target under {} MiB: {}",
        mib(peak),
        mib(before),
        TARGET_BYTES / (1024 * 1024),
        if peak < TARGET_BYTES { "met" } else { "MISSED" }
    );
    if lines != rows || held != 0 {
        return Err(format!("read {lines} rows and held {held} invoices of {rows} rows").into());
    }
    if peak >= TARGET_BYTES {
        return Err("peak memory over the target".into());
    }
    Ok(())
}
