//! `relais run` as an operator meets it: the daemon takes a market day from
//! the sandbox shop and a register, answers `status`, `trace` and
//! `quarantine` while it runs, delivers a quarantined order once after its
//! cause is fixed and it is released, publishes the day's invoices, and
//! stops cleanly on SIGTERM.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use pos_bridge::dialect::Dialect;
use pos_bridge::protocol::Topics;
use pos_bridge::register::{publish_and_confirm, OutgoingTicket};
use relais::demo::reconcile::read_imports;

mod common;
use common::{relais, sample, shop_files, state_count, Daemon};

/// Polls `check` until it returns `Some`, failing after `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "relais failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_runs_a_day_answers_operators_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path();
    let erp = work.join("erp");
    std::fs::create_dir_all(&erp).expect("erp folder");

    // The ERP's client file lacks one customer who ordered today.
    let orders: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(sample("woocommerce/orders-2026-12-02.json")).expect("orders"),
    )
    .expect("orders JSON");
    // An order of a known customer, to look for its notes at the shop.
    let noted = orders
        .iter()
        .filter(|o| o["status"] == "processing")
        .filter_map(|o| o["id"].as_u64())
        .collect::<Vec<_>>();
    let missing = orders
        .iter()
        .find(|o| o["status"] == "processing" && o["customer_id"].as_u64().unwrap_or(0) != 0)
        .and_then(|o| o["customer_id"].as_u64())
        .expect("a customer with a processing order");
    let full_clients = std::fs::read(sample("erp/clients.csv")).expect("clients");
    let without: Vec<u8> = full_clients
        .split_inclusive(|b| *b == b'\n')
        .filter(|line| {
            let text = String::from_utf8_lossy(line);
            text.split(';').nth(1) != Some(&missing.to_string())
        })
        .flatten()
        .copied()
        .collect();
    assert!(
        without.len() < full_clients.len(),
        "the customer was in the file"
    );
    pos_bridge::spool::write_atomic(&erp.join("clients.csv"), &without).expect("clients");

    let shop = sandbox_shop::start(sandbox_shop::ShopConfig::new(orders, work.join("shop")))
        .await
        .expect("sandbox shop");
    let (ca, creds) = shop_files(work, &shop);
    let broker = relais::demo::broker::start_embedded().expect("broker");
    let store = work.join("relais.redb");
    // The first pull reaches back to the sample day.
    let today = jiff::Zoned::now().date();
    let back = (today - jiff::civil::date(2026, 12, 1)).get_days().max(1) + 1;
    let config = format!(
        r#"
[store]
path = "{store}"
[site]
time_zone = "Europe/Paris"
clients = "{clients}"
[erp]
folder = "{erp}"
poll_seconds = 1
[shop]
url = "{url}"
credentials_file = "{creds}"
ca_file = "{ca}"
first_pull_days = {back}
[pos]
broker = "{broker_addr}"
topic_root = "daemon-test"
client_id = "relais-daemon-test"
"#,
        store = store.display(),
        clients = erp.join("clients.csv").display(),
        erp = erp.display(),
        url = shop.base_url(),
        creds = creds.display(),
        ca = ca.display(),
        broker_addr = broker,
    );
    let config_path = work.join("relais.toml");
    std::fs::write(&config_path, config).expect("config");
    let checked = Command::new(env!("CARGO_BIN_EXE_relais"))
        .args(["config", "check"])
        .arg(&config_path)
        .output()
        .expect("config check");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let log = work.join("daemon.log");
    let daemon = Daemon::start(&config_path, log, "info,rumqttd=off");

    // Operators reach it over its control socket while it runs.
    wait_for("the control socket", Duration::from_secs(60), || {
        let out = relais(&["status", "--json"], &store);
        out.status.success().then_some(())
    });

    // A register publishes the day's tickets; each is acknowledged once stored.
    let tickets: Vec<OutgoingTicket> =
        std::fs::read_to_string(sample("pos/tickets-2026-12-02.jsonl"))
            .expect("tickets")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("ticket");
                OutgoingTicket {
                    ticket: v["ticket"].as_str().expect("number").to_string(),
                    register: v["register"].as_str().expect("register").to_string(),
                    payload: l.as_bytes().to_vec(),
                }
            })
            .collect();
    let published = tickets.len();
    let mut register = rumqttc::MqttOptions::new(
        "daemon-test-register",
        broker.ip().to_string(),
        broker.port(),
    );
    register.set_keep_alive(Duration::from_secs(30));
    let acks = publish_and_confirm(
        register,
        &Topics::new("daemon-test"),
        tickets,
        Duration::from_secs(120),
    )
    .await
    .expect("every ticket acknowledged");
    assert_eq!(acks.len(), published);

    // The day settles: nothing left to decide or write.
    let status = wait_for("the day to be delivered", Duration::from_secs(120), || {
        let status = json_of(&relais(&["status", "--json"], &store));
        let settled = state_count(&status, "stored") == 0
            && state_count(&status, "queued:erp") == 0
            && state_count(&status, "batched:erp") == 0
            && state_count(&status, "quarantined") > 0
            && state_count(&status, "delivered:erp") > 0;
        settled.then_some(status)
    });
    let quarantined = json_of(&relais(&["quarantine", "list", "--json"], &store));
    let quarantined = quarantined.as_array().expect("list").clone();
    let for_missing: Vec<&serde_json::Value> = quarantined
        .iter()
        .filter(|d| {
            d["reason"]
                .as_str()
                .is_some_and(|r| r.contains(&missing.to_string()))
        })
        .collect();
    assert!(
        !for_missing.is_empty(),
        "the orders of customer {missing} are quarantined: {quarantined:?}"
    );
    let number = for_missing[0]["external_id"]
        .as_str()
        .expect("id")
        .to_string();
    let trace = json_of(&relais(&["trace", &number, "--json"], &store));
    let history = trace[0]["history"].as_array().expect("history");
    assert!(history.len() >= 2, "{trace}");
    assert!(
        status["last_success"].to_string().contains("shop"),
        "{status}"
    );
    // The registers' success is written after the first acknowledged batch.
    wait_for(
        "the registers' last success",
        Duration::from_secs(30),
        || {
            let status = json_of(&relais(&["status", "--json"], &store));
            status["last_success"]
                .to_string()
                .contains("\"pos\"")
                .then_some(())
        },
    );

    let before = read_imports(&erp.join("import"), &Dialect::french_erp()).expect("imports");
    assert!(before.duplicated.is_empty(), "{:?}", before.duplicated);
    assert_eq!(before.tickets, published);

    // The ERP creates the customer; the operator releases what was waiting.
    pos_bridge::spool::write_atomic(&erp.join("clients.csv"), &full_clients).expect("clients");
    let mut released = Vec::new();
    for doc in &for_missing {
        let id = doc["external_id"].as_str().expect("id");
        let out = json_of(&relais(&["quarantine", "release", id, "--json"], &store));
        released.extend(out.as_array().expect("released").iter().cloned());
    }
    assert_eq!(released.len(), for_missing.len(), "{released:?}");
    let after = wait_for(
        "the released orders in an import file",
        Duration::from_secs(60),
        || {
            let after = read_imports(&erp.join("import"), &Dialect::french_erp()).ok()?;
            (after.orders == before.orders + for_missing.len()).then_some(after)
        },
    );
    assert!(
        after.duplicated.is_empty(),
        "sent twice: {:?}",
        after.duplicated
    );
    // Once only, even after more rounds.
    let status = json_of(&relais(&["status", "--json"], &store));
    assert_eq!(state_count(&status, "queued:erp"), 0, "{status}");

    // 18:00: the ERP drops its export; the invoices reach the shop.
    let export_dir = erp.join("export");
    std::fs::create_dir_all(&export_dir).expect("export folder");
    let export = sample("erp/FACTURES_20261202.csv");
    pos_bridge::spool::write_atomic(
        &export_dir.join("FACTURES_20261202.csv"),
        &std::fs::read(&export).expect("export"),
    )
    .expect("drop the export");
    let expected_invoices = 219;
    wait_for("the invoices at the shop", Duration::from_secs(120), || {
        (shop.invoices().len() >= expected_invoices).then_some(())
    });

    // The shop was told: a note when the ERP took each order and one when
    // its invoice was published, each once.
    let (order_id, notes) = wait_for("order notes at the shop", Duration::from_secs(60), || {
        noted.iter().find_map(|&id| {
            let notes: Vec<String> = shop
                .notes(id)
                .iter()
                .filter_map(|n| n["note"].as_str().map(str::to_string))
                .collect();
            let erp = notes.iter().any(|n| n.contains("transmise à l'ERP"));
            let invoice = notes.iter().any(|n| n.contains("facture"));
            (erp && invoice).then_some((id, notes))
        })
    });
    let mut markers: Vec<&str> = notes
        .iter()
        .filter_map(|n| n.rsplit_once("[relais:").map(|(_, m)| m))
        .collect();
    let count = markers.len();
    markers.sort_unstable();
    markers.dedup();
    assert_eq!(
        markers.len(),
        count,
        "a note posted twice on order {order_id}: {notes:?}"
    );

    // SIGTERM: the daemon drains and exits 0, and takes its socket away.
    let pid = daemon.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut daemon = daemon;
    let exit = wait_for("the daemon to stop", Duration::from_secs(30), || {
        daemon.child.try_wait().ok().flatten()
    });
    assert!(exit.success(), "daemon exit {exit:?}\n{}", daemon.log());
    assert!(!store.with_extension("sock").exists(), "socket left behind");
    assert!(daemon.log().contains("stopped"), "{}", daemon.log());

    // Stopped, the same commands read the store directly.
    let status = json_of(&relais(&["status", "--json"], &store));
    assert_eq!(state_count(&status, "queued:shop"), 0, "{status}");
    assert_eq!(shop.invoices().len(), expected_invoices);
    shop.shutdown().await;
}
