//! The standalone bridge against an embedded broker and a fake Relais: a
//! file of tickets goes to `done/` only once every ticket is acknowledged,
//! and a resend after a failure is stored once.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{mosquitto, start_broker, Cable, FakeRelais};
use pos_bridge::bridge::{run, BridgeConfig};
use pos_bridge::protocol::Topics;
use pos_bridge::spool::{SpoolConfig, WatchMode};
use rumqttc::MqttOptions;
use tokio::sync::oneshot;
use tokio::time::{sleep, Instant};

fn sample_tickets() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02/pos/tickets-2026-12-02.jsonl");
    std::fs::read(path).expect("sample tickets")
}

fn sample_count() -> usize {
    let text = String::from_utf8(sample_tickets()).expect("utf-8");
    text.lines().filter(|l| !l.trim().is_empty()).count()
}

fn config(folder: &Path, broker: std::net::SocketAddr, ack_timeout: Duration) -> BridgeConfig {
    with_root(folder, broker, ack_timeout, "bridge-test")
}

fn with_root(
    folder: &Path,
    broker: std::net::SocketAddr,
    ack_timeout: Duration,
    root: &str,
) -> BridgeConfig {
    let mut mqtt = MqttOptions::new("pos-bridge-test", broker.ip().to_string(), broker.port());
    mqtt.set_keep_alive(Duration::from_secs(30));
    BridgeConfig {
        spool: SpoolConfig {
            settle: Duration::from_millis(200),
            poll_interval: Duration::from_millis(100),
            ..SpoolConfig::new(folder, WatchMode::Inotify)
        },
        mqtt,
        topics: Topics::new(root),
        ack_timeout,
        retry_after: Duration::from_millis(300),
        max_file_bytes: 16 * 1024 * 1024,
    }
}

/// Runs the bridge until the returned sender is dropped or fired.
fn start_bridge(config: BridgeConfig) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        run(config, shutdown).await.expect("bridge");
    });
    (stop, task)
}

/// Polls `check` until it holds or the deadline passes.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

fn done_files(folder: &Path) -> Vec<PathBuf> {
    let Ok(days) = std::fs::read_dir(folder.join("done")) else {
        return Vec::new();
    };
    days.flatten()
        .filter(|d| d.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .map(|f| f.path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_done_once_every_ticket_in_it_is_acknowledged() {
    let broker = start_broker();
    let dir = tempfile::tempdir().expect("dir");
    let relais = FakeRelais::start(broker, Topics::new("bridge-test"), "relais-1").await;
    let (stop, bridge) = start_bridge(config(dir.path(), broker, Duration::from_secs(20)));

    std::fs::write(
        dir.path().join("tickets-2026-12-02.jsonl"),
        sample_tickets(),
    )
    .expect("drop");

    eventually("file in done/", Duration::from_secs(30), || {
        !done_files(dir.path()).is_empty()
    })
    .await;
    assert_eq!(relais.stored_count(), sample_count());
    assert!(!dir.path().join("tickets-2026-12-02.jsonl").exists());
    let _ = stop.send(());
    bridge.await.expect("bridge stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_resent_after_lost_acknowledgements_are_stored_once() {
    let broker = start_broker();
    let dir = tempfile::tempdir().expect("dir");
    let relais = FakeRelais::start(broker, Topics::new("bridge-test"), "relais-2").await;
    // Relais stores but its acks are lost (it crashed before sending them).
    *relais.acking.lock().expect("lock") = false;
    let (stop, bridge) = start_bridge(config(dir.path(), broker, Duration::from_secs(1)));
    let file = dir.path().join("tickets.jsonl");
    std::fs::write(&file, sample_tickets()).expect("drop");

    eventually("every ticket stored", Duration::from_secs(30), || {
        relais.stored_count() == sample_count()
    })
    .await;
    // No ack, no done: the file waits in the folder and is sent again.
    eventually("a resend", Duration::from_secs(30), || {
        relais.stored.lock().expect("lock").duplicates > 0
    })
    .await;
    assert!(file.exists() && done_files(dir.path()).is_empty());

    // The bridge restarts (a crash loses nothing: the file is still there),
    // and Relais acks again.
    let _ = stop.send(());
    bridge.await.expect("bridge stopped");
    *relais.acking.lock().expect("lock") = true;
    let (stop, bridge) = start_bridge(config(dir.path(), broker, Duration::from_secs(20)));

    eventually("file in done/", Duration::from_secs(30), || {
        !done_files(dir.path()).is_empty()
    })
    .await;
    let (stored, duplicates) = {
        let stored = relais.stored.lock().expect("lock");
        (stored.tickets.len(), stored.duplicates)
    };
    assert_eq!(stored, sample_count(), "each ticket stored once");
    assert!(
        duplicates >= sample_count(),
        "the resend was seen as duplicates"
    );
    let _ = stop.send(());
    bridge.await.expect("bridge stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_a_bad_ticket_is_rejected_naming_the_line_and_nothing_is_sent() {
    let broker = start_broker();
    let dir = tempfile::tempdir().expect("dir");
    let relais = FakeRelais::start(broker, Topics::new("bridge-test"), "relais-3").await;
    let (stop, bridge) = start_bridge(config(dir.path(), broker, Duration::from_secs(5)));

    let text = String::from_utf8(sample_tickets()).expect("utf-8");
    let mut lines: Vec<&str> = text.lines().take(3).collect();
    lines.insert(1, r#"{"ticket": "T-BAD"}"#);
    std::fs::write(dir.path().join("bad.jsonl"), lines.join("\n") + "\n").expect("drop");

    let reason = dir.path().join("rejected/bad.jsonl.reason");
    eventually("reason file", Duration::from_secs(30), || reason.exists()).await;
    let reason = std::fs::read_to_string(reason).expect("reason");
    assert!(
        reason.starts_with("line 2: ticket payload is not valid"),
        "{reason}"
    );
    assert_eq!(relais.stored_count(), 0);
    let _ = stop.send(());
    bridge.await.expect("bridge stopped");
}

/// The sample day's tickets, `copies` times over with distinct numbers: a
/// busy hour.
fn busy_hour(copies: usize) -> (Vec<u8>, usize) {
    let text = String::from_utf8(sample_tickets()).expect("utf-8");
    let mut out = String::new();
    for copy in 0..copies {
        out.push_str(&text.replace("\"ticket\": \"", &format!("\"ticket\": \"H{copy}-")));
    }
    (out.into_bytes(), copies * sample_count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_lost_in_the_middle_of_a_busy_hour_loses_and_doubles_nothing() {
    let broker = start_broker();
    let cable = Cable::to(broker).await;
    let dir = tempfile::tempdir().expect("dir");
    let relais = FakeRelais::start(broker, Topics::new("bridge-test"), "relais-4").await;
    let (stop, bridge) = start_bridge(config(dir.path(), cable.addr, Duration::from_secs(20)));
    let (tickets, count) = busy_hour(20);
    std::fs::write(dir.path().join("busy.jsonl"), tickets).expect("drop");

    eventually("some tickets stored", Duration::from_secs(30), || {
        relais.stored_count() > 0
    })
    .await;
    cable.cut();
    let partial = relais.stored_count();
    assert!(
        done_files(dir.path()).is_empty(),
        "not done while tickets are missing"
    );
    cable.restore();

    eventually("file in done/", Duration::from_secs(60), || {
        !done_files(dir.path()).is_empty()
    })
    .await;
    assert_eq!(
        relais.stored_count(),
        count,
        "every ticket stored once ({partial} before the cut)"
    );
    let _ = stop.send(());
    bridge.await.expect("bridge stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_works_through_mosquitto_too() {
    let Some(broker) = mosquitto() else {
        eprintln!("skipped: no Mosquitto on 127.0.0.1:1883");
        return;
    };
    // A topic root of its own: Mosquitto is shared with other tests.
    let root = format!("bridge-test-{}", std::process::id());
    let dir = tempfile::tempdir().expect("dir");
    let relais = FakeRelais::start(broker, Topics::new(&root), &format!("{root}-relais")).await;
    let mut config = with_root(dir.path(), broker, Duration::from_secs(20), &root);
    config.mqtt = {
        let mut mqtt = MqttOptions::new(format!("{root}-bridge"), "127.0.0.1", broker.port());
        mqtt.set_keep_alive(Duration::from_secs(30));
        mqtt
    };
    let (stop, bridge) = start_bridge(config);
    std::fs::write(dir.path().join("tickets.jsonl"), sample_tickets()).expect("drop");

    eventually("file in done/", Duration::from_secs(30), || {
        !done_files(dir.path()).is_empty()
    })
    .await;
    assert_eq!(relais.stored_count(), sample_count());
    let _ = stop.send(());
    bridge.await.expect("bridge stopped");
}
