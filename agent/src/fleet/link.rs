//! The MQTT side of the fleet link: a retained `online`/`offline` state
//! with a last will, and the telemetry queue drained one message at a
//! time, each marked delivered only after its PUBACK.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::{mpsc, watch};

use crate::retry::{jitter, Backoff};
use crate::store::{Dest, Kind, State, Store, Transition};

/// What the fleet link needs to know.
#[derive(Debug, Clone)]
pub struct FleetLink {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// This box's id: its MQTT client id and its topic.
    pub box_id: String,
    /// Root of the fleet's topic tree.
    pub topic_root: String,
    /// Seconds between snapshots.
    pub telemetry_every: Duration,
    /// Bytes per second the backlog may take from the uplink.
    pub max_bytes_per_second: u64,
    /// Delivered snapshots are kept this long.
    pub keep: Duration,
    /// The store file (its size and free space are reported).
    pub store_path: PathBuf,
}

impl FleetLink {
    /// `<root>/<box>/state`: retained `online` or `offline`.
    pub fn state_topic(&self) -> String {
        format!("{}/{}/state", self.topic_root, self.box_id)
    }

    /// `<root>/<box>/telemetry`
    pub fn telemetry_topic(&self) -> String {
        format!("{}/{}/telemetry", self.topic_root, self.box_id)
    }
}

/// What the connection reports to the sender.
enum Link {
    Up,
    Down,
    Acked,
}

/// Runs the fleet link until `shutdown`: snapshots on a timer, the queue
/// drained whenever the broker is reachable.
pub async fn run(
    link: FleetLink,
    store: Store,
    tz: TimeZone,
    started: Instant,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut options = MqttOptions::new(link.box_id.clone(), link.host.clone(), link.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_last_will(LastWill::new(
            link.state_topic(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    let (client, events) = AsyncClient::new(options, 16);
    let (tx, mut rx) = mpsc::channel(16);
    let pump = tokio::spawn(pump(events, tx, shutdown.clone()));
    let link = Arc::new(link);
    let mut up = false;
    let mut next_snapshot = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_snapshot {
            next_snapshot += link.telemetry_every;
            take_snapshot(&store, &link, &tz, started).await;
        }
        if up && invoices_idle(&store) {
            match send_next(&store, &client, &link, &mut rx, &mut up).await {
                Ok(Some(bytes)) => {
                    // Spread the backlog: at most max_bytes_per_second.
                    let pace = Duration::from_secs_f64(
                        bytes as f64 / link.max_bytes_per_second.max(1) as f64,
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(pace) => {}
                        _ = shutdown.changed() => break,
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "telemetry not sent, will retry"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next_snapshot) => {}
            event = rx.recv() => match event {
                Some(Link::Up) => {
                    up = true;
                    // QoS 0: only snapshots are acknowledged, so every
                    // PUBACK on this link is a snapshot's.
                    let _ = client.try_publish(link.state_topic(), QoS::AtMostOnce, true, "online");
                }
                Some(Link::Down) => up = false,
                Some(Link::Acked) => {}
                None => break,
            },
            _ = shutdown.changed() => break,
        }
    }
    if up {
        // A clean stop says offline itself: the will is only for a crash.
        let _ = client
            .publish(link.state_topic(), QoS::AtMostOnce, true, "offline")
            .await;
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
    Ok(())
}

/// True when no invoice waits for the uplink: they go first.
fn invoices_idle(store: &Store) -> bool {
    store
        .in_state(State::Queued(Dest::Shop), 1)
        .is_ok_and(|q| q.is_empty())
}

async fn take_snapshot(store: &Store, link: &Arc<FleetLink>, tz: &TimeZone, started: Instant) {
    let (store, link, tz) = (store.clone(), link.clone(), tz.clone());
    let done = tokio::task::spawn_blocking(move || -> Result<usize, crate::store::StoreError> {
        let snapshot = super::snapshot(&store, &link.store_path, &link.box_id, started)?;
        super::enqueue(&store, &snapshot, &tz)?;
        let keep = jiff::SignedDuration::try_from(link.keep).unwrap_or(jiff::SignedDuration::ZERO);
        store.prune(
            Kind::Telemetry,
            State::Delivered(Dest::Fleet),
            Timestamp::now() - keep,
            256,
        )
    })
    .await;
    match done {
        Ok(Ok(pruned)) if pruned > 0 => tracing::debug!(pruned, "old telemetry pruned"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot store a telemetry snapshot"),
        Err(e) => tracing::warn!(error = %e, "telemetry snapshot task failed"),
    }
}

/// Sends the oldest queued snapshot and waits for its PUBACK; returns its
/// size, or `None` when the queue is empty.
async fn send_next(
    store: &Store,
    client: &AsyncClient,
    link: &FleetLink,
    rx: &mut mpsc::Receiver<Link>,
    up: &mut bool,
) -> anyhow::Result<Option<usize>> {
    let Some(meta) = store
        .in_state(State::Queued(Dest::Fleet), 1)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let body = store.body(meta.id)?;
    let bytes = body.len();
    client
        .publish(link.telemetry_topic(), QoS::AtLeastOnce, false, body)
        .await?;
    // One message in flight at a time, so the next PUBACK is this one's.
    let acked = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await {
                Some(Link::Acked) => return true,
                Some(Link::Down) => {
                    *up = false;
                    return false;
                }
                Some(Link::Up) => *up = true,
                None => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    if !acked {
        anyhow::bail!("no PUBACK for telemetry {}", meta.external_id);
    }
    store.apply(vec![Transition::to(
        meta.id,
        State::Delivered(Dest::Fleet),
        format!("sent on {}", link.telemetry_topic()),
    )])?;
    Ok(Some(bytes))
}

/// Polls the MQTT connection and reports what the sender needs.
async fn pump(
    mut events: rumqttc::EventLoop,
    tx: mpsc::Sender<Link>,
    mut shutdown: watch::Receiver<bool>,
) {
    let backoff = Backoff {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(60),
    };
    let mut failures = 0;
    loop {
        let event = tokio::select! {
            event = events.poll() => event,
            _ = shutdown.changed() => return,
        };
        let report = match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                Some(Link::Up)
            }
            Ok(Event::Outgoing(Outgoing::Publish(_))) => None,
            Ok(Event::Incoming(Packet::PubAck(_))) => Some(Link::Acked),
            Ok(_) => None,
            Err(e) => {
                failures += 1;
                let delay = backoff.delay(failures, jitter());
                tracing::warn!(error = %e, ?delay, "fleet broker unreachable");
                if tx.send(Link::Down).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return,
                }
                None
            }
        };
        if let Some(report) = report {
            if tx.send(report).await.is_err() {
                return;
            }
        }
    }
}
