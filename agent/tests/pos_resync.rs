//! A register that lost its session asks which of its tickets since a
//! time Relais holds, and gets exactly those numbers back.

use std::time::Duration;

use pos_bridge::protocol::{ResyncAnswer, ResyncRequest, Topics};
use pos_bridge::register::{publish_and_confirm, OutgoingTicket};
use relais::pos::{run_intake, IntakeCounts};
use relais::store::Store;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{oneshot, watch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_learns_which_of_its_tickets_are_held() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let broker = relais::demo::broker::start_embedded().expect("broker");
    let (host, port) = (broker.ip().to_string(), broker.port());
    let topics = Topics::new("resync-test");

    let (stop_tx, stop_rx) = watch::channel(false);
    let (sub_tx, sub_rx) = oneshot::channel();
    let (counts_tx, _) = watch::channel(IntakeCounts::default());
    let mut options = MqttOptions::new("relais-resync", host.clone(), port);
    options.set_clean_session(false).set_manual_acks(true);
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
        .expect("in time")
        .expect("subscribed");

    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02/pos/tickets-2026-12-02.jsonl");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .expect("tickets")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("ticket"))
        .collect();
    let register = lines[0]["register"].as_str().expect("register").to_string();
    let mine: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|t| t["register"] == register.as_str())
        .collect();
    // The register sent its first half before it lost its memory.
    let half = mine.len() / 2;
    let sent: Vec<OutgoingTicket> = mine[..half]
        .iter()
        .map(|t| OutgoingTicket {
            ticket: t["ticket"].as_str().expect("n").to_string(),
            register: register.clone(),
            payload: serde_json::to_vec(t).expect("json"),
        })
        .collect();
    let mut reg = MqttOptions::new("register-resync", host.clone(), port);
    reg.set_keep_alive(Duration::from_secs(30));
    publish_and_confirm(reg, &topics, sent.clone(), Duration::from_secs(60))
        .await
        .expect("acknowledged");

    // Restored from a backup, it asks what is held since the day began.
    let since: jiff::Timestamp = "2026-12-01T23:00:00Z".parse().expect("since");
    let mut options = MqttOptions::new("register-resync-2", host, port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(options, 16);
    client
        .subscribe(topics.resync_answer(&register), QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let request = ResyncRequest {
        request: "r-1".into(),
        since,
    };
    let mut asked = false;
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) if !asked => {
                    asked = true;
                    client
                        .publish(
                            topics.resync(&register),
                            QoS::AtLeastOnce,
                            false,
                            serde_json::to_vec(&request).expect("json"),
                        )
                        .await
                        .expect("ask");
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    return serde_json::from_slice::<ResyncAnswer>(&p.payload).expect("answer");
                }
                Ok(_) => {}
                Err(e) => panic!("register connection: {e}"),
            }
        }
    })
    .await
    .expect("an answer in time");
    let mut expected: Vec<String> = sent.iter().map(|t| t.ticket.clone()).collect();
    expected.sort();
    assert_eq!(answer.request, "r-1");
    assert_eq!(answer.held, expected, "exactly the tickets sent and stored");
    let _ = stop_tx.send(true);
    let _ = intake.await;
}
