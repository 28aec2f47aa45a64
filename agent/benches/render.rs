//! Time to render one day of invoices (219, the size of a busy day's ERP
//! export) as PDFs, in one thread.
//!
//! `cargo bench -p relais --bench render` prints the time per batch and per
//! invoice; `-- --out DIR` also writes the PDFs there for a look.

use std::time::{Duration, Instant};

use jiff::civil::date;
use pos_bridge::invoice::{Invoice, InvoiceCustomer, InvoiceLine, Origin};
use relais::invoice::render::{render, Seller};
use rust_decimal::Decimal;

const INVOICES: usize = 219;
const ROUNDS: usize = 5;

fn main() {
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
        "{INVOICES} invoices, {lines} lines, {} KB of PDF",
        bytes / 1024
    );
    println!("first batch (fonts parsed on first use): {first:.2?}");
    println!(
        "batch: median {median:.2?}, best {:.2?}; per invoice {:.2?}",
        rounds[0],
        median / INVOICES as u32
    );

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut parallel: Vec<Duration> = (0..ROUNDS)
        .map(|_| render_parallel(&day, &seller, threads))
        .collect();
    parallel.sort();
    println!(
        "batch on {threads} threads: median {:.2?}",
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
