//! The fleet link buffers telemetry on disk while the broker is away and
//! sends it in order, at its byte rate, once the broker is back.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use relais::fleet::{FleetLink, Telemetry};
use relais::store::{Dest, State, Store};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// The uplink share the backlog may use, in bytes per second.
const RATE: u64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_waits_on_disk_for_the_broker_and_arrives_in_order() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("relais.redb");
    let store = Store::open(&path).expect("store");
    // A port nobody listens on yet: the broker is "down".
    let addr = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr");
    let link = FleetLink {
        host: "127.0.0.1".into(),
        port: addr.port(),
        box_id: "box-test".into(),
        topic_root: "fleet-test".into(),
        telemetry_every: Duration::from_millis(20),
        max_bytes_per_second: RATE,
        keep: Duration::from_secs(3600),
        store_path: path.clone(),
        tls: None,
        command_key: None,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(relais::fleet::run(
        link,
        store.clone(),
        jiff::tz::TimeZone::UTC,
        Instant::now(),
        stop_rx,
    ));

    // A backlog builds up while the broker is away.
    let queued = State::Queued(Dest::Fleet);
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.in_state(queued, 100).expect("queue").len() < 10 {
        assert!(Instant::now() < deadline, "no backlog built up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The broker comes back; a fleet subscriber listens.
    relais::demo::broker::start_embedded_on(addr).expect("broker");
    let mut options = MqttOptions::new("fleet-watcher", "127.0.0.1", addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(options, 64);
    client
        .subscribe("fleet-test/box-test/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let mut received: Vec<Telemetry> = Vec::new();
    // (arrival, payload size) of each snapshot, to measure the pace.
    let mut arrivals: Vec<(Instant, usize)> = Vec::new();
    let mut online = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.len() < 15 || !online {
        assert!(
            Instant::now() < deadline,
            "got {} snapshots",
            received.len()
        );
        let event = tokio::time::timeout(Duration::from_secs(10), events.poll())
            .await
            .expect("an event")
            .expect("connection");
        if let Event::Incoming(Packet::Publish(p)) = event {
            if p.topic.ends_with("/state") {
                online |= p.payload.as_ref() == b"online";
            } else {
                arrivals.push((Instant::now(), p.payload.len()));
                received.push(serde_json::from_slice(&p.payload).expect("telemetry JSON"));
            }
        }
    }
    let _ = stop_tx.send(true);
    task.await.expect("task").expect("fleet link");

    // In order, none twice, the backlog first.
    let times: Vec<_> = received.iter().map(|t| t.at).collect();
    let mut sorted = times.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(times, sorted, "out of order or doubled");
    assert!(received.iter().all(|t| t.box_id == "box-test"));
    // The backlog went at the configured pace: the bytes sent before the
    // last arrival took at least bytes / RATE seconds.
    let (first, last) = (arrivals[0].0, arrivals[arrivals.len() - 1].0);
    let paced: usize = arrivals[..arrivals.len() - 1].iter().map(|(_, n)| n).sum();
    let rate = paced as f64 / (last - first).as_secs_f64().max(1e-3);
    println!("backlog sent at {rate:.0} B/s (limit {RATE})");
    assert!(
        rate <= RATE as f64 * 1.1,
        "backlog sent at {rate:.0} B/s, over {RATE}"
    );
    assert!(received[0].store_bytes > 0);
}
