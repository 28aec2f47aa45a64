//! `relais bench`: the store's figures, printed side by side with a
//! baseline measured in the same run on the same disk.
//!
//! - resident memory idle, then with 1k, 10k and 100k documents queued
//!   (first, while the process has done nothing else);
//! - time to reopen the store and read the first document of the ERP queue
//!   (restart), with the number of documents found waiting there;
//! - a day's figures for the status page through the intake-time index,
//!   against reading every document's metadata;
//! - drain rate of that backlog into ERP import files;
//! - durable intake rate, against a plain append loop that fsyncs once per
//!   [`BATCH`] documents, while Relais takes documents in batches of
//!   [`BATCH`] (one intake-log record and one fsync per batch).
//!
//! `relais bench` then prints the mapping rate ([`mapping`]).
//!
//! [`spike`] measures a sales-event day: mapping rate and drain time at the
//! configured ERP rate (`cargo bench -p relais --bench spike`).

pub mod spike;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use jiff::Timestamp;

use pos_bridge::dialect::Dialect;
use rust_decimal::Decimal;

use crate::erp::{deliver_imports, ErpSettings};
use crate::mapping::import::{ImportRow, RowType};
use crate::store::{encode, Dest, Intake, IntakeOutcome, Kind, State, Store, Transition};

/// Documents per commit, as the intake batches them.
const BATCH: usize = 64;

/// Resident memory of this process in KiB (0 where /proc cannot tell).
pub fn rss_kib() -> u64 {
    crate::fleet::rss_kib().unwrap_or(0)
}

fn ticket_body(n: u64) -> Vec<u8> {
    format!(
        "{{\"ticket\":\"B{n:08}\",\"register\":\"CAISSE-1\",\"operator\":\"MDU\",\
         \"at\":\"2026-12-02T04:14:50Z\",\"customer\":\"C004190\",\"lines\":[{{\"sku\":\
         \"VO-POUL-FERM-PC\",\"label\":\"Poulet fermier Label Rouge\",\"qty\":1,\
         \"unit_price_ht\":\"9.85\",\"vat_rate\":\"5.5\"}}],\"payments\":[{{\"method\":\"CB\",\
         \"amount\":\"10.39\"}}]}}"
    )
    .into_bytes()
}

fn rows_for(n: u64) -> Vec<ImportRow> {
    vec![ImportRow {
        kind: RowType::Art,
        reference: format!("B{n:08}"),
        origin: "CPT".into(),
        date: jiff::civil::date(2026, 12, 2),
        customer: "C004190".into(),
        article: "VO-POUL-FERM-PC".into(),
        label: "Poulet fermier Label Rouge".into(),
        quantity: Some(Decimal::ONE),
        unit_price_ht: Some(Decimal::new(985, 2)),
        vat_rate: Some(Decimal::new(55, 1)),
        amount_ht: Some(Decimal::new(985, 2)),
        amount_vat: Some(Decimal::new(54, 2)),
        amount_ttc: Decimal::new(1039, 2),
        info: String::new(),
    }]
}

/// Documents `first..first + count` named with `prefix`, in intake batches.
fn batches(prefix: &str, first: u64, count: u64) -> impl Iterator<Item = Vec<(u64, Intake)>> + '_ {
    (first..first + count).step_by(BATCH).map(move |start| {
        (start..(start + BATCH as u64).min(first + count))
            .map(|i| {
                let intake = Intake {
                    kind: Kind::Ticket,
                    external_id: format!("{prefix}{i:08}"),
                    revision: "1".into(),
                    day: jiff::civil::date(2026, 12, 2),
                    amount: Decimal::new(1039, 2),
                    body: ticket_body(i),
                    parent: None,
                };
                (i, intake)
            })
            .collect()
    })
}

/// Stores `count` documents from `first` and queues them for the ERP, in
/// commits of [`BATCH`].
fn fill(store: &Store, first: u64, count: u64) -> anyhow::Result<()> {
    for batch in batches("B", first, count) {
        let numbers: Vec<u64> = batch.iter().map(|(i, _)| *i).collect();
        let outcomes = store.intake(batch.into_iter().map(|(_, d)| d).collect())?;
        let mut transitions = Vec::new();
        for (i, outcome) in numbers.into_iter().zip(outcomes) {
            if let IntakeOutcome::New(id) = outcome {
                transitions.push(Transition {
                    mapped: Some(encode(&rows_for(i))?),
                    ..Transition::to(id, State::Queued(Dest::Erp), "mapped")
                });
            }
        }
        store.apply(transitions)?;
    }
    Ok(())
}

/// Intake alone (no queueing), for the rate comparison.
fn intake_only(store: &Store, prefix: &str, first: u64, count: u64) -> anyhow::Result<()> {
    for batch in batches(prefix, first, count) {
        store.intake(batch.into_iter().map(|(_, d)| d).collect())?;
    }
    Ok(())
}

/// The same documents straight into the tables, one redb commit per batch:
/// the write path without the intake log, for comparison.
fn intake_direct(store: &Store, prefix: &str, first: u64, count: u64) -> anyhow::Result<()> {
    for batch in batches(prefix, first, count) {
        let docs = batch.into_iter().map(|(_, d)| d).collect();
        store.intake_with_cursor(docs, "bench", prefix)?;
    }
    Ok(())
}

/// The baseline: append each document to one file, fsync every [`BATCH`].
fn append_loop(path: &Path, count: u64) -> anyhow::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    for i in 0..count {
        let body = ticket_body(i);
        file.write_all(&(body.len() as u32).to_le_bytes())?;
        file.write_all(&body)?;
        if (i + 1) % BATCH as u64 == 0 {
            file.sync_data()?;
        }
    }
    file.sync_data()?;
    Ok(())
}

/// Seconds spent by each way of taking documents in, over alternating
/// rounds so that disk noise falls on all of them.
#[derive(Default)]
struct IntakeTimes {
    baseline: f64,
    logged: [f64; 2],
    in_tables: [f64; 2],
    direct: f64,
}

fn timed(work: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let started = Instant::now();
    work()?;
    Ok(started.elapsed().as_secs_f64())
}

/// Durable intake against the append loop: into the intake log (what a
/// source waits for before its acknowledgement), until every document is
/// also in the tables (the log checkpointed), for both commit modes, and
/// straight into the tables without the log.
fn intake_rates(dir: &Path, intake_docs: u64) -> anyhow::Result<()> {
    let rounds = 5;
    let per_round = (intake_docs / rounds).max(BATCH as u64);
    let stores = [
        Store::open(&dir.join("intake.redb"))?,
        Store::open_with(&dir.join("intake-2pc.redb"), true)?,
    ];
    let direct = Store::open(&dir.join("intake-direct.redb"))?;
    let mut t = IntakeTimes::default();
    for round in 0..rounds {
        let first = round * per_round;
        let log = dir.join(format!("baseline-{round}.log"));
        t.baseline += timed(|| append_loop(&log, per_round))?;
        for (mode, store) in stores.iter().enumerate() {
            let logged = timed(|| intake_only(store, "R", first, per_round))?;
            let folded = timed(|| store.checkpoint().map(drop).map_err(Into::into))?;
            t.logged[mode] += logged;
            t.in_tables[mode] += logged + folded;
        }
        t.direct += timed(|| intake_direct(&direct, "D", first, per_round))?;
    }
    drop((stores, direct));
    let total = (rounds * per_round) as f64;
    let baseline = total / t.baseline;
    let line = |what: &str, seconds: f64, target: &str| {
        let r = total / seconds;
        println!(
            "  {what:<46} {r:>8.0} docs/s  ratio {:.2}{target}",
            r / baseline
        );
    };
    println!(
        "durable intake, {total} docs (ratios to the append loop): the baseline fsyncs once per \
         {BATCH} documents; Relais takes documents in batches of {BATCH}, one log record and \
         one fsync per batch"
    );
    println!(
        "  {:<46} {baseline:>8.0} docs/s",
        "plain append loop (the baseline)"
    );
    line(
        "relais intake, synced in the intake log",
        t.logged[0],
        " (target >= 0.5)",
    );
    line(
        "  the same until checkpointed into the tables",
        t.in_tables[0],
        "",
    );
    line(
        "  with two_phase_commit, until in the tables",
        t.in_tables[1],
        "",
    );
    line("straight into the tables (no intake log)", t.direct, "");
    Ok(())
}

fn rate(count: u64, started: Instant) -> f64 {
    count as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// Runs every measurement in `dir` and prints the figures.
pub fn run(dir: &Path, intake_docs: u64, backlog: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    println!("relais bench: {} cores, folder {}", cores(), dir.display());
    let idle = rss_kib();
    println!("idle RSS before opening the store: {idle} KiB (target < 20 MB)");

    // Memory first, in a process that has done nothing else yet.
    let store = Store::open(&dir.join("backlog.redb"))?;
    println!("RSS with the store open, empty: {} KiB", rss_kib());
    let mut queued = 0;
    let mut first_rss = None;
    let mut steps = vec![1_000, 10_000, backlog];
    steps.retain(|&n| n <= backlog);
    steps.dedup();
    for target in steps {
        fill(&store, queued, target - queued)?;
        queued = target;
        let rss = rss_kib();
        let first = *first_rss.get_or_insert((queued, rss));
        let growth = rss.saturating_sub(first.1);
        println!(
            "RSS with {queued:>7} documents queued: {rss:>7} KiB (growth since {}: +{growth} \
             KiB, target < 10 MB growth)",
            short_count(first.0)
        );
    }
    drop(store);

    let started = Instant::now();
    let store = Store::open(&dir.join("backlog.redb"))?;
    let first_read = store.in_state(State::Queued(Dest::Erp), 1)?.len();
    let reopened_ms = started.elapsed().as_secs_f64() * 1000.0;
    // Counted after the clock stopped: the figure is the reopening and the
    // first read of the queue, not a walk of the whole backlog.
    let waiting = store
        .count_states()?
        .into_iter()
        .find(|(s, _)| *s == State::Queued(Dest::Erp))
        .map_or(0, |(_, n)| n);
    println!(
        "restart: store reopened and the ERP queue's first document read in {reopened_ms:.1} ms \
         ({waiting} documents found waiting in the queue{})",
        if first_read == 0 { ", none read" } else { "" }
    );

    let tz = jiff::tz::TimeZone::get("Europe/Paris")?;
    day_figures(&store, &tz, queued)?;

    let settings = ErpSettings::under(dir);
    let started = Instant::now();
    let report = deliver_imports(&store, &settings, &tz)?;
    println!(
        "drain: {} documents into {} import files at {:.0} docs/s, RSS after {} KiB",
        report.documents,
        report.files,
        rate(report.documents as u64, started),
        rss_kib()
    );
    drop(store);

    intake_rates(dir, intake_docs)
}

/// The status page's figures for one day (yesterday: nothing was taken in
/// then), through the intake-time index, against reading every document's
/// metadata as the page did before the index.
fn day_figures(store: &Store, tz: &jiff::tz::TimeZone, held: u64) -> anyhow::Result<()> {
    let yesterday = Timestamp::now().to_zoned(tz.clone()).date().yesterday()?;
    let started = Instant::now();
    let figures = crate::ops::received_on(store, tz, yesterday)?;
    let indexed = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let mut seen = 0u64;
    store.for_each_doc(|_| seen += 1)?;
    let scanned = started.elapsed().as_secs_f64() * 1000.0;
    let counted: u64 = figures.kinds.iter().map(|k| k.documents).sum();
    println!(
        "a day's figures among {held} documents: {indexed:.2} ms through the intake-time index \
         (asked for yesterday, when the bench took nothing in: {counted} found, the lookup \
         alone); reading all {seen} documents' metadata takes {scanned:.1} ms"
    );
    Ok(())
}

/// `1k` for 1000, `100k` for 100000, the number itself otherwise.
fn short_count(n: u64) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Orders mapped per second on one thread: the sample day's orders, parsed
/// and mapped over and over for about two seconds.
pub fn mapping(orders_file: &Path, clients_file: &Path) -> anyhow::Result<()> {
    use crate::mapping::order::{map_order, Context};
    use crate::mapping::site::{Clients, SiteRules};
    use crate::shop::order::Order;

    let raw: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(&std::fs::read(orders_file)?)?;
    let clients = Clients::read(std::fs::File::open(clients_file)?, &Dialect::french_erp())?;
    let rules = SiteRules::default();
    let tz = jiff::tz::TimeZone::get("Europe/Paris")?;
    let cx = Context {
        rules: &rules,
        clients: &clients,
        tz: &tz,
    };
    let started = Instant::now();
    let mut mapped = 0u64;
    while started.elapsed().as_secs_f64() < 2.0 {
        for order in &raw {
            let order: Order = serde_json::from_str(order.get())?;
            map_order(&order, &cx)?;
            mapped += 1;
        }
    }
    println!(
        "mapping: {:.0} orders parsed and mapped per second on one thread (target >= 5000)",
        rate(mapped, started)
    );
    Ok(())
}
