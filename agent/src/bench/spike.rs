//! The sales-event spike: a day of ten times the usual documents, from the
//! sample generator, mapped and drained to the ERP at the configured rate.
//!
//! Two figures matter and neither needs waiting in real time:
//!
//! - orders mapped per second on one thread, mapping alone (the orders are
//!   parsed beforehand; parsing is timed on its own);
//! - the time the backlog takes to reach the ERP at `max_files_per_minute`
//!   files of `max_docs_per_file` documents. The delivery rounds run on a
//!   simulated clock, one every `poll_seconds`, against the same pure
//!   [`FileRate`] the daemon uses; the files are really written, and the
//!   real time spent writing them is reported beside the simulated drain.
//!
//! Resident memory is sampled through intake, mapping and every delivery
//! round: the drain holds one file's rows at a time, so it stays flat.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use pos_bridge::dialect::Dialect;
use pos_bridge::ticket::Ticket;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::rss_kib;
use crate::erp::throttle::FileRate;
use crate::erp::{deliver_imports_at, ErpSettings};
use crate::mapping::import::read_file;
use crate::mapping::order::{map_order, Context};
use crate::mapping::site::{Clients, SiteRules};
use crate::pipeline::{process_stored, Site};
use crate::shop::order::Order;
use crate::store::{Dest, Intake, Kind, State, Store};

/// The rate the spike drains at (from the site's `[erp]` section).
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// `max_files_per_minute` (0: no limit).
    pub files_per_minute: u32,
    /// `max_docs_per_file`.
    pub docs_per_file: usize,
    /// `poll_seconds`: one delivery round every this many seconds.
    pub round_seconds: u64,
}

/// What the spike measured.
#[derive(Debug, Default)]
pub struct SpikeReport {
    /// Web orders in the day.
    pub orders: usize,
    /// Counter tickets in the day.
    pub tickets: usize,
    /// Orders mapped per second on one thread, mapping alone.
    pub mapped_per_second: f64,
    /// Documents queued for the ERP by the pipeline.
    pub queued: usize,
    /// Documents held or quarantined by the pipeline.
    pub not_sent: usize,
    /// Import files written, and the documents in them.
    pub files: usize,
    /// Documents in the files.
    pub documents: usize,
    /// From the first delivery round to the last file, on the simulated clock.
    pub drain: SignedDuration,
    /// Most files in any sliding minute of the simulated clock.
    pub busiest_minute: usize,
    /// Most documents in one file.
    pub largest_file: usize,
    /// Real time spent writing the files (the limit costs none).
    pub writing_seconds: f64,
    /// Resident memory (KiB) before the drain, and its least and most during it.
    pub rss_drain_kib: (u64, u64, u64),
}

/// Maps and drains the generated day in `day` (gen_day.py's layout), with
/// the store and the ERP's import folder under `work`.
pub fn run(day: &Path, work: &Path, rate: Rate) -> anyhow::Result<SpikeReport> {
    let orders_file = only_file(&day.join("woocommerce"), "json")?;
    let tickets_file = only_file(&day.join("pos"), "jsonl")?;
    let raw: Vec<Box<RawValue>> = serde_json::from_slice(&std::fs::read(orders_file)?)?;
    let tickets = std::fs::read_to_string(tickets_file)?;
    let clients = Clients::read(
        std::fs::File::open(day.join("erp/clients.csv"))?,
        &Dialect::french_erp(),
    )?;
    let site = Site {
        rules: SiteRules::default(),
        clients,
        tz: jiff::tz::TimeZone::get("Europe/Paris")?,
        import_dialect: Dialect::french_erp(),
        export_dialect: Dialect::french_erp(),
    };
    let mut report = SpikeReport {
        orders: raw.len(),
        tickets: tickets.lines().filter(|l| !l.trim().is_empty()).count(),
        ..Default::default()
    };
    println!(
        "spike day: {} web orders and {} counter tickets, RSS {} KiB",
        report.orders,
        report.tickets,
        rss_kib()
    );

    report.mapped_per_second = mapping_alone(&raw, &site)?;
    let store = Store::open(&work.join("spike.redb"))?;
    intake(&store, &raw, &tickets, &site)?;
    drop(raw);
    let started = Instant::now();
    let pass = process_stored(&store, &site)?;
    report.queued = pass.queued;
    report.not_sent = pass.held + pass.quarantined;
    println!(
        "pipeline: {} queued for the ERP (credit notes included: {}), {} held, {} \
         quarantined in {:.2} s, RSS {} KiB",
        pass.queued,
        pass.amendments,
        pass.held,
        pass.quarantined,
        started.elapsed().as_secs_f64(),
        rss_kib()
    );

    let settings = ErpSettings {
        max_docs_per_file: rate.docs_per_file,
        max_files_per_minute: rate.files_per_minute,
        ..ErpSettings::under(&work.join("erp"))
    };
    drain(&store, &settings, &site, rate, &mut report)?;
    Ok(report)
}

/// Orders mapped per second on this thread, over at least two seconds.
fn mapping_alone(raw: &[Box<RawValue>], site: &Site) -> anyhow::Result<f64> {
    let started = Instant::now();
    let orders: Vec<Order> = raw
        .iter()
        .map(|o| serde_json::from_str(o.get()))
        .collect::<Result<_, _>>()?;
    let parsing = started.elapsed().as_secs_f64();
    let cx = Context {
        rules: &site.rules,
        clients: &site.clients,
        tz: &site.tz,
    };
    let started = Instant::now();
    let mut mapped = 0u64;
    while started.elapsed().as_secs_f64() < 2.0 {
        for order in &orders {
            std::hint::black_box(map_order(std::hint::black_box(order), &cx)?);
            mapped += 1;
        }
    }
    let per_second = mapped as f64 / started.elapsed().as_secs_f64();
    println!(
        "mapping alone, one thread: {per_second:.0} orders/s (target >= 5000); parsing the \
         JSON beforehand: {:.0} orders/s",
        orders.len() as f64 / parsing.max(1e-9)
    );
    Ok(per_second)
}

/// Stores every order and ticket as the shop pull and the POS link would.
fn intake(store: &Store, raw: &[Box<RawValue>], tickets: &str, site: &Site) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut docs = Vec::new();
    for order in raw {
        let parsed: Order = serde_json::from_str(order.get())?;
        let created = parsed
            .created()
            .map_err(|e| anyhow::anyhow!("order {}: {}: {:?}", parsed.number, e.field, e.found))?;
        let day = created.to_zoned(site.tz.clone()).date();
        docs.push(Intake {
            kind: Kind::WebOrder,
            external_id: parsed.number.clone(),
            revision: parsed.date_modified_gmt.clone(),
            day,
            amount: parsed.total,
            body: order.get().as_bytes().to_vec(),
            parent: None,
        });
    }
    for line in tickets.lines().filter(|l| !l.trim().is_empty()) {
        let ticket = Ticket::parse(line.as_bytes())?;
        docs.push(Intake {
            kind: Kind::Ticket,
            external_id: ticket.ticket.clone(),
            revision: hex::encode(Sha256::digest(line.as_bytes())),
            day: ticket.at.to_zoned(site.tz.clone()).date(),
            amount: ticket.total_paid(),
            body: line.as_bytes().to_vec(),
            parent: None,
        });
    }
    let count = docs.len();
    let mut docs = docs.into_iter().peekable();
    while docs.peek().is_some() {
        store.intake(docs.by_ref().take(256).collect())?;
    }
    println!(
        "intake: {count} documents stored in {:.2} s, RSS {} KiB",
        started.elapsed().as_secs_f64(),
        rss_kib()
    );
    Ok(())
}

/// Delivery rounds every `round_seconds` of a simulated clock until the
/// ERP queue is empty; checks the rate on the files' simulated times.
fn drain(
    store: &Store,
    settings: &ErpSettings,
    site: &Site,
    rate: Rate,
    report: &mut SpikeReport,
) -> anyhow::Result<()> {
    let start = Timestamp::from_second(1_796_198_400)?; // 2026-12-02 09:00 Paris
    let round = SignedDuration::from_secs(rate.round_seconds.max(1) as i64);
    let mut limit = FileRate::new(rate.files_per_minute);
    let mut written_at: Vec<Timestamp> = Vec::new();
    let before = rss_kib();
    let (mut least, mut most) = (before, before);
    let mut now = start;
    while !store.in_state(State::Queued(Dest::Erp), 1)?.is_empty() {
        let started = Instant::now();
        let round_report = deliver_imports_at(store, settings, &site.tz, &mut limit, now)?;
        report.writing_seconds += started.elapsed().as_secs_f64();
        report.files += round_report.files;
        report.documents += round_report.documents;
        written_at.extend(std::iter::repeat_n(now, round_report.files));
        let rss = rss_kib();
        (least, most) = (least.min(rss), most.max(rss));
        now += round;
        anyhow::ensure!(
            now.duration_since(start) < SignedDuration::from_hours(48),
            "the queue never drains"
        );
    }
    report.rss_drain_kib = (before, least, most);
    report.drain = written_at
        .last()
        .map_or(SignedDuration::ZERO, |&last| last.duration_since(start));
    report.busiest_minute = busiest_minute(&written_at);
    report.largest_file = largest_file(settings)?;
    Ok(())
}

/// Most timestamps in any window of one minute starting at one of them.
fn busiest_minute(times: &[Timestamp]) -> usize {
    let minute = SignedDuration::from_secs(60);
    times
        .iter()
        .map(|&from| {
            times
                .iter()
                .filter(|&&t| t >= from && t.duration_since(from) < minute)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Most documents (distinct references) in one of the import files written.
fn largest_file(settings: &ErpSettings) -> anyhow::Result<usize> {
    let mut largest = 0;
    for entry in std::fs::read_dir(&settings.import_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "csv") {
            let rows = read_file(&std::fs::read(&path)?, &settings.dialect)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let documents: BTreeSet<&str> = rows.iter().map(|r| r.reference.as_str()).collect();
            largest = largest.max(documents.len());
        }
    }
    Ok(largest)
}

/// The one file with this extension in a folder of the generated day.
fn only_file(dir: &Path, extension: &str) -> anyhow::Result<std::path::PathBuf> {
    let mut found: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == extension) {
            found.insert(path.display().to_string(), path);
        }
    }
    match found.len() {
        1 => Ok(found.into_values().next().unwrap_or_default()),
        n => anyhow::bail!(
            "{}: expected one .{extension} file of the generated day, found {n}",
            dir.display()
        ),
    }
}

/// Prints the drain figures, with the rate they were checked against.
pub fn print(report: &SpikeReport, rate: Rate) {
    let drain = report.drain.as_secs();
    let (before, least, most) = report.rss_drain_kib;
    println!(
        "drain at the configured rate ({} files/min, {} documents/file, a round every {} s, \
         simulated clock): {} documents in {} files, last file at {} min {:02} s\n  \
         busiest minute {} files (limit {}), largest file {} documents (limit {})",
        rate.files_per_minute,
        rate.docs_per_file,
        rate.round_seconds,
        report.documents,
        report.files,
        drain / 60,
        drain % 60,
        report.busiest_minute,
        rate.files_per_minute,
        report.largest_file,
        rate.docs_per_file,
    );
    let per_second = report.documents as f64 / report.writing_seconds.max(1e-9);
    println!(
        "writing alone (real time, the limit costs none): {} files in {:.2} s, {per_second:.0} \
         documents/s",
        report.files, report.writing_seconds
    );
    println!("RSS through the drain: {before} KiB before, {least}..{most} KiB during");
}
