//! The two steps around the switch: drain the daemon before, check the new
//! slot's health after.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::UpdateError;

/// What the new slot must do, within `timeout`, to be marked good.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// For the whole check.
    pub timeout: Duration,
    /// When set, the new binary must also read this store
    /// (`relais status --store`): a new version that cannot open the
    /// existing store is rolled back before it touches it.
    pub store: Option<PathBuf>,
}

impl HealthCheck {
    /// Runs the new binary: `--version` must name `version`, and the store
    /// must answer `status`. Returns why not, for the slot's bad mark.
    pub fn run(&self, binary: &Path, version: &str) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        let out = run_until(Command::new(binary).arg("--version"), deadline)?;
        let printed = String::from_utf8_lossy(&out.stdout);
        if !printed.split_whitespace().any(|word| word == version) {
            return Err(format!(
                "`relais --version` printed {:?}, expected version {version}",
                printed.trim()
            ));
        }
        if let Some(store) = &self.store {
            let mut status = Command::new(binary);
            status.args(["status", "--json", "--store"]).arg(store);
            run_until(&mut status, deadline)?;
        }
        Ok(())
    }
}

/// Runs a command to its end or the deadline; a non-zero exit is an error
/// carrying the end of its standard error.
fn run_until(command: &mut Command, deadline: Instant) -> Result<Output, String> {
    let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
    let what = format!("`relais {}`", args.join(" "));
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the new binary's {what}: {e}"))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    // The waiting thread also drains the pipes, so a chatty child cannot
    // block on a full pipe while we wait for it.
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let left = deadline.saturating_duration_since(Instant::now());
    let result = match rx.recv_timeout(left) {
        Ok(Ok(out)) if out.status.success() => Ok(out),
        Ok(Ok(out)) => {
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.trim();
            let said = if said.is_empty() {
                "nothing on stderr"
            } else {
                said
            };
            Err(format!(
                "the new binary's {what} failed ({}): {said}",
                out.status
            ))
        }
        Ok(Err(e)) => Err(format!("waiting for the new binary's {what}: {e}")),
        Err(_) => {
            signal(pid, rustix::process::Signal::KILL);
            Err(format!("the new binary's {what} did not answer in time"))
        }
    };
    let _ = waiter.join();
    result
}

fn signal(pid: u32, signal: rustix::process::Signal) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    rustix::process::kill_process(pid, signal).is_ok()
}

/// Stopping the running daemon before the switch.
#[derive(Debug, Clone)]
pub struct Drain {
    /// The daemon's process id.
    pub pid: i32,
    /// How long it may take (the daemon drains for up to 20 s).
    pub timeout: Duration,
}

/// Sends SIGTERM and waits until the daemon has exited: it stops taking
/// work, finishes its round, commits, and lets go of the store.
///
/// On a box this is `systemctl stop relais` (the same SIGTERM, bounded by
/// `TimeoutStopSec`), which the reboot into the new slot does anyway.
pub fn drain(drain: &Drain) -> Result<(), UpdateError> {
    let pid = u32::try_from(drain.pid).map_err(|_| UpdateError::Drain {
        pid: drain.pid,
        reason: "not a process id".into(),
    })?;
    if !signal(pid, rustix::process::Signal::TERM) {
        return Err(UpdateError::Drain {
            pid: drain.pid,
            reason: "cannot send SIGTERM (no such process, or not ours)".into(),
        });
    }
    let deadline = Instant::now() + drain.timeout;
    while running(drain.pid) {
        if Instant::now() >= deadline {
            return Err(UpdateError::Drain {
                pid: drain.pid,
                reason: format!("still running {} s after SIGTERM", drain.timeout.as_secs()),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::info!(pid = drain.pid, "daemon drained and stopped");
    Ok(())
}

/// Is the process still running? A zombie (exited, not yet reaped by its
/// parent) has closed its files, the store included: it counts as stopped.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}
