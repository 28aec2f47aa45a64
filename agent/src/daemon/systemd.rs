//! The daemon's side of systemd's `Type=notify` protocol: `READY=1` once
//! every task runs, `WATCHDOG=1` while the workers are healthy, `STOPPING=1`
//! on the way out. One datagram to `$NOTIFY_SOCKET` each; without that
//! variable (not started by systemd) nothing is sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends one notification; silently nothing outside systemd.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        abstract_send(&socket, name, state)
    } else {
        socket.send_to(state.as_bytes(), std::path::Path::new(&path))
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, state, "cannot notify systemd");
    }
}

#[cfg(target_os = "linux")]
fn abstract_send(
    socket: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    state: &str,
) -> std::io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(state.as_bytes(), &addr)
}

#[cfg(not(target_os = "linux"))]
fn abstract_send(
    _socket: &std::os::unix::net::UnixDatagram,
    _name: &[u8],
    _state: &str,
) -> std::io::Result<usize> {
    Err(std::io::Error::other("abstract sockets are Linux only"))
}

/// How often systemd wants `WATCHDOG=1`, if it watches: half its timeout.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(100)))
}

/// A worker's proof of life: it beats once per round, and a worker that
/// stops beating (stuck on a hung share, a deadlock) stops the watchdog
/// feed, so systemd restarts the daemon.
#[derive(Clone)]
pub struct Heartbeat {
    name: &'static str,
    epoch: Instant,
    last: Arc<AtomicU64>,
}

impl Heartbeat {
    /// A heartbeat that has just beaten.
    pub fn new(name: &'static str) -> Heartbeat {
        Heartbeat {
            name,
            epoch: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records a beat now.
    pub fn beat(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// The worker's name, for the log.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The first heartbeat silent for longer than `limit`, if any.
pub fn stalled(beats: &[Heartbeat], limit: Duration) -> Option<&Heartbeat> {
    beats.iter().find(|b| b.silent_for() > limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket_named_by_systemd() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("notify");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
        // The variable is read per call; this test is the only one that
        // sets it in this process.
        std::env::set_var("NOTIFY_SOCKET", &path);
        notify("READY=1");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).expect("datagram");
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn a_silent_worker_is_found() {
        let fresh = Heartbeat::new("fresh");
        fresh.beat();
        let beats = [fresh];
        assert!(stalled(&beats, Duration::from_secs(5)).is_none());
        assert_eq!(
            stalled(&beats, Duration::ZERO).map(Heartbeat::name),
            Some("fresh")
        );
    }
}
