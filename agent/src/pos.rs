//! Counter tickets in, over MQTT (see `pos_bridge::protocol`).
//!
//! The MQTT session is persistent (stable client id, clean session off) and
//! acknowledgements are manual: a ticket's PUBACK goes out only after the
//! store's commit has returned. Tickets arriving together share one commit.
//! The event loop runs in its own task and never waits on the store, so
//! keep-alives flow while a commit syncs.
//!
//! A register that lost its session asks on `<root>/pos/<register>/resync`
//! which of its tickets since a time are held, and Relais answers on
//! `.../resync/answer` with their numbers, so that it resends only the
//! others (resending all would be safe too: the dedup key makes a ticket
//! sent twice a no-op).

use std::time::Duration;

use jiff::tz::TimeZone;
use pos_bridge::protocol::{Ack, AckStatus, ResyncAnswer, ResyncRequest, Topics};
use pos_bridge::ticket::Ticket;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS, SubscribeFilter};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use crate::retry::{jitter, Backoff};
use crate::store::{Intake, IntakeOutcome, Kind, Store, StoreError};

/// Tickets committed together at most.
const BATCH: usize = 64;
/// How often the registers' last success is written to the store.
const SUCCESS_EVERY: Duration = Duration::from_secs(60);

/// Counters of the ticket intake, for reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IntakeCounts {
    /// Stored for the first time.
    pub stored: usize,
    /// Already stored.
    pub duplicates: usize,
    /// Stored but unreadable or inconsistent (quarantined by the pipeline).
    pub invalid: usize,
}

/// Runs the ticket intake until `shutdown` turns true. `subscribed` is told
/// once the subscription is in place (the demo's register waits for it).
pub async fn run_intake(
    store: Store,
    options: MqttOptions,
    mut shutdown: watch::Receiver<bool>,
    subscribed: Option<tokio::sync::oneshot::Sender<()>>,
    counts: watch::Sender<IntakeCounts>,
    tz: TimeZone,
    topics: Topics,
) -> Result<(), StoreError> {
    let (client, events) = AsyncClient::new(options, 256);
    let (tx, mut rx) = mpsc::channel::<Publish>(BATCH * 4);
    let pump = tokio::spawn(pump_events(
        client.clone(),
        events,
        tx,
        subscribed,
        shutdown.clone(),
        vec![topics.ticket_filter(), topics.resync_filter()],
    ));
    let mut totals = IntakeCounts::default();
    let mut last_success: Option<std::time::Instant> = None;
    while !*shutdown.borrow() {
        let first = tokio::select! {
            message = rx.recv() => message,
            _ = shutdown.changed() => None,
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let (resyncs, batch): (Vec<Publish>, Vec<Publish>) = batch
            .into_iter()
            .partition(|p| topics.resync_register(&p.topic).is_some());
        for request in &resyncs {
            answer_resync(&store, &client, &topics, request).await;
        }
        if batch.is_empty() {
            continue;
        }
        // A store failure (disk full, I/O error) leaves the batch
        // unacknowledged: it is retried here until it commits, and the
        // broker keeps the messages meanwhile.
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        };
        let mut attempt = 0;
        while let Err(e) = commit_and_ack(&store, &client, &batch, &tz, &topics, &mut totals).await
        {
            attempt += 1;
            let delay = backoff.delay(attempt, jitter());
            let tickets = batch.len();
            tracing::error!(error = %e, tickets, ?delay, "cannot store tickets, not acknowledged");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => break,
            }
        }
        counts.send_replace(totals);
        // The registers' last success, for `relais status`: one commit at
        // most once a minute, not one per batch.
        // (A batch left by a stop during its retries is not a success.)
        let due = last_success.is_none_or(|at| at.elapsed() >= SUCCESS_EVERY);
        if due && !*shutdown.borrow() {
            let store = store.clone();
            let recorded = tokio::task::spawn_blocking(move || store.record_success("pos"))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))
                .and_then(|recorded| recorded);
            match recorded {
                Ok(()) => last_success = Some(std::time::Instant::now()),
                Err(e) => tracing::warn!(error = %e, "cannot record the registers' success"),
            }
        }
    }
    let _ = client.disconnect().await;
    let _ = pump.await;
    Ok(())
}

/// Drives the MQTT connection: forwards tickets, resubscribes after each
/// connection, backs off after failures.
async fn pump_events(
    client: AsyncClient,
    mut events: rumqttc::EventLoop,
    tx: mpsc::Sender<Publish>,
    mut subscribed: Option<tokio::sync::oneshot::Sender<()>>,
    mut shutdown: watch::Receiver<bool>,
    filters: Vec<String>,
) {
    let backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(30),
    };
    let mut failures = 0;
    loop {
        let event = tokio::select! {
            event = events.poll() => event,
            _ = shutdown.changed() => return,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                let wanted = filters
                    .iter()
                    .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                if let Err(e) = client.try_subscribe_many(wanted) {
                    tracing::warn!(error = %e, "cannot subscribe to tickets");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(tell) = subscribed.take() {
                    let _ = tell.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(p).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                let delay = backoff.delay(failures, jitter());
                tracing::warn!(error = %e, ?delay, "POS broker connection lost, reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// Answers one resynchronisation request, then acknowledges it.
async fn answer_resync(store: &Store, client: &AsyncClient, topics: &Topics, publish: &Publish) {
    let register = topics
        .resync_register(&publish.topic)
        .unwrap_or("unknown")
        .to_string();
    match serde_json::from_slice::<ResyncRequest>(&publish.payload) {
        Ok(request) => {
            let (store2, register2) = (store.clone(), register.clone());
            let since = request.since;
            let held = tokio::task::spawn_blocking(move || held_since(&store2, &register2, since))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))
                .and_then(|r| r);
            match held {
                Ok(held) => {
                    tracing::info!(register = %register, since = %since, held = held.len(),
                        "resynchronisation answered");
                    let answer = ResyncAnswer {
                        request: request.request,
                        since,
                        held,
                    };
                    let payload = serde_json::to_vec(&answer).unwrap_or_default();
                    if let Err(e) = client
                        .publish(
                            topics.resync_answer(&register),
                            QoS::AtLeastOnce,
                            false,
                            payload,
                        )
                        .await
                    {
                        tracing::warn!(error = %e, "cannot answer a resynchronisation request");
                    }
                }
                // Not acknowledged: the broker delivers the request again.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the store for a resync");
                    return;
                }
            }
        }
        Err(e) => {
            tracing::warn!(register = %register, error = %e, "unreadable resync request, dropped");
        }
    }
    if let Err(e) = client.ack(publish).await {
        tracing::warn!(error = %e, "cannot acknowledge a resync request");
    }
}

/// Numbers of `register`'s tickets whose own time is at or after `since`.
/// Reads the metadata of what was received since a day before `since` (a
/// ticket is received after it is made), then those tickets' bodies.
fn held_since(
    store: &Store,
    register: &str,
    since: jiff::Timestamp,
) -> Result<Vec<String>, StoreError> {
    let window = since - jiff::SignedDuration::from_hours(24);
    let mut candidates = Vec::new();
    store.for_each_received(window, jiff::Timestamp::MAX, |m| {
        if m.kind == Kind::Ticket {
            candidates.push(m.id);
        }
    })?;
    let mut held = Vec::new();
    for id in candidates {
        if let Ok(ticket) = Ticket::parse(&store.body(id)?) {
            if ticket.register == register && ticket.at >= since {
                held.push(ticket.ticket);
            }
        }
    }
    held.sort();
    held.dedup();
    Ok(held)
}

/// What a payload is, as far as intake needs to know.
fn intake_of(publish: &Publish, tz: &TimeZone) -> (Intake, String, Option<String>) {
    let hash = hex::encode(Sha256::digest(&publish.payload));
    let (id, day, amount, problem) = match Ticket::parse(&publish.payload) {
        Ok(t) => {
            let day = t.at.to_zoned(tz.clone()).date();
            (t.ticket.clone(), day, t.total_paid(), None)
        }
        Err(e) => {
            // Keep even a broken ticket, under its number if it has one.
            let number = serde_json::from_slice::<serde_json::Value>(&publish.payload)
                .ok()
                .and_then(|v| v.get("ticket").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_else(|| format!("unreadable-{}", &hash[..12]));
            let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
            (number, today, Default::default(), Some(e.to_string()))
        }
    };
    let intake = Intake {
        kind: Kind::Ticket,
        external_id: id.clone(),
        // The payload's hash is the revision: a ticket sent again (QoS 1
        // redelivery, a register's resend) is the same bytes and a dedup
        // no-op; different bytes under a number already used is kept as a
        // revision of its own and, if the first already went, held.
        revision: hash,
        day,
        amount,
        body: publish.payload.to_vec(),
        parent: None,
    };
    (intake, id, problem)
}

async fn commit_and_ack(
    store: &Store,
    client: &AsyncClient,
    batch: &[Publish],
    tz: &TimeZone,
    topics: &Topics,
    totals: &mut IntakeCounts,
) -> Result<(), StoreError> {
    let described: Vec<_> = batch.iter().map(|p| intake_of(p, tz)).collect();
    let intakes = described.iter().map(|(i, _, _)| i.clone()).collect();
    let store2 = store.clone();
    let outcomes = tokio::task::spawn_blocking(move || store2.intake(intakes))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
    // Durable now: acknowledge, at the MQTT level and to the register.
    for ((publish, (_, id, problem)), outcome) in batch.iter().zip(described).zip(outcomes) {
        let status = match (&problem, outcome) {
            (Some(_), _) => AckStatus::Quarantined,
            (None, IntakeOutcome::New(_)) => AckStatus::Stored,
            (None, IntakeOutcome::Duplicate(_)) => AckStatus::Duplicate,
        };
        match status {
            AckStatus::Stored => totals.stored += 1,
            AckStatus::Duplicate => totals.duplicates += 1,
            AckStatus::Quarantined => totals.invalid += 1,
        }
        if let Err(e) = client.ack(publish).await {
            tracing::warn!(error = %e, ticket = %id, "cannot send PUBACK");
        }
        let register = topics.register_of(&publish.topic).unwrap_or("unknown");
        let ack = Ack {
            ticket: id,
            status,
            reason: problem,
        };
        let payload = serde_json::to_vec(&ack).unwrap_or_default();
        if let Err(e) = client
            .publish(topics.ack(register), QoS::AtLeastOnce, false, payload)
            .await
        {
            tracing::warn!(error = %e, "cannot publish ticket acknowledgement");
        }
    }
    Ok(())
}
