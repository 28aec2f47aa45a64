//! `relais demo`: one market day through the whole box, on this machine.
//!
//! It starts the sandbox shop (loaded with the day's web orders), an MQTT
//! broker (embedded unless one is given) and a simulated register, makes
//! the ERP's spool folders under the work folder, and runs the real
//! connectors against them: the shop pull, the ticket intake, the mapping,
//! the ERP import writer, the export intake and the invoice publisher. Then
//! it reconciles the sources with what reached the ERP folder and the shop.
//! Run again on the same work folder, it sends nothing twice.

pub mod broker;
pub mod reconcile;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jiff::tz::TimeZone;
use pos_bridge::dialect::Dialect;
use pos_bridge::protocol::{AckStatus, Topics};
use pos_bridge::register::{publish_and_confirm, OutgoingTicket};
use rumqttc::MqttOptions;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::erp::{deliver_imports, take_exports, ErpSettings};
use crate::invoice::publish::publish_invoices;
use crate::invoice::render::Seller;
use crate::mapping::site::{Clients, SiteRules};
use crate::pipeline::{process_stored, Site};
use crate::pos::{run_intake, IntakeCounts};
use crate::shop::client::{ShopClient, ShopSettings};
use crate::shop::pull::pull_orders;
use crate::store::{DocMeta, Kind, State, Store};
use reconcile::{check, read_export, read_imports, Check, SourceFigures};

/// Options of `relais demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Folder of the sample day (`woocommerce/`, `pos/`, `erp/`).
    pub day_dir: PathBuf,
    /// Work folder: store, ERP spool folders, shop data, `summary.json`.
    pub work_dir: PathBuf,
    /// External broker as `host:port`; `None` starts an embedded one.
    pub broker: Option<String>,
    /// Root of the MQTT topic tree (tests sharing a broker use their own).
    pub topic_root: String,
    /// The seller printed on invoices; `None` uses the sample wholesaler.
    pub seller: Option<Seller>,
}

/// The files of one sample day.
struct DayFiles {
    date: jiff::civil::Date,
    orders: PathBuf,
    tickets: PathBuf,
    export: PathBuf,
    clients: PathBuf,
}

fn find_one(dir: &Path, prefix: &str, suffix: &str) -> anyhow::Result<PathBuf> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .collect();
    found.sort();
    found
        .pop()
        .with_context(|| format!("no {prefix}*{suffix} in {}", dir.display()))
}

impl DayFiles {
    fn find(day: &Path) -> anyhow::Result<DayFiles> {
        let orders = find_one(&day.join("woocommerce"), "orders-", ".json")?;
        let stem = orders
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let date: jiff::civil::Date = stem
            .trim_start_matches("orders-")
            .parse()
            .with_context(|| format!("{}: expected orders-YYYY-MM-DD.json", orders.display()))?;
        Ok(DayFiles {
            date,
            orders,
            tickets: find_one(&day.join("pos"), "tickets-", ".jsonl")?,
            export: find_one(&day.join("erp"), "FACTURES_", ".csv")?,
            clients: day.join("erp").join("clients.csv"),
        })
    }
}

/// Money and counts per flow, and the checks, as printed and saved.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Day played.
    pub day: String,
    /// Web orders held by the store for the day.
    pub orders_received: usize,
    /// Distinct web orders found in the ERP import files.
    pub orders_sent_to_erp: usize,
    /// Orders held or quarantined, with reasons below.
    pub orders_held: usize,
    /// Tickets held by the store.
    pub tickets_received: usize,
    /// Distinct tickets found in the ERP import files.
    pub tickets_sent_to_erp: usize,
    /// Credit notes (amendments: refunds, changes after sending) in the
    /// ERP import files.
    pub credit_notes_sent_to_erp: usize,
    /// Their total (negative: credited).
    pub credit_notes_total: Decimal,
    /// Invoices read from the export.
    pub invoices_read: usize,
    /// Invoices rendered as PDF and delivered.
    pub pdfs_rendered: usize,
    /// Invoices the shop holds.
    pub pdfs_uploaded: usize,
    /// Total of the orders received.
    pub orders_received_total: Decimal,
    /// Total of the orders in the import files.
    pub orders_sent_total: Decimal,
    /// Total of the tickets in the import files.
    pub tickets_total: Decimal,
    /// Total of the invoices the shop holds.
    pub invoices_total: Decimal,
    /// What this run itself did (zero on a re-run).
    pub this_run: ThisRun,
    /// Documents held or quarantined, with their reasons.
    pub held: Vec<HeldDoc>,
    /// Seconds from the first pull to the last upload.
    pub elapsed_seconds: f64,
    /// Every reconciliation check.
    pub checks: Vec<Check>,
    /// True when every check holds.
    pub ok: bool,
}

/// What one run did, as opposed to what the store holds.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ThisRun {
    /// Orders stored now.
    pub orders_new: usize,
    /// Orders already held before.
    pub orders_already_held: usize,
    /// Tickets stored now.
    pub tickets_new: usize,
    /// Tickets already held before.
    pub tickets_already_held: usize,
    /// Import files written now.
    pub import_files_written: usize,
    /// Invoices uploaded now.
    pub invoices_uploaded: usize,
    /// Invoices found already at the shop.
    pub invoices_already_at_shop: usize,
}

/// A held or quarantined document.
#[derive(Debug, Clone, Serialize)]
pub struct HeldDoc {
    /// order, ticket, invoice...
    pub kind: String,
    /// Its id at the source.
    pub id: String,
    /// held or quarantined.
    pub state: String,
    /// Why.
    pub reason: String,
}

fn source_figures(
    files: &DayFiles,
    rules: &SiteRules,
    export_dialect: &Dialect,
) -> anyhow::Result<SourceFigures> {
    #[derive(serde::Deserialize)]
    struct Head {
        status: String,
        #[serde(deserialize_with = "pos_bridge::money::decimal")]
        total: Decimal,
    }
    let orders: Vec<Head> = serde_json::from_slice(&std::fs::read(&files.orders)?)
        .with_context(|| format!("{}: not a JSON list of orders", files.orders.display()))?;
    let mut s = SourceFigures {
        orders: orders.len(),
        ..Default::default()
    };
    for o in &orders {
        s.orders_total += o.total;
        if rules.statuses_to_erp.contains(&o.status) {
            s.orders_sendable += 1;
            s.orders_sendable_total += o.total;
        }
    }
    for line in std::fs::read_to_string(&files.tickets)?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        s.tickets += 1;
        if let Ok(t) = pos_bridge::ticket::Ticket::parse(line.as_bytes()) {
            s.tickets_total += t.total_paid();
        }
    }
    let (unreadable, totals) = read_export(&files.export, export_dialect)
        .with_context(|| format!("the ERP export {}", files.export.display()))?;
    s.invoices = totals.len();
    s.invoices_unreadable = unreadable;
    s.invoices_total = totals.values().copied().sum();
    s.invoice_totals = totals;
    Ok(s)
}

fn read_tickets(path: &Path) -> anyhow::Result<Vec<OutgoingTicket>> {
    #[derive(serde::Deserialize)]
    struct Head {
        ticket: String,
        register: String,
    }
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let head: Head = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not a ticket", path.display(), n + 1))?;
        out.push(OutgoingTicket {
            ticket: head.ticket,
            register: head.register,
            payload: line.as_bytes().to_vec(),
        });
    }
    Ok(out)
}

/// Runs the demo and returns its summary (also written to `summary.json`).
pub async fn run(options: DemoOptions) -> anyhow::Result<Summary> {
    let files = DayFiles::find(&options.day_dir)?;
    let work = &options.work_dir;
    let tz = TimeZone::get("Europe/Paris")?;
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let erp_dir = work.join("erp");
    let settings = ErpSettings::under(&erp_dir);
    pos_bridge::spool::ensure_dir(&erp_dir)?;
    // The ERP's client file lives on its share.
    let clients_path = erp_dir.join("clients.csv");
    pos_bridge::spool::write_atomic(&clients_path, &std::fs::read(&files.clients)?)?;
    let clients = Clients::read(std::fs::File::open(&clients_path)?, &Dialect::french_erp())?;
    let site = Arc::new(Site {
        rules: SiteRules::default(),
        clients,
        tz: tz.clone(),
        import_dialect: Dialect::french_erp(),
        export_dialect: Dialect::french_erp(),
    });
    let sources = source_figures(&files, &site.rules, &site.export_dialect)?;

    let orders: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&files.orders)?)?;
    let shop =
        sandbox_shop::start(sandbox_shop::ShopConfig::new(orders, work.join("shop"))).await?;
    let client = ShopClient::new(ShopSettings {
        base_url: shop.base_url(),
        consumer_key: sandbox_shop::DEFAULT_CONSUMER_KEY.to_string(),
        consumer_secret: sandbox_shop::DEFAULT_CONSUMER_SECRET.to_string(),
        ca_pem: Some(shop.ca_cert_pem().to_string()),
        timeout: Duration::from_secs(30),
    })?;
    let (host, port) = match &options.broker {
        Some(b) => crate::config::split_host_port(b)
            .with_context(|| format!("broker {b:?}: expected host:port"))?,
        None => {
            let addr = broker::start_embedded()?;
            (addr.ip().to_string(), addr.port())
        }
    };
    let store = Store::open(&work.join("relais.redb"))?;
    let topics = Topics::new(&options.topic_root);
    let instance = short_hash(&work.canonicalize()?.display().to_string());

    // Ticket intake: subscribed before the register starts.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (sub_tx, sub_rx) = oneshot::channel();
    let (counts_tx, _counts) = watch::channel(IntakeCounts::default());
    let mut mqtt = MqttOptions::new(format!("relais-{instance}"), host.clone(), port);
    mqtt.set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30));
    let intake = tokio::spawn(run_intake(
        store.clone(),
        mqtt,
        stop_rx,
        Some(sub_tx),
        counts_tx,
        tz.clone(),
        topics.clone(),
    ));
    tokio::time::timeout(Duration::from_secs(20), sub_rx)
        .await
        .map_err(|_| {
            anyhow::anyhow!("no answer from the MQTT broker at {host}:{port} within 20 s")
        })?
        .context("the ticket intake stopped before subscribing")?;

    let started = Instant::now();
    let first_since = files.date.to_zoned(tz.clone())?.timestamp();
    let mut register = MqttOptions::new(format!("register-{instance}"), host, port);
    register.set_keep_alive(Duration::from_secs(30));
    let tickets = read_tickets(&files.tickets)?;
    let (pulled, acks) = tokio::join!(
        pull_orders(&store, &client, first_since, &tz),
        publish_and_confirm(register, &topics, tickets, Duration::from_secs(60)),
    );
    let pulled = pulled?;
    let acks = acks?;
    let mut run = ThisRun {
        orders_new: pulled.new,
        orders_already_held: pulled.duplicates,
        ..Default::default()
    };
    run.tickets_new = acks
        .values()
        .filter(|a| a.status == AckStatus::Stored)
        .count();
    run.tickets_already_held = acks
        .values()
        .filter(|a| a.status == AckStatus::Duplicate)
        .count();

    let (store2, site2, settings2) = (store.clone(), site.clone(), settings.clone());
    let delivered = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        process_stored(&store2, &site2)?;
        Ok(deliver_imports(&store2, &settings2, &site2.tz)?)
    })
    .await??;
    run.import_files_written = delivered.files;

    // 18:00: the ERP drops its invoice export.
    pos_bridge::spool::ensure_dir(&settings.export_dir)?;
    let export_name = files.export.file_name().unwrap_or_default();
    pos_bridge::spool::write_atomic(
        &settings.export_dir.join(export_name),
        &std::fs::read(&files.export)?,
    )?;
    let (store2, site2, settings2) = (store.clone(), site.clone(), settings.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        take_exports(&store2, &settings2, &site2.tz)?;
        Ok(process_stored(&store2, &site2)?)
    })
    .await??;
    let seller = options.seller.clone().unwrap_or_else(Seller::sample);
    let published = publish_invoices(&store, &client, Arc::new(seller)).await?;
    run.invoices_uploaded = published.uploaded;
    run.invoices_already_at_shop = published.already_held;
    let elapsed = started.elapsed();

    let _ = stop_tx.send(true);
    intake.await??;
    let held_by_shop = shop.invoices();
    shop.shutdown().await;

    let summary = summarize(
        &store,
        &settings,
        &sources,
        &held_by_shop,
        files.date,
        run,
        elapsed,
    )?;
    let json = serde_json::to_vec_pretty(&summary)?;
    pos_bridge::spool::write_atomic(&work.join("summary.json"), &json)?;
    Ok(summary)
}

fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

fn summarize(
    store: &Store,
    settings: &ErpSettings,
    sources: &SourceFigures,
    shop_invoices: &[sandbox_shop::HeldInvoice],
    day: jiff::civil::Date,
    this_run: ThisRun,
    elapsed: Duration,
) -> anyhow::Result<Summary> {
    let imports = read_imports(&settings.import_dir, &settings.dialect)?;
    let mut per_kind: BTreeMap<&'static str, Vec<DocMeta>> = BTreeMap::new();
    store.for_each_doc(|meta| {
        if meta.state != State::Superseded && (meta.day == day || meta.kind != Kind::WebOrder) {
            per_kind.entry(meta.kind.name()).or_default().push(meta);
        }
    })?;
    let docs = |kind: Kind| per_kind.get(kind.name()).map(Vec::as_slice).unwrap_or(&[]);
    let held: Vec<HeldDoc> = per_kind
        .values()
        .flatten()
        .filter(|m| matches!(m.state, State::Held | State::Quarantined))
        .map(|m| HeldDoc {
            kind: m.kind.name().to_string(),
            id: m.external_id.clone(),
            state: m.state.label(),
            reason: m.reason.clone().unwrap_or_default(),
        })
        .collect();
    let orders = docs(Kind::WebOrder);
    let invoices = docs(Kind::Invoice);
    let delivered_invoices = invoices
        .iter()
        .filter(|m| m.state == State::Delivered(crate::store::Dest::Shop))
        .count();
    let shop_total: Decimal = shop_invoices
        .iter()
        .filter_map(|i| sources.invoice_totals.get(&i.number))
        .copied()
        .sum();
    let shop_known = shop_invoices
        .iter()
        .filter(|i| sources.invoice_totals.contains_key(&i.number))
        .count();
    let stopped = |docs: &[DocMeta]| {
        docs.iter()
            .filter(|m| matches!(m.state, State::Held | State::Quarantined))
            .count()
    };
    let orders_held = stopped(orders);
    let quarantined: Vec<&DocMeta> = orders
        .iter()
        .filter(|m| m.state == State::Quarantined)
        .collect();
    let quarantined_total: Decimal = quarantined.iter().map(|m| m.amount).sum();
    let tickets_stopped = stopped(docs(Kind::Ticket));
    let invoices_stopped = stopped(invoices);
    let checks = vec![
        check(
            "orders received = orders in the shop",
            sources.orders,
            orders.len(),
        ),
        check(
            "orders received total",
            sources.orders_total,
            orders.iter().map(|m| m.amount).sum(),
        ),
        check(
            "sendable orders = in ERP files + quarantined",
            sources.orders_sendable,
            imports.orders + quarantined.len(),
        ),
        check(
            "sendable orders total = in ERP files + quarantined",
            sources.orders_sendable_total,
            imports.orders_total + quarantined_total,
        ),
        check(
            "orders received = sent + held",
            orders.len(),
            imports.orders + orders_held,
        ),
        check(
            "tickets published = in ERP files + quarantined",
            sources.tickets,
            imports.tickets + tickets_stopped,
        ),
        check(
            "valid tickets total = in ERP files",
            sources.tickets_total,
            imports.tickets_total,
        ),
        check("documents in two ERP files", 0, imports.duplicated.len()),
        check(
            "documents whose payments differ from their lines",
            0,
            imports.unbalanced.len(),
        ),
        check(
            "invoices read = invoices in the export",
            sources.invoices + sources.invoices_unreadable,
            invoices.len(),
        ),
        check(
            "invoices held = unreadable in the export",
            sources.invoices_unreadable,
            invoices_stopped,
        ),
        check(
            "invoices at the shop = good invoices in the export",
            sources.invoices,
            shop_known,
        ),
        check(
            "invoices at the shop total",
            sources.invoices_total,
            shop_total,
        ),
    ];
    let ok = checks.iter().all(|c| c.ok);
    Ok(Summary {
        day: day.to_string(),
        orders_received: orders.len(),
        orders_sent_to_erp: imports.orders,
        orders_held,
        tickets_received: docs(Kind::Ticket).len(),
        tickets_sent_to_erp: imports.tickets,
        credit_notes_sent_to_erp: imports.credit_notes,
        credit_notes_total: imports.credit_notes_total,
        invoices_read: invoices.len(),
        pdfs_rendered: delivered_invoices,
        pdfs_uploaded: shop_known,
        orders_received_total: orders.iter().map(|m| m.amount).sum(),
        orders_sent_total: imports.orders_total,
        tickets_total: imports.tickets_total,
        invoices_total: shop_total,
        this_run,
        held,
        elapsed_seconds: elapsed.as_secs_f64(),
        checks,
        ok,
    })
}

/// What this run did, as opposed to what the store holds: on a second run
/// over the same work folder, nothing new and why the re-reads send nothing.
fn render_this_run(out: &mut String, s: &Summary) {
    use std::fmt::Write;
    let r = &s.this_run;
    let nothing_new =
        r.orders_new + r.tickets_new + r.import_files_written + r.invoices_uploaded == 0;
    if nothing_new {
        let _ = writeln!(
            out,
            "  this run: nothing new and nothing sent twice; the store already had the {} \
             orders ({} of them held), {} tickets and {} invoices",
            s.orders_received, s.orders_held, s.tickets_received, s.invoices_read
        );
    } else {
        let _ = writeln!(
            out,
            "  this run: {} orders and {} tickets stored, {} import files written, {} invoices \
             uploaded",
            r.orders_new, r.tickets_new, r.import_files_written, r.invoices_uploaded
        );
    }
    let mut again = Vec::new();
    if r.orders_already_held > 0 {
        again.push(format!(
            "{} order(s) the shop pull returned again (each pull reaches {} minutes back \
             before the last one)",
            r.orders_already_held,
            crate::shop::pull::OVERLAP.as_mins()
        ));
    }
    if r.tickets_already_held > 0 {
        again.push(format!(
            "{} ticket(s) the register sent again (it publishes its whole day)",
            r.tickets_already_held
        ));
    }
    if r.invoices_already_at_shop > 0 {
        again.push(format!(
            "{} invoice(s) found already at the shop",
            r.invoices_already_at_shop
        ));
    }
    if !again.is_empty() {
        let _ = writeln!(
            out,
            "    already in the store, not sent again: {}",
            again.join(", ")
        );
    }
}

/// The documents held or quarantined in the store now (whichever run
/// stopped them), with a count so an empty list cannot be misread.
fn render_held(out: &mut String, held: &[HeldDoc]) {
    use std::fmt::Write;
    if held.is_empty() {
        let _ = writeln!(out, "  held or quarantined: none");
        return;
    }
    let _ = writeln!(
        out,
        "  held or quarantined in the store: {}, each with its reason:",
        held.len()
    );
    for h in held {
        let _ = writeln!(out, "    {} {} ({}): {}", h.kind, h.id, h.state, h.reason);
    }
}

/// The summary as the operator reads it.
pub fn render_summary(s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "Relais demo, market day {}", s.day);
    let _ = writeln!(
        out,
        "  web orders   received {:>4}   {:>12} EUR",
        s.orders_received, s.orders_received_total
    );
    let _ = writeln!(
        out,
        "               sent     {:>4}   {:>12} EUR",
        s.orders_sent_to_erp, s.orders_sent_total
    );
    let _ = writeln!(out, "               held     {:>4}", s.orders_held);
    let _ = writeln!(out, "  tickets      received {:>4}", s.tickets_received);
    let _ = writeln!(
        out,
        "               sent     {:>4}   {:>12} EUR",
        s.tickets_sent_to_erp, s.tickets_total
    );
    let _ = writeln!(
        out,
        "  credit notes sent     {:>4}   {:>12} EUR",
        s.credit_notes_sent_to_erp, s.credit_notes_total
    );
    let _ = writeln!(out, "  invoices     read     {:>4}", s.invoices_read);
    let _ = writeln!(out, "               rendered {:>4}", s.pdfs_rendered);
    let _ = writeln!(
        out,
        "               at shop  {:>4}   {:>12} EUR",
        s.pdfs_uploaded, s.invoices_total
    );
    render_this_run(&mut out, s);
    render_held(&mut out, &s.held);
    let _ = writeln!(out, "  checks:");
    for c in &s.checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "    {mark} {}: {}", c.name, c.detail);
    }
    let _ = writeln!(
        out,
        "  day took {:.2} s from first pull to last upload (every commit synced)",
        s.elapsed_seconds
    );
    let _ = writeln!(
        out,
        "  {}",
        if s.ok { "RECONCILED" } else { "NOT RECONCILED" }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(this_run: ThisRun, held: Vec<HeldDoc>) -> Summary {
        Summary {
            day: "2026-12-02".into(),
            orders_received: 455,
            orders_sent_to_erp: 427,
            orders_held: held.len(),
            tickets_received: 245,
            tickets_sent_to_erp: 245,
            credit_notes_sent_to_erp: 19,
            credit_notes_total: Decimal::new(-58176, 2),
            invoices_read: 219,
            pdfs_rendered: 219,
            pdfs_uploaded: 219,
            orders_received_total: Decimal::new(17497965, 2),
            orders_sent_total: Decimal::new(16447378, 2),
            tickets_total: Decimal::new(6830865, 2),
            invoices_total: Decimal::new(22666477, 2),
            this_run,
            held,
            elapsed_seconds: 0.3,
            checks: vec![check("orders received = orders in the shop", 455, 455)],
            ok: true,
        }
    }

    fn held_order(id: &str) -> HeldDoc {
        HeldDoc {
            kind: "order".into(),
            id: id.into(),
            state: "held".into(),
            reason: "status \"pending\" at the shop".into(),
        }
    }

    #[test]
    fn a_second_run_says_nothing_is_new_and_why_the_re_reads_send_nothing() {
        let second = ThisRun {
            orders_already_held: 1,
            tickets_already_held: 245,
            ..ThisRun::default()
        };
        let text = render_summary(&summary(second, vec![held_order("383030")]));

        assert!(
            text.contains(
                "  this run: nothing new and nothing sent twice; the store already had the 455 \
                 orders (1 of them held), 245 tickets and 219 invoices\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "    already in the store, not sent again: 1 order(s) the shop pull returned \
                 again (each pull reaches 10 minutes back before the last one), 245 ticket(s) \
                 the register sent again (it publishes its whole day)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("read again"), "{text}");
        assert!(
            text.contains(
                "  held or quarantined in the store: 1, each with its reason:\n    order 383030 \
                 (held): status \"pending\" at the shop\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_first_run_says_what_it_did_and_an_empty_held_list_says_none() {
        let first = ThisRun {
            orders_new: 455,
            tickets_new: 245,
            import_files_written: 7,
            invoices_uploaded: 219,
            ..ThisRun::default()
        };
        let text = render_summary(&summary(first, vec![]));

        assert!(
            text.contains(
                "  this run: 455 orders and 245 tickets stored, 7 import files written, 219 \
                 invoices uploaded\n"
            ),
            "{text}"
        );
        assert!(!text.contains("already in the store"), "{text}");
        assert!(text.contains("  held or quarantined: none\n"), "{text}");
    }
}
