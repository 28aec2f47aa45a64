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
    /// TLS to the broker, with this box's client certificate.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The fleet's Ed25519 public key; without it, commands are not taken.
    pub command_key: Option<Vec<u8>>,
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

    /// `<root>/<box>/commands`
    pub fn command_topic(&self) -> String {
        format!("{}/{}/commands", self.topic_root, self.box_id)
    }
}

/// TLS settings for the fleet broker: trust exactly `ca_pem`, present
/// this box's certificate and key.
pub fn tls_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| format!("fleet CA: {e}"))?)
            .map_err(|e| format!("fleet CA: {e}"))?;
    }
    if roots.is_empty() {
        return Err("the fleet CA file holds no certificate".into());
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("box certificate: {e}"))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("box key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("box certificate and key: {e}"))
}

/// What the connection reports to the sender.
enum Link {
    Up,
    Down,
    Acked,
    Command(Vec<u8>),
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
    if let Some(tls) = &link.tls {
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        ));
    }
    let (client, events) = AsyncClient::new(options, 16);
    let (tx, mut rx) = mpsc::channel(16);
    let pump = tokio::spawn(pump(
        events,
        client.clone(),
        tx,
        shutdown.clone(),
        link.command_topic(),
    ));
    let link = Arc::new(link);
    let mut up = false;
    let mut next_snapshot = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_snapshot {
            next_snapshot += link.telemetry_every;
            take_snapshot(&store, &link, &tz, started).await;
        }
        if up && invoices_idle(&store) {
            match send_next(&store, &client, &link, &tz, &mut rx, &mut up).await {
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
                Some(Link::Command(bytes)) => answer(&store, &client, &link, &tz, bytes).await,
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

/// Verifies and runs one command, and answers it (QoS 0: a lost answer is
/// recovered by sending the command again, which is idempotent).
async fn answer(
    store: &Store,
    client: &AsyncClient,
    link: &FleetLink,
    tz: &TimeZone,
    bytes: Vec<u8>,
) {
    let Some(key) = link.command_key.clone() else {
        tracing::warn!("a fleet command came, but no fleet.command_key is set: ignored");
        return;
    };
    let command = match super::command::verify(&bytes, &key, &link.box_id, Timestamp::now()) {
        Ok(command) => command,
        Err(refused) => {
            tracing::error!(reason = %refused, "fleet command refused");
            return;
        }
    };
    tracing::info!(id = %command.id, action = ?command.action, "fleet command");
    let (store2, tz2, command2) = (store.clone(), tz.clone(), command.clone());
    let answer =
        tokio::task::spawn_blocking(move || super::command::execute(&store2, &command2, &tz2))
            .await
            .unwrap_or_else(|e| crate::ops::Answer::Failed(e.to_string()));
    let reply = super::command::Reply {
        id: command.id.clone(),
        box_id: link.box_id.clone(),
        answer,
    };
    match serde_json::to_vec(&reply) {
        Ok(bytes) => {
            if let Err(e) = client.try_publish(command.reply_to, QoS::AtMostOnce, false, bytes) {
                tracing::warn!(error = %e, "cannot answer a fleet command");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot encode a fleet answer"),
    }
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
    tz: &TimeZone,
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
                Some(Link::Command(bytes)) => answer(store, client, link, tz, bytes).await,
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
    client: AsyncClient,
    tx: mpsc::Sender<Link>,
    mut shutdown: watch::Receiver<bool>,
    command_topic: String,
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
                // A clean session: subscribe again on every connection.
                if let Err(e) = client.try_subscribe(command_topic.clone(), QoS::AtLeastOnce) {
                    tracing::warn!(error = %e, "cannot subscribe to fleet commands");
                }
                Some(Link::Up)
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == command_topic => {
                Some(Link::Command(p.payload.to_vec()))
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
