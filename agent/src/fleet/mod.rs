//! The fleet link: each box's health goes up to the fleet's MQTT broker.
//!
//! Telemetry is a document like any other: a snapshot is stored every
//! `fleet.telemetry_seconds` and queued for the `fleet` destination, so a
//! box whose uplink is down for days keeps its history on disk and sends
//! it in order when the link returns, at a bounded byte rate and only
//! while no invoice waits for the same uplink. Snapshots delivered more
//! than `fleet.keep_days` ago are pruned, so the store stays bounded.
//!
//! Delivery is at least once: a snapshot is marked delivered only after
//! the broker's PUBACK, and one whose PUBACK was lost in a crash is sent
//! again. Each carries its box id and time, which the fleet side uses as
//! its key.

pub mod command;
mod link;

use std::time::Instant;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use link::{run, tls_config, FleetLink};

use crate::ops::{self, QueueStatus};
use crate::store::{Intake, IntakeOutcome, Kind, State, Store, StoreError, Transition};

/// Format of [`Telemetry`] payloads; bumped on an incompatible change.
pub const TELEMETRY_FORMAT: u32 = 1;

/// One health snapshot of a box.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Telemetry {
    /// [`TELEMETRY_FORMAT`]
    pub format: u32,
    /// The box.
    pub box_id: String,
    /// When it was taken.
    pub at: Timestamp,
    /// Relais version.
    pub version: String,
    /// Seconds since the daemon started.
    pub uptime_seconds: u64,
    /// Waiting documents per destination, with the oldest one's time.
    pub queues: Vec<QueueStatus>,
    /// Documents in quarantine.
    pub quarantined: u64,
    /// Peer -> last time it answered well.
    pub last_success: Vec<(String, Option<Timestamp>)>,
    /// Size of the store file.
    pub store_bytes: u64,
    /// Free space on the store's filesystem.
    pub disk_free_bytes: Option<u64>,
    /// Resident memory of the daemon.
    pub rss_kib: Option<u64>,
}

/// Takes a snapshot of the box now.
pub fn snapshot(
    store: &Store,
    store_path: &std::path::Path,
    box_id: &str,
    started: Instant,
) -> Result<Telemetry, StoreError> {
    let status = ops::status(store)?;
    let store_bytes = std::fs::metadata(store_path).map_or(0, |m| m.len());
    let folder = store_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let disk_free_bytes = rustix::fs::statvfs(folder)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize));
    Ok(Telemetry {
        format: TELEMETRY_FORMAT,
        box_id: box_id.to_string(),
        at: Timestamp::now(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: started.elapsed().as_secs(),
        queues: status.queues,
        quarantined: status.quarantined,
        last_success: status.last_success,
        store_bytes,
        disk_free_bytes,
        rss_kib: rss_kib(),
    })
}

/// The process's resident memory, from `/proc/self/status`.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Stores a snapshot and queues it for the fleet, in two commits: one left
/// `stored` by a crash between them is queued by the pipeline.
pub fn enqueue(
    store: &Store,
    telemetry: &Telemetry,
    tz: &jiff::tz::TimeZone,
) -> Result<(), StoreError> {
    let body = serde_json::to_vec(telemetry).map_err(|e| StoreError::Task(e.to_string()))?;
    let intake = Intake {
        kind: Kind::Telemetry,
        external_id: telemetry.at.to_string(),
        revision: "1".into(),
        day: telemetry.at.to_zoned(tz.clone()).date(),
        amount: Default::default(),
        body,
        parent: None,
    };
    if let Some(IntakeOutcome::New(id)) = store.intake(vec![intake])?.first() {
        store.apply(vec![Transition::to(
            *id,
            State::Queued(crate::store::Dest::Fleet),
            "for the fleet",
        )])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_queued_in_order_and_pruned_once_delivered() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("relais.redb");
        let store = Store::open(&path).expect("store");
        let tz = jiff::tz::TimeZone::UTC;
        let started = Instant::now();
        let mut taken = Vec::new();
        for _ in 0..3 {
            let t = snapshot(&store, &path, "box-1", started).expect("snapshot");
            enqueue(&store, &t, &tz).expect("enqueue");
            taken.push(t.at);
            // Distinct instants: the snapshot time is the document's id.
            while Timestamp::now() == *taken.last().expect("one") {}
        }
        let fleet = State::Queued(crate::store::Dest::Fleet);
        let queued = store.in_state(fleet, 10).expect("queue");
        let ids: Vec<String> = queued.iter().map(|m| m.external_id.clone()).collect();
        let want: Vec<String> = taken.iter().map(ToString::to_string).collect();
        assert_eq!(ids, want);
        let body: Telemetry =
            serde_json::from_slice(&store.body(queued[0].id).expect("body")).expect("json");
        assert_eq!(body.box_id, "box-1");
        assert!(body.store_bytes > 0);

        let delivered = State::Delivered(crate::store::Dest::Fleet);
        store
            .apply(vec![Transition::to(queued[0].id, delivered, "sent")])
            .expect("deliver");
        let later = Timestamp::now() + jiff::SignedDuration::from_secs(1);
        assert_eq!(
            store
                .prune(Kind::Telemetry, delivered, later, 100)
                .expect("prune"),
            1
        );
        assert!(store.meta(queued[0].id).is_err(), "pruned document gone");
        assert!(store.audit(queued[0].id).expect("audit").is_empty());
        assert_eq!(store.in_state(fleet, 10).expect("queue").len(), 2);
    }
}
