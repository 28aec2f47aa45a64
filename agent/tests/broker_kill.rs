//! A busy hour at the counter with the broker and a register killed in the
//! middle: Mosquitto is SIGKILLed and started again on its persistence
//! file, the register dies and, restarted, sends every ticket again (it
//! cannot know which were stored). Every ticket must end stored once.
//!
//! Needs the `mosquitto` binary; skipped with a notice without it, unless
//! RELAIS_REQUIRE_MOSQUITTO=1, where its absence fails the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pos_bridge::protocol::Topics;
use pos_bridge::register::{publish_and_confirm, OutgoingTicket};
use relais::pos::{run_intake, IntakeCounts};
use relais::store::{Kind, Store};
use rumqttc::MqttOptions;
use tokio::sync::{oneshot, watch};

fn mosquitto() -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join("mosquitto"))
        .find(|p| p.exists())
}

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_broker(binary: &Path, conf: &Path, log: &Path) -> Broker {
    let child = Command::new(binary)
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::options()
                .create(true)
                .append(true)
                .open(log)
                .expect("log"),
        )
        .spawn()
        .expect("start mosquitto");
    Broker(child)
}

async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tickets() -> Vec<OutgoingTicket> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02/pos/tickets-2026-12-02.jsonl");
    std::fs::read_to_string(path)
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
        .collect()
}

fn stored_tickets(store: &Store) -> Vec<String> {
    let mut ids = Vec::new();
    store
        .for_each_doc(|m| {
            if m.kind == Kind::Ticket {
                ids.push(m.external_id);
            }
        })
        .expect("scan");
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_broker_and_a_register_mid_hour_loses_and_doubles_no_ticket() {
    let Some(binary) = mosquitto() else {
        assert!(
            std::env::var("RELAIS_REQUIRE_MOSQUITTO").as_deref() != Ok("1"),
            "mosquitto is required (RELAIS_REQUIRE_MOSQUITTO=1) but not installed"
        );
        eprintln!("skipped: no mosquitto binary");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}/\nautosave_interval 1\nautosave_on_changes true\nuser root\n",
            dir.path().display()
        ),
    )
    .expect("conf");
    let log = dir.path().join("mosquitto.log");
    let mut broker = start_broker(&binary, &conf, &log);
    let up = || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    wait_until("the broker", Duration::from_secs(20), up).await;

    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let topics = Topics::new("busy-hour");
    let (stop_tx, stop_rx) = watch::channel(false);
    let (sub_tx, sub_rx) = oneshot::channel();
    let (counts_tx, _) = watch::channel(IntakeCounts::default());
    let mut options = MqttOptions::new("relais-busy-hour", "127.0.0.1", port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(5));
    let intake = tokio::spawn(run_intake(
        store.clone(),
        options,
        stop_rx,
        Some(sub_tx),
        counts_tx,
        jiff::tz::TimeZone::get("Europe/Paris").expect("tz"),
        topics.clone(),
    ));
    tokio::time::timeout(Duration::from_secs(20), sub_rx)
        .await
        .expect("subscribed in time")
        .expect("subscribed");

    let all = tickets();
    let total = all.len();
    let register = |name: &str| {
        let mut o = MqttOptions::new(name, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        o
    };

    // The hour starts; part way through, the broker and the register die.
    let first = tokio::spawn({
        let (options, topics, batch) = (register("caisse-a"), topics.clone(), all.clone());
        async move { publish_and_confirm(options, &topics, batch, Duration::from_secs(120)).await }
    });
    let partial = total / 4;
    wait_until(
        "a quarter of the hour stored",
        Duration::from_secs(60),
        || stored_tickets(&store).len() >= partial,
    )
    .await;
    let _ = broker.0.kill();
    let _ = broker.0.wait();
    first.abort();
    let at_kill = stored_tickets(&store).len();

    // Both come back; the register sends the whole hour again.
    broker = start_broker(&binary, &conf, &log);
    wait_until("the broker again", Duration::from_secs(20), up).await;
    let acks = publish_and_confirm(
        register("caisse-a"),
        &topics,
        all.clone(),
        Duration::from_secs(180),
    )
    .await
    .expect("every ticket acknowledged after the restart");
    assert_eq!(acks.len(), total);

    let mut ids = stored_tickets(&store);
    let stored = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stored, "a ticket stored twice");
    assert_eq!(stored, total, "every ticket stored");
    println!(
        "{at_kill} of {total} tickets stored when the broker was killed; all {total} stored once"
    );
    let _ = stop_tx.send(true);
    let _ = intake.await;
    drop(broker);
}
