//! A full disk and a slow fsync: nothing is acknowledged before it is on
//! disk, nothing stored is damaged, and work resumes by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pos_bridge::protocol::{Ack, AckStatus, Topics};
use relais::pos::{run_intake, IntakeCounts};
use relais::store::faults::{FaultSwitches, FaultyBackend, FaultyLog};
use relais::store::{Intake, IntakeOutcome, Kind, Store};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, oneshot, watch};

fn intake(id: &str) -> Intake {
    Intake {
        kind: Kind::Ticket,
        external_id: id.to_string(),
        revision: "1".into(),
        day: jiff::civil::date(2026, 12, 2),
        amount: Default::default(),
        body: id.as_bytes().to_vec(),
        parent: None,
    }
}

fn faulty_store(dir: &tempfile::TempDir) -> (Store, Arc<FaultSwitches>) {
    let switches = Arc::new(FaultSwitches::default());
    let path = dir.path().join("relais.redb");
    let log = FaultyLog::open(&relais::store::log::path_for(&path), switches.clone())
        .expect("intake log");
    let for_store = switches.clone();
    let backend = move || FaultyBackend::open(&path, for_store.clone());
    (
        Store::open_with_backend(backend, Arc::new(log), "test store").expect("store"),
        switches,
    )
}

#[test]
fn a_full_disk_refuses_intake_clearly_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, switches) = faulty_store(&dir);
    store
        .intake(vec![intake("T1"), intake("T2")])
        .expect("room on disk");
    // Into the tables while there is room (reads and writes fold the intake
    // log by themselves; this makes the moment explicit).
    assert_eq!(store.checkpoint().expect("checkpoint"), 2);

    switches.set_full(true);
    let err = store
        .intake(vec![intake("T3")])
        .expect_err("the disk is full");
    let message = err.to_string();
    assert!(
        message.contains("intake") && message.contains("No space left"),
        "{message}"
    );
    assert!(switches.refused_writes() > 0);
    assert!(store
        .find(Kind::Ticket, "T1")
        .expect("read while full")
        .is_some());

    switches.set_full(false);
    let outcomes = store
        .intake(vec![intake("T3"), intake("T1")])
        .expect("room again");
    assert!(
        matches!(outcomes[0], IntakeOutcome::New(_)),
        "T3 was not half stored"
    );
    assert!(matches!(outcomes[1], IntakeOutcome::Duplicate(_)));
    drop(store);

    let reopened = Store::open(&dir.path().join("relais.redb")).expect("reopen");
    for id in ["T1", "T2", "T3"] {
        assert!(
            reopened.find(Kind::Ticket, id).expect("find").is_some(),
            "{id} lost"
        );
    }
}

/// A register on the embedded broker that publishes tickets and reports
/// each acknowledgement Relais sends back.
async fn register(
    broker: std::net::SocketAddr,
    topics: &Topics,
) -> (AsyncClient, mpsc::UnboundedReceiver<Ack>) {
    let mut options = MqttOptions::new(
        format!("register-{}", std::process::id()),
        broker.ip().to_string(),
        broker.port(),
    );
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(options, 16);
    client
        .subscribe(topics.ack_filter(), QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        while let Ok(event) = events.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    if let Ok(ack) = serde_json::from_slice::<Ack>(&p.payload) {
                        let _ = tx.send(ack);
                    }
                }
                _ => {}
            }
        }
    });
    ready_rx.await.expect("register subscribed");
    (client, rx)
}

const TICKET: &str = r#"{"ticket": "T-FAULT-1", "register": "CAISSE-1", "operator": "MDU",
    "at": "2026-12-02T04:14:50Z", "customer": "C004190",
    "lines": [{"sku": "VO-POUL-FERM-PC", "label": "Poulet", "qty": 1,
               "unit_price_ht": "9.85", "vat_rate": "5.5"}],
    "payments": [{"method": "CB", "amount": "10.39"}]}"#;

/// The register publishes the test ticket, QoS 1.
async fn publish_ticket(client: &AsyncClient, topics: &Topics) {
    let payload = TICKET.as_bytes().to_vec();
    let topic = topics.ticket("CAISSE-1");
    client
        .publish(topic, QoS::AtLeastOnce, false, payload)
        .await
        .expect("publish");
}

/// Polls a condition with a deadline (no fixed sleeps).
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn start_intake(
    store: Store,
    broker: std::net::SocketAddr,
    topics: Topics,
) -> watch::Sender<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (sub_tx, sub_rx) = oneshot::channel();
    let (counts_tx, _) = watch::channel(IntakeCounts::default());
    let mut options = MqttOptions::new(
        format!("relais-{}", std::process::id()),
        broker.ip().to_string(),
        broker.port(),
    );
    options.set_clean_session(false).set_manual_acks(true);
    let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
    tokio::spawn(run_intake(
        store,
        options,
        stop_rx,
        Some(sub_tx),
        counts_tx,
        tz,
        topics,
    ));
    sub_rx.await.expect("intake subscribed");
    stop_tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ticket_is_acknowledged_before_its_data_is_synced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, switches) = faulty_store(&dir);
    let port = relais::demo::broker::start_embedded().expect("broker");
    let topics = Topics::new("fsync-order");
    let _stop = start_intake(store.clone(), port, topics.clone()).await;
    let (client, mut acks) = register(port, &topics).await;

    switches.close_gate();
    publish_ticket(&client, &topics).await;
    until("the ticket's commit to reach fsync", || {
        switches.syncs_waiting() > 0
    })
    .await;
    assert!(
        acks.try_recv().is_err(),
        "a ticket was acknowledged before its fsync returned"
    );

    switches.open_gate();
    let ack = tokio::time::timeout(Duration::from_secs(20), acks.recv())
        .await
        .expect("acknowledged once synced")
        .expect("ack channel open");
    assert_eq!(
        (ack.ticket.as_str(), ack.status),
        ("T-FAULT-1", AckStatus::Stored)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_wait_unacknowledged_while_the_disk_is_full_then_go_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, switches) = faulty_store(&dir);
    let port = relais::demo::broker::start_embedded().expect("broker");
    let topics = Topics::new("disk-full");
    let _stop = start_intake(store.clone(), port, topics.clone()).await;
    let (client, mut acks) = register(port, &topics).await;

    switches.set_full(true);
    publish_ticket(&client, &topics).await;
    until("a refused write", || switches.refused_writes() > 0).await;
    assert!(
        acks.try_recv().is_err(),
        "acknowledged while nothing could be stored"
    );

    switches.set_full(false);
    let ack = tokio::time::timeout(Duration::from_secs(30), acks.recv())
        .await
        .expect("acknowledged once space returned")
        .expect("ack channel open");
    assert_eq!(ack.status, AckStatus::Stored);
    assert!(store
        .find(Kind::Ticket, "T-FAULT-1")
        .expect("find")
        .is_some());
}
