//! A status Relais sets at the shop comes back to it, and must stop there.
//!
//! With `shop.status_when_in_erp`, Relais PUTs an order's new status once
//! the ERP has it. WooCommerce then moves the order's `date_modified`, so
//! the next pull brings the order back as a new revision. That revision
//! maps to the rows the ERP already holds: it must give no second import
//! file, no amendment (a credit note made of nothing), no quarantine, and
//! no second note or status change at the shop, or the box and the shop
//! would feed each other forever.
//!
//! The real daemon runs a market day against the sandbox shop, is stopped,
//! and runs again with daytime pulls on, so that its first pull brings the
//! changed orders back; then everything is compared with the first run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pos_bridge::dialect::Dialect;
use relais::demo::reconcile::{read_imports, ImportFigures};
use relais::store::{Kind, State, Store};

mod common;
use common::{relais, sample, shop_files, state_count, Daemon};

/// Polls `check` until it returns `Some`, failing after `limit`; `what`
/// is asked for the last state seen when the time is up.
async fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
    mut seen: impl FnMut() -> String,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last seen: {}",
            seen()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// SIGTERM, as systemd stops it: the daemon drains and exits 0.
async fn stop(mut daemon: Daemon, store: &Path) {
    let pid = daemon.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success(), "kill -TERM {pid}");
    let child = &mut daemon.child;
    let exit = wait_for(
        "the daemon to stop",
        Duration::from_secs(40),
        || child.try_wait().ok().flatten(),
        String::new,
    )
    .await;
    assert!(exit.success(), "daemon exit {exit:?}\n{}", daemon.log());
    assert!(!store.with_extension("sock").exists(), "socket left behind");
}

/// `relais status --json`, or `None` while the daemon cannot answer yet.
fn status(store: &Path) -> Option<serde_json::Value> {
    let out = relais(&["status", "--json"], store);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn last_success(status: &serde_json::Value, peer: &str) -> Option<jiff::Timestamp> {
    status["last_success"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s[0] == peer)
        .and_then(|s| s[1].as_str())
        .and_then(|t| t.parse().ok())
}

/// Nothing stored, queued or in a batch, for the ERP or the shop.
fn quiet(status: &serde_json::Value) -> bool {
    [
        "stored",
        "queued:erp",
        "batched:erp",
        "queued:shop",
        "batched:shop",
    ]
    .iter()
    .all(|label| state_count(status, label) == 0)
}

/// Every file under the ERP's import folder, with its bytes.
fn erp_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("import folder entry").path();
        if path.is_dir() {
            out.extend(erp_files(&path));
        } else {
            let bytes = std::fs::read(&path).expect("read an import file");
            out.insert(path, bytes);
        }
    }
    out
}

fn imports(erp: &Path) -> ImportFigures {
    read_imports(&erp.join("import"), &Dialect::french_erp()).expect("read the import files")
}

/// The private notes the shop holds, by order id (orders without any left out).
fn shop_notes(shop: &sandbox_shop::RunningShop, ids: &[u64]) -> BTreeMap<u64, Vec<String>> {
    ids.iter()
        .map(|&id| {
            let notes: Vec<String> = shop
                .notes(id)
                .iter()
                .filter_map(|n| n["note"].as_str().map(str::to_string))
                .collect();
            (id, notes)
        })
        .filter(|(_, notes)| !notes.is_empty())
        .collect()
}

/// What the store holds, read directly while no daemon runs.
struct Census {
    /// (kind, state) -> documents.
    counts: BTreeMap<(&'static str, String), u64>,
    /// The highest document id.
    last_id: u64,
}

impl Census {
    fn take(store: &Path) -> Census {
        let store = Store::open(store).expect("open the store");
        let mut counts = BTreeMap::new();
        let mut last_id = 0;
        store
            .for_each_doc(|meta| {
                *counts
                    .entry((meta.kind.name(), meta.state.label()))
                    .or_insert(0) += 1;
                last_id = last_id.max(meta.id);
            })
            .expect("read the store");
        Census { counts, last_id }
    }

    fn of_kind(&self, kind: Kind) -> u64 {
        self.counts
            .iter()
            .filter(|((k, _), _)| *k == kind.name())
            .map(|(_, n)| n)
            .sum()
    }

    fn in_state(&self, state: State) -> u64 {
        let label = state.label();
        self.counts
            .iter()
            .filter(|((_, s), _)| *s == label)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The web-order documents taken in after `after`: (order number, state,
/// last note of its history).
fn revisions_after(store: &Path, after: u64) -> Vec<(String, State, String)> {
    let store = Store::open(store).expect("open the store");
    let mut metas = Vec::new();
    store
        .for_each_doc(|meta| {
            if meta.id > after && meta.kind == Kind::WebOrder {
                metas.push(meta);
            }
        })
        .expect("read the store");
    metas
        .into_iter()
        .map(|meta| {
            let last = store
                .audit(meta.id)
                .expect("a revision's history")
                .last()
                .map(|entry| entry.note.clone())
                .unwrap_or_default();
            (meta.external_id, meta.state, last)
        })
        .collect()
}

fn config_text(
    work: &Path,
    shop: &sandbox_shop::RunningShop,
    status: &str,
    pull_every_minutes: u64,
) -> String {
    // The first pull reaches back to the sample day.
    let today = jiff::Zoned::now().date();
    let back = (today - jiff::civil::date(2026, 12, 1)).get_days().max(1) + 1;
    let erp = work.join("erp");
    format!(
        r#"
[store]
path = "{store}"
[site]
time_zone = "Europe/Paris"
clients = "{clients}"
[erp]
folder = "{erp}"
poll_seconds = 1
max_files_per_minute = 0
[shop]
url = "{url}"
credentials_file = "{creds}"
ca_file = "{ca}"
first_pull_days = {back}
pull_every_minutes = {pull_every_minutes}
notes = true
status_when_in_erp = "{status}"
"#,
        store = work.join("relais.redb").display(),
        clients = erp.join("clients.csv").display(),
        erp = erp.display(),
        url = shop.base_url(),
        creds = work.join("shop-credentials.toml").display(),
        ca = work.join("shop-ca.pem").display(),
    )
}

fn write_config(path: &Path, text: &str) {
    std::fs::write(path, text).expect("config");
    let checked = Command::new(env!("CARGO_BIN_EXE_relais"))
        .args(["config", "check"])
        .arg(path)
        .output()
        .expect("config check");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// Runs the day with `status_when_in_erp = status`, stops, runs again until
/// a pull has brought the changed orders back, and checks that nothing
/// else happened.
async fn status_comes_back_and_stops(status_in_erp: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path();
    let erp = work.join("erp");
    std::fs::create_dir_all(&erp).expect("erp folder");
    pos_bridge::spool::write_atomic(
        &erp.join("clients.csv"),
        &std::fs::read(sample("erp/clients.csv")).expect("clients"),
    )
    .expect("clients");

    let orders: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(sample("woocommerce/orders-2026-12-02.json")).expect("orders"),
    )
    .expect("orders JSON");
    let ids: Vec<u64> = orders.iter().filter_map(|o| o["id"].as_u64()).collect();
    assert_eq!(ids.len(), orders.len(), "every sample order has an id");
    let shop = sandbox_shop::start(sandbox_shop::ShopConfig::new(orders, work.join("shop")))
        .await
        .expect("sandbox shop");
    shop_files(work, &shop);
    let store = work.join("relais.redb");
    let config = work.join("relais.toml");

    // First run: the catch-up pull of a new store takes the day; the ERP
    // gets its files, the shop a note and the new status on each order sent.
    write_config(&config, &config_text(work, &shop, status_in_erp, 0));
    let started = Instant::now();
    let daemon = Daemon::start(&config, work.join("daemon-1.log"), "info");
    let first = wait_for(
        "the day in the ERP and the shop told",
        Duration::from_secs(180),
        || {
            let status = status(&store)?;
            if !quiet(&status) || state_count(&status, "delivered:erp") == 0 {
                return None;
            }
            let figures = imports(&erp);
            let noted = shop_notes(&shop, &ids)
                .values()
                .filter(|notes| notes.iter().any(|n| n.contains("transmise à l'ERP")))
                .count();
            let changed = shop.status_changes().len();
            (figures.orders > 0 && noted == figures.orders && changed == figures.orders)
                .then_some((status, figures))
        },
        || {
            format!(
                "{:?}, {} orders with a status change\n{}",
                status(&store),
                shop.status_changes().len(),
                daemon.log()
            )
        },
    )
    .await;
    let (status_1, imports_1) = first;
    assert!(
        imports_1.duplicated.is_empty(),
        "{:?}",
        imports_1.duplicated
    );
    stop(daemon, &store).await;
    let run_1 = started.elapsed();

    let files_1 = erp_files(&erp.join("import"));
    let changes_1 = shop.status_changes();
    let notes_1 = shop_notes(&shop, &ids);
    assert!(
        changes_1
            .values()
            .all(|c| c.as_slice() == [status_in_erp.to_string()]),
        "one status change per order sent: {changes_1:?}"
    );
    for &id in changes_1.keys() {
        let order = shop.order(id).expect("an order changed at the shop");
        assert_eq!(order["status"], status_in_erp, "order {id} at the shop");
    }
    let census_1 = Census::take(&store);
    let lists_1 = shop.order_list_requests();

    // Second run, with daytime pulls: its first pull brings back every
    // order whose status Relais changed, as a new revision.
    write_config(&config, &config_text(work, &shop, status_in_erp, 1));
    let restarted = jiff::Timestamp::now();
    let daemon = Daemon::start(&config, work.join("daemon-2.log"), "info");
    let status_2 = wait_for(
        "a pull of the second run, decided",
        Duration::from_secs(240),
        || {
            if shop.order_list_requests() <= lists_1 {
                return None;
            }
            let status = status(&store)?;
            let pulled = last_success(&status, "shop").is_some_and(|t| t > restarted);
            (pulled && quiet(&status)).then_some(status)
        },
        || format!("{:?}\n{}", status(&store), daemon.log()),
    )
    .await;
    stop(daemon, &store).await;

    // The pull did bring the orders back, once each.
    let revisions = revisions_after(&store, census_1.last_id);
    let mut numbers: Vec<&str> = revisions.iter().map(|(n, _, _)| n.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(
        numbers.len(),
        revisions.len(),
        "an order came back twice: {revisions:?}"
    );
    assert_eq!(
        revisions.len(),
        changes_1.len(),
        "every order whose status changed comes back as one revision: {revisions:?}"
    );

    // Each revision is recognised as unchanged for the ERP.
    let odd: Vec<&(String, State, String)> = revisions
        .iter()
        .filter(|(_, state, note)| {
            *state != State::Done || !note.starts_with("no change for the ERP")
        })
        .collect();
    let census_2 = Census::take(&store);
    let files_2 = erp_files(&erp.join("import"));
    let imports_2 = imports(&erp);
    let changes_2 = shop.status_changes();
    let notes_2 = shop_notes(&shop, &ids);
    let summary = format!(
        "status '{status_in_erp}': {} of {} revisions not done as unchanged, e.g. {:?}; \
         quarantined {} -> {}, held {} -> {}, amendments {} -> {}, \
         import files {} -> {}\nfirst run: {status_1}\nsecond run: {status_2}",
        odd.len(),
        revisions.len(),
        odd.iter().take(3).collect::<Vec<_>>(),
        census_1.in_state(State::Quarantined),
        census_2.in_state(State::Quarantined),
        census_1.in_state(State::Held),
        census_2.in_state(State::Held),
        census_1.of_kind(Kind::Amendment),
        census_2.of_kind(Kind::Amendment),
        files_1.len(),
        files_2.len(),
    );
    assert!(odd.is_empty(), "{summary}");
    assert_eq!(
        census_2.in_state(State::Quarantined),
        census_1.in_state(State::Quarantined),
        "no new quarantined document: {summary}"
    );
    assert_eq!(
        census_2.in_state(State::Held),
        census_1.in_state(State::Held),
        "no new held document: {summary}"
    );
    assert_eq!(
        census_2.of_kind(Kind::Amendment),
        census_1.of_kind(Kind::Amendment),
        "no amendment made of nothing: {summary}"
    );
    assert_eq!(
        census_2.of_kind(Kind::ShopNote),
        census_1.of_kind(Kind::ShopNote),
        "no new note for the shop: {summary}"
    );

    // The ERP got nothing more, the shop was told nothing more.
    let new_files: Vec<&PathBuf> = files_2
        .keys()
        .filter(|p| files_1.get(*p) != files_2.get(*p))
        .collect();
    assert!(
        new_files.is_empty(),
        "import files written or changed by the second run: {new_files:?}\n{summary}"
    );
    assert_eq!(files_1.len(), files_2.len(), "an import file went away");
    assert!(
        imports_2.duplicated.is_empty(),
        "{:?}",
        imports_2.duplicated
    );
    assert_eq!(imports_2.orders, imports_1.orders);
    assert_eq!(imports_2.credit_notes, imports_1.credit_notes);
    assert_eq!(changes_2, changes_1, "a status set again at the shop");
    assert_eq!(notes_2, notes_1, "a note posted again at the shop");
    eprintln!(
        "status '{status_in_erp}': first run {run_1:?}, {} orders sent, {} revisions back, \
         nothing resent",
        imports_1.orders,
        revisions.len()
    );
    shop.shutdown().await;
}

/// The documented example: `status_when_in_erp = "completed"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_status_comes_back_once_and_changes_nothing() {
    status_comes_back_and_stops("completed").await;
}

/// A status of the site's own (registered by a WooCommerce plugin), not
/// one of `site.rules.statuses_to_erp`: the configuration adds it there, so
/// the revision it brings back reads as unchanged (it was quarantined, 427
/// orders a day, before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_status_comes_back_once_and_changes_nothing() {
    status_comes_back_and_stops("transmise-erp").await;
}
