//! Watching a spool folder: hands each complete new file to the caller once,
//! then files it under `done/YYYY-MM-DD/` or `rejected/` as the caller says.
//!
//! - Completeness is decided by [`Settle`]: a file renamed into the folder is
//!   complete at once, any other after its size and time stay unchanged over
//!   the settle time. Temporary names (`.tmp`, `.part`, `~$…`, dot files)
//!   are never taken.
//! - Inotify (through `notify`) wakes the watcher as soon as something
//!   happens; it does not see writes made by another machine on a network
//!   share, so a folder can be switched to polling. Where inotify cannot be
//!   set up the watcher polls and says so in the log.
//! - Every wake-up rescans the folder, so a missed or dropped event costs
//!   only latency, never a file.
//! - The same content taken twice is a logged no-op: its hash is in the
//!   ledger (`done/.relais-seen`), and the copy goes to `done/` as it is, so
//!   nothing vanishes (under today's date in the machine's time zone).
//!
//! The order of steps, and what a crash leaves: the caller stores the file
//! and only then calls [`SpoolWatcher::done`], which appends the hash to
//! the ledger and then moves the file. A crash before the move leaves the
//! file in the inbox, where it is offered again (see the ledger's doc).

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::ledger::Ledger;
use super::settle::{Observation, Settle};
use super::{ensure_dir, is_temporary_name, sync_dir, write_atomic, SpoolError};

/// How a folder is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchMode {
    /// Inotify events, with a rescan on each (local disks).
    #[default]
    Inotify,
    /// A scan every poll interval (network shares, where inotify is blind).
    Poll,
}

/// One watched folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The folder files are dropped in; `done/` and `rejected/` are made in it.
    pub inbox: PathBuf,
    /// Inotify or polling.
    pub mode: WatchMode,
    /// How long a file's size and time must stay unchanged.
    pub settle: Duration,
    /// Time between scans when polling (and the longest wait with inotify).
    pub poll_interval: Duration,
}

impl SpoolConfig {
    /// A folder with the usual timings: 2 s to settle, a scan every 2 s.
    pub fn new(inbox: impl Into<PathBuf>, mode: WatchMode) -> SpoolConfig {
        SpoolConfig {
            inbox: inbox.into(),
            mode,
            settle: Duration::from_secs(2),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// A complete file, handed to the caller to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolFile {
    /// Where it is now (in the inbox).
    pub path: PathBuf,
    /// Its file name.
    pub name: String,
    /// SHA-256 of its content, hex.
    pub sha256: String,
    /// Its size in bytes when hashed.
    pub size: u64,
}

/// What the watcher did, for the status command and telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolCounters {
    /// Files handed to the caller.
    pub offered: u64,
    /// Files moved to `done/` after the caller stored them.
    pub done: u64,
    /// Files moved to `rejected/`.
    pub rejected: u64,
    /// Files whose content had been taken before.
    pub duplicates: u64,
    /// Files handed back to wait.
    pub retried: u64,
}

/// Events from notify's thread; bounded, and a full channel only delays
/// (the next scan sees everything).
type Events = mpsc::Receiver<notify::Result<notify::Event>>;

/// Watches one spool folder. See the module doc.
pub struct SpoolWatcher {
    config: SpoolConfig,
    settle: Settle,
    ledger: Ledger,
    queue: VecDeque<String>,
    events: Option<(notify::RecommendedWatcher, Events)>,
    counters: SpoolCounters,
}

impl SpoolWatcher {
    /// Prepares the folder (`done/`, `rejected/`, the ledger) and starts
    /// watching it.
    pub fn open(config: SpoolConfig) -> Result<SpoolWatcher, SpoolError> {
        ensure_dir(&config.inbox)?;
        ensure_dir(&config.inbox.join("done"))?;
        ensure_dir(&config.inbox.join("rejected"))?;
        let ledger = Ledger::open(&config.inbox.join("done").join(".relais-seen"))?;
        let events = match config.mode {
            WatchMode::Poll => None,
            WatchMode::Inotify => match start_inotify(&config.inbox) {
                Ok(events) => Some(events),
                Err(e) => {
                    let folder = config.inbox.display();
                    tracing::warn!(%folder, error = %e, "inotify unavailable, polling instead");
                    None
                }
            },
        };
        Ok(SpoolWatcher {
            settle: Settle::new(config.settle),
            config,
            ledger,
            queue: VecDeque::new(),
            events,
            counters: SpoolCounters::default(),
        })
    }

    /// How the folder is watched in fact (polling when inotify failed).
    pub fn mode(&self) -> WatchMode {
        if self.events.is_some() {
            WatchMode::Inotify
        } else {
            WatchMode::Poll
        }
    }

    /// What the watcher did so far.
    pub fn counters(&self) -> SpoolCounters {
        self.counters
    }

    /// Waits for the next complete file not taken before. Cancel-safe: a
    /// file is only handed out by the returned value.
    pub async fn next_file(&mut self) -> Result<SpoolFile, SpoolError> {
        loop {
            // Popped only once taken: a cancelled wait leaves it queued.
            while let Some(name) = self.queue.front().cloned() {
                let taken = self.take(name).await;
                self.queue.pop_front();
                if let Some(file) = taken? {
                    self.counters.offered += 1;
                    return Ok(file);
                }
            }
            self.scan()?;
            self.queue.extend(self.settle.ready(Instant::now()));
            if self.queue.is_empty() {
                self.wait().await?;
            }
        }
    }

    /// The caller has stored the file: record its hash, move it to
    /// `done/<day>/`. Returns where it went.
    pub fn done(&mut self, file: SpoolFile, day: jiff::civil::Date) -> Result<PathBuf, SpoolError> {
        let day = day.to_string();
        self.ledger.record(&file.sha256, &day, &file.name)?;
        let target = self.move_into(&file, &Path::new("done").join(&day))?;
        self.settle.forget(&file.name);
        self.counters.done += 1;
        tracing::info!(file = %file.name, to = %target.display(), "spool file done");
        Ok(target)
    }

    /// The file cannot be used: move it to `rejected/` with a
    /// `<name>.reason` file beside it. Its hash is not recorded, so the same
    /// file dropped again after a fix is taken.
    pub fn reject(&mut self, file: SpoolFile, reason: &str) -> Result<PathBuf, SpoolError> {
        let target = self.move_into(&file, Path::new("rejected"))?;
        let mut reason_path = target.clone().into_os_string();
        reason_path.push(".reason");
        write_atomic(Path::new(&reason_path), format!("{reason}\n").as_bytes())?;
        self.settle.forget(&file.name);
        self.counters.rejected += 1;
        tracing::error!(file = %file.name, %reason, "spool file rejected");
        Ok(target)
    }

    /// The file cannot be used yet (still being written, destination
    /// down): offer it again when it changes, or after `after`.
    pub fn retry_later(&mut self, file: SpoolFile, after: Duration) {
        self.settle.wait(&file.name, Instant::now() + after);
        self.counters.retried += 1;
        tracing::warn!(file = %file.name, ?after, "spool file left for later");
    }

    /// Lists the folder's candidate files into the settle state.
    fn scan(&mut self) -> Result<(), SpoolError> {
        let folder = &self.config.inbox;
        let entries = fs::read_dir(folder).map_err(|source| SpoolError {
            action: "list",
            path: folder.clone(),
            source,
        })?;
        let mut listing = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temporary_name(&name) {
                continue;
            }
            // A file removed between the listing and the stat is just gone.
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() {
                listing.push((name, observe(&meta)));
            }
        }
        self.settle.scan(Instant::now(), listing);
        Ok(())
    }

    /// Sleeps until the next settle deadline, the next poll, or an event.
    async fn wait(&mut self) -> Result<(), SpoolError> {
        let now = Instant::now();
        let mut until = now + self.config.poll_interval;
        if let Some(deadline) = self.settle.next_deadline() {
            until = until.min(deadline.max(now));
        }
        let Some((_, events)) = &mut self.events else {
            tokio::time::sleep_until(until).await;
            return Ok(());
        };
        let first = tokio::select! {
            event = events.recv() => event,
            () = tokio::time::sleep_until(until) => return Ok(()),
        };
        if first.is_none() {
            // notify's thread is gone: without this the loop would spin.
            let folder = self.config.inbox.display().to_string();
            tracing::warn!(%folder, "inotify stopped, polling instead");
            self.events = None;
            return Ok(());
        }
        let mut renamed = Vec::new();
        let mut next = first;
        while let Some(event) = next {
            if let Ok(event) = event {
                renamed.extend(renamed_in(&event));
            }
            next = events.try_recv().ok();
        }
        for path in renamed {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name.filter(|n| !is_temporary_name(n)) else {
                continue;
            };
            if let Ok(meta) = fs::metadata(&path) {
                self.settle
                    .renamed_in(&name, observe(&meta), Instant::now());
            }
        }
        Ok(())
    }

    /// Hashes a ready file; a duplicate is filed away, an unreadable one
    /// rejected, and neither is handed out.
    async fn take(&mut self, name: String) -> Result<Option<SpoolFile>, SpoolError> {
        let path = self.config.inbox.join(&name);
        let hashed = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || hash_file(&path))
                .await
                .map_err(|e| SpoolError {
                    action: "hash",
                    path: self.config.inbox.join(&name),
                    source: io::Error::other(e),
                })?
        };
        let (sha256, size) = match hashed {
            Ok(hashed) => hashed,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.settle.forget(&name);
                return Ok(None);
            }
            Err(e) => {
                let file = SpoolFile {
                    path,
                    name,
                    sha256: String::new(),
                    size: 0,
                };
                self.reject(file, &format!("cannot read the file: {e}"))?;
                return Ok(None);
            }
        };
        let file = SpoolFile {
            path,
            name,
            sha256,
            size,
        };
        if self.ledger.contains(&file.sha256) {
            let day = jiff::Zoned::now().date().to_string();
            let target = self.move_into(&file, &Path::new("done").join(day))?;
            self.settle.forget(&file.name);
            self.counters.duplicates += 1;
            tracing::info!(file = %file.name, sha256 = %file.sha256, to = %target.display(),
                "spool file already taken: no-op");
            return Ok(None);
        }
        Ok(Some(file))
    }

    /// Moves a file into a subfolder of the inbox under a name not taken
    /// there yet, durably.
    fn move_into(&self, file: &SpoolFile, sub: &Path) -> Result<PathBuf, SpoolError> {
        let folder = self.config.inbox.join(sub);
        ensure_dir(&folder)?;
        let target = free_name(&folder, &file.name);
        fs::rename(&file.path, &target).map_err(|source| SpoolError {
            action: "move",
            path: file.path.clone(),
            source,
        })?;
        sync_dir(&folder)?;
        sync_dir(&self.config.inbox)?;
        Ok(target)
    }
}

fn start_inotify(folder: &Path) -> notify::Result<(notify::RecommendedWatcher, Events)> {
    let (sender, receiver) = mpsc::channel(1024);
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = sender.try_send(event);
    })?;
    watcher.watch(folder, RecursiveMode::NonRecursive)?;
    Ok((watcher, receiver))
}

/// The path a rename event brought into the folder, if it is one.
fn renamed_in(event: &notify::Event) -> Option<PathBuf> {
    match event.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => {
            event.paths.last().cloned()
        }
        _ => None,
    }
}

fn observe(meta: &fs::Metadata) -> Observation {
    Observation {
        size: meta.len(),
        modified: meta.modified().ok(),
    }
}

fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((hex::encode(hasher.finalize()), size));
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
}

/// `name`, or `stem-2.ext`, `stem-3.ext`... when `folder` already has it.
fn free_name(folder: &Path, name: &str) -> PathBuf {
    let candidate = folder.join(name);
    if !candidate.exists() {
        return candidate;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (2..)
        .map(|n| folder.join(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_already_in_done_gets_a_number() {
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join("t.jsonl"), b"1").expect("write");
        fs::write(dir.path().join("t-2.jsonl"), b"2").expect("write");
        assert_eq!(
            free_name(dir.path(), "t.jsonl"),
            dir.path().join("t-3.jsonl")
        );
        assert_eq!(free_name(dir.path(), "u"), dir.path().join("u"));
    }
}
