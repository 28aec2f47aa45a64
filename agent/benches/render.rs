//! Invoice rendering speed and memory.
//!
//! `cargo bench -p relais --bench render` prints, on this machine:
//! - the sample day's export (219 invoices, read before the clock starts)
//!   rendered in one thread: the best of 3 passes after a warm-up pass, with
//!   ReportLab drawing the same invoices in the same run when Python has it
//!   (`pip install reportlab`), and the ratio;
//! - a 10,000-invoice export read as a stream and rendered one by one
//!   (reading and rendering timed together, no PDF written), with the
//!   process's peak resident memory;
//! - 219 synthetic invoices of 1 to 60 lines (larger than the sample's):
//!   the first pass alone, then the median and best of the next 5 passes on
//!   one thread, and the median of 5 passes split over every core. Rendering
//!   only, no PDF written (but with `--out`, on the first pass).
//!
//! `-- --out DIR` also writes the synthetic PDFs there for a look.

use std::time::{Duration, Instant};

use jiff::civil::date;
use pos_bridge::invoice::{Invoice, InvoiceCustomer, InvoiceLine, Origin};
use relais::invoice::render::{render, Seller};
use rust_decimal::Decimal;

const INVOICES: usize = 219;
const ROUNDS: usize = 5;

fn main() {
    sample_day_against_reportlab();
    ten_thousand_invoices();
    let out = output_dir();
    let seller = Seller::sample();
    let day: Vec<Invoice> = (0..INVOICES).map(invoice).collect();
    let lines: usize = day.iter().map(|i| i.lines.len()).sum();

    let (bytes, first) = render_all(&day, &seller, out.as_deref());
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| render_all(&day, &seller, None).1)
        .collect();
    rounds.sort();

    let median = rounds[ROUNDS / 2];
    println!(
        "synthetic invoices: {INVOICES} made-up invoices of 1 to 60 lines ({lines} lines, {} KB \
         of PDF), rendering only, no PDF written:",
        bytes / 1024
    );
    println!(
        "  first pass, one thread: {first:.2?} (with writing the PDFs when --out is given, and \
         loading the fonts when no pass ran before)"
    );
    println!(
        "  next {ROUNDS} passes, one thread: median {median:.2?}, best {:.2?}; per invoice {:.2?} \
         (median / {INVOICES})",
        rounds[0],
        median / INVOICES as u32
    );

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parallel: Vec<Duration> = (0..ROUNDS)
        .map(|_| render_parallel(&day, &seller, threads))
        .collect();
    parallel.sort();
    println!(
        "  {ROUNDS} passes split over {threads} threads: median {:.2?}",
        parallel[ROUNDS / 2]
    );
}

/// The batch split over `threads` threads, as the publisher renders
/// several invoices at once.
fn render_parallel(day: &[Invoice], seller: &Seller, threads: usize) -> Duration {
    let start = Instant::now();
    let chunk = day.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in day.chunks(chunk) {
            scope.spawn(move || render_all(part, seller, None));
        }
    });
    start.elapsed()
}

fn output_dir() -> Option<std::path::PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--out")?;
    let dir = std::path::PathBuf::from(args.get(at + 1)?);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

fn render_all(
    day: &[Invoice],
    seller: &Seller,
    out: Option<&std::path::Path>,
) -> (usize, Duration) {
    let start = Instant::now();
    let mut bytes = 0;
    for invoice in day {
        let pdf = match render(invoice, seller) {
            Ok(pdf) => pdf,
            Err(e) => panic!("{e}"),
        };
        bytes += pdf.len();
        if let Some(dir) = out {
            let path = dir.join(format!("{}.pdf", invoice.number));
            if let Err(e) = std::fs::write(&path, &pdf) {
                panic!("writing {}: {e}", path.display());
            }
        }
    }
    (bytes, start.elapsed())
}

/// A deterministic made-up invoice: 1 to 60 lines over a few web orders and
/// counter tickets, weights and counts, both food and non-food VAT rates.
fn invoice(n: usize) -> Invoice {
    let mut seed = (n as u64 + 1).wrapping_mul(6_364_136_223_846_793_005);
    let mut next = move |modulo: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % modulo
    };
    let count = 1 + next(60) as usize;
    let lines = (0..count)
        .map(|i| line(i, next(4), next(20_000), next(9_000)))
        .collect();
    Invoice {
        number: format!("F2026-{:06}", 12_000 + n),
        date: date(2026, 12, 2),
        due_date: date(2027, 1, 1),
        payment_terms: "LCR 30 jours".to_string(),
        customer: InvoiceCustomer {
            code: format!("{:06}", 4_000 + n),
            name: format!("Restaurant du Marché n° {n}"),
            siret: "987 654 324 00017".to_string(),
            vat_number: "FR52987654324".to_string(),
            address: "18 rue des Halles".to_string(),
            postcode: "75001".to_string(),
            city: "Paris".to_string(),
            email: "compta@example.fr".to_string(),
        },
        lines,
        corrects: None,
    }
}

fn line(i: usize, order: u64, milli_qty: u64, cents: u64) -> InvoiceLine {
    let web = order.is_multiple_of(2);
    let quantity = if i.is_multiple_of(3) {
        Decimal::new(milli_qty as i64 + 100, 3)
    } else {
        Decimal::from(milli_qty % 12 + 1)
    };
    let unit_price_ht = Decimal::new(cents as i64 + 50, 2);
    let vat_rate = if i % 11 == 10 {
        Decimal::from(20)
    } else {
        Decimal::new(55, 1)
    };
    let amount_ht = (quantity * unit_price_ht).round_dp(2);
    let amount_vat = (amount_ht * vat_rate / Decimal::from(100)).round_dp(2);
    InvoiceLine {
        source_line: i as u64 + 2,
        origin: if web { Origin::Web } else { Origin::Counter },
        reference: if web {
            format!("38{:04}", order)
        } else {
            format!("T261202-3-{order:05}")
        },
        article: format!("A{:05}", 10_000 + i * 7),
        label: format!("Produit frais de saison n° {i}, origine France, calibre extra"),
        quantity,
        unit: if i.is_multiple_of(3) {
            "kg".to_string()
        } else {
            "colis".to_string()
        },
        unit_price_ht,
        amount_ht,
        vat_rate,
        amount_vat,
        amount_ttc: amount_ht + amount_vat,
    }
}

fn repo_file(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Peak resident memory of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn read_export(bytes: &[u8]) -> Vec<Invoice> {
    use pos_bridge::export::{ExportItem, ExportReader};
    let reader = match ExportReader::new(bytes, &pos_bridge::dialect::Dialect::french_erp()) {
        Ok(reader) => reader,
        Err(e) => panic!("sample export: {e}"),
    };
    reader
        .filter_map(|item| match item {
            Ok(ExportItem::Invoice(invoice)) => Some(*invoice),
            _ => None,
        })
        .collect()
}

fn sample_day_against_reportlab() {
    let export = repo_file("../tests/samples/day-2026-12-02/erp/FACTURES_20261202.csv");
    let bytes = std::fs::read(&export).unwrap_or_default();
    let day = read_export(&bytes);
    if day.is_empty() {
        println!("sample day: no export at {}", export.display());
        return;
    }
    let seller = Seller::sample();
    render_all(&day, &seller, None);
    let best = (0..3)
        .map(|_| render_all(&day, &seller, None).1)
        .min()
        .unwrap_or_default();
    let rate = day.len() as f64 / best.as_secs_f64();
    println!(
        "sample day's export: {} invoices rendered in {best:.2?} on one thread ({rate:.0} \
         invoices/s; best of 3 passes after a warm-up, rendering only, export read before)",
        day.len()
    );
    match reportlab_seconds(&day) {
        Some(seconds) => println!(
            "ReportLab, same invoices, same fonts, same run: {seconds:.2} s: \
             relais is {:.1}x faster (target 10x)",
            seconds / best.as_secs_f64()
        ),
        None => println!("ReportLab not available (pip install reportlab): no side-by-side figure"),
    }
}

/// Runs the Python baseline on the same invoices; its last line is seconds.
fn reportlab_seconds(day: &[Invoice]) -> Option<f64> {
    let dir = std::env::temp_dir().join(format!("relais-render-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let json = dir.join("invoices.json");
    std::fs::write(&json, serde_json::to_vec(day).ok()?).ok()?;
    let output = std::process::Command::new("python3")
        .arg(repo_file("benches/reportlab_baseline.py"))
        .arg(&json)
        .arg(repo_file("assets/fonts"))
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// A 10,000-invoice export made from the sample day's rows with new
/// invoice numbers, streamed from disk and rendered one invoice at a time.
fn ten_thousand_invoices() {
    let export = repo_file("../tests/samples/day-2026-12-02/erp/FACTURES_20261202.csv");
    let Ok(bytes) = std::fs::read(&export) else {
        println!("10,000 invoices: no sample export");
        return;
    };
    let text = encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header = lines.next().unwrap_or_default().to_string();
    let rows: Vec<&str> = lines.collect();
    let path = std::env::temp_dir().join(format!("relais-10k-{}.csv", std::process::id()));
    if let Err(e) = write_big_export(&path, &header, &rows, 10_000) {
        println!("10,000 invoices: cannot write {}: {e}", path.display());
        return;
    }
    drop(rows);
    let seller = Seller::sample();
    let started = Instant::now();
    let (mut rendered, mut bytes_out) = (0usize, 0usize);
    let file = std::fs::File::open(&path).map(std::io::BufReader::new);
    let dialect = pos_bridge::dialect::Dialect::french_erp();
    if let Ok(reader) = file.map(|f| pos_bridge::export::ExportReader::new(f, &dialect)) {
        for item in reader.into_iter().flatten().flatten() {
            if let pos_bridge::export::ExportItem::Invoice(invoice) = item {
                bytes_out += render(&invoice, &seller).map_or(0, |pdf| pdf.len());
                rendered += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&path);
    println!(
        "10,000-invoice export streamed: {rendered} read from disk and rendered in {elapsed:.2?} \
         ({:.0} invoices/s, {} MB of PDF not written), peak RSS {} KiB (target < 50 MB)",
        rendered as f64 / elapsed.as_secs_f64(),
        bytes_out / 1_000_000,
        peak_rss_kib()
    );
}

/// Writes `count` invoices made of the sample's rows, renumbered, row by
/// row (the file is never held in memory whole).
fn write_big_export(
    path: &std::path::Path,
    header: &str,
    rows: &[&str],
    count: usize,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let encode = |line: String| encoding_rs::WINDOWS_1252.encode(&line).0.into_owned();
    out.write_all(&encode(format!("{header}\r\n")))?;
    let (mut invoices, mut round) = (0, 0);
    while invoices < count {
        round += 1;
        let mut last = "";
        for row in rows {
            let (number, rest) = row.split_once(';').unwrap_or((row, ""));
            if number != last {
                if invoices == count {
                    break;
                }
                invoices += 1;
                last = number;
            }
            out.write_all(&encode(format!("{number}R{round};{rest}\r\n")))?;
        }
    }
    out.flush()
}
